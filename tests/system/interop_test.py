#!/usr/bin/env python3
"""tests/system/interop_test.py — real, independent clients against the real daemons.

One postern instance (two smtpd workers, a self-signed certificate made by
certtool, the user alice added with `postern user add`) with two listeners:
"smtp" (STARTTLS) and "smtps" (tls_wrapper, RFC 8314). The clients are the
ones ./install-deps installs, none of them written for postern:
  - curl (OpenSSL): STARTTLS with --ssl-reqd, AUTH NTLM with and without
    --sasl-ir, AUTH LOGIN; a wrong NTLM password is refused;
  - swaks (Perl, IO::Socket::SSL, Authen::NTLM): --tls with AUTH LOGIN and
    NTLM, NTLMv2 (Authen::NTLM's own switch), implicit TLS with --tlsc;
  - Python's smtplib (OpenSSL): starttls(), login(), send_message();
  - gnutls-cli and openssl s_client -starttls smtp: TLS 1.2 and 1.3
    accepted (openssl's one key share, X25519, taken without a
    HelloRetryRequest), TLS 1.0 and 1.1 refused by the server, session resumption
    (openssl across the two workers; gnutls-cli --resume); each carries one
    whole SMTP dialog (EHLO, AUTH, MAIL, RCPT, DATA) over its TLS.
Every accepted message is compared byte for byte with what was sent (after
postern's Received: field), and the Received: field must name the queue id
the client was given, ESMTPSA, and the TLS version the client negotiated.
A missing client fails the test (run ./install-deps): it never skips.
A client process still running when a check fails is killed by its PID.
"""

import base64
import copy
import email.generator
import email.message
import io
import os
import queue
import re
import shutil
import smtplib
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

PASSWORD = "correct horse battery"
SENDER = "alice@example.test"
RECIPIENT = "bob@example.test"
CLIENT_TIMEOUT = 30
EHLO_NAME = "client.example.test"

# CRLF lines, 8-bit text, a line that starts with a dot (each client must
# dot-stuff it, and postern must undo that).
MESSAGE = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@example.test>\r\n"
           b"Subject: interoperability\r\n"
           b"\r\n"
           b"8-bit text: \xc3\xa9t\xc3\xa9\r\n"
           b".a line that starts with a dot\r\n"
           b"last line\r\n")

# The package that ./install-deps installs for each client program.
CLIENTS = {"curl": "curl", "swaks": "swaks", "gnutls-cli": "gnutls-bin", "openssl": "openssl",
           "perl": "perl"}

CONNECT_LINE = re.compile(r"smtpd\[(\d+)\]: connect from unknown\[127\.0\.0\.1\]:(\d+) to listener")
REPLY_LINE = re.compile(r"^[2-5]\d\d[ -]")
REFUSED_LINE = re.compile(r"TLS handshake failed: .*unsupported version")


def require_clients():
    """Fails, naming what is missing and how to get it: CI installs all of them."""
    missing = ["%s (package %s)" % (p, pkg) for p, pkg in CLIENTS.items() if not shutil.which(p)]
    if shutil.which("perl"):
        probe = subprocess.run(["perl", "-MAuthen::NTLM", "-e", "1"], capture_output=True,
                               timeout=CLIENT_TIMEOUT)
        if probe.returncode != 0:
            missing.append("Authen::NTLM (package libauthen-ntlm-perl)")
    assert not missing, "interop clients missing: %s; run ./install-deps as root" % (
        ", ".join(missing))


def run(command, env=None):
    """Runs a client to its end; returns (exit status, stdout + stderr as str)."""
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=CLIENT_TIMEOUT, env=dict(os.environ, **(env or {})))
    return result.returncode, (result.stdout + result.stderr).decode(errors="replace")


# ---- what arrived ----------------------------------------------------------------


def delivered_with_id(instance, queue_id):
    """(Received field, rest) of the message for RECIPIENT whose Received names queue_id."""
    deadline = time.monotonic() + h.DELIVERY_TIMEOUT
    pattern = re.compile(rb"\bid %s\b" % re.escape(queue_id.encode()))
    while True:
        for message in instance.delivered(RECIPIENT):
            received, rest = h.split_received(message)
            if pattern.search(h.unfold(received)):
                return received, rest
        assert time.monotonic() < deadline, "%s not delivered to %s within %ds" % (
            queue_id, RECIPIENT, h.DELIVERY_TIMEOUT)
        time.sleep(0.05)


