#!/usr/bin/env python3
"""tests/system/qmgr_socket_test.py — qmgr as a process: message streams, Maildir
delivery, kill -9, queue control.

Starts the built qmgr alone on a temporary config directory, speaks the
queue socket's messages (MessageBegin, MessageData, MessageEnd, MessageAbort,
MessageResult of lib/ipc/messages_queue.h, an Envelope of
lib/queue/envelope.h, ControlRequest and ControlReply) through postern_wire,
and checks what an administrator relies on:

  - 20 interleaved concurrent streams are each answered kQueued with their
    queue id, and every local recipient finds the message in its Maildir,
    byte for byte;
  - a malformed frame closes that connection only; a duplicate or invalid
    queue id is refused; an aborted stream is never delivered;
  - a MessageEnd with report_first_attempt (acknowledgement_delay) gets a
    FirstAttemptEnded on its stream after its MessageResult: kDelivered
    once the file is in new/, kDeferred once a remote recipient's MX lookup
    failed; one without the flag gets none;
  - after SIGKILL in the middle of further streams and a restart, every
    acknowledged message is delivered exactly once and every
    unacknowledged one at most once;
  - the control verbs list, show, hold, release, flush, delete;
  - by default the queue's LMDB map is as large as the file system of
    state_directory (the queue is bounded by min_free_disk_space, not by a
    fixed map), and queue_map_size sets it instead;
  - a full queue answers kInsufficientResources and recovers once emptied;
  - SIGTERM stops qmgr with exit status 0.
"""

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
import postern_wire as wire  # noqa: E402

PIECE = 64 * 1024
DELIVERY_TIMEOUT = 60.0


def envelope(queue_id, sender, recipients, arrival_time):
    return wire.envelope(queue_id=queue_id, sender=sender,
                         recipients=[{"address": address} for address in recipients],
                         arrival_time=arrival_time, client_address="127.0.0.1",
                         client_helo="client.example.test", listener="smtp")


_id_lock = threading.Lock()
_id_counter = [0]


def new_queue_id():
    """The form lib/queue/queue_id.h makes: 12 hex digits of microseconds, pid, counter."""
    with _id_lock:
        _id_counter[0] += 1
        micros = int(time.time() * 1e6) & 0xFFFFFFFFFFFF
        return "%012X.%X.%X" % (micros, os.getpid(), _id_counter[0])


class Connection(wire.Connection):
    """One client connection to the queue socket, speaking as smtpd does."""

    def __init__(self, path, timeout=30.0):
        conn = wire.Connection.unix(path, timeout)
        super().__init__(conn.sock)

    def begin(self, stream_id, envelope_bytes):
        self.send("MessageBegin", stream_id=stream_id, envelope=envelope_bytes)

    def data(self, stream_id, content):
        for at in range(0, len(content), PIECE):
            self.send("MessageData", stream_id=stream_id, content=content[at:at + PIECE])

    def end(self, stream_id, report_first_attempt=False):
        self.send("MessageEnd", stream_id=stream_id, report_first_attempt=report_first_attempt)

    def abort(self, stream_id):
        self.send("MessageAbort", stream_id=stream_id)

    def result(self):
        """The next MessageResult as (stream_id, outcome enumerator, text)."""
        result = self.expect("MessageResult")
        return result.stream_id, result.outcome, result.text.decode()

    def control(self, verb, *args):
        self.send("ControlRequest", verb=verb, args=list(args))
        reply = self.expect("ControlReply")
        return reply.ok, reply.text.decode(errors="replace")


def is_valid_queue_id(qid):
    parts = qid.split(".")
    return (16 <= len(qid) <= 48 and len(parts) == 3 and len(parts[0]) == 12 and
            all(p and all(c in "0123456789ABCDEF" for c in p) for p in parts))


