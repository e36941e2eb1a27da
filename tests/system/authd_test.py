#!/usr/bin/env python3
"""tests/system/authd_test.py — the authd daemon, driven over its socket.

The first tests start the built authd alone against a temporary
configuration, both ways master and an administrator start it: binding
run_directory/authd.sock itself, and with a listening socket passed as
--listen-fd. The others run a whole instance (master starts authd) through
the harness, add a user with `postern user add`, and speak the AUTH messages
to authd as smtpd would: LOGIN exchanges ([MS-XLOGIN]: the challenges are
"Username:" and "Password:"), failures, the lockout per (client address,
user) (also for a user name too long for libsasl2), cancellation, unknown
exchanges, malformed frames, and a reload that changes the mechanisms. The
messages (Ping, Pong, AuthStart, AuthStep, AuthCancel, AuthReply of
lib/ipc/messages_auth.h) are spoken through postern_wire.
"""

import base64
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
import postern_wire as wire  # noqa: E402

PASSWORD = "Secret-1"
ATTACKER, OFFICE = "192.0.2.66", "198.51.100.7"


def connect_when_listening(path, still_starting=lambda: None, timeout=h.SOCKET_TIMEOUT):
    """A wire.Connection to path once something listens there; still_starting()
    asserts that the daemon has not given up meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return wire.Connection.unix(path, h.SOCKET_TIMEOUT)
        except (FileNotFoundError, ConnectionRefusedError):
            still_starting()
            assert time.monotonic() < deadline, "authd never listened on %s" % path
            time.sleep(0.05)


# ---- authd on its own ----------------------------------------------------------


class LoneAuthd:
    """A temporary configuration for the built authd, started by start() and
    stopped (SIGTERM, exit status 0 expected) by stop()."""

    def __init__(self):
        root = h.scratch_dir("authd")
        self.conf_dir = os.path.join(root, "etc")
        self.run_dir = os.path.join(root, "run")
        os.mkdir(self.conf_dir)
        os.mkdir(self.run_dir)
        # As root authd becomes auth_user; nobody exists on every Debian system.
        self.auth_user = "nobody" if h.running_as_root() else pwd.getpwuid(os.geteuid()).pw_name
        self.conf_path = os.path.join(self.conf_dir, "postern.conf")
        with open(self.conf_path, "w") as f:
            f.write(textwrap.dedent(f"""\
                myhostname = mail.example.test
                run_directory = {self.run_dir}
                state_directory = {root}/state
                auth_user = {self.auth_user}

                [listener "smtp"]
                bind = 127.0.0.1:2525
                """))
        self.socket_path = os.path.join(self.run_dir, "authd.sock")
        self.proc = None

    def start(self, *extra, pass_fds=()):
        self.proc = h.spawn([h.daemon_path("authd"), "-c", self.conf_dir, *extra],
                            pass_fds=pass_fds, stderr=subprocess.PIPE, text=True)

    def connect(self):
        def still_starting():
            assert self.proc.poll() is None, "authd exited during start-up"
        return connect_when_listening(self.socket_path, still_starting, timeout=15)

    def stop(self):
        """SIGTERM; asserts exit status 0; returns what authd wrote to stderr."""
        self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=10)
        assert self.proc.returncode == 0, stderr
        return stderr


def assert_ping_answered(conn):
    conn.send("Ping")
    conn.expect("Pong")


def test_ping_gets_pong():
    authd = LoneAuthd()
    authd.start()
    with authd.connect() as conn:
        assert_ping_answered(conn)
        assert_ping_answered(conn)
    authd.stop()


def test_own_socket_is_private():
    authd = LoneAuthd()
    authd.start()
    authd.connect().close()
    st = os.stat(authd.socket_path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == pwd.getpwnam(authd.auth_user).pw_uid, st.st_uid
    authd.stop()


def test_pipelined_and_split_frames():
    authd = LoneAuthd()
    authd.start()
    with authd.connect() as conn:
        conn.send_bytes(wire.frame("Ping") * 3)
        for _ in range(3):
            conn.expect("Pong")
        whole = wire.frame("Ping")
        conn.send_bytes(whole[:3])
        time.sleep(0.1)
        conn.send_bytes(whole[3:])
        conn.expect("Pong")
        assert conn.buffer == b"", "authd sent more than one Pong a Ping: %r" % conn.buffer
    authd.stop()


def test_malformed_frame_closes_only_that_connection():
    authd = LoneAuthd()
    authd.start()
    with authd.connect() as good, authd.connect() as bad_version, \
            authd.connect() as wrong_type, authd.connect() as ping_with_payload:
        bad_version.send_bytes(wire.raw_frame("Ping", version=99))
        assert bad_version.closed_by_peer()
        wrong_type.send("ControlRequest", verb="", args=[])
        assert wrong_type.closed_by_peer()
        ping_with_payload.send_bytes(wire.raw_frame("Ping", b"x"))
        assert ping_with_payload.closed_by_peer()
        assert_ping_answered(good)
        with authd.connect() as later:
            assert_ping_answered(later)
    assert authd.proc.poll() is None, "authd exited"
    assert "version 99" in authd.stop()


def test_listen_fd_from_master():
    authd = LoneAuthd()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(authd.socket_path)
    listener.listen(8)
    authd.start("--listen-fd", str(listener.fileno()), pass_fds=(listener.fileno(),))
    listener.close()
    with authd.connect() as conn:
        assert_ping_answered(conn)
    authd.stop()


def test_sighup_keeps_serving():
    authd = LoneAuthd()
    authd.start()
    with authd.connect() as conn:
        assert_ping_answered(conn)
        authd.proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        assert_ping_answered(conn)
    assert authd.proc.poll() is None, "authd exited on SIGHUP"
    authd.stop()


def test_runs_as_auth_user():
    if not h.running_as_root():
        raise h.Skip("privileges are dropped only when started as root")
    authd = LoneAuthd()
    authd.start()
    authd.connect().close()
    assert set(h.proc_uids(authd.proc.pid)) == {pwd.getpwnam(authd.auth_user).pw_uid}
    authd.stop()


def test_bad_command_line_exits_2():
    authd = LoneAuthd()
    for args in ([], ["-c"], ["-c", authd.conf_dir, "--listen-fd", "x"],
                 ["-c", authd.conf_dir, "extra"]):
        result = subprocess.run([h.daemon_path("authd"), *args], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 2, (args, result)
        assert "usage: authd" in result.stderr, (args, result)


def test_bad_config_exits_1():
    authd = LoneAuthd()
    with open(authd.conf_path, "a") as f:
        f.write("no_such_key = 1\n")
    result = subprocess.run([h.daemon_path("authd"), "-c", authd.conf_dir], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1, result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "cannot start: " in result.stderr, result.stderr
    assert "no_such_key" in result.stderr, result


def test_unusable_socket_exits_1_with_one_line():
    authd = LoneAuthd()
    read_end, write_end = os.pipe()
    try:
        result = subprocess.run([h.daemon_path("authd"), "-c", authd.conf_dir, "--listen-fd",
                                 str(read_end)], pass_fds=(read_end,), capture_output=True,
                                text=True, timeout=30)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert result.returncode == 1, result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "cannot start: descriptor %d is not a listening socket" % read_end in result.stderr, \
        result.stderr


# ---- authd of a running instance -----------------------------------------------


class AuthConnection:
    """One connection to authd's socket, speaking the Auth* messages as smtpd does."""

    def __init__(self, path):
        self.wire = connect_when_listening(path)

    def close(self):
        self.wire.close()

    def reply(self):
        """(auth_id, outcome enumerator, data) of the next AuthReply."""
        try:
            reply = self.wire.expect("AuthReply")
        except EOFError:
            raise AssertionError("authd closed the connection instead of answering")
        return reply.auth_id, reply.outcome, reply.data

    def start(self, auth_id, mechanism, client, initial_response=None):
        self.wire.send("AuthStart", auth_id=auth_id, mechanism=mechanism, client_address=client,
                       initial_response=initial_response)
        return self.reply()

    def step(self, auth_id, response):
        self.wire.send("AuthStep", auth_id=auth_id, response=response)
        return self.reply()

    def cancel(self, auth_id):
        self.wire.send("AuthCancel", auth_id=auth_id)

    def login(self, auth_id, client, user, password):
        """A whole LOGIN exchange with the user name as initial response; the last reply."""
        first = self.start(auth_id, "LOGIN", client, user.encode())
        if first[1] != "kContinue":
            return first
        assert first == (auth_id, "kContinue", b"Password:"), first
        return self.step(auth_id, password.encode())


