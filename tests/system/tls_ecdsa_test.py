#!/usr/bin/env python3
"""tests/system/tls_ecdsa_test.py — a listener's two certificates, RSA (tls_cert_file)
and ECDSA (tls_eccert_file), against the real daemons.

One postern instance with an RSA and an ECDSA certificate for the same host
name (made by certtool) and two listeners:
  - "both" (tls_wrapper): both pairs. Python's ssl (OpenSSL) with its defaults
    gets the ECDSA certificate over TLS 1.3 and TLS 1.2, byte for byte the
    tls_eccert_file; a TLS 1.2 client that offers only ECDHE-RSA suites gets
    the RSA one; so does gnutls-cli offering only RSA-PSS signatures over
    TLS 1.3 (Python's ssl cannot narrow TLS 1.3 signature algorithms), the
    client that cannot verify ECDSA. A message is accepted over each and
    delivered, its Received field naming the TLS version; a TLS 1.3 session
    resumes from its ticket.
  - "ecdsa" (STARTTLS): the ECDSA pair alone. STARTTLS is offered, the client
    gets the ECDSA certificate and a message goes through; gnutls-cli
    offering only RSA-PSS fails its handshake.
And `postern start` refuses an RSA certificate given as tls_eccert_file with
a message naming the listener and the file.
"""

import os
import re
import select
import smtplib
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

MESSAGE = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@example.test>\r\n"
           b"Subject: which certificate\r\n"
           b"\r\n"
           b"Sent over TLS.\r\n")
# TLS 1.3 signs the handshake with RSA-PSS (RFC 8446 4.2.3): a client that
# lists nothing else can verify an RSA certificate and no ECDSA one.
RSA_ONLY_TLS13 = ("NORMAL:-VERS-ALL:+VERS-TLS1.3:-SIGN-ALL:"
                  "+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384")
ECDHE_RSA_ONLY = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"


def der_of(pem_path):
    """The DER bytes of the first certificate of a PEM file."""
    with open(pem_path) as f:
        text = f.read()
    first = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    assert first, "no certificate in %s" % pem_path
    return ssl.PEM_cert_to_DER_cert(first.group(0))


def context(maximum_version=None, ciphers=None):
    ctx = h.tls_client_context()
    if maximum_version is not None:
        ctx.maximum_version = maximum_version
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


def submit_over_tls(client):
    """MAIL, RCPT, DATA on an smtplib client already under TLS; returns the queue id."""
    code, text = client.ehlo("client.example.test")
    assert code == 250, "EHLO under TLS answered %d %r" % (code, text)
    return h.transaction(client, "alice@example.test", ["bob@example.test"], MESSAGE)


def implicit_tls(instance, ctx):
    """Sends MESSAGE to "both" over implicit TLS; returns (DER of the server's
    certificate, TLS version, queue id)."""
    client = smtplib.SMTP_SSL("127.0.0.1", instance.ports["both"], context=ctx,
                              timeout=h.SOCKET_TIMEOUT)
    try:
        certificate = client.sock.getpeercert(binary_form=True)
        version = client.sock.version()
        queue_id = submit_over_tls(client)
    finally:
        client.quit()
    return certificate, version, queue_id


def assert_delivered(instance, count, queue_id, version):
    """bob holds count messages, and the one with queue_id is MESSAGE, received
    over TLS version (OpenSSL's name, "TLSv1.3", or GnuTLS's, "TLS1.3")."""
    found = instance.wait_for_mail("bob@example.test", count)
    assert len(found) == count, "%d messages for bob, expected %d" % (len(found), count)
    id_clause = re.compile(rb"\bid %s\b" % re.escape(queue_id.encode()))
    mine = [m for m in found if id_clause.search(h.unfold(h.split_received(m)[0]))]
    assert len(mine) == 1, "%d delivered messages have queue id %s" % (len(mine), queue_id)
    h.check_delivered(mine[0], queue_id, MESSAGE)
    line = h.unfold(h.split_received(mine[0])[0]).decode()
    tls = version.replace("v", "")  # OpenSSL's "TLSv1.3" is GnuTLS's "TLS1.3"
    assert "(using %s with cipher " % tls in line, "not over %s: %r" % (tls, line)


