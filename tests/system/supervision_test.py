#!/usr/bin/env python3
"""tests/system/supervision_test.py — master restarts its children, and throttles broken ones.

- kill -9 of an smtpd worker, of qmgr and of authd (each by PID): master
  starts a new one, and mail sent afterwards is delivered (smtpd reconnects
  to the new qmgr through master);
- a worker of the current generation that exits with status 0 is restarted
  too (only a drained worker of an older generation is meant to go);
- a broken smtpd (a program that exits at once) is restarted with a growing
  back-off instead of in a loop, and a client meanwhile gets MS-OXSMTP's
  NewConnectionNotAvailable reply, "421 4.4.2 Connection dropped".
"""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

RESTART_TIMEOUT = 10


def wait_for_replacement(instance, program, before, killed):
    """Waits until `program` runs as many processes as before, none of them a killed one."""
    deadline = time.monotonic() + RESTART_TIMEOUT
    while time.monotonic() < deadline:
        pids = set(instance.processes_named(program))
        if len(pids) >= len(before) and not (pids & killed):
            return pids
        time.sleep(0.05)
    raise AssertionError("%s not restarted within %ds (killed %s, now %s)" % (
        program, RESTART_TIMEOUT, sorted(killed), sorted(instance.processes_named(program))))


def kill_and_check(instance, program, victims, message_number):
    before = set(instance.processes_named(program))
    assert before, "no %s running" % program
    killed = set(sorted(before)[:victims])
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    after = wait_for_replacement(instance, program, before, killed)
    data = ("Subject: after %s was killed\r\n\r\nmessage %d\r\n" % (program, message_number)).encode()
    # The first attempt may meet the dying connection to qmgr (451, retry).
    for attempt in range(20):
        client = h.connect(instance.port)
        try:
            code, text = client.mail("ann@example.test")
            assert code == 250, (code, text)
            assert client.rcpt("carol@example.test")[0] == 250
            code, text = client.data(data)
        finally:
            client.quit()
        if code == 250:
            break
        assert code == 451, "DATA answered %d %r" % (code, text)
        time.sleep(0.2)
    assert code == 250, "no message accepted after %s was killed" % program
    mail = instance.wait_for_mail("carol@example.test", message_number)
    assert any(m.endswith(data) for m in mail), "message after killing %s not delivered" % program
    print("%s %s killed, replaced by %s" % (program, sorted(killed), sorted(after - before)))


def check_restarts():
    with h.Instance() as instance:
        instance.start()
        instance.wait_for_daemons()
        kill_and_check(instance, "smtpd", 1, 1)
        kill_and_check(instance, "qmgr", 1, 2)
        kill_and_check(instance, "authd", 1, 3)
        instance.stop()


def check_clean_exit_restarted():
    """A worker of the current generation that exits with status 0 (here: SIGTERM,
    which ends a worker's loop) is restarted like any other; before, master took
    every clean exit for a drained old generation and ran on without it."""
    with h.Instance(name="clean-exit") as instance:
        instance.start()
        instance.wait_for_daemons()
        before = set(instance.processes_named("smtpd"))
        victim = min(before)
        os.kill(victim, signal.SIGTERM)
        after = wait_for_replacement(instance, "smtpd", before, {victim})
        # Under ASan the worker's exit is LeakSanitizer's (it cannot scan a
        # chrooted, unprivileged process and exits 1): only the restart counts.
        status = "" if h.sanitizer_build() else " 0"
        assert "smtpd (pid %d) exited with status%s" % (victim, status) in instance.log()
        status = instance.ctl("status").stdout
        assert all("smtpd pid %d" % pid in status for pid in after), status
        client = h.RawClient(instance.port)
        assert client.line().startswith(b"220 ")
        client.close()
        instance.stop()
        print("smtpd %d exited cleanly, replaced by %s" % (victim, sorted(after - before)))


def check_backoff():
    with h.Instance(name="broken") as instance:
        broken = os.path.join(instance.root, "broken-smtpd")
        with open(broken, "w") as f:
            f.write("#!/bin/sh\nexit 1\n")
        os.chmod(broken, 0o755)
        os.remove(os.path.join(instance.daemon_dir, "smtpd"))
        os.symlink(broken, os.path.join(instance.daemon_dir, "smtpd"))
        instance.start()
        time.sleep(4)
        client = h.RawClient(instance.port)
        assert client.line().decode() == "421 4.4.2 Connection dropped"
        client.close()
        delays = [int(d) for d in re.findall(r"restarting smtpd in (\d+) ms", instance.log())]
        # Two workers fail at once, then each round waits longer: in 4 s at most
        # the rounds at 1 s and 2 s have run, never a loop.
        assert 2 <= len(delays) <= 8, "smtpd restarts in 4 s: %s" % delays
        assert delays[0] == 1000 and max(delays) >= 2000, "back-off does not grow: %s" % delays
        assert delays == sorted(delays), "back-off shrank: %s" % delays
        instance.stop()
        print("broken smtpd restarted after %s ms" % delays)


def test():
    check_restarts()
    check_clean_exit_restarted()
    check_backoff()


if __name__ == "__main__":
    h.run_tests(globals())
