#!/usr/bin/env python3
"""tests/system/tls_plumbing_test.py — what master and the workers do for TLS.

Proved against the real daemons, with Python's ssl module (OpenSSL) as the
client:
  - master's one session ticket key reaches every worker: a TLS 1.3 session
    begun on one worker resumes on the other, and on a worker started by
    `postern reload` (same key across generations);
  - a listener whose key file cannot be read stops `postern start` with a
    message that names the listener and the file, and a reload to such a
    file is refused while the running configuration goes on serving TLS.
"""

import os
import re
import socket
import ssl
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

CONNECT_LINE = re.compile(r"smtpd\[(\d+)\]: connect from unknown\[127\.0\.0\.1\]:(\d+) to listener")


# OpenSSL resumes a session only through the context that made it.
CONTEXT = h.tls_client_context(ssl.TLSVersion.TLSv1_3)


class TlsClient:
    """One implicit-TLS connection, opened with an earlier session when given."""

    def __init__(self, port, session=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=h.SOCKET_TIMEOUT)
        self.local_port = raw.getsockname()[1]
        self.sock = CONTEXT.wrap_socket(raw, session=session)
        # The greeting comes after the handshake; reading it also reads the
        # session ticket, which TLS 1.3 sends after the handshake.
        self.greeting = self.sock.recv(512).decode()

    def close(self):
        self.sock.close()


def worker_of(instance, local_port):
    """The pid of the smtpd that logged the connection from local_port."""
    deadline = time.monotonic() + h.SOCKET_TIMEOUT
    while time.monotonic() < deadline:
        for pid, port in CONNECT_LINE.findall(instance.log()):
            if int(port) == local_port:
                return int(pid)
        time.sleep(0.05)
    raise AssertionError("no smtpd logged the connection from port %d" % local_port)


def check_resumption_across_workers_and_reload(instance):
    port = instance.ports["smtps"]
    first = TlsClient(port)
    assert first.greeting.startswith("220 "), first.greeting
    assert not first.sock.session_reused
    # While the first connection lives, the least-loaded worker is the other one.
    second = TlsClient(port, session=first.sock.session)
    assert second.greeting.startswith("220 "), second.greeting
    assert worker_of(instance, first.local_port) != worker_of(instance, second.local_port), \
        "both connections landed on one worker"
    assert second.sock.session_reused, "the ticket of one worker is refused by the other"
    session = second.sock.session
    first.close()
    second.close()

    old_workers = set(instance.processes_named("smtpd"))
    result = instance.ctl("reload")
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + h.SOCKET_TIMEOUT
    while not set(instance.processes_named("smtpd")) - old_workers:
        assert time.monotonic() < deadline, "no new smtpd after reload"
        time.sleep(0.05)
    third = TlsClient(port, session=session)
    assert third.greeting.startswith("220 "), third.greeting
    assert worker_of(instance, third.local_port) not in old_workers
    assert third.sock.session_reused, "a ticket from before the reload is refused after it"
    third.close()


def check_unreadable_key_is_refused():
    """`postern start` names the listener and the file; a reload to such a file is
    refused and leaves the running configuration serving."""
    with h.Instance(listeners={"smtp": {}}, name="badkey") as instance:
        missing = os.path.join(instance.root, "no-such-key.pem")
        cert, key = instance.make_certificate()
        instance.listeners["smtp"].update(tls_cert_file=cert, tls_key_file=missing)
        instance.write_config()
        result = instance.start(expect_ok=False)
        expected = "listener smtp: cannot load TLS key %s: No such file or directory" % missing
        assert result.returncode != 0 and expected in result.stderr, result.stderr

        instance.listeners["smtp"]["tls_key_file"] = key
        instance.write_config()
        instance.start()
        # Each worker reads postern.conf itself when it starts: wait until both
        # have, before the file changes under them.
        deadline = time.monotonic() + h.SOCKET_TIMEOUT
        while len(re.findall(r"smtpd\[\d+\]: ready", instance.log())) < 2:
            assert time.monotonic() < deadline, "the workers did not get ready"
            time.sleep(0.05)
        instance.listeners["smtp"]["tls_key_file"] = missing
        instance.write_config()
        result = instance.ctl("reload")
        assert result.returncode != 0, "a reload to a missing key was accepted"
        assert "configuration not reloaded: " + expected in result.stdout + result.stderr, result
        context = h.tls_client_context(ssl.TLSVersion.TLSv1_3)
        raw = h.RawClient(instance.ports["smtp"])
        raw.line()
        raw.send("EHLO client.example.test\r\nSTARTTLS\r\n")
        for line in iter(raw.line, b""):
            if line == b"220 2.0.0 SMTP server ready":
                break
        tls = context.wrap_socket(raw.sock, server_hostname=h.HOSTNAME)
        tls.close()
        instance.stop()


def test():
    with h.Instance(listeners={"smtps": {"tls_wrapper": "yes"}}) as instance:
        instance.use_certificate()
        instance.start()
        check_resumption_across_workers_and_reload(instance)
        instance.stop()
    check_unreadable_key_is_refused()


if __name__ == "__main__":
    h.run_tests(globals())
