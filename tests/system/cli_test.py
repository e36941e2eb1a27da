#!/usr/bin/env python3
"""tests/system/cli_test.py — the `postern` control CLI as an operator uses it.

Runs the built binary against a temporary configuration directory. It never
needs the real master: where a daemon must answer, a stand-in written here
listens on the control socket (speaking ControlRequest and ControlReply of
lib/ipc/messages_control.h through postern_wire) or plays master's start-up
protocol (`--ready-fd N`, one line). Expected texts come from the operator
contract (doc/architecture.md, postern(1)), not from the program's output.
"""

import json
import os
import pwd
import re
import socket
import stat
import subprocess
import sys
import textwrap
import threading

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
import postern_wire as wire  # noqa: E402

SECRET = "Tr0ub4dor&3-secret"


class FakeDaemon:
    """Answers control requests on a Unix socket, one per connection."""

    def __init__(self, path, replies):
        self.path = path
        # verb -> (ok, text[, more]), or a function of the arguments giving that
        self.replies = replies
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
                accepted, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with wire.Connection(accepted) as conn:
                request = conn.expect("ControlRequest")
                verb = request.verb.decode()
                self.requests.append((verb, [arg.decode() for arg in request.args]))
                reply = self.replies.get(verb, (False, "no such verb"))
                if callable(reply):
                    reply = reply([arg.decode() for arg in request.args])
                ok, text, more = reply if len(reply) == 3 else reply + ("",)
                conn.send("ControlReply", ok=ok, text=text, more=more)
                if self.on_request:
                    self.on_request(verb)

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


class CliHome:
    """A configuration directory, run directory and daemon directory for the CLI,
    with stand-in daemons and processes that end with the test."""

    def __init__(self):
        self.dir = h.scratch_dir("cli")
        self.conf_dir = os.path.join(self.dir, "etc")
        self.run_dir = os.path.join(self.dir, "run")
        self.daemon_dir = os.path.join(self.dir, "libexec")
        for d in (self.conf_dir, self.run_dir, self.daemon_dir):
            os.mkdir(d)
        self.write_config()
        self.daemons = []

    def close(self):
        for daemon in self.daemons:
            daemon.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

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
        argv = [h.postern_cli()] + (["-c", self.conf_dir] if config else []) + list(args)
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env,
                               timeout=60)

    def assert_failure(self, result, *fragments):
        assert result.returncode == 1, result
        lines = result.stderr.splitlines()
        assert len(lines) >= 1, result
        for line in lines:
            assert line.startswith("postern: "), result.stderr
        for fragment in fragments:
            assert fragment in result.stderr, result.stderr

    def assert_usage_error(self, result):
        assert result.returncode == 2, result
        assert "usage: postern [-c CONFIG_DIR]" in result.stderr, result.stderr
        assert result.stdout == ""

    def fake_daemon(self, name, replies):
        daemon = FakeDaemon(os.path.join(self.run_dir, name), replies)
        self.daemons.append(daemon)
        return daemon

    def fake_master_process(self):
        """A live process whose pid master.pid names."""
        child = h.spawn(["sleep", "60"])
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

    def config_lines(self, *args):
        result = self.postern("config", *args)
        assert (result.returncode, result.stderr) == (0, ""), result
        lines = result.stdout.splitlines()
        for line in lines:
            assert re.search(r"^[a-z0-9_.\-]+ = ", line), line
        return lines


# ---- Usage errors: exit 2 with the usage text.


def test_usage_errors_exit_2():
    with CliHome() as cli:
        cli.assert_usage_error(cli.postern(config=False))
        cli.assert_usage_error(cli.postern("frobnicate"))
        cli.assert_usage_error(cli.postern("-x", "status"))
        cli.assert_usage_error(cli.postern("-c", config=False))
        cli.assert_usage_error(cli.postern("stop", "now"))
        cli.assert_usage_error(cli.postern("queue"))
        cli.assert_usage_error(cli.postern("queue", "show"))
        cli.assert_usage_error(cli.postern("queue", "flush", "extra"))
        cli.assert_usage_error(cli.postern("queue", "list", "--xml"))
        cli.assert_usage_error(cli.postern("queue", "show", "5F3A9C2B1D4E.1A2B.3", "--json"))
        cli.assert_usage_error(cli.postern("queue", "requeue"))
        cli.assert_usage_error(cli.postern("queue", "hold", "ALL", "now"))
        cli.assert_usage_error(cli.postern("user", "add"))
        cli.assert_usage_error(cli.postern("user", "rename", "a", "b"))
        cli.assert_usage_error(cli.postern("config", "-n", "-d"))
        cli.assert_usage_error(cli.postern("config", "-q"))
        cli.assert_usage_error(cli.postern("block", "add"))
        cli.assert_usage_error(cli.postern("block", "add", "192.0.2.1", "--until", "1h"))