def instance_with_alice():
    """A started instance with user alice; returns (instance, connect), where
    connect() opens an AuthConnection to its authd."""
    instance = h.Instance(settings={"auth_lockout_failures": 3, "auth_lockout_time": "15m"})
    instance.add_user("alice", PASSWORD)
    instance.start()
    path = os.path.join(instance.run_dir, "authd.sock")
    return instance, lambda: AuthConnection(path)


def test_login_exchange_succeeds_and_logs_no_secret():
    instance, connect = instance_with_alice()
    conn = connect()
    assert conn.start(1, "LOGIN", OFFICE) == (1, "kContinue", b"Username:")
    assert conn.step(1, b"alice") == (1, "kContinue", b"Password:")
    assert conn.step(1, PASSWORD.encode()) == (1, "kSuccess", b"alice")
    # The initial-response form goes straight to the password.
    assert conn.login(2, OFFICE, "alice", PASSWORD) == (2, "kSuccess", b"alice")
    log = instance.log()
    assert "AUTH LOGIN succeeded: user alice from %s" % OFFICE in log
    for secret in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode()):
        assert secret not in log, "the log holds %r" % secret
    conn.close()


def test_wrong_password_and_unknown_user_fail_alike():
    instance, connect = instance_with_alice()
    conn = connect()
    # A failure names the user it was for (smtpd logs it), never the password.
    assert conn.login(1, OFFICE, "alice", "secret-1") == (1, "kFailure", b"alice")
    assert conn.login(2, OFFICE, "mallory", PASSWORD) == (2, "kFailure", b"mallory")
    assert conn.start(3, "PLAIN", OFFICE, b"\0alice\0" + PASSWORD.encode()) == \
        (3, "kUnknownMechanism", b"")
    assert "AUTH LOGIN failed: user alice from %s" % OFFICE in instance.log()
    conn.close()


