#!/usr/bin/env python3
"""tests/system/relay_repairs_test.py — qmgr repairs what a next hop demands at MAIL.

MS-OXSMTP 3.1 asks the client to mirror the server's state model: when a
next hop refuses MAIL FROM with one of the rows of the spec's 3.2.5 tables
whose cause the client can remove, postern removes it and sends the
transaction again, on the same connection. Scripted next hops (next_hop.py)
on loopback, each demanding something its EHLO does not announce:
- "503 5.5.2 Send hello first" until a second EHLO: postern says EHLO
  again and the MAIL that follows is taken;
- "451 5.7.3 Must issue a STARTTLS command first" from a next hop whose
  EHLO does not list STARTTLS: postern (relay_tls = may) starts TLS, and
  the transaction is accepted under TLS;
- "530 5.7.0 Must issue a STARTTLS command first" from a next hop that lists
  AUTH LOGIN only under TLS: postern starts TLS, logs on as relay_auth_user
  with the password of relay_password_file, and the transaction is
  accepted under TLS, logged on.
MAIL, RCPT and DATA go in one write (PIPELINING), so the refused MAIL's
RCPT and DATA are refused too and no content follows them. In each case
the message arrives once, byte for byte after postern's
Received: field, on one connection, and the queue ends empty with nothing
deferred.
"""

import os
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from next_hop import NextHop  # noqa: E402

MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"To: Bob <bob@elsewhere.test>\r\n"
           b"Subject: the next hop asks for more\r\n"
           b"\r\n"
           b"Body line.\r\n")

RECIPIENT = "bob@elsewhere.test"
USER, PASSWORD = "relay-user", "relay secret 1"


def relay_once(hop_options, settings=None, prepare=None):
    """Starts a next hop with hop_options and postern relaying to it, sends
    MESSAGE, waits until it left the queue; returns (hop, the commands the hop
    read). prepare(instance) runs before postern starts."""
    with h.Instance(settings=settings or {}) as instance:
        options = dict(hop_options)
        if options.pop("certificate", False):
            options["tls"] = instance.make_certificate("next-hop")
        with NextHop(**options) as hop:
            instance.settings.update({"relayhost": "[127.0.0.1]:%d" % hop.port,
                                      "minimal_backoff_time": "30s"})
            if prepare:
                prepare(instance)
            instance.write_config()
            instance.start()
            queue_id = h.send(instance.port, "ann@example.test", [RECIPIENT], MESSAGE)
            h.wait_until(lambda: queue_id not in instance.queue_list(), "the message leaves",
                         timeout=20)
            [content] = hop.delivered_to(RECIPIENT)
            received, rest = h.split_received(content)
            h.check_received(received, queue_id)
            assert rest == MESSAGE, "relayed bytes differ:\nsent %r\ngot  %r" % (MESSAGE, rest)
            assert len(hop.transactions) == 1, hop.transactions
            assert hop.connections == 1, "%d connections" % hop.connections
            log = instance.log()
            assert "status=deferred" not in log, log[-3000:]
            assert "to=<%s>, relay=127.0.0.1[127.0.0.1]:%d, " % (RECIPIENT, hop.port) in log
            assert "status=sent" in log, log[-3000:]
            instance.stop()
            return hop, [c.split(" ")[0].upper() for c in hop.commands]


def test_send_hello_first_is_answered_by_a_second_ehlo():
    hop, verbs = relay_once({"mail_reply": lambda state: None if state["ehlo"] >= 2 else
                             "503 5.5.2 Send hello first"})
    assert verbs == ["EHLO", "MAIL", "RCPT", "DATA", "EHLO", "MAIL", "RCPT", "DATA", "QUIT"], verbs
    assert hop.transactions[0]["state"]["ehlo"] == 2


def test_starttls_demanded_at_mail_is_started():
    hop, verbs = relay_once({"certificate": True,
                             "mail_reply": lambda state: None if state["tls"] else
                             "451 5.7.3 Must issue a STARTTLS command first"})
    assert verbs == ["EHLO", "MAIL", "RCPT", "DATA", "STARTTLS", "EHLO", "MAIL", "RCPT", "DATA",
                     "QUIT"], verbs
    assert hop.transactions[0]["state"]["tls"] is True


def test_authentication_demanded_at_mail_starts_tls_then_logs_on():
    def mail_reply(state):
        if not state["tls"]:
            return "530 5.7.0 Must issue a STARTTLS command first"
        return None if state["auth"] else "530 5.7.1 Client was not authenticated"

    def password_file(instance):
        secret = os.path.join(instance.conf_dir, "relay_password")
        with open(secret, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(secret, 0o600)
        instance.settings.update(relay_auth_user=USER, relay_password_file=secret)

    hop, verbs = relay_once({"certificate": True, "login": (USER, PASSWORD),
                             "mail_reply": mail_reply}, prepare=password_file)
    assert verbs == ["EHLO", "MAIL", "RCPT", "DATA", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT",
                     "DATA", "QUIT"], verbs
    assert hop.transactions[0]["state"] == {"ehlo": 1, "tls": True, "auth": True}


if __name__ == "__main__":
    h.run_tests(globals())
