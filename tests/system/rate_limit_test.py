#!/usr/bin/env python3
"""tests/system/rate_limit_test.py — MS-OXSMTP 3.2.7 MessageRateLimitExceeded, real sockets.

One postern instance with two smtpd workers and three listeners, every
client on 127.0.0.1:
  - "limited" (gateway, message_rate_limit = 3): three messages over
    separate connections, served by both workers, are accepted; the MAIL of
    a fourth connection is answered "421 4.4.2 Message submission rate for
    this client has exceeded the configured limit" and the server closes
    the connection. The fourth connection is steered (another connection
    holds the other worker busy; master picks the least-loaded worker) to
    the worker that served fewer than three of the messages: only a count
    shared by every worker refuses it.
  - "unlimited" (gateway, message_rate_limit = 0): eight messages in a row
    are accepted.
  - "relay" (role = relay, limit left at its default of 5 per minute;
    counted per client address before AUTH), from 127.0.0.2: five messages
    are accepted, the sixth MAIL is refused with the same 421, and the
    session ends.
  - "left" (limit 4) and "right" (limit 6), from 127.0.0.3: the count is
    the client's, not the listener's (the spec's limit is "based on a
    unique IP address"). Two messages on each are accepted; the fifth MAIL
    is refused on "left", whose limit of 4 the four messages reach, and the
    session ends; "right" still takes two more, up to its own 6, and
    refuses the seventh.
A message on a listener without a limit ("unlimited") is not counted, so
the 127.0.0.1 of "unlimited" after "limited" is not refused.
Then `smtpd -S` (stand-alone, no master) checks its one session by
master's own rule: on "limited" its fourth MAIL is refused and the session
ends.
Last, a worker never counts by itself when master is gone (kill -9 of
master under an open session): its MAIL, which nobody can count, is
answered "452 4.3.1 Insufficient system resources" and the session goes on.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

# Typed from MS-OXSMTP 3.2.7, MessageRateLimitExceeded.
RATE_EXCEEDED = ("421 4.4.2 Message submission rate for this client has exceeded the "
                 "configured limit")
BANNER = "220 %s ESMTP postern ready" % h.HOSTNAME
MESSAGE = b"Subject: rate\r\n\r\nOne message.\r\n"


def raw_session(port, source=None):
    """A RawClient (from source, a loopback address) that has had the banner and said EHLO."""
    client = h.RawClient(port, source=source)
    assert client.line().decode() == BANNER
    lines = client.command("EHLO client.example.test")
    assert lines.startswith("250 "), "EHLO answered %r" % lines
    return client


def raw_transaction(client, recipient):
    """MAIL, RCPT, DATA over a RawClient; asserts each step."""
    for command, code in (("MAIL FROM:<sender@example.org>", "250"),
                          ("RCPT TO:<%s>" % recipient, "250"), ("DATA", "354")):
        reply = client.command(command)
        assert reply.startswith(code + " "), "%s answered %r" % (command, reply)
    client.send(MESSAGE + b".\r\n")
    reply = client.reply()[-1]
    assert reply.startswith("250 2.6.0 "), "end of DATA answered %r" % reply


def assert_refused_and_closed(client):
    reply = client.command("MAIL FROM:<sender@example.org>")
    assert reply == RATE_EXCEEDED, "MAIL answered %r, expected %r" % (reply, RATE_EXCEEDED)
    rest = client.line()
    assert rest == b"", "after the 421 the server sent %r instead of closing" % rest


def serving_worker(instance, client):
    """The pid of the smtpd that logged the connection of client (a RawClient)."""
    port = client.sock.getsockname()[1]
    pattern = re.compile(r"postern/smtpd\[(\d+)\]: connect from unknown\[127\.0\.0\.1\]:%d "
                         r"to listener limited$" % port)
    found = [int(m.group(1)) for m in map(pattern.search, instance.log().splitlines()) if m]
    assert len(found) == 1, "connection from port %d logged %d times" % (port, len(found))
    return found[0]


def check_limited(instance):
    port = instance.ports["limited"]
    served = {}  # smtpd pid -> messages it accepted
    # The harness's probes of the ports at start are sessions too.
    instance.wait_for_connection_count(0)
    # Two sessions open at once go to different workers (least loaded first).
    first, second = raw_session(port), raw_session(port)
    for client in (first, second):
        raw_transaction(client, "limited@example.test")
        pid = serving_worker(instance, client)
        served[pid] = served.get(pid, 0) + 1
        h.quit_session(client)
    assert len(served) == 2, "both sessions were served by smtpd %s" % list(served)
    instance.wait_for_connection_count(0)
    third = raw_session(port)
    raw_transaction(third, "limited@example.test")
    pid = serving_worker(instance, third)
    served[pid] += 1
    h.quit_session(third)
    instance.wait_for_connection_count(0)
    # holder takes the worker that master picks for an idle pool, which is
    # the one that served the third message; the fourth goes to the other.
    holder = raw_session(port)
    fourth = raw_session(port)
    try:
        assert serving_worker(instance, holder) == pid
        other = serving_worker(instance, fourth)
        assert other != pid and served[other] == 1, (other, served)
        assert_refused_and_closed(fourth)
    finally:
        fourth.close()
        holder.close()
    instance.wait_for_mail("limited@example.test", 3)


def check_unlimited(instance):
    client = h.connect(instance.ports["unlimited"])
    try:
        for _ in range(8):
            h.transaction(client, "sender@example.org", ["unlimited@example.test"], MESSAGE)
    finally:
        client.quit()
    instance.wait_for_mail("unlimited@example.test", 8)


def check_relay(instance):
    client = raw_session(instance.ports["relay"], source="127.0.0.2")
    try:
        for _ in range(5):
            raw_transaction(client, "relay@example.test")
        assert_refused_and_closed(client)
    finally:
        client.close()
    instance.wait_for_mail("relay@example.test", 5)


def check_across_listeners(instance):
    left, right = instance.ports["left"], instance.ports["right"]
    for port in (left, right, left, right):
        client = raw_session(port, source="127.0.0.3")
        raw_transaction(client, "split@example.test")
        h.quit_session(client)
    # Four in the minute: the fifth is over the limit of "left", though
    # "left" itself took only two.
    client = raw_session(left, source="127.0.0.3")
    try:
        assert_refused_and_closed(client)
    finally:
        client.close()
    # "right" allows 6: two more, then the same refusal.
    client = raw_session(right, source="127.0.0.3")
    try:
        raw_transaction(client, "split@example.test")
        raw_transaction(client, "split@example.test")
        assert_refused_and_closed(client)
    finally:
        client.close()
    instance.wait_for_mail("split@example.test", 6)


def check_standalone(instance):
    """smtpd -S, with the instance stopped: no master, so the worker applies
    master's rule itself, and the fourth MAIL of the minute ends the session."""
    dialog = "EHLO client.example.test\r\n" + "MAIL FROM:<sender@example.org>\r\nRSET\r\n" * 4
    result = subprocess.run(
        [os.path.join(h.build_dir(), "smtpd", "smtpd"), "-c", instance.conf_dir, "-S",
         "--listener", "limited", "--client", "192.0.2.7"],
        input=dialog.encode(), capture_output=True, timeout=h.CLI_TIMEOUT)
    assert result.returncode == 0, "smtpd -S exited %d: %r" % (result.returncode, result.stderr)
    # The last line of each reply: 220, EHLO's 250, then MAIL's and RSET's.
    lines = [line for line in result.stdout.decode().split("\r\n") if line[3:4] == " "]
    answers = [line if line.startswith("421") else line[:3] for line in lines[2:]]
    assert answers == ["250"] * 6 + [RATE_EXCEEDED], "smtpd -S answered %r" % result.stdout


