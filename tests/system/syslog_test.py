#!/usr/bin/env python3
"""tests/system/syslog_test.py — log_target = syslog, read by Debian's pflogsumm.

Through the real daemons, with syslog_socket pointed at a Unix datagram
socket this test owns (FakeSyslogd: it writes each record it receives, with
its own time stamp and a host name, to a file, as syslogd writes
/var/log/mail.log):
- a mixed run (an authenticated submission, a message with one recipient
  delivered and one that bounces, a relay-access rejection, a failed AUTH)
  is logged in Postfix's shape, with facility mail, and pflogsumm
  --syslog-name=postern counts it: 2 received, 3 delivered (the DSN
  included), 1 bounced, 1 rejected, the SASL failure among smtpd's
  warnings; postern status says where the lines go;
- with the syslog socket missing, `postern start` warns on standard error,
  and every process logs to state_directory/log/postern.log (mode 0640 in a
  directory of mode 0750), which holds the warning too; postern status
  names that file;
- a syslogd restart (its socket made anew): the chrooted smtpd workers and
  qmgr find the new socket (smtpd by way of master), and the lines that came
  in between are in the fallback file.
"""

import base64
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

PASSWORD = "correct horse"
MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"Subject: logged\r\n"
           b"Message-ID: <syslog-test-%d@example.test>\r\n"
           b"\r\n"
           b"Body.\r\n")
RECORD = re.compile(r"^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+\[\d+\]: .*)$")
MAIL_FACILITY = 2


class FakeSyslogd:
    """A syslogd's datagram socket at path, with a thread that writes every
    record to log_path as "Mmm dd hh:mm:ss HOST TAG[PID]: text"; the record's
    priorities are kept in self.priorities, anything not RFC 3164 in self.bad."""

    def __init__(self, path, log_path):
        self.path, self.log_path = path, log_path
        self.priorities, self.bad = [], []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)  # as /dev/log: every postern user writes to it
        self.sock.settimeout(0.1)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        with open(self.log_path, "a") as out:
            while self.running:
                try:
                    record = self.sock.recv(65536).decode("utf-8", errors="replace")
                except socket.timeout:
                    continue
                except OSError:
                    return
                match = RECORD.match(record)
                if not match:
                    self.bad.append(record)
                    continue
                self.priorities.append(int(match.group(1)))
                out.write("%s syslog-test-host %s\n" % (time.strftime("%b %e %H:%M:%S"),
                                                       match.group(3)))
                out.flush()

    def stop(self):
        """As a syslogd that exits: its socket is gone."""
        self.running = False
        self.thread.join()
        self.sock.close()
        os.unlink(self.path)

    def text(self):
        return h.read_text(self.log_path)


def make_instance(name, syslog_socket):
    listener = {"auth_mechanisms": "LOGIN", "allow_plaintext_auth": "yes"}
    # trusted_networks without loopback: the test's client may not relay.
    return h.Instance(listeners={"smtp": listener}, name=name,
                      settings={"log_target": "syslog", "syslog_socket": syslog_socket,
                                "trusted_networks": "192.0.2.0/24"})


def wait_for_text(read, text, what):
    h.wait_until(lambda: text in read(), what)


def authenticated_submission(instance, number):
    client = h.connect(instance.port)
    try:
        code, reply = client.docmd("AUTH", "LOGIN " + base64.b64encode(b"alice").decode())
        assert code == 334, "AUTH LOGIN answered %d %r" % (code, reply)
        code, reply = client.docmd(base64.b64encode(PASSWORD.encode()).decode())
        assert code == 235, "the password was answered %d %r" % (code, reply)
        return h.transaction(client, "alice@example.test", ["carl@example.test"], MESSAGE % number)
    finally:
        client.quit()


def failed_auth(instance):
    client = h.connect(instance.port)
    try:
        client.docmd("AUTH", "LOGIN " + base64.b64encode(b"alice").decode())
        code, reply = client.docmd(base64.b64encode(b"not the password").decode())
        assert code == 535, "a wrong password was answered %d %r" % (code, reply)
    finally:
        client.quit()


def relay_refused(instance):
    client = h.connect(instance.port)
    try:
        code, reply = client.mail("ann@example.test")
        assert code == 250, "MAIL answered %d %r" % (code, reply)
        code, reply = client.rcpt("zoe@elsewhere.test")
        assert (code, reply) == (550, b"5.7.1 Unable to relay"), (code, reply)
    finally:
        client.quit()


def bounce_and_delivery(instance, number):
    """ann -> bob (whose Maildir cannot be made: a file stands there) and carl."""
    instance.block_mailbox("bob")
    return h.send(instance.port, "ann@example.test", ["bob@example.test", "carl@example.test"],
                  MESSAGE % number)


