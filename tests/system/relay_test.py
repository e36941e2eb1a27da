#!/usr/bin/env python3
"""tests/system/relay_test.py — qmgr relays mail for other domains to relayhost.

The next hop is a scripted SMTP server on loopback (next_hop.py); messages
are sent to postern with smtplib from a trusted client:
- a message for two remote recipients arrives at the next hop byte for
  byte after postern's Received: field, in one transaction with both
  recipients and MAIL FROM the original sender; the log has Postfix's
  `relay=127.0.0.1[127.0.0.1]:PORT, ... dsn=2.0.0, status=sent (250 ...)`
  line; the queue is empty afterwards;
- the next hop refuses one recipient of two with 550 5.1.1: the other is
  relayed, the sender gets a failure DSN (Python's email package parses it)
  with Status 5.1.1, Remote-MTA dns; 127.0.0.1 and
  Diagnostic-Code smtp; 550 5.1.1 ...;
- a 451 4.3.0 at the first attempt: deferred, tried again after
  minimal_backoff_time (1s here) and relayed once;
- relayhost lists a port where nothing listens first: postern fails over
  to the next entry;
- the next hop closes the connection in the middle of the data: deferred
  (lost connection), relayed at the retry exactly once;
- a 6 MB message (dot-stuffed lines) goes to a next hop that reads nothing
  for a second after its 354, through a 16 KB receive buffer, so the
  relay's writes meet a full socket: it arrives byte for byte, in clear and
  over STARTTLS;
- postern relays to a second postern with relay_tls = encrypt: STARTTLS
  is used (the sending log names the TLS version and cipher, the
  receiving side's Received: field says ESMTPS), and the message reaches
  the second postern's Maildir byte for byte under both Received: fields;
  with relay_tls = verify and no trust in the second postern's
  self-signed certificate, the message is deferred, never sent in clear;
- a next hop with its own TLS (Python's ssl, OpenSSL) gets two messages
  one after the other, on two connections: the first makes a full
  handshake, the second resumes the session of the first with the ticket
  the next hop gave (OpenSSL says so), and postern's log says ", resumed";
- postern relays to a second postern's submission listener (require_tls,
  require_auth) with relay_auth_user and a 0600 relay_password_file:
  STARTTLS, then AUTH NTLM (the first of NTLM, LOGIN, PLAIN that the
  receiver offers); the receiver's Received: field says ESMTPSA, its log
  names the login, and the sender's log holds no password;
- qmgr gets SIGKILL (by PID) while the next hop holds back its 250 to the
  data: master starts a new qmgr, which relays the message again (at
  least once: the next hop took it the first time, and SMTP gives no way
  to know), complete, and the queue ends empty.
"""

import email
import email.policy
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from next_hop import NextHop, unused_port  # noqa: E402

MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"To: Zoe <zoe@elsewhere.test>\r\n"
           b"Subject: relayed\r\n"
           b"\r\n"
           b"First line.\r\n"
           b".a line that starts with a dot\r\n"
           b"last line\r\n")


def settings_for(relayhost):
    return {"relayhost": relayhost, "minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}


def check_relayed(hop, instance):
    queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test", "yan@else.test"],
                      MESSAGE)
    h.wait_until(lambda: len(hop.transactions) >= 1, "the next hop gets the message", timeout=15)
    [transaction] = hop.transactions
    assert transaction["sender"] == "ann@example.test", transaction["mail_line"]
    assert transaction["recipients"] == ["zoe@elsewhere.test", "yan@else.test"], transaction
    received, rest = h.split_received(transaction["content"])
    assert received, "no Received: field first: %r" % transaction["content"][:300]
    h.check_received(received, queue_id)
    assert rest == MESSAGE, "relayed bytes differ:\nsent %r\ngot  %r" % (MESSAGE, rest)
    h.wait_until(lambda: queue_id not in instance.queue_list(), "the relayed message leaves")
    log = instance.log()
    expected = re.compile(r"%s: to=<zoe@elsewhere\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, "
                          r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                          r"status=sent \(250 2\.0\.0 Ok: queued as N1\)"
                          % (re.escape(queue_id), hop.port))
    assert expected.search(log), "no %r in the log:\n%s" % (expected.pattern, log[-3000:])


def check_one_refused(instance):
    before = len(instance.delivered("ann@example.test"))
    queue_id = h.send(instance.port, "ann@example.test", ["bad@elsewhere.test", "ok@elsewhere.test"],
                      MESSAGE)
    [raw] = instance.wait_for_mail("ann@example.test", before + 1)[before:]
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert report.get_content_type() == "multipart/report", report.get_content_type()
    blocks = report.get_payload()[1].get_payload()
    [bad] = blocks[1:]
    assert (bad["Final-Recipient"], bad["Action"], bad["Status"]) == \
        ("rfc822;bad@elsewhere.test", "failed", "5.1.1"), dict(bad)
    assert bad["Remote-MTA"] == "dns; 127.0.0.1", dict(bad)
    assert " ".join(bad["Diagnostic-Code"].split()) == "smtp; 550 5.1.1 no such user", dict(bad)
    h.wait_until(lambda: queue_id not in instance.queue_list(), "the message leaves the queue")
    return queue_id


