#!/usr/bin/env python3
"""tests/system/smtp_sink_relay_test.py — postern relays to Postfix's smtp-sink.

smtp-sink (package postfix) is the next hop on a free loopback port, with a
recording TCP proxy (recording_proxy.py) between postern's relay client
and it; relay_destination_concurrency = 1, and the proxy holds the
session's greeting back until every message of a test is queued, so that
they all go in one session. Checked:
- PIPELINING (RFC 2920): four messages (one with two recipients) go in one
  connection; after EHLO, each message costs the client exactly two turns
  (a turn: what it writes before it reads again): MAIL, every RCPT and DATA
  in one, the content after the 354 in the other, so it never waits for a
  MAIL or RCPT reply; then QUIT;
- CHUNKING is not used where it is not offered (smtp-sink offers none: no
  BDAT in the dialogue) and is used where it is: smtp-sink cannot offer
  CHUNKING, so that half runs against the scripted next hop (next_hop.py
  with chunking) behind the same proxy: BDAT ... LAST, no DATA, and each
  message one turn (MAIL, RCPT and the whole message as one chunk);
- DSN (RFC 3461): RET, ENVID, NOTIFY and ORCPT given to postern reach the
  next hop in MAIL and RCPT (the proxy's record and smtp-sink's
  X-Mail-Args/X-Rcpt-Args agree) when it offers DSN; smtp-sink -N (no DSN)
  gets none of them, and the sender, who asked NOTIFY=SUCCESS, gets a
  "relayed" DSN from postern instead;
- 8BITMIME: a BODY=8BITMIME message to smtp-sink -8 (no 8BITMIME) is never
  sent (no MAIL FROM for it reaches the proxy) and fails with 5.6.3: the
  sender gets a failure DSN with Status 5.6.3;
- the content: what the client sent after DATA, un-dot-stuffed, is
  postern's Received: field and then exactly the bytes submitted; the file
  smtp-sink -d dumped holds the same after smtp-sink's own header block
  (smtp-sink writes lines with LF where CRLF arrived, and an empty line at
  the end).
Skips (77) when smtp-sink is not installed. smtp-sink runs with -u nobody
when the test runs as root (it refuses root), and is stopped by its PID.
"""

import email
import email.policy
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from next_hop import NextHop  # noqa: E402
from recording_proxy import RecordingProxy  # noqa: E402

SMTP_SINK = "/usr/sbin/smtp-sink"
SENDER = "ann@example.test"


