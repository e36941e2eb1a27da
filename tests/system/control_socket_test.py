#!/usr/bin/env python3
"""tests/system/control_socket_test.py — master's and qmgr's control sockets
read a control request the same way, and drop a client that sends garbage.

Speaks ControlRequest and ControlReply (lib/ipc/messages_control.h) through
postern_wire:

- a request with 64 arguments (the most a request may carry) is answered
  by both daemons, an unknown verb with ok = false (before, qmgr read any
  number and master refused more than 64 with a reply);
- a request with 65 arguments, a request cut short and a frame of
  another type make each daemon close the connection without a reply, and
  each goes on answering the next client.
"""

import os
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
import postern_wire as wire  # noqa: E402

# The most arguments a request may carry (typed here, not read from the code).
MAX_ARGS = 64


def exchange(path, data):
    """Sends data; returns the ControlReply, or None when the daemon closed the
    connection without one."""
    with wire.Connection.unix(path, h.SOCKET_TIMEOUT) as conn:
        conn.send_bytes(data)
        try:
            return conn.expect("ControlReply")
        except EOFError:
            return None


def check_daemon(name, path, health_verb):
    answered = exchange(path, wire.frame("ControlRequest", verb="no-such-verb",
                                         args=["x"] * MAX_ARGS))
    assert answered is not None, "%s did not answer a request with %d arguments" % (name, MAX_ARGS)
    assert not answered.ok, "%s accepted an unknown verb: %r" % (name, answered)
    too_many = wire.frame("ControlRequest", verb="no-such-verb", args=["x"] * (MAX_ARGS + 1))
    assert exchange(path, too_many) is None, \
        "%s answered a request with %d arguments" % (name, MAX_ARGS + 1)
    # An argument whose length says 9 bytes, followed by 3.
    short = wire.payload("ControlRequest", verb="ping", args=["abcdefghi"])[:-6]
    assert exchange(path, wire.raw_frame("ControlRequest", short)) is None, \
        "%s answered a request cut short" % name
    assert exchange(path, wire.frame("Ping")) is None, "%s answered a frame of another type" % name
    answered = exchange(path, wire.frame("ControlRequest", verb=health_verb, args=[]))
    assert answered is not None and answered.ok, \
        "%s no longer answers %s after dropping bad clients: %r" % (name, health_verb, answered)
    print("%s: %d arguments answered, %d, a short request and another type dropped" % (
        name, MAX_ARGS, MAX_ARGS + 1))


def test():
    with h.Instance() as instance:
        instance.start()
        check_daemon("qmgr", os.path.join(instance.run_dir, "qmgr-control.sock"), "ping")
        check_daemon("master", os.path.join(instance.run_dir, "master.sock"), "status")
        instance.stop()
        log = instance.log()
        assert "malformed kControlRequest: %d arguments, more than %d" % (
            MAX_ARGS + 1, MAX_ARGS) in log, \
            "the log does not say why the clients were dropped"


if __name__ == "__main__":
    h.run_tests(globals())
