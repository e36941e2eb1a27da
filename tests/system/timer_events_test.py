#!/usr/bin/env python3
"""tests/system/timer_events_test.py — MS-OXSMTP 3.2.6 timer events through real sockets.

One postern instance with connection_timeout = 3s and inactivity_timeout = 1s:
  - ConnectionInactivityTimeOut: a silent client gets "451 4.7.0 Timeout
    waiting for client input" after about 1 s, between commands and in the
    middle of DATA, and the server then closes the connection (nothing of an
    interrupted message is delivered);
  - every input restarts the inactivity timer (3.2.3): commands, DATA bytes
    and BDAT bytes trickled with gaps shorter than 1 s keep the session
    alive for longer than 1 s, and the trickled message is delivered;
  - ConnectionTimeOut: a session that stays busy is still ended after 3 s
    with "421 4.4.1 Connection timed out", between commands and in DATA.
A second instance has an implicit-TLS listener with connection_timeout = 2s
and inactivity_timeout = 1m: a client that connects and never starts its
handshake is dropped after about 2 s, because the ConnectionTimer runs from
the accept ("initialized when a session is initiated", 3.2.2), not from the
banner that follows the handshake.
The clients run side by side. The texts below are typed from the spec, not
taken from the reply catalogue.
"""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

CONNECTION_TIMEOUT = 3.0
INACTIVITY_TIMEOUT = 1.0
# Gaps between trickled pieces: well inside the inactivity timeout.
TRICKLE_GAP = 0.4
# The server starts a timer a moment before the client sees the reply that
# starts its own clock (EARLY); replies may be late by scheduling (LATE).
EARLY = 0.1
LATE = 0.7
JOIN_TIMEOUT = 30

INACTIVITY = "451 4.7.0 Timeout waiting for client input"
CONNECTION = "421 4.4.1 Connection timed out"


def assert_closed(client, what):
    """The server ended the session: the next read is the end of the stream."""
    rest = client.line()
    assert rest == b"", "%s: expected the connection to close, got %r" % (what, rest)


def greet(client):
    banner = client.reply()
    assert banner == ["220 %s ESMTP postern ready" % h.HOSTNAME], banner
    client.send("EHLO client.example.test\r\n")
    ehlo = client.reply()
    assert ehlo[-1].startswith("250 "), ehlo


def start_transaction(client, recipient):
    greet(client)
    assert client.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
    assert client.command("RCPT TO:<%s>" % recipient) == "250 2.1.5 Recipient OK"


def wait_for_reply(client):
    """(the reply's last line, seconds it took to arrive)."""
    began = time.monotonic()
    line = client.reply()[-1]
    return line, time.monotonic() - began


def idle_after_banner(port):
    client = h.RawClient(port)
    try:
        began = time.monotonic()
        client.reply()
        line, _ = wait_for_reply(client)
        elapsed = time.monotonic() - began
        assert line == INACTIVITY, "a silent client got %r" % line
        assert INACTIVITY_TIMEOUT - EARLY <= elapsed <= INACTIVITY_TIMEOUT + LATE, \
            "inactivity reply after %.2fs, expected about %.1fs" % (elapsed, INACTIVITY_TIMEOUT)
        assert_closed(client, "after the inactivity timeout")
    finally:
        client.close()


def idle_in_data(port):
    recipient = "idle-data@example.test"
    client = h.RawClient(port)
    try:
        start_transaction(client, recipient)
        assert client.command("DATA").startswith("354 ")
        client.send("Subject: half a message\r\n\r\nthe rest never comes")
        line, elapsed = wait_for_reply(client)
        assert line == INACTIVITY, "a client silent in DATA got %r" % line
        assert elapsed >= INACTIVITY_TIMEOUT - EARLY, "reply after %.2fs" % elapsed
        assert_closed(client, "after the inactivity timeout in DATA")
    finally:
        client.close()
    return recipient


def busy_session_hits_the_connection_timeout(port):
    """NOOPs every TRICKLE_GAP: each answered, so inactivity never fires;
    the connection timer still ends the session after CONNECTION_TIMEOUT."""
    client = h.RawClient(port)
    try:
        began = time.monotonic()
        greet(client)
        answered = 0
        while True:
            time.sleep(TRICKLE_GAP)
            line = client.command("NOOP")
            if line != "250 2.0.0 OK":
                break
            answered += 1
        elapsed = time.monotonic() - began
        assert line == CONNECTION, "a busy session was ended with %r" % line
        assert elapsed >= CONNECTION_TIMEOUT - EARLY, "ended after %.2fs" % elapsed
        assert elapsed <= CONNECTION_TIMEOUT + LATE, "ended only after %.2fs" % elapsed
        # The session outlived the inactivity timeout several times over.
        assert answered * TRICKLE_GAP > 2 * INACTIVITY_TIMEOUT, "only %d NOOPs" % answered
        assert_closed(client, "after the connection timeout")
    finally:
        client.close()