def test_help_goes_to_stdout():
    with CliHome() as cli:
        result = cli.postern("--help", config=False)
        assert result.returncode == 0
        assert "usage: postern [-c CONFIG_DIR]" in result.stdout, result.stdout

# ---- check


def test_check_good_config_is_silent():
    with CliHome() as cli:
        result = cli.postern("check")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_unknown_key_names_file_line_and_key():
    with CliHome() as cli:
        cli.write_config(extra_global="no_such_key = 1\n")
        result = cli.postern("check")
        conf = os.path.join(cli.conf_dir, "postern.conf")
        # The stray key is the eighth line of the file written above.
        cli.assert_failure(result, f"{conf}:8", "no_such_key")
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_check_suggests_the_nearest_key():
    with CliHome() as cli:
        cli.write_config(extra_global="max_recipent = 10\n")
        conf = os.path.join(cli.conf_dir, "postern.conf")
        result = cli.postern("check")
        assert (result.returncode, result.stderr) == (
            1, f'postern: {conf}:8: unknown key "max_recipent"; did you mean max_recipients?\n')


def test_check_refuses_what_would_be_wrong_at_run_time():
    """An indented key line, a host name that is none, a mechanism authd does not serve."""
    conf_lines = {
        "  max_recipients = 50\n":
            'postern: {conf}:8: the indented line "max_recipients = 50" would continue line 7, '
            "yet it reads like a setting of max_recipients: remove the leading white space\n",
        "auth_mechanisms = CRAM-MD5 PLAIN\n":
            "postern: {conf}:8: auth_mechanisms: postern does not serve CRAM-MD5 PLAIN: only "
            "NTLM and LOGIN are served\n",
    }
    with CliHome() as cli:
        conf = os.path.join(cli.conf_dir, "postern.conf")
        for line, expected in conf_lines.items():
            cli.write_config(extra_global=line)
            result = cli.postern("check")
            assert (result.returncode, result.stdout, result.stderr) == (
                1, "", expected.format(conf=conf)), result
        with open(conf) as f:
            text = f.read().replace("myhostname = mail.example.test", "myhostname = bad host name")
        with open(conf, "w") as f:
            f.write(text)
        cli.assert_failure(cli.postern("check"), f'{conf}:1: myhostname: "bad host name" is not '
                           "a host name")


def test_check_reads_the_local_recipient_maps():
    """A map file authd could not read or parse is refused by check, not by authd's start."""
    with CliHome() as cli:
        cli.write_config(extra_global="local_recipient_map = sasldb aliases\n")
        cli.assert_failure(cli.postern("check"), "cannot read local_recipient_map file",
                           os.path.join(cli.conf_dir, "aliases"))
        with open(os.path.join(cli.conf_dir, "aliases"), "w") as f:
            f.write("alice\n# a comment\n@example.test catch-all\n")
        cli.assert_failure(cli.postern("check"), os.path.join(cli.conf_dir, "aliases") + ":3")
        with open(os.path.join(cli.conf_dir, "aliases"), "w") as f:
            f.write("alice\nbob@example.test\n")
        result = cli.postern("check")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result


