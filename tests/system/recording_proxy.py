"""tests/system/recording_proxy.py — a TCP proxy on loopback that records an SMTP dialogue.

Put between postern's relay client and a next hop, it forwards bytes both
ways and records, in the order it read them, every chunk each side wrote:
(connection number, "C" for the client or "S" for the server, bytes). One
select loop per connection reads both sides, so a chunk the client sent
only after reading a reply is recorded after that reply. While `gate` is
closed (hold=True, until release()), an accepted connection is not yet
forwarded: the client waits for its greeting, so that a test can queue
several messages for one session before the session begins.

turns(connection) says how the dialogue went: the client's writes grouped
into turns, a new turn beginning whenever the client writes after the
server did. A message whose commands are pipelined costs one turn for MAIL,
every RCPT and DATA (or the BDAT chunks), and one for the content after
the 354.
"""

import select
import socket
import threading


class RecordingProxy:
    def __init__(self, upstream_port, hold=False):
        self.upstream_port = upstream_port
        self.gate = threading.Event()
        if not hold:
            self.gate.set()
        self.lock = threading.Lock()
        self.record = []  # (connection, "C" or "S", bytes)
        self.connections = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.running = True
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def release(self):
        self.gate.set()

    def _accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            with self.lock:
                self.connections += 1
                number = self.connections
            thread = threading.Thread(target=self._forward, args=(client, number), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _forward(self, client, number):
        while self.running and not self.gate.wait(0.1):
            pass
        try:
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        peers = {client: (server, "C"), server: (client, "S")}
        try:
            while self.running:
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    other, side = peers[sock]
                    if not data:
                        return
                    with self.lock:
                        self.record.append((number, side, data))
                    other.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()

    def chunks(self, connection):
        """[(side, bytes)] of one connection, in order."""
        with self.lock:
            return [(side, data) for n, side, data in self.record if n == connection]

    def turns(self, connection):
        """The client's bytes of one connection, one item per turn."""
        turns = []
        last = None
        for side, data in self.chunks(connection):
            if side == "C":
                if last == "C":
                    turns[-1] += data
                else:
                    turns.append(data)
            last = side
        return turns

    def client_bytes(self, connection):
        return b"".join(data for side, data in self.chunks(connection) if side == "C")

    def close(self):
        self.running = False
        self.gate.set()
        for thread in self.threads:
            thread.join(5)
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