def make_content(tag, size):
    """A message with a header naming it, CRLF lines, and bytes a careless
    writer would mangle (NUL, 0xFF, a lone '.')."""
    header = ("Message-ID: <%s@test>\r\nSubject: %s\r\n\r\n" % (tag, tag)).encode()
    if size <= len(header):
        return header[:size]
    rng = random.Random(tag)
    body = bytes(rng.getrandbits(8) for _ in range(min(size - len(header), 4096)))
    body = (body + b"\r\n.\r\n\x00\xff") * ((size - len(header)) // (len(body) + 6) + 1)
    return header + body[:size - len(header)]


# ---- the daemon under test

class Qmgr:
    def __init__(self, root, extra_config=""):
        self.root = root
        self.config_dir = os.path.join(root, "conf")
        self.state = os.path.join(root, "state")
        self.run = os.path.join(root, "run")
        self.socket_path = os.path.join(self.run, "qmgr.sock")
        self.control_path = os.path.join(self.run, "qmgr-control.sock")
        self.mail = os.path.join(self.state, "mail")
        self.log_path = os.path.join(root, "qmgr.log")
        self.process = None
        for d in (self.config_dir, self.state, self.run):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.config_dir, "postern.conf"), "w") as conf:
            conf.write("myhostname = mx.example.test\n"
                       "state_directory = %s\n"
                       "run_directory = %s\n"
                       "local_domains = example.test\n"
                       "log_target = stderr\n"  # qmgr.log: the test reads it
                       # Nothing answers there: MX lookups fail at once, on loopback.
                       "dns_nameservers = 127.0.0.1:%d\n"
                       "%s"
                       "\n"
                       "[listener \"smtp\"]\n"
                       "bind = 127.0.0.1:0\n" % (self.state, self.run, h.free_port(), extra_config))

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = h.spawn([h.daemon_path("qmgr"), "-c", self.config_dir],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "qmgr exited with %s at start-up:\n%s" % (
                self.process.returncode, self.log())
            try:
                ok, _ = self.control("ping", timeout=5)
                if ok:
                    return
            except (OSError, EOFError):
                time.sleep(0.1)
        raise AssertionError("qmgr did not answer ping within 30 s:\n" + self.log())

    def control(self, verb, *args, timeout=30.0):
        """One request on the control socket (the queue verbs live there only)."""
        with Connection(self.control_path, timeout=timeout) as c:
            return c.control(verb, *args)

    def kill(self, signo):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signo)
            self.process.wait(timeout=60)

    def log(self):
        return h.read_text(self.log_path)

    def mailbox_files(self, local):
        """Paths of the messages in example.test/<local>, in new/ and cur/."""
        files = []
        for sub in ("new", "cur"):
            d = os.path.join(self.mail, "example.test", local, sub)
            if os.path.isdir(d):
                files += [os.path.join(d, n) for n in sorted(os.listdir(d))]
        return files


def read(path):
    with open(path, "rb") as f:
        return f.read()


def wait_for(condition, what, timeout=DELIVERY_TIMEOUT):
    h.wait_until(condition, what, timeout, interval=0.1)


def send_message(conn, stream_id, queue_id, recipients, content, arrival=None):
    conn.begin(stream_id, envelope(queue_id, "sender@example.test", recipients,
                                   arrival or int(time.time())))
    conn.data(stream_id, content)
    conn.end(stream_id)


# ---- the steps, run in order against one qmgr

