#!/usr/bin/env python3
"""tests/system/content_events_test.py — MS-OXSMTP 3.2.7 limits on a message, real sockets.

One postern instance whose listener has small limits (max_recipients = 3,
max_message_size = 2k, max_header_size = 1k, max_hop_count = 3,
max_local_hop_count = 2, max_protocol_errors = 2):
  - MaxHopCount, MaxLocalHopCount: "554 5.4.6 Hop count exceeded - possible
    mail loop" at the end of DATA and of BDAT LAST when the client's message
    has more Received: fields than the limit (local hops: fields whose `by`
    clause names mail.example.test); exactly the limit passes;
  - HeaderSizeExceeded, MessageSizeExceeded: the 552 5.3.4 texts at the end
    of DATA and of the BDAT chunk that crossed the limit; exactly the limit
    passes;
  - RFC 1870: MAIL with SIZE= over the limit gets the MessageSizeExceeded
    text and the session goes on;
  - TooManyRecipients: "452 4.5.3 Too many recipients" to the RCPT past the
    limit;
  - ProtocolViolationCount: the protocol error past max_protocol_errors gets
    "421 4.7.0 Too many errors on this connection, closing transmission
    channel" (502 and 504 are not protocol errors, see lib/smtp/server_session.h).
After each of these events but SIZE= the server closes the connection, and
nothing of a refused message is ever delivered.

A second listener has advertise_pipelining = no (issue 3: a switched-off
extension is also refused when used; RFC 2920): a client that waits for
every reply is served (a whole message in one write after the 354, a BDAT
chunk in the same write as its command); commands sent behind a command
before its reply get "554 5.5.0 Improper use of SMTP command pipelining"
once, unanswered themselves, and the connection closes; a QUIT sent with the
final "." gets the message's 250, then the 554.
"""

import os
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

MAX_MESSAGE = 2048
MAX_HEADER = 1024

HOP_COUNT = "554 5.4.6 Hop count exceeded - possible mail loop"
HEADER_SIZE = "552 5.3.4 Header size exceeds fixed maximum size"
MESSAGE_SIZE = "552 5.3.4 Message size exceeds fixed maximum message size"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TOO_MANY_ERRORS = "421 4.7.0 Too many errors on this connection, closing transmission channel"
IMPROPER_PIPELINING = "554 5.5.0 Improper use of SMTP command pipelining"

DATE = "Mon, 30 Nov 2026 11:00:00 +0000"


def received(by, number):
    return ("Received: from hop%d.example.net (hop%d.example.net [192.0.2.%d])\r\n"
            "\tby %s with ESMTP id HOP%d; %s\r\n" % (number, number, number, by, number, DATE))


def foreign_hops(count):
    return "".join(received("relay%d.example.net" % n, n) for n in range(1, count + 1))


def local_hops(count):
    # Case and a comment after the name do not hide a local hop.
    names = ["mail.example.test", "MAIL.Example.Test (postern)", "mail.example.test"]
    return "".join(received(names[n % len(names)], 10 + n) for n in range(count))


def message(header, body="Hello.\r\n"):
    return (header + "Subject: limits\r\n\r\n" + body).encode()


def sized(total, header_size=None):
    """A message of exactly `total` content octets; its header (octets
    before the empty line, line endings included) is `header_size` octets."""
    header = "Subject: sized\r\n"
    if header_size is not None:
        filler = header_size - len(header) - len("X-Fill: \r\n")
        header += "X-Fill: " + "f" * filler + "\r\n"
        assert len(header) == header_size
    head = header + "\r\n"
    body_size = total - len(head)
    assert body_size >= 2
    lines, left = [], body_size
    while left > 0:
        width = min(78, left - 2)
        if left - width - 2 == 1:  # never leave a single octet for the last line
            width -= 1
        lines.append("b" * width + "\r\n")
        left -= width + 2
    data = (head + "".join(lines)).encode()
    assert len(data) == total, (len(data), total)
    return data