def pflogsumm(log_path):
    assert shutil.which("pflogsumm"), "pflogsumm is missing (./install-deps installs it)"
    result = subprocess.run(["pflogsumm", "--syslog-name=postern", "--smtpd-stats", log_path],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, "pflogsumm failed: %s" % result.stderr
    return result.stdout


def grand_total(report, what):
    match = re.search(r"^\s+(\d+)\s+%s\b" % re.escape(what), report, re.M)
    assert match, "pflogsumm reports no %r:\n%s" % (what, report)
    return int(match.group(1))


def check_mixed_run(instance, syslogd):
    instance.add_user("alice", PASSWORD)
    submitted = authenticated_submission(instance, 1)
    # Delivered first: block_mailbox must not race carl's delivery into the
    # domain's directory (postern_harness.py says why).
    instance.wait_for_mail("carl@example.test", 1)
    bounced = bounce_and_delivery(instance, 2)
    relay_refused(instance)
    failed_auth(instance)
    instance.wait_for_mail("carl@example.test", 2)
    instance.wait_for_mail("ann@example.test", 1)  # the DSN
    for queue_id in (submitted, bounced):
        h.wait_until(lambda: queue_id not in instance.queue_list(), "%s leaves the queue" % queue_id)
    wait_for_text(syslogd.text, "%s: removed" % bounced, "qmgr's removed line in syslog")
    # carl twice and the DSN to ann: a delivery is logged once its file is in new/.
    h.wait_until(lambda: syslogd.text().count("status=sent") >= 3, "three deliveries in syslog")
    log = syslogd.text()
    assert not syslogd.bad, "records not in RFC 3164's shape: %r" % syslogd.bad[:3]
    assert syslogd.priorities and all(p // 8 == MAIL_FACILITY for p in syslogd.priorities), \
        "not all records have facility mail: %s" % sorted(set(syslogd.priorities))
    size = r"\d+"
    expected = [  # (program, the text after its tag, as a regex)
        ("smtpd", re.escape("%s: client=unknown[127.0.0.1], sasl_method=LOGIN, "
                            "sasl_username=alice" % submitted)),
        ("smtpd", re.escape("%s: message-id=<syslog-test-1@example.test>" % submitted)),
        ("qmgr", re.escape("%s: from=<alice@example.test>, size=" % submitted) + size +
         re.escape(", nrcpt=1 (queue active)")),
        ("smtpd", re.escape("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.7.1 "
                            "<zoe@elsewhere.test>: Unable to relay; from=<ann@example.test> "
                            "to=<zoe@elsewhere.test> proto=ESMTP helo=<client.example.test>")),
        ("smtpd", re.escape("warning: unknown[127.0.0.1]: SASL LOGIN authentication failed: "
                            "authentication failure, sasl_username=alice")),
        ("smtpd", re.escape("disconnect from unknown[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=1 "
                            "data=1 quit=1 commands=6")),
        ("smtpd", re.escape("disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 quit=1 "
                            "commands=3/4")),
        ("qmgr", re.escape("%s: removed" % bounced)),
    ]
    for program, text in expected:
        pattern = r"^\w{3} [ \d]\d \d\d:\d\d:\d\d syslog-test-host postern/%s\[\d+\]: %s$" % (
            program, text)
        assert re.search(pattern, log, re.M), "syslog has no line %r:\n%s" % (pattern, log)
    assert re.search(r"%s: to=<bob@example.test>, relay=maildir, delay=[\d.]+, "
                     r"delays=[\d./]+, dsn=5\.2\.0, status=bounced \(" % bounced, log), log
    assert PASSWORD not in log and "not the password" not in log, "a password was logged"
    assert not h.problem_lines(log), h.problem_lines(log)

    report = pflogsumm(syslogd.log_path)
    counts = {what: grand_total(report, what)
              for what in ("received", "delivered", "bounced", "rejected")}
    assert counts == {"received": 2, "delivered": 3, "bounced": 1, "rejected": 1}, \
        "pflogsumm counted %s:\n%s" % (counts, report)
    # "message reject detail": RCPT, then the reason with its count.
    assert re.search(r"^  RCPT\n    Unable to relay \(total: 1\)$", report, re.M), report
    assert re.search(r"^\s+smtpd \(total: 1\)\n\s+1\s+unknown\[127\.0\.0\.1\]: SASL LOGIN "
                     r"authentication failed", report, re.M), report
    assert grand_total(report, "connections") >= 4, report

    status = instance.ctl("status")
    assert "log: syslog at %s\n" % syslogd.path in status.stdout, status.stdout


def test_mixed_run_through_pflogsumm():
    scratch = h.scratch_dir("syslogd")
    os.chmod(scratch, 0o755)
    path = os.path.join(scratch, "log")
    syslogd = FakeSyslogd(path, os.path.join(scratch, "mail.log"))
    try:
        with make_instance("syslog", path) as instance:
            instance.start()
            check_mixed_run(instance, syslogd)
    finally:
        syslogd.stop()


def check_fallback_file(instance, fallback, path):
    status = instance.ctl("status")
    assert "log: %s (syslog at %s cannot be reached)\n" % (fallback, path) in status.stdout, \
        status.stdout
    h.send(instance.port, "ann@example.test", ["carl@example.test"], MESSAGE % 3)
    instance.wait_for_mail("carl@example.test", 1)
    text = h.read_text(fallback)
    assert re.search(r"postern/master\[\d+\]: warning: syslog cannot be reached \(cannot reach "
                     r"syslog at %s: No such file or directory\): every postern process logs to "
                     r"%s instead" % (re.escape(path), re.escape(fallback)), text), text
    for program, line in (("smtpd", "connect from unknown[127.0.0.1]:"),
                          ("smtpd", ": client=unknown[127.0.0.1]"),
                          ("qmgr", "(queue active)"), ("authd", "ready")):
        assert re.search(r"postern/%s\[\d+\]: .*%s" % (program, re.escape(line)), text), \
            "%s's %r is not in the fallback file:\n%s" % (program, line, text)
    assert not h.problem_lines(text), h.problem_lines(text)
    mode = os.stat(fallback).st_mode
    assert stat.S_IMODE(mode) == 0o640 and stat.S_IMODE(
        os.stat(os.path.dirname(fallback)).st_mode) == 0o750, oct(mode)


def test_missing_syslog_falls_back_to_a_file():
    scratch = h.scratch_dir("nosyslogd")
    path = os.path.join(scratch, "no-such-socket")
    with make_instance("nosyslog", path) as instance:
        fallback = os.path.join(instance.state_dir, "log", "postern.log")
        result = instance.start()
        assert ("warning: syslog cannot be reached (cannot reach syslog at %s: No such file or "
                "directory): every postern process logs to %s instead" % (path, fallback)
                ) in result.stderr, result.stderr
        check_fallback_file(instance, fallback, path)


def test_a_restarted_syslogd_is_found_again():
    scratch = h.scratch_dir("restart")
    os.chmod(scratch, 0o755)
    path = os.path.join(scratch, "log")
    first = FakeSyslogd(path, os.path.join(scratch, "before.log"))
    with make_instance("restart", path) as instance:
        instance.start()
        instance.wait_for_daemons()
        wait_for_text(first.text, "postern/qmgr", "qmgr's lines in syslog")
        first.stop()
        second = FakeSyslogd(path, os.path.join(scratch, "after.log"))
        try:
            fallback = os.path.join(instance.state_dir, "log", "postern.log")
            # The first line of each process after the restart may go to the
            # fallback file; the ones after it reach the new socket.
            deadline = time.monotonic() + h.SOCKET_TIMEOUT
            workers = set(instance.processes_named("smtpd"))
            while True:
                # Two sessions open at once go to both workers (least loaded first).
                clients = [h.RawClient(instance.port) for _ in workers]
                for client in clients:
                    assert client.line().startswith(b"220 "), "no banner"
                for client in clients:
                    h.quit_session(client)
                time.sleep(0.2)
                served = {int(pid) for pid in re.findall(
                    r"postern/smtpd\[(\d+)\]: connect from", second.text())}
                if workers <= served or time.monotonic() > deadline:
                    break
            assert workers <= served, "smtpd %s logged nothing to the restarted syslogd:\n%s" % (
                sorted(workers - served), second.text())
            # qmgr reconnects by path (at most one try a second).
            deadline = time.monotonic() + h.SOCKET_TIMEOUT
            number = 4
            while "(queue active)" not in second.text():
                assert time.monotonic() < deadline, "qmgr logged nothing to the restarted " \
                    "syslogd:\n" + second.text()
                h.send(instance.port, "ann@example.test", ["carl@example.test"], MESSAGE % number)
                number += 1
                time.sleep(0.5)
            # A chrooted smtpd cannot reconnect by path: its first line after the
            # restart fails and goes to the fallback file while master hands it
            # a new socket. A sanitizer build does not chroot (lib/base/privileges.h),
            # so there every process reconnects at once and nothing falls back.
            if not h.sanitizer_build():
                assert "log lines go to standard error until syslog takes them" in \
                    h.read_text(fallback), h.read_text(fallback)
        finally:
            instance.stop()
            second.stop()


if __name__ == "__main__":
    h.run_tests(globals())