def check_concurrent_streams(q, state):
    """20 streams interleaved over 4 connections, all answered and delivered."""
    sizes = [0, 1, 77, 4096, 131071, 131072, 131073, 300000, 1048576 + 5, 2500000]
    sizes = (sizes * 2)[:20]
    connections = [Connection(q.socket_path) for _ in range(4)]
    messages = []
    for i, size in enumerate(sizes):
        conn = connections[i % 4]
        stream_id = 1000 + i
        qid = new_queue_id()
        rcpts = ["user%d@example.test" % i]
        if i == 0:
            rcpts.append("remote@elsewhere.test")  # stays queued: its MX lookup fails
        if i == 1:
            rcpts.append("Mixed.Case@EXAMPLE.test")
        content = make_content("concurrent-%d" % i, size)
        messages.append((conn, stream_id, qid, rcpts, content))
        conn.begin(stream_id, envelope(qid, "sender@example.test", rcpts, int(time.time())))
    # Interleave the content of all streams piece by piece.
    offsets = [0] * len(messages)
    while any(offsets[i] < len(m[4]) for i, m in enumerate(messages)):
        for i, (conn, stream_id, _, _, content) in enumerate(messages):
            if offsets[i] < len(content):
                piece = content[offsets[i]:offsets[i] + PIECE]
                conn.send("MessageData", stream_id=stream_id, content=piece)
                offsets[i] += PIECE
    for conn, stream_id, _, _, _ in messages:
        conn.end(stream_id)
    answers = {}
    for conn in connections:
        for _ in range(5):
            stream_id, outcome, reply = conn.result()
            answers[stream_id] = (outcome, reply)
    for conn, stream_id, qid, _, _ in messages:
        outcome, reply = answers[stream_id]
        assert outcome == "kQueued", "stream %d: outcome %s (%s)" % (stream_id, outcome, reply)
        assert reply == qid and is_valid_queue_id(reply), "stream %d answered id %r" % (
            stream_id, reply)
    for conn in connections:
        conn.close()
    for i, (_, _, qid, rcpts, content) in enumerate(messages):
        locals_ = ["user%d" % i] + (["Mixed.Case"] if i == 1 else [])
        for local in locals_:
            wait_for(lambda: len(q.mailbox_files(local)) == 1, "delivery to " + local)
            files = q.mailbox_files(local)
            assert read(files[0]) == content, "%s: content differs from what was sent" % local
            # The name is derived from the queue id, so a repeated delivery finds it.
            assert ".Q%sR" % qid in os.path.basename(files[0]), "unexpected file name " + files[0]
    state["remote_id"] = messages[0][2]
    # Give qmgr time to record the deliveries, then no local message is left.
    wait_for(lambda: queue_ids(q) == {state["remote_id"]},
             "the queue to hold only the remote message")


def queue_ids(q):
    ok, listing = q.control("list")
    assert ok, "list failed: " + listing
    return {line.split()[0] for line in listing.splitlines()
            if line and not line.startswith((" ", "--", "Mail queue"))}


def check_refusals_and_protocol_errors(q, state):
    """Bad ids and duplicates are refused per stream; garbage closes one connection."""
    good = Connection(q.socket_path)
    bad = Connection(q.socket_path)
    # A frame with another protocol version: qmgr closes that connection only.
    bad.send_bytes(wire.raw_frame("ControlRequest", version=99))
    assert bad.closed_by_peer(), "qmgr kept a connection that sent protocol version 99"
    bad.close()
    # Data for a stream that was never begun is a protocol error too.
    worse = Connection(q.socket_path)
    worse.data(77, b"x")
    assert worse.closed_by_peer(), "qmgr kept a connection that sent data for no stream"
    worse.close()

    send_message(good, 1, "not-a-queue-id", ["refused@example.test"], b"x")
    _, outcome, reply = good.result()
    assert outcome == "kTemporaryFailure", "invalid id accepted: %d %s" % (outcome, reply)
    send_message(good, 2, state["remote_id"], ["dup@example.test"], b"x")
    _, outcome, reply = good.result()
    assert outcome == "kTemporaryFailure", "duplicate id accepted: %d %s" % (outcome, reply)
    assert "already" in reply, "duplicate refusal does not say why: " + reply
    # Aborted: never delivered.
    good.begin(3, envelope(new_queue_id(), "s@example.test", ["aborted@example.test"], 1))
    good.data(3, make_content("aborted", 200000))
    good.abort(3)
    # The connection still works after all this.
    qid = new_queue_id()
    content = make_content("after-refusals", 1000)
    send_message(good, 4, qid, ["afterrefusals@example.test"], content)
    stream_id, outcome, reply = good.result()
    assert (stream_id, outcome, reply) == (4, "kQueued", qid), "good stream failed: %s" % reply
    good.close()
    wait_for(lambda: len(q.mailbox_files("afterrefusals")) == 1, "delivery after refusals")
    assert read(q.mailbox_files("afterrefusals")[0]) == content, "content differs"
    assert q.mailbox_files("aborted") == [], "an aborted message was delivered"
    assert q.mailbox_files("refused") == [] and q.mailbox_files("dup") == [], \
        "a refused message was delivered"
    assert q.process.poll() is None, "qmgr died on protocol errors"


