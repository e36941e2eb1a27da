"""tests/system/postfix_instance.py — a private Postfix instance for the system tests.

Debian's own Postfix, run as an instance of its own from a temporary
directory: its own main.cf, master.cf, queue and data directories, and a
daemon_directory of symlinks to Debian's daemons so that its processes can
be told apart from any other Postfix. The machine's instance in
/etc/postfix is never used, changed or started. Nothing runs chrooted.
Its smtpd listens on 127.0.0.1:port (a free port); the test gives the rest
of main.cf. Postfix is stopped with `postfix -c DIR stop`; every process of
the instance (recorded while it ran) must then be gone, else it is killed
by PID and the test fails.
"""

import os
import re
import smtplib
import subprocess
import sys
import time

import postern_harness as h

POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"
POSTFIX_TIMEOUT = 60

# service type private unpriv chroot wakeup maxproc command, smtpd's first.
SERVICES = [
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
    "virtual unix - n n - - virtual",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
]


def require_postfix():
    """Skips the test unless Postfix is installed and the test runs as root."""
    if not h.running_as_root():
        raise h.Skip("Postfix's master runs as root; this test does not")
    missing = [p for p in ("/usr/sbin/postfix", os.path.join(POSTFIX_DAEMONS, "master"))
               if not os.access(p, os.X_OK)]
    if missing:
        raise h.Skip("Postfix is not installed (%s); run ./install-deps" % ", ".join(missing))


class PrivatePostfix:
    """One Postfix instance in a temporary directory. Its main.cf holds the
    defaults below (the directories, a loopback-only smtpd, a log file of
    its own) with what configure() adds to or replaces."""

    def __init__(self, name="postfix", hostname="postfix.example.org"):
        self.root = h.scratch_dir(name)
        os.chmod(self.root, 0o755)
        self.config_dir = self.mkdir("etc")
        self.queue_dir = self.mkdir("queue")
        self.data_dir = os.path.join(self.root, "data")  # made by Postfix, for mail_owner
        self.daemon_dir = self.mkdir("daemons")
        for program in os.listdir(POSTFIX_DAEMONS):
            os.symlink(os.path.join(POSTFIX_DAEMONS, program),
                       os.path.join(self.daemon_dir, program))
        self.log_path = os.path.join(self.root, "maillog")
        self.port = h.free_port()
        self.record = h.ProcessRecord(self.daemon_dir + "/")
        self.main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "daemon_directory": self.daemon_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": hostname,
            "mydomain": hostname.split(".", 1)[-1],
            "myorigin": hostname,
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "smtpd_peername_lookup": "no",
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "maillog_file": self.log_path,
            "maillog_file_prefixes": self.root,
            # Only the messages of the test: nothing waits for a retry.
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "1s",
            "queue_run_delay": "1s",
        }
        self.configure({})
        services = ["127.0.0.1:%d inet n - n - - smtpd" % self.port] + SERVICES
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write("\n".join(services) + "\n")

    def configure(self, settings):
        """Adds settings ({key: value}) to main.cf, replacing keys set before."""
        self.main.update(settings)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % item for item in self.main.items()))

    def mkdir(self, name):
        """A directory under the instance's root."""
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

    def submit(self, sender, recipient, data):
        """One message into Postfix's smtpd with smtplib."""
        client = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example.test",
                              timeout=h.SOCKET_TIMEOUT)
        try:
            client.sendmail(sender, [recipient], data)
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