class Session:
    """A raw client that has said EHLO; commands return the last reply line."""

    def __init__(self, port):
        self.client = h.RawClient(port)
        assert self.client.reply()[0].startswith("220 ")
        self.client.send("EHLO client.example.test\r\n")
        self.ehlo = self.client.reply()
        assert self.ehlo[-1].startswith("250 "), self.ehlo

    def command(self, text):
        return self.client.command(text)

    def envelope(self, recipient):
        assert self.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
        assert self.command("RCPT TO:<%s>" % recipient) == "250 2.1.5 Recipient OK"

    def data(self, content):
        """DATA with content (CRLF lines, no line starting with a dot)."""
        assert self.command("DATA").startswith("354 ")
        self.client.send(content + b".\r\n")
        return self.client.reply()[-1]

    def bdat(self, content, last=True):
        self.client.send(b"BDAT %d%s\r\n" % (len(content), b" LAST" if last else b"") + content)
        return self.client.reply()[-1]

    def assert_closed(self, what):
        rest = self.client.line()
        assert rest == b"", "%s: expected the connection to close, got %r" % (what, rest)
        self.client.close()

    def quit(self):
        assert self.command("QUIT").startswith("221 ")
        self.client.close()


class Checks:
    def __init__(self, instance):
        self.instance = instance
        self.port = instance.port
        self.refused = []    # recipients that must never get anything
        self.accepted = {}   # recipient -> content it must get

    def accept(self, name, content, bdat=False):
        recipient = "%s@example.test" % name
        session = Session(self.port)
        session.envelope(recipient)
        line = session.bdat(content) if bdat else session.data(content)
        assert line.startswith("250 "), "%s: %r" % (name, line)
        h.queue_id_from(line[4:])
        session.quit()
        self.accepted[recipient] = content

    def refuse(self, name, content, expected, bdat=False):
        """The message is refused with `expected` at its end, then the session ends."""
        recipient = "%s@example.test" % name
        session = Session(self.port)
        session.envelope(recipient)
        line = session.bdat(content) if bdat else session.data(content)
        assert line == expected, "%s: expected %r, got %r" % (name, expected, line)
        session.assert_closed(name)
        self.refused.append(recipient)

    def verify_deliveries(self):
        for recipient, content in self.accepted.items():
            delivered = self.instance.wait_for_mail(recipient, 1)
            assert [h.split_received(m)[1] for m in delivered] == [content], \
                "%s: delivered %r" % (recipient, delivered)
        for recipient in self.refused:
            assert self.instance.delivered(recipient) == [], \
                "%s: a refused message was delivered" % recipient


def hop_counts(checks):
    checks.accept("hops-at-limit", message(foreign_hops(3)))
    checks.accept("hops-at-limit-bdat", message(foreign_hops(3)), bdat=True)
    checks.refuse("hops-over", message(foreign_hops(4)), HOP_COUNT)
    checks.refuse("hops-over-bdat", message(foreign_hops(4)), HOP_COUNT, bdat=True)
    # Two local hops and a foreign one: within both limits.
    checks.accept("local-at-limit", message(local_hops(2) + foreign_hops(1)))
    # Three local hops are within max_hop_count (3) but over max_local_hop_count (2).
    checks.refuse("local-over", message(local_hops(3)), HOP_COUNT)
    checks.refuse("local-over-bdat", message(local_hops(3)), HOP_COUNT, bdat=True)


def sizes(checks):
    checks.accept("header-at-limit", sized(MAX_HEADER + 200, MAX_HEADER))
    checks.refuse("header-over", sized(MAX_HEADER + 200, MAX_HEADER + 1), HEADER_SIZE)
    checks.refuse("header-over-bdat", sized(MAX_HEADER + 200, MAX_HEADER + 1), HEADER_SIZE,
                  bdat=True)
    checks.accept("size-at-limit", sized(MAX_MESSAGE))
    checks.accept("size-at-limit-bdat", sized(MAX_MESSAGE), bdat=True)
    checks.refuse("size-over", sized(MAX_MESSAGE + 1), MESSAGE_SIZE)
    checks.refuse("size-over-bdat", sized(MAX_MESSAGE + 1), MESSAGE_SIZE, bdat=True)

    # A chunk that is not the last one crosses the limit: refused at its end.
    recipient = "size-over-chunk@example.test"
    session = Session(checks.port)
    session.envelope(recipient)
    content = sized(MAX_MESSAGE + 1)
    first, second = content[:1000], content[1000:]
    assert session.bdat(first, last=False) == "250 2.0.0 1000 octets received"
    line = session.bdat(second, last=False)
    assert line == MESSAGE_SIZE, "the chunk over the limit got %r" % line
    session.assert_closed("chunk over the size limit")
    checks.refused.append(recipient)


