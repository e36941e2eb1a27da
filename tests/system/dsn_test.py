#!/usr/bin/env python3
"""tests/system/dsn_test.py — a recipient that cannot be delivered reaches its sender as a DSN.

Through the real daemons; the DSNs are read from the sender's Maildir and
parsed with Python's email package as RFC 3464 reports:
- a local recipient whose Maildir cannot be created (a file stands where
  its directory must be) fails at once: the sender gets one
  multipart/report; report-type=delivery-status whose message/delivery-status
  part says Action: failed, Status: 5.2.0 and why, and which returns the
  message whole (RET not given, a failure); the other recipient of the same
  message is delivered; the original leaves the queue;
- NOTIFY=NEVER: no DSN; a sender of <>: no DSN;
- NOTIFY=SUCCESS: a success report (Action: delivered, Status 2.0.0, the
  ORCPT decoded from xtext as Original-Recipient, the headers returned);
- with delay_warning_time = 2s and maximal_queue_lifetime = 5s, a recipient
  that cannot be delivered (no relay for elsewhere.test yet) is reported
  once as delayed (headers returned, Will-Retry-Until), then failed with
  Status 4.4.7, and the message leaves the queue.
"""

import email
import email.policy
import os
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"To: Bob <bob@example.test>\r\n"
           b"Subject: for a mailbox that cannot be made\r\n"
           b"Message-ID: <dsn-test-1@example.test>\r\n"
           b"\r\n"
           b"Body line one.\r\n")


def parse_report(raw):
    """(the report's Message, its per-message fields, its per-recipient field blocks,
    the returned part) of a DSN in Maildir bytes."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert message.get_content_type() == "multipart/report", message.get_content_type()
    assert message.get_param("report-type") == "delivery-status", message["Content-Type"]
    parts = message.get_payload()
    assert [p.get_content_type() for p in parts[:2]] == ["text/plain", "message/delivery-status"], \
        [p.get_content_type() for p in parts]
    # email parses message/delivery-status into a list of header blocks.
    blocks = parts[1].get_payload()
    returned = parts[2] if len(parts) > 2 else None
    return message, blocks[0], blocks[1:], returned


def check_unmakeable_mailbox(instance):
    instance.block_mailbox("bob")
    queue_id = h.send(instance.port, "ann@example.test", ["bob@example.test", "carl@example.test"],
                      MESSAGE)
    instance.wait_for_mail("carl@example.test", 1)
    [raw] = instance.wait_for_mail("ann@example.test", 1)
    message, per_message, recipients, returned = parse_report(raw)
    assert message["From"].startswith("MAILER-DAEMON@mail.example.test"), message["From"]
    assert message["To"] == "<ann@example.test>" or "ann@example.test" in message["To"], \
        message["To"]
    assert message["Subject"] == "Undelivered Mail Returned to Sender", message["Subject"]
    assert per_message["Reporting-MTA"] == "dns; mail.example.test", per_message["Reporting-MTA"]
    assert len(recipients) == 1, "the report covers %d recipients, not bob alone" % len(recipients)
    [bob] = recipients
    assert bob["Final-Recipient"] == "rfc822;bob@example.test", bob["Final-Recipient"]
    assert bob["Action"] == "failed", bob["Action"]
    assert bob["Status"] == "5.2.0", bob["Status"]
    diagnostic = " ".join(bob["Diagnostic-Code"].split())
    assert diagnostic.startswith("x-postern; create directory ") and \
        diagnostic.endswith("/example.test/bob: Not a directory"), diagnostic
    assert returned is not None and returned.get_content_type() == "message/rfc822", returned
    returned_text = returned.as_bytes()
    assert b"Message-ID: <dsn-test-1@example.test>" in returned_text and \
        b"Body line one." in returned_text, returned_text
    h.wait_until(lambda: queue_id not in instance.queue_list(), "the bounced message leaves the queue")
    log = instance.log()
    assert "%s: sender non-delivery notification: " % queue_id in log, log[-2000:]
    assert "to=<bob@example.test>, relay=maildir" in log and "dsn=5.2.0, status=bounced" in log, \
        log[-2000:]


def check_no_dsn_when_not_wanted(instance):
    before = len(instance.delivered("ann@example.test"))
    never = h.send(instance.port, "ann@example.test", ["bob@example.test"], MESSAGE,
                   rcpt_options=["NOTIFY=NEVER"])
    from_null = h.send(instance.port, "", ["bob@example.test"], MESSAGE)
    for queue_id in (never, from_null):
        h.wait_until(lambda: queue_id not in instance.queue_list(), "%s leaves the queue" % queue_id)
    time.sleep(1)  # a DSN, if one were written, would be delivered by now
    assert len(instance.delivered("ann@example.test")) == before, \
        "a DSN was sent for NOTIFY=NEVER or to <>"


def check_success_notice(instance):
    before = len(instance.delivered("ann@example.test"))
    h.send(instance.port, "ann@example.test", ["dora@example.test"], MESSAGE,
           rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;Dora+2B@example.test"])
    instance.wait_for_mail("dora@example.test", 1)
    raws = instance.wait_for_mail("ann@example.test", before + 1)
    [raw] = [raw for raw in raws if b"Final-Recipient: rfc822;dora@example.test" in raw]
    message, _, [dora], returned = parse_report(raw)
    assert message["Subject"] == "Successful Mail Delivery Report", message["Subject"]
    assert (dora["Action"], dora["Status"]) == ("delivered", "2.0.0"), dict(dora)
    assert dora["Original-Recipient"] == "rfc822;Dora+@example.test", dict(dora)
    assert returned.get_content_type() == "text/rfc822-headers", returned.get_content_type()


def check_delay_then_expiry():
    settings = {"delay_warning_time": "2s", "maximal_queue_lifetime": "5s"}
    with h.Instance(settings=settings, name="expiry") as instance:
        instance.start()
        sent = time.time()
        queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"], MESSAGE)
        [delayed_raw] = instance.wait_for_mail("ann@example.test", 1)
        # The arrival is kept in whole seconds (rounded down), so the warning
        # may come up to a second before 2 s after the message.
        assert time.time() - sent >= 1.0, "the delay DSN came before delay_warning_time"
        message, _, [zoe], returned = parse_report(delayed_raw)
        assert message["Subject"] == "Delayed Mail (still being retried)", message["Subject"]
        assert (zoe["Action"], zoe["Final-Recipient"]) == ("delayed", "rfc822;zoe@elsewhere.test"), \
            dict(zoe)
        assert zoe["Will-Retry-Until"], dict(zoe)
        assert returned.get_content_type() == "text/rfc822-headers", returned.get_content_type()
        assert queue_id in instance.queue_list()

        raws = instance.wait_for_mail("ann@example.test", 2)
        failed = [parse_report(raw) for raw in raws if b"Action: failed" in raw]
        assert len(failed) == 1, "expected one failure DSN among %d" % len(raws)
        _, _, [zoe], _ = failed[0]
        assert (zoe["Action"], zoe["Status"]) == ("failed", "4.4.7"), dict(zoe)
        h.wait_until(lambda: queue_id not in instance.queue_list(), "the expired message leaves")
        time.sleep(3)  # no second warning, no second failure
        assert len(instance.delivered("ann@example.test")) == 2
        instance.stop()


def test():
    with h.Instance() as instance:
        instance.start()
        check_unmakeable_mailbox(instance)
        check_no_dsn_when_not_wanted(instance)
        check_success_notice(instance)
        instance.stop()
    check_delay_then_expiry()


if __name__ == "__main__":
    h.run_tests(globals())
