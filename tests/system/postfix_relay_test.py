#!/usr/bin/env python3
"""tests/system/postfix_relay_test.py — Postfix from Debian relays through postern's submission listener.

RFC 4954 5 (issue 8, point 6): a client that authenticated may add AUTH= to
MAIL FROM, as Postfix does with smtp_send_dummy_mail_auth = yes (AUTH=<>),
and postern must take it. Here the upstream client is Debian's own Postfix,
run as a private instance of its own from a temporary directory
(postfix_instance.py); the machine's instance in /etc/postfix is never
used, changed or started. That Postfix listens on a loopback port and
relays everything to postern's "submission" listener (relay role,
require_tls, require_auth) with STARTTLS (smtp_tls_security_level =
encrypt), AUTH LOGIN, then again AUTH NTLM (Cyrus SASL's client, package
libsasl2-modules), and smtp_send_dummy_mail_auth = yes.

Python's smtplib submits each message into Postfix. Checked:
  - the message arrives in postern's Maildir byte for byte: postern's
    Received: field (ESMTPSA, TLS, the queue id), then Postfix's own, then
    exactly what was sent;
  - postern saw the parameter: qmgr logs the message with auth=<> (no
    AUTH= would log none), and a message for a remote recipient, which stays
    queued (its MX lookup fails), shows `auth_mailbox: <>` and `auth_user: alice` in
    `postern queue show`;
  - Postfix logs the delivery as sent with postern's queue id.
Postfix is stopped with `postfix -c DIR stop`; every process of the private
instance must then be gone, else it is killed by PID and the test fails.
Skips (77) when Postfix is not installed or the test
does not run as root (Postfix's master needs root).
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from postfix_instance import PrivatePostfix, require_postfix  # noqa: E402

PASSWORD = "correct horse battery"
POSTFIX_HOSTNAME = "upstream.example.org"
SENDER = "alice@example.test"


def message(subject):
    """CRLF lines, a dot-stuffed line, the headers Postfix would otherwise add."""
    return (b"From: Alice <alice@example.test>\r\n"
            b"To: Bob <bob@example.test>\r\n"
            b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            b"Message-ID: <" + subject.encode() + b"@upstream.example.org>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"\r\n"
            b"Relayed by Postfix.\r\n"
            b".a line that starts with a dot\r\n"
            b"last line\r\n")


def relaying_postfix(relay_port, mechanism):
    """A private Postfix (postfix_instance.py) that relays every message to
    [127.0.0.1]:relay_port with STARTTLS and AUTH (the mechanism named), user
    alice."""
    postfix = PrivatePostfix(hostname=POSTFIX_HOSTNAME)
    passwords = os.path.join(postfix.config_dir, "sasl_passwd")
    with open(passwords, "w") as f:
        f.write("[127.0.0.1]:%d alice:%s\n" % (relay_port, PASSWORD))
    os.chmod(passwords, 0o600)
    postfix.configure({
        "mynetworks": "127.0.0.0/8",
        "smtpd_relay_restrictions": "permit_mynetworks, reject",
        "relayhost": "[127.0.0.1]:%d" % relay_port,
        "smtp_tls_security_level": "encrypt",
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_password_maps": "texthash:" + passwords,
        "smtp_sasl_security_options": "noanonymous",
        "smtp_sasl_mechanism_filter": mechanism.lower(),
        "smtp_send_dummy_mail_auth": "yes",
    })
    return postfix


def postern_queue_id(instance, after, pattern):
    """The queue id of the first qmgr log line past offset `after` matching
    pattern (the id is its first group), waited for."""
    deadline = time.monotonic() + h.DELIVERY_TIMEOUT
    while True:
        match = re.search(pattern, instance.log()[after:])
        if match or time.monotonic() >= deadline:
            assert match, "postern never logged %r" % pattern
            return match.group(1)
        time.sleep(0.1)


def check_relay(instance, mechanism, delivered_before):
    port = instance.ports["submission"]
    subject = "relayed with AUTH %s" % mechanism
    sent = message(subject.replace(" ", "-"))
    log_start = len(instance.log())
    with relaying_postfix(port, mechanism) as postfix:
        postfix.start()
        postfix.submit(SENDER, "bob@example.test", sent)
        found = instance.wait_for_mail("bob@example.test", delivered_before + 1)
        # qmgr logs AUTH=<> only when the MAIL FROM carried it.
        queue_id = postern_queue_id(
            instance, log_start,
            r"(\S+): from=<alice@example\.test>, size=\d+, nrcpt=1, auth=<> \(queue active\)")
        postfix.wait_for_log(r"to=<bob@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*"
                             r"status=sent \(250 2\.6\.0 %s Queued mail for delivery\)" %
                             (port, re.escape(queue_id)))
        log = instance.log()[log_start:]
        client = "%s: client=unknown[127.0.0.1], sasl_method=%s, sasl_username=alice" % (
            queue_id, mechanism)
        assert client in log, "postern did not log AUTH %s:\n%s" % (mechanism, log)

        # The message: postern's Received:, Postfix's, then the bytes sent.
        ours = [m for m in found if sent in m]
        assert len(ours) == 1, "the message is not in the Maildir once: %r" % found
        received, rest = h.split_received(ours[0])
        h.check_received(received, queue_id)
        line = h.unfold(received).decode()
        assert " with ESMTPSA id " in line, "not ESMTPSA: %r" % line
        assert re.search(r"\(using TLS1\.[23] with cipher \S+\)", line), "no TLS: %r" % line
        upstream, rest = h.split_received(rest)
        assert b"by %s (Postfix)" % POSTFIX_HOSTNAME.encode() in h.unfold(upstream), upstream
        assert rest == sent, "delivered %r, sent %r" % (rest, sent)

        # A remote recipient stays queued (no nameserver answers its MX
        # lookup): its envelope keeps what AUTH= said. Whether `queue show`
        # comes before or after the first attempt is deferred (the loopback
        # nameserver's port refuses at once) is a race: either state will do.
        log_start = len(instance.log())
        postfix.submit(SENDER, "carol@elsewhere.example", message("remote-" + mechanism))
        remote_id = postern_queue_id(instance, log_start,
                                     r"(\S+): from=<alice@example\.test>, size=\d+, nrcpt=\d+, auth=<> ")
        shown = instance.ctl("queue", "show", remote_id)
        assert shown.returncode == 0, shown.stderr
        for expected in ("auth_mailbox: <>\n", "auth_user: alice\n"):
            assert expected in shown.stdout, "queue show lacks %r:\n%s" % (expected, shown.stdout)
        assert re.search(r"^recipient: <carol@elsewhere\.example> (pending|deferred)$",
                         shown.stdout, re.M), "queue show lacks carol:\n%s" % shown.stdout
        result = instance.ctl("queue", "delete", remote_id)
        assert result.returncode == 0, result.stderr


def test():
    require_postfix()
    with h.Instance(listeners={
            "submission": {"role": "relay", "require_tls": "yes", "require_auth": "yes",
                           "message_rate_limit": 0},
    }) as instance:
        instance.use_certificate()
        instance.add_user("alice", PASSWORD)
        instance.start()
        check_relay(instance, "LOGIN", 0)
        check_relay(instance, "NTLM", 1)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