def check_deferred_then_relayed(hop, instance):
    queue_id = h.send(instance.port, "ann@example.test", ["later@elsewhere.test"], MESSAGE)
    h.wait_until(lambda: hop.delivered_to("later@elsewhere.test"), "the retry relays it",
                 timeout=20)
    assert hop.rcpt_attempts["later@elsewhere.test"] == 2, hop.rcpt_attempts
    assert len(hop.delivered_to("later@elsewhere.test")) == 1
    h.wait_until(lambda: queue_id not in instance.queue_list(), "the message leaves the queue")
    log = instance.log()
    assert "to=<later@elsewhere.test>" in log and \
        "dsn=4.3.0, status=deferred (451 4.3.0 try again later)" in log, log[-3000:]


def scripted(address, attempt):
    if address == "bad@elsewhere.test":
        return "550 5.1.1 no such user"
    if address == "later@elsewhere.test" and attempt == 1:
        return "451 4.3.0 try again later"
    return None


def test():
    with NextHop(rcpt_reply=scripted) as hop:
        with h.Instance(settings=settings_for("[127.0.0.1]:%d" % hop.port)) as instance:
            instance.start()
            check_relayed(hop, instance)
            check_one_refused(instance)
            check_deferred_then_relayed(hop, instance)
            instance.stop()
    with NextHop() as hop:
        relayhost = "[127.0.0.1]:%d, [127.0.0.1]:%d" % (unused_port(), hop.port)
        with h.Instance(settings=settings_for(relayhost), name="failover") as instance:
            instance.start()
            h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"], MESSAGE)
            h.wait_until(lambda: hop.delivered_to("zoe@elsewhere.test"), "fail-over relays it",
                         timeout=15)
            assert "Connection refused" in instance.log(), instance.log()[-2000:]
            instance.stop()
    check_drop_in_data()
    check_large_message_to_a_next_hop_that_stops_reading()
    check_postern_to_postern_over_starttls()
    check_tls_session_resumed_at_the_next_hop()
    check_postern_to_postern_with_auth()
    check_qmgr_killed_while_relaying()


def check_drop_in_data():
    with NextHop(data_action=lambda number: "drop" if number == 1 else None) as hop:
        with h.Instance(settings=settings_for("[127.0.0.1]:%d" % hop.port), name="drop") as instance:
            instance.start()
            queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"], MESSAGE)
            h.wait_until(lambda: queue_id not in instance.queue_list(), "the retry relays it",
                         timeout=20)
            assert hop.data_commands == 2, "DATA was sent %d times" % hop.data_commands
            [content] = hop.delivered_to("zoe@elsewhere.test")
            assert h.split_received(content)[1] == MESSAGE, content
            assert "status=deferred" in instance.log(), instance.log()[-2000:]
            instance.stop()


def large_message(megabytes):
    """Header, then lines of 78 bytes, every seventh starting with a dot."""
    lines = [b"From: Ann <ann@example.test>\r\nSubject: large\r\n\r\n"]
    for number in range(megabytes * 1024 * 1024 // 80):
        lead = b"." if number % 7 == 0 else b"L"
        lines.append(lead + b"%07d " % number + b"x" * 68 + b"\r\n")
    return b"".join(lines)


def check_large_message_to_a_next_hop_that_stops_reading():
    """6 MB to a next hop that reads nothing for a second after its 354, through
    a small receive buffer: the relay's writes meet a full socket (EAGAIN) and
    must go on when it drains, in clear and over STARTTLS, byte for byte."""
    content = large_message(6)
    for tls in (False, True):
        with h.Instance(settings={}, name="large-tls" if tls else "large") as instance:
            certificate = instance.make_certificate("next-hop") if tls else None
            with NextHop(content_pause=1.0, tls=certificate, offer_starttls=tls) as hop:
                instance.settings.update(settings_for("[127.0.0.1]:%d" % hop.port),
                                         relay_tls="encrypt" if tls else "none")
                instance.write_config()
                instance.start()
                queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"],
                                  content)
                h.wait_until(lambda: queue_id not in instance.queue_list(), "it is relayed",
                             timeout=60)
                [relayed] = hop.delivered_to("zoe@elsewhere.test")
                ours, rest = h.split_received(relayed)
                h.check_received(ours, queue_id)
                assert rest == content, "relayed %d bytes, sent %d; first difference at %d" % (
                    len(rest), len(content),
                    next((i for i, (a, b) in enumerate(zip(rest, content)) if a != b),
                         min(len(rest), len(content))))
                assert "status=sent" in instance.log(), instance.log()[-2000:]
                instance.stop()


