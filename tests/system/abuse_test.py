#!/usr/bin/env python3
"""tests/system/abuse_test.py — one client or one burst cannot exhaust or unbalance postern.

Each case is a shape of abuse that issue 8 measured against a real instance:
- a client that pipelines EHLO without ever reading the replies (a small
  receive buffer) grew a worker to 1.9 GB: the workers' memory must stay
  bounded, and an honest client must still be served meanwhile;
- 3,000 connections from 150 addresses, all greeted, then closed at once:
  master lost the close messages and `postern status` kept counting
  connections that no longer existed. Every connect of the burst must get
  its 220 (not 421 4.4.2), and the count must return to 0, burst after burst;
- 2,000 sessions that send EHLO and MAIL at once: the answers to master's
  MAIL checks were lost. Every MAIL must be answered;
- a descriptor limit far below the connections offered: workers could not
  receive a passed descriptor and exited. Now master admits only what the
  workers can hold and refuses the rest with the spec's 421 4.3.2, the
  workers live on, and the slots come back.
"""

import errno
import os
import re
import resource
import selectors
import socket
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

BURST_TIMEOUT = 60


def raise_own_descriptor_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    if hard < wanted and h.running_as_root():
        hard = wanted
    if hard < wanted:
        raise h.Skip("this test needs %d descriptors; the hard limit is %d" % (wanted, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def sources(count):
    """count loopback source addresses, 127.0.2.1 onwards."""
    return ["127.0.2.%d" % (i + 1) if i < 250 else "127.0.3.%d" % (i - 249) for i in range(count)]


class Crowd:
    """Many non-blocking client sockets driven by one selector."""

    def __init__(self, port, addresses, per_address):
        self.selector = selectors.DefaultSelector()
        self.buffers = {}
        self.socks = []
        for address in addresses:
            for _ in range(per_address):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.bind((address, 0))
                err = s.connect_ex(("127.0.0.1", port))
                assert err in (0, errno.EINPROGRESS), os.strerror(err)
                self.socks.append(s)
                self.buffers[s] = b""
                self.selector.register(s, selectors.EVENT_READ)

    def read_until(self, done, timeout=BURST_TIMEOUT):
        """Reads from every socket until done(buffer) holds for each, or the timeout."""
        waiting = {s for s in self.socks if not done(self.buffers[s])}
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for key, _ in self.selector.select(timeout=1):
                s = key.fileobj
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    chunk = b""
                if not chunk:
                    self.selector.unregister(s)
                    waiting.discard(s)
                    continue
                self.buffers[s] += chunk
                if done(self.buffers[s]):
                    waiting.discard(s)
        return waiting

    def send_all(self, data):
        for s in self.socks:
            s.setblocking(True)
            s.sendall(data)
            s.setblocking(False)

    def first_lines(self):
        return [self.buffers[s].split(b"\r\n", 1)[0] for s in self.socks]

    def close(self):
        for s in self.socks:
            try:
                self.selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self.selector.close()


def status_connections(instance):
    result = instance.ctl("status")
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        if line.startswith("connections: "):
            return int(line.split(": ")[1])
    raise AssertionError("no connection count in status: %r" % result.stdout)


def wait_for_connection_count(instance, wanted, timeout=BURST_TIMEOUT):
    deadline = time.monotonic() + timeout
    count = status_connections(instance)
    while count != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        count = status_connections(instance)
    assert count == wanted, "postern status counts %d connections, expected %d" % (count, wanted)


def smtpd_rss_kb(instance):
    total = {}
    for pid in instance.processes_named("smtpd"):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total[pid] = int(line.split()[1])
        except OSError:
            pass
    return total


def served(instance):
    """An honest client gets its banner and an answer to NOOP."""
    client = h.RawClient(instance.port)
    try:
        assert client.reply()[-1].startswith("220 "), "no banner"
        assert client.command("NOOP").startswith("250 "), "NOOP not answered"
    finally:
        client.close()


def check_client_that_never_reads(instance):
    flooders = []
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", instance.port))
        s.setblocking(False)
        flooders.append(s)
    command = b"EHLO a\r\n" * 8192
    sent = 0
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for s in flooders:
            try:
                sent += s.send(command)
            except BlockingIOError:
                pass
        time.sleep(0.001)
    rss = smtpd_rss_kb(instance)
    served(instance)
    for s in flooders:
        s.close()
    print("never-reading clients sent %d MB; smtpd RSS %s kB" % (sent >> 20, rss))
    assert rss, "no smtpd running"
    # ASan keeps freed memory in its quarantine (256 MB by default): the bound
    # is the release build's.
    if not h.sanitizer_build():
        assert max(rss.values()) < 64 * 1024, "an smtpd grew to %d kB" % max(rss.values())
    wait_for_connection_count(instance, 0)


def check_burst_of_connects_and_closes(instance, rounds=2, addresses=150, per_address=20):
    for round_ in range(rounds):
        crowd = Crowd(instance.port, sources(addresses), per_address)
        try:
            missing = crowd.read_until(lambda b: b"\r\n" in b)
            lines = crowd.first_lines()
            refused = [line for line in lines if not line.startswith(b"220 ")]
            assert not missing and not refused, "round %d: %d without a line, %d refused: %r" % (
                round_, len(missing), len(refused), refused[:3])
            wait_for_connection_count(instance, addresses * per_address)
        finally:
            crowd.close()
        wait_for_connection_count(instance, 0)


def check_burst_of_mail_commands(instance, addresses=100, per_address=20):
    crowd = Crowd(instance.port, sources(addresses), per_address)
    try:
        assert not crowd.read_until(lambda b: b"\r\n" in b), "banners missing"
        crowd.send_all(b"EHLO burst.example\r\nMAIL FROM:<burst@example.org>\r\n")
        # The banner, the EHLO reply ending "250 ...", then MAIL's reply.
        unanswered = crowd.read_until(lambda b: b"2.1.0" in b or b.count(b"\r\n") > 12)
        assert not unanswered, "%d sessions got no answer to MAIL" % len(unanswered)
        bad = [b for b in crowd.buffers.values() if b"250 2.1.0 Sender OK" not in b]
        assert not bad, "%d sessions did not get 250 to MAIL: %r" % (len(bad), bad[:2])
        crowd.send_all(b"QUIT\r\n")
        crowd.read_until(lambda b: b"221 " in b)
    finally:
        crowd.close()
    wait_for_connection_count(instance, 0)


def check_descriptor_limit():
    """master started with a hard limit of 256 descriptors: 2 workers hold 2 x 192."""
    instance = h.Instance(settings={"smtpd_workers": 2})
    instance.start(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)))
    try:
        workers = set(instance.processes_named("smtpd"))
        assert len(workers) == 2, workers
        # The harness's probe of the port at start is a connection too: master
        # holds it until a worker is ready, and it counts against the capacity
        # until that worker has closed it.
        h.wait_until(lambda: len(re.findall(r"smtpd\[\d+\]: ready", instance.log())) == 2,
                     "both workers ready")
        wait_for_connection_count(instance, 0)
        capacity = 2 * (256 - 64)
        crowd = Crowd(instance.port, sources(25), 20)  # 500 connections
        try:
            missing = crowd.read_until(lambda b: b"\r\n" in b)
            lines = crowd.first_lines()
            greeted = sum(1 for line in lines if line.startswith(b"220 "))
            refused = [line for line in lines if not line.startswith(b"220 ")]
            assert not missing, "%d connections got no line" % len(missing)
            assert greeted == capacity, "%d greeted, expected %d" % (greeted, capacity)
            expected = (b"421 4.3.2 The maximum number of concurrent server connections has "
                        b"exceeded a limit, closing transmission channel")
            assert set(refused) == {expected}, set(refused)
            assert set(instance.processes_named("smtpd")) == workers, "a worker died"
        finally:
            crowd.close()
        wait_for_connection_count(instance, 0)
        served(instance)
        assert set(instance.processes_named("smtpd")) == workers, "a worker died"
        assert "MSG_CTRUNC" not in instance.log()
    finally:
        instance.stop()
        instance.close()


def test():
    raise_own_descriptor_limit(8192)
    with h.Instance(settings={"smtpd_workers": 2}) as instance:
        instance.start()
        check_client_that_never_reads(instance)
        check_burst_of_connects_and_closes(instance)
        check_burst_of_mail_commands(instance)
        served(instance)
        instance.stop()
    check_descriptor_limit()


if __name__ == "__main__":
    h.run_tests(globals())