def declared_size(port):
    session = Session(port)
    assert "250-SIZE %d" % MAX_MESSAGE in session.ehlo, session.ehlo
    line = session.command("MAIL FROM:<ann@example.test> SIZE=%d" % (MAX_MESSAGE + 1))
    assert line == MESSAGE_SIZE, "MAIL with SIZE over the limit got %r" % line
    # RFC 1870 6.1: a refusal of the MAIL command only; the session goes on.
    assert session.command("MAIL FROM:<ann@example.test> SIZE=%d" % MAX_MESSAGE) == \
        "250 2.1.0 Sender OK"
    session.quit()


def too_many_recipients(checks):
    session = Session(checks.port)
    assert session.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
    names = ["many%d@example.test" % n for n in range(1, 5)]
    for name in names[:3]:
        assert session.command("RCPT TO:<%s>" % name) == "250 2.1.5 Recipient OK"
    line = session.command("RCPT TO:<%s>" % names[3])
    assert line == TOO_MANY_RECIPIENTS, "the fourth recipient got %r" % line
    session.assert_closed("after too many recipients")
    checks.refused.extend(names)


def protocol_violations(port):
    session = Session(port)
    assert session.command("FROB") == "500 5.5.2 Syntax error, command unrecognized"
    # Neither 502 nor 504 counts as a protocol error.
    assert session.command("EXPN staff") == "502 5.5.1 Command not implemented"
    assert session.command("XEXCH50 10 2") == "504 5.7.1 Not authorized"
    assert session.command("MAIL FROM:<ann@>") == "501 5.1.7 Invalid address"
    assert session.command("NOOP") == "250 2.0.0 OK"
    line = session.command("RCPT TO:<bob@example.test>")
    assert line == TOO_MANY_ERRORS, "the third protocol error got %r" % line
    session.assert_closed("after too many protocol errors")


def pipelining_off(checks, port):
    # A client that waits for each reply.
    session = Session(port)
    assert not any("PIPELINING" in line for line in session.ehlo), session.ehlo
    content = message("", "all of it in one write\r\n")
    session.envelope("pipeoff-data@example.test")
    assert session.data(content).startswith("250 2.6.0 ")
    checks.accepted["pipeoff-data@example.test"] = content
    chunk = message("", "chunk with its command\r\n")
    session.envelope("pipeoff-bdat@example.test")
    assert session.bdat(chunk).startswith("250 2.6.0 ")
    checks.accepted["pipeoff-bdat@example.test"] = chunk
    session.quit()

    # MAIL with RCPT behind it in one write.
    session = Session(port)
    session.client.send("MAIL FROM:<ann@example.test>\r\n"
                        "RCPT TO:<pipeoff-early@example.test>\r\n")
    assert session.client.reply() == ["250 2.1.0 Sender OK"]
    line = session.client.reply()[-1]
    assert line == IMPROPER_PIPELINING, "RCPT behind MAIL got %r" % line
    session.assert_closed("after improper pipelining")
    checks.refused.append("pipeoff-early@example.test")

    # QUIT with the final dot: the message was taken, then the 554.
    session = Session(port)
    session.envelope("pipeoff-quit@example.test")
    assert session.command("DATA").startswith("354 ")
    content = message("", "quit follows\r\n")
    session.client.send(content + b".\r\nQUIT\r\n")
    line = session.client.reply()[-1]
    assert line.startswith("250 2.6.0 "), "end of DATA got %r" % line
    line = session.client.reply()[-1]
    assert line == IMPROPER_PIPELINING, "QUIT behind the dot got %r" % line
    session.assert_closed("after QUIT behind the dot")
    checks.accepted["pipeoff-quit@example.test"] = content


def test():
    listener = {"max_recipients": 3, "max_message_size": "2k", "max_header_size": "1k",
                "max_hop_count": 3, "max_local_hop_count": 2, "max_protocol_errors": 2}
    with h.Instance(listeners={"smtp": listener,
                               "nopipe": {"advertise_pipelining": "no"}}) as instance:
        instance.start()
        checks = Checks(instance)
        hop_counts(checks)
        sizes(checks)
        declared_size(instance.port)
        too_many_recipients(checks)
        protocol_violations(instance.port)
        pipelining_off(checks, instance.ports["nopipe"])
        checks.verify_deliveries()
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
