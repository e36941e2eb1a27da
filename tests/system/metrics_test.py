#!/usr/bin/env python3
"""tests/system/metrics_test.py — metrics_listen as Prometheus sees it, on the real daemons.

With `metrics_listen = 127.0.0.1:PORT`, curl fetches /metrics the way a
Prometheus server would, and Debian's `promtool check metrics` lints every
page. What an operator would graph is checked against what the test did:
- a page before any traffic: every family there, postern_qmgr_up 1, the
  Content-Type of the text format 0.0.4;
- after 3 messages (2 for a local user, delivered into the Maildir; 1 for a
  remote domain whose MX lookup fails, so deferred), a RCPT refused with
  452 4.5.3 (max_recipients = 1), and a client refused at connect by
  `postern block` with 550 5.7.1: connections, messages, their octets,
  rejections by command and reply, deliveries by transport and status,
  the queue by state and the commit histograms add up to exactly that;
- metricsd runs as smtpd_user, chrooted into run_directory/empty, and is
  listed by `postern status`;
- qmgr stopped (SIGSTOP): the page still comes, postern_qmgr_up 0 and none
  of qmgr's families; once it runs again, 1;
- metricsd killed (SIGKILL): the supervisor starts another, which serves.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402


def scrape(port, timeout=15):
    """(headers, body) of GET /metrics with curl; asserts a 200."""
    result = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-D", "-",
                             "http://127.0.0.1:%d/metrics" % port],
                            capture_output=True, text=True, timeout=timeout + 5)
    assert result.returncode == 0, "curl failed: %s" % result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200"), head
    return head, body


def promtool_check(body):
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                            text=True, timeout=h.CLI_TIMEOUT)
    assert result.returncode == 0 and result.stdout + result.stderr == "", \
        "promtool check metrics refused the page:\n%s%s\n%s" % (result.stdout, result.stderr, body)


def samples(body):
    """{'name{labels}': value} of every sample line."""
    values = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def value(body, key):
    found = samples(body)
    assert key in found, "%s is not on the page:\n%s" % (key, body)
    return found[key]


QMGR_FAMILIES = ("postern_deliveries_total", "postern_queue_messages",
                 "postern_commit_batch_messages", "postern_commit_seconds")
MASTER_FAMILIES = ("postern_build_info", "postern_uptime_seconds", "postern_connections_total",
                   "postern_messages_total", "postern_message_bytes_total",
                   "postern_rejections_total", "postern_sessions", "postern_qmgr_up")


def check_first_page(port):
    head, body = scrape(port)
    assert re.search(r"(?im)^content-type: text/plain; version=0\.0\.4", head), head
    promtool_check(body)
    for family in MASTER_FAMILIES + QMGR_FAMILIES:
        assert "# TYPE %s " % family in body, "no family %s:\n%s" % (family, body)
    assert value(body, "postern_qmgr_up") == 1
    assert value(body, 'postern_deliveries_total{transport="maildir",status="sent"}') == 0
    # The harness's own probe at start may have connected already.
    return value(body, 'postern_connections_total{listener="smtp"}')


def run_traffic(instance, port):
    """What the page must count afterwards; returns the content octets queued."""
    local = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\n" + b"x" * 5000 + b"\r\n"]
    for content in local:
        h.send(port, "ann@example.test", ["bob@" + h.LOCAL_DOMAIN], content)
    remote = b"Subject: far\r\n\r\nfor zoe\r\n"
    h.send(port, "ann@example.test", ["zoe@elsewhere.test"], remote)
    client = h.connect(port)
    try:
        assert client.mail("ann@example.test")[0] == 250
        assert client.rcpt("bob@" + h.LOCAL_DOMAIN)[0] == 250
        assert client.rcpt("carol@" + h.LOCAL_DOMAIN)[0] == 452
    finally:
        client.close()  # TooManyRecipients ends the session
    blocked = instance.ctl("block", "add", "127.0.0.1")
    assert blocked.returncode == 0, blocked.stderr
    try:
        refused = h.RawClient(port)
        assert refused.line().startswith(b"550 5.7.1 "), "a blocked client was not refused"
        refused.close()
    finally:
        assert instance.ctl("block", "del", "127.0.0.1").returncode == 0
    instance.wait_for_mail("bob@" + h.LOCAL_DOMAIN, 2)
    h.wait_until(lambda: "status=deferred" in instance.log(), "zoe's first attempt")
    instance.wait_for_connection_count(0)
    return sum(len(c) for c in local) + len(remote)


def check_counts(port, octets, connections_before):
    listener = 'listener="smtp"'

    def settled():
        body = scrape(port)[1]
        return value(body, "postern_messages_total{%s}" % listener) == 3 and \
            value(body, 'postern_deliveries_total{transport="smtp",status="deferred"}') >= 1
    h.wait_until(settled, "the tallies to reach master")
    body = scrape(port)[1]
    promtool_check(body)
    expected = {
        # 4 sessions; the blocked client is no connection
        "postern_connections_total{%s}" % listener: connections_before + 4,
        "postern_messages_total{%s}" % listener: 3,
        "postern_message_bytes_total{%s}" % listener: octets,
        'postern_rejections_total{%s,command="RCPT",code="452",enhanced="4.5.3"}' % listener: 1,
        'postern_rejections_total{%s,command="CONNECT",code="550",enhanced="5.7.1"}' % listener: 1,
        "postern_sessions{%s}" % listener: 0,
        'postern_deliveries_total{transport="maildir",status="sent"}': 2,
        'postern_deliveries_total{transport="maildir",status="bounced"}': 0,
        'postern_queue_messages{state="deferred"}': 1,
        'postern_queue_messages{state="pending"}': 0,
        'postern_queue_messages{state="held"}': 0,
        "postern_commit_batch_messages_sum": 3,  # each message acknowledged by one commit
        "postern_qmgr_up": 1,
    }
    found = samples(body)
    wrong = {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}
    assert not wrong, "(found, expected): %s\n%s" % (wrong, body)
    assert 1 <= found["postern_commit_batch_messages_count"] <= 3, body
    assert found["postern_commit_seconds_count"] >= found["postern_commit_batch_messages_count"]
    assert found['postern_commit_seconds_bucket{le="+Inf"}'] == found["postern_commit_seconds_count"]
    rejections = [k for k in found if k.startswith("postern_rejections_total")]
    assert len(rejections) == 2, "rejections nobody caused: %s" % rejections


def metricsd_pid(instance):
    pids = instance.processes_named("metricsd")
    assert len(pids) == 1, "expected one metricsd, found %s" % pids
    return pids[0]


def check_metricsd_is_unprivileged(instance):
    import pwd
    pid = metricsd_pid(instance)
    with open("/proc/%d/status" % pid) as f:
        uids = next(line.split()[1:] for line in f if line.startswith("Uid:"))
    if h.running_as_root():
        assert uids == [str(pwd.getpwnam("postern").pw_uid)] * 4, uids
        root = os.readlink("/proc/%d/root" % pid)
        assert root == h.worker_root(instance.run_dir), root
    status = instance.ctl("status")
    assert "metricsd pid %d" % pid in status.stdout, status.stdout


def check_without_qmgr(instance, port):
    [qmgr] = instance.processes_named("qmgr")
    os.kill(qmgr, signal.SIGSTOP)
    try:
        _, body = scrape(port)
        promtool_check(body)
        assert value(body, "postern_qmgr_up") == 0, body
        for family in QMGR_FAMILIES:
            assert family not in body, "%s without qmgr:\n%s" % (family, body)
        assert value(body, 'postern_messages_total{listener="smtp"}') == 3
    finally:
        os.kill(qmgr, signal.SIGCONT)
    h.wait_until(lambda: value(scrape(port)[1], "postern_qmgr_up") == 1, "qmgr's part again")


def check_metricsd_restarts(instance, port):
    old = metricsd_pid(instance)
    os.kill(old, signal.SIGKILL)
    h.wait_until(lambda: instance.processes_named("metricsd") not in ([], [old]),
                 "a new metricsd", timeout=30)
    deadline = time.monotonic() + 30
    while True:
        try:
            _, body = scrape(port)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "the new metricsd never served"
            time.sleep(0.2)
    assert value(body, 'postern_messages_total{listener="smtp"}') == 3, body


def test():
    port = h.free_port()
    settings = {"metrics_listen": "127.0.0.1:%d" % port}
    with h.Instance(listeners={"smtp": {"max_recipients": 1}}, settings=settings) as instance:
        instance.start()
        instance.wait_for_daemons()
        connections_before = check_first_page(port)
        octets = run_traffic(instance, instance.ports["smtp"])
        check_counts(port, octets, connections_before)
        check_metricsd_is_unprivileged(instance)
        check_without_qmgr(instance, port)
        check_metricsd_restarts(instance, port)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
