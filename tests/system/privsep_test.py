#!/usr/bin/env python3
"""tests/system/privsep_test.py — privilege separation of a running instance, as root.

Starts postern with TLS on a listener and a user in the sasldb, then checks
each process as the kernel sees it:
  - every smtpd runs as smtpd_user (real, effective, saved and fs uid; its
    gid and supplementary groups too) with its root directory chrooted to
    run_directory/empty, holds no descriptor of the sasldb, the queue or the
    TLS key, and a process with exactly its credentials cannot open any of
    them (the test forks, takes the smtpd's uid, gid and groups from
    /proc/PID/status, and tries);
  - qmgr runs as queue_user and authd as auth_user, neither chrooted away
    from what it needs, and authd alone (of the daemons) can read the sasldb;
  - the service sockets are mode 0600 and owned by the one user meant to
    reach them: qmgr.sock (message streams) queue_user, authd.sock
    auth_user, and master.sock and qmgr-control.sock (the queue verbs) root,
    so only master and the CLI can list, read or delete the queue;
  - after all that, a STARTTLS session on the worker still works: the
    certificate was loaded before the privileges were dropped.
Skipped unless run as root, where the daemon users exist.
"""

import os
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402


def status_ids(pid):
    """(uids, gids, groups) from /proc/PID/status."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return ([int(x) for x in fields["Uid"]], [int(x) for x in fields["Gid"]],
            sorted(int(x) for x in fields["Groups"]))


def can_open_as(pid, path):
    """Whether a process with pid's uid, gid and groups can open path for reading."""
    uids, gids, groups = status_ids(pid)
    child = os.fork()
    if child == 0:  # the child only tries, and reports through its exit status
        try:
            os.setgroups(groups)
            os.setresgid(gids[0], gids[0], gids[0])
            os.setresuid(uids[0], uids[0], uids[0])
            with open(path, "rb"):
                pass
            os._exit(0)
        except PermissionError:
            os._exit(1)
        except BaseException:  # noqa: anything else is a broken test
            os._exit(2)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, 1), "the probe for %s failed unexpectedly (%d)" % (path, code)
    return code == 0


def open_files(pid):
    paths = []
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            paths.append(os.readlink(os.path.join(fd_dir, fd)))
        except FileNotFoundError:
            pass
    return paths


def test():
    if not h.running_as_root():
        raise h.Skip("privilege separation is only in force when postern starts as root")
    import pwd
    with h.Instance(listeners={"smtp": {}}) as instance:
        _, key = instance.use_certificate()
        instance.add_user("alice", "a password")
        instance.start()
        sasldb = os.path.join(instance.conf_dir, "sasldb2")
        queue = os.path.join(instance.state_dir, "queue", "data.mdb")
        secrets = [sasldb, queue, key]
        for path in secrets:
            assert os.path.exists(path), "missing %s" % path

        smtpd_uid = pwd.getpwnam("postern").pw_uid
        smtpds = instance.wait_for_daemons()["smtpd"]
        assert len(smtpds) == 2, "expected 2 smtpd workers, found %s" % smtpds
        for pid in smtpds:
            uids, gids, groups = status_ids(pid)
            assert uids == [smtpd_uid] * 4, "smtpd %d uids %s" % (pid, uids)
            assert gids == [pwd.getpwnam("postern").pw_gid] * 4, "smtpd %d gids %s" % (pid, gids)
            assert 0 not in groups, "smtpd %d keeps group root: %s" % (pid, groups)
            root = os.readlink("/proc/%d/root" % pid)
            assert root == h.worker_root(instance.run_dir), "smtpd %d root is %s" % (pid, root)
            held = [p for p in open_files(pid) if any(p.startswith(s) for s in secrets)]
            assert not held, "smtpd %d holds %s" % (pid, held)
            for path in secrets:
                assert not can_open_as(pid, path), "smtpd %d's user can open %s" % (pid, path)

        [qmgr] = instance.processes_named("qmgr")
        assert status_ids(qmgr)[0] == [pwd.getpwnam("postern-queue").pw_uid] * 4
        assert not can_open_as(qmgr, sasldb) and not can_open_as(qmgr, key)
        [authd] = instance.processes_named("authd")
        assert status_ids(authd)[0] == [pwd.getpwnam("postern-auth").pw_uid] * 4
        assert can_open_as(authd, sasldb), "authd cannot read the sasldb"
        assert not can_open_as(authd, queue) and not can_open_as(authd, key)

        import stat
        for name, owner in (("qmgr.sock", "postern-queue"), ("authd.sock", "postern-auth"),
                            ("master.sock", "root"), ("qmgr-control.sock", "root")):
            info = os.stat(os.path.join(instance.run_dir, name))
            assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600 and \
                info.st_uid == pwd.getpwnam(owner).pw_uid, \
                "%s: mode %o, uid %d; expected a 0600 socket of %s" % (
                    name, info.st_mode, info.st_uid, owner)

        context = h.tls_client_context()
        client = h.connect(instance.ports["smtp"])
        code, _ = client.starttls(context=context)
        assert code == 220
        client.ehlo("client.example.test")
        assert client.noop()[0] == 250
        client.quit()
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
