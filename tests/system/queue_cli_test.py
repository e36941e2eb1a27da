#!/usr/bin/env python3
"""tests/system/queue_cli_test.py — `postern queue` against the real daemons.

What an operator checks with the queue verbs of postern(1):
- `queue list --json` is one JSON document (Python's json parses it): a held
  message says held, its recipients have no next try (a remote one, whose
  MX lookup failed, keeps its attempt and reply); a local recipient
  whose Maildir cannot be made (its domain's directory refuses) is
  deferred, with its attempts, the status and reply of its attempt and a
  next try one back-off after it; the plain `list` shows the same per
  recipient;
- `queue show ID --body` prints the envelope, an empty line and the content
  byte for byte as queued (postern's Received: field, then the bytes sent),
  also for a message of 2.5 MB, larger than one control reply;
- `hold ALL` and `release ALL` hold and release every message;
- `requeue ALL` has a deferred message tried at once, although its back-off
  (minimal_backoff_time = 1h here) is far from over; `requeue ID`, once the
  domain's directory is writable again, has it delivered;
- an id that is not queued is an error with exit status 1; a malformed one
  is refused before qmgr is asked.
"""

import datetime
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

BACKOFF = datetime.timedelta(hours=1)


def ctl_bytes(instance, *args):
    """`postern -c CONF_DIR queue args...` with stdout as bytes."""
    return subprocess.run([h.postern_cli(), "-c", instance.conf_dir, "queue"] + list(args),
                          capture_output=True, timeout=h.CLI_TIMEOUT)


def ok(instance, *args):
    """stdout of `postern queue args...`, asserting exit status 0."""
    result = instance.ctl("queue", *args)
    assert result.returncode == 0, "postern queue %s: %s" % (" ".join(args), result.stderr)
    return result.stdout


def fails(instance, args, status, *expected):
    result = instance.ctl("queue", *args)
    assert result.returncode == status and result.stdout == "", \
        "postern queue %s: exit %d, stdout %r" % (" ".join(args), result.returncode, result.stdout)
    for text in expected:
        assert text in result.stderr, "postern queue %s: %r lacks %r" % (
            " ".join(args), result.stderr, text)


def listing(instance):
    """{queue id: message} from `postern queue list --json`."""
    text = ok(instance, "list", "--json")
    document = json.loads(text)
    assert isinstance(document, list), "not a JSON array: %r" % text[:200]
    return {message["id"]: message for message in document}


def when(text):
    """An RFC 3339 UTC time as the listing writes it."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), "not RFC 3339 UTC: %r" % text
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def deferred_attempts(instance, address):
    """qmgr's log lines of failed attempts for address."""
    prefix = "to=<%s>, relay=" % address
    return sum(1 for line in instance.log().splitlines()
               if prefix in line and "status=deferred" in line)


def wait_for_attempts(instance, address, count):
    h.wait_until(lambda: deferred_attempts(instance, address) >= count,
                 "%d deferred attempt(s) for %s in the log" % (count, address))


