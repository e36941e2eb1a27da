#!/usr/bin/env python3
"""tests/system/crash_test.py — a 250 survives kill -9 of every postern process.

Several client threads send a stream of messages, each with its own id. In
the middle of the stream every postern process (master and all its
children, by PID) gets SIGKILL; postern is started again with `postern
start` and the clients reconnect and go on. Then:
- every message acknowledged with 250 2.6.0 is delivered exactly once, byte
  for byte, under a Received: field naming the acknowledged queue id;
- a message that never got its 250 is delivered at most once;
- nothing else is delivered, and no process is left after `postern stop`.
"""

import os
import re
import smtplib
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

THREADS = 4
MAX_PER_THREAD = 50          # 200 in all: well under message_rate_limit (600/min/IP)
ACKED_BEFORE_KILL = 40
PHASE_TIMEOUT = 30


class Stream:
    """The shared book of what each client thread sent and what it was told."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}        # test id -> (queue id, bytes)
        self.unacked = {}      # test id -> bytes: sent, but no 250 seen
        self.acked_after_restart = set()  # threads that got a 250 after the restart
        self.restarted = False
        self.stop = threading.Event()
        self.errors = []

    def acked_count(self):
        with self.lock:
            return len(self.acked)


def message(test_id):
    return ("Subject: crash test %s\r\nX-Test-Id: %s\r\n\r\nbody of %s\r\n.leading dot %s\r\n"
            % (test_id, test_id, test_id, test_id)).encode()


def mailbox(thread):
    return "crash%d@example.test" % thread


def client_thread(port, thread, stream):
    """Sends until told to stop or MAX_PER_THREAD messages were tried; reconnects
    after every failure, because the server dies under it."""
    number = 0
    deadline = time.monotonic() + 3 * PHASE_TIMEOUT
    smtp = None
    while not stream.stop.is_set() and number < MAX_PER_THREAD and time.monotonic() < deadline:
        try:
            if smtp is None:
                smtp = h.connect(port, timeout=10)
        except (OSError, smtplib.SMTPException, AssertionError):
            smtp = None
            time.sleep(0.1)
            continue
        test_id = "t%d-m%d" % (thread, number)
        number += 1
        data = message(test_id)
        with stream.lock:
            stream.unacked[test_id] = data
        try:
            queue_id = h.transaction(smtp, "sender@example.test", [mailbox(thread)], data)
        except (OSError, smtplib.SMTPException, AssertionError):
            try:
                smtp.close()
            except OSError:
                pass
            smtp = None
            continue
        with stream.lock:
            del stream.unacked[test_id]
            stream.acked[test_id] = (queue_id, data)
            if stream.restarted:
                stream.acked_after_restart.add(thread)
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def delivered_by_id(instance):
    """{test id: [delivered message, ...]} over every mailbox of the test."""
    found = {}
    for thread in range(THREADS):
        for delivered in instance.delivered(mailbox(thread)):
            match = re.search(rb"\r\nX-Test-Id: (\S+)\r\n", delivered)
            assert match, "delivered message without X-Test-Id: %r" % delivered[:300]
            found.setdefault(match.group(1).decode(), []).append(delivered)
    return found


def test():
    with h.Instance() as instance:
        instance.start()
        stream = Stream()
        threads = [threading.Thread(target=client_thread, args=(instance.port, t, stream))
                   for t in range(THREADS)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: stream.acked_count() >= ACKED_BEFORE_KILL, PHASE_TIMEOUT,
                       "%d acknowledged messages before the kill" % ACKED_BEFORE_KILL)
            instance.kill_all()
            assert not instance.processes(), "alive after kill -9: %s" % instance.processes()
            assert h.port_refuses(instance.port), "port still accepts after kill -9"
            with stream.lock:
                stream.restarted = True
            instance.start()
            wait_until(lambda: len(stream.acked_after_restart) == THREADS or
                       not any(t.is_alive() for t in threads), PHASE_TIMEOUT,
                       "every client to get a 250 after the restart")
        finally:
            stream.stop.set()
            for t in threads:
                t.join(PHASE_TIMEOUT)
        assert not any(t.is_alive() for t in threads), "client threads hang"
        assert stream.acked_after_restart, "no message was acknowledged after the restart"

        def all_acked_delivered():
            found = delivered_by_id(instance)
            return all(test_id in found for test_id in stream.acked)

        wait_until(all_acked_delivered, PHASE_TIMEOUT, "delivery of every acknowledged message")
        time.sleep(0.5)  # a duplicate delivery would show up now
        found = delivered_by_id(instance)
        for test_id, (queue_id, data) in stream.acked.items():
            copies = found.get(test_id, [])
            assert len(copies) == 1, "%s (acknowledged as %s) delivered %d times" % (
                test_id, queue_id, len(copies))
            received, rest = h.split_received(copies[0])
            assert rest == data, "%s differs:\nsent %r\ngot  %r" % (test_id, data, rest)
            h.check_received(received, queue_id)
        for test_id, copies in found.items():
            if test_id in stream.acked:
                continue
            assert test_id in stream.unacked, "%s was delivered but never sent" % test_id
            assert len(copies) == 1, "unacknowledged %s delivered %d times" % (test_id, len(copies))
            assert h.split_received(copies[0])[1] == stream.unacked[test_id], test_id
        print("acknowledged %d, unacknowledged %d (%d of them delivered once)" % (
            len(stream.acked), len(stream.unacked),
            sum(1 for i in stream.unacked if i in found)))
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
