#!/usr/bin/env python3
"""tests/system/lifecycle_test.py — start, status, reload and stop as the operator sees them.

- `start` exits 0 and the port then greets; `status` names master's pid and
  the listening address; a second `start` fails saying postern is already
  running;
- `start` on a port already in use fails naming the address, and leaves no
  process behind; `start` (and `check`) with an unknown key fails naming
  file:line and the key;
- as root, `start` with a configured user that does not exist fails naming
  the user and its key;
- as root: smtpd runs as postern, chrooted into run_directory/empty; qmgr
  as postern-queue; authd as postern-auth;
- `reload` keeps an established session alive (EHLO before, MAIL/RCPT/DATA
  after, on the same connection) and starts a listener added to the file;
- `stop` closes the listeners at once, lets an open session finish its
  transaction within shutdown_grace, exits 0 and leaves no process; after
  it `status` says postern is not running;
- sessions still open when shutdown_grace runs out each get
  `421 4.3.2 Service shutting down, closing transmission channel` before
  the connection closes (RFC 5321 3.8): an idle one, one in the middle of
  DATA (whose message is not delivered), and one inside TLS, where the
  421 comes encrypted;
- POSTERN_DAEMON_DIR locates master and every daemon master starts, when
  daemon_directory names a directory that does not exist.
"""

import os
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

BANNER = "220 mail.example.test ESMTP postern ready"


def open_session(port):
    """A raw session that has read the banner and said EHLO."""
    client = h.RawClient(port)
    assert client.line().decode() == BANNER
    client.send("EHLO client.example.test\r\n")
    reply = client.reply()
    assert reply[0] == "250-mail.example.test Hello 127.0.0.1", reply
    return client


def finish_transaction(client, rcpt, text):
    """MAIL, RCPT, DATA on an open session; returns the queue id."""
    assert client.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
    assert client.command("RCPT TO:<%s>" % rcpt) == "250 2.1.5 Recipient OK"
    return send_data(client, text)


def send_data(client, text):
    assert client.command("DATA").startswith("354 ")
    reply = client.command(text + "\r\n.")
    assert reply.startswith("250 "), reply
    return h.queue_id_from(reply[4:])


def check_start_and_status(instance):
    instance.start()
    client = h.RawClient(instance.port)
    assert client.line().decode() == BANNER
    assert client.command("QUIT") == "221 2.0.0 mail.example.test Service closing transmission channel"
    client.close()

    status = instance.ctl("status")
    assert status.returncode == 0, status.stderr
    pid = instance.master_pid()
    assert pid is not None and str(pid) in status.stdout, "status does not name master pid %s:\n%s" % (
        pid, status.stdout)
    assert "127.0.0.1:%d" % instance.port in status.stdout, "status does not name the listener:\n%s" % (
        status.stdout)

    again = instance.ctl("start")
    assert again.returncode == 1, "second start exited %d" % again.returncode
    assert "already running" in again.stderr, again.stderr
    assert instance.master_pid() == pid, "second start replaced master.pid"


def check_port_in_use():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with h.Instance(listeners={"smtp": {"bind": "127.0.0.1:%d" % port}}, name="busy") as busy:
            result = busy.start(expect_ok=False)
            assert result.returncode == 1, "start on a busy port exited %d" % result.returncode
            assert "127.0.0.1:%d" % port in result.stderr, \
                "the error does not name the address:\n" + result.stderr
            left = busy.record.wait_gone(5)
            assert not left, "processes left after a failed start: %s" % left


def check_bad_config():
    with h.Instance(name="badconf") as bad:
        text = bad.config_text()
        lines = text.splitlines()
        line_number = 3
        lines.insert(line_number - 1, "bogus_key = 1")
        bad.write_config(text="\n".join(lines) + "\n")
        for verb in ("check", "start"):
            result = bad.ctl(verb)
            assert result.returncode == 1, "%s with an unknown key exited %d" % (verb, result.returncode)
            where = "%s:%d" % (bad.conf_path, line_number)
            assert where in result.stderr and "bogus_key" in result.stderr, \
                "%s: error does not name %s and bogus_key:\n%s" % (verb, where, result.stderr)
        assert bad.master_pid() is None, "master.pid written for a bad config"


def check_missing_user():
    if not h.running_as_root():
        print("not root: the missing-user check is left out")
        return
    with h.Instance(name="nouser", settings={"queue_user": "postern-no-such-user"}) as bad:
        result = bad.start(expect_ok=False)
        assert result.returncode == 1, "start with a missing user exited %d" % result.returncode
        assert "postern-no-such-user" in result.stderr and "queue_user" in result.stderr, \
            "error does not name the user and its key:\n%s" % result.stderr
        assert not bad.record.wait_gone(5), "processes left after a failed start"


def check_privileges(instance):
    if not h.running_as_root():
        print("not root: privilege checks left out")
        return
    import pwd
    expected = {"smtpd": "postern", "qmgr": "postern-queue", "authd": "postern-auth"}
    instance.wait_for_daemons()
    for program, user in expected.items():
        pids = instance.processes_named(program)
        assert pids, "no %s process" % program
        uid = pwd.getpwnam(user).pw_uid
        for pid in pids:
            assert h.proc_uids(pid) == [uid] * 4, "%s (pid %d) uids %s, expected %s (%d)" % (
                program, pid, h.proc_uids(pid), user, uid)
    empty = h.worker_root(instance.run_dir)
    for pid in instance.processes_named("smtpd"):
        root = os.readlink("/proc/%d/root" % pid)
        assert root == empty, "smtpd (pid %d) root is %s, expected %s" % (pid, root, empty)
    assert len(instance.processes_named("smtpd")) == 2, "smtpd_workers = 2 but %s run" % (
        instance.processes_named("smtpd"))
    print("privileges: smtpd as postern in %s, qmgr as postern-queue, authd as postern-auth" % empty)


