#!/usr/bin/env python3
"""tests/system/swaks_test.py — messages sent by swaks arrive as swaks sent them.

swaks is a real, independent SMTP client. Each case runs it against a real
postern and compares the delivered Maildir file (after postern's Received:
field) with the bytes swaks sent:
- swaks' own message (--body, --h-Subject), with and without --pipeline; the
  sent bytes are read back from swaks' transcript (" -> " lines between the
  354 and the final ".", dot-stuffing undone);
- a message from a file we wrote (--data @FILE: CRLF lines, a leading dot,
  8-bit text), to two recipients, with --pipeline; there the expected bytes
  are the file's own, plus the CRLF swaks ends the last line with.
Each queue id comes from swaks' transcript of the 250 2.6.0 reply.
"""

import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

SWAKS_TIMEOUT = 30

FILE_MESSAGE = (
    "From: Ann <ann@example.test>\r\n"
    "Subject: from a file\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    ".starts with a dot\r\n"
    "\r\n"
    "\u00e9t\u00e9 \u00e0 la mer \u2600\r\n"
    "last line, which swaks ends with CRLF"
).encode("utf-8")


def swaks(port, *args):
    """Runs swaks against 127.0.0.1:port; asserts success; returns its transcript (bytes)."""
    command = ["swaks", "--server", "127.0.0.1:%d" % port, "--helo", "client.example.test",
               "--timeout", "10"] + list(args)
    result = subprocess.run(command, capture_output=True, timeout=SWAKS_TIMEOUT)
    transcript = result.stdout + result.stderr
    assert result.returncode == 0, "swaks exited %d:\n%s" % (
        result.returncode, transcript.decode(errors="replace"))
    return transcript


def sent_data(transcript):
    """The message swaks sent: its " -> " lines after the 354, up to the lone "."."""
    lines = transcript.split(b"\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"<-  354"))
    data = b""
    for line in lines[start + 1:]:
        if not line.startswith(b" -> "):
            continue  # pipelined replies interleave with the data
        text = line[4:].rstrip(b"\r")
        if text == b".":
            return data
        data += (text[1:] if text.startswith(b".") else text) + b"\r\n"
    raise AssertionError("no end of data in swaks transcript")


def queued_id(transcript):
    for line in transcript.split(b"\n"):
        if line.startswith(b"<-  250 2.6.0 "):
            return h.queue_id_from(line[8:].decode())
    raise AssertionError("no `250 2.6.0` in swaks transcript:\n%s" % transcript.decode(errors="replace"))


def check_delivered(instance, address, expected, queue_id, count):
    """The newest of count messages for address is expected, after a Received: naming queue_id."""
    found = instance.wait_for_mail(address, count)
    matching = [m for m in found if h.split_received(m)[1] == expected]
    assert len(matching) == 1, "%s: %d copies of the message among %d files; expected bytes %r, got %r" % (
        address, len(matching), len(found), expected, [h.split_received(m)[1] for m in found])
    h.check_received(h.split_received(matching[0])[0], queue_id)


def check_own_message(instance, pipeline, address):
    args = ["--to", address, "--from", "ann@example.test",
            "--body", "Hello from swaks.\n.a dotted line\n\nbye",
            "--h-Subject", "swaks system test"]
    transcript = swaks(instance.port, *(args + (["--pipeline"] if pipeline else [])))
    expected = sent_data(transcript)
    assert b"Subject: swaks system test\r\n" in expected, expected
    assert b"\r\n.a dotted line\r\n" in expected, expected
    check_delivered(instance, address, expected, queued_id(transcript), 1)


def check_file_message(instance, directory):
    path = os.path.join(directory, "message.eml")
    with open(path, "wb") as f:
        f.write(FILE_MESSAGE)
    transcript = swaks(instance.port, "--to", "carol@example.test,dave@example.test",
                       "--from", "ann@example.test", "--data", "@" + path, "--pipeline")
    expected = FILE_MESSAGE + b"\r\n"
    assert sent_data(transcript) == expected, "swaks sent %r" % sent_data(transcript)
    queue_id = queued_id(transcript)
    for address in ("carol@example.test", "dave@example.test"):
        check_delivered(instance, address, expected, queue_id, 1)


def test():
    if shutil.which("swaks") is None:
        raise h.Skip("swaks is not installed (./install-deps installs it)")
    with h.Instance() as instance:
        instance.start()
        check_own_message(instance, pipeline=False, address="bob@example.test")
        check_own_message(instance, pipeline=True, address="erin@example.test")
        check_file_message(instance, instance.root)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
