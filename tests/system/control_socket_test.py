#!/usr/bin/env python3
"""tests/system/control_socket_test.py — master's and qmgr's control sockets
read a control request the same way, and drop a client that sends garbage.

Speaks the IPC framing by hand (doc/architecture.md, IPC: an 8-byte header
of payload length u32, protocol version u16 = 1, type u16, big-endian;
kControlRequest = 60 carries str verb, u32 argc, argc x str; kControlReply
= 61 carries u8 ok, str text; a str is a u32 length and its bytes):

- a request with 64 arguments (the most a request may carry) is answered by
  both daemons, an unknown verb with ok = 0 (before, qmgr read any number
  and master refused more than 64 with a reply);
- a request with 65 arguments, a request cut short and a frame of another
  type make each daemon close the connection without a reply, and each
  goes on answering the next client.
"""

import os
import socket
import struct
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

CONTROL_REQUEST = 60
CONTROL_REPLY = 61
PING = 40


def frame(msg_type, payload):
    return struct.pack(">IHH", len(payload), 1, msg_type) + payload


def put_str(text):
    return struct.pack(">I", len(text)) + text


def request(verb, args):
    return frame(CONTROL_REQUEST, put_str(verb) + struct.pack(">I", len(args)) +
                 b"".join(put_str(a) for a in args))


def exchange(path, data):
    """Sends data; returns (ok, text) of the reply, or None when the daemon
    closed the connection without one."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(h.SOCKET_TIMEOUT)
        conn.connect(path)
        conn.sendall(data)
        received = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
            if len(received) >= 8 and len(received) >= 8 + struct.unpack(">I", received[:4])[0]:
                break
    if not received:
        return None
    length, version, msg_type = struct.unpack(">IHH", received[:8])
    assert (version, msg_type) == (1, CONTROL_REPLY), (version, msg_type)
    payload = received[8:8 + length]
    ok = payload[0]
    (size,) = struct.unpack(">I", payload[1:5])
    assert 5 + size == len(payload), "trailing bytes in the reply"
    return ok, payload[5:].decode()


def check_daemon(name, path, health_verb):
    answered = exchange(path, request(b"no-such-verb", [b"x"] * 64))
    assert answered is not None, "%s did not answer a request with 64 arguments" % name
    assert answered[0] == 0, "%s accepted an unknown verb: %r" % (name, answered)
    assert exchange(path, request(b"no-such-verb", [b"x"] * 65)) is None, \
        "%s answered a request with 65 arguments" % name
    short = frame(CONTROL_REQUEST, put_str(b"ping") + struct.pack(">I", 1) + b"\0\0\0\x09abc")
    assert exchange(path, short) is None, "%s answered a request cut short" % name
    assert exchange(path, frame(PING, b"")) is None, "%s answered a frame of another type" % name
    answered = exchange(path, request(health_verb, []))
    assert answered is not None and answered[0] == 1, \
        "%s no longer answers %s after dropping bad clients: %r" % (name, health_verb, answered)
    print("%s: 64 arguments answered, 65, a short request and another type dropped" % name)


def test():
    with h.Instance() as instance:
        instance.start()
        check_daemon("qmgr", os.path.join(instance.run_dir, "qmgr.sock"), b"ping")
        check_daemon("master", os.path.join(instance.run_dir, "master.sock"), b"status")
        instance.stop()
        log = instance.log()
        assert "malformed kControlRequest: 65 arguments, more than 64" in log, \
            "the log does not say why the clients were dropped"


if __name__ == "__main__":
    h.run_test(test)
