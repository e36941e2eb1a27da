#!/usr/bin/env python3
"""tests/system/out_of_resources_test.py — MS-OXSMTP 3.2.7 OutOfResources at connect.

With a threshold no machine can meet (min_free_disk_space or
min_free_memory of 1000000 GB), every new connection gets "452 4.3.1
Insufficient system resources" from master and is closed; with the
thresholds switched off (0) the same machine serves the client. A reload
with sane thresholds serves again without a restart.
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


def test():
    refused_for("min_free_disk_space")
    refused_for("min_free_memory")
    print("452 4.3.1 at connect for disk and memory; served again after reload")


if __name__ == "__main__":
    h.run_test(test)