def message(subject, body=b"First line.\r\n.a line that starts with a dot\r\nlast line\r\n"):
    return (b"From: Ann <ann@example.test>\r\n"
            b"To: Zoe <zoe@elsewhere.test>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"\r\n" + body)


class SmtpSink:
    """smtp-sink on 127.0.0.1 (a free port), dumping each transaction into a
    file of its own (-d); options are smtp-sink's."""

    def __init__(self, *options):
        if not os.access(SMTP_SINK, os.X_OK):
            raise h.Skip("smtp-sink is not installed (package postfix); run ./install-deps")
        self.dump_dir = h.scratch_dir("smtp-sink")
        os.chmod(self.dump_dir, 0o777)  # written by smtp-sink as nobody
        self.log_path = os.path.join(h.scratch_dir("smtp-sink-log"), "stderr")
        self.port = h.free_port()
        argv = [SMTP_SINK] + (["-u", "nobody"] if h.running_as_root() else []) + [
            "-h", "sink.example.test", "-d", self.dump_dir + "/%H%M%S."] + list(options) + [
            "127.0.0.1:%d" % self.port, "10"]
        with open(self.log_path, "w") as log:
            self.process = h.spawn(argv, stdout=log, stderr=subprocess.STDOUT)
        assert h.wait_for_port(self.port), "smtp-sink does not listen:\n" + h.read_text(
            self.log_path)

    def dumps(self):
        """The bytes of every file smtp-sink dumped."""
        out = []
        for name in sorted(os.listdir(self.dump_dir)):
            with open(os.path.join(self.dump_dir, name), "rb") as f:
                out.append(f.read())
        return out

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()  # by its PID
            self.process.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def relaying_instance(port, name):
    return h.Instance(settings={"relayhost": "[127.0.0.1]:%d" % port,
                                "relay_destination_concurrency": 1,
                                "minimal_backoff_time": "1s", "maximal_backoff_time": "2s"},
                      name=name)


def unstuffed(content):
    """DATA content as the client wrote it, without the final "." line and
    with dot-stuffing (RFC 5321 4.5.2) undone."""
    assert content.endswith(b"\r\n.\r\n"), "no end of data: %r" % content[-50:]
    lines = content[:-3].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def sink_message(dump):
    """(X-headers, smtp-sink's Received field, the message after it) of one dump."""
    start = dump.index(b"Received: from ")
    sink_received, rest = h.split_received(dump[start:])
    return dump[:start], sink_received, rest


def queue_all(instance, proxy, messages):
    """Submits each (recipients, data, mail_options, rcpt_options), waits until
    all are queued, then lets the held session begin; returns the queue ids."""
    ids = [h.send(instance.port, SENDER, recipients, data, mail_options, rcpt_options)
           for recipients, data, mail_options, rcpt_options in messages]
    h.wait_until(lambda: all(i in instance.queue_list() for i in ids), "all are queued")
    proxy.release()
    h.wait_until(lambda: not any(i in instance.queue_list() for i in ids),
                 "every message is relayed", timeout=30)
    return ids


def test_pipelining_dsn_and_content_to_smtp_sink():
    messages = [
        (["zoe@elsewhere.test"], message("one"), ["RET=HDRS", "ENVID=env-one"],
         ["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;zoe@elsewhere.test"]),
        (["yan@elsewhere.test", "xia@elsewhere.test"], message("two"), [], []),
        (["zoe@elsewhere.test"], message("three"), [], []),
        (["zoe@elsewhere.test"], message("four"), [], []),
    ]
    with SmtpSink() as sink, RecordingProxy(sink.port, hold=True) as proxy:
        with relaying_instance(proxy.port, "sink") as instance:
            instance.start()
            ids = queue_all(instance, proxy, messages)
            instance.stop()
        assert proxy.connections == 1, "%d connections" % proxy.connections
        turns = proxy.turns(1)
        assert turns[0].startswith(b"EHLO "), turns
        assert turns[-1] == b"QUIT\r\n", turns
        commands, contents = turns[1:-1:2], turns[2:-1:2]
        assert len(commands) == len(contents) == 4, "not two turns a message: %r" % turns
        relayed = set()
        for sent, content in zip(commands, contents):
            received, rest = h.split_received(unstuffed(content))
            # The messages may go in any order: each is known by its queue id.
            [queue_id] = [i for i in ids if b" id %s" % i.encode() in h.unfold(received)]
            h.check_received(received, queue_id)
            relayed.add(queue_id)
            recipients, data, mail_options, rcpt_options = messages[ids.index(queue_id)]
            assert rest == data, "sent %r, relayed %r" % (data, rest)
            lines = sent.split(b"\r\n")
            assert lines[0].startswith(b"MAIL FROM:<%s>" % SENDER.encode()), sent
            for option in mail_options:
                assert b" " + option.encode() in lines[0], (option, lines[0])
            rcpts = [line for line in lines if line.startswith(b"RCPT TO:")]
            assert [r.split(b">")[0][9:].decode() for r in rcpts] == recipients, sent
            for rcpt in rcpts:
                for option in rcpt_options:
                    assert b" " + option.encode() in rcpt, (option, rcpt)
            assert sent.endswith(b"\r\nDATA\r\n"), "DATA not in the write of MAIL: %r" % sent
        assert relayed == set(ids), "relayed %s of %s" % (relayed, ids)
        assert b"BDAT" not in proxy.client_bytes(1), "BDAT to a peer without CHUNKING"

        dumps = sink.dumps()
        assert len(dumps) == 4, "smtp-sink dumped %d transactions" % len(dumps)
        by_id = {}
        for dump in dumps:
            head, _, rest = sink_message(dump)
            ours, rest = h.split_received(rest)
            queue_id = [i for i in ids if b" id %s" % i.encode() in h.unfold(ours)]
            assert len(queue_id) == 1, ours
            by_id[queue_id[0]] = (head, rest)
        for (recipients, data, mail_options, rcpt_options), queue_id in zip(messages, ids):
            head, rest = by_id[queue_id]
            assert rest == data.replace(b"\r\n", b"\n") + b"\n", "smtp-sink got %r" % rest
        head = by_id[ids[0]][0].decode()
        assert "X-Mail-Args: <ann@example.test> RET=HDRS ENVID=env-one" in head, head
        assert "X-Rcpt-Args: <zoe@elsewhere.test> NOTIFY=FAILURE,DELAY " \
            "ORCPT=rfc822;zoe@elsewhere.test" in head, head


def test_chunking_only_when_offered():
    data = [message("chunk one"), message("chunk two")]
    with NextHop(chunking=True) as hop, RecordingProxy(hop.port, hold=True) as proxy:
        with relaying_instance(proxy.port, "chunking") as instance:
            instance.start()
            ids = queue_all(instance, proxy, [(["zoe@elsewhere.test"], d, [], []) for d in data])
            instance.stop()
        assert [t["bdat"] for t in hop.transactions] == [True, True], hop.transactions
        assert not [c for c in hop.commands if c.upper() == "DATA"], hop.commands
        relayed = set()
        for transaction in hop.transactions:
            received, rest = h.split_received(transaction["content"])
            [queue_id] = [i for i in ids if b" id %s" % i.encode() in h.unfold(received)]
            h.check_received(received, queue_id)
            relayed.add(queue_id)
            assert rest == data[ids.index(queue_id)], "relayed %r" % rest
        assert relayed == set(ids), "relayed %s of %s" % (relayed, ids)
        turns = proxy.turns(1)
        assert turns[0].startswith(b"EHLO ") and turns[-1] == b"QUIT\r\n", turns
        assert len(turns) == 2 + len(data), "not one turn a message: %r" % turns
        for turn in turns[1:-1]:
            assert turn.startswith(b"MAIL FROM:") and b"\r\nBDAT " in turn, turn
            assert b" LAST\r\n" in turn, turn


def test_peer_without_dsn_or_8bitmime():
    eight_bit = message("eight", body="Grüße aus dem Süden\r\n".encode("utf-8"))
    with SmtpSink("-N", "-8") as sink, RecordingProxy(sink.port) as proxy:
        with relaying_instance(proxy.port, "plain-sink") as instance:
            instance.start()
            plain_id = h.send(instance.port, SENDER, ["zoe@elsewhere.test"], message("plain"),
                              ["RET=HDRS", "ENVID=env-plain"],
                              ["NOTIFY=SUCCESS", "ORCPT=rfc822;zoe@elsewhere.test"])
            [relayed] = instance.wait_for_mail(SENDER, 1, timeout=20)
            check_report(relayed, "zoe@elsewhere.test", "relayed", "2.0.0")
            h.wait_until(lambda: plain_id not in instance.queue_list(), "it is relayed")
            eight_id = h.send(instance.port, SENDER, ["yan@elsewhere.test"], eight_bit,
                              ["BODY=8BITMIME"])
            [_, failed] = instance.wait_for_mail(SENDER, 2, timeout=20)
            check_report(failed, "yan@elsewhere.test", "failed", "5.6.3")
            h.wait_until(lambda: eight_id not in instance.queue_list(), "it leaves the queue")
            instance.stop()
        # Each message had a session of its own: the second said EHLO, then QUIT.
        sent = b"".join(proxy.client_bytes(n) for n in range(1, proxy.connections + 1))
        mails = [line for line in sent.split(b"\r\n") if line.startswith(b"MAIL FROM:")]
        assert len(mails) == 1, "the 8-bit message was sent: %r" % mails
        for parameter in (b"RET=", b"ENVID=", b"NOTIFY=", b"ORCPT=", b"BODY=8BITMIME"):
            assert parameter not in sent, "%r went to a peer that did not offer it" % parameter
        [dump] = sink.dumps()
        assert b"Subject: plain\n" in dump, dump


def check_report(raw, recipient, action, status):
    """raw is a multipart/report DSN (RFC 3464) with one recipient block for
    recipient with this Action and Status."""
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert report.get_content_type() == "multipart/report", report.get_content_type()
    blocks = report.get_payload()[1].get_payload()
    [block] = blocks[1:]
    assert (block["Final-Recipient"], block["Action"], block["Status"]) == \
        ("rfc822;" + recipient, action, status), dict(block)


if __name__ == "__main__":
    h.run_tests(globals())