def check_listing(instance, deferred_id, held_id, sent_at):
    messages = listing(instance)
    assert set(messages) == {deferred_id, held_id}, "listed: %s" % sorted(messages)

    held = messages[held_id]
    assert held["held"] is True and held["sender"] == "ann@example.test", held
    assert held["size"] > 0 and sent_at - datetime.timedelta(seconds=2) <= when(held["arrival"]) \
        <= now(), held
    [zoe] = held["recipients"]
    # No nameserver answers (the harness's dns_nameservers): deferred once.
    zoe_reply = zoe.pop("last_reply")
    assert zoe_reply.startswith("cannot look up the MX records of elsewhere.test: "), zoe
    assert sent_at - datetime.timedelta(seconds=2) <= when(zoe.pop("last_attempt")) <= now(), zoe
    assert zoe == {"address": "zoe@elsewhere.test", "state": "deferred", "attempts": 1,
                   "next_try": None, "status": "4.4.3", "remote_mta": None}, zoe

    deferred = messages[deferred_id]
    assert deferred["held"] is False, deferred
    [bob] = deferred["recipients"]
    assert bob["address"] == "bob@example.test" and bob["state"] == "deferred", bob
    assert "Permission denied" in bob["last_reply"], bob
    assert bob["remote_mta"] is None, bob  # a local delivery
    next_try = when(bob["next_try"])
    assert bob["attempts"] >= 1 and re.fullmatch(r"4\.\d+\.\d+", bob["status"]), bob
    last = when(bob["last_attempt"])
    assert sent_at - datetime.timedelta(seconds=2) <= last <= now(), bob
    assert next_try == last + BACKOFF, bob

    # The plain listing: a line per message, an indented one per recipient with
    # its state, attempts and next try, and the reply below it.
    text = ok(instance, "list")
    assert re.search(r"^%s held \d+ \S+Z <ann@example\.test>\n  <zoe@elsewhere\.test> deferred, "
                     r"1 attempt, last try \S+Z\n      \(4\.4\.3 cannot look up the MX records "
                     % re.escape(held_id), text, re.M), text
    assert re.search(r"^%s active \d+ \S+Z <ann@example\.test>\n  <bob@example\.test> deferred"
                     r"(, \d+ attempts?, last try \S+Z)?, next try \S+Z\n      \(.*Permission "
                     r"denied.*\)\n" % re.escape(deferred_id), text, re.M), text
    assert text.endswith("\n-- 2 message(s), %d bytes\n" % (held["size"] + deferred["size"])), text


def check_show_body(instance):
    # 2.5 MB in numbered lines, so that a page repeated or left out shows;
    # 8-bit text and lines starting with a dot.
    lines = [b"Subject: a large message\r\n", b"MIME-Version: 1.0\r\n",
             b"Content-Type: text/plain; charset=utf-8\r\n", b"\r\n"]
    number = 0
    while sum(map(len, lines)) < 2_500_000:
        lines.append(b"%s%07d Gr\xc3\xbc\xc3\x9fe %s\r\n" % (
            b"." if number % 7 == 0 else b"", number, b"x" * 40))
        number += 1
    sent = b"".join(lines)
    queue_id = h.send(instance.port, "ann@example.test", ["zed@elsewhere.test"], sent,
                      mail_options=["BODY=8BITMIME"])
    # Its MX lookup fails (no nameserver answers): it stays, deferred once
    # the outcome is committed (after the log line).
    h.wait_until(lambda: b"recipient: <zed@elsewhere.test> deferred\n" in
                 ctl_bytes(instance, "show", queue_id).stdout, "zed's attempt is committed")

    plain = ctl_bytes(instance, "show", queue_id)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith(b"queue_id: %s\nstatus: active\n" % queue_id.encode()), \
        plain.stdout[:300]
    assert b"recipient: <zed@elsewhere.test> deferred\n" in plain.stdout, plain.stdout
    assert plain.stdout.endswith(b"\nlistener: smtp\n"), plain.stdout[-300:]
    assert b"Subject: a large message" not in plain.stdout, "show without --body shows content"

    body = ctl_bytes(instance, "show", queue_id, "--body")
    assert body.returncode == 0 and body.stderr == b"", body.stderr
    envelope_end = body.stdout.index(b"\nlistener: smtp\n\n") + len(b"\nlistener: smtp\n\n")
    assert body.stdout.startswith(b"queue_id: %s\n" % queue_id.encode()), body.stdout[:300]
    content = body.stdout[envelope_end:]
    received, rest = h.split_received(content)
    assert received, "no Received: field first: %r" % content[:300]
    h.check_received(received, queue_id)
    assert len(rest) == len(sent) and rest == sent, \
        "content differs: sent %d bytes, shown %d after the Received: field" % (
            len(sent), len(rest))
    assert ok(instance, "delete", queue_id) == "deleted 1 message(s)\n"


