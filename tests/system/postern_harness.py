"""tests/system/postern_harness.py — starts real postern instances for the system tests.

Each Instance is one postern installation in a temporary directory: its own
postern.conf, state, run and mail directories, log file and loopback ports,
with daemon_directory pointing (through symlinks) at the daemons of the build
tree. It is started and stopped through the real control CLI ($POSTERN).
While an instance may be running, a sampler thread records every process that
belongs to it (every process running a program of its daemon_directory, and
their descendants); at close() each recorded process must be gone, and
leftovers are killed by PID and fail the test.

Also here: free loopback ports, smtplib helpers, raw SMTP sessions (first
line, served, refused, QUIT), a TLS client context, Maildir readers, the split
of a delivered message into the Received: field postern prepends and the bytes
that were sent, spawn() for a process a test starts itself and scratch_dir()
for a directory of its own, and run_tests(), which runs a file's test functions
in order, turns them into the automake exit status (0 pass, 1 fail, 77 skip)
and prints the logs of every instance of a test that fails. The IPC wire
format is in postern_wire.py.

Only loopback, only the Python standard library. Never signals a process it
did not record as part of an instance, and never by name.
"""

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77
HOSTNAME = "mail.example.test"
# The greeting of every postern listener (MS-OXSMTP 3.1.4.1 leaves its text free).
BANNER = "220 %s ESMTP postern ready" % HOSTNAME
LOCAL_DOMAIN = "example.test"
DAEMONS = {"master": "master/master", "smtpd": "smtpd/smtpd", "qmgr": "qmgr/qmgr",
           "authd": "auth/authd", "metricsd": "metricsd/metricsd"}
DAEMON_USERS = ("postern", "postern-queue", "postern-auth")

# Every wait in the harness is bounded by one of these.
CLI_TIMEOUT = 30
SOCKET_TIMEOUT = 10
DELIVERY_TIMEOUT = 15

QUEUED_REPLY = re.compile(r"^2\.6\.0 (\S+) Queued mail for delivery$")

_instances = []
_spawned = []
_scratch_dirs = []


class Skip(Exception):
    """Raised by a test that cannot run here; run_tests() exits 77."""


# ---- locations -----------------------------------------------------------------


def postern_cli():
    """The control CLI under test: $POSTERN, else ctl/postern of the build tree."""
    return os.environ.get("POSTERN") or os.path.join(build_dir(), "ctl", "postern")


def build_dir():
    """$POSTERN_BUILDDIR, else the tree that holds $POSTERN (ctl/postern)."""
    if os.environ.get("POSTERN_BUILDDIR"):
        return os.environ["POSTERN_BUILDDIR"]
    if os.environ.get("POSTERN"):
        return os.path.dirname(os.path.dirname(os.path.abspath(os.environ["POSTERN"])))
    raise Skip("neither POSTERN nor POSTERN_BUILDDIR is set (run through `make check`)")


def daemon_path(program):
    """The built daemon program (master, smtpd, qmgr, authd, metricsd) of the build tree."""
    return os.path.join(build_dir(), DAEMONS[program])


def require_binaries():
    """Fails (not skips) when the build tree lacks a daemon: make check builds them all."""
    missing = [p for p in [postern_cli()] + [daemon_path(d) for d in DAEMONS]
               if not os.access(p, os.X_OK)]
    if missing:
        raise AssertionError("not built: " + ", ".join(missing))


def sanitizer_build():
    """True when the daemons under test are built with AddressSanitizer (configure
    --enable-sanitizers): their memory use and exit status are then ASan's."""
    with open(os.path.join(build_dir(), DAEMONS["smtpd"]), "rb") as f:
        return b"__asan_init" in f.read()


def worker_root(run_dir):
    """The root directory smtpd and metricsd run in when started as root:
    run_dir/empty, except in a sanitizer build, which does not chroot so that
    LeakSanitizer can read /proc at exit (lib/base/privileges.h)."""
    return "/" if sanitizer_build() else os.path.realpath(os.path.join(run_dir, "empty"))


