#!/usr/bin/env python3
"""tests/system/metricsd_test.py — metricsd as a process, with the test as its master.

Starts the built metricsd alone as master would (`metricsd -c CONF
--channel-fd 3 --listen-fd 4`): fd 3 is one end of a SOCK_SEQPACKET
socketpair whose other end the test holds, playing master (ControlRequest
in, ControlReply out, one frame per datagram, through postern_wire), and
fd 4 a TCP socket listening on 127.0.0.1. Real HTTP clients (http.client,
curl when installed) then check:
  - GET /metrics is 200 with exactly the text master gave and Content-Type
    text/plain; version=0.0.4; charset=utf-8; HEAD has the headers and no
    body; GET / points at /metrics;
  - 20 concurrent scrapes while master delays its answer cost master ONE
    ControlRequest, and all 20 get its text;
  - 503 when master answers ok = false, and after 5 s when it does not
    answer; a scrape arriving while that question is still out waits for
    it instead of asking again, and gets the late answer;
  - 404 for another path, 405 (Allow: GET, HEAD) for another method, 400 for
    garbage, an HTTP/1.1 request without Host or a request line without a
    version, 431 for a 9 KB header;
  - a client that connects and sends nothing is closed after ~10 s while
    others are served meanwhile; with 70 idle connections (6 over the cap
    of 64) a scrape waits, and is answered as soon as some of them close;
  - out of descriptors (RLIMIT_NOFILE 16), metricsd pauses accepting rather
    than spin, and serves again once clients close;
  - refused requests are logged one line each, answered scrapes not at all;
    SIGHUP changes nothing;
  - as root: metricsd runs as the smtpd user with its root directory
    run_directory/empty;
  - master closing its end: a waiting scrape gets 503 and metricsd exits 0;
    SIGTERM: exit 0.
Every process is started through h.spawn() and ended by PID.
"""

import fcntl
import http.client
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
import postern_wire as wire  # noqa: E402

EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ANSWER_TIMEOUT = 5      # metricsd's wait for master
CONNECTION_DEADLINE = 10  # a client's time for request and answer
SMTPD_USER = "postern"  # smtpd_user's default; h.DAEMON_USERS[0]
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)  # Linux, socket(7)

METRICS = ("# HELP postern_messages_total Messages acknowledged.\n"
           "# TYPE postern_messages_total counter\n"
           "postern_messages_total{listener=\"smtp\"} 42\n"
           "# HELP postern_note A label with UTF-8: \u00e9\u00e8.\n"
           "postern_note{text=\"caf\u00e9\"} 1\n")


class FakeMaster:
    """The test's end of the channel: records each ControlRequest and answers
    by the current policy, from a thread of its own."""

    def __init__(self, sock):
        # A datagram must fit the send buffer whole; master's channel
        # (lib/ipc/datagram_channel) asks for 4 MB, as root past wmem_max.
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.conn = wire.Connection(sock)
        self.lock = threading.Lock()
        self.requests = []
        self.unanswered = 0
        self.policy = ("answer", True, METRICS, 0.0)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def set_policy(self, *policy):
        """("answer", ok, text, delay) or ("hold",): keep the question."""
        with self.lock:
            self.policy = policy

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def _serve(self):
        while True:
            try:
                name, fields = self.conn.receive()
            except (EOFError, OSError):
                return
            assert name == "ControlRequest", "metricsd sent %s" % name
            with self.lock:
                self.requests.append((fields.verb, list(fields.args)))
                policy = self.policy
                if policy[0] == "hold":
                    self.unanswered += 1
                    continue
            _, ok, text, delay = policy
            time.sleep(delay)
            self._reply(ok, text)

    def _reply(self, ok, text):
        try:
            self.conn.send("ControlReply", ok=ok, text=text, more=b"")
        except (BrokenPipeError, ConnectionResetError):
            pass  # metricsd is gone; the check that expects it says so

    def release(self, ok, text):
        """Answers the question held back."""
        with self.lock:
            assert self.unanswered == 1, "%d questions held" % self.unanswered
            self.unanswered = 0
        self._reply(ok, text)

    def close(self):
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