def assert_delivered(instance, queue_id, tls_version, cipher=None, cipher_part=None,
                     expected=MESSAGE):
    """The message of queue_id is expected byte for byte, after a Received field that
    names queue_id, ESMTPSA, tls_version ("1.2"/"1.3") and the cipher (when given;
    cipher_part: a part of its name, for a client that names suites its own way)."""
    received, rest = delivered_with_id(instance, queue_id)
    assert rest == expected, "%s: delivered %r, sent %r" % (queue_id, rest, expected)
    h.check_received(received, queue_id)
    line = h.unfold(received).decode()
    match = re.search(r"\(using TLS(1\.[23]) with cipher (\S+)\)", line)
    assert match, "no TLS comment: %r" % line
    assert match.group(1) == tls_version, "Received names TLS%s, the client negotiated TLS%s" % (
        match.group(1), tls_version)
    assert cipher is None or match.group(2) == cipher, "cipher %s, client says %s" % (
        match.group(2), cipher)
    assert cipher_part is None or cipher_part in match.group(2), "cipher %s, client says %s" % (
        match.group(2), cipher_part)
    assert " with ESMTPSA id " in line, "not ESMTPSA: %r" % line


def queue_id_in(transcript, prefix):
    """The queue id of the `250 2.6.0` reply, on a transcript line starting with prefix."""
    match = re.search(r"^%s250 2\.6\.0 (\S+) Queued mail for delivery" % re.escape(prefix),
                      transcript, re.M)
    assert match, "no `250 2.6.0` reply in:\n%s" % transcript
    return match.group(1)


def ntlm_version(transcript, prefix):
    """NTLMv1 or NTLMv2, from the length of the NT response of the client's AUTHENTICATE
    message ([MS-NLMP] 2.2.1.3: 24 bytes for v1, longer for v2)."""
    token = re.search(r"^%s(TlRMTVNTUAADAAAA\S+)" % re.escape(prefix), transcript, re.M)
    assert token, "no NTLM AUTHENTICATE message in:\n%s" % transcript
    blob = base64.b64decode(token.group(1))
    return "NTLMv1" if int.from_bytes(blob[20:22], "little") == 24 else "NTLMv2"


def wait_for_refusals(instance, count):
    """Waits until the log holds count server-side refusals of a TLS version."""
    deadline = time.monotonic() + h.SOCKET_TIMEOUT
    while len(REFUSED_LINE.findall(instance.log())) < count:
        assert time.monotonic() < deadline, "postern did not log refusing the TLS version"
        time.sleep(0.05)


# ---- curl ------------------------------------------------------------------------


def curl(instance, message_file, login_options, password=PASSWORD, sasl_ir=False):
    """curl over STARTTLS (--ssl-reqd: no cleartext fallback); returns (status, -v output)."""
    command = ["curl", "-v", "-sS", "--max-time", "20", "--ssl-reqd", "-k",
               "smtp://127.0.0.1:%d/%s" % (instance.ports["smtp"], EHLO_NAME),
               "--mail-from", SENDER, "--mail-rcpt", RECIPIENT, "--upload-file", message_file,
               "--user", "alice:" + password, "--login-options", login_options]
    return run(command + (["--sasl-ir"] if sasl_ir else []))


def dialog_of(verbose):
    """curl -v's lines of protocol (< >) and information (*), without its TLS data notes."""
    return "\n".join(line for line in verbose.splitlines() if line[:2] in ("< ", "> ", "* "))


