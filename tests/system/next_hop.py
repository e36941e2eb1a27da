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
next hops one port on two loopback addresses. With content_pause it reads
nothing for that many seconds after each 354, through a 16 KB receive
buffer, so that a client's writes of a large message meet a full socket.

A next hop may also demand what its EHLO does not offer, as the rows of
MS-OXSMTP 3.2.5 do: mail_reply(state) -> the reply line to a MAIL (None:
250), where state has "ehlo" (EHLOs on this connection), "tls" and "auth"
(whether STARTTLS and AUTH succeeded on it); with tls=(cert, key) it takes
STARTTLS (listed in its EHLO only with offer_starttls), and with
login=(user, password) it takes AUTH LOGIN and lists it only under TLS.
Each transaction records the state its MAIL was accepted in. most_active is
the most connections that were open at once. tls_resumed lists, for each
STARTTLS in order, whether the client resumed a session this next hop gave
it earlier (OpenSSL's session_reused: one context, so its tickets, serves
every connection).

SilentPeer accepts connections on a loopback port and never says a word:
a next hop that hangs before its greeting. UnreachablePeer is a port whose
connects never complete: a listening socket that accepts nothing, its
queue filled by a connection of its own, so the kernel drops further SYNs
(as a host behind a firewall that drops packets).
"""

import base64
import socket
import socketserver
import ssl
import threading
import time


class NextHop:
    def __init__(self, rcpt_reply=None, data_action=None, name="nexthop.test",
                 max_recipients=None, chunking=False, address="127.0.0.1", port=0,
                 mail_reply=None, tls=None, offer_starttls=False, login=None,
                 content_pause=None):
        self.rcpt_reply = rcpt_reply
        self.content_pause = content_pause
        self.data_action = data_action
        self.max_recipients = max_recipients
        self.chunking = chunking
        self.mail_reply = mail_reply
        self.offer_starttls = offer_starttls
        self.login = login
        self.tls_context = None
        if tls:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(*tls)
        self.data_commands = 0
        self.data_ended = threading.Event()
        self.data_replied_at = []  # time.monotonic() of each 250 to the data, in order
        self.name = name
        self.lock = threading.Lock()
        # dicts: sender, mail_line, recipients, rcpt_lines, content, connection, bdat
        self.transactions = []
        self.commands = []       # every command line read, decoded as Latin-1
        self.connections = 0
        self.active = 0       # connections open now
        self.most_active = 0  # the most open at once
        self.rcpt_attempts = {}  # address -> RCPTs seen
        self.tls_resumed = []    # per STARTTLS: the client resumed a session
        hop = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with hop.lock:
                    hop.connections += 1
                    number = hop.connections
                    hop.active += 1
                    hop.most_active = max(hop.most_active, hop.active)
                try:
                    hop._serve(self.request, self.rfile, self.wfile, number)
                except OSError:
                    pass  # the client left, perhaps while a reply was held back
                finally:
                    with hop.lock:
                        hop.active -= 1

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

            def server_bind(self):
                if hop.content_pause:
                    # A small window (accepted sockets inherit it), so that
                    # the pause fills the client's socket buffer quickly.
                    self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
                super().server_bind()

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

    def _serve(self, sock, rfile, wfile, connection):
        def reply(text):
            wfile.write(text.encode("latin-1") + b"\r\n")
            wfile.flush()

        state = {"ehlo": 0, "tls": False, "auth": False}

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
                state["ehlo"] += 1
                offers = ["PIPELINING", "8BITMIME", "SIZE 10000000", "DSN"]
                if self.chunking:
                    offers.append("CHUNKING")
                if self.tls_context and self.offer_starttls and not state["tls"]:
                    offers.append("STARTTLS")
                if self.login and state["tls"]:
                    offers.append("AUTH LOGIN")
                reply("".join("250-%s\r\n" % o for o in [self.name] + offers) +
                      "250 ENHANCEDSTATUSCODES")
            elif verb == "STARTTLS" and self.tls_context and not state["tls"]:
                reply("220 2.0.0 Ready to start TLS")
                sock = self.tls_context.wrap_socket(sock, server_side=True)
                with self.lock:
                    self.tls_resumed.append(sock.session_reused)
                rfile, wfile = sock.makefile("rb"), sock.makefile("wb")
                state.update(ehlo=0, tls=True)
                transaction = None
            elif verb == "AUTH" and self.login and state["tls"] and \
                    command.upper().startswith("AUTH LOGIN"):
                words = command.split()
                if len(words) < 3:  # no initial response: ask for the user
                    reply("334 VXNlcm5hbWU6")
                    words.append(rfile.readline().strip().decode())
                user = base64.b64decode(words[2]).decode()
                reply("334 UGFzc3dvcmQ6")
                password = base64.b64decode(rfile.readline().strip()).decode()
                if (user, password) == self.login:
                    state["auth"] = True
                    reply("235 2.7.0 Authentication successful")
                else:
                    reply("535 5.7.8 Authentication credentials invalid")
            elif verb == "HELO":
                reply("250 %s" % self.name)
            elif verb == "MAIL":
                refusal = self.mail_reply(dict(state)) if self.mail_reply else None
                if refusal:
                    reply(refusal)
                    continue
                sender = command[command.index("<") + 1:command.index(">")]
                transaction = {"sender": sender, "mail_line": command, "recipients": [],
                               "rcpt_lines": [], "content": None, "connection": connection,
                               "bdat": False, "state": dict(state)}
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
                if self.content_pause:
                    time.sleep(self.content_pause)
                lines = []
                while True:
                    data_line = rfile.readline()
                    if action == "drop":
                        return  # gone in the middle of the data: nothing accepted
                    if not data_line or data_line == b".\r\n":
                        break
                    lines.append(data_line[1:] if data_line.startswith(b".") else data_line)
                content = b"".join(lines)
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
