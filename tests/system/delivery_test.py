#!/usr/bin/env python3
"""tests/system/delivery_test.py — a message sent with smtplib arrives byte for byte.

Sends through the real daemons and reads the Maildir files qmgr writes:
- CRLF lines, a line starting with '.', an empty line and 8-bit UTF-8 text
  (BODY=8BITMIME) arrive exactly as sent, un-dot-stuffed, after one
  Received: field that names mail.example.test (by clause) and the queue id
  of the `250 2.6.0 <id> Queued mail for delivery` reply;
- several recipients get one identical file each;
- a recipient outside local_domains, from a trusted client, is accepted;
  with no nameserver answering, its MX lookup fails and it is deferred
  (dsn=4.4.3) and stays in the queue (`postern queue list`);
- a client outside trusted_networks is refused a relay recipient with
  `550 5.7.1 Unable to relay`, and still reaches local recipients;
- qmgr runs local_delivery_concurrency delivery threads (named "delivery",
  as `ps -L` shows them), and 40 messages sent by 8 clients at once each
  arrive once, byte for byte.
"""

import os
import re
import sys
import threading

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

MESSAGE = (
    "From: Ann <ann@example.test>\r\n"
    "To: Bob <bob@example.test>\r\n"
    "Subject: delivery test\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "First line.\r\n"
    ".a line that starts with a dot\r\n"
    "..two dots\r\n"
    "\r\n"
    "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e \U0001F4EC\r\n"
    ".\r\n"  # looks like the end of data once stuffed away: must survive
    "last line\r\n"
).encode("utf-8")


def check_single_recipient(instance):
    queue_id = h.send(instance.port, "ann@example.test", ["bob@example.test"], MESSAGE,
                      mail_options=["BODY=8BITMIME"])
    [delivered] = instance.wait_for_mail("bob@example.test", 1)
    received, rest = h.split_received(delivered)
    assert received, "no Received: field first: %r" % delivered[:300]
    h.check_received(received, queue_id)
    assert rest == MESSAGE, "delivered bytes differ from sent:\nsent %r\ngot  %r" % (MESSAGE, rest)
    # Postfix's form; a Maildir delivery sets up no connection (c = 0).
    line = re.compile(r"%s: to=<bob@example\.test>, relay=maildir, delay=[\d.]+, "
                      r"delays=[\d.]+/[\d.]+/0/[\d.]+, dsn=2\.0\.0, status=sent \(/"
                      % re.escape(queue_id))
    h.wait_until(lambda: line.search(instance.log()), "the delivery's log line")


def check_several_recipients(instance):
    recipients = ["carol@example.test", "dave@example.test", "Erin@EXAMPLE.test"]
    queue_id = h.send(instance.port, "ann@example.test", recipients, MESSAGE,
                      mail_options=["BODY=8BITMIME"])
    for rcpt in recipients:
        found = instance.wait_for_mail(rcpt, 1)
        assert len(found) == 1, "%s got %d files" % (rcpt, len(found))
        h.check_delivered(found[0], queue_id, MESSAGE)


def check_remote_recipient_deferred_when_dns_fails(instance):
    # The harness's dns_nameservers is a loopback port where nothing answers.
    data = b"Subject: for elsewhere\r\n\r\nno nameserver: stays queued\r\n"
    queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"], data)
    # delays=: the lookup is waiting (b); nothing was set up (c) or sent (d).
    expected = re.compile(r"%s: to=<zoe@elsewhere\.test>, relay=none, delay=[\d.]+, "
                          r"delays=[\d.]+/[\d.]+/0/0, dsn=4\.4\.3, status=deferred \("
                          % re.escape(queue_id))
    h.wait_until(lambda: expected.search(instance.log()), "the MX lookup's failure defers it")
    listing = instance.queue_list()
    assert queue_id in listing, "queue id %s not in `postern queue list`:\n%s" % (queue_id, listing)


def check_untrusted_client_cannot_relay():
    # trusted_networks is global, so an untrusted loopback client needs its own instance.
    with h.Instance(settings={"trusted_networks": "192.0.2.0/24"}, name="untrusted") as untrusted:
        untrusted.start()
        client = h.connect(untrusted.port)
        try:
            code, text = client.mail("ann@example.test")
            assert code == 250, "MAIL answered %d %r" % (code, text)
            code, text = client.rcpt("zoe@elsewhere.test")
            assert (code, text) == (550, b"5.7.1 Unable to relay"), \
                "relay recipient answered %d %r" % (code, text)
            code, text = client.rcpt("bob@example.test")
            assert (code, text) == (250, b"2.1.5 Recipient OK"), \
                "local recipient answered %d %r" % (code, text)
            code, text = client.data(b"Subject: local only\r\n\r\nhello\r\n")
            assert code == 250, "DATA answered %d %r" % (code, text)
            queue_id = h.queue_id_from(text)
        finally:
            client.quit()
        [delivered] = untrusted.wait_for_mail("bob@example.test", 1)
        h.check_delivered(delivered, queue_id, b"Subject: local only\r\n\r\nhello\r\n")
        untrusted.stop()


def delivery_threads(pid):
    names = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, task)) as f:
            names.append(f.read().strip())
    return names.count("delivery")


def check_parallel_delivery():
    with h.Instance(settings={"local_delivery_concurrency": "3"}, name="parallel") as instance:
        instance.start()
        [qmgr] = instance.processes_named("qmgr")
        assert delivery_threads(qmgr) == 3, "qmgr has %d delivery threads, not 3" % (
            delivery_threads(qmgr))
        bodies = {}

        def send_five(client_number):
            for i in range(5):
                rcpt = "user%d@example.test" % (client_number * 5 + i)
                body = b"Subject: parallel %s\r\n\r\nbody of %s\r\n" % (
                    rcpt.encode(), rcpt.encode())
                h.send(instance.port, "ann@example.test", [rcpt], body)
                bodies[rcpt] = body  # only once the server acknowledged it

        threads = [threading.Thread(target=send_five, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(bodies) == 40, "only %d messages were sent" % len(bodies)
        for rcpt, body in bodies.items():
            [delivered] = instance.wait_for_mail(rcpt, 1)
            received, rest = h.split_received(delivered)
            assert received and rest == body, "%s got %r" % (rcpt, delivered)
        instance.stop()


def test():
    with h.Instance() as instance:
        instance.start()
        check_single_recipient(instance)
        check_several_recipients(instance)
        check_remote_recipient_deferred_when_dns_fails(instance)
        instance.stop()
    check_untrusted_client_cannot_relay()
    check_parallel_delivery()


if __name__ == "__main__":
    h.run_tests(globals())
