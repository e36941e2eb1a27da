#!/usr/bin/env python3
"""tests/system/reverse_lookup_test.py — client_reverse_lookup = yes, against a DNS server on loopback.

smtpd asks dns_nameservers for the PTR of each client: the Received: header
names the client as `(NAME [ADDRESS])` when the lookup answers and as
`(unknown [ADDRESS])` when it does not (NXDOMAIN, or no answer at all
within the resolver's timeout, while other clients are served meanwhile).
The responder is the test's own, on 127.0.0.1: no query leaves the machine.
"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from dns_responder import DnsResponder  # noqa: E402

MESSAGE = b"Subject: reverse lookup\r\n\r\nbody\r\n"


def send_from(port, source, recipient):
    """One transaction from a client bound to `source`; returns the queue id."""
    import smtplib
    client = smtplib.SMTP(timeout=h.SOCKET_TIMEOUT, source_address=(source, 0))
    client.connect("127.0.0.1", port)
    try:
        client.ehlo("client.example.test")
        return h.transaction(client, "ann@example.test", [recipient], MESSAGE)
    finally:
        client.quit()


def received_of(instance, recipient):
    (message,) = instance.wait_for_mail(recipient, 1)
    field, rest = h.split_received(message)
    assert rest == MESSAGE, rest
    return h.unfold(field).decode()


def test():
    dns = DnsResponder(ptr={"2.0.0.127.in-addr.arpa": "named-client.example.test"},
                       silent=["4.0.0.127.in-addr.arpa"])
    try:
        with h.Instance(settings={"client_reverse_lookup": "yes",
                                  "dns_nameservers": dns.address}) as instance:
            instance.start()
            send_from(instance.port, "127.0.0.2", "named@example.test")
            field = received_of(instance, "named@example.test")
            assert "(named-client.example.test [127.0.0.2])" in field, field
            assert "2.0.0.127.in-addr.arpa" in dns.asked, dns.asked

            send_from(instance.port, "127.0.0.3", "nxdomain@example.test")
            field = received_of(instance, "nxdomain@example.test")
            assert "(unknown [127.0.0.3])" in field, field

            # A client whose lookup is never answered waits for the resolver's
            # timeout; another client is served meanwhile.
            done = {}
            slow = threading.Thread(target=lambda: done.update(
                id=send_from(instance.port, "127.0.0.4", "silent@example.test"),
                at=time.monotonic()))
            started = time.monotonic()
            slow.start()
            deadline = time.monotonic() + h.SOCKET_TIMEOUT
            while "4.0.0.127.in-addr.arpa" not in dns.asked and time.monotonic() < deadline:
                time.sleep(0.05)
            send_from(instance.port, "127.0.0.2", "meanwhile@example.test")
            served_meanwhile = time.monotonic()
            slow.join(30)
            assert "id" in done, "the client with the silent lookup was never served"
            assert served_meanwhile < done["at"], "another client waited for the silent lookup"
            assert done["at"] - started >= 2, "the silent lookup was not waited for"
            field = received_of(instance, "silent@example.test")
            assert "(unknown [127.0.0.4])" in field, field
            instance.stop()
            print("PTR answered, NXDOMAIN and timeout all recorded as expected")
    finally:
        dns.close()


if __name__ == "__main__":
    h.run_tests(globals())