def check_reload(instance):
    client = open_session(instance.port)
    new_port = instance.add_listener("second")
    instance.write_config()
    result = instance.ctl("reload")
    assert result.returncode == 0, "reload failed: %s%s" % (result.stdout, result.stderr)
    assert h.wait_for_port(new_port), "the added listener does not accept"
    queue_id = finish_transaction(client, "bob@example.test", "Subject: across reload\r\n\r\nstill here")
    assert client.command("QUIT").startswith("221 ")
    client.close()
    [delivered] = instance.wait_for_mail("bob@example.test", 1)
    h.check_delivered(delivered, queue_id, b"Subject: across reload\r\n\r\nstill here\r\n")

    fresh = h.RawClient(new_port)
    assert fresh.line().decode() == BANNER
    fresh.close()
    h.send(new_port, "ann@example.test", ["carol@example.test"], b"Subject: new listener\r\n\r\nhi\r\n")
    instance.wait_for_mail("carol@example.test", 1)


def check_stop(instance):
    client = open_session(instance.port)
    assert client.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
    assert client.command("RCPT TO:<dave@example.test>") == "250 2.1.5 Recipient OK"
    grace = 5
    started = time.monotonic()
    stopper = subprocess.Popen([h.postern_cli(), "-c", instance.conf_dir, "stop"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + grace
        while not h.port_refuses(instance.port):
            assert time.monotonic() < deadline, "listener still accepts after stop"
            time.sleep(0.05)
        assert stopper.poll() is None, "stop returned while a session was open"
        queue_id = send_data(client, "Subject: during stop\r\n\r\nfinished in grace")
        assert time.monotonic() - started < grace, "the session could not finish within shutdown_grace"
        assert client.command("QUIT").startswith("221 ")
        client.close()
        out, err = stopper.communicate(timeout=grace + 15)
    finally:
        if stopper.poll() is None:
            stopper.kill()
            stopper.wait()
    assert stopper.returncode == 0, "stop exited %d: %s%s" % (stopper.returncode, out, err)
    left = instance.record.wait_gone(5)
    assert not left, "processes left after stop: %s" % left
    status = instance.ctl("status")
    assert status.returncode == 1 and "not running" in status.stderr, (status.returncode, status.stderr)
    print("message %s acknowledged during stop" % queue_id)


SHUTTING_DOWN = "421 4.3.2 Service shutting down, closing transmission channel"


def read_to_end(read_line):
    """Every line until the server closes the connection."""
    lines = []
    for line in iter(read_line, b""):
        lines.append(line.decode(errors="replace"))
    return lines


def check_sessions_told_at_the_end_of_grace():
    with h.Instance(settings={"shutdown_grace": "1s"}) as instance:
        instance.use_certificate()
        instance.start()
        idle = open_session(instance.port)
        in_data = open_session(instance.port)
        assert in_data.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
        assert in_data.command("RCPT TO:<erin@example.test>") == "250 2.1.5 Recipient OK"
        assert in_data.command("DATA").startswith("354 ")
        in_data.send("Subject: cut short\r\n\r\nhalf a message\r\n")
        encrypted = open_session(instance.port)
        assert encrypted.command("STARTTLS") == "220 2.0.0 SMTP server ready"
        tls = h.tls_client_context(ssl.TLSVersion.TLSv1_3).wrap_socket(
            encrypted.sock, server_hostname=h.HOSTNAME)
        tls_lines = tls.makefile("rb")
        tls.sendall(b"EHLO client.example.test\r\n")
        for line in iter(tls_lines.readline, b""):
            if line.startswith(b"250 "):
                break
        instance.stop()
        assert read_to_end(idle.line) == [SHUTTING_DOWN]
        assert read_to_end(in_data.line) == [SHUTTING_DOWN]
        assert read_to_end(lambda: tls_lines.readline().rstrip(b"\r\n")) == [SHUTTING_DOWN]
        for client in (idle, in_data):
            client.close()
        tls.close()
        assert not instance.delivered("erin@example.test"), "the message cut short was delivered"


def check_daemon_directory_from_environment():
    with h.Instance(settings={"daemon_directory": "/nonexistent/postern"}) as instance:
        instance.record.start_sampling()
        env = dict(os.environ, POSTERN_DAEMON_DIR=instance.daemon_dir)
        result = subprocess.run([h.postern_cli(), "-c", instance.conf_dir, "start"], env=env,
                                capture_output=True, text=True, timeout=90)
        assert result.returncode == 0, "start with POSTERN_DAEMON_DIR: %s%s" % (
            result.stdout, result.stderr)
        found = instance.wait_for_daemons()
        assert instance.processes_named("master") == [instance.master_pid()], found
        assert h.wait_for_port(instance.port), "the listener does not accept"


def test():
    check_daemon_directory_from_environment()
    with h.Instance() as instance:
        check_start_and_status(instance)
        check_privileges(instance)
        check_reload(instance)
        check_stop(instance)
    check_sessions_told_at_the_end_of_grace()
    check_port_in_use()
    check_bad_config()
    check_missing_user()


if __name__ == "__main__":
    h.run_tests(globals())