def trickled_data(instance, port):
    """DATA bytes sent in pieces TRICKLE_GAP apart, for longer than the
    inactivity timeout (and shorter than the connection timeout): accepted."""
    recipient = "trickle@example.test"
    body = [b"Subject: trickled\r\n", b"\r\n", b"one\r\n", b"two\r\n", b"three\r\n"]
    client = h.RawClient(port)
    try:
        start_transaction(client, recipient)
        assert client.command("DATA").startswith("354 ")
        began = time.monotonic()
        for piece in body:
            client.send(piece)
            time.sleep(TRICKLE_GAP)
        client.send(b".\r\n")
        assert time.monotonic() - began > INACTIVITY_TIMEOUT
        line = client.reply()[-1]
        h.queue_id_from(line[4:])
        assert client.command("QUIT").startswith("221 ")
    finally:
        client.close()
    delivered = instance.wait_for_mail(recipient, 1)
    assert h.split_received(delivered[0])[1] == b"".join(body), delivered


def trickled_bdat(instance, port):
    """One BDAT chunk whose octets trickle in for longer than the inactivity timeout."""
    recipient = "trickle-bdat@example.test"
    pieces = [b"Subject: chunk\r\n", b"\r\n", b"slow\r\n", b"chunk\r\n"]
    content = b"".join(pieces)
    client = h.RawClient(port)
    try:
        start_transaction(client, recipient)
        client.send(b"BDAT %d LAST\r\n" % len(content))
        began = time.monotonic()
        for piece in pieces:
            time.sleep(TRICKLE_GAP)
            client.send(piece)
        assert time.monotonic() - began > INACTIVITY_TIMEOUT
        h.queue_id_from(client.reply()[-1][4:])
        assert client.command("QUIT").startswith("221 ")
    finally:
        client.close()
    delivered = instance.wait_for_mail(recipient, 1)
    assert h.split_received(delivered[0])[1] == content, delivered


def connection_timeout_in_data(port):
    """Trickling DATA past the connection timeout: 421 4.4.1 in DATA, then close."""
    recipient = "endless@example.test"
    client = h.RawClient(port)
    try:
        began = time.monotonic()
        start_transaction(client, recipient)
        assert client.command("DATA").startswith("354 ")
        client.sock.settimeout(TRICKLE_GAP)
        reply = None
        while reply is None and time.monotonic() - began < CONNECTION_TIMEOUT + LATE:
            try:
                client.send(b"a line that never ends the data\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                reply = client.line()
            except TimeoutError:
                continue
        client.sock.settimeout(h.SOCKET_TIMEOUT)
        if reply is None:
            reply = client.line()
        elapsed = time.monotonic() - began
        assert reply.decode() == CONNECTION, "trickling DATA was ended with %r" % reply
        assert elapsed >= CONNECTION_TIMEOUT - EARLY, "ended after %.2fs" % elapsed
        assert_closed(client, "after the connection timeout in DATA")
    finally:
        client.close()
    return recipient


def connection_timer_covers_the_tls_handshake():
    listener = {"tls_wrapper": "yes", "connection_timeout": "2s", "inactivity_timeout": "1m"}
    with h.Instance(listeners={"smtps": listener}, name="tls-timer") as instance:
        instance.use_certificate()
        instance.start()
        client = h.RawClient(instance.port, timeout=JOIN_TIMEOUT)
        started = time.monotonic()
        rest = client.sock.recv(1024)  # no ClientHello: the server only waits
        waited = time.monotonic() - started
        client.close()
        assert rest == b"", "expected the connection to close, got %r" % rest
        assert 2.0 - EARLY <= waited <= 2.0 + LATE, "dropped after %.2f s, not 2 s" % waited
        instance.stop()


def in_parallel(*calls):
    """Runs each (function, args...) in its own thread, as independent clients
    would; returns their results in order and re-raises the first failure."""
    results, errors = [None] * len(calls), []

    def run(index, function, *args):
        try:
            results[index] = function(*args)
        except BaseException as e:  # noqa: re-raised below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,) + call) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a client is still running"
    if errors:
        raise errors[0]
    return results


def test():
    listener = {"connection_timeout": "3s", "inactivity_timeout": "1s"}
    with h.Instance(listeners={"smtp": listener}) as instance:
        instance.start()
        port = instance.port
        results = in_parallel((idle_after_banner, port), (idle_in_data, port),
                              (busy_session_hits_the_connection_timeout, port),
                              (trickled_data, instance, port), (trickled_bdat, instance, port),
                              (connection_timeout_in_data, port))
        refused = [results[1], results[5]]
        # A message sent after the interrupted ones arrives; they never do.
        h.send(port, "ann@example.test", ["marker@example.test"], b"Subject: marker\r\n\r\nm\r\n")
        instance.wait_for_mail("marker@example.test", 1)
        for recipient in refused:
            assert instance.delivered(recipient) == [], "%s got an interrupted message" % recipient
        instance.stop()
    connection_timer_covers_the_tls_handshake()


if __name__ == "__main__":
    h.run_tests(globals())
