#!/usr/bin/env python3
"""tests/system/reload_load_test.py — `postern reload` under a stream of mail.

Issue 11: "a reload under load (a stream of messages from 20 clients while
listeners are added, removed and changed, certificates replaced and limits
changed) loses no message and drops no established session. A bad config
changes nothing and exits non-zero."

20 client threads, each from its own loopback address, send messages to
the smtp listener for the whole run: half of them keep one session open and
send message after message on it (so their sessions live across every
reload), half open a session per message. Meanwhile the test reloads
postern eight times, each time with a different change:
  - a listener "extra" added, and a client opening a session on it that
    stays open while later reloads change it and finally remove it;
  - limits changed (max_recipients, max_message_size, inactivity_timeout,
    message_rate_limit) on the smtp listener;
  - the certificate of the submission listener replaced by a new one (a
    new key pair under the same file names): a TLS client after the
    reload is shown the new certificate;
  - "extra" moved to another port, then removed;
  - a bad configuration (an unknown key): `postern reload` exits non-zero,
    names the problem, and nothing changes (the listeners still answer);
Checked at the end: no client saw an error (no dropped session, no refused
connection, every reply 250); every message acknowledged with 250 arrived
in its Maildir exactly once, byte for byte after the Received: field; the
session held on "extra" since before its removal still sends a message and
QUITs; master is the same process.
"""

import os
import shutil
import smtplib
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

CLIENTS = 20
RECIPIENT = "load%02d@" + h.LOCAL_DOMAIN


def body(client, number):
    return ("From: c%02d@example.test\r\nSubject: client %d message %d\r\n\r\n"
            "line one\r\nline two of %d/%d\r\n" % (client, client, number, client, number)).encode()


class Client(threading.Thread):
    """Sends messages until stop is set; persistent: one session for all."""

    def __init__(self, number, port, persistent, stop):
        super().__init__(daemon=True)
        self.number, self.port, self.persistent, self.stop = number, port, persistent, stop
        self.sent = []      # (queue_id, bytes) acknowledged with 250
        self.errors = []

    def session(self):
        client = smtplib.SMTP("127.0.0.1", self.port, local_hostname="c%d.example.test" % self.number,
                              timeout=h.SOCKET_TIMEOUT,
                              source_address=("127.0.1.%d" % (self.number + 1), 0))
        code, text = client.ehlo()
        assert code == 250, "EHLO answered %d %r" % (code, text)
        return client

    def run(self):
        client = None
        number = 0
        try:
            while not self.stop.is_set():
                number += 1
                if client is None:
                    client = self.session()
                data = body(self.number, number)
                queue_id = h.transaction(client, "c%02d@example.test" % self.number,
                                         [RECIPIENT % self.number], data)
                self.sent.append((queue_id, data))
                if not self.persistent:
                    client.quit()
                    client = None
                time.sleep(0.02)
            if client is not None:
                code, _ = client.docmd("QUIT")
                assert code == 221, "QUIT answered %d" % code
        except Exception as e:  # noqa: BLE001 — every failure is the test's finding
            self.errors.append("client %d, message %d: %r" % (self.number, number, e))


def reload_ok(instance, what):
    result = instance.ctl("reload")
    assert result.returncode == 0, "reload (%s) failed: %s%s" % (what, result.stdout, result.stderr)
    time.sleep(1.0)  # let the stream run under the new configuration


def served_certificate(port):
    """The DER certificate a STARTTLS client is shown on port."""
    client = smtplib.SMTP("127.0.0.1", port, local_hostname="tls.example.test",
                          timeout=h.SOCKET_TIMEOUT)
    try:
        client.ehlo()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client.starttls(context=context)
        return client.sock.getpeercert(binary_form=True)
    finally:
        client.quit()


def pem_to_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_reload_under_load_loses_nothing():
    settings = {"message_rate_limit": 0, "max_connections_per_source": 5}
    with h.Instance(listeners={"smtp": {}, "submission": {"role": "relay"}},
                    settings=settings, name="reload-load") as instance:
        cert, key = instance.use_certificate("submission")
        instance.start()
        master = instance.master_pid()
        port = instance.port
        submission = instance.ports["submission"]
        assert served_certificate(submission) == pem_to_der(cert)

        stop = threading.Event()
        clients = [Client(n, port, n % 2 == 0, stop) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        time.sleep(1.0)

        extra_port = instance.add_listener("extra")
        instance.write_config()
        reload_ok(instance, "listener added")
        held = h.connect(extra_port)

        instance.listeners["smtp"].update(max_recipients=50, max_message_size="5m",
                                          inactivity_timeout="2m", message_rate_limit=100000)
        instance.write_config()
        reload_ok(instance, "limits changed")

        old_certificate = pem_to_der(cert)
        new_cert, new_key = instance.make_certificate("replacement")
        shutil.copyfile(new_key, key)  # a new key pair under the same file names
        shutil.copyfile(new_cert, cert)
        assert pem_to_der(cert) != old_certificate
        reload_ok(instance, "certificate replaced")
        assert served_certificate(submission) == pem_to_der(cert), \
            "the old certificate is still served after the reload"

        instance.listeners["extra"]["max_recipients"] = 10
        instance.write_config()
        reload_ok(instance, "extra changed")

        moved = h.free_port()
        instance.listeners["extra"]["bind"] = "127.0.0.1:%d" % moved
        instance.ports["extra"] = moved
        instance.write_config()
        reload_ok(instance, "extra moved")
        assert h.wait_for_port(moved), "the moved listener does not accept"

        before_bad = instance.config_text()
        instance.write_config(extra="no_such_key = 1\n")
        result = instance.ctl("reload")
        assert result.returncode != 0, "a reload to a bad configuration succeeded"
        assert "no_such_key" in result.stdout + result.stderr, result
        time.sleep(1.0)
        assert served_certificate(submission) == pem_to_der(cert)
        instance.write_config(text=before_bad)

        del instance.listeners["extra"]
        del instance.ports["extra"]
        instance.write_config()
        reload_ok(instance, "extra removed")
        assert h.port_refuses(moved), "the removed listener still accepts"

        held_id = h.transaction(held, "held@example.test", [RECIPIENT % 99], body(99, 1))
        assert held.docmd("QUIT")[0] == 221

        reload_ok(instance, "nothing changed")
        stop.set()
        for c in clients:
            c.join(timeout=60)
            assert not c.is_alive(), "client %d never finished" % c.number
        errors = [e for c in clients for e in c.errors]
        assert not errors, "clients saw errors:\n" + "\n".join(errors)
        assert instance.master_pid() == master, "master was replaced"

        total = 0
        for c in clients + [None]:
            number = 99 if c is None else c.number
            sent = [(held_id, body(99, 1))] if c is None else c.sent
            assert sent, "client %d sent nothing" % number
            delivered = instance.wait_for_mail(RECIPIENT % number, len(sent))
            assert len(delivered) == len(sent), "client %d: %d sent, %d delivered" % (
                number, len(sent), len(delivered))
            by_id = {}
            for message in delivered:
                received, rest = h.split_received(message)
                by_id.setdefault(h.unfold(received).decode(), []).append(rest)
            for queue_id, data in sent:
                matches = [k for k in by_id if " id %s" % queue_id in k]
                assert len(matches) == 1, "%s delivered %d times" % (queue_id, len(matches))
                assert by_id[matches[0]] == [data], "%s: bytes differ" % queue_id
            total += len(sent)
        print("reload under load: %d messages from %d clients across 7 reloads and a refused one"
              % (total, CLIENTS))
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
