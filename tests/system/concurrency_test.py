#!/usr/bin/env python3
"""tests/system/concurrency_test.py — many clients at once, every message exactly once.

10 smtplib clients run in parallel, each on its own connection sending 20
messages with distinct bodies to its own mailbox. Every message must be
acknowledged with 250 2.6.0, and every one must be delivered exactly once,
byte for byte, under a Received: field naming its own queue id.
"""

import os
import re
import sys
import threading

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

CLIENTS = 10
MESSAGES = 20
JOIN_TIMEOUT = 120


def message(client, number):
    lines = ["Subject: client %d message %d" % (client, number),
             "X-Test-Id: c%d-m%d" % (client, number), ""]
    # Distinct sizes too, so that no two bodies are alike even in length.
    lines += ["line %d of c%d-m%d %s" % (i, client, number, "x" * (client * 7 + number))
              for i in range(1 + number * 3)]
    lines.append(".dot line of c%d-m%d" % (client, number))
    return ("\r\n".join(lines) + "\r\n").encode()


def mailbox(client):
    return "user%d@example.test" % client


def run_client(port, client, sent, errors):
    try:
        smtp = h.connect(port, timeout=30)
        try:
            for number in range(MESSAGES):
                data = message(client, number)
                sent[(client, number)] = (h.transaction(smtp, "sender%d@example.test" % client,
                                                        [mailbox(client)], data), data)
        finally:
            smtp.quit()
    except BaseException as e:  # noqa: reported by the main thread
        errors.append("client %d: %r" % (client, e))


def message_key(delivered):
    match = re.search(rb"\r\nX-Test-Id: c(\d+)-m(\d+)\r\n", delivered)
    assert match, "delivered message without X-Test-Id: %r" % delivered[:300]
    return int(match.group(1)), int(match.group(2))


def test():
    with h.Instance() as instance:
        instance.start()
        sent, errors = {}, []
        threads = [threading.Thread(target=run_client, args=(instance.port, c, sent, errors))
                   for c in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN_TIMEOUT)
        assert not any(t.is_alive() for t in threads), "clients still running after %ds" % JOIN_TIMEOUT
        assert not errors, "\n".join(errors)
        assert len(sent) == CLIENTS * MESSAGES
        queue_ids = [queue_id for queue_id, _ in sent.values()]
        assert len(set(queue_ids)) == len(queue_ids), "queue ids repeat"

        for client in range(CLIENTS):
            found = instance.wait_for_mail(mailbox(client), MESSAGES, timeout=30)
            assert len(found) == MESSAGES, "%s: %d files for %d messages" % (
                mailbox(client), len(found), MESSAGES)
            seen = set()
            for delivered in found:
                received, rest = h.split_received(delivered)
                key = message_key(rest)
                assert key[0] == client, "%s holds a message of client %d" % (mailbox(client), key[0])
                assert key not in seen, "c%d-m%d delivered twice" % key
                seen.add(key)
                queue_id, data = sent[key]
                assert rest == data, "c%d-m%d differs:\nsent %r\ngot  %r" % (key + (data, rest))
                h.check_received(received, queue_id)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