def test_lockout_from_one_address_spares_another():
    instance, connect = instance_with_alice()
    conn = connect()
    for auth_id in (1, 2, 3):
        assert conn.login(auth_id, ATTACKER, "alice", "guess%d" % auth_id) == \
            (auth_id, "kFailure", b"alice")
    # Locked out: even the right password fails from the attacker's address ...
    assert conn.login(4, ATTACKER, "alice", PASSWORD) == (4, "kFailure", b"alice")
    # ... but not from the user's own, nor for another user from the attacker's.
    assert conn.login(5, OFFICE, "alice", PASSWORD) == (5, "kSuccess", b"alice")
    log = instance.log()
    assert "user alice from %s locked out" % ATTACKER in log
    assert "AUTH refused: user alice from %s is locked out" % ATTACKER in log
    conn.close()


def test_overlong_user_name_fails_and_counts_toward_the_lockout():
    # Issue 8 point 10: libsasl2 cannot canonicalise a name of 3,000
    # characters (SASL_BUFOVER), which was answered as a temporary
    # failure and never counted. It is a failure, counted per pair.
    instance, connect = instance_with_alice()
    conn = connect()
    for auth_id in (1, 2, 3):
        challenge = conn.start(auth_id, "NTLM", ATTACKER, h.NTLM_NEGOTIATE)
        assert challenge[:2] == (auth_id, "kContinue"), challenge
        assert conn.step(auth_id, h.ntlm_authenticate("a" * 3000)) == \
            (auth_id, "kFailure", b"a" * 3000)
    # The log shortens the name.
    assert re.search(r"user a+\.\.\. from %s locked out" % ATTACKER, instance.log())
    conn.close()