def gnutls_cli(instance, port, priority, name, starttls=False):
    """argv of gnutls-cli to 127.0.0.1:port offering priority (with starttls: it
    says EHLO and STARTTLS itself first), saving the server's certificate chain
    to ROOT/name-peer.pem and its own messages to ROOT/name-gnutls-cli.log."""
    argv = ["gnutls-cli", "--port", str(port), "--priority", priority,
            "--no-ca-verification",
            "--save-cert", os.path.join(instance.root, name + "-peer.pem"),
            "--logfile", os.path.join(instance.root, name + "-gnutls-cli.log")]
    if starttls:
        argv += ["--starttls-proto", "smtp"]
    return argv + ["127.0.0.1"]


class GnutlsCli:
    """gnutls-cli as an SMTP client over implicit TLS, a line at a time: the one
    client at hand that narrows TLS 1.3 signature algorithms."""

    def __init__(self, instance, port, priority, name):
        self.peer_file = os.path.join(instance.root, name + "-peer.pem")
        self.log_file = os.path.join(instance.root, name + "-gnutls-cli.log")
        self.process = h.spawn(gnutls_cli(instance, port, priority, name),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        self.buffer = b""

    def line(self):
        deadline = time.monotonic() + h.SOCKET_TIMEOUT
        while b"\r\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "gnutls-cli: no line within %ds; log:\n%s" % (
                h.SOCKET_TIMEOUT, self.log())
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                assert chunk, "gnutls-cli ended; log:\n%s" % self.log()
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()

    def reply(self):
        """The last line of the next (possibly multi-line) reply."""
        while True:
            line = self.line()
            if len(line) < 4 or line[3] != "-":
                return line

    def send(self, data):
        # gnutls-cli passes its input on as is (its --crlf would rewrite only
        # the first LF of each read).
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def command(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def finish(self):
        """Closes its input and returns its exit status."""
        self.process.stdin.close()
        return self.process.wait(timeout=h.SOCKET_TIMEOUT)

    def log(self):
        return h.read_text(self.log_file)


def check_rsa_only_tls13_client(instance, rsa_cert, count):
    cli = GnutlsCli(instance, instance.ports["both"], RSA_ONLY_TLS13, "rsa-only")
    assert cli.reply().startswith("220 "), cli.log()
    assert cli.command("EHLO client.example.test").startswith("250 ")
    assert cli.command("MAIL FROM:<alice@example.test>").startswith("250 ")
    assert cli.command("RCPT TO:<bob@example.test>").startswith("250 ")
    assert cli.command("DATA").startswith("354 ")
    cli.send(MESSAGE)
    reply = cli.command(".")
    match = re.match(r"250 2\.6\.0 (\S+) Queued mail for delivery$", reply)
    assert match, "end of DATA answered %r" % reply
    assert cli.command("QUIT").startswith("221 ")
    cli.finish()
    assert der_of(cli.peer_file) == der_of(rsa_cert), \
        "a TLS 1.3 client that accepts only RSA-PSS did not get the RSA certificate"
    assert "TLS1.3" in cli.log(), cli.log()
    assert_delivered(instance, count, match.group(1), "TLS1.3")


def check_both(instance, rsa_cert, ec_cert):
    sent = 0
    for name, ctx, version, expected in (
            ("default TLS 1.3", context(), "TLSv1.3", ec_cert),
            ("default TLS 1.2", context(maximum_version=ssl.TLSVersion.TLSv1_2), "TLSv1.2",
             ec_cert),
            ("TLS 1.2 ECDHE-RSA only",
             context(maximum_version=ssl.TLSVersion.TLSv1_2, ciphers=ECDHE_RSA_ONLY), "TLSv1.2",
             rsa_cert)):
        certificate, got_version, queue_id = implicit_tls(instance, ctx)
        assert got_version == version, "%s: %s" % (name, got_version)
        assert certificate == der_of(expected), "%s: got the other certificate" % name
        sent += 1
        assert_delivered(instance, sent, queue_id, version)
    check_rsa_only_tls13_client(instance, rsa_cert, sent + 1)


def check_resumption(instance):
    """A TLS 1.3 session on "both" resumes from its ticket (OpenSSL resumes only
    through the context that made it)."""
    ctx = context()
    sessions = []
    for attempt in range(2):
        raw = h.RawClient(instance.ports["both"])
        tls = ctx.wrap_socket(raw.sock, session=sessions[-1] if sessions else None)
        greeting = tls.recv(512).decode()  # also reads the ticket sent after the handshake
        assert greeting.startswith("220 "), greeting
        assert tls.session_reused == (attempt == 1), "attempt %d: reused %s" % (
            attempt, tls.session_reused)
        sessions.append(tls.session)
        tls.close()


def check_ecdsa_alone(instance, ec_cert, count):
    client = h.connect(instance.ports["ecdsa"])
    try:
        assert client.has_extn("starttls"), client.esmtp_features
        code, text = client.starttls(context=context())
        assert code == 220, "STARTTLS answered %d %r" % (code, text)
        assert client.sock.getpeercert(binary_form=True) == der_of(ec_cert)
        version = client.sock.version()
        queue_id = submit_over_tls(client)
    finally:
        client.quit()
    assert_delivered(instance, count, queue_id, version)

    # The listener has nothing for a client that cannot verify ECDSA.
    result = subprocess.run(
        gnutls_cli(instance, instance.ports["ecdsa"], RSA_ONLY_TLS13, "ecdsa-rsa-only",
                   starttls=True),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=h.CLI_TIMEOUT)
    log = h.read_text(os.path.join(instance.root, "ecdsa-rsa-only-gnutls-cli.log"))
    assert result.returncode != 0, log
    # RFC 8446 6.2: handshake_failure (40), the server having no certificate
    # the client could verify.
    assert "Received alert [40]: Handshake failed" in log, log
    h.wait_until(lambda: "TLS handshake failed" in instance.log(), "smtpd to log the failure")


def test():
    with h.Instance(listeners={"both": {"tls_wrapper": "yes"}, "ecdsa": {}},
                    name="tls-ecdsa") as instance:
        rsa_cert, rsa_key = instance.make_certificate("tls-rsa", key_type="rsa")
        ec_cert, ec_key = instance.make_certificate("tls-ec", key_type="ecdsa")
        instance.listeners["both"].update(tls_cert_file=rsa_cert, tls_key_file=rsa_key,
                                          tls_eccert_file=ec_cert, tls_eckey_file=ec_key)
        instance.listeners["ecdsa"].update(tls_eccert_file=ec_cert, tls_eckey_file=ec_key)
        instance.write_config()
        instance.start()
        check_both(instance, rsa_cert, ec_cert)
        check_resumption(instance)
        check_ecdsa_alone(instance, ec_cert, 5)
        instance.stop()


def test_rsa_certificate_as_eccert_is_refused():
    with h.Instance(listeners={"smtp": {}}, name="tls-ecdsa-refused") as instance:
        rsa_cert, rsa_key = instance.make_certificate("tls-rsa", key_type="rsa")
        instance.listeners["smtp"].update(tls_eccert_file=rsa_cert, tls_eckey_file=rsa_key)
        instance.write_config()
        result = instance.start(expect_ok=False)
        expected = ("listener smtp: TLS EC certificate %s: its key is RSA, not ECDSA or EdDSA"
                    % rsa_cert)
        assert result.returncode != 0 and expected in result.stderr, result.stderr


if __name__ == "__main__":
    h.run_tests(globals())