def check_curl(instance, message_file):
    cases = [("AUTH=NTLM", False, r"^> AUTH NTLM\r?\n< 334 NTLM supported"),
             ("AUTH=NTLM", True, r"^> AUTH NTLM TlRMTVNTUAABAAAA\S+\r?\n< 334 TlRMTVNTUAACAAAA"),
             ("AUTH=LOGIN", False, r"^> AUTH LOGIN\r?\n< 334 VXNlcm5hbWU6")]
    for options, sasl_ir, exchange in cases:
        status, out = curl(instance, message_file, options, sasl_ir=sasl_ir)
        out = dialog_of(out)
        assert status == 0, "curl %s%s exited %d:\n%s" % (
            options, " --sasl-ir" if sasl_ir else "", status, out)
        assert re.search(exchange, out, re.M), "curl %s: not the expected exchange:\n%s" % (
            options, out)
        assert re.search(r"^< 235 2\.7\.0 Authentication successful", out, re.M), out
        tls = re.search(r"^\* SSL connection using TLSv(1\.[23]) / (\S+)", out, re.M)
        assert tls, "curl did not report its TLS connection:\n%s" % out
        version, cipher = tls.groups()
        # TLS 1.3 suites have one IANA name in OpenSSL and in GnuTLS.
        assert_delivered(instance, queue_id_in(out, "< "), version,
                         cipher if version == "1.3" else None)
        if "NTLM" in options:
            # For the record, not a check: curl answers with NTLMv2 only when the
            # CHALLENGE carries target information, which Cyrus' does not.
            print("curl %s%s: %s" % (options, " --sasl-ir" if sasl_ir else "",
                                     ntlm_version(out, "> ")))

    status, out = curl(instance, message_file, "AUTH=NTLM", password="not the password")
    out = dialog_of(out)
    assert status == 67, "curl with a wrong NTLM password exited %d, not 67 (login denied):\n%s" % (
        status, out)
    assert re.search(r"^< 535 5\.7\.3 Authentication unsuccessful", out, re.M), out


# ---- swaks -----------------------------------------------------------------------


def swaks(port, data_file, *args, env=None):
    command = ["swaks", "--server", "127.0.0.1:%d" % port, "--helo", EHLO_NAME,
               "--timeout", "10", "--from", SENDER, "--to", RECIPIENT, "--data", "@" + data_file,
               "--auth-user", "alice"] + list(args)
    return run(command, env)


def check_swaks(instance, data_file):
    # Authen::NTLM speaks NTLMv1 unless its ntlmv2() switch is on; swaks has no
    # option for it, so it is switched on from PERL5OPT, before swaks runs.
    ntlmv2 = {"PERL5OPT": "-MAuthen::NTLM;Authen::NTLM::ntlmv2(1)"}
    cases = [("smtp", ["--tls", "--auth", "LOGIN"], None, None),
             ("smtp", ["--tls", "--auth", "NTLM"], None, "NTLMv1"),
             ("smtp", ["--tls", "--auth", "NTLM"], ntlmv2, "NTLMv2"),
             ("smtps", ["--tlsc", "--auth", "NTLM"], None, "NTLMv1")]
    for listener, args, env, ntlm in cases:
        status, out = swaks(instance.ports[listener], data_file, "--auth-password", PASSWORD,
                            *args, env=env)
        what = "swaks %s%s" % (" ".join(args), " (NTLMv2)" if env else "")
        assert status == 0, "%s exited %d:\n%s" % (what, status, out)
        assert re.search(r"^<~  235 2\.7\.0 Authentication successful", out, re.M), out
        if ntlm:
            assert ntlm_version(out, " ~> ") == ntlm, "%s did not use %s:\n%s" % (what, ntlm, out)
        tls = re.search(r"^=== TLS started with cipher TLSv(1\.[23]):(\S+):\d+", out, re.M)
        assert tls, "swaks did not report its TLS:\n%s" % out
        if listener == "smtps":
            # Implicit TLS: the handshake comes before the greeting.
            assert out.index("=== TLS started") < out.index("<~  220 "), out
        version, cipher = tls.groups()
        # data_file is MESSAGE without its last CRLF, which swaks adds before ".".
        assert_delivered(instance, queue_id_in(out, "<~  "), version,
                         cipher if version == "1.3" else None)

    status, out = swaks(instance.ports["smtp"], data_file, "--auth-password", "not the password",
                        "--tls", "--auth", "NTLM", env=ntlmv2)
    assert status != 0 and re.search(r"^<~\*? *535 5\.7\.3 Authentication unsuccessful", out,
                                     re.M), "a wrong NTLMv2 password was not refused:\n%s" % out


