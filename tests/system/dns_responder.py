"""tests/system/dns_responder.py — a tiny DNS server on loopback for the system tests.

Tests that exercise DNS (DNSBL zones, client reverse lookups) point postern's
dns_nameservers at one of these, so no query ever leaves the machine. It
answers UDP on 127.0.0.1 (a free port): A, MX and PTR records from the
tables it is given, no records (NOERROR) for another type of a name in a
table, nothing at all for the names in `silent` (a resolver that times
out), NXDOMAIN for anything else. Names are compared without
case (evdns randomizes it), the question is echoed as received, and every
name asked is recorded in `asked`.

With identify_askers, each query is also recorded in `askers` with the
process that sent it, as the kernel sees it: the UDP socket bound to the
query's source port (/proc/net/udp), the pids that hold that socket
(/proc/PID/fd) and their uids at that moment (/proc/PID/status), so a test
can tell which daemon, as which user, parses the reply, whatever the
process calls itself. (The socket's own uid in /proc/net/udp is that of
its creator, which may have dropped root since.)
"""

import os
import socket
import struct
import threading

TYPE_A = 1
TYPE_PTR = 12
TYPE_MX = 15


def encode_name(name):
    out = b""
    for label in filter(None, name.rstrip(".").split(".")):  # "." is the root: no label
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def udp_socket_inode(address, port):
    """The inode of the IPv4 UDP socket bound to address:port, or to the
    wildcard address and port (evdns does not connect its sockets), or None."""
    wanted = {"%08X:%04X" % (struct.unpack("<I", socket.inet_aton(a))[0], port)
              for a in (address, "0.0.0.0")}
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] in wanted:
                return int(fields[9])
    return None


def socket_holders(inode):
    """pids of the processes that hold socket inode."""
    target = "socket:[%d]" % inode
    holders = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fd_dir = "/proc/%s/fd" % pid
        try:
            if any(os.readlink(os.path.join(fd_dir, fd)) == target for fd in os.listdir(fd_dir)):
                holders.append(int(pid))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return holders


def process_uids(pid):
    """[real, effective, saved, fs] uids of pid, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        return None
    return None


class Asker:
    """Who sent one query: the name asked, the source (address, port), and
    {pid: uids} of the processes holding the socket it came from."""

    def __init__(self, name, source):
        self.name, self.source = name, source
        inode = udp_socket_inode(*source)
        self.uids = {pid: process_uids(pid) for pid in socket_holders(inode)} if inode else {}

    @property
    def pids(self):
        return sorted(self.uids)

    def __repr__(self):
        return "Asker(%r from %s:%d, held by %s)" % (self.name, self.source[0], self.source[1],
                                                     self.uids)


class DnsResponder:
    def __init__(self, a=None, ptr=None, silent=(), identify_askers=False, mx=None):
        """a: {name: "127.0.0.2"}; ptr: {"2.0.0.127.in-addr.arpa": "host.example.test"};
        mx: {domain: [(10, "mx1.example.test"), ...]} ((0, ".") is a null MX)."""
        self.a = {k.lower(): v for k, v in (a or {}).items()}
        self.mx = {k.lower(): v for k, v in (mx or {}).items()}
        self.ptr = {k.lower(): v for k, v in (ptr or {}).items()}
        self.silent = {name.lower() for name in silent}
        self.asked = []
        self.identify_askers = identify_askers
        self.askers = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def address(self):
        """The value for dns_nameservers."""
        return "127.0.0.1:%d" % self.port

    def serve(self):
        while self.running:
            try:
                packet, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            reply = self.answer(packet, peer)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def answer(self, packet, peer):
        if len(packet) < 12:
            return None
        query_id, _, qdcount = struct.unpack("!HHH", packet[:6])
        if qdcount != 1:
            return None
        labels, offset = [], 12
        while offset < len(packet) and packet[offset] != 0:
            length = packet[offset]
            labels.append(packet[offset + 1:offset + 1 + length].decode("ascii", "replace"))
            offset += 1 + length
        if offset + 5 > len(packet):
            return None
        question = packet[12:offset + 5]  # name, its zero byte, QTYPE, QCLASS
        name = ".".join(labels).lower()
        qtype = struct.unpack("!H", packet[offset + 1:offset + 3])[0]
        self.asked.append(name)
        if self.identify_askers:
            # Before answering: the asker's socket is surely still open.
            self.askers.append(Asker(name, peer))
        if name in self.silent:
            return None
        records = []
        if qtype == TYPE_A and name in self.a:
            records = [socket.inet_aton(self.a[name])]
        elif qtype == TYPE_PTR and name in self.ptr:
            records = [encode_name(self.ptr[name])]
        elif qtype == TYPE_MX and name in self.mx:
            records = [struct.pack("!H", pref) + encode_name(host) for pref, host in self.mx[name]]
        exists = name in self.a or name in self.ptr or name in self.mx
        flags = 0x8180 if exists else 0x8183  # response, RD, RA; NOERROR or NXDOMAIN
        header = struct.pack("!HHHHHH", query_id, flags, 1, len(records), 0, 0)
        reply = header + question
        for record in records:
            reply += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(record)) + record
        return reply

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()
