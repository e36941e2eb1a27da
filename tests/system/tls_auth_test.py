#!/usr/bin/env python3
"""tests/system/tls_auth_test.py — STARTTLS, implicit TLS and AUTH against the real daemons.

One postern instance with a self-signed certificate (made by certtool) and
the user alice (added with `postern user add`), and three listeners:
  - "smtp" (gateway): STARTTLS offered; AUTH NTLM alone before TLS,
    NTLM LOGIN after; max_logon_failures = 2;
  - "submission" (relay, RFC 6409): require_tls, require_auth,
    sender_login_check;
  - "smtps" (tls_wrapper): TLS from the first byte (RFC 8314);
  - "strict": auth_require_tls = all, no AUTH mechanism before STARTTLS.
The clients are Python's smtplib and ssl modules (OpenSSL), independent of
postern's GnuTLS. Each accepted message is checked byte for byte in the
Maildir, with the Received: field naming TLS and ESMTPSA. Also proved here:
cleartext pipelined behind STARTTLS is never executed (CVE-2011-0411
class); killing authd by PID in the middle of an AUTH gives 454 4.7.0 and
master starts a new authd; failed logons end the session with 421 4.7.0;
the log names mechanism and user but holds no password; an NTLM user name
of 3,000 characters is an ordinary failure (535) that counts.
"""

import base64
import os
import re
import smtplib
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

PASSWORD = "correct horse battery"
MESSAGE = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@example.test>\r\n"
           b"Subject: over TLS\r\n"
           b"\r\n"
           b"A line with 8-bit text: \xc3\xa9t\xc3\xa9\r\n"
           b".a line that starts with a dot\r\n")


def b64(text):
    return base64.b64encode(text.encode()).decode()


def assert_delivered(instance, queue_id, count, protocol):
    found = instance.wait_for_mail("bob@example.test", count)
    received, rest = h.split_received(found[-1])
    assert rest == MESSAGE, "delivered %r, sent %r" % (rest, MESSAGE)
    h.check_received(received, queue_id)
    line = h.unfold(received).decode()
    assert re.search(r"\(using TLS1\.[23] with cipher \S+\)", line), "no TLS comment: %r" % line
    assert " with %s id " % protocol in line, "not %s: %r" % (protocol, line)


def check_starttls_then_login(instance):
    port = instance.ports["smtp"]
    client = h.connect(port)
    try:
        assert client.has_extn("starttls"), client.esmtp_features
        assert client.esmtp_features.get("auth", "").split() == ["NTLM"], client.esmtp_features
        code, text = client.starttls(context=h.tls_client_context())
        assert (code, text) == (220, b"2.0.0 SMTP server ready"), (code, text)
        client.ehlo("client.example.test")
        assert not client.has_extn("starttls"), "STARTTLS offered again under TLS"
        assert client.esmtp_features.get("auth", "").split() == ["NTLM", "LOGIN"]
        code, text = client.login("alice", PASSWORD)
        assert (code, text) == (235, b"2.7.0 Authentication successful"), (code, text)
        queue_id = h.transaction(client, "alice@example.test", ["bob@example.test"], MESSAGE)
    finally:
        client.quit()
    assert_delivered(instance, queue_id, 1, "ESMTPSA")