def test_check_as_root_loads_the_listeners_certificates():
    """A certificate master would refuse at start is refused by check, naming the file."""
    if not h.running_as_root():
        raise h.Skip("listener files are loaded only as root")
    with CliHome() as cli:
        cert = os.path.join(cli.conf_dir, "cert.pem")
        key = os.path.join(cli.conf_dir, "key.pem")
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile", key],
                       capture_output=True, check=True, timeout=60)
        cli.write_config(extra_global=f"tls_cert_file = {cert}\ntls_key_file = {key}\n")
        cli.assert_failure(cli.postern("check"), "listener smtp", cert)
        template = os.path.join(cli.conf_dir, "cert.cfg")
        with open(template, "w") as f:
            f.write('cn = "mail.example.test"\nexpiration_days = 30\ntls_www_server\nsigning_key\n')
        subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", key, "--template",
                        template, "--outfile", cert], capture_output=True, check=True, timeout=60)
        result = cli.postern("check")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result


def test_check_missing_config_file():
    with CliHome() as cli:
        os.remove(os.path.join(cli.conf_dir, "postern.conf"))
        cli.assert_failure(cli.postern("check"), os.path.join(cli.conf_dir, "postern.conf"))


def test_check_as_root_names_a_missing_user():
    if not h.running_as_root():
        raise h.Skip("user look-ups are checked only as root")
    with CliHome() as cli:
        cli.write_config(auth_user="postern-test-no-such-user")
        cli.assert_failure(cli.postern("check"), "postern-test-no-such-user", "auth_user")


def test_check_uncreatable_state_directory():
    with CliHome() as cli:
        blocker = os.path.join(cli.dir, "file")
        open(blocker, "w").close()
        cli.write_config(state_directory=f"{blocker}/sub/state")
        cli.assert_failure(cli.postern("check"), "state_directory",
                            f"{blocker} is not a directory")


