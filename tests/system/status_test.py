#!/usr/bin/env python3
"""tests/system/status_test.py — `postern status [--json]` and `postern --version`
against the real daemons.

What an operator reads in postern(1) and checks here, parsing the JSON with
jq as a monitoring script would:
- `postern --version` prints "postern VERSION" (AC_INIT's version in
  configure.ac), exit 0, without reading a configuration;
- `status --json` is one JSON object: the same version; an uptime; master,
  qmgr, authd and each smtpd worker listed once, each pid alive and the set
  of pids the one the instance runs;
- while a client holds a session on the listener "smtp", that listener and
  one smtpd worker count one session, the other listener none;
- after one message accepted (for a remote domain whose MX lookup fails, so
  it stays queued) and one RCPT refused (452, max_recipients = 1, which
  also ends that session), the last
  minute counts 1 message and 1 rejection; once the message is held
  (`queue hold`), the queue counts it held and nothing else;
- the text form says the same in words; after `stop`, status exits 1;
- what `postern check` refuses, master refuses too: a reload keeps the
  running configuration, a start does not happen.
"""

import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
import postern_wire as wire  # noqa: E402


def configured_version():
    """The version of AC_INIT in configure.ac."""
    with open(os.path.join(wire.SOURCE_DIR, "configure.ac")) as f:
        match = re.search(r"^AC_INIT\(\[postern\], \[([^]]+)\]", f.read(), re.M)
    assert match, "no AC_INIT([postern], [VERSION]) in configure.ac"
    return match.group(1)


def jq(text, program):
    """The value jq computes from text (which jq must parse), read back as JSON."""
    result = subprocess.run(["jq", "-c", program], input=text, capture_output=True, text=True,
                            timeout=h.CLI_TIMEOUT)
    assert result.returncode == 0, "jq %r could not read:\n%s\n%s" % (program, text, result.stderr)
    return json.loads(result.stdout)


def status_json(instance):
    result = instance.ctl("status", "--json")
    assert result.returncode == 0 and result.stderr == "", (result.returncode, result.stderr)
    assert jq(result.stdout, "type") == "object", result.stdout
    return result.stdout


def check_version_option():
    for option in ("--version", "-V"):
        result = subprocess.run([h.postern_cli(), "-c", "/nonexistent/postern", option],
                                capture_output=True, text=True, timeout=h.CLI_TIMEOUT)
        assert (result.returncode, result.stdout, result.stderr) == (
            0, "postern %s\n" % configured_version(), ""), result


def check_processes(instance, text):
    assert jq(text, ".version") == configured_version()
    uptime = jq(text, ".uptime_seconds")
    assert isinstance(uptime, int) and 0 <= uptime < 600, uptime
    processes = jq(text, "[.processes[] | {name, pid}]")
    pids = [p["pid"] for p in processes]
    assert len(pids) == len(set(pids)), "a pid is listed twice: %s" % processes
    names = sorted(p["name"] for p in processes)
    assert names == ["authd", "master", "qmgr", "smtpd", "smtpd"], processes
    assert jq(text, '[.processes[] | select(.name == "master") | .pid]') == [instance.master_pid()]
    for pid in pids:
        os.kill(pid, 0)  # alive: raises ProcessLookupError otherwise
    assert set(pids) == set(instance.processes()), (processes, instance.processes())


def check_sessions(instance):
    client = h.RawClient(instance.ports["smtp"])
    try:
        assert client.line().startswith(b"220 "), "no banner"
        instance.wait_for_connection_count(1)
        # The worker's acknowledgement of the hand-off reaches master a moment
        # after the banner has gone out.
        h.wait_until(lambda: sorted(jq(status_json(instance),
                                       '[.processes[] | select(.name == "smtpd") | .sessions]'))
                     == [0, 1], "one smtpd worker with the session")
        text = status_json(instance)
        assert jq(text, "[.listeners[] | {name, sessions}]") == [
            {"name": "smtp", "sessions": 1}, {"name": "other", "sessions": 0}], text
        assert jq(text, '.listeners[0].bind') == ["127.0.0.1:%d" % instance.ports["smtp"]], text
        assert jq(text, ".connections") == 1, text
    finally:
        h.quit_session(client)
    instance.wait_for_connection_count(0)


def check_counts_and_queue(instance):
    queue_id = h.send(instance.ports["smtp"], "ann@example.test", ["zoe@elsewhere.test"],
                      b"Subject: for zoe\r\n\r\nHeld.\r\n")
    client = h.connect(instance.ports["smtp"])
    try:
        assert client.mail("ann@example.test")[0] == 250
        assert client.rcpt("bob@example.test")[0] == 250
        code, text = client.rcpt("carol@example.test")
        assert code == 452, "the second RCPT answered %d %r, not 452" % (code, text)
    finally:
        client.close()  # TooManyRecipients ends the session (MS-OXSMTP 3.2.7)
    # The tally reaches master a moment after the reply.
    h.wait_until(lambda: jq(status_json(instance), ".last_minute") ==
                 {"messages": 1, "rejections": 1}, "1 message and 1 rejection in the last minute")

    # zoe's MX lookup fails (no nameserver answers): the message stays.
    h.wait_until(lambda: "status=deferred" in instance.log(), "zoe's first attempt")
    hold = instance.ctl("queue", "hold", queue_id)
    assert hold.returncode == 0, hold.stderr
    text = status_json(instance)
    assert jq(text, ".queue") == {"pending": 0, "deferred": 0, "held": 1, "in_delivery": 0}, text

    instance.wait_for_connection_count(0)
    words = instance.ctl("status")
    assert words.returncode == 0, words.stderr
    for line in ("postern %s is running, master pid %d, up " % (configured_version(),
                                                               instance.master_pid()),
                 "\nlistener smtp on 127.0.0.1:%d: 0 sessions\n" % instance.ports["smtp"],
                 "\nqueue: 0 pending, 0 deferred, 1 held, 0 in delivery\n",
                 "\nlast minute: 1 message accepted, 1 rejection\n"):
        assert line in words.stdout, "%r not in:\n%s" % (line, words.stdout)
    assert words.stdout.count("smtpd pid ") == 2, words.stdout


def check_daemons_refuse_what_check_refuses(instance, running):
    """A mechanism authd does not serve: check, then reload or start, refuse it alike."""
    instance.write_config(extra="auth_mechanisms = CRAM-MD5 PLAIN")
    expected = "%s:%d: auth_mechanisms: postern does not serve CRAM-MD5 PLAIN: only NTLM and " \
        "LOGIN are served" % (instance.conf_path, len(instance.settings) + 2)
    check = instance.ctl("check")
    assert check.returncode == 1 and expected in check.stderr, check
    refused = instance.ctl("reload" if running else "start")
    assert refused.returncode == 1 and expected in refused.stderr, refused
    instance.write_config()
    if running:
        assert instance.ctl("status").returncode == 0
    else:
        assert instance.master_pid() is None, "master started with a refused configuration"


def test():
    check_version_option()
    with h.Instance(listeners={"smtp": {"max_recipients": 1}, "other": {}}) as instance:
        instance.start()
        instance.wait_for_daemons()
        check_processes(instance, status_json(instance))
        check_sessions(instance)
        check_counts_and_queue(instance)
        check_daemons_refuse_what_check_refuses(instance, running=True)
        instance.stop()
        for args in (("status",), ("status", "--json")):
            stopped = instance.ctl(*args)
            assert stopped.returncode == 1 and "master is not running" in stopped.stderr, stopped
        check_daemons_refuse_what_check_refuses(instance, running=False)


if __name__ == "__main__":
    h.run_tests(globals())
