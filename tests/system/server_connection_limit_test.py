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
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

SERVER_COUNT = ("421 4.3.2 The maximum number of concurrent server connections has exceeded a "
                "limit, closing transmission channel")
# How long master may take to learn that a connection closed.
SLOT_WAIT = 5.0


def test():
    limits = {"max_connections": 10, "max_connections_per_source": 10}
    instance = h.Instance(name="server-limit", settings={"max_server_connections": 3},
                          listeners={"smtp": dict(limits),
                                     "submission": dict(limits, role="relay")})
    with instance:
        instance.start()
        smtp, submission = instance.ports["smtp"], instance.ports["submission"]
        # The harness's probes of the ports at start were connections too.
        instance.wait_for_connection_count(0, SLOT_WAIT)

        held = [h.assert_served(smtp, "127.0.0.2"), h.assert_served(submission, "127.0.0.3"),
                h.assert_served(smtp, "127.0.0.4")]
        assert instance.connection_count() == 3
        # Neither listener is near its own cap of 10: the server's 3 refuses.
        h.assert_refused(submission, "127.0.0.5", SERVER_COUNT)
        h.assert_refused(smtp, "127.0.0.6", SERVER_COUNT)
        for client in held:
            assert client.command("NOOP") == "250 2.0.0 OK"

        # A slot freed on "smtp" serves a client of "submission".
        h.quit_session(held.pop(0))
        held.append(h.served_once_a_slot_frees(submission, "127.0.0.5", (SERVER_COUNT,), SLOT_WAIT))
        h.assert_refused(smtp, "127.0.0.6", SERVER_COUNT)
        for client in held:
            assert client.command("NOOP") == "250 2.0.0 OK"
            h.quit_session(client)
        instance.wait_for_connection_count(0, SLOT_WAIT)
        instance.stop()
    print("3 connections over two listeners served, the 4th refused with 421 4.3.2")


if __name__ == "__main__":
    h.run_tests(globals())