def check_each_socket_serves_its_own_frames(q, state):
    """smtpd's connections (qmgr.sock) cannot reach the queue verbs: a
    control request there closes the connection unanswered and changes
    nothing. The control socket takes no message stream either."""
    before = queue_ids(q)
    assert state["remote_id"] in before, "the queue is empty; delete ALL would prove nothing"
    intruder = Connection(q.socket_path)
    intruder.send("ControlRequest", verb="delete", args=["ALL"])
    assert intruder.closed_by_peer(), "qmgr answered a control request on the message socket"
    intruder.close()
    reader = Connection(q.socket_path)
    reader.send("ControlRequest", verb="show", args=[state["remote_id"], "--body"])
    assert reader.closed_by_peer(), "qmgr showed a message to a message-socket connection"
    reader.close()
    assert queue_ids(q) == before, "a control request on the message socket changed the queue"
    streamer = Connection(q.control_path)
    streamer.begin(1, envelope(new_queue_id(), "s@example.test", ["nostream@example.test"], 1))
    assert streamer.closed_by_peer(), "qmgr took a message stream on the control socket"
    streamer.close()
    log = q.log()
    assert "kControlRequest on the message socket" in log and \
        "kMessageBegin on the control socket" in log, "the log does not say why:\n" + log
    assert q.process.poll() is None, "qmgr died"


def check_first_attempt_reports(q, state):
    """acknowledgement_delay's report: after the result, on the same stream."""
    c = Connection(q.socket_path)
    content = make_content("attempted", 3000)
    qid = new_queue_id()
    c.begin(1, envelope(qid, "sender@example.test", ["attempted@example.test"], int(time.time())))
    c.data(1, content)
    c.end(1, report_first_attempt=True)
    assert c.result() == (1, "kQueued", qid)
    report = c.expect("FirstAttemptEnded")
    assert (report.stream_id, report.summary) == (1, "kDelivered"), report
    [delivered] = q.mailbox_files("attempted")  # there when the report came
    assert read(delivered) == content
    # A remote recipient whose MX lookup fails at once (no nameserver answers
    # at this test's dns_nameservers): the attempt ends deferred.
    far = new_queue_id()
    c.begin(2, envelope(far, "sender@example.test", ["far@elsewhere.test"], int(time.time())))
    c.end(2, report_first_attempt=True)
    assert c.result() == (2, "kQueued", far)
    report = c.expect("FirstAttemptEnded")
    assert (report.stream_id, report.summary) == (2, "kDeferred"), report
    # Without the flag no report follows the result: the next frame is the
    # result of a stream begun once the delivery is done.
    send_message(c, 3, new_queue_id(), ["unreported@example.test"], b"Subject: x\r\n\r\nx\r\n")
    assert c.result()[1] == "kQueued"
    wait_for(lambda: len(q.mailbox_files("unreported")) == 1, "delivery to unreported")
    send_message(c, 4, new_queue_id(), ["unreported@example.test"], b"Subject: y\r\n\r\ny\r\n")
    assert c.result()[0] == 4, "a frame other than stream 4's result came first"
    ok, reply = q.control("delete", far)
    assert ok, reply
    c.close()