def test_cancel_and_unknown_exchanges():
    _, connect = instance_with_alice()
    conn = connect()
    assert conn.start(7, "LOGIN", OFFICE) == (7, "kContinue", b"Username:")
    conn.cancel(7)  # no answer
    assert conn.step(7, b"alice") == (7, "kFailure", b"")
    assert conn.step(8, b"alice") == (8, "kFailure", b"")
    # An id used twice ends both.
    assert conn.start(9, "LOGIN", OFFICE) == (9, "kContinue", b"Username:")
    assert conn.start(9, "LOGIN", OFFICE) == (9, "kFailure", b"")
    assert conn.step(9, b"alice") == (9, "kFailure", b"")
    assert conn.login(10, OFFICE, "alice", PASSWORD) == (10, "kSuccess", b"alice")
    conn.close()


def test_malformed_payload_closes_only_that_connection():
    _, connect = instance_with_alice()
    good, bad, truncated = connect(), connect(), connect()
    assert good.start(1, "LOGIN", OFFICE, b"alice") == (1, "kContinue", b"Password:")
    assert bad.start(1, "LOGIN", OFFICE, b"alice") == (1, "kContinue", b"Password:")
    # A response whose length says 16 bytes, followed by 5.
    short = wire.payload("AuthStep", auth_id=1, response=b"x" * 16)[:-11]
    bad.wire.send_bytes(wire.raw_frame("AuthStep", short))
    assert bad.wire.closed_by_peer(), "authd kept a connection that sent a short string"
    truncated.wire.send_bytes(wire.raw_frame("AuthStart", wire.payload_prefix(
        "AuthStart", auth_id=2, mechanism="LOGIN")))
    assert truncated.wire.closed_by_peer(), "authd kept a connection that sent half an AuthStart"
    assert good.step(1, PASSWORD.encode()) == (1, "kSuccess", b"alice")
    later = connect()
    assert later.login(2, OFFICE, "alice", PASSWORD) == (2, "kSuccess", b"alice")
    for conn in (good, bad, truncated, later):
        conn.close()


def test_reload_changes_the_mechanisms():
    instance, connect = instance_with_alice()
    conn = connect()
    assert conn.login(1, OFFICE, "alice", PASSWORD) == (1, "kSuccess", b"alice")
    instance.listeners["smtp"]["auth_mechanisms"] = "NTLM"
    instance.write_config()
    result = instance.ctl("reload")
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + h.SOCKET_TIMEOUT
    auth_id = 2
    while conn.start(auth_id, "LOGIN", OFFICE)[1] != "kUnknownMechanism":
        conn.cancel(auth_id)
        assert time.monotonic() < deadline, "authd still offers LOGIN"
        auth_id += 1
        time.sleep(0.1)
    conn.close()


def test_renaming_the_host_keeps_every_login():
    """Users are stored in the realm of the first `user add` (myhostname then);
    a new myhostname and a reload change nothing for them, and a user added
    afterwards joins them in that realm."""
    instance, connect = instance_with_alice()
    old_realm = instance.settings["myhostname"]
    # master is ready before authd has necessarily said its realm.
    realm_line = "users are looked up in realm %s" % old_realm
    h.wait_until(lambda: realm_line in instance.log(), "authd's realm line")
    assert instance.log().count(realm_line) == 1
    instance.settings["myhostname"] = "renamed.example.test"
    instance.write_config()
    result = instance.ctl("reload")
    assert result.returncode == 0, result.stderr
    h.wait_until(lambda: instance.log().count("users are looked up in realm ") == 2,
                 "authd reloads")
    assert instance.log().count("users are looked up in realm %s" % old_realm) == 2
    conn = connect()
    assert conn.login(1, OFFICE, "alice", PASSWORD) == (1, "kSuccess", b"alice")
    instance.add_user("bob", PASSWORD)
    assert conn.login(2, OFFICE, "bob", PASSWORD) == (2, "kSuccess", b"bob")
    listed = instance.ctl("user", "list")
    assert listed.stdout.split() == ["alice@" + old_realm, "bob@" + old_realm], listed.stdout
    conn.close()


if __name__ == "__main__":
    h.run_tests(globals())