def check_master_gone():
    """kill -9 of master under an open session: the worker cannot have the
    MAIL counted and counts nothing itself; 452 4.3.1 (MS-OXSMTP 3.2.5,
    "System resources are not available"), and the session goes on."""
    with h.Instance(listeners={"limited": {"message_rate_limit": 3}},
                    name="rate-master-gone") as instance:
        instance.start()
        instance.wait_for_daemons()
        client = raw_session(instance.ports["limited"])
        try:
            os.kill(instance.master_pid(), signal.SIGKILL)
            deadline = time.monotonic() + h.SOCKET_TIMEOUT
            while "master went away" not in instance.log():
                assert time.monotonic() < deadline, "the worker did not notice master's end"
                time.sleep(0.05)
            for _ in range(2):
                reply = client.command("MAIL FROM:<sender@example.org>")
                assert reply == "452 4.3.1 Insufficient system resources", reply
            assert client.command("NOOP").startswith("250 ")
            assert client.command("QUIT").startswith("221 ")
        finally:
            client.close()
        instance.kill_all()


def test():
    instance = h.Instance(listeners={
        "limited": {"message_rate_limit": 3},
        "unlimited": {"message_rate_limit": 0},
        "relay": {"role": "relay"},
        "left": {"message_rate_limit": 4},
        "right": {"message_rate_limit": 6},
    }, settings={"smtpd_workers": 2})
    with instance:
        instance.start()
        check_limited(instance)
        check_unlimited(instance)
        check_relay(instance)
        check_across_listeners(instance)
        # Nothing from a refused transaction reached a mailbox.
        for address, count in (("limited@example.test", 3), ("relay@example.test", 5),
                               ("split@example.test", 6)):
            delivered = len(instance.delivered(address))
            assert delivered == count, "%s holds %d messages, expected %d" % (
                address, delivered, count)
        assert "message rate limit of listener limited exceeded by ip:127.0.0.1" in instance.log()
        instance.stop()
    check_standalone(instance)
    check_master_gone()


if __name__ == "__main__":
    h.run_tests(globals())