def running_as_root():
    return os.geteuid() == 0


def ensure_daemon_users():
    """As root, creates the daemons' users the way ./install-deps does when missing."""
    if not running_as_root():
        return
    import pwd
    for user in DAEMON_USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["adduser", "--system", "--group", "--no-create-home", "--home",
                            "/nonexistent", "--quiet", user], check=True, timeout=CLI_TIMEOUT)


def problem_lines(text):
    """Lines of a PANIC or of an ASan/UBSan/LSan report: never acceptable in a test."""
    markers = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
               "LeakSanitizer has encountered a fatal error", "runtime error:", ": panic in ")
    return [line for line in text.splitlines() if any(m in line for m in markers)]


# ---- ports ---------------------------------------------------------------------


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=SOCKET_TIMEOUT):
    """True once 127.0.0.1:port accepts a connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def port_refuses(port):
    """True when nothing listens on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


# ---- processes -----------------------------------------------------------------


def proc_stat(pid):
    """(state, ppid, starttime) of pid from /proc/PID/stat, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read()
    except OSError:
        return None
    # After "(comm) ": state, ppid and starttime are fields 3, 4 and 22 of proc(5).
    fields = text[text.rfind(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def proc_uids(pid):
    """[real, effective, saved, fs] uids from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no Uid line in /proc/%d/status" % pid)


def become_subreaper():
    """Makes this process the reaper of the daemons it starts (PR_SET_CHILD_SUBREAPER).

    A daemonized master is orphaned at once; without this its zombie, after a
    kill -9, waits for PID 1 to reap it, which some containers do late or
    never, and the test would depend on that. Best effort: if prctl is not
    reachable, PID 1 stays the reaper."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap(pid):
    """Collects pid's exit status if it is our (zombie) child; never blocks."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def spawn(argv, **popen_args):
    """subprocess.Popen(argv, **popen_args), remembered so that run_tests() kills it
    by PID (and reaps it) if it still runs when its test ends."""
    process = subprocess.Popen(argv, **popen_args)
    _spawned.append(process)
    return process


def make_dir(parent, name):
    """parent/name, made readable for the daemons' users (mode 755)."""
    path = os.path.join(parent, name)
    os.mkdir(path)
    os.chmod(path, 0o755)
    return path


def read_pid_file(path):
    """The pid a daemon's pid file holds, or None while there is none."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def scratch_dir(name):
    """A fresh temporary directory, removed when the test passes, kept when it fails."""
    path = tempfile.mkdtemp(prefix="postern-%s-" % name)
    _scratch_dirs.append(path)
    return path


def wait_until(predicate, what, timeout=SOCKET_TIMEOUT, interval=0.05):
    """Polls predicate() until it returns something true, and returns that;
    asserts, naming what was awaited, when timeout seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "%s: not within %gs" % (what, timeout)
        time.sleep(interval)


