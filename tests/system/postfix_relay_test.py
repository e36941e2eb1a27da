#!/usr/bin/env python3
"""tests/system/postfix_relay_test.py — Postfix from Debian relays through postern's submission listener.

RFC 4954 5 (issue 8, point 6): a client that authenticated may add AUTH= to
MAIL FROM, as Postfix does with smtp_send_dummy_mail_auth = yes (AUTH=<>),
and postern must take it. Here the upstream client is Debian's own Postfix,
run as a private instance of its own from a temporary directory (its own
main.cf, master.cf, queue and data directories, daemon_directory a folder
of symlinks to Debian's daemons so that its processes can be told apart
from any other Postfix); the machine's instance in /etc/postfix is never
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
instance (its master, whose pid is in its pid/master.pid, and every
descendant, recorded while it ran) must then be gone, else it is killed by
PID and the test fails. Skips (77) when Postfix is not installed or the test
does not run as root (Postfix's master needs root).
"""

import os
import re
import smtplib
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

PASSWORD = "correct horse battery"
POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"
POSTFIX_HOSTNAME = "upstream.example.org"
POSTFIX_TIMEOUT = 60
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


def require_postfix():
    if not h.running_as_root():
        raise h.Skip("Postfix's master runs as root; this test does not")
    missing = [p for p in ("/usr/sbin/postfix", os.path.join(POSTFIX_DAEMONS, "master"))
               if not os.access(p, os.X_OK)]
    if missing:
        raise h.Skip("Postfix is not installed (%s); run ./install-deps" % ", ".join(missing))


class PrivatePostfix:
    """One Postfix instance in a temporary directory that relays every message to
    [127.0.0.1]:relay_port with STARTTLS and AUTH (the mechanism named), user
    alice. Never touches /etc/postfix (read only: Debian's postfix-files)."""

    def __init__(self, relay_port, mechanism):
        self.root = h.scratch_dir("postfix")
        os.chmod(self.root, 0o755)
        self.config_dir = self._mkdir("etc")
        self.queue_dir = self._mkdir("queue")
        self.data_dir = os.path.join(self.root, "data")  # made by Postfix, for mail_owner
        self.daemon_dir = self._mkdir("daemons")
        for name in os.listdir(POSTFIX_DAEMONS):
            os.symlink(os.path.join(POSTFIX_DAEMONS, name), os.path.join(self.daemon_dir, name))
        self.log_path = os.path.join(self.root, "maillog")
        self.port = h.free_port()
        self.record = h.ProcessRecord(self.daemon_dir + "/")
        passwords = os.path.join(self.config_dir, "sasl_passwd")
        with open(passwords, "w") as f:
            f.write("[127.0.0.1]:%d alice:%s\n" % (relay_port, PASSWORD))
        os.chmod(passwords, 0o600)
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "daemon_directory": self.daemon_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": POSTFIX_HOSTNAME,
            "mydomain": "example.org",
            "myorigin": POSTFIX_HOSTNAME,
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_peername_lookup": "no",
            "relayhost": "[127.0.0.1]:%d" % relay_port,
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "smtp_tls_security_level": "encrypt",
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": "texthash:" + passwords,
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_mechanism_filter": mechanism.lower(),
            "smtp_send_dummy_mail_auth": "yes",
            "maillog_file": self.log_path,
            "maillog_file_prefixes": self.root,
            # Only the messages of this test: nothing waits for a retry.
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "1s",
            "queue_run_delay": "1s",
        }
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % item for item in settings.items()))
        # service type private unpriv chroot wakeup maxproc command: nothing chrooted.
        services = [
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write("\n".join(services) + "\n")

    def _mkdir(self, name):
        return h.make_dir(self.root, name)

    def postfix(self, *args):
        result = subprocess.run(["/usr/sbin/postfix", "-c", self.config_dir] + list(args),
                                capture_output=True, text=True, timeout=POSTFIX_TIMEOUT)
        self.record.scan()
        return result

    def start(self):
        self.record.start_sampling()
        # postfix-script makes the queue directories (post-install create-missing).
        result = self.postfix("start")
        assert result.returncode == 0, "postfix start: %s%s\n%s" % (result.stdout, result.stderr,
                                                                    self.log())
        assert h.wait_for_port(self.port), "Postfix's smtpd does not accept:\n" + self.log()
        master = self.master_pid()
        assert master in self.record.alive(), "Postfix's master %s is not running" % master

    def master_pid(self):
        return h.read_pid_file(os.path.join(self.queue_dir, "pid", "master.pid"))

    def submit(self, recipient, data):
        client = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example.test",
                              timeout=h.SOCKET_TIMEOUT)
        try:
            client.sendmail(SENDER, [recipient], data)
        finally:
            client.quit()

    def log(self):
        return h.read_text(self.log_path)

    def wait_for_log(self, pattern, timeout=h.DELIVERY_TIMEOUT):
        """The first match of pattern in Postfix's log, waited for."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match or time.monotonic() >= deadline:
                assert match, "Postfix never logged %r:\n%s" % (pattern, self.log())
                return match
            time.sleep(0.1)

    def close(self):
        """postfix stop, then every process of the instance must be gone."""
        try:
            if self.master_pid() in self.record.alive():
                result = self.postfix("stop")
                assert result.returncode == 0, "postfix stop: %s%s" % (result.stdout,
                                                                      result.stderr)
        finally:
            self.record.stop_sampling()
        self.record.assert_gone(10, "Postfix processes")

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            print("---- Postfix log ----\n" + self.log(), file=sys.stderr)
        self.close()
        return False


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
    with PrivatePostfix(port, mechanism) as postfix:
        postfix.start()
        postfix.submit("bob@example.test", sent)
        found = instance.wait_for_mail("bob@example.test", delivered_before + 1)
        # qmgr logs AUTH=<> only when the MAIL FROM carried it.
        queue_id = postern_queue_id(
            instance, log_start,
            r"(\S+): from=<alice@example\.test>, auth=<>, size=\d+, nrcpt=1 \(queued\)")
        postfix.wait_for_log(r"to=<bob@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*"
                             r"status=sent \(250 2\.6\.0 %s Queued mail for delivery\)" %
                             (port, re.escape(queue_id)))
        log = instance.log()[log_start:]
        assert "AUTH %s as alice" % mechanism in log, "postern did not log AUTH %s:\n%s" % (
            mechanism, log)

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
        # lookup): its envelope keeps what AUTH= said.
        log_start = len(instance.log())
        postfix.submit("carol@elsewhere.example", message("remote-" + mechanism))
        remote_id = postern_queue_id(instance, log_start,
                                     r"(\S+): from=<alice@example\.test>, auth=<>, ")
        shown = instance.ctl("queue", "show", remote_id)
        assert shown.returncode == 0, shown.stderr
        for expected in ("auth_mailbox: <>\n", "auth_user: alice\n",
                         "recipient: <carol@elsewhere.example> pending"):
            assert expected in shown.stdout, "queue show lacks %r:\n%s" % (expected, shown.stdout)
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