def check_postern_to_postern_over_starttls():
    with h.Instance(settings={"local_domains": "far.test"}, name="receiver") as receiver:
        receiver.use_certificate()
        receiver.start()
        relayhost = "[127.0.0.1]:%d" % receiver.port
        settings = dict(settings_for(relayhost), relay_tls="encrypt")
        with h.Instance(settings=settings, name="sender") as sender:
            sender.start()
            queue_id = h.send(sender.port, "ann@example.test", ["bob@far.test"], MESSAGE)
            [delivered] = receiver.wait_for_mail("bob@far.test", 1, timeout=20)
            theirs, rest = h.split_received(delivered)
            assert b"with ESMTPS" in theirs, theirs
            ours, rest = h.split_received(rest)
            h.check_received(ours, queue_id)
            assert rest == MESSAGE, "relayed bytes differ:\nsent %r\ngot  %r" % (MESSAGE, rest)
            log = sender.log()
            assert "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:%d: TLS1.3" % \
                receiver.port in log, log[-2000:]
            sender.stop()
        verify = dict(settings_for(relayhost), relay_tls="verify")
        with h.Instance(settings=verify, name="verifier") as sender:
            sender.start()
            queue_id = h.send(sender.port, "ann@example.test", ["carl@far.test"], MESSAGE)
            h.wait_until(lambda: "status=deferred" in sender.log(), "the untrusted peer defers it",
                         timeout=20)
            assert queue_id in sender.queue_list()
            assert not receiver.delivered("carl@far.test"), "sent to an unverified peer"
            sender.stop()
        receiver.stop()


def check_tls_session_resumed_at_the_next_hop():
    with h.Instance(settings={}, name="resumer") as instance:
        with NextHop(tls=instance.make_certificate("next-hop"), offer_starttls=True) as hop:
            instance.settings.update(settings_for("[127.0.0.1]:%d" % hop.port),
                                     relay_tls="encrypt")
            instance.write_config()
            instance.start()
            for number, recipient in enumerate(["first@elsewhere.test", "second@elsewhere.test"]):
                queue_id = h.send(instance.port, "ann@example.test", [recipient], MESSAGE)
                h.wait_until(lambda: queue_id not in instance.queue_list(), "it is relayed",
                             timeout=20)
                # The connection ends (QUIT) before the next message comes.
                h.wait_until(lambda: hop.commands.count("QUIT") == number + 1, "the QUIT")
                [content] = hop.delivered_to(recipient)
                assert h.split_received(content)[1] == MESSAGE, content
            assert hop.connections == 2, "%d connections" % hop.connections
            assert hop.tls_resumed == [False, True], hop.tls_resumed
            established = [line for line in instance.log().splitlines()
                           if "TLS connection established to 127.0.0.1" in line]
            assert len(established) == 2, established
            assert not established[0].endswith(", resumed"), established
            assert established[1].endswith(", resumed"), established
            instance.stop()


def check_postern_to_postern_with_auth():
    password = "relay secret 42"
    listeners = {"submission": dict(role="relay", require_tls="yes", require_auth="yes",
                                    tarpit_interval=0)}
    with h.Instance(settings={"local_domains": "far.test"}, listeners=listeners,
                    name="authreceiver") as receiver:
        receiver.use_certificate()
        receiver.add_user("relayer", password)
        receiver.start()
        settings = dict(settings_for("[127.0.0.1]:%d" % receiver.port), relay_tls="encrypt",
                        relay_auth_user="relayer")
        with h.Instance(settings=settings, name="authsender") as sender:
            secret = os.path.join(sender.conf_dir, "relay_password")
            with open(secret, "w") as f:
                f.write(password + "\n")
            os.chmod(secret, 0o600)
            sender.settings["relay_password_file"] = secret
            sender.write_config()
            sender.start()
            queue_id = h.send(sender.port, "ann@example.test", ["dan@far.test"], MESSAGE)
            [delivered] = receiver.wait_for_mail("dan@far.test", 1, timeout=20)
            theirs, rest = h.split_received(delivered)
            assert b"with ESMTPSA" in theirs, theirs
            ours, rest = h.split_received(rest)
            h.check_received(ours, queue_id)
            assert rest == MESSAGE, rest
            assert "relayer" in receiver.log() and "NTLM" in receiver.log(), \
                receiver.log()[-2000:]
            assert password not in sender.log() and password not in receiver.log()
            sender.stop()
        receiver.stop()


def check_qmgr_killed_while_relaying():
    with NextHop(data_action=lambda number: 3 if number == 1 else None) as hop:
        with h.Instance(settings=settings_for("[127.0.0.1]:%d" % hop.port), name="kill") as instance:
            instance.start()
            [qmgr] = instance.processes_named("qmgr")
            queue_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"], MESSAGE)
            assert hop.data_ended.wait(15), "the next hop never got the end of the data"
            os.kill(qmgr, signal.SIGKILL)
            h.wait_until(lambda: len(hop.delivered_to("zoe@elsewhere.test")) >= 2,
                         "the new qmgr relays the message again", timeout=30)
            for content in hop.delivered_to("zoe@elsewhere.test"):
                assert h.split_received(content)[1] == MESSAGE, content
            h.wait_until(lambda: queue_id not in instance.queue_list(), "the message leaves",
                         timeout=15)
            instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
