#!/usr/bin/env python3
"""tests/system/dialog_test.py — runs every SMTP transcript in dialogs/ against a real postern.

One postern instance serves all transcripts; each transcript gets its own TCP
connection and is checked line by line. A failure names the file and line of
the first difference; every transcript runs even after one fails.

Transcript format (one directive a line; blank lines are ignored):
  # text            a comment
  C: text           send text and CRLF ("C:" alone sends an empty line)
  C-RAW: text       send text as is, after escapes: \\r \\n \\t \\\\ \\xHH
  S: text           read one reply line; it must be exactly text
  S~ regex          read one reply line; it must match regex in full
  S*: CODE          read the rest of a reply: any "CODE-..." lines, then a "CODE ..." line
  CLOSE             the server must close the connection (nothing more to read)
  EXPECT-MAIL addr  the lines up to END hold a message that must have been
                    delivered to addr (after postern's Received: field):
                    "M: text" is text and CRLF, "M-RAW: text" uses the escapes
In C:, C-RAW:, M: and M-RAW: text, {{N*X}} stands for X repeated N times.
Consecutive C/C-RAW lines are sent in one write, as a pipelining client
would, when the next S/S~/S*/CLOSE line is reached.
"""

import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

DIALOG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dialogs")
READ_TIMEOUT = 10


class Mismatch(Exception):
    """The first difference in a transcript: (line number, message)."""


def expand_repeats(text):
    return re.sub(r"\{\{(\d+)\*(.*?)\}\}", lambda m: m.group(2) * int(m.group(1)), text)


def unescape(text):
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        c = raw[i:i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        kind = raw[i + 1:i + 2]
        if kind == b"x":
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
            continue
        out += {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}[kind]
        i += 2
    return bytes(out)


def payload(directive, text):
    """The bytes a C:/C-RAW:/M:/M-RAW: line stands for."""
    text = expand_repeats(text)
    if directive.endswith("-RAW:"):
        return unescape(text)
    return text.encode("utf-8") + b"\r\n"


def parse(path):
    """[(line number, directive, argument)] of a transcript."""
    steps = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            match = re.match(r"^(C:|C-RAW:|S:|S~|S\*:|M:|M-RAW:|EXPECT-MAIL|END|CLOSE)( ?)(.*)$", line)
            if not match:
                raise Mismatch(number, "cannot parse %r" % line)
            steps.append((number, match.group(1), match.group(3)))
    return steps


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
        self.buffer = b""
        self.pending = b""

    def queue(self, data):
        self.pending += data

    def flush(self):
        if self.pending:
            self.sock.sendall(self.pending)
            self.pending = b""

    def line(self):
        """One line without CRLF, or None at end of stream."""
        self.flush()
        while b"\r\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no reply within %ds (buffered %r)" % (READ_TIMEOUT, self.buffer))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", errors="replace")

    def closed(self):
        self.flush()
        if self.buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def expect_line(conn, number, check, want):
    try:
        got = conn.line()
    except (TimeoutError, OSError) as e:
        raise Mismatch(number, "expected %s, %s" % (want, e))
    if got is None:
        raise Mismatch(number, "expected %s, the server closed the connection" % want)
    if not check(got):
        raise Mismatch(number, "expected %s\n    got      %r" % (want, got))
    return got


def read_reply_rest(conn, number, code):
    while True:
        got = expect_line(conn, number, lambda line: line[:4] in (code + "-", code + " "),
                          "a line of a %s reply" % code)
        if got[3] == " ":
            return


def check_delivered(instance, number, address, expected):
    deadline = time.monotonic() + h.DELIVERY_TIMEOUT
    while True:
        bodies = [h.split_received(m)[1] for m in instance.delivered(address)]
        if expected in bodies:
            return
        if time.monotonic() > deadline:
            raise Mismatch(number, "no message for %s equals %r; delivered: %r" % (
                address, expected, bodies))
        time.sleep(0.05)


def run_steps(instance, steps):
    conn = Connection(instance.port)
    try:
        mail_block = None
        for number, directive, text in steps:
            if mail_block is not None:
                if directive in ("M:", "M-RAW:"):
                    mail_block[2] += payload(directive, text)
                elif directive == "END":
                    conn.flush()
                    check_delivered(instance, *mail_block)
                    mail_block = None
                else:
                    raise Mismatch(number, "%s inside EXPECT-MAIL (M:, M-RAW: or END)" % directive)
            elif directive in ("C:", "C-RAW:"):
                conn.queue(payload(directive, text))
            elif directive == "S:":
                expect_line(conn, number, lambda line: line == text, repr(text))
            elif directive == "S~":
                expect_line(conn, number, lambda line: re.fullmatch(text, line), "/%s/" % text)
            elif directive == "S*:":
                read_reply_rest(conn, number, text.strip())
            elif directive == "CLOSE":
                if not conn.closed():
                    raise Mismatch(number, "expected the server to close; it sent %r or kept the "
                                   "connection open" % conn.buffer)
            elif directive == "EXPECT-MAIL":
                mail_block = [number, text.strip(), b""]
            else:
                raise Mismatch(number, "%s outside EXPECT-MAIL" % directive)
        if mail_block is not None:
            raise Mismatch(mail_block[0], "EXPECT-MAIL without END")
        conn.flush()
        if conn.buffer:
            raise Mismatch(steps[-1][0], "unexpected extra output %r" % conn.buffer)
    finally:
        conn.close()


def test():
    names = sorted(n for n in os.listdir(DIALOG_DIR) if n.endswith(".dialog"))
    assert names, "no transcripts in " + DIALOG_DIR
    failures = []
    with h.Instance() as instance:
        instance.start()
        for name in names:
            path = os.path.join(DIALOG_DIR, name)
            try:
                run_steps(instance, parse(path))
                print("ok   %s" % name)
            except Mismatch as e:
                number, message = e.args
                failures.append("%s:%d: %s" % (path, number, message))
                print("FAIL %s:%d: %s" % (path, number, message))
        instance.stop()
    assert not failures, "%d of %d transcripts failed:\n%s" % (
        len(failures), len(names), "\n".join(failures))


if __name__ == "__main__":
    h.run_tests(globals())