def check_submission_policy(instance):
    port = instance.ports["submission"]
    client = h.connect(port)
    try:
        code, text = client.mail("alice@example.test")
        assert (code, text) == (451, b"5.7.3 Must issue a STARTTLS command first"), (code, text)
        assert "auth" not in client.esmtp_features, "AUTH offered before TLS on require_tls"
        client.starttls(context=h.tls_client_context())
        client.ehlo("client.example.test")
        code, text = client.mail("alice@example.test")
        assert (code, text) == (530, b"5.7.1 Not authenticated"), (code, text)
        client.rset()
        try:
            client.login("alice", "wrong password")
            raise AssertionError("a wrong password was accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert (e.smtp_code, e.smtp_error) == (535, b"5.7.3 Authentication unsuccessful"), e
        try:
            client.login("mallory", PASSWORD)
            raise AssertionError("an unknown user was accepted")
        except smtplib.SMTPAuthenticationError as e:
            # The same answer as a wrong password: no probing for users.
            assert (e.smtp_code, e.smtp_error) == (535, b"5.7.3 Authentication unsuccessful"), e
        client.login("alice", PASSWORD)
        code, text = client.mail("bob@example.test")
        assert (code, text) == (550, b"5.7.1 Client does not have permissions to submit to "
                                     b"this server"), (code, text)
        client.rset()
        # Authenticated: relaying to any domain is allowed.
        code, text = client.mail("alice@example.test")
        assert code == 250, (code, text)
        code, text = client.rcpt("carol@elsewhere.example")
        assert code == 250, "authenticated relay refused: %d %r" % (code, text)
        code, text = client.rcpt("bob@example.test")
        assert code == 250, (code, text)
        code, text = client.data(MESSAGE)
        assert code == 250, (code, text)
        queue_id = h.queue_id_from(text)
    finally:
        client.quit()
    assert_delivered(instance, queue_id, 2, "ESMTPSA")


def check_cleartext_behind_starttls_is_discarded(instance):
    """STARTTLS and RSET in one write: the RSET must never be answered."""
    raw = h.RawClient(instance.ports["smtp"])
    try:
        raw.line()
        raw.send("EHLO client.example.test\r\n")
        raw.reply()
        raw.send("STARTTLS\r\nRSET\r\n")
        assert raw.line() == b"220 2.0.0 SMTP server ready"
        assert raw.buffer == b"", "more after the 220: %r" % raw.buffer
        tls = h.tls_client_context().wrap_socket(raw.sock, server_hostname=h.HOSTNAME)
        tls.sendall(b"EHLO client.example.test\r\n")
        data = b""
        while not data.endswith(b"250 CHUNKING\r\n"):
            chunk = tls.recv(4096)
            assert chunk, "connection closed after %r" % data
            data += chunk
        # Had the RSET been read, its "250 2.0.0 OK" would come first.
        assert data.startswith(b"250-%s Hello 127.0.0.1\r\n" % h.HOSTNAME.encode()), data
        tls.close()
    finally:
        raw.close()


def check_implicit_tls(instance):
    client = smtplib.SMTP_SSL("127.0.0.1", instance.ports["smtps"], local_hostname="client.example.test",
                              timeout=h.SOCKET_TIMEOUT, context=h.tls_client_context())
    try:
        client.ehlo()
        assert not client.has_extn("starttls"), "STARTTLS offered under implicit TLS"
        client.login("alice", PASSWORD)
        queue_id = h.transaction(client, "alice@example.test", ["bob@example.test"], MESSAGE)
    finally:
        client.quit()
    assert_delivered(instance, queue_id, 3, "ESMTPSA")


def check_too_many_logon_failures(instance):
    client = h.connect(instance.ports["smtp"])
    client.starttls(context=h.tls_client_context())
    client.ehlo("client.example.test")
    for _ in range(2):
        code, text = client.docmd("AUTH LOGIN", b64("alice"))
        assert code == 334, (code, text)
        code, text = client.docmd(b64("wrong"))
        assert (code, text) == (535, b"5.7.3 Authentication unsuccessful"), (code, text)
    client.docmd("AUTH LOGIN", b64("alice"))
    code, text = client.docmd(b64("wrong"))
    assert (code, text) == (421, b"4.7.0 Too many errors on this connection, closing "
                                 b"transmission channel"), (code, text)
    try:
        client.noop()
        raise AssertionError("the session went on after 421")
    except smtplib.SMTPServerDisconnected:
        pass


def check_long_ntlm_user_name_is_a_failure(instance):
    """Issue 8 point 10: libsasl2 cannot canonicalise a user name of 3,000
    characters (SASL_BUFOVER); that is the client's doing, so it is answered
    535 and counts toward max_logon_failures (2 on this listener)."""
    client = h.connect(instance.ports["smtp"])
    negotiate = base64.b64encode(h.NTLM_NEGOTIATE).decode()
    authenticate = base64.b64encode(h.ntlm_authenticate("a" * 3000)).decode()
    replies = []
    for _ in range(3):
        code, text = client.docmd("AUTH NTLM", negotiate)
        assert code == 334, (code, text)
        replies.append(client.docmd(authenticate))
    assert replies[:2] == [(535, b"5.7.3 Authentication unsuccessful")] * 2, replies
    assert replies[2] == (421, b"4.7.0 Too many errors on this connection, closing "
                               b"transmission channel"), replies
    client.close()


def check_auth_require_tls_all(instance):
    """Issue 8 point 9: auth_require_tls = all offers and accepts no
    mechanism, NTLM included, before STARTTLS."""
    client = h.connect(instance.ports["strict"])
    try:
        assert "auth" not in client.esmtp_features, client.esmtp_features
        for command in ("AUTH NTLM", "AUTH LOGIN"):
            code, text = client.docmd(command)
            assert (code, text) == (538, b"5.7.11 Encryption required for requested "
                                         b"authentication mechanism"), (command, code, text)
        client.starttls(context=h.tls_client_context())
        client.ehlo("client.example.test")
        assert client.esmtp_features.get("auth", "").split() == ["NTLM", "LOGIN"]
        code, text = client.login("alice", PASSWORD)
        assert (code, text) == (235, b"2.7.0 Authentication successful"), (code, text)
    finally:
        client.quit()


def check_authd_killed_mid_auth(instance):
    client = h.connect(instance.ports["smtp"])
    client.starttls(context=h.tls_client_context())
    client.ehlo("client.example.test")
    code, text = client.docmd("AUTH LOGIN")
    assert (code, text) == (334, b"VXNlcm5hbWU6"), (code, text)
    [authd] = instance.processes_named("authd")
    os.kill(authd, 9)
    h.reap(authd)
    code, text = client.docmd(b64("alice"))
    assert (code, text) == (454, b"4.7.0 Temporary authentication failure"), (code, text)
    # master starts a new authd; the session can log on once it is up.
    deadline = time.monotonic() + 10
    while True:
        code, text = client.docmd("AUTH LOGIN", b64("alice"))
        if code == 334:
            break
        assert code == 454 and time.monotonic() < deadline, (code, text)
        time.sleep(0.5)
    code, text = client.docmd(b64(PASSWORD))
    assert (code, text) == (235, b"2.7.0 Authentication successful"), (code, text)
    new_authd = instance.processes_named("authd")
    assert new_authd and new_authd != [authd], new_authd
    client.quit()


def check_letter_of_the_spec(instance):
    """MS-OXSMTP 3.2.5's EHLO answer to the letter (STARTTLS and AUTH NTLM LOGIN in
    cleartext) on a listener with a certificate and allow_plaintext_auth = yes, and
    AUTH LOGIN accepted there without TLS."""
    client = h.RawClient(instance.ports["letter"])
    try:
        client.reply()
        client.send("EHLO client.example.test\r\n")
        assert client.reply() == [
            "250-%s Hello 127.0.0.1" % h.HOSTNAME, "250-SIZE 10485760", "250-DSN",
            "250-ENHANCEDSTATUSCODES", "250-PIPELINING", "250-STARTTLS",
            "250-AUTH NTLM LOGIN", "250-8BITMIME", "250-BINARYMIME", "250 CHUNKING"]
        assert client.command("AUTH LOGIN %s" % b64("alice")) == "334 UGFzc3dvcmQ6"
        assert client.command(b64(PASSWORD)) == "235 2.7.0 Authentication successful"
    finally:
        client.close()


def check_log_holds_no_secret(instance):
    log = instance.log()
    assert "AUTH LOGIN as alice" in log or re.search(r"LOGIN.*alice", log), "no AUTH log line"
    for secret in (PASSWORD, b64(PASSWORD), "wrong password"):
        assert secret not in log, "the log holds %r" % secret


def test():
    tls = {"tarpit_interval": 0}
    with h.Instance(listeners={
            "smtp": dict(tls, max_logon_failures=2),
            "submission": dict(tls, role="relay", require_tls="yes", require_auth="yes",
                               sender_login_check="yes", message_rate_limit=0),
            "smtps": dict(tls, tls_wrapper="yes"),
            "letter": dict(tls, allow_plaintext_auth="yes"),
            "strict": dict(tls, auth_require_tls="all"),
    }) as instance:
        instance.use_certificate()
        instance.add_user("alice", PASSWORD)
        instance.start()
        check_starttls_then_login(instance)
        check_submission_policy(instance)
        check_cleartext_behind_starttls_is_discarded(instance)
        check_implicit_tls(instance)
        check_too_many_logon_failures(instance)
        check_long_ntlm_user_name_is_a_failure(instance)
        check_auth_require_tls_all(instance)
        check_authd_killed_mid_auth(instance)
        check_letter_of_the_spec(instance)
        check_log_holds_no_secret(instance)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