def test():
    with h.Instance(settings={"minimal_backoff_time": "1h",
                              "maximal_backoff_time": "2h"}) as instance:
        instance.start()
        # A first delivery makes mail_directory/example.test (owned by qmgr's
        # user); then nobody may write into it, so bob's Maildir cannot be
        # made: the system's trouble, which defers (a Maildir of bob's own
        # that refused would fail him for good).
        h.send(instance.port, "ann@example.test", ["carol@example.test"], b"Subject: first\r\n\r\n")
        instance.wait_for_mail("carol@example.test", 1)
        domain_dir = os.path.dirname(os.path.dirname(instance.maildir("bob@example.test")))
        os.chmod(domain_dir, 0o500)
        sent_at = now()
        deferred_id = h.send(instance.port, "ann@example.test", ["bob@example.test"],
                             b"Subject: for bob\r\n\r\nDeferred, then requeued.\r\n")
        wait_for_attempts(instance, "bob@example.test", 1)
        h.wait_until(lambda: listing(instance)[deferred_id]["recipients"][0]["attempts"] >= 1,
                     "the listing counts the first attempt")  # committed after the log line
        held_id = h.send(instance.port, "ann@example.test", ["zoe@elsewhere.test"],
                         b"Subject: for zoe\r\n\r\nHeld.\r\n")
        wait_for_attempts(instance, "zoe@elsewhere.test", 1)
        h.wait_until(lambda: listing(instance)[held_id]["recipients"][0]["attempts"] >= 1,
                     "the listing counts zoe's attempt")
        assert ok(instance, "hold", held_id) == held_id + " held\n"

        check_listing(instance, deferred_id, held_id, sent_at)
        check_show_body(instance)

        # hold ALL holds the one active message; release ALL releases both (and
        # has the deferred one tried again: a release is tried at once).
        assert ok(instance, "hold", "ALL") == "held 1 message(s)\n"
        assert all(m["held"] for m in listing(instance).values()), listing(instance)
        assert all(r["next_try"] is None
                   for m in listing(instance).values() for r in m["recipients"])
        assert ok(instance, "release", "ALL") == "released 2 message(s)\n"
        assert not any(m["held"] for m in listing(instance).values()), listing(instance)
        wait_for_attempts(instance, "bob@example.test", 2)

        wait_for_attempts(instance, "zoe@elsewhere.test", 2)  # released: tried at once

        # requeue ALL: tried again at once, an hour before its back-off ends.
        assert ok(instance, "requeue", "ALL") == \
            "requeued 2 message(s), 2 handed to delivery now\n"
        wait_for_attempts(instance, "bob@example.test", 3)
        # The log line comes before the outcome's commit (at most 200 ms later).
        h.wait_until(lambda: listing(instance)[deferred_id]["recipients"][0]["attempts"] >= 3,
                     "the listing counts the third attempt")

        # The cause removed, nothing happens until the back-off ends...
        os.chmod(domain_dir, 0o700)
        time.sleep(1)
        assert instance.delivered("bob@example.test") == []
        # ... or the operator asks.
        assert ok(instance, "requeue", deferred_id) == \
            "requeued 1 message(s), 1 handed to delivery now\n"
        [delivered] = instance.wait_for_mail("bob@example.test", 1)
        h.check_delivered(delivered, deferred_id,
                          b"Subject: for bob\r\n\r\nDeferred, then requeued.\r\n")
        h.wait_until(lambda: deferred_id not in listing(instance), "the delivered message gone")

        # Ids: not queued (delivered just now) and malformed.
        for verb in ("show", "hold", "release", "delete", "requeue"):
            fails(instance, [verb, deferred_id], 1,
                  "postern: no message %s in the queue" % deferred_id)
        fails(instance, ["requeue", "all"], 1, "\"all\" is not a queue id")
        fails(instance, ["show", "ALL"], 1, "\"ALL\" is not a queue id")
        fails(instance, ["list", "--xml"], 2, "usage:")
        fails(instance, ["show", held_id, "--json"], 2, "usage:")

        assert ok(instance, "delete", "ALL") == "deleted 1 message(s)\n"
        assert json.loads(ok(instance, "list", "--json")) == []
        assert ok(instance, "list") == "Mail queue is empty\n"
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