def check_control_verbs(q, state):
    c = Connection(q.socket_path)
    control = Connection(q.control_path)
    remote = state["remote_id"]
    ok, listing = control.control("list")
    assert ok, listing
    # A line for the message, then an indented one per recipient.
    block = re.search(r"^%s active .*\n(?:  .*\n)*" % re.escape(remote), listing, re.M)
    assert block, "list does not show %s:\n%s" % (remote, listing)
    lines = block.group(0).splitlines()
    assert (lines[0].endswith(" <sender@example.test>") and
            # pending, or deferred once its MX lookup failed
            any(re.match(r"  <remote@elsewhere\.test> (pending|deferred)", l) for l in lines) and
            any(l.startswith("  <user0@example.test> delivered, last try ") for l in lines)), \
        "list lacks sender or recipient states:\n" + block.group(0)
    ok, shown = control.control("show", remote)
    assert ok and "queue_id: " + remote in shown and \
        "Message-ID: <concurrent-0@test>" not in shown, "show of a 0-byte message is wrong:\n" + shown
    assert re.search(r"^recipient: <remote@elsewhere\.test> (pending|deferred)$", shown, re.M), \
        "show lacks recipients:\n" + shown

    # hold, release and delete a message of its own.
    qid = new_queue_id()
    send_message(c, 9, qid, ["held@elsewhere.test"], make_content("held", 5000))
    assert c.result()[1] == "kQueued", "message for the hold test was not queued"
    ok, reply = control.control("hold", qid)
    assert ok, "hold failed: " + reply
    ok, listing = control.control("list")
    assert any(l.startswith(qid + " held ") for l in listing.splitlines()), \
        "hold not listed:\n" + listing
    ok, shown = control.control("show", qid)
    assert ok and "status: held" in shown and "Message-ID: <held@test>" not in shown, \
        "show:\n" + shown
    ok, shown = control.control("show", qid, "--body")
    assert ok and "Message-ID: <held@test>" in shown and "status: held" in shown, "show:\n" + shown
    ok, reply = control.control("release", qid)
    assert ok, "release failed: " + reply
    ok, listing = control.control("list")
    assert any(l.startswith(qid + " active ") for l in listing.splitlines()), "release not listed"
    ok, reply = control.control("flush")
    assert ok and "scheduled" in reply, "flush: " + reply
    ok, reply = control.control("delete", qid)
    assert ok, "delete failed: " + reply
    assert qid not in queue_ids(q), "deleted message still listed"
    ok, reply = control.control("delete", qid)
    assert not ok, "deleting a missing message succeeded"
    ok, reply = control.control("show", "../../etc/passwd")
    assert not ok and "not a queue id" in reply, "show accepted a bad id: " + reply
    ok, reply = control.control("frobnicate")
    assert not ok, "an unknown verb succeeded"
    c.close()
    control.close()


def check_kill9_and_restart(q, state):
    """SIGKILL while streams run; after restart acked = delivered once, others at most once."""
    lock = threading.Lock()
    acked = {}      # local part -> content
    unacked = {}    # local part -> content
    stop = threading.Event()
    counter = [0]

    def client(worker):
        try:
            conn = Connection(q.socket_path)
        except OSError:
            return
        stream_id = 0
        while not stop.is_set():
            with lock:
                counter[0] += 1
                n = counter[0]
            local = "kill%d" % n
            content = make_content(local, random.Random(n).choice([300, 5000, 200000, 700000]))
            with lock:
                unacked[local] = content
            stream_id += 1
            try:
                send_message(conn, stream_id, new_queue_id(), [local + "@example.test"], content)
                _, outcome, _ = conn.result()
            except (OSError, EOFError):
                return
            if outcome == "kQueued":
                with lock:
                    acked[local] = unacked.pop(local)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    wait_for(lambda: len(acked) >= 40, "40 acknowledged messages before the kill", timeout=120)
    q.kill(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acked) >= 40, "too few messages acknowledged"
    q.start()
    for local, content in acked.items():
        wait_for(lambda: len(q.mailbox_files(local)) >= 1, "delivery of acknowledged " + local)
    # Let qmgr settle: every local message recorded and removed.
    wait_for(lambda: queue_ids(q) == {state["remote_id"]}, "the queue to empty after the restart")
    for local, content in acked.items():
        files = q.mailbox_files(local)
        assert len(files) == 1, "acknowledged %s delivered %d times" % (local, len(files))
        assert read(files[0]) == content, "acknowledged %s: content differs" % local
    for local, content in unacked.items():
        files = q.mailbox_files(local)
        assert len(files) <= 1, "unacknowledged %s delivered %d times" % (local, len(files))
        if files:
            assert read(files[0]) == content, "unacknowledged %s: content differs" % local
    print("  kill -9 after %d acknowledged, %d unacknowledged messages"
          % (len(acked), len(unacked)))


