#!/usr/bin/env python3
"""tests/system/authd_test.py — the authd daemon skeleton, driven over its socket.

Starts the built authd (path in $AUTHD) against a temporary configuration,
both ways master and an administrator start it: binding
run_directory/authd.sock itself, and with a listening socket passed as
--listen-fd. Frames follow lib/ipc.h: u32 length, u16 version 1, u16 type,
all big-endian; kPing is 40, kPong 41.
"""

import os
import pwd
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import textwrap
import time
import unittest

AUTHD = os.environ.get("AUTHD", "")

PING, PONG, CONTROL_REQUEST = 40, 41, 60
PONG_FRAME = struct.pack(">IHH", 0, 1, PONG)


def frame(msg_type, payload=b"", version=1):
    return struct.pack(">IHH", len(payload), version, msg_type) + payload


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class AuthdTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(AUTHD, "set AUTHD to the built authd binary")
        self.tmp = tempfile.TemporaryDirectory(prefix="postern-authd-")
        self.conf_dir = os.path.join(self.tmp.name, "etc")
        self.run_dir = os.path.join(self.tmp.name, "run")
        os.mkdir(self.conf_dir)
        os.mkdir(self.run_dir)
        # As root authd becomes auth_user; nobody exists on every Debian system.
        self.auth_user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        with open(os.path.join(self.conf_dir, "postern.conf"), "w") as f:
            f.write(textwrap.dedent(f"""\
                myhostname = mail.example.test
                run_directory = {self.run_dir}
                state_directory = {self.tmp.name}/state
                auth_user = {self.auth_user}

                [listener "smtp"]
                bind = 127.0.0.1:2525
                """))
        self.socket_path = os.path.join(self.run_dir, "authd.sock")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()

    def start(self, *extra, pass_fds=()):
        self.proc = subprocess.Popen([AUTHD, "-c", self.conf_dir, *extra], pass_fds=pass_fds,
                                     stderr=subprocess.PIPE, text=True)

    def connect(self):
        deadline = time.monotonic() + 15
        while True:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(10)
            try:
                conn.connect(self.socket_path)
                return conn
            except (FileNotFoundError, ConnectionRefusedError):
                conn.close()
                self.assertIsNone(self.proc.poll(), "authd exited during start-up")
                self.assertLess(time.monotonic(), deadline, "authd never listened")
                time.sleep(0.05)

    def assert_ping_answered(self, conn):
        conn.sendall(frame(PING))
        self.assertEqual(recv_exact(conn, 8), PONG_FRAME)

    def assert_closed_by_peer(self, conn):
        self.assertEqual(conn.recv(64), b"")

    def stop_and_expect_clean_exit(self):
        self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=10)
        self.assertEqual(self.proc.returncode, 0, stderr)
        return stderr

    def test_ping_gets_pong(self):
        self.start()
        with self.connect() as conn:
            self.assert_ping_answered(conn)
            self.assert_ping_answered(conn)
        self.stop_and_expect_clean_exit()

    def test_own_socket_is_private(self):
        self.start()
        self.connect().close()
        st = os.stat(self.socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, pwd.getpwnam(self.auth_user).pw_uid)
        self.stop_and_expect_clean_exit()

    def test_pipelined_and_split_frames(self):
        self.start()
        with self.connect() as conn:
            conn.sendall(frame(PING) * 3)
            self.assertEqual(recv_exact(conn, 24), PONG_FRAME * 3)
            whole = frame(PING)
            conn.sendall(whole[:3])
            time.sleep(0.1)
            conn.sendall(whole[3:])
            self.assertEqual(recv_exact(conn, 8), PONG_FRAME)
        self.stop_and_expect_clean_exit()

    def test_malformed_frame_closes_only_that_connection(self):
        self.start()
        with self.connect() as good, self.connect() as bad_version, \
                self.connect() as wrong_type, self.connect() as ping_with_payload:
            bad_version.sendall(frame(PING, version=99))
            self.assert_closed_by_peer(bad_version)
            wrong_type.sendall(frame(CONTROL_REQUEST, b"\0\0\0\0\0\0\0\0"))
            self.assert_closed_by_peer(wrong_type)
            ping_with_payload.sendall(frame(PING, b"x"))
            self.assert_closed_by_peer(ping_with_payload)
            self.assert_ping_answered(good)
            with self.connect() as later:
                self.assert_ping_answered(later)
        self.assertIsNone(self.proc.poll())
        stderr = self.stop_and_expect_clean_exit()
        self.assertIn("version 99", stderr)

    def test_listen_fd_from_master(self):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        listener.listen(8)
        self.start("--listen-fd", str(listener.fileno()), pass_fds=(listener.fileno(),))
        listener.close()
        with self.connect() as conn:
            self.assert_ping_answered(conn)
        self.stop_and_expect_clean_exit()

    def test_sighup_keeps_serving(self):
        self.start()
        with self.connect() as conn:
            self.assert_ping_answered(conn)
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            self.assert_ping_answered(conn)
        self.assertIsNone(self.proc.poll())
        self.stop_and_expect_clean_exit()

    @unittest.skipUnless(os.geteuid() == 0, "privileges are dropped only when started as root")
    def test_runs_as_auth_user(self):
        self.start()
        self.connect().close()
        with open(f"/proc/{self.proc.pid}/status") as f:
            uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
        self.assertEqual(set(uids), {str(pwd.getpwnam(self.auth_user).pw_uid)})
        self.stop_and_expect_clean_exit()

    def test_bad_command_line_exits_2(self):
        for args in ([], ["-c"], ["-c", self.conf_dir, "--listen-fd", "x"],
                     ["-c", self.conf_dir, "extra"]):
            result = subprocess.run([AUTHD, *args], capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, (args, result))
            self.assertIn("usage: authd", result.stderr)

    def test_bad_config_exits_1(self):
        with open(os.path.join(self.conf_dir, "postern.conf"), "a") as f:
            f.write("no_such_key = 1\n")
        result = subprocess.run([AUTHD, "-c", self.conf_dir], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertIn("no_such_key", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