def read_text(path):
    """The text of a log file, "" while it does not exist."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


class ProcessRecord:
    """Every process ever seen as part of one instance: each process running a
    program of the instance's daemon_directory (argv[0] under it), which starts
    with master, whose pid master.pid may not even hold yet, and every
    descendant of one (by the PPid of /proc/PID/stat). The directory is unique
    to the instance, so no other process can match. Keyed by (pid, start
    time), so that a recycled pid is never mistaken for one of ours."""

    def __init__(self, program_prefix):
        self.prefix = program_prefix
        self.lock = threading.Lock()
        self.seen = {}  # pid -> (starttime, program)
        self._sampling = False
        self._sampler = None

    def start_sampling(self):
        """scan() every 50 ms in a thread of its own, until stop_sampling()."""
        if self._sampler is not None:
            return
        self._sampling = True

        def sample():
            while self._sampling:
                self.scan()
                time.sleep(0.05)

        self._sampler = threading.Thread(target=sample, daemon=True)
        self._sampler.start()

    def stop_sampling(self):
        self._sampling = False
        if self._sampler is not None:
            self._sampler.join(5)
            self._sampler = None

    def scan(self):
        stats, programs = {}, {}
        for pid in all_pids():
            st = proc_stat(pid)
            if st is not None:
                stats[pid] = st
                programs[pid] = proc_cmdline(pid)
        ours = {pid for pid, program in programs.items() if program.startswith(self.prefix)}
        changed = True
        while changed:
            changed = False
            for pid, st in stats.items():
                if pid not in ours and st[1] in ours:
                    ours.add(pid)
                    changed = True
        with self.lock:
            for pid in ours:
                # The program is read again on every scan: a child seen between
                # master's fork and its exec still shows master's command line.
                self.seen[pid] = (stats[pid][2], programs[pid])

    def alive(self):
        """{pid: program} of recorded processes that still run (zombies count as gone)."""
        with self.lock:
            items = list(self.seen.items())
        live = {}
        for pid, (start, program) in items:
            st = proc_stat(pid)
            if st is None or st[2] != start:
                continue
            if st[0] == "Z":
                reap(pid)
            else:
                live[pid] = program
        return live

    def kill_alive(self, sig=signal.SIGKILL):
        """Sends sig to every recorded live process, by PID; returns {pid: program}."""
        live = self.alive()
        for pid in live:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return live

    def assert_gone(self, timeout, what):
        """Waits up to timeout for every process to end; kills those left by PID and
        raises an AssertionError naming them."""
        left = self.wait_gone(timeout)
        if left:
            self.kill_alive()
            self.wait_gone(5)
            raise AssertionError("%s left behind after stop (killed now): %s" % (what, left))

    def wait_gone(self, timeout):
        """Waits up to timeout for every process (recorded or new) to end; returns the rest."""
        deadline = time.monotonic() + timeout
        while True:
            self.scan()
            live = self.alive()
            if not live or time.monotonic() >= deadline:
                return live
            time.sleep(0.05)


# ---- one postern installation --------------------------------------------------


class Instance:
    """One postern installation in a temporary directory.

    listeners: {name: {key: value}}; each listener gets bind = 127.0.0.1:PORT
    with a fresh port (self.ports[name]) unless its dict sets bind itself.
    settings: global keys added to, or replacing, the harness defaults.
    """

    def __init__(self, listeners=None, settings=None, name="postern"):
        require_binaries()
        ensure_daemon_users()
        become_subreaper()
        self.root = scratch_dir(name)
        os.chmod(self.root, 0o755)
        self.conf_dir = self._mkdir("conf")
        self.daemon_dir = self._mkdir("daemons")
        for program, relative in DAEMONS.items():
            os.symlink(os.path.join(build_dir(), relative), os.path.join(self.daemon_dir, program))
        self.state_dir = os.path.join(self.root, "state")
        self.run_dir = os.path.join(self.root, "run")
        self.mail_dir = os.path.join(self.root, "mail")
        self.log_path = os.path.join(self.root, "postern.log")
        self.conf_path = os.path.join(self.conf_dir, "postern.conf")
        self.settings = {
            "myhostname": HOSTNAME,
            "state_directory": self.state_dir,
            "run_directory": self.run_dir,
            "mail_directory": self.mail_dir,
            "daemon_directory": self.daemon_dir,
            "local_domains": LOCAL_DOMAIN,
            "trusted_networks": "127.0.0.0/8 ::1/128",
            "client_reverse_lookup": "no",
            # Mail for other domains is looked up by MX: a port where no DNS
            # server listens makes every lookup fail at once, so nothing
            # is asked beyond loopback (tests that need answers set their own).
            "dns_nameservers": "127.0.0.1:%d" % free_port(),
            "log_file": self.log_path,
            "shutdown_grace": "5s",
            "smtpd_workers": 2,
            # MS-OXSMTP's Tarpit holds the answer to a refused MAIL for 5 s;
            # switched off so that a test is not mostly waiting.
            "tarpit_interval": 0,
            # Every local address is accepted, as before local_recipient_map
            # existed: the tests send to local users they never add. The
            # default (sasldb: refuse unknown users at RCPT) has its own test,
            # recipient_check_test.py.
            "local_recipient_map": "",
        }
        self.settings.update(settings or {})
        self.listeners = {}
        self.ports = {}
        for listener, keys in (listeners if listeners is not None else {"smtp": {}}).items():
            self.add_listener(listener, keys)
        self.record = ProcessRecord(self.daemon_dir + "/")
        self.closed = False
        self.write_config()
        _instances.append(self)

    def _mkdir(self, name):
        return make_dir(self.root, name)

    # ---- configuration

    def add_listener(self, name, keys=None):
        """Adds a [listener "name"] section (written by the next write_config()); returns its port."""
        keys = dict(keys or {})
        if "bind" not in keys:
            self.ports[name] = free_port()
            keys["bind"] = "127.0.0.1:%d" % self.ports[name]
        self.listeners[name] = keys
        return self.ports.get(name)

    @property
    def port(self):
        """The port of the first listener whose port the harness picked."""
        return next(iter(self.ports.values()))

    def config_text(self, extra=""):
        lines = ["# postern.conf written by tests/system/postern_harness.py"]
        lines += ["%s = %s" % (k, v) for k, v in self.settings.items()]
        if extra:
            lines.append(extra.rstrip("\n"))
        for name, keys in self.listeners.items():
            lines += ["", '[listener "%s"]' % name]
            lines += ["%s = %s" % (k, v) for k, v in keys.items()]
        return "\n".join(lines) + "\n"

    def write_config(self, extra="", text=None):
        """Writes postern.conf from settings and listeners (plus raw `extra` lines
        among the globals), or exactly `text`."""
        self._config_extra, self._config_text = extra, text
        with open(self.conf_path, "w") as f:
            f.write(text if text is not None else self.config_text(extra))
        os.chmod(self.conf_path, 0o644)

    # ---- control CLI

    def ctl(self, *args, timeout=CLI_TIMEOUT, input=None, preexec_fn=None):
        """Runs `postern -c CONF_DIR args...`; returns the CompletedProcess (text).
        preexec_fn runs in the child before the CLI (e.g. to lower its limits)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("POSTERN_DAEMON_DIR", "POSTERN_CONFIG_DIR")}
        result = subprocess.run([postern_cli(), "-c", self.conf_dir] + list(args), env=env,
                                capture_output=True, text=True, timeout=timeout, input=input,
                                preexec_fn=preexec_fn)
        self._sample_once()
        problems = problem_lines(result.stderr)
        assert not problems, "postern %s: %s" % (" ".join(args), "\n".join(problems))
        return result

    def start(self, expect_ok=True, preexec_fn=None):
        """`postern start`; with expect_ok, asserts exit 0 and that every listener accepts.

        Ports are picked free but not held, so a parallel test may take one
        first: then, with expect_ok, the harness picks new ports and retries."""
        self.record.start_sampling()
        for _ in range(3):
            result = self.ctl("start", timeout=90, preexec_fn=preexec_fn)
            if not expect_ok or result.returncode == 0 or not self._repick_ports(result.stderr):
                break
        if expect_ok:
            assert result.returncode == 0, "postern start failed (%d): %s%s" % (
                result.returncode, result.stdout, result.stderr)
            for name, port in self.ports.items():
                assert wait_for_port(port), "listener %s (port %d) does not accept" % (name, port)
        return result

    def _repick_ports(self, error):
        """After a lost race for a port: new ports for the harness-chosen binds; False when
        the error is another one or the config was written verbatim."""
        if "Address already in use" not in error or self._config_text is not None:
            return False
        for name in self.ports:
            self.ports[name] = free_port()
            self.listeners[name]["bind"] = "127.0.0.1:%d" % self.ports[name]
        self.write_config(self._config_extra)
        return True

    def stop(self, expect_ok=True):
        """`postern stop`; with expect_ok, asserts exit 0."""
        self._sample_once()
        result = self.ctl("stop", timeout=60)
        if expect_ok:
            assert result.returncode == 0, "postern stop failed (%d): %s%s" % (
                result.returncode, result.stdout, result.stderr)
        return result

    def master_pid(self):
        """master's pid from run_directory/master.pid, or None."""
        return read_pid_file(os.path.join(self.run_dir, "master.pid"))

    def processes(self):
        """{pid: program} of this instance's live processes (program: daemon_directory/NAME)."""
        self._sample_once()
        return self.record.alive()

    def processes_named(self, program):
        """pids of live processes running daemon_directory/program (master, smtpd, qmgr, authd)."""
        wanted = os.path.join(self.daemon_dir, program)
        return sorted(pid for pid, cmd in self.processes().items() if cmd == wanted)

    def wait_for_daemons(self, timeout=SOCKET_TIMEOUT):
        """Waits until one qmgr, one authd and smtpd_workers smtpd run, each (as root)
        under its own user: master starts them after `postern start` returns, and an
        smtpd drops its privileges only once it has loaded its files."""
        workers = int(self.settings.get("smtpd_workers", 2))
        deadline = time.monotonic() + timeout
        while True:
            found = {p: self.processes_named(p) for p in ("qmgr", "authd", "smtpd")}
            counts_ok = (len(found["qmgr"]) == 1 and len(found["authd"]) == 1
                         and len(found["smtpd"]) == workers)
            try:
                dropped = not running_as_root() or all(
                    proc_uids(pid)[0] != 0 for pids in found.values() for pid in pids)
            except (OSError, AssertionError):  # a process went away meanwhile
                dropped = False
            if counts_ok and dropped:
                return found
            assert time.monotonic() < deadline, "daemons not ready within %ds: %s" % (
                timeout, found)
            time.sleep(0.05)

    def kill_all(self):
        """kill -9 of master and every process of the instance, by PID, until none is left.
        master goes first, so that it cannot start replacements for the others."""
        self._sample_once()
        master = self.master_pid()
        if master is not None and master in self.record.alive():
            os.kill(master, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.record.scan()
            if not self.record.kill_alive():
                return
            time.sleep(0.05)
        raise AssertionError("processes survive kill -9: %s" % self.record.alive())

    def _sample_once(self):
        self.record.scan()

    # ---- teardown

    def close(self):
        """Stops the instance if it runs and checks that no process of it is left.
        Leftovers are killed by PID and reported as an AssertionError."""
        if self.closed:
            return
        self.closed = True
        self._sample_once()
        if self.master_pid() in self.record.alive():
            try:
                self.ctl("stop", timeout=60)
            except subprocess.TimeoutExpired:
                pass
        self.record.stop_sampling()
        self.record.assert_gone(5, "processes")
        problems = self.log_problems()
        assert not problems, "the log reports broken invariants or sanitizer findings:\n" + \
            "\n".join(problems)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        try:
            self.close()
        except AssertionError:
            if kind is None:
                raise
            traceback.print_exc()
        return False

    # ---- log

    def log(self):
        return read_text(self.log_path)

    def log_problems(self):
        """Log lines of a PANIC or of a sanitizer report."""
        return problem_lines(self.log())

    def dump_log(self, lines=300, out=sys.stderr):
        text = self.log().splitlines()
        print("---- %s (last %d of %d lines) ----" % (self.log_path, min(lines, len(text)),
                                                      len(text)), file=out)
        for line in text[-lines:]:
            print(line, file=out)

    # ---- Maildirs

    def maildir(self, address):
        """mail_directory/<domain>/<localpart>/new for address."""
        local, domain = address.rsplit("@", 1)
        return os.path.join(self.mail_dir, domain.lower(), local, "new")

    def delivered(self, address):
        """Contents of every file in address's new/, sorted by file name."""
        directory = self.maildir(address)
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        contents = []
        for name in names:
            with open(os.path.join(directory, name), "rb") as f:
                contents.append(f.read())
        return contents

    def block_mailbox(self, local, domain=LOCAL_DOMAIN):
        """Puts a file where local@domain's Maildir must go (the domain's directory
        made as qmgr would make it), so that delivering to it fails. Call it
        while no delivery to the domain is in flight: a domain directory made
        here is root's until it is handed to qmgr's user, and a delivery that
        meets it in that moment is deferred (EACCES) for the back-off."""
        domain_dir = os.path.join(self.mail_dir, domain)
        if not os.path.isdir(domain_dir):
            os.makedirs(domain_dir, mode=0o700)
            owner = os.stat(self.mail_dir)
            os.chown(domain_dir, owner.st_uid, owner.st_gid)
        with open(os.path.join(domain_dir, local), "w") as f:
            f.write("a file where %s's Maildir must be\n" % local)

    def wait_for_mail(self, address, count, timeout=DELIVERY_TIMEOUT):
        """Waits until address holds at least count messages; asserts it does; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.delivered(address)
            if len(found) >= count or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        assert len(found) >= count, "%s: %d message(s) delivered within %ds, expected %d" % (
            address, len(found), timeout, count)
        return found

    # ---- TLS and users

    def make_certificate(self, name="tls", key_type="ecdsa"):
        """A self-signed certificate for HOSTNAME and its key, made by GnuTLS'
        certtool in the instance's directory name; returns (cert_path, key_path).
        key_type: "ecdsa" (P-256) or "rsa" (2048 bits). The key is readable by root
        alone, as an administrator would keep it."""
        key_options = {"ecdsa": ["--key-type", "ecdsa"],
                       "rsa": ["--key-type", "rsa", "--bits", "2048"]}[key_type]
        directory = self._mkdir(name)
        key = os.path.join(directory, "key.pem")
        cert = os.path.join(directory, "cert.pem")
        template = os.path.join(directory, "cert.cfg")
        with open(template, "w") as f:
            f.write('cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\n'
                    "tls_www_server\nencryption_key\nsigning_key\n" % (HOSTNAME, HOSTNAME))
        for command in (["certtool", "--generate-privkey"] + key_options + ["--outfile", key],
                        ["certtool", "--generate-self-signed", "--load-privkey", key,
                         "--template", template, "--outfile", cert]):
            result = subprocess.run(command, capture_output=True, timeout=CLI_TIMEOUT)
            assert result.returncode == 0, "%s failed: %s" % (command[:2], result.stderr)
        os.chmod(key, 0o600)
        return cert, key

    def use_certificate(self, *listeners):
        """make_certificate(), then that certificate and key on the listeners named (all
        when none is), written to postern.conf; returns (cert_path, key_path)."""
        cert, key = self.make_certificate()
        for name in listeners or list(self.listeners):
            self.listeners[name].update(tls_cert_file=cert, tls_key_file=key)
        self.write_config()
        return cert, key

    def add_user(self, user, password):
        """`postern user add user` with the password on standard input."""
        result = self.ctl("user", "add", user, input=password + "\n")
        assert result.returncode == 0, "postern user add %s failed: %s" % (user, result.stderr)

    def connection_count(self):
        """The connections master counts, from `postern status`."""
        status = self.ctl("status")
        assert status.returncode == 0, status.stderr
        match = re.search(r"^connections: (\d+)$", status.stdout, re.M)
        assert match, "no connection count in:\n" + status.stdout
        return int(match.group(1))

    def wait_for_connection_count(self, expected, timeout=SOCKET_TIMEOUT):
        """Waits until master counts expected connections, handed off or waiting for
        a hand-off: closes reach it a moment after the client closed."""
        deadline = time.monotonic() + timeout
        while True:
            count = self.connection_count()
            if count == expected:
                return
            assert time.monotonic() < deadline, \
                "postern status counts %d connections, expected %d" % (count, expected)
            time.sleep(0.05)

    def queue_list(self):
        """stdout of `postern queue list` (asserts exit 0)."""
        result = self.ctl("queue", "list")
        assert result.returncode == 0, "postern queue list failed: %s" % result.stderr
        return result.stdout


# ---- messages ------------------------------------------------------------------


def split_received(message):
    """(received_field, rest): the first header field if it is Received: (with its
    folded continuation lines, CRLF included), and the bytes after it."""
    if not message[:9].lower() == b"received:":
        return b"", message
    end = 0
    while True:
        newline = message.find(b"\n", end)
        if newline < 0:
            return message, b""
        end = newline + 1
        if message[end:end + 1] not in (b" ", b"\t"):
            return message[:end], message[end:]


def unfold(field):
    """A header field on one line: CRLF before white space removed, trailing CRLF dropped."""
    return re.sub(rb"\r?\n(?=[ \t])", b"", field).rstrip(b"\r\n")


def check_received(field, queue_id):
    """Asserts that field is a Received: field naming HOSTNAME in its by clause and queue_id."""
    line = unfold(field).decode("ascii", errors="replace")
    assert line.lower().startswith("received:"), "not a Received field: %r" % line
    assert re.search(r"\bby %s\b" % re.escape(HOSTNAME), line), "no `by %s`: %r" % (HOSTNAME, line)
    assert re.search(r"\bid %s\b" % re.escape(queue_id), line), "no `id %s`: %r" % (queue_id, line)


def check_delivered(message, queue_id, sent):
    """Asserts that a delivered message is postern's Received: field naming
    queue_id, then exactly the bytes sent."""
    received, rest = split_received(message)
    check_received(received, queue_id)
    assert rest == sent, "delivered bytes differ from sent:\nsent %r\ngot  %r" % (sent, rest)


def queue_id_from(reply):
    """The queue id in the text of `250 2.6.0 <id> Queued mail for delivery`."""
    text = reply.decode() if isinstance(reply, bytes) else reply
    match = QUEUED_REPLY.match(text.strip())
    assert match, "not a queued reply: %r" % text
    return match.group(1)


def connect(port, timeout=SOCKET_TIMEOUT, helo="client.example.test"):
    """An smtplib.SMTP connected to 127.0.0.1:port that has said EHLO."""
    client = smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=timeout)
    code, text = client.ehlo()
    assert code == 250, "EHLO answered %d %r" % (code, text)
    return client


def transaction(client, sender, recipients, data, mail_options=(), rcpt_options=()):
    """MAIL, RCPT for each recipient (each with rcpt_options), DATA of data (bytes
    with CRLF lines, sent as is apart from smtplib's dot-stuffing); asserts every
    step; returns the queue id."""
    code, text = client.mail(sender, list(mail_options))
    assert code == 250, "MAIL answered %d %r" % (code, text)
    for rcpt in recipients:
        code, text = client.rcpt(rcpt, list(rcpt_options))
        assert code == 250, "RCPT TO:<%s> answered %d %r" % (rcpt, code, text)
    code, text = client.data(data)
    assert code == 250, "DATA answered %d %r" % (code, text)
    return queue_id_from(text)


def send(port, sender, recipients, data, mail_options=(), rcpt_options=()):
    """One connection, one transaction; returns the queue id."""
    client = connect(port)
    try:
        return transaction(client, sender, recipients, data, mail_options, rcpt_options)
    finally:
        client.quit()


# An NTLM NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1): Unicode, request target, NTLM.
NTLM_NEGOTIATE = b"NTLMSSP\0\1\0\0\0\x05\x02\0\0" + b"\0" * 16


def ntlm_authenticate(user):
    """An NTLM AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) for user with empty
    responses: well formed, so that the server reads the user name, and
    never valid."""
    fields = [b"\0" * 24, b"\0" * 24, b"", user.encode("utf-16-le"), "W".encode("utf-16-le"), b""]
    header = b"NTLMSSP\0" + (3).to_bytes(4, "little")
    payload = b""
    offset = 64
    for field in fields:
        header += (len(field).to_bytes(2, "little") * 2) + offset.to_bytes(4, "little")
        payload += field
        offset += len(field)
    return header + (0x201).to_bytes(4, "little") + payload


def tls_client_context(minimum_version=None):
    """A client context that does TLS and trusts nothing: the test certificates are
    self-signed. minimum_version: an ssl.TLSVersion the client insists on."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if minimum_version is not None:
        context.minimum_version = minimum_version
    return context


class RawClient:
    """A plain socket for dialogs smtplib would not allow: exact bytes out, lines in."""

    def __init__(self, port, timeout=SOCKET_TIMEOUT, source=None, server="127.0.0.1"):
        """source: a loopback address (127.0.0.2, ...) to connect from; Linux allows any
        of 127.0.0.0/8, which is how tests play several clients."""
        self.sock = socket.create_connection((server, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        """One reply line without its CRLF; b"" at end of stream."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buffer = self.buffer, b""
                return rest
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def reply(self):
        """A whole (possibly multi-line) reply as a list of str lines."""
        lines = []
        while True:
            line = self.line().decode(errors="replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def command(self, text):
        """Sends text + CRLF and returns the reply's last line."""
        self.send(text + "\r\n")
        return self.reply()[-1]

    def close(self):
        self.sock.close()


def first_line(port, source):
    """(a RawClient from source, the first line the server sends it, as str)."""
    client = RawClient(port, source=source)
    return client, client.line().decode(errors="replace")


def assert_served(port, source):
    """A RawClient from source that got the banner."""
    client, line = first_line(port, source)
    assert line == BANNER, "a client from %s got %r" % (source, line)
    return client


def assert_refused(port, source, expected):
    """A client from source gets expected as its first line, then the server closes."""
    client, line = first_line(port, source)
    try:
        assert line == expected, "a client from %s got %r, expected %r" % (source, line, expected)
        rest = client.line()
        assert rest == b"", "after %r the server sent %r instead of closing" % (line, rest)
    finally:
        client.close()


def served_once_a_slot_frees(port, source, refusals, timeout):
    """A RawClient from source that got the banner: master learns of a closed
    connection a moment later, so until timeout a refusal (one of refusals) is retried."""
    deadline = time.monotonic() + timeout
    while True:
        client, line = first_line(port, source)
        if line == BANNER:
            return client
        client.close()
        assert line in refusals, "a client from %s got %r" % (source, line)
        assert time.monotonic() < deadline, "no slot freed within %.0fs" % timeout
        time.sleep(0.1)


def quit_session(client):
    """QUIT is answered 221 and the server closes; then the client closes."""
    assert client.command("QUIT").startswith("221 ")
    assert client.line() == b"", "the server did not close after 221"
    client.close()


# ---- running tests -------------------------------------------------------------


def run_tests(namespace):
    """Runs every function of the calling file named test or test_*, in the order
    they are defined (`h.run_tests(globals())`), each on its own: after each,
    every instance it made is closed (leftover processes fail it), every process
    it spawn()ed and left running is killed by PID, and, when it failed, the log
    of each of its instances is printed and its directories are kept. Exits with
    the automake status: 1 when a test failed, 77 when every test skipped, else 0."""
    tests = [f for name, f in namespace.items()
             if callable(f) and (name == "test" or name.startswith("test_"))
             and getattr(f, "__module__", None) == namespace["__name__"]]
    assert tests, "no test functions in %s" % namespace.get("__file__")
    statuses = [_run_one(test) for test in tests]
    sys.stdout.flush()
    if 1 in statuses:
        sys.exit(1)
    sys.exit(SKIP if all(status == SKIP for status in statuses) else 0)


def _run_one(test):
    status = 0
    try:
        test()
    except Skip as why:
        print("SKIP %s: %s" % (test.__name__, why))
        status = SKIP
    except BaseException:  # noqa: a failing test, whatever it raised
        traceback.print_exc()
        status = 1
    for process in _spawned:
        if process.poll() is None:
            process.kill()
            process.wait()
    for instance in _instances:
        try:
            instance.close()
        except AssertionError:
            traceback.print_exc()
            status = 1
    kept = list(_scratch_dirs)
    if status == 1:
        for instance in _instances:
            instance.dump_log()
        print("FAIL %s (directories kept: %s)" % (test.__name__, " ".join(kept)))
    else:
        for path in kept:
            shutil.rmtree(path, ignore_errors=True)
        if status == 0:
            print("PASS %s" % test.__name__)
    del _instances[:], _spawned[:], _scratch_dirs[:]
    sys.stdout.flush()
    return status
