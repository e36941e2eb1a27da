#!/usr/bin/env python3
"""tests/system/relay_peers_test.py — qmgr against next hops that limit or hang.

Scripted next hops on loopback (next_hop.py), messages sent to postern with
smtplib from a trusted client:
- a next hop that takes 2 recipients a transaction and answers every
  further RCPT with "452 4.5.3 Too many recipients" (MS-OXSMTP 3.2.5, RFC
  5321 4.5.3.1.10): a message for 5 recipients arrives in transactions of
  2, 2 and 1 recipients, all on one connection, each recipient exactly
  once and the content byte for byte after postern's Received: field;
  the queue ends empty and nothing is deferred;
- a next hop that accepts the connection and never says a word, with
  relay_greeting_timeout = 2s: the message is deferred when the greeting
  timer runs out (not before 2 s; dsn=4.4.2, "timed out waiting for the
  server's greeting" in the log and in `postern queue show`), and once a
  working next hop listens on that port instead, the retry relays it
  exactly once;
- a next hop whose connects never complete, with relay_connect_timeout =
  1s: deferred with 4.4.1 "connect to ...: timed out" after about 1 s
  (the default would wait 30 s).
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from next_hop import NextHop, SilentPeer, UnreachablePeer  # noqa: E402

MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"To: five recipients:;\r\n"
           b"Subject: too many for one transaction\r\n"
           b"\r\n"
           b"Body line.\r\n"
           b".a line that starts with a dot\r\n")

RECIPIENTS = ["r%d@elsewhere.test" % n for n in range(1, 6)]


def settings_for(port, **more):
    settings = {"relayhost": "[127.0.0.1]:%d" % port, "minimal_backoff_time": "1s",
                "maximal_backoff_time": "2s"}
    settings.update(more)
    return settings


def test_too_many_recipients_go_in_further_transactions():
    with NextHop(max_recipients=2) as hop:
        with h.Instance(settings=settings_for(hop.port)) as instance:
            instance.start()
            queue_id = h.send(instance.port, "ann@example.test", RECIPIENTS, MESSAGE)
            h.wait_until(lambda: queue_id not in instance.queue_list(), "the message leaves",
                         timeout=20)
            batches = [t["recipients"] for t in hop.transactions]
            assert batches == [RECIPIENTS[0:2], RECIPIENTS[2:4], RECIPIENTS[4:5]], batches
            assert {t["connection"] for t in hop.transactions} == {1}, hop.transactions
            assert hop.connections == 1, "%d connections" % hop.connections
            for address in RECIPIENTS:
                [content] = hop.delivered_to(address)
                received, rest = h.split_received(content)
                h.check_received(received, queue_id)
                assert rest == MESSAGE, "relayed bytes differ:\nsent %r\ngot  %r" % (MESSAGE,
                                                                                    rest)
            rcpts = [c for c in hop.commands if c.upper().startswith("RCPT")]
            assert len(rcpts) == 5 + 3 + 1, rcpts  # 2 taken + 3 refused, 2 + 1, 1
            log = instance.log()
            assert "status=deferred" not in log, log[-3000:]
            for address in RECIPIENTS:
                assert "to=<%s>, relay=127.0.0.1[127.0.0.1]:%d, " % (address, hop.port) in log
            instance.stop()


def test_silent_next_hop_times_out_then_a_working_one_takes_it():
    with SilentPeer() as silent:
        port = silent.port
        with h.Instance(settings=settings_for(port, relay_greeting_timeout="2s",
                                              minimal_backoff_time="30s",
                                              maximal_backoff_time="30s")) as instance:
            instance.start()
            sent_at = time.monotonic()
            queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"], MESSAGE)
            reason = "timed out waiting for the server's greeting"
            h.wait_until(lambda: "status=deferred" in instance.log(), "the timeout defers it",
                         timeout=20)
            waited = time.monotonic() - sent_at
            assert waited >= 2, "deferred after %.1f s, before relay_greeting_timeout" % waited
            assert silent.accepted, "qmgr never connected to the silent next hop"
            log = instance.log()
            expected = "%s: to=<zoe@elsewhere.test>, relay=127.0.0.1[127.0.0.1]:%d, " % (
                queue_id, port)
            assert expected in log, log[-3000:]
            assert "dsn=4.4.2, status=deferred (%s)" % reason in log, log[-3000:]
            # The outcome reaches the store with qmgr's next (lazy) commit.
            h.wait_until(lambda: reason in instance.ctl("queue", "show", queue_id).stdout,
                         "queue show gives the reason")
            shown = instance.ctl("queue", "show", queue_id).stdout
            assert "recipient: <zoe@elsewhere.test> deferred\n  attempts: 1\n" in shown, shown
            assert "  dsn: 4.4.2\n  last_reply: %s\n" % reason in shown, shown
            silent.close()
            with NextHop(port=port) as hop:
                result = instance.ctl("queue", "flush")
                assert result.returncode == 0, result.stderr
                h.wait_until(lambda: queue_id not in instance.queue_list(),
                             "the working next hop takes it", timeout=20)
                [content] = hop.delivered_to("zoe@elsewhere.test")
                assert h.split_received(content)[1] == MESSAGE, content
                assert "status=sent" in instance.log(), instance.log()[-3000:]
                instance.stop()



def test_unreachable_next_hop_times_out_the_connect():
    with UnreachablePeer() as peer:
        with h.Instance(settings=settings_for(peer.port, relay_connect_timeout="1s"),
                        name="unreachable") as instance:
            instance.start()
            sent_at = time.monotonic()
            queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"], MESSAGE)
            h.wait_until(lambda: "status=deferred" in instance.log(), "the connect times out",
                         timeout=10)
            waited = time.monotonic() - sent_at
            assert waited >= 1, "deferred after %.1f s, before relay_connect_timeout" % waited
            expected = ("%s: to=<zoe@elsewhere.test>, relay=127.0.0.1[127.0.0.1]:%d, " % (
                queue_id, peer.port))
            reason = "connect to 127.0.0.1[127.0.0.1]:%d: timed out" % peer.port
            log = instance.log()
            assert expected in log and "dsn=4.4.1, status=deferred (%s)" % reason in log, \
                log[-3000:]
            instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
