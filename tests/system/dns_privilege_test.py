#!/usr/bin/env python3
"""tests/system/dns_privilege_test.py — no root process asks DNS or parses a DNS reply.

master runs as root; the DNSBL lookups of a gateway listener (MS-OXSMTP
3.2.7 IPAddressNotAllowed) and the client_reverse_lookup PTR queries are
made by the smtpd workers, as smtpd_user in their chroot, before the
banner. A DNS responder on loopback records, for every query, the process
that sent it as the kernel sees it (the UDP socket bound to the query's
source port in /proc/net/udp, the pids holding it and their uids at that
moment), and the test checks:
  - the listed client 127.0.0.2 gets the block-list reply and is closed,
    and master then counts no connection (the worker's close reaches it as
    for any session);
  - the client 127.0.0.3 is served, and its Received: field names it by
    the PTR answer, asked after its DNSBL lookup;
  - every query came from a socket held by smtpd workers of the instance
    only, never by master, each running (as root) as smtpd_user, every uid
    of it (real, effective, saved, fs) when the query arrived;
  - master holds no UDP socket at all.
Last, a reload while a client waits for a DNSBL zone that never answers:
the drained worker finishes that lookup and serves the client (banner after
the resolver's timeout) before it exits, instead of dropping it.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from dns_responder import DnsResponder  # noqa: E402

ZONE = "dnsbl.example.test"
# Typed from MS-OXSMTP 3.2.7, IPAddressNotAllowed (block list).
BLOCK_LIST = "550 5.7.1 Recipient not authorized, your IP has been found on a block list"
MESSAGE = b"Subject: asked by smtpd\r\n\r\nbody\r\n"


def udp_inodes():
    """Inodes of every UDP socket (IPv4 and IPv6) of this network namespace."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            next(f)
            inodes.update(int(line.split()[9]) for line in f)
    return inodes


def socket_inodes(pid):
    """Inodes of the sockets process pid holds."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        found = re.fullmatch(r"socket:\[(\d+)\]", target)
        if found:
            inodes.add(int(found.group(1)))
    return inodes


def lookup_outlives_a_reload(instance, dns):
    client = h.RawClient(instance.port, source="127.0.0.4")
    try:
        deadline = time.monotonic() + h.SOCKET_TIMEOUT
        while "4.0.0.127." + ZONE not in dns.asked:
            assert time.monotonic() < deadline, "the silent zone was never asked"
            time.sleep(0.05)
        result = instance.ctl("reload")
        assert result.returncode == 0, result.stderr
        line = client.line().decode()
        assert line.startswith("220 "), "after a reload the waiting client got %r" % line
        assert client.command("QUIT").startswith("221 ")
    finally:
        client.close()


def test():
    dns = DnsResponder(a={"2.0.0.127." + ZONE: "127.0.0.2"},
                       ptr={"3.0.0.127.in-addr.arpa": "named-client.example.test"},
                       silent=["4.0.0.127." + ZONE], identify_askers=True)
    try:
        with h.Instance(listeners={"gw": {"block_list": ZONE}},
                        settings={"dns_nameservers": dns.address,
                                  "client_reverse_lookup": "yes"},
                        name="dns-privilege") as instance:
            instance.start()
            daemons = instance.wait_for_daemons()
            master = instance.master_pid()

            client = h.RawClient(instance.port, source="127.0.0.2")
            try:
                assert client.line().decode() == BLOCK_LIST
                assert client.line() == b"", "the listed client was not disconnected"
            finally:
                client.close()
            instance.wait_for_connection_count(0)

            import smtplib
            smtp = smtplib.SMTP(timeout=h.SOCKET_TIMEOUT, source_address=("127.0.0.3", 0))
            smtp.connect("127.0.0.1", instance.port)
            try:
                smtp.ehlo("client.example.test")
                h.transaction(smtp, "ann@example.test", ["named@example.test"], MESSAGE)
            finally:
                smtp.quit()
            (message,) = instance.wait_for_mail("named@example.test", 1)
            field, _ = h.split_received(message)
            assert "(named-client.example.test [127.0.0.3])" in h.unfold(field).decode(), field

            asked = [asker.name for asker in dns.askers]
            for name in ("2.0.0.127." + ZONE, "3.0.0.127." + ZONE, "3.0.0.127.in-addr.arpa"):
                assert name in asked, (name, dns.askers)
            # The listed client is refused without its PTR being asked.
            assert "2.0.0.127.in-addr.arpa" not in asked, dns.askers
            workers = set(daemons["smtpd"])
            if h.running_as_root():
                import pwd
                smtpd_uid = pwd.getpwnam(h.DAEMON_USERS[0]).pw_uid
            for asker in dns.askers:
                assert asker.pids, "no process holds the socket of %r" % asker
                assert master not in asker.pids, "master (root) asked: %r" % asker
                assert set(asker.pids) <= workers, "not an smtpd worker: %r" % asker
                if h.running_as_root():
                    assert all(uids == [smtpd_uid] * 4 for uids in asker.uids.values()), \
                        "not asked as smtpd_user (uid %d): %r" % (smtpd_uid, asker)
            assert not socket_inodes(master) & udp_inodes(), "master holds a UDP socket"
            lookup_outlives_a_reload(instance, dns)
            instance.stop()
            print("every query came from an smtpd worker: %s" % dns.askers)
    finally:
        dns.close()


if __name__ == "__main__":
    h.run_tests(globals())
