"""tests/system/ip_block_test.py — MS-OXSMTP 3.2.7 IPAddressNotAllowed through real sockets.

Clients connect from different loopback source addresses (127.0.0.2, ...,
which Linux lets a socket bind to) to one postern instance and check what
they are answered instead of the banner: by master, before any smtpd sees
them, for the static range (blocked_networks), the dynamic range (postern
block add/del/list, kept across reload and restart, with expiry) and a
block-list file; by the smtpd worker, before its banner, for a DNSBL zone
served by a tiny DNS responder started here on 127.0.0.1 (pointed at with
dns_nameservers; dns_privilege_test.py checks who asks). Relay listeners
are not subject to any of them. Never queries a real zone or a real
resolver.
"""

import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from dns_responder import DnsResponder  # noqa: E402

# Typed from MS-OXSMTP 3.2.7, IPAddressNotAllowed event.
STATIC = ("550 5.7.1 External client with IP address %s does not have permissions to submit to "
          "this server. Visit http://support.microsoft.com/kb/928123 for more information")
DYNAMIC = ("550 5.7.1 External client with IP address %s does not have permissions to submit to "
           "this server")
BLOCK_LIST = "550 5.7.1 Recipient not authorized, your IP has been found on a block list"

ZONE = "dnsbl.example.test"


def first_line(port, source):
    """(first reply line, whether the server then closed) for a client bound to source."""
    client = h.RawClient(port, source=source)
    try:
        line = client.line()
        closed = False
        if line.startswith(b"550"):
            client.sock.settimeout(5)
            closed = client.buffer == b"" and client.sock.recv(4096) == b""
        return line.decode(errors="replace"), closed
    finally:
        client.close()


def assert_refused(port, source, expected):
    line, closed = first_line(port, source)
    assert line == expected, "%s: expected %r, got %r" % (source, expected, line)
    assert closed, "%s: the session was not ended after %r" % (source, line)


def assert_served(port, source):
    line, _ = first_line(port, source)
    assert line.startswith("220 "), "%s: expected the 220 greeting, got %r" % (source, line)


def ctl_ok(instance, *args):
    result = instance.ctl(*args)
    assert result.returncode == 0, "postern %s failed (%d): %s%s" % (
        " ".join(args), result.returncode, result.stdout, result.stderr)
    return result.stdout


def static_and_file_blocks():
    root = h.Instance(listeners={}, name="ipblock-static")
    block_file = os.path.join(root.root, "blocked.txt")
    with open(block_file, "w") as f:
        f.write("# listed by hand\n127.0.0.4\n\n127.0.1.0/24   # a whole network\n")
    keys = {"blocked_networks": "127.0.0.2/32", "block_list": block_file}
    root.add_listener("gw", dict(keys))
    root.add_listener("relay", dict(keys, role="relay"))
    root.write_config()
    root.start()
    gw, relay = root.ports["gw"], root.ports["relay"]
    assert_refused(gw, "127.0.0.2", STATIC % "127.0.0.2")
    assert_refused(gw, "127.0.0.4", BLOCK_LIST)
    assert_refused(gw, "127.0.1.77", BLOCK_LIST)
    assert_served(gw, "127.0.0.3")
    for source in ("127.0.0.2", "127.0.0.4", "127.0.1.77"):
        assert_served(relay, source)

    # A bad line in a block-list file stops a reload, naming file and line.
    with open(block_file, "a") as f:
        f.write("127.0.0.300\n")
    result = root.ctl("reload")
    assert result.returncode != 0, "reload accepted a bad block-list file"
    assert block_file + ":5:" in result.stderr + result.stdout, result.stderr
    assert_refused(gw, "127.0.0.4", BLOCK_LIST)
    root.stop()
    root.close()


