#!/usr/bin/env python3
"""tests/system/mx_delivery_test.py — without relayhost, qmgr delivers by MX records.

A DNS responder on loopback (dns_responder.py) is postern's only nameserver;
two scripted SMTP servers (next_hop.py) listen on 127.0.0.1 and 127.0.0.2 at
one port, which relay_tcp_port names (the mail exchangers of the internet
listen on 25; a test cannot count on that port). Checked, RFC 5321 5.1 and
RFC 7505:
- one message for two domains is split by destination: one.test's MX hosts
  are tried by preference (its best MX, dead.one.test at 127.0.0.3, refuses
  the connection; the next, mx.one.test, takes both of one.test's
  recipients, whatever their case, in one transaction), and two.test, which
  has no MX record, is its own mail exchanger (its A record); each copy
  arrives byte for byte after postern's Received: field, and the log names
  each relay;
- a domain that does not exist (NXDOMAIN: 5.1.2), one with a null MX
  ("MX 0 .": 5.1.10) and one whose MX is postern itself (myhostname: 5.4.6)
  fail their recipients at once: the sender gets a failure DSN for each with
  that Status, and nothing is queued any longer;
- every name asked went to the responder (the only server postern knows);
- relay_concurrency_limit caps the sessions to all destinations together:
  with 2, twelve messages for three domains never have more than two
  sessions open at once, and all are delivered.
"""

import email
import email.policy
import os
import re
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from dns_responder import DnsResponder  # noqa: E402
from next_hop import NextHop  # noqa: E402

MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"To: several domains\r\n"
           b"Subject: by MX\r\n"
           b"\r\n"
           b"Delivered by the recipient domains' mail exchangers.\r\n")

MX = {"one.test": [(10, "dead.one.test"), (20, "mx.one.test")],
      "null.test": [(0, ".")],
      "loop.test": [(10, h.HOSTNAME)]}
A = {"dead.one.test": "127.0.0.3", "mx.one.test": "127.0.0.1", "two.test": "127.0.0.2"}


def check_split_by_domain(instance, one, two, port):
    queue_id = h.send(instance.port, "ann@example.test",
                      ["a@one.test", "b@two.test", "c@One.Test"], MESSAGE)
    h.wait_until(lambda: one.transactions and two.transactions, "both exchangers get mail",
                 timeout=20)
    [to_one] = one.transactions
    [to_two] = two.transactions
    assert to_one["recipients"] == ["a@one.test", "c@One.Test"], to_one
    assert to_two["recipients"] == ["b@two.test"], to_two
    for transaction in (to_one, to_two):
        assert transaction["sender"] == "ann@example.test", transaction["mail_line"]
        received, rest = h.split_received(transaction["content"])
        h.check_received(received, queue_id)
        assert rest == MESSAGE, "relayed bytes differ:\nsent %r\ngot  %r" % (MESSAGE, rest)
    h.wait_until(lambda: queue_id not in instance.queue_list(), "the message leaves the queue")
    log = instance.log()
    for expected in ("%s: to=<a@one.test>, relay=mx.one.test[127.0.0.1]:%d, " % (queue_id, port),
                     "%s: to=<b@two.test>, relay=two.test[127.0.0.2]:%d, " % (queue_id, port),
                     "dead.one.test[127.0.0.3]:%d: Connection refused" % port):
        assert expected in log, "no %r in the log:\n%s" % (expected, log[-3000:])


def check_unroutable_domains_fail(instance):
    expected = {"x@nowhere.test": "5.1.2", "y@null.test": "5.1.10", "z@loop.test": "5.4.6"}
    before = len(instance.delivered("ann@example.test"))
    queue_ids = [h.send(instance.port, "ann@example.test", [address], MESSAGE)
                 for address in expected]
    reports = instance.wait_for_mail("ann@example.test", before + len(expected))[before:]
    seen = {}
    for raw in reports:
        report = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert report.get_content_type() == "multipart/report", report.get_content_type()
        [block] = report.get_payload()[1].get_payload()[1:]
        assert block["Action"] == "failed", dict(block)
        seen[block["Final-Recipient"].split(";", 1)[1]] = block["Status"]
    assert seen == expected, seen
    for queue_id in queue_ids:
        h.wait_until(lambda: queue_id not in instance.queue_list(), "%s leaves" % queue_id)
    expected = re.compile(r"to=<x@nowhere\.test>, relay=none, delay=[\d.]+, delays=[\d.]+/[\d.]+/0/0, "
                          r"dsn=5\.1\.2, status=bounced \(Host or domain name not found: "
                          r"nowhere\.test does not exist")
    assert expected.search(instance.log()), instance.log()[-3000:]


def test_by_mx():
    port = h.free_port()
    dns = DnsResponder(a=A, mx=MX)
    try:
        with NextHop(address="127.0.0.1", port=port) as one, \
                NextHop(address="127.0.0.2", port=port) as two:
            settings = {"dns_nameservers": dns.address, "relay_tcp_port": port,
                        "minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}
            with h.Instance(settings=settings) as instance:
                instance.start()
                check_split_by_domain(instance, one, two, port)
                check_unroutable_domains_fail(instance)
                instance.stop()
        for name in ("one.test", "mx.one.test", "two.test", "nowhere.test", "null.test"):
            assert name in dns.asked, "%s never asked: %s" % (name, dns.asked)
    finally:
        dns.close()


def test_relay_concurrency_limit_caps_sessions_to_all_destinations():
    """Twelve messages for three domains (no MX: each is its own exchanger, all
    one next hop that holds each 250 for half a second) with
    relay_concurrency_limit = 2: never more than 2 sessions at once, though
    each domain may have 10, and every domain's mail is delivered."""
    port = h.free_port()
    domains = ["d1.test", "d2.test", "d3.test"]
    dns = DnsResponder(a={d: "127.0.0.1" for d in domains})
    try:
        with NextHop(address="127.0.0.1", port=port, data_action=lambda n: 0.5) as hop:
            settings = {"dns_nameservers": dns.address, "relay_tcp_port": port,
                        "relay_concurrency_limit": 2}
            with h.Instance(settings=settings) as instance:
                instance.start()
                recipients = ["r%d@%s" % (n, d) for d in domains for n in range(4)]
                for address in recipients:
                    h.send(instance.port, "ann@example.test", [address], MESSAGE)
                h.wait_until(lambda: len(hop.transactions) == len(recipients),
                             "every message is relayed", timeout=40)
                assert sorted(r for t in hop.transactions for r in t["recipients"]) == \
                    sorted(recipients)
                assert hop.most_active == 2, "%d sessions at once" % hop.most_active
                instance.stop()
    finally:
        dns.close()


if __name__ == "__main__":
    h.run_tests(globals())