# ---- Python smtplib ---------------------------------------------------------------


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the reply to DATA, which send_message() drops."""

    def data(self, msg):
        self.data_reply = super().data(msg)
        return self.data_reply


def check_smtplib(instance):
    message = email.message.EmailMessage()
    message["From"] = "Alice <%s>" % SENDER
    message["To"] = "Bob <%s>" % RECIPIENT
    message["Subject"] = "send_message"
    message.set_content("8-bit text: \u00e9t\u00e9\n.a line that starts with a dot\n",
                        cte="8bit")
    # The bytes send_message() puts on the wire, made the way it makes them.
    flat = io.BytesIO()
    email.generator.BytesGenerator(flat, policy=message.policy.clone(linesep="\r\n")).flatten(
        copy.copy(message), linesep="\r\n")
    context = h.tls_client_context()
    client = RecordingSMTP("127.0.0.1", instance.ports["smtp"], local_hostname=EHLO_NAME,
                           timeout=h.SOCKET_TIMEOUT)
    try:
        client.starttls(context=context)
        client.login("alice", PASSWORD)
        refused = client.send_message(message)
        assert refused == {}, refused
        code, text = client.data_reply
        version, cipher = client.sock.version(), client.sock.cipher()[0]
    finally:
        client.quit()
    assert code == 250, (code, text)
    assert version in ("TLSv1.2", "TLSv1.3"), version
    assert_delivered(instance, h.queue_id_from(text), version[4:],
                     cipher if version == "TLSv1.3" else None, expected=flat.getvalue())


# ---- gnutls-cli and openssl s_client: scripted dialogs ---------------------------


class ScriptedClient:
    """A TLS client process whose stdin/stdout carry the SMTP dialog after TLS is up.
    Of its stdout, the lines that start with a reply code are the server's; the
    others are the client's own (session summaries). Every wait is bounded."""

    def __init__(self, command):
        self.command = command
        self.proc = h.spawn(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.chatter = []  # what the client itself printed on stdout
        self.stderr = []
        threading.Thread(target=self._read_lines, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_lines(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if REPLY_LINE.match(line):
                self.lines.put(line)
            else:
                self.chatter.append(line)
        self.lines.put(None)

    def _read_stderr(self):
        self.stderr.append(self.proc.stderr.read().decode(errors="replace"))

    def reply(self):
        """The last line of the server's next (possibly multi-line) reply."""
        while True:
            try:
                line = self.lines.get(timeout=h.SOCKET_TIMEOUT)
            except queue.Empty:
                raise AssertionError("%s: no reply within %ds" % (self.command[0],
                                                                  h.SOCKET_TIMEOUT))
            assert line is not None, "%s: connection closed" % self.command[0]
            if line[3] != "-":
                return line

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def expect(self, data, prefix):
        """Sends data (bytes); asserts that the reply starts with prefix; returns it."""
        self.send(data)
        line = self.reply()
        assert line.startswith(prefix), "%s: %r answered %r, expected %s" % (
            self.command[0], data[:40], line, prefix)
        return line

    def finish(self):
        """Closes stdin and waits for the client to end; returns (status, stderr)."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        status = self.proc.wait(timeout=CLIENT_TIMEOUT)
        deadline = time.monotonic() + h.SOCKET_TIMEOUT
        while not self.stderr and time.monotonic() < deadline:
            time.sleep(0.01)
        return status, "".join(self.stderr)


def b64(text):
    return base64.b64encode(text.encode()) + b"\r\n"


def submit(client):
    """EHLO, AUTH LOGIN, one transaction and QUIT over an established TLS session;
    returns the queue id."""
    client.expect(b"EHLO %s\r\n" % EHLO_NAME.encode(), "250 ")
    client.expect(b"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6")
    client.expect(b64("alice"), "334 UGFzc3dvcmQ6")
    client.expect(b64(PASSWORD), "235 2.7.0 Authentication successful")
    client.expect(b"MAIL FROM:<%s>\r\n" % SENDER.encode(), "250 ")
    client.expect(b"RCPT TO:<%s>\r\n" % RECIPIENT.encode(), "250 ")
    client.expect(b"DATA\r\n", "354 ")
    stuffed = re.sub(rb"(?m)^\.", b"..", MESSAGE)
    queued = client.expect(stuffed + b".\r\n", "250 2.6.0 ")
    client.expect(b"QUIT\r\n", "221 ")
    return h.queue_id_from(queued[4:])


def gnutls_cli(port, versions, log_file, *extra):
    """gnutls-cli with STARTTLS for SMTP, only the TLS versions named (e.g. ["TLS1.2"])."""
    priority = "NORMAL:-VERS-ALL:" + ":".join("+VERS-" + v for v in versions)
    return ["gnutls-cli", "--insecure", "--logfile=" + log_file, "--starttls-proto=smtp",
            "--priority", priority, "--port", str(port)] + list(extra) + ["127.0.0.1"]


def check_gnutls_cli(instance, scratch):
    port = instance.ports["smtp"]

    def log_file(name):
        return os.path.join(scratch, "gnutls-cli-%s.log" % name)

    for version in ("TLS1.2", "TLS1.3"):
        client = ScriptedClient(gnutls_cli(port, [version], log_file(version)))
        queue_id = submit(client)
        status, err = client.finish()
        log = h.read_text(log_file(version))
        assert status == 0, "gnutls-cli %s exited %d: %s%s" % (version, status, err, log)
        description = re.search(r"^- Description: \(%s-X\.509\)-.*-\(([A-Z0-9-]+)\)$"
                                % re.escape(version), log, re.M)
        assert description, "gnutls-cli did not negotiate %s:\n%s" % (version, log)
        # The bulk cipher, named AES-256-GCM by gnutls-cli and AES_256_GCM in the suite.
        assert_delivered(instance, queue_id, version[3:],
                         cipher_part=description.group(1).replace("-", "_"))

    refused = len(REFUSED_LINE.findall(instance.log()))
    for version in ("TLS1.0", "TLS1.1"):
        status, out = run(gnutls_cli(port, [version], log_file(version)))
        log = h.read_text(log_file(version))
        assert status != 0 and "Handshake was completed" not in log, \
            "gnutls-cli completed a %s handshake:\n%s%s" % (version, out, log)
        # postern says why before it closes: a protocol_version alert (RFC 8446 6.2).
        assert "Received alert [70]" in out + log, \
            "no protocol_version alert for %s:\n%s%s" % (version, out, log)
        refused += 1
        # The client offered only this version and postern said no: it logs why.
        wait_for_refusals(instance, refused)

    # The whole dialog at once, then end of input: gnutls-cli sends close_notify
    # right behind QUIT. Closing is per direction in TLS 1.3 (RFC 8446 6.1), so
    # the replies to what came before it must still arrive.
    result = subprocess.run(gnutls_cli(port, ["TLS1.3"], log_file("half-close")),
                            input=b"EHLO client.example.test\r\nQUIT\r\n",
                            capture_output=True, timeout=CLIENT_TIMEOUT)
    out = (result.stdout + result.stderr).decode(errors="replace")
    assert "250-%s Hello 127.0.0.1" % h.HOSTNAME in out and "221 2.0.0 " in out, \
        "replies lost after the client's close_notify:\n%s" % out

    # --resume: a full handshake, then a second connection that resumes it; the
    # whole SMTP dialog runs on the resumed one.
    client = ScriptedClient(gnutls_cli(port, ["TLS1.3"], log_file("resume"), "--resume"))
    queue_id = submit(client)
    status, err = client.finish()
    log = h.read_text(log_file("resume"))
    assert status == 0, "gnutls-cli --resume exited %d: %s%s" % (status, err, log)
    assert "*** This is a resumed session" in log, "gnutls-cli did not resume:\n%s" % log
    assert_delivered(instance, queue_id, "1.3")


def s_client(port, *extra):
    """openssl s_client with STARTTLS for SMTP. -ign_eof and -nocommands: a line that
    starts with Q, R or k is SMTP, not an s_client command (RCPT, QUIT)."""
    return ["openssl", "s_client", "-starttls", "smtp", "-name", EHLO_NAME,
            "-connect", "127.0.0.1:%d" % port, "-ign_eof", "-nocommands"] + list(extra)


def check_openssl(instance, scratch):
    port = instance.ports["smtp"]
    for flag, version in (("-tls1_2", "1.2"), ("-tls1_3", "1.3")):
        client = ScriptedClient(s_client(port, flag, "-brief"))
        queue_id = submit(client)
        status, err = client.finish()
        assert status == 0, "openssl s_client %s exited %d: %s" % (flag, status, err)
        assert re.search(r"^Protocol version: TLSv%s$" % re.escape(version), err, re.M), err
        suite = re.search(r"^Ciphersuite: (\S+)$", err, re.M)
        assert suite, err
        # OpenSSL sends one TLS 1.3 key share, X25519's: the server takes that
        # group rather than ask for its own first (a HelloRetryRequest).
        assert re.search(r"^Server Temp Key: X25519\b", err, re.M), err
        # TLS 1.3 suites have one IANA name in OpenSSL and in GnuTLS; 1.2 ones do not.
        assert_delivered(instance, queue_id, version, suite.group(1) if version == "1.3" else None)

    # OpenSSL's own security level may forbid TLS 1.0/1.1 in the client, which
    # would prove nothing about postern; at SECLEVEL=0 the client offers them
    # and the refusal can only come from the server, whose log says why.
    refused = len(REFUSED_LINE.findall(instance.log()))
    for flag in ("-tls1", "-tls1_1"):
        status, out = run(s_client(port, flag, "-cipher", "DEFAULT:@SECLEVEL=0", "-brief"))
        assert status != 0 and "CONNECTION ESTABLISHED" not in out, \
            "openssl s_client %s was accepted:\n%s" % (flag, out)
        refused += 1
        wait_for_refusals(instance, refused)

    check_openssl_resumption(instance, scratch)


def check_openssl_resumption(instance, scratch):
    """A TLS 1.3 ticket from one worker resumes a session on the other. The first
    connection stays open, so that master hands the second to the other worker;
    the worker of each is the one that logged its connect line."""
    port = instance.ports["smtp"]
    session_file = os.path.join(scratch, "session.pem")
    connects_before = len(CONNECT_LINE.findall(instance.log()))
    first = ScriptedClient(s_client(port, "-tls1_3", "-sess_out", session_file))
    # The tickets come after the handshake; s_client writes the file once it has read one.
    first.expect(b"EHLO %s\r\n" % EHLO_NAME.encode(), "250 ")
    deadline = time.monotonic() + h.SOCKET_TIMEOUT
    while "END SSL SESSION PARAMETERS" not in h.read_text(session_file):
        assert time.monotonic() < deadline, "openssl wrote no session"
        time.sleep(0.05)
    second = ScriptedClient(s_client(port, "-tls1_3", "-sess_in", session_file))
    queue_id = submit(second)
    status, err = second.finish()
    assert status == 0, "the resuming openssl s_client exited %d: %s" % (status, err)
    first.expect(b"QUIT\r\n", "221 ")
    status, err = first.finish()
    assert status == 0, "the first openssl s_client exited %d: %s" % (status, err)

    assert any(line.startswith("New, TLSv1.3") for line in first.chatter), first.chatter
    assert any(line.startswith("Reused, TLSv1.3") for line in second.chatter), \
        "openssl did not resume:\n%s" % "\n".join(second.chatter)
    connects = CONNECT_LINE.findall(instance.log())[connects_before:]
    assert len(connects) == 2, "expected two connections in the log, found %s" % connects
    workers = [int(pid) for pid, _ in connects]
    assert workers[0] != workers[1], "both connections landed on smtpd[%d]" % workers[0]
    resumed = r"smtpd\[%d\]: \[127\.0\.0\.1\]: TLS TLS1\.3 with \S+, resumed$" % workers[1]
    assert re.search(resumed, instance.log(), re.M), "smtpd[%d] logged no resumption" % workers[1]
    assert_delivered(instance, queue_id, "1.3")


# ---- the test ------------------------------------------------------------------


def test():
    require_clients()
    scratch = h.scratch_dir("interop")
    with h.Instance(listeners={"smtp": {}, "smtps": {"tls_wrapper": "yes"}},
                    settings={"smtpd_workers": 2, "tarpit_interval": 0}) as instance:
        instance.use_certificate()
        instance.add_user("alice", PASSWORD)
        instance.start()

        message_file = os.path.join(scratch, "message.eml")
        with open(message_file, "wb") as f:
            f.write(MESSAGE)
        # swaks adds CRLF after the file's last line whether or not it ends in one.
        swaks_file = os.path.join(scratch, "swaks.eml")
        with open(swaks_file, "wb") as f:
            f.write(MESSAGE[:-2])

        check_curl(instance, message_file)
        check_swaks(instance, swaks_file)
        check_smtplib(instance)
        check_gnutls_cli(instance, scratch)
        check_openssl(instance, scratch)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
