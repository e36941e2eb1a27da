#!/usr/bin/env python3
"""tests/system/connection_events_test.py — MS-OXSMTP 3.2.7 connection events, real sockets.

Clients connect from 127.0.0.2, 127.0.0.3 and 127.0.0.4 (Linux routes all of
127.0.0.0/8 to the loopback interface, so a client socket may bind to any
of them) to one postern instance with a single smtpd worker and three
listeners:
  - "limits" (max_connections = 2, max_connections_per_source = 1):
    ConnectionCountPerSource and ConnectionCountExceeded with their exact
    421 4.3.2 texts, after which the server closes the connection; a slot
    frees when a connection closes;
  - "restricted" (remote_networks = 127.0.0.2/32): BindingNotConfigured,
    "421 4.3.2 Service not available", for a client from 127.0.0.3;
  - "tarpit" (tarpit_interval = 1s): the Tarpit event; the reply to a
    refused MAIL (and to any other error of this unauthenticated session)
    arrives after a second, while another session on the same worker is
    answered at once, and the session then goes on unchanged;
  - "ipv6" (bind = [::1]:PORT): a session over IPv6.
"""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

PER_SOURCE = ("421 4.3.2 The maximum number of concurrent connections has exceeded a limit, "
              "closing transmission channel")
SERVER_COUNT = ("421 4.3.2 The maximum number of concurrent server connections has exceeded a "
                "limit, closing transmission channel")
# While master has not yet learnt that a connection closed.
REFUSALS = (PER_SOURCE, SERVER_COUNT)
NOT_AVAILABLE = "421 4.3.2 Service not available"

TARPIT = 1.0
# The answer of a session that is not tarpitted: well under TARPIT.
PROMPT = 0.5
# How long master may take to learn that a connection closed.
SLOT_WAIT = 5.0


def free_ipv6_port():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def connection_counts(port):
    first = h.assert_served(port, "127.0.0.2")
    h.assert_refused(port, "127.0.0.2", PER_SOURCE)
    second = h.assert_served(port, "127.0.0.3")
    h.assert_refused(port, "127.0.0.4", SERVER_COUNT)
    # Both refusals end before a worker sees them: the served sessions work on.
    assert first.command("NOOP") == "250 2.0.0 OK"
    assert second.command("NOOP") == "250 2.0.0 OK"

    h.quit_session(first)
    # The slot of 127.0.0.2 is free again, both per source and in the total.
    again = h.served_once_a_slot_frees(port, "127.0.0.2", REFUSALS, SLOT_WAIT)
    h.assert_refused(port, "127.0.0.4", SERVER_COUNT)
    h.quit_session(again)
    # And a new source takes the freed place in the total.
    third = h.served_once_a_slot_frees(port, "127.0.0.4", REFUSALS, SLOT_WAIT)
    h.quit_session(third)
    h.quit_session(second)


def binding_not_configured(port):
    h.assert_refused(port, "127.0.0.3", NOT_AVAILABLE)
    h.assert_refused(port, "127.0.0.1", NOT_AVAILABLE)
    client = h.assert_served(port, "127.0.0.2")
    h.quit_session(client)


def timed_reply(client):
    began = time.monotonic()
    return client.reply()[-1], time.monotonic() - began


def tarpit(port):
    began = time.monotonic()
    slow = h.assert_served(port, "127.0.0.1")
    assert time.monotonic() - began < PROMPT, "the banner was delayed"
    other = h.assert_served(port, "127.0.0.1")
    for client in (slow, other):
        client.send("EHLO client.example.test\r\n")
        assert client.reply()[-1].startswith("250 ")

    # A refused MAIL, and a command pipelined behind it.
    sent = time.monotonic()
    slow.send("MAIL FROM:<ann@>\r\nNOOP\r\n")
    time.sleep(0.1)
    # Meanwhile the other session, on the same (only) worker, is answered at once.
    other.send("NOOP\r\n")
    line, elapsed = timed_reply(other)
    assert line == "250 2.0.0 OK" and elapsed < PROMPT, \
        "the other session got %r after %.2fs" % (line, elapsed)
    line = slow.reply()[-1]
    elapsed = time.monotonic() - sent
    assert line == "501 5.1.7 Invalid address", "the tarpitted MAIL got %r" % line
    assert elapsed >= TARPIT - 0.1, "the refused MAIL was answered after %.2fs" % elapsed
    # The pipelined NOOP was read only after the tarpit, and answered at once then.
    line, elapsed = timed_reply(slow)
    assert line == "250 2.0.0 OK" and elapsed < PROMPT, "%r after %.2fs" % (line, elapsed)

    # The state did not change: a good MAIL is answered at once, a refused one late again.
    slow.send("MAIL FROM:<ann@example.test>\r\n")
    line, elapsed = timed_reply(slow)
    assert line == "250 2.1.0 Sender OK" and elapsed < PROMPT, "%r after %.2fs" % (line, elapsed)
    slow.send("MAIL FROM:<ann@example.test>\r\n")
    line, elapsed = timed_reply(slow)
    assert line == "503 5.5.2 Sender already specified", line
    assert elapsed >= TARPIT - 0.1, "the second refusal came after %.2fs" % elapsed
    # Errors of other commands are delayed too: the session has not authenticated.
    slow.send("FROB\r\n")
    line, elapsed = timed_reply(slow)
    assert line.startswith("500 ") and elapsed >= TARPIT - 0.1, "%r after %.2fs" % (line, elapsed)
    h.quit_session(slow)
    h.quit_session(other)


def ipv6(port):
    """MS-OXSMTP 2.1: TCP over IPv6 too; the EHLO answer names the client by its
    IPv6address, without brackets (3.2.5 ServerResponse)."""
    client = h.RawClient(port, source="::1", server="::1")
    assert client.line().decode() == h.BANNER
    client.send("EHLO client.example.test\r\n")
    lines = client.reply()
    assert lines[0] == "250-%s Hello ::1" % h.HOSTNAME, lines
    assert client.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
    h.quit_session(client)


def test():
    ipv6_port = free_ipv6_port()
    listeners = {
        "limits": {"max_connections": 2, "max_connections_per_source": 1},
        "restricted": {"remote_networks": "127.0.0.2/32"},
        "tarpit": {"tarpit_interval": "1s"},
        "ipv6": {"bind": "[::1]:%d" % ipv6_port},
    }
    with h.Instance(listeners=listeners, settings={"smtpd_workers": 1}) as instance:
        instance.start()
        # The harness's probes of the ports at start were connections too.
        instance.wait_for_connection_count(0, SLOT_WAIT)
        connection_counts(instance.ports["limits"])
        binding_not_configured(instance.ports["restricted"])
        tarpit(instance.ports["tarpit"])
        ipv6(ipv6_port)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
