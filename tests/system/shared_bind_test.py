#!/usr/bin/env python3
"""tests/system/shared_bind_test.py — listeners that share one bind address.

MS-OXSMTP 1.5/3.2.7 bindings, as Exchange receive connectors do them: two
listeners on one address with different remote_networks; each client is
served by the most specific listener whose remote_networks contain it (seen
here through each listener's own SIZE), and a client that none serves gets
BindingNotConfigured, "421 4.3.2 Service not available".
"""

import os
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402


def greeting_and_size(port, source):
    """The banner line, and the SIZE keyword of EHLO when the client was served."""
    client = h.RawClient(port, source=source)
    try:
        banner = client.line().decode()
        if not banner.startswith("220 "):
            return banner, None
        client.send("EHLO client.example.test\r\n")
        size = [line for line in client.reply() if "SIZE" in line]
        client.command("QUIT")
        return banner, size[0] if size else None
    finally:
        client.close()


def test():
    port = h.free_port()
    bind = "127.0.0.1:%d" % port
    listeners = {"wide": {"bind": bind, "remote_networks": "127.0.0.0/30",
                          "max_message_size": "2k"},
                 "narrow": {"bind": bind, "remote_networks": "127.0.0.3/32",
                            "max_message_size": "4k"}}
    with h.Instance(listeners=listeners) as instance:
        result = instance.start(expect_ok=False)
        assert result.returncode == 0, "postern start: %s%s" % (result.stdout, result.stderr)
        assert h.wait_for_port(port)
        assert greeting_and_size(port, "127.0.0.2")[1] == "250-SIZE 2048"
        assert greeting_and_size(port, "127.0.0.3")[1] == "250-SIZE 4096"
        banner, _ = greeting_and_size(port, "127.0.0.5")
        assert banner == "421 4.3.2 Service not available", banner
        instance.stop()
        print("127.0.0.2 served by wide, 127.0.0.3 by narrow, 127.0.0.5 refused")


if __name__ == "__main__":
    h.run_tests(globals())