def test_check_refuses_a_relay_password_file_others_can_read():
    with CliHome() as cli:
        password_file = os.path.join(cli.conf_dir, "relay.pw")
        with open(password_file, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(password_file, 0o644)
        cli.write_config(extra_global="relay_auth_user = relay@example.test\n"
                                      f"relay_password_file = {password_file}\n")
        result = cli.postern("check")
        cli.assert_failure(result, f"relay_password_file {password_file} has mode 0644",
                           f"chmod 600 {password_file}")
        assert SECRET not in result.stdout + result.stderr
        # The fix it names is the fix.
        os.chmod(password_file, 0o600)
        result = cli.postern("check")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_names_missing_relay_credentials_and_trust():
    with CliHome() as cli:
        missing_ca = os.path.join(cli.conf_dir, "no-ca.pem")
        cli.write_config(extra_global="relay_auth_user = relay@example.test\n"
                                      "relay_tls = verify\n"
                                      f"relay_tls_ca_file = {missing_ca}\n")
        cli.assert_failure(
            cli.postern("check"),
            "relay_auth_user = relay@example.test needs relay_password_file",
            f"relay_tls = verify: cannot load trusted CA certificates from {missing_ca}: "
            "No such file or directory")
        missing_password = os.path.join(cli.conf_dir, "relay.pw")
        cli.write_config(extra_global="relay_auth_user = relay@example.test\n"
                                      f"relay_password_file = {missing_password}\n")
        cli.assert_failure(
            cli.postern("check"),
            f"cannot open relay_password_file {missing_password}: No such file or directory")

# ---- config


def test_config_shows_effective_values():
    with CliHome() as cli:
        lines = cli.config_lines()
        assert "myhostname = mail.example.test" in lines, lines
        assert f"run_directory = {cli.run_dir}" in lines, lines
        assert "smtpd_workers = 2" in lines, lines
        assert f"sasldb_path = {cli.conf_dir}/sasldb2" in lines, lines
        assert "listener.smtp.bind = 127.0.0.1:2525" in lines, lines
        assert "listener.smtp.max_recipients = 200" in lines, lines


def test_config_n_shows_only_what_the_file_sets():
    with CliHome() as cli:
        lines = cli.config_lines("-n")
        assert "myhostname = mail.example.test" in lines, lines
        assert "shutdown_grace = 1s" in lines, lines
        assert "smtpd_workers = 2" not in lines, lines
        assert not [l for l in lines if l.startswith("listener.smtp.max_recipients")]


def test_config_d_shows_defaults():
    with CliHome() as cli:
        lines = cli.config_lines("-d")
        assert "shutdown_grace = 30s" in lines, lines
        # configure's --localstatedir and --runstatedir (tests/tests.mk passes them).
        state = os.environ["POSTERN_LOCALSTATEDIR"] + "/lib/postern"
        run = os.environ["POSTERN_RUNSTATEDIR"] + "/postern"
        assert f"state_directory = {state}" in lines, lines
        assert f"run_directory = {run}" in lines, lines
        assert "listener.smtp.max_message_size = 10m" in lines, lines
        assert "myhostname = mail.example.test" not in lines, lines


def test_config_selected_keys_in_the_order_given():
    with CliHome() as cli:
        assert cli.config_lines("run_directory", "myhostname") == [
            f"run_directory = {cli.run_dir}", "myhostname = mail.example.test"]
        assert cli.config_lines("myhostname") == ["myhostname = mail.example.test"]
        assert cli.config_lines("-d", "smtpd_workers") == ["smtpd_workers = 2"]


def test_config_unknown_key_is_an_error():
    with CliHome() as cli:
        result = cli.postern("config", "myhostname", "no_such_key")
        cli.assert_failure(result, "no_such_key")
        assert result.stdout == ""
        result = cli.postern("config", "relay_host")
        assert result.stderr == ("postern: unknown configuration key: relay_host; did you mean "
                                 "relayhost?\n"), result.stderr


def test_config_shows_listener_keys_set_above_the_sections():
    with CliHome() as cli:
        assert cli.config_lines("auth_mechanisms", "max_recipients") == [
            "auth_mechanisms = NTLM LOGIN", "max_recipients = 200"]
        assert cli.config_lines("-n", "auth_mechanisms") == []
        cli.write_config(extra_global="auth_mechanisms = LOGIN\n")
        assert cli.config_lines("auth_mechanisms") == ["auth_mechanisms = LOGIN"]
        assert cli.config_lines("-n", "auth_mechanisms") == ["auth_mechanisms = LOGIN"]
        assert cli.config_lines("-d", "auth_mechanisms") == ["auth_mechanisms = NTLM LOGIN"]
        assert cli.config_lines("listener.smtp.auth_mechanisms") == [
            "listener.smtp.auth_mechanisms = LOGIN"]


def test_config_dir_from_environment():
    with CliHome() as cli:
        result = cli.postern("config", "myhostname", config=False,
                              env_extra={"POSTERN_CONFIG_DIR": cli.conf_dir})
        assert (result.returncode, result.stdout) == (0, "myhostname = mail.example.test\n")

# ---- user


def test_user_lifecycle_never_shows_the_password():
    with CliHome() as cli:
        outputs = []

        def run(*args, stdin=""):
            result = cli.postern("user", *args, stdin=stdin)
            outputs.append(result.stdout + result.stderr)
            return result

        assert run("add", "alice", stdin=SECRET + "\n").returncode == 0
        sasldb = os.path.join(cli.conf_dir, "sasldb2")
        assert stat.S_IMODE(os.stat(sasldb).st_mode) == 0o640
        cli.assert_failure(run("add", "alice", stdin="other\n"), "alice", "already exists")
        assert run("add", "bob", stdin="bob-" + SECRET).returncode == 0

        listed = run("list")
        assert listed.returncode == 0
        assert listed.stdout == "alice@mail.example.test\nbob@mail.example.test\n"

        assert run("passwd", "alice", stdin="new-" + SECRET + "\n").returncode == 0
        cli.assert_failure(run("passwd", "carol", stdin=SECRET + "\n"), "carol", "does not exist")

        assert run("del", "alice").returncode == 0
        assert run("list").stdout == "bob@mail.example.test\n"
        cli.assert_failure(run("del", "alice"), "alice", "does not exist")

        for text in outputs:
            assert SECRET not in text, text


def test_user_add_refuses_an_empty_password():
    with CliHome() as cli:
        cli.assert_failure(cli.postern("user", "add", "alice", stdin="\n"), "empty password")
        cli.assert_failure(cli.postern("user", "add", "alice", stdin=""), "password")
        assert cli.postern("user", "list").stdout == ""


def test_user_add_refuses_a_bad_name():
    with CliHome() as cli:
        cli.assert_failure(cli.postern("user", "add", "al ice", stdin=SECRET), "al ice")

# ---- Verbs that need master, when master is not running.


def test_master_verbs_without_master():
    with CliHome() as cli:
        expected = (f"postern: master is not running (no live process in "
                    f"{cli.run_dir}/master.pid)\n")
        for verb in ("stop", "status", "reload"):
            result = cli.postern(verb)
            assert (result.returncode, result.stdout, result.stderr) == (1, "", expected)


def test_stale_pid_file_means_not_running():
    with CliHome() as cli:
        dead = h.spawn(["true"])
        dead.wait()
        with open(os.path.join(cli.run_dir, "master.pid"), "w") as f:
            f.write(f"{dead.pid}\n")
        cli.assert_failure(cli.postern("status"), "master is not running")


def test_queue_without_qmgr():
    with CliHome() as cli:
        cli.assert_failure(cli.postern("queue", "list"), f"{cli.run_dir}/qmgr-control.sock")

# ---- Control requests, answered by a stand-in daemon.


# master's part of the status as lib/ipc/status_report.h puts it on the wire.
MASTER_STATUS = ("version 9.8.7\nuptime 3725\nconnections 1\nmessages 3\nrejections 1\n"
                 "log syslog at /dev/log\nprocess master 4242\nprocess qmgr 4243\nprocess authd 4244\n"
                 "process smtpd 4245 1\nprocess smtpd 4246 0 draining\n"
                 "listener smtp 1 127.0.0.1:2525 [::1]:2525\n")


def test_status_combines_master_and_qmgr():
    with CliHome() as cli:
        cli.fake_master_process()
        master = cli.fake_daemon("master.sock", {"status": (True, MASTER_STATUS)})
        qmgr = cli.fake_daemon("qmgr-control.sock", {
            "depth": (True, "pending 5\ndeferred 4\nheld 3\nin_delivery 2\n")})
        result = cli.postern("status")
        assert (result.returncode, result.stderr) == (0, ""), result
        assert result.stdout == (
            "postern 9.8.7 is running, master pid 4242, up 1h 2m 5s\n"
            "listener smtp on 127.0.0.1:2525 [::1]:2525: 1 session\n"
            "connections: 1\n"
            "master pid 4242\nqmgr pid 4243\nauthd pid 4244\n"
            "smtpd pid 4245: 1 session\nsmtpd pid 4246: 0 sessions, draining\n"
            "queue: 5 pending, 4 deferred, 3 held, 2 in delivery\n"
            "last minute: 3 messages accepted, 1 rejection\n"
            "log: syslog at /dev/log\n"), result.stdout
        result = cli.postern("status", "--json")
        assert (result.returncode, result.stderr) == (0, ""), result
        assert json.loads(result.stdout) == {
            "version": "9.8.7", "uptime_seconds": 3725,
            "processes": [{"name": "master", "pid": 4242}, {"name": "qmgr", "pid": 4243},
                          {"name": "authd", "pid": 4244},
                          {"name": "smtpd", "pid": 4245, "sessions": 1, "draining": False},
                          {"name": "smtpd", "pid": 4246, "sessions": 0, "draining": True}],
            "listeners": [{"name": "smtp", "bind": ["127.0.0.1:2525", "[::1]:2525"],
                           "sessions": 1}],
            "connections": 1,
            "queue": {"pending": 5, "deferred": 4, "held": 3, "in_delivery": 2},
            "last_minute": {"messages": 3, "rejections": 1},
            "log": "syslog at /dev/log"}, result.stdout
        assert master.requests == [("status", [])] * 2
        assert qmgr.requests == [("depth", [])] * 2
        cli.assert_usage_error(cli.postern("status", "--xml"))
        cli.assert_usage_error(cli.postern("status", "--json", "--json"))


def test_status_without_qmgr_shows_the_rest():
    with CliHome() as cli:
        cli.fake_master_process()
        cli.fake_daemon("master.sock", {"status": (True, MASTER_STATUS)})
        result = cli.postern("status")
        assert result.returncode == 0, result
        assert re.search(r"^queue: unknown \(.*qmgr.*\)$", result.stdout, re.M), result.stdout
        assert "last minute: 3 messages accepted, 1 rejection\n" in result.stdout, result.stdout
        result = cli.postern("status", "--json")
        assert result.returncode == 0, result
        assert json.loads(result.stdout)["queue"] is None, result.stdout


def test_status_refuses_a_malformed_report():
    with CliHome() as cli:
        cli.fake_master_process()
        cli.fake_daemon("master.sock", {"status": (True, "listening on 127.0.0.1:2525")})
        cli.assert_failure(cli.postern("status"), "master sent a malformed status line",
                           "listening on 127.0.0.1:2525")


def test_reload_prints_masters_reply():
    with CliHome() as cli:
        cli.fake_master_process()
        daemon = cli.fake_daemon("master.sock", {"reload": (False, "configuration not reloaded")})
        cli.assert_failure(cli.postern("reload"), "configuration not reloaded")
        assert daemon.requests == [("reload", [])]


def test_stop_waits_for_master_to_exit():
    with CliHome() as cli:
        child = cli.fake_master_process()
        daemon = cli.fake_daemon("master.sock", {"stop": (True, "")})
        daemon.on_request = lambda verb: child.terminate()
        result = cli.postern("stop")
        assert (result.returncode, result.stderr) == (0, ""), result
        assert daemon.requests == [("stop", [])]
        assert child.poll() is not None


def test_stop_gives_up_when_master_stays():
    with CliHome() as cli:
        cli.fake_master_process()
        cli.fake_daemon("master.sock", {"stop": (True, "")})
        # shutdown_grace is 1s in the test config; the CLI adds its margin.
        cli.assert_failure(cli.postern("stop"), "still running")


def test_block_sends_its_operands():
    with CliHome() as cli:
        cli.fake_master_process()
        daemon = cli.fake_daemon("master.sock", {"block": (False, "block: not implemented")})
        cli.assert_failure(cli.postern("block", "add", "192.0.2.7", "--for", "1h"),
                            "block: not implemented")
        cli.postern("block", "add", "2001:db8::/64")
        cli.postern("block", "del", "192.0.2.7")
        cli.postern("block", "list")
        assert daemon.requests == [("block", ["add", "192.0.2.7", "1h"]),
                                           ("block", ["add", "2001:db8::/64"]),
                                           ("block", ["del", "192.0.2.7"]),
                                           ("block", ["list"])]


def test_queue_verbs_reach_qmgr():
    with CliHome() as cli:
        daemon = cli.fake_daemon("qmgr-control.sock", {
            "list": (True, "5F3A9C2B1D4E.1A2B.3  1024  alice@example.test\n"),
            "show": (True, "Subject: hello\n"),
            "flush": (True, ""), "hold": (True, ""), "release": (True, ""),
            "delete": (False, "no such message")})
        qid = "5F3A9C2B1D4E.1A2B.3"
        result = cli.postern("queue", "list")
        assert (result.returncode, result.stdout) == (0, f"{qid}  1024  alice@example.test\n")
        assert cli.postern("queue", "show", qid).stdout == "Subject: hello\n"
        for verb in ("hold", "release"):
            assert cli.postern("queue", verb, qid).returncode == 0
        assert cli.postern("queue", "flush").returncode == 0
        cli.assert_failure(cli.postern("queue", "delete", "ALL"), "no such message")
        assert daemon.requests == [("list", []), ("show", [qid]), ("hold", [qid]),
                                           ("release", [qid]), ("flush", []), ("delete", ["ALL"])]


def test_queue_refuses_a_malformed_id_before_asking_qmgr():
    with CliHome() as cli:
        daemon = cli.fake_daemon("qmgr-control.sock", {})
        cli.assert_failure(cli.postern("queue", "show", "../../etc/passwd"), "not a queue id")
        cli.assert_failure(cli.postern("queue", "hold", "all"), "not a queue id")
        cli.assert_failure(cli.postern("queue", "show", "ALL"), "not a queue id")
        assert daemon.requests == []


def test_queue_targets_take_all():
    with CliHome() as cli:
        daemon = cli.fake_daemon("qmgr-control.sock", {verb: (True, verb + " done\n") for verb in (
            "hold", "release", "delete", "requeue")})
        for verb in ("hold", "release", "delete", "requeue"):
            result = cli.postern("queue", verb, "ALL")
            assert (result.returncode, result.stdout) == (0, verb + " done\n"), result
        assert daemon.requests == [(verb, ["ALL"])
                                   for verb in ("hold", "release", "delete", "requeue")]


def test_queue_pages_are_fetched_with_their_cursor():
    qid = "5F3A9C2B1D4E.1A2B.3"
    pages = {(qid, "--body"): (True, "queue_id: x\n\nFirst\r\n", "100"),
             (qid, "--body", "100"): (True, "\x00second\r\n", "200"),
             (qid, "--body", "200"): (True, "no newline at the end", ""),
             ("--json",): (True, "[\n{\"id\": 1}", qid),
             ("--json", qid): (True, ",\n{\"id\": 2}\n]\n", "")}
    with CliHome() as cli:
        daemon = cli.fake_daemon("qmgr-control.sock", {
            "show": lambda args: pages[tuple(args)], "list": lambda args: pages[tuple(args)]})
        result = cli.postern("queue", "show", qid, "--body")
        assert (result.returncode, result.stdout) == (
            0, "queue_id: x\n\nFirst\n\x00second\nno newline at the end"), result
        result = cli.postern("queue", "list", "--json")
        assert (result.returncode, result.stdout) == (0, '[\n{"id": 1},\n{"id": 2}\n]\n'), result
        assert daemon.requests == [("show", [qid, "--body"]), ("show", [qid, "--body", "100"]),
                                   ("show", [qid, "--body", "200"]), ("list", ["--json"]),
                                   ("list", ["--json", qid])]


def test_queue_stops_at_a_page_that_fails_or_repeats():
    qid = "5F3A9C2B1D4E.1A2B.3"
    with CliHome() as cli:
        cli.fake_daemon("qmgr-control.sock", {
            "show": lambda args: (True, "page\n", "7") if len(args) == 2 else
            (False, "no message %s in the queue" % qid),
            "list": lambda args: (True, "again\n", "5F3A9C2B1D4E.1A2B.4")})
        result = cli.postern("queue", "show", qid, "--body")
        cli.assert_failure(result, "no message %s in the queue" % qid)
        assert result.stdout == "page\n"
        result = cli.postern("queue", "list")
        cli.assert_failure(result, "twice")
        assert result.stdout == "again\nagain\n"


# ---- start and start-fg, with a stand-in master.


def test_start_succeeds_when_master_reports_ok():
    with CliHome() as cli:
        argv_file = cli.install_fake_master("os.write(ready, b'ok\\n')\n")
        result = cli.postern("start")
        assert (result.returncode, result.stderr) == (0, ""), result
        with open(argv_file) as f:
            argv = f.read().split("\n")
        assert argv[:3] == ["-c", cli.conf_dir, "--daemon"]
        assert argv[3] == "--ready-fd"
        assert re.search(r"^\d+$", argv[4]), argv[4]


def test_start_reports_masters_error():
    with CliHome() as cli:
        cli.install_fake_master("os.write(ready, b'error: cannot bind 127.0.0.1:2525: in use\\n')\n"
                                 "sys.exit(1)\n")
        cli.assert_failure(cli.postern("start"), "cannot bind 127.0.0.1:2525: in use")


def test_start_reports_a_master_that_dies_silently():
    with CliHome() as cli:
        cli.install_fake_master("sys.exit(3)\n")
        cli.assert_failure(cli.postern("start"), "master exited during start-up",
                            "exit status 3")


def test_start_without_a_master_program():
    with CliHome() as cli:
        cli.assert_failure(cli.postern("start"), f"{cli.daemon_dir}/master")


def test_start_refuses_when_master_runs():
    with CliHome() as cli:
        child = cli.fake_master_process()
        cli.install_fake_master("os.write(ready, b'ok\\n')\n")
        cli.assert_failure(cli.postern("start"), "already running", str(child.pid))


def test_start_fg_execs_master_in_the_foreground():
    with CliHome() as cli:
        argv_file = cli.install_fake_master("sys.exit(0)\n")
        result = cli.postern("start-fg")
        assert result.returncode == 0, result
        with open(argv_file) as f:
            assert f.read().split("\n") == ["-c", cli.conf_dir]


if __name__ == "__main__":
    h.run_tests(globals())
