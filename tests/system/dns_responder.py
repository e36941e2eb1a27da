"""tests/system/dns_responder.py — a tiny DNS server on loopback for the system tests.

Tests that exercise DNS (DNSBL zones, client reverse lookups) point postern's
dns_nameservers at one of these, so no query ever leaves the machine. It
answers UDP on 127.0.0.1 (a free port): A records and PTR records from the
tables it is given, nothing at all for the names in `silent` (a resolver
that times out), NXDOMAIN for anything else. Names are compared without
case (evdns randomizes it), the question is echoed as received, and every
name asked is recorded in `asked`.
"""

import socket
import struct
import threading

TYPE_A = 1
TYPE_PTR = 12


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


class DnsResponder:
    def __init__(self, a=None, ptr=None, silent=()):
        """a: {name: "127.0.0.2"}; ptr: {"2.0.0.127.in-addr.arpa": "host.example.test"}."""
        self.a = {k.lower(): v for k, v in (a or {}).items()}
        self.ptr = {k.lower(): v for k, v in (ptr or {}).items()}
        self.silent = {name.lower() for name in silent}
        self.asked = []
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
            reply = self.answer(packet)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def answer(self, packet):
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
        if name in self.silent:
            return None
        record = None
        if qtype == TYPE_A and name in self.a:
            record = socket.inet_aton(self.a[name])
        elif qtype == TYPE_PTR and name in self.ptr:
            record = encode_name(self.ptr[name])
        flags = 0x8180 if record is not None else 0x8183  # response, RD, RA; NOERROR or NXDOMAIN
        header = struct.pack("!HHHHHH", query_id, flags, 1, 1 if record is not None else 0, 0, 0)
        reply = header + question
        if record is not None:
            reply += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(record)) + record
        return reply

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()