class Metricsd:
    """One metricsd process with its fake master and its listening socket."""

    def __init__(self, name="metricsd", max_descriptors=None):
        self.root = h.scratch_dir(name)
        self.conf = os.path.join(self.root, "conf")
        self.run = os.path.join(self.root, "run")
        self.state = os.path.join(self.root, "state")
        self.log_path = os.path.join(self.root, "metricsd.log")
        for d in (self.conf, self.run, self.state):
            os.makedirs(d)
        os.mkdir(os.path.join(self.run, "empty"), 0o555)
        os.chmod(os.path.join(self.run, "empty"), 0o555)
        with open(os.path.join(self.conf, "postern.conf"), "w") as conf:
            conf.write("myhostname = mx.example.test\n"
                       "state_directory = %s\n"
                       "run_directory = %s\n"
                       "local_domains = example.test\n"
                       "log_target = stderr\n"
                       "\n"
                       "[listener \"smtp\"]\n"
                       "bind = 127.0.0.1:0\n" % (self.state, self.run))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        # Above any descriptor the child's 3 and 4 could clobber.
        channel_fd = fcntl.fcntl(theirs.fileno(), fcntl.F_DUPFD_CLOEXEC, 100)
        listen_fd = fcntl.fcntl(listener.fileno(), fcntl.F_DUPFD_CLOEXEC, 100)

        def descriptors_3_and_4():
            os.dup2(channel_fd, 3)
            os.dup2(listen_fd, 4)
            if max_descriptors:
                resource.setrlimit(resource.RLIMIT_NOFILE, (max_descriptors, max_descriptors))

        h.ensure_daemon_users()
        with open(self.log_path, "ab") as log:
            self.process = h.spawn(
                [h.daemon_path("metricsd"), "-c", self.conf, "--channel-fd", "3",
                 "--listen-fd", "4", "-v"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
                preexec_fn=descriptors_3_and_4)
        for fd in (channel_fd, listen_fd):
            os.close(fd)
        theirs.close()
        listener.close()  # metricsd holds the socket now, as it would master's
        self.master = FakeMaster(ours)
        h.wait_until(lambda: "ready" in self.log() or self.process.poll() is not None,
                     "metricsd to start")
        assert self.process.poll() is None, "metricsd exited at start:\n" + self.log()

    def log(self):
        return h.read_text(self.log_path)

    def get(self, path="/metrics", method="GET", headers=None, timeout=30):
        """(status, headers dict, body bytes, seconds) of one request by http.client."""
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
            return (response.status, dict(response.getheaders()), body,
                    time.monotonic() - started)
        finally:
            conn.close()

    def raw(self, data, timeout=30):
        """Everything metricsd sends back to data, until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            received = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return received
                received += chunk


def assert_clean_exit(m, code, what):
    """Exit status 0; under ASan, as root, LeakSanitizer's 1 instead (it cannot
    scan a chrooted, unprivileged process), and only that."""
    if code == 1 and h.sanitizer_build() and h.running_as_root():
        assert "LeakSanitizer has encountered a fatal error" in m.log(), m.log()
        assert "stopped" in m.log(), "metricsd did not end its loop " + what
        return
    assert code == 0, "metricsd exited with %d %s" % (code, what)


def status_line(response):
    return response.split(b"\r\n", 1)[0].decode()


# ---- the checks, in order, against one metricsd

def check_scrape(m):
    before = m.master.request_count()
    status, headers, body, _ = m.get()
    assert status == 200, (status, body)
    assert body == METRICS.encode(), "the body is not master's text: %r" % body
    assert headers["Content-Type"] == EXPOSITION_TYPE, headers
    assert headers["Content-Length"] == str(len(METRICS.encode())), headers
    assert headers["Connection"] == "close", headers
    assert m.master.requests[before] == (b"metrics", []), m.master.requests[before:]
    status, headers, body, _ = m.get(method="HEAD")
    assert status == 200 and body == b"", (status, body)
    assert headers["Content-Length"] == str(len(METRICS.encode())), headers
    status, headers, body, _ = m.get("/")
    assert status == 200 and b"/metrics" in body, (status, body)
    # A big exposition travels whole.
    big = "".join("postern_series{n=\"%d\"} %d\n" % (n, n) for n in range(20000))
    m.master.set_policy("answer", True, big, 0.0)
    status, _, body, _ = m.get("/metrics?format=text")
    assert status == 200 and body == big.encode(), "big body: %d bytes" % len(body)
    m.master.set_policy("answer", True, METRICS, 0.0)
    curl = shutil.which("curl")
    if curl:
        result = subprocess.run(
            [curl, "-sS", "-i", "--max-time", "10", "http://127.0.0.1:%d/metrics" % m.port],
            capture_output=True, timeout=30)
        assert result.returncode == 0, result
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
        assert b"\r\nContent-Type: " + EXPOSITION_TYPE.encode() + b"\r\n" in head, head
        assert body == METRICS.encode(), body
        result = subprocess.run(
            [curl, "-sS", "--http1.0", "-o", "/dev/null", "-w", "%{http_code}",
             "--max-time", "10", "http://127.0.0.1:%d/metrics" % m.port],
            capture_output=True, timeout=30)
        assert result.stdout == b"200", result
    else:
        print("  curl is not installed: http.client only")


def check_twenty_scrapes_one_question(m):
    m.master.set_policy("answer", True, METRICS, 1.5)
    before = m.master.request_count()
    barrier = threading.Barrier(20)
    results = [None] * 20

    def scrape(i):
        barrier.wait()
        results[i] = m.get()

    threads = [threading.Thread(target=scrape, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    m.master.set_policy("answer", True, METRICS, 0.0)
    assert all(r and r[0] == 200 and r[2] == METRICS.encode() for r in results), \
        [(r[0], r[2][:60]) if r else None for r in results]
    asked = m.master.request_count() - before
    assert asked == 1, "20 concurrent scrapes asked master %d times" % asked


def check_503_when_master_refuses(m):
    m.master.set_policy("answer", False, "no counters yet", 0.0)
    status, headers, body, _ = m.get()
    m.master.set_policy("answer", True, METRICS, 0.0)
    assert status == 503, (status, body)
    assert b"no counters yet" in body and body.endswith(b"\n") and body.count(b"\n") == 1, body
    assert headers["Content-Type"] == "text/plain; charset=utf-8", headers


def check_503_when_master_is_silent(m):
    m.master.set_policy("hold")
    before = m.master.request_count()
    status, _, body, took = m.get()
    assert status == 503, (status, body)
    assert b"did not answer within 5 s" in body, body
    assert ANSWER_TIMEOUT - 0.5 <= took <= ANSWER_TIMEOUT + 3, "503 after %.1f s" % took
    # The question is still out: the next scrape waits for it, asks nothing.
    late = []
    waiter = threading.Thread(target=lambda: late.append(m.get()))
    waiter.start()
    time.sleep(1.0)
    m.master.set_policy("answer", True, METRICS, 0.0)
    m.master.release(True, "late_answer 1\n")
    waiter.join(30)
    assert late and late[0][0] == 200 and late[0][2] == b"late_answer 1\n", late
    assert m.master.request_count() - before == 1, "metricsd asked again while a question was out"
    assert m.get()[2] == METRICS.encode(), "no fresh question after the late answer"


def check_refusals(m):
    status, _, body, _ = m.get("/nope")
    assert status == 404 and b"/metrics" in body, (status, body)
    status, headers, _, _ = m.get("/metrics", method="POST")
    assert status == 405 and headers.get("Allow") == "GET, HEAD", (status, headers)
    status, _, _, _ = m.get("/metrics", method="DELETE")
    assert status == 405, status
    for garbage in (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64),
                    b"EHLO client.example.test\r\n",
                    b"GET /metrics\r\n\r\n",  # no version
                    b"GET /metrics HTTP/1.1\r\n\r\n",  # no Host
                    b"GET /metrics HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
                    b"GET /\x00metrics HTTP/1.0\r\n\r\n"):
        response = m.raw(garbage)
        assert status_line(response) == "HTTP/1.1 400 Bad Request", (garbage, response)
    status, _, _, _ = m.get(headers={"X-Filler": "a" * 9000})
    assert status == 431, status
    response = m.raw(b"GET /metrics HTTP/1.1\r\nHost: a\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n")
    assert status_line(response) == "HTTP/1.1 431 Request Header Fields Too Large", response
    # Bare LF and HTTP/1.0 without Host are requests.
    response = m.raw(b"GET /metrics HTTP/1.0\n\n")
    assert status_line(response) == "HTTP/1.1 200 OK", response
    assert response.endswith(b"\r\n\r\n" + METRICS.encode()), response
    assert m.process.poll() is None, "metricsd died on garbage"


def check_idle_client_is_closed(m):
    idle = socket.create_connection(("127.0.0.1", m.port), timeout=30)
    started = time.monotonic()
    try:
        status, _, _, took = m.get()
        assert status == 200 and took < 2, "a scrape beside an idle client: %s in %.1f s" % (
            status, took)
        assert idle.recv(1) == b"", "metricsd sent something to a client that asked nothing"
        waited = time.monotonic() - started
        assert CONNECTION_DEADLINE - 1 <= waited <= CONNECTION_DEADLINE + 4, \
            "the idle client was closed after %.1f s" % waited
    finally:
        idle.close()


def check_seventy_idle_connections(m):
    idle = [socket.create_connection(("127.0.0.1", m.port), timeout=30) for _ in range(70)]
    try:
        time.sleep(0.5)  # metricsd accepts up to its cap of 64
        result = []
        scraper = threading.Thread(target=lambda: result.append(m.get()))
        scraper.start()
        time.sleep(1.0)
        assert not result, "a scrape was answered beside 70 connections: no cap of 64"
        for s in idle[:10]:
            s.close()
        started = time.monotonic()
        scraper.join(30)
        assert result and result[0][0] == 200, result
        took = time.monotonic() - started
        assert took < 3, "the scrape waited %.1f s after 10 connections closed" % took
    finally:
        for s in idle:
            s.close()
    assert m.process.poll() is None, "metricsd died with 70 connections"


def check_log(m):
    log = m.log()
    assert "404 Not Found: no such path" in log, log
    assert "405 Method Not Allowed" in log, log
    assert "431 Request Header Fields Too Large" in log, log
    assert "503 Service Unavailable: master did not answer within 5 s" in log, log
    assert "no whole request within 10 s" in log, log
    assert ": 200 OK" not in log, \
        "an answered scrape was logged:\n" + log
    assert not h.problem_lines(log), log


def check_sighup_changes_nothing(m):
    os.kill(m.process.pid, signal.SIGHUP)
    h.wait_until(lambda: "nothing to reload" in m.log(), "the SIGHUP debug line")
    assert "configuration reloaded" not in m.log() and "reload failed" not in m.log(), m.log()
    assert m.get()[0] == 200


def check_unprivileged_and_chrooted(m):
    if not h.running_as_root():
        print("  not root: metricsd keeps this user and no chroot")
        return
    import pwd
    user = pwd.getpwnam(SMTPD_USER)
    uids = h.proc_uids(m.process.pid)
    assert uids == [user.pw_uid] * 4, "metricsd uids %s" % uids
    with open("/proc/%d/status" % m.process.pid) as f:
        gids = next(line.split()[1:] for line in f if line.startswith("Gid:"))
    assert gids == [str(user.pw_gid)] * 4, "metricsd gids %s" % gids
    root = os.readlink("/proc/%d/root" % m.process.pid)
    assert root == h.worker_root(m.run), "metricsd's root is %s" % root


def check_master_gone_exits_zero(m):
    m.master.set_policy("hold")
    result = []
    waiter = threading.Thread(target=lambda: result.append(m.get()))
    waiter.start()
    h.wait_until(lambda: m.master.unanswered == 1, "the scrape's question")
    m.master.close()
    waiter.join(30)
    assert result and result[0][0] == 503 and b"master is gone" in result[0][2], result
    assert_clean_exit(m, m.process.wait(timeout=15), "when master went away")
    assert "master closed the channel" in m.log(), m.log()


def test():
    m = Metricsd()
    check_scrape(m)
    check_twenty_scrapes_one_question(m)
    check_503_when_master_refuses(m)
    check_503_when_master_is_silent(m)
    check_refusals(m)
    check_idle_client_is_closed(m)
    check_seventy_idle_connections(m)
    check_sighup_changes_nothing(m)
    check_log(m)
    check_unprivileged_and_chrooted(m)
    check_master_gone_exits_zero(m)


def cpu_seconds(pid):
    """User plus system CPU time of pid so far (/proc/PID/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_pauses_accepting():
    """With 16 descriptors metricsd meets EMFILE after a few idle clients: it
    pauses accepting instead of spinning on the listen queue, and serves
    again once clients close."""
    m = Metricsd("metricsd-emfile", max_descriptors=16)
    idle = [socket.create_connection(("127.0.0.1", m.port), timeout=30) for _ in range(20)]
    try:
        h.wait_until(lambda: "Too many open files" in m.log(), "metricsd to run out of descriptors")
        before = cpu_seconds(m.process.pid)
        time.sleep(2)
        spent = cpu_seconds(m.process.pid) - before
        assert spent < 0.5, "metricsd spent %.2f s of CPU in 2 s out of descriptors" % spent
        pauses = m.log().count("not accepting for 1000 ms")
        assert 1 <= pauses <= 5, "%d pauses in about 2 s" % pauses
    finally:
        for s in idle:
            s.close()
    status, _, body, took = m.get()
    assert status == 200 and body == METRICS.encode(), (status, body)
    assert took < 3, "the first scrape after the shortage took %.1f s" % took


def test_sigterm_exits_zero():
    m = Metricsd("metricsd-sigterm")
    assert m.get()[0] == 200
    os.kill(m.process.pid, signal.SIGTERM)
    assert_clean_exit(m, m.process.wait(timeout=15), "on SIGTERM")


if __name__ == "__main__":
    h.run_tests(globals())
