#!/usr/bin/env python3
"""tests/system/ack_delay_test.py — AcknowledgementDelay (MS-OXSMTP 3.2.7)
through the real daemons.

One postern relays to a scripted next hop (next_hop.py) that holds its
250 to the end of the data for as long as the test says; a listener
"waits" has acknowledgement_delay = 30s, a listener "prompt" the default
0. Messages are sent with smtplib, the client's 250 is timed:
- (a) the next hop answers after 2 s: the client's 250 comes after the
  next hop's 250 (by the clock), at least 2 s and well under 30 s after
  the end of the data, and the log says `QUEUEID: acknowledged after
  N s: delivered`;
- (c) a local recipient: when the 250 comes the file is in its Maildir's
  new/ already;
- (b) the next hop answers after 40 s: the client's 250 comes when the
  30 s run out (between 29 and 38 s; the log says `acknowledgement_delay
  30 s ran out`), and the message still reaches the next hop, exactly
  once;
- (d) on the "prompt" listener (acknowledgement_delay 0) the 250 comes at
  once although the next hop is slow again.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from next_hop import NextHop  # noqa: E402

MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"Subject: acknowledged\r\n"
           b"\r\n"
           b"body\r\n")

# Seconds the next hop holds its 250, by the number of the DATA it reads:
# (a), then (b), then (d). (c) is local and never reaches it.
NEXT_HOP_DELAYS = {1: 2, 2: 40, 3: 40}


def timed_send(port, recipient):
    """Sends MESSAGE; returns (queue id, time.monotonic() when the data was
    sent, seconds from then to the 250)."""
    client = h.connect(port, timeout=60)
    try:
        code, text = client.mail("ann@example.test")
        assert code == 250, (code, text)
        code, text = client.rcpt(recipient)
        assert code == 250, (code, text)
        started = time.monotonic()
        code, text = client.data(MESSAGE)
        waited = time.monotonic() - started
        assert code == 250, "DATA answered %d %r" % (code, text)
        return h.queue_id_from(text), started, waited
    finally:
        client.quit()


def check_relayed_after_the_next_hop(instance, hop):
    queue_id, started, waited = timed_send(instance.ports["waits"], "zoe@elsewhere.test")
    assert 2.0 <= waited < 10, "the 250 came after %.2f s" % waited
    [replied] = hop.data_replied_at
    assert started < replied < started + waited, \
        "the next hop answered %.2f s after the end of data, the client had its 250 after %.2f s" \
        % (replied - started, waited)
    log = instance.log()
    assert "%s: acknowledged after " % queue_id in log and \
        "s: delivered" in log.split("%s: acknowledged after " % queue_id)[1].split("\n")[0], \
        log[-3000:]


def check_local_file_before_the_250(instance):
    assert not instance.delivered("bob@example.test")
    queue_id, _, waited = timed_send(instance.ports["waits"], "bob@example.test")
    [content] = instance.delivered("bob@example.test")  # there already, not waited for
    assert content.endswith(MESSAGE), content
    assert waited < 10, "the 250 came after %.2f s" % waited
    h.wait_until(lambda: "%s: acknowledged after " % queue_id in instance.log(), "the log line")


def check_delay_runs_out(instance, hop):
    queue_id, _, waited = timed_send(instance.ports["waits"], "yan@elsewhere.test")
    assert 29 <= waited <= 38, "the 250 came after %.2f s" % waited
    assert not hop.delivered_to("yan@elsewhere.test"), "the next hop answered early"
    assert "%s: acknowledged after " % queue_id in instance.log() and \
        "acknowledgement_delay 30 s ran out" in instance.log(), instance.log()[-3000:]
    return queue_id


def check_prompt_listener(instance):
    _, _, waited = timed_send(instance.ports["prompt"], "xia@elsewhere.test")
    assert waited < 2, "the 250 came after %.2f s on a listener without a delay" % waited


def test():
    with NextHop(data_action=lambda number: NEXT_HOP_DELAYS.get(number)) as hop:
        listeners = {"waits": {"acknowledgement_delay": "30s"}, "prompt": {}}
        settings = {"relayhost": "[127.0.0.1]:%d" % hop.port}
        with h.Instance(listeners=listeners, settings=settings) as instance:
            instance.start()
            check_relayed_after_the_next_hop(instance, hop)
            check_local_file_before_the_250(instance)
            queue_id = check_delay_runs_out(instance, hop)
            check_prompt_listener(instance)
            # (b)'s message reaches the next hop about 40 s after its data.
            h.wait_until(lambda: queue_id not in instance.queue_list(), "the slow relay ends",
                         timeout=20)
            assert len(hop.delivered_to("yan@elsewhere.test")) == 1, hop.transactions
            assert h.split_received(hop.delivered_to("yan@elsewhere.test")[0])[1] == MESSAGE
            instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
