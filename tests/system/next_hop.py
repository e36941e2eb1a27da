"""tests/system/next_hop.py — a scripted SMTP server on loopback, as postern's next hop.

The relay tests point relayhost at one of these. It speaks enough ESMTP for
postern's client (EHLO with PIPELINING, 8BITMIME, SIZE, DSN and
ENHANCEDSTATUSCODES; MAIL, RCPT, DATA, RSET, NOOP, QUIT), reads commands
line by line so pipelined ones are answered in order, and records every
transaction it accepted (sender, accepted recipients with their RCPT
parameters, the content un-dot-stuffed) and every command line it read.
A test scripts its misbehaviour with rcpt_reply(address, attempt) -> the
reply line for that RCPT (None: 250), counting attempts per address, and
with data_action(number) for the number-th DATA (1, 2, ...): None to
accept, "drop" to close the connection after the first content line, or a
number of seconds to wait between reading the end of the data and
answering 250 (data_ended is set when the end is read; data_replied_at
lists the time.monotonic() just before each 250 to the data was written;
a client that leaves while the next hop holds its reply is no error). With
max_recipients it answers "452 4.5.3 Too many recipients" to every RCPT
past that many in one transaction (RFC 5321 4.5.3.1.10); with chunking it
offers CHUNKING and takes BDAT (RFC 3030). Each transaction records the
number of the connection it came on (1, 2, ...) and whether it came by
BDAT. address and port pick where it listens (port 0: a free one), so
that a test can put a working next hop where a broken one was, or give two
next hops one port on two loopback addresses.

SilentPeer accepts connections on a loopback port and never says a word:
a next hop that hangs before its greeting. UnreachablePeer is a port whose
connects never complete: a listening socket that accepts nothing, its
queue filled by a connection of its own, so the kernel drops further SYNs
(as a host behind a firewall that drops packets).
"""

import socket
import socketserver
import threading
import time


class NextHop:
    def __init__(self, rcpt_reply=None, data_action=None, name="nexthop.test",
                 max_recipients=None, chunking=False, address="127.0.0.1", port=0):
        self.rcpt_reply = rcpt_reply
        self.data_action = data_action
        self.max_recipients = max_recipients
        self.chunking = chunking
        self.data_commands = 0
        self.data_ended = threading.Event()
        self.data_replied_at = []  # time.monotonic() of each 250 to the data, in order
        self.name = name
        self.lock = threading.Lock()
        # dicts: sender, mail_line, recipients, rcpt_lines, content, connection, bdat
        self.transactions = []
        self.commands = []       # every command line read, decoded as Latin-1
        self.connections = 0
        self.rcpt_attempts = {}  # address -> RCPTs seen
        hop = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with hop.lock:
                    hop.connections += 1
                    number = hop.connections
                try:
                    hop._serve(self.rfile, self.wfile, number)
                except OSError:
                    pass  # the client left, perhaps while a reply was held back

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((address, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False

    def delivered_to(self, address):
        """The contents of the transactions that accepted address."""
        with self.lock:
            return [t["content"] for t in self.transactions if address in t["recipients"]]

    def _finish(self, transaction, content):
        """Records a transaction whose content ended; the number of its 250."""
        transaction["content"] = content
        with self.lock:
            self.transactions.append(transaction)
            self.data_replied_at.append(time.monotonic())
            return len(self.transactions)

    def _serve(self, rfile, wfile, connection):
        def reply(text):
            wfile.write(text.encode("latin-1") + b"\r\n")
            wfile.flush()

        reply("220 %s ESMTP scripted next hop" % self.name)
        transaction = None
        chunks = b""  # BDAT content of the transaction so far
        while True:
            line = rfile.readline()
            if not line:
                return
            command = line.rstrip(b"\r\n").decode("latin-1")
            with self.lock:
                self.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                reply("250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10000000\r\n%s"
                      "250-DSN\r\n250 ENHANCEDSTATUSCODES" %
                      (self.name, "250-CHUNKING\r\n" if self.chunking else ""))
            elif verb == "HELO":
                reply("250 %s" % self.name)
            elif verb == "MAIL":
                sender = command[command.index("<") + 1:command.index(">")]
                transaction = {"sender": sender, "mail_line": command, "recipients": [],
                               "rcpt_lines": [], "content": None, "connection": connection,
                               "bdat": False}
                chunks = b""
                reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                address = command[command.index("<") + 1:command.index(">")]
                with self.lock:
                    attempt = self.rcpt_attempts.get(address, 0) + 1
                    self.rcpt_attempts[address] = attempt
                answer = self.rcpt_reply(address, attempt) if self.rcpt_reply else None
                if transaction is None:
                    reply("503 5.5.1 MAIL first")
                elif self.max_recipients is not None and \
                        len(transaction["recipients"]) >= self.max_recipients:
                    reply("452 4.5.3 Too many recipients")
                elif answer is None:
                    transaction["recipients"].append(address)
                    transaction["rcpt_lines"].append(command)
                    reply("250 2.1.5 Ok")
                else:
                    reply(answer)
            elif verb == "DATA":
                if transaction is None or not transaction["recipients"]:
                    reply("554 5.5.1 No valid recipients")
                    continue
                with self.lock:
                    self.data_commands += 1
                    number = self.data_commands
                action = self.data_action(number) if self.data_action else None
                reply("354 End data with <CR><LF>.<CR><LF>")
                content = b""
                while True:
                    data_line = rfile.readline()
                    if action == "drop":
                        return  # gone in the middle of the data: nothing accepted
                    if not data_line or data_line == b".\r\n":
                        break
                    content += data_line[1:] if data_line.startswith(b".") else data_line
                if not data_line:
                    return  # the client vanished inside DATA: nothing accepted
                self.data_ended.set()
                if action is not None:
                    time.sleep(action)
                number = self._finish(transaction, content)
                transaction = None
                reply("250 2.0.0 Ok: queued as N%d" % number)
            elif verb == "BDAT" and self.chunking:
                words = command.split()
                chunk = rfile.read(int(words[1]))
                if transaction is None or not transaction["recipients"]:
                    reply("554 5.5.1 No valid recipients")
                    continue
                transaction["bdat"] = True
                chunks += chunk
                if len(words) < 3 or words[2].upper() != "LAST":
                    reply("250 2.0.0 %d octets received" % len(chunk))
                    continue
                number = self._finish(transaction, chunks)
                transaction = None
                reply("250 2.0.0 Ok: queued as N%d" % number)
            elif verb == "RSET":
                transaction = None
                reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                return
            else:
                reply("502 5.5.2 Command not recognized")


class SilentPeer:
    """Accepts connections on 127.0.0.1:port (0: a free one) and never answers;
    close() closes them all and the listening socket."""

    def __init__(self, port=0):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.listener.settimeout(0.1)
        while self.running:
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.accepted.append(connection)

    def close(self):
        self.running = False
        self.thread.join(5)
        self.listener.close()
        for connection in self.accepted:
            connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class UnreachablePeer:
    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)  # room for one connection not yet accepted
        self.port = self.listener.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def close(self):
        self.filler.close()
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def unused_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
