#!/usr/bin/env python3
"""tests/system/out_of_resources_test.py — MS-OXSMTP 3.2.7 OutOfResources, at connect and at MAIL.

With a threshold no machine can meet (min_free_disk_space or
min_free_memory of 1000000 GB), every new connection gets "452 4.3.1
Insufficient system resources" from master and is closed; with the
thresholds switched off (0) the same machine serves the client. A reload
with sane thresholds serves again without a restart.

At MAIL (3.2.5 "System resources are not available"): a session that
connected while resources were fine gets "452 4.3.1 Insufficient system
resources" to MAIL FROM once a reload raises a threshold out of reach, and
goes on (NOOP, RCPT answered as usual); after a reload back its next MAIL
FROM is accepted and its message delivered. The same holds on a listener
without message_rate_limit, where workers answer MAIL themselves while
master says resources are ample (ipc::MailCheckPolicy).
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

REFUSAL = "452 4.3.1 Insufficient system resources"
IMPOSSIBLE = "1000000g"


def first_line(port, then_read_rest):
    """The server's first line and, when asked, what follows until it closes."""
    client = h.RawClient(port)
    try:
        line = client.line().decode()
        rest = client.sock.recv(100) if then_read_rest else None  # b"": closed
        return line, rest
    finally:
        client.close()


def refused_for(key):
    with h.Instance(name="oor", settings={key: IMPOSSIBLE}) as instance:
        instance.start()
        line, rest = first_line(instance.port, then_read_rest=True)
        assert line == REFUSAL, "%s: first line %r" % (key, line)
        assert rest == b"", "%s: the server did not close after 452: %r" % (key, rest)
        assert "OutOfResources: " in instance.log() and key in instance.log(), instance.log()

        # Reloaded with the check off, the same instance serves again
        # (after the one-second reading interval).
        instance.settings[key] = 0
        instance.write_config()
        assert instance.ctl("reload").returncode == 0
        time.sleep(1.2)
        line, _ = first_line(instance.port, then_read_rest=False)
        assert line.startswith("220 "), "%s: after reload: %r" % (key, line)
        instance.stop()


def reload_with(instance, key, value):
    instance.settings[key] = value
    instance.write_config()
    assert instance.ctl("reload").returncode == 0
    # master reads resources at most once a second.
    time.sleep(1.2)


def refused_at_mail(key, listener_settings=None):
    listeners = {"smtp": listener_settings} if listener_settings else None
    with h.Instance(name="oor-mail", settings={key: 0}, listeners=listeners) as instance:
        instance.start()
        client = h.RawClient(instance.port)
        try:
            assert client.line().decode().startswith("220 ")
            assert client.command("EHLO client.example.test").startswith("250 ")
            assert client.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
            assert client.command("RSET") == "250 2.0.0 OK"

            reload_with(instance, key, IMPOSSIBLE)
            line = client.command("MAIL FROM:<ann@example.test>")
            assert line == REFUSAL, "%s: MAIL got %r" % (key, line)
            # The session goes on, with no transaction begun.
            assert client.command("NOOP") == "250 2.0.0 OK"
            line = client.command("RCPT TO:<bob@example.test>")
            assert line == "503 5.5.2 Need mail command", "%s: RCPT got %r" % (key, line)
            assert "OutOfResources at MAIL FROM" in instance.log(), instance.log()
            # A new client is refused at connect meanwhile.
            line, _ = first_line(instance.port, then_read_rest=False)
            assert line == REFUSAL, "%s: a new connection got %r" % (key, line)

            reload_with(instance, key, 0)
            assert client.command("MAIL FROM:<ann@example.test>") == "250 2.1.0 Sender OK"
            assert client.command("RCPT TO:<bob@example.test>") == "250 2.1.5 Recipient OK"
            assert client.command("DATA").startswith("354 ")
            client.send("Subject: after the shortage\r\n\r\nHello.\r\n.\r\n")
            line = client.reply()[-1]
            assert line.startswith("250 2.6.0 "), "%s: end of DATA got %r" % (key, line)
            assert client.command("QUIT").startswith("221 ")
        finally:
            client.close()
        instance.wait_for_mail("bob@example.test", 1)
        instance.stop()


def test():
    refused_for("min_free_disk_space")
    refused_for("min_free_memory")
    refused_at_mail("min_free_disk_space")
    refused_at_mail("min_free_memory")
    # Without a message rate limit a worker allows MAIL without asking master
    # while resources are ample; the shortage still reaches its session.
    refused_at_mail("min_free_disk_space", {"message_rate_limit": 0})
    print("452 4.3.1 at connect and at MAIL for disk and memory; served again after reload")


if __name__ == "__main__":
    h.run_tests(globals())