def dynamic_blocks():
    inst = h.Instance(listeners={"gw": {}, "relay": {"role": "relay"}}, name="ipblock-dynamic")
    inst.start()
    gw, relay = inst.ports["gw"], inst.ports["relay"]
    assert_served(gw, "127.0.0.5")
    assert "blocked 127.0.0.5/32" in ctl_ok(inst, "block", "add", "127.0.0.5")
    assert_refused(gw, "127.0.0.5", DYNAMIC % "127.0.0.5")
    assert_served(gw, "127.0.0.6")
    assert_served(relay, "127.0.0.5")
    assert ctl_ok(inst, "block", "list").splitlines() == ["127.0.0.5/32 permanent"]

    # The state file was replaced whole, never left as the temporary.
    blocks = os.path.join(inst.state_dir, "blocks")
    assert os.path.exists(blocks) and not os.path.exists(blocks + ".tmp")

    ctl_ok(inst, "reload")
    assert_refused(gw, "127.0.0.5", DYNAMIC % "127.0.0.5")
    inst.stop()
    inst.start()
    assert_refused(gw, "127.0.0.5", DYNAMIC % "127.0.0.5")
    assert ctl_ok(inst, "block", "list").splitlines() == ["127.0.0.5/32 permanent"]

    # A network, for a while.
    ctl_ok(inst, "block", "add", "127.0.2.0/24", "--for", "2s")
    assert_refused(gw, "127.0.2.9", DYNAMIC % "127.0.2.9")
    listing = ctl_ok(inst, "block", "list").splitlines()
    assert len(listing) == 2 and listing[0] == "127.0.0.5/32 permanent", listing
    assert re.fullmatch(r"127\.0\.2\.0/24 until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", listing[1]), \
        listing
    time.sleep(2.5)
    assert_served(gw, "127.0.2.9")
    assert ctl_ok(inst, "block", "list").splitlines() == ["127.0.0.5/32 permanent"]

    # Removal, which also survives a restart.
    assert "unblocked 127.0.0.5/32" in ctl_ok(inst, "block", "del", "127.0.0.5")
    assert_served(gw, "127.0.0.5")
    inst.stop()
    inst.start()
    assert_served(gw, "127.0.0.5")
    assert ctl_ok(inst, "block", "list") == ""

    # What master refuses, and why.
    for args, why in ((("add", "127.0.0.300"), "127.0.0.300"),
                      (("add", "127.0.0.1", "--for", "soon"), "soon"),
                      (("del", "127.0.0.9"), "not blocked")):
        result = inst.ctl("block", *args)
        assert result.returncode == 1 and why in result.stderr, (args, result.stderr)
    inst.stop()
    inst.close()


def dnsbl_zone():
    dns = DnsResponder(a={"2.0.0.127." + ZONE: "127.0.0.2"}, silent=["4.0.0.127." + ZONE])
    try:
        inst = h.Instance(listeners={"gw": {"block_list": ZONE},
                                     "relay": {"role": "relay", "block_list": ZONE}},
                          settings={"dns_nameservers": "127.0.0.1:%d" % dns.port},
                          name="ipblock-dnsbl")
        inst.start()
        gw, relay = inst.ports["gw"], inst.ports["relay"]
        assert_refused(gw, "127.0.0.2", BLOCK_LIST)
        assert "2.0.0.127." + ZONE in dns.asked, dns.asked
        assert_served(gw, "127.0.0.3")
        assert_served(relay, "127.0.0.2")

        # A zone that never answers: that client waits for the resolver's
        # timeout and is then let in, while others are served meanwhile.
        result = {}
        slow = threading.Thread(target=lambda: result.update(
            line=first_line(gw, "127.0.0.4")[0], at=time.monotonic()))
        started = time.monotonic()
        slow.start()
        deadline = time.monotonic() + h.SOCKET_TIMEOUT
        while "4.0.0.127." + ZONE not in dns.asked and time.monotonic() < deadline:
            time.sleep(0.05)
        assert_served(gw, "127.0.0.3")
        assert_refused(gw, "127.0.0.2", BLOCK_LIST)
        served_meanwhile = time.monotonic()
        slow.join(h.SOCKET_TIMEOUT + 5)
        assert result.get("line", "").startswith("220 "), result
        assert served_meanwhile < result["at"], "other clients waited for the silent zone"
        assert result["at"] - started >= 1.5, "the silent zone was not waited for"
        assert "DNSBL lookup of 4.0.0.127.%s failed" % ZONE in inst.log()
        inst.stop()
        inst.close()
    finally:
        dns.close()


def test():
    static_and_file_blocks()
    dynamic_blocks()
    dnsbl_zone()


if __name__ == "__main__":
    h.run_tests(globals())
