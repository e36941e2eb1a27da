#!/usr/bin/env python3
"""tests/system/cli_test.py — the `postern` control CLI as an operator uses it.

Runs the built binary (path in $POSTERN) against a temporary configuration
directory. It never needs the real master: where a daemon must answer, a
stand-in written here listens on the control socket (speaking the framing
of lib/ipc/frame.h) or plays master's start-up protocol (`--ready-fd N`, one line).
Expected texts come from the operator contract (doc/architecture.md,
postern(1)), not from the program's output.
"""

import os
import pwd
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest

POSTERN = os.environ.get("POSTERN", "")

PROTOCOL_VERSION = 1
CONTROL_REQUEST = 60
CONTROL_REPLY = 61

SECRET = "Tr0ub4dor&3-secret"


def frame(msg_type, payload):
    return struct.pack(">IHH", len(payload), PROTOCOL_VERSION, msg_type) + payload


def put_str(text):
    data = text.encode()
    return struct.pack(">I", len(data)) + data


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return data


def read_control_request(conn):
    length, version, msg_type = struct.unpack(">IHH", read_exact(conn, 8))
    payload = read_exact(conn, length)
    assert version == PROTOCOL_VERSION and msg_type == CONTROL_REQUEST, (version, msg_type)

    def take_str(offset):
        (size,) = struct.unpack_from(">I", payload, offset)
        return payload[offset + 4:offset + 4 + size].decode(), offset + 4 + size

    verb, offset = take_str(0)
    (argc,) = struct.unpack_from(">I", payload, offset)
    offset += 4
    args = []
    for _ in range(argc):
        arg, offset = take_str(offset)
        args.append(arg)
    assert offset == len(payload), "trailing bytes in control request"
    return verb, args


class FakeDaemon:
    """Answers control requests on a Unix socket, one per connection."""

    def __init__(self, path, replies):
        self.path = path
        self.replies = replies  # verb -> (ok, text)
        self.requests = []
        self.on_request = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                verb, args = read_control_request(conn)
                self.requests.append((verb, args))
                ok, text = self.replies.get(verb, (False, "no such verb"))
                conn.sendall(frame(CONTROL_REPLY, bytes([1 if ok else 0]) + put_str(text)))
                if self.on_request:
                    self.on_request(verb)

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


class CliTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(POSTERN, "set POSTERN to the built postern binary")
        self.tmp = tempfile.TemporaryDirectory(prefix="postern-cli-")
        self.dir = self.tmp.name
        self.conf_dir = os.path.join(self.dir, "etc")
        self.run_dir = os.path.join(self.dir, "run")
        self.daemon_dir = os.path.join(self.dir, "libexec")
        for d in (self.conf_dir, self.run_dir, self.daemon_dir):
            os.mkdir(d)
        self.write_config()
        self.children = []
        self.daemons = []

    def tearDown(self):
        for daemon in self.daemons:
            daemon.close()
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait()
        self.tmp.cleanup()

    def write_config(self, extra_global="", auth_user=None, state_directory=None):
        me = pwd.getpwuid(os.geteuid()).pw_name
        text = textwrap.dedent(f"""\
            myhostname = mail.example.test
            state_directory = {state_directory or self.dir + "/state"}
            run_directory = {self.run_dir}
            smtpd_user = {me}
            queue_user = {me}
            auth_user = {auth_user or me}
            shutdown_grace = 1s
            """) + extra_global + textwrap.dedent("""\

            [listener "smtp"]
            bind = 127.0.0.1:2525
            """)
        with open(os.path.join(self.conf_dir, "postern.conf"), "w") as f:
            f.write(text)

    def postern(self, *args, stdin="", config=True, env_extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTERN_")}
        env["POSTERN_DAEMON_DIR"] = self.daemon_dir
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=1")
        env.update(env_extra or {})
        argv = [POSTERN] + (["-c", self.conf_dir] if config else []) + list(args)
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env,
                               timeout=60)

    def assert_failure(self, result, *fragments):
        self.assertEqual(result.returncode, 1, result)
        lines = result.stderr.splitlines()
        self.assertGreaterEqual(len(lines), 1, result)
        for line in lines:
            self.assertTrue(line.startswith("postern: "), result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)

    def assert_usage_error(self, result):
        self.assertEqual(result.returncode, 2, result)
        self.assertIn("usage: postern [-c CONFIG_DIR]", result.stderr)
        self.assertEqual(result.stdout, "")

    def fake_daemon(self, name, replies):
        daemon = FakeDaemon(os.path.join(self.run_dir, name), replies)
        self.daemons.append(daemon)
        return daemon

    def fake_master_process(self):
        """A live process whose pid master.pid names."""
        child = subprocess.Popen(["sleep", "60"])
        self.children.append(child)
        with open(os.path.join(self.run_dir, "master.pid"), "w") as f:
            f.write(f"{child.pid}\n")
        return child

    def install_fake_master(self, body):
        """A master program in POSTERN_DAEMON_DIR that records its argv."""
        path = os.path.join(self.daemon_dir, "master")
        argv_file = os.path.join(self.dir, "master-argv")
        with open(path, "w") as f:
            f.write(f"#!{sys.executable}\nimport os, sys\n"
                    f"open({argv_file!r}, 'w').write('\\n'.join(sys.argv[1:]))\n"
                    "args = sys.argv[1:]\n"
                    "ready = int(args[args.index('--ready-fd') + 1]) if '--ready-fd' in args else -1\n"
                    + textwrap.dedent(body))
        os.chmod(path, 0o755)
        return argv_file

    # Usage errors: exit 2 with the usage text.

    def test_usage_errors_exit_2(self):
        self.assert_usage_error(self.postern(config=False))
        self.assert_usage_error(self.postern("frobnicate"))
        self.assert_usage_error(self.postern("-x", "status"))
        self.assert_usage_error(self.postern("-c", config=False))
        self.assert_usage_error(self.postern("stop", "now"))
        self.assert_usage_error(self.postern("queue"))
        self.assert_usage_error(self.postern("queue", "show"))
        self.assert_usage_error(self.postern("queue", "flush", "extra"))
        self.assert_usage_error(self.postern("user", "add"))
        self.assert_usage_error(self.postern("user", "rename", "a", "b"))
        self.assert_usage_error(self.postern("config", "-n", "-d"))
        self.assert_usage_error(self.postern("config", "-q"))
        self.assert_usage_error(self.postern("block", "add"))
        self.assert_usage_error(self.postern("block", "add", "192.0.2.1", "--until", "1h"))

    def test_help_goes_to_stdout(self):
        result = self.postern("--help", config=False)
        self.assertEqual(result.returncode, 0)
        self.assertIn("usage: postern [-c CONFIG_DIR]", result.stdout)

    # check

    def test_check_good_config_is_silent(self):
        result = self.postern("check")
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "", ""))

    def test_check_unknown_key_names_file_line_and_key(self):
        self.write_config(extra_global="no_such_key = 1\n")
        result = self.postern("check")
        conf = os.path.join(self.conf_dir, "postern.conf")
        # The stray key is the eighth line of the file written above.
        self.assert_failure(result, f"{conf}:8", "no_such_key")
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)

    def test_check_missing_config_file(self):
        os.remove(os.path.join(self.conf_dir, "postern.conf"))
        self.assert_failure(self.postern("check"), os.path.join(self.conf_dir, "postern.conf"))

    @unittest.skipUnless(os.geteuid() == 0, "user look-ups are checked only as root")
    def test_check_as_root_names_a_missing_user(self):
        self.write_config(auth_user="postern-test-no-such-user")
        self.assert_failure(self.postern("check"), "postern-test-no-such-user", "auth_user")

    def test_check_uncreatable_state_directory(self):
        blocker = os.path.join(self.dir, "file")
        open(blocker, "w").close()
        self.write_config(state_directory=f"{blocker}/sub/state")
        self.assert_failure(self.postern("check"), "state_directory",
                            f"{blocker} is not a directory")

    # config

    def config_lines(self, *args):
        result = self.postern("config", *args)
        self.assertEqual((result.returncode, result.stderr), (0, ""), result)
        lines = result.stdout.splitlines()
        for line in lines:
            self.assertRegex(line, r"^[a-z0-9_.\-]+ = ")
        return lines

    def test_config_shows_effective_values(self):
        lines = self.config_lines()
        self.assertIn("myhostname = mail.example.test", lines)
        self.assertIn(f"run_directory = {self.run_dir}", lines)
        self.assertIn("smtpd_workers = 2", lines)
        self.assertIn(f"sasldb_path = {self.conf_dir}/sasldb2", lines)
        self.assertIn("listener.smtp.bind = 127.0.0.1:2525", lines)
        self.assertIn("listener.smtp.max_recipients = 200", lines)

    def test_config_n_shows_only_what_the_file_sets(self):
        lines = self.config_lines("-n")
        self.assertIn("myhostname = mail.example.test", lines)
        self.assertIn("shutdown_grace = 1s", lines)
        self.assertNotIn("smtpd_workers = 2", lines)
        self.assertFalse([l for l in lines if l.startswith("listener.smtp.max_recipients")])

    def test_config_d_shows_defaults(self):
        lines = self.config_lines("-d")
        self.assertIn("shutdown_grace = 30s", lines)
        self.assertIn("state_directory = /var/lib/postern", lines)
        self.assertIn("run_directory = /run/postern", lines)
        self.assertIn("listener.smtp.max_message_size = 10m", lines)
        self.assertNotIn("myhostname = mail.example.test", lines)

    def test_config_selected_keys_in_the_order_given(self):
        self.assertEqual(self.config_lines("run_directory", "myhostname"),
                         [f"run_directory = {self.run_dir}", "myhostname = mail.example.test"])
        self.assertEqual(self.config_lines("myhostname"), ["myhostname = mail.example.test"])
        self.assertEqual(self.config_lines("-d", "smtpd_workers"), ["smtpd_workers = 2"])

    def test_config_unknown_key_is_an_error(self):
        result = self.postern("config", "myhostname", "no_such_key")
        self.assert_failure(result, "no_such_key")
        self.assertEqual(result.stdout, "")

    def test_config_dir_from_environment(self):
        result = self.postern("config", "myhostname", config=False,
                              env_extra={"POSTERN_CONFIG_DIR": self.conf_dir})
        self.assertEqual((result.returncode, result.stdout), (0, "myhostname = mail.example.test\n"))

    # user

    def test_user_lifecycle_never_shows_the_password(self):
        outputs = []

        def run(*args, stdin=""):
            result = self.postern("user", *args, stdin=stdin)
            outputs.append(result.stdout + result.stderr)
            return result

        self.assertEqual(run("add", "alice", stdin=SECRET + "\n").returncode, 0)
        sasldb = os.path.join(self.conf_dir, "sasldb2")
        self.assertEqual(stat.S_IMODE(os.stat(sasldb).st_mode), 0o640)
        self.assert_failure(run("add", "alice", stdin="other\n"), "alice", "already exists")
        self.assertEqual(run("add", "bob", stdin="bob-" + SECRET).returncode, 0)

        listed = run("list")
        self.assertEqual(listed.returncode, 0)
        self.assertEqual(listed.stdout, "alice@mail.example.test\nbob@mail.example.test\n")

        self.assertEqual(run("passwd", "alice", stdin="new-" + SECRET + "\n").returncode, 0)
        self.assert_failure(run("passwd", "carol", stdin=SECRET + "\n"), "carol", "does not exist")

        self.assertEqual(run("del", "alice").returncode, 0)
        self.assertEqual(run("list").stdout, "bob@mail.example.test\n")
        self.assert_failure(run("del", "alice"), "alice", "does not exist")

        for text in outputs:
            self.assertNotIn(SECRET, text)

    def test_user_add_refuses_an_empty_password(self):
        self.assert_failure(self.postern("user", "add", "alice", stdin="\n"), "empty password")
        self.assert_failure(self.postern("user", "add", "alice", stdin=""), "password")
        self.assertEqual(self.postern("user", "list").stdout, "")

    def test_user_add_refuses_a_bad_name(self):
        self.assert_failure(self.postern("user", "add", "al ice", stdin=SECRET), "al ice")

    # Verbs that need master, when master is not running.

    def test_master_verbs_without_master(self):
        expected = (f"postern: master is not running (no live process in "
                    f"{self.run_dir}/master.pid)\n")
        for verb in ("stop", "status", "reload"):
            result = self.postern(verb)
            self.assertEqual((result.returncode, result.stdout, result.stderr), (1, "", expected))

    def test_stale_pid_file_means_not_running(self):
        dead = subprocess.Popen(["true"])
        dead.wait()
        with open(os.path.join(self.run_dir, "master.pid"), "w") as f:
            f.write(f"{dead.pid}\n")
        self.assert_failure(self.postern("status"), "master is not running")

    def test_queue_without_qmgr(self):
        self.assert_failure(self.postern("queue", "list"), f"{self.run_dir}/qmgr.sock")

    # Control requests, answered by a stand-in daemon.

    def test_status_and_reload_print_masters_reply(self):
        self.fake_master_process()
        daemon = self.fake_daemon("master.sock", {"status": (True, "listening on 127.0.0.1:2525"),
                                                  "reload": (False, "configuration not reloaded")})
        result = self.postern("status")
        self.assertEqual((result.returncode, result.stdout), (0, "listening on 127.0.0.1:2525\n"))
        self.assert_failure(self.postern("reload"), "configuration not reloaded")
        self.assertEqual(daemon.requests, [("status", []), ("reload", [])])

    def test_stop_waits_for_master_to_exit(self):
        child = self.fake_master_process()
        daemon = self.fake_daemon("master.sock", {"stop": (True, "")})
        daemon.on_request = lambda verb: child.terminate()
        result = self.postern("stop")
        self.assertEqual((result.returncode, result.stderr), (0, ""), result)
        self.assertEqual(daemon.requests, [("stop", [])])
        self.assertIsNotNone(child.poll())

    def test_stop_gives_up_when_master_stays(self):
        self.fake_master_process()
        self.fake_daemon("master.sock", {"stop": (True, "")})
        # shutdown_grace is 1s in the test config; the CLI adds its margin.
        self.assert_failure(self.postern("stop"), "still running")

    def test_block_sends_its_operands(self):
        self.fake_master_process()
        daemon = self.fake_daemon("master.sock", {"block": (False, "block: not implemented")})
        self.assert_failure(self.postern("block", "add", "192.0.2.7", "--for", "1h"),
                            "block: not implemented")
        self.postern("block", "add", "2001:db8::/64")
        self.postern("block", "del", "192.0.2.7")
        self.postern("block", "list")
        self.assertEqual(daemon.requests, [("block", ["add", "192.0.2.7", "1h"]),
                                           ("block", ["add", "2001:db8::/64"]),
                                           ("block", ["del", "192.0.2.7"]),
                                           ("block", ["list"])])

    def test_queue_verbs_reach_qmgr(self):
        daemon = self.fake_daemon("qmgr.sock", {
            "list": (True, "5F3A9C2B1D4E.1A2B.3  1024  alice@example.test\n"),
            "show": (True, "Subject: hello\n"),
            "flush": (True, ""), "hold": (True, ""), "release": (True, ""),
            "delete": (False, "no such message")})
        qid = "5F3A9C2B1D4E.1A2B.3"
        result = self.postern("queue", "list")
        self.assertEqual((result.returncode, result.stdout), (0, f"{qid}  1024  alice@example.test\n"))
        self.assertEqual(self.postern("queue", "show", qid).stdout, "Subject: hello\n")
        for verb in ("hold", "release"):
            self.assertEqual(self.postern("queue", verb, qid).returncode, 0)
        self.assertEqual(self.postern("queue", "flush").returncode, 0)
        self.assert_failure(self.postern("queue", "delete", "ALL"), "no such message")
        self.assertEqual(daemon.requests, [("list", []), ("show", [qid]), ("hold", [qid]),
                                           ("release", [qid]), ("flush", []), ("delete", ["ALL"])])

    def test_queue_refuses_a_malformed_id_before_asking_qmgr(self):
        daemon = self.fake_daemon("qmgr.sock", {})
        self.assert_failure(self.postern("queue", "show", "../../etc/passwd"), "not a queue id")
        self.assert_failure(self.postern("queue", "hold", "ALL"), "not a queue id")
        self.assertEqual(daemon.requests, [])

    # start and start-fg, with a stand-in master.

    def test_start_succeeds_when_master_reports_ok(self):
        argv_file = self.install_fake_master("os.write(ready, b'ok\\n')\n")
        result = self.postern("start")
        self.assertEqual((result.returncode, result.stderr), (0, ""), result)
        with open(argv_file) as f:
            argv = f.read().split("\n")
        self.assertEqual(argv[:3], ["-c", self.conf_dir, "--daemon"])
        self.assertEqual(argv[3], "--ready-fd")
        self.assertRegex(argv[4], r"^\d+$")

    def test_start_reports_masters_error(self):
        self.install_fake_master("os.write(ready, b'error: cannot bind 127.0.0.1:2525: in use\\n')\n"
                                 "sys.exit(1)\n")
        self.assert_failure(self.postern("start"), "cannot bind 127.0.0.1:2525: in use")

    def test_start_reports_a_master_that_dies_silently(self):
        self.install_fake_master("sys.exit(3)\n")
        self.assert_failure(self.postern("start"), "master exited during start-up",
                            "exit status 3")

    def test_start_without_a_master_program(self):
        self.assert_failure(self.postern("start"), f"{self.daemon_dir}/master")

    def test_start_refuses_when_master_runs(self):
        child = self.fake_master_process()
        self.install_fake_master("os.write(ready, b'ok\\n')\n")
        self.assert_failure(self.postern("start"), "already running", str(child.pid))

    def test_start_fg_execs_master_in_the_foreground(self):
        argv_file = self.install_fake_master("sys.exit(0)\n")
        result = self.postern("start-fg")
        self.assertEqual(result.returncode, 0, result)
        with open(argv_file) as f:
            self.assertEqual(f.read().split("\n"), ["-c", self.conf_dir])


if __name__ == "__main__":
    unittest.main(verbosity=2)
