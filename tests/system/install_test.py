#!/usr/bin/env python3
"""tests/system/install_test.py — `make install` and `make uninstall` as configure set them up.

Installs the build tree into a temporary DESTDIR and checks what an
administrator relies on:
- postern.conf lands in sysconfdir/postern, its comments naming this
  build's directories (no @MARKER@ left); the installed postern looks for it
  there when neither -c nor POSTERN_CONFIG_DIR is given, and its built-in
  defaults are configure's: state_directory localstatedir/lib/postern,
  run_directory runstatedir/postern, daemon_directory libexecdir/postern,
  where master, smtpd, qmgr, authd and metricsd are installed;
- `make uninstall` keeps a postern.conf the administrator changed, and
  removes one that is still the installed file.
configure's directories come from tests/tests.mk (POSTERN_SYSCONFDIR and
the like); the expected suffixes are typed here.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402


def make(target, destdir):
    """make TARGET DESTDIR=destdir in the build tree, as a nested make of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(["make", "-s", "-C", h.build_dir(), target, "DESTDIR=" + destdir],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "make %s: %s%s" % (target, result.stdout, result.stderr)
    return result.stdout


def directories():
    names = ("SYSCONFDIR", "LOCALSTATEDIR", "RUNSTATEDIR", "LIBEXECDIR", "SBINDIR")
    missing = [n for n in names if not os.environ.get("POSTERN_" + n)]
    if missing:
        raise h.Skip("POSTERN_%s not set (run through `make check`)" % missing[0])
    return {n.lower(): os.environ["POSTERN_" + n] for n in names}


def installed_postern(dest, dirs, *args, config_dir=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTERN_")}
    if config_dir:
        env["POSTERN_CONFIG_DIR"] = config_dir
    return subprocess.run([dest + dirs["sbindir"] + "/postern"] + list(args), env=env,
                          capture_output=True, text=True, timeout=30)


def test_install_uses_configures_directories():
    dirs = directories()
    with tempfile.TemporaryDirectory(prefix="postern-install-") as dest:
        make("install", dest)
        conf_dir = dest + dirs["sysconfdir"] + "/postern"
        with open(conf_dir + "/postern.conf") as f:
            text = f.read()
        assert not re.search(r"@[A-Z_]+@", text), re.findall(r"@[A-Z_]+@", text)
        assert text.startswith("# %s/postern/postern.conf " % dirs["sysconfdir"]), text[:80]
        state = dirs["localstatedir"] + "/lib/postern"
        run = dirs["runstatedir"] + "/postern"
        daemons = dirs["libexecdir"] + "/postern"
        assert "\n#state_directory = %s " % state in text
        assert "\n#run_directory = %s " % run in text
        assert "\n#daemon_directory = %s " % daemons in text
        for program in ("master", "smtpd", "qmgr", "authd", "metricsd"):
            assert os.access(dest + daemons + "/" + program, os.X_OK), program

        usage = installed_postern(dest, dirs, "--help")
        assert usage.returncode == 0, usage
        assert "else %s/postern.\n" % dirs["sysconfdir"] in usage.stdout, usage.stdout
        result = installed_postern(dest, dirs, "config", "-d", "state_directory",
                                   "run_directory", "daemon_directory", config_dir=conf_dir)
        assert result.returncode == 0, result
        assert result.stdout == ("state_directory = %s\nrun_directory = %s\n"
                                 "daemon_directory = %s\n" % (state, run, daemons)), result.stdout


def test_uninstall_keeps_a_changed_config():
    dirs = directories()
    with tempfile.TemporaryDirectory(prefix="postern-install-") as dest:
        make("install", dest)
        conf = dest + dirs["sysconfdir"] + "/postern/postern.conf"
        shutil.copy(conf, conf + ".orig")
        with open(conf, "a") as f:
            f.write("smtpd_workers = 4\n")
        out = make("uninstall", dest)
        assert os.path.exists(conf), "make uninstall removed a changed postern.conf"
        assert "keeping %s" % conf in out, out
        assert not os.path.exists(dest + dirs["sbindir"] + "/postern")

        make("install", dest)  # leaves the changed file alone
        with open(conf) as f:
            assert f.read().endswith("smtpd_workers = 4\n")
        os.replace(conf + ".orig", conf)
        make("uninstall", dest)
        assert not os.path.exists(conf), "make uninstall kept the postern.conf it installed"


if __name__ == "__main__":
    h.run_tests(globals())