def check_map_spans_the_file_system(q, state):
    fs = os.statvfs(q.state)
    megabytes = (fs.f_blocks * fs.f_frsize + (1 << 20) - 1) >> 20
    line = "queue map: %d MB (the file system of state_directory)" % megabytes
    assert line in q.log(), "no %r in the log:\n%s" % (line, q.log())


def check_full_queue_answers_insufficient_resources(q, state):
    """A second qmgr with a 1 MB queue: a message that does not fit is answered
    kInsufficientResources (smtpd's 452 4.3.1), and once the queue is emptied
    the same qmgr queues again."""
    small = Qmgr(os.path.join(q.root, "small"), "queue_map_size = 1m\n")
    small.start()
    try:
        assert "queue map: 1 MB (queue_map_size)" in small.log(), small.log()
        c = Connection(small.socket_path)
        outcomes = []
        for n in range(1, 30):
            content = make_content("full-%d" % n, 150000)
            send_message(c, n, new_queue_id(), ["far%d@elsewhere.test" % n], content)
            _, outcome, reply = c.result()
            outcomes.append(outcome)
            if outcome != "kQueued":
                assert outcome == "kInsufficientResources", "a full queue answered %s (%s)" % (
                    outcome, reply)
                break
        assert outcomes[0] == "kQueued" and outcomes[-1] == "kInsufficientResources", \
            "the 1 MB queue never filled: %s" % outcomes
        ok, reply = small.control("delete", "ALL")
        assert ok, "delete ALL on a full queue failed: " + reply
        queued = []
        for n in range(100, 103):
            qid = new_queue_id()
            send_message(c, n, qid, ["later@elsewhere.test"], make_content("later", 150000))
            queued.append(c.result()[1] == "kQueued")
        assert all(queued), "the emptied queue still refuses messages: %s" % queued
        c.close()
        assert small.process.poll() is None, "qmgr died on a full queue"
    finally:
        small.kill(signal.SIGKILL)


def check_sigterm_exits_zero(q, state):
    c = Connection(q.socket_path)
    qid = new_queue_id()
    send_message(c, 1, qid, ["lastone@example.test"], make_content("lastone", 1000))
    assert c.result()[1] == "kQueued", "last message not queued"
    c.close()
    q.process.send_signal(signal.SIGTERM)
    code = q.process.wait(timeout=60)
    assert code == 0, "qmgr exited with %d on SIGTERM" % code
    assert not os.path.exists(q.socket_path) and not os.path.exists(q.control_path), \
        "qmgr left a socket behind"
    assert "Message-ID" not in q.log(), "the log contains message content"


def test():
    q = Qmgr(h.scratch_dir("qmgr"))
    q.start()
    state = {}
    check_map_spans_the_file_system(q, state)
    check_concurrent_streams(q, state)
    check_refusals_and_protocol_errors(q, state)
    check_each_socket_serves_its_own_frames(q, state)
    check_first_attempt_reports(q, state)
    check_control_verbs(q, state)
    check_kill9_and_restart(q, state)
    check_full_queue_answers_insufficient_resources(q, state)
    check_sigterm_exits_zero(q, state)


if __name__ == "__main__":
    h.run_tests(globals())
