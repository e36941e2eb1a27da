#!/usr/bin/env python3
"""tests/system/session_options_test.py — session switches of issue 8 through the real daemons.

One postern instance whose trusted_networks (::1/128) leave 127.0.0.1
untrusted, with four listeners:
  - "smtp": the defaults (bare_newline = normalize, tarpit_at_connect = no);
  - "reject": bare_newline = reject;
  - "tarpit": tarpit_at_connect = yes, tarpit_interval = 1s;
  - "prompt": tarpit_interval = 1s, tarpit_at_connect = no.
Proved here:
  - bare_newline (point 7): curl -T with a text file whose lines end in LF
    alone is accepted on "smtp", and the Maildir file holds the file with
    CRLF line ends, byte for byte after postern's Received: field; "reject"
    still answers 554 5.6.0 and delivers nothing;
  - <Postmaster> (point 5, RFC 5321 4.5.1): from an untrusted client, RCPT
    TO:<Postmaster> is delivered into the Maildir of postmaster@ the local
    domain, and the queue is empty afterwards;
  - tarpit_at_connect (point 14, MS-OXSMTP 3.2.7): the banner of "tarpit"
    comes at least tarpit_interval after the connect, the one of "prompt" at
    once.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

TARPIT = 1.0
# The banner of a session that is not tarpitted comes well within this.
PROMPT = 0.5
# A text file as an editor writes it: LF line ends, no leading dots.
NOTE = (b"From: Ann <ann@example.org>\n"
        b"To: Bob <bob@example.test>\n"
        b"Subject: a note\n"
        b"\n"
        b"First line of the note.\n"
        b"\n"
        b"Last line.\n")


def curl(port, recipient, path):
    """curl -T: the upload the issue names; returns (exit status, -v output)."""
    command = ["curl", "-v", "-sS", "--max-time", "20", "smtp://127.0.0.1:%d" % port,
               "--mail-from", "ann@example.org", "--mail-rcpt", recipient, "-T", path]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    return result.returncode, result.stderr


def check_lf_text_file_is_stored_with_crlf(instance, path):
    status, out = curl(instance.ports["smtp"], "bob@example.test", path)
    assert status == 0, "curl exited %d:\n%s" % (status, out)
    queued = re.search(r"^< 250 2\.6\.0 (\S+) Queued mail for delivery", out, re.M)
    assert queued, "no queue id in curl's dialog:\n%s" % out
    [delivered] = instance.wait_for_mail("bob@example.test", 1)
    received, rest = h.split_received(delivered)
    h.check_received(received, queued.group(1))
    # curl ends the data with CRLF . CRLF after the file; that CRLF ends an
    # empty last line.
    expected = NOTE.replace(b"\n", b"\r\n") + b"\r\n"
    assert rest == expected, "delivered %r, expected %r" % (rest, expected)


def check_reject_mode_refuses_bare_lf(instance, path):
    status, out = curl(instance.ports["reject"], "carol@example.test", path)
    assert status != 0, "curl succeeded against bare_newline = reject:\n%s" % out
    client = h.RawClient(instance.ports["reject"])
    try:
        assert client.reply()[-1].startswith("220 ")
        assert client.command("EHLO client.example.test").startswith("250 ")
        assert client.command("MAIL FROM:<ann@example.org>") == "250 2.1.0 Sender OK"
        assert client.command("RCPT TO:<carol@example.test>") == "250 2.1.5 Recipient OK"
        assert client.command("DATA").startswith("354 ")
        client.send(NOTE + b"\r\n.\r\n")
        line = client.reply()[-1]
        assert line == "554 5.6.0 Message contains bare CR or LF; lines must end with CRLF", line
        assert client.command("QUIT").startswith("221 ")
    finally:
        client.close()
    time.sleep(0.5)
    assert instance.delivered("carol@example.test") == [], "reject mode delivered a message"


def check_postmaster_is_delivered(instance):
    data = b"Subject: to the postmaster\r\n\r\nRFC 5321 4.5.1.\r\n"
    client = h.connect(instance.ports["smtp"])
    try:
        code, text = client.mail("someone@elsewhere.example")
        assert code == 250, (code, text)
        # Not trusted: a recipient elsewhere is refused, <Postmaster> is not.
        code, text = client.rcpt("zoe@elsewhere.example")
        assert (code, text) == (550, b"5.7.1 Unable to relay"), (code, text)
        code, text = client.docmd("RCPT TO:<Postmaster>")
        assert (code, text) == (250, b"2.1.5 Recipient OK"), (code, text)
        code, text = client.data(data)
        assert code == 250, (code, text)
        queue_id = h.queue_id_from(text)
    finally:
        client.quit()
    [delivered] = instance.wait_for_mail("postmaster@example.test", 1)
    h.check_delivered(delivered, queue_id, data)
    deadline = time.monotonic() + h.DELIVERY_TIMEOUT
    while queue_id in instance.queue_list():
        assert time.monotonic() < deadline, "still queued:\n%s" % instance.queue_list()
        time.sleep(0.1)


def seconds_to_banner(port):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=h.SOCKET_TIMEOUT) as sock:
        banner = sock.recv(512)
        elapsed = time.monotonic() - started
    assert banner == b"220 mail.example.test ESMTP postern ready\r\n", banner
    return elapsed


def check_tarpit_at_connect(instance):
    held = seconds_to_banner(instance.ports["tarpit"])
    assert held >= TARPIT, "tarpit_at_connect = yes: banner after %.2f s" % held
    assert held < TARPIT + 2, "tarpit_at_connect = yes: banner after %.2f s" % held
    prompt = seconds_to_banner(instance.ports["prompt"])
    assert prompt < PROMPT, "tarpit_at_connect = no: banner after %.2f s" % prompt
    # The tarpitted session goes on normally once greeted.
    client = h.RawClient(instance.ports["tarpit"])
    try:
        assert client.reply() == ["220 mail.example.test ESMTP postern ready"]
        assert client.command("NOOP") == "250 2.0.0 OK"
        assert client.command("QUIT").startswith("221 ")
    finally:
        client.close()


def test():
    with h.Instance(listeners={
            "smtp": {},
            "reject": {"bare_newline": "reject"},
            "tarpit": {"tarpit_interval": "1s", "tarpit_at_connect": "yes"},
            "prompt": {"tarpit_interval": "1s"},
    }, settings={"trusted_networks": "::1/128"}) as instance:
        instance.start()
        with tempfile.NamedTemporaryFile(suffix=".txt") as note:
            note.write(NOTE)
            note.flush()
            check_lf_text_file_is_stored_with_crlf(instance, note.name)
            check_reject_mode_refuses_bare_lf(instance, note.name)
        check_postmaster_is_delivered(instance)
        check_tarpit_at_connect(instance)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
