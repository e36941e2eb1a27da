#!/usr/bin/env python3
"""tests/system/server_connection_limit_test.py — ConnectionCountExceeded for the whole server.

MS-OXSMTP 3.2.7: ConnectionCountExceeded "occurs when an SMTP server has
exceeded 5000 concurrent inbound connections". One postern instance with
two listeners, "smtp" (gateway) and "submission" (relay), each allowing
ten connections of its own (max_connections = 10) and ten per source, and
max_server_connections = 3 for the server:
  - three connections spread over both listeners get their banners;
  - a fourth, on either listener, is answered "421 4.3.2 The maximum number
    of concurrent server connections has exceeded a limit, closing
    transmission channel" and closed, while the three sessions go on;
  - once one of the three quits, a new connection is admitted (on the
    other listener), and the server is full again;
  - at the end `postern status` counts 0 connections.
Every client comes from its own loopback address, so the per-source limit
plays no part.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

SERVER_COUNT = ("421 4.3.2 The maximum number of concurrent server connections has exceeded a "
                "limit, closing transmission channel")
BANNER = "220 %s ESMTP postern ready" % h.HOSTNAME
# How long master may take to learn that a connection closed.
SLOT_WAIT = 5.0


def first_line(port, source):
    client = h.RawClient(port, source=source)
    return client, client.line().decode(errors="replace")


def assert_served(port, source):
    client, line = first_line(port, source)
    assert line == BANNER, "a client from %s got %r" % (source, line)
    return client


def assert_refused(port, source):
    client, line = first_line(port, source)
    try:
        assert line == SERVER_COUNT, "a client from %s got %r, expected %r" % (
            source, line, SERVER_COUNT)
        rest = client.line()
        assert rest == b"", "after the 421 the server sent %r instead of closing" % rest
    finally:
        client.close()


def served_once_a_slot_frees(port, source):
    deadline = time.monotonic() + SLOT_WAIT
    while True:
        client, line = first_line(port, source)
        if line == BANNER:
            return client
        client.close()
        assert line == SERVER_COUNT, "a client from %s got %r" % (source, line)
        assert time.monotonic() < deadline, "no slot freed within %.0fs" % SLOT_WAIT
        time.sleep(0.1)


def quit(client):
    assert client.command("QUIT").startswith("221 ")
    assert client.line() == b""
    client.close()


def connection_count(instance):
    status = instance.ctl("status")
    assert status.returncode == 0, status.stderr
    match = re.search(r"^connections: (\d+)$", status.stdout, re.M)
    assert match, "no connection count in:\n" + status.stdout
    return int(match.group(1))


def wait_for_count(instance, expected):
    """Closes reach master a moment after the client closed."""
    deadline = time.monotonic() + SLOT_WAIT
    while True:
        count = connection_count(instance)
        if count == expected:
            return
        assert time.monotonic() < deadline, "postern status counts %d connections, expected %d" % (
            count, expected)
        time.sleep(0.1)


def test():
    limits = {"max_connections": 10, "max_connections_per_source": 10}
    instance = h.Instance(name="server-limit", settings={"max_server_connections": 3},
                          listeners={"smtp": dict(limits),
                                     "submission": dict(limits, role="relay")})
    with instance:
        instance.start()
        smtp, submission = instance.ports["smtp"], instance.ports["submission"]
        # The harness's probes of the ports at start were connections too.
        wait_for_count(instance, 0)

        held = [assert_served(smtp, "127.0.0.2"), assert_served(submission, "127.0.0.3"),
                assert_served(smtp, "127.0.0.4")]
        assert connection_count(instance) == 3
        # Neither listener is near its own cap of 10: the server's 3 refuses.
        assert_refused(submission, "127.0.0.5")
        assert_refused(smtp, "127.0.0.6")
        for client in held:
            assert client.command("NOOP") == "250 2.0.0 OK"

        # A slot freed on "smtp" serves a client of "submission".
        quit(held.pop(0))
        held.append(served_once_a_slot_frees(submission, "127.0.0.5"))
        assert_refused(smtp, "127.0.0.6")
        for client in held:
            assert client.command("NOOP") == "250 2.0.0 OK"
            quit(client)
        wait_for_count(instance, 0)
        instance.stop()
    print("3 connections over two listeners served, the 4th refused with 421 4.3.2")


if __name__ == "__main__":
    h.run_test(test)
