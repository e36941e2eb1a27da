#!/usr/bin/env python3
"""tests/system/postfix_next_hop_test.py — postern relays to Debian's Postfix 3.7.

The next hop is a private Postfix instance from a temporary directory
(postfix_instance.py: never /etc/postfix, nothing chrooted) on a free
loopback port, named mx.next-hop.test:
- STARTTLS with a certificate for mx.next-hop.test signed by a test CA made
  here with GnuTLS' certtool; AUTH only under TLS (smtpd_tls_auth_only);
- Cyrus SASL with a sasldb of its own in the temporary directory
  (saslpasswd2), pwcheck_method auxprop, mech_list LOGIN PLAIN, and
  smtpd_relay_restrictions = permit_sasl_authenticated, reject: nothing
  is taken without AUTH;
- virtual(8) delivery into a Maildir for bob@far.example.
postern: relayhost = [mx.next-hop.test]:PORT, the name resolved by a DNS
responder on loopback (dns_responder.py: A mx.next-hop.test 127.0.0.1)
given as dns_nameservers, relay_tls = verify against the test CA,
relay_auth_user with a 0600 relay_password_file. Checked:
- the message arrives in Postfix's Maildir: after the fields virtual(8)
  adds (Return-Path:, X-Original-To:, Delivered-To:) and the two Received: fields
  (Postfix's, saying ESMTPSA, then postern's with its queue id), exactly
  what was submitted (Postfix stores lines with LF where CRLF arrived);
- postern's log says "Verified TLS connection established to
  mx.next-hop.test[127.0.0.1]:PORT" and sent the message (status=sent);
- Postfix's log has sasl_method=LOGIN (the first of NTLM, LOGIN, PLAIN
  that Postfix offers) and sasl_username=relayer@mx.next-hop.test (the
  login with Postfix's realm), and its counters for the session say
  one STARTTLS, one AUTH and the message as one BDAT (Postfix offers
  CHUNKING).
Skips (77) when Postfix is not installed or the test does not run as root.
"""

import os
import pwd
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402
from dns_responder import DnsResponder  # noqa: E402
from postfix_instance import PrivatePostfix, require_postfix  # noqa: E402

NEXT_HOP = "mx.next-hop.test"
USER = "relayer"
PASSWORD = "next hop secret 7"
RECIPIENT = "bob@far.example"
# With Date: and Message-ID: of its own, so that Postfix's cleanup adds none.
MESSAGE = (b"From: Ann <ann@example.test>\r\n"
           b"To: Bob <bob@far.example>\r\n"
           b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
           b"Message-ID: <next-hop-1@example.test>\r\n"
           b"Subject: to a real Postfix\r\n"
           b"\r\n"
           b"First line.\r\n"
           b".a line that starts with a dot\r\n"
           b"last line\r\n")


def certtool(*args):
    result = subprocess.run(["certtool"] + list(args), capture_output=True,
                            timeout=h.CLI_TIMEOUT)
    assert result.returncode == 0, "certtool %s failed: %s" % (args[0], result.stderr)


def make_certificates(directory):
    """A test CA and a certificate for NEXT_HOP signed by it; returns
    (ca_cert, server_cert, server_key)."""
    paths = {name: os.path.join(directory, name + ".pem")
             for name in ("ca", "ca-key", "server", "server-key")}
    ca_template = os.path.join(directory, "ca.cfg")
    with open(ca_template, "w") as f:
        f.write('cn = "postern test CA"\nca\ncert_signing_key\nexpiration_days = 30\n')
    server_template = os.path.join(directory, "server.cfg")
    with open(server_template, "w") as f:
        f.write('cn = "%s"\ndns_name = "%s"\nexpiration_days = 30\n'
                "tls_www_server\nencryption_key\nsigning_key\n" % (NEXT_HOP, NEXT_HOP))
    certtool("--generate-privkey", "--key-type", "ecdsa", "--outfile", paths["ca-key"])
    certtool("--generate-self-signed", "--load-privkey", paths["ca-key"], "--template",
             ca_template, "--outfile", paths["ca"])
    certtool("--generate-privkey", "--key-type", "ecdsa", "--outfile", paths["server-key"])
    certtool("--generate-certificate", "--load-privkey", paths["server-key"],
             "--load-ca-certificate", paths["ca"], "--load-ca-privkey", paths["ca-key"],
             "--template", server_template, "--outfile", paths["server"])
    os.chmod(paths["server-key"], 0o600)
    return paths["ca"], paths["server"], paths["server-key"]


def next_hop_postfix():
    """The private Postfix (STARTTLS, AUTH against its own sasldb, virtual
    Maildir), the test CA's certificate and the Maildir of RECIPIENT."""
    postfix = PrivatePostfix(name="next-hop", hostname=NEXT_HOP)
    ca, cert, key = make_certificates(postfix.mkdir("tls"))
    postfix_user = pwd.getpwnam("postfix")
    # Debian's Postfix reads $config_directory/sasl/smtpd.conf whatever
    # cyrus_sasl_config_path says; both name the same directory here.
    sasl_dir = h.make_dir(postfix.config_dir, "sasl")
    sasldb = os.path.join(sasl_dir, "sasldb2")
    result = subprocess.run(["saslpasswd2", "-f", sasldb, "-c", "-p", "-u", NEXT_HOP, USER],
                            input=PASSWORD, capture_output=True, text=True,
                            timeout=h.CLI_TIMEOUT)
    assert result.returncode == 0, "saslpasswd2 failed: %s" % result.stderr
    os.chown(sasldb, postfix_user.pw_uid, postfix_user.pw_gid)  # smtpd reads it as postfix
    os.chmod(sasldb, 0o600)
    with open(os.path.join(sasl_dir, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: LOGIN PLAIN\n"
                "sasldb_path: %s\n" % sasldb)
    nobody = pwd.getpwnam("nobody")
    mail_dir = postfix.mkdir("vmail")
    os.chown(mail_dir, nobody.pw_uid, nobody.pw_gid)
    mailboxes = os.path.join(postfix.config_dir, "vmailbox")
    with open(mailboxes, "w") as f:
        f.write("%s bob/\n" % RECIPIENT)
    postfix.configure({
        "smtpd_tls_security_level": "may",
        "smtpd_tls_cert_file": cert,
        "smtpd_tls_key_file": key,
        "smtpd_tls_auth_only": "yes",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_type": "cyrus",
        "smtpd_sasl_path": "smtpd",
        "cyrus_sasl_config_path": sasl_dir,
        "smtpd_sasl_local_domain": NEXT_HOP,
        "smtpd_sasl_security_options": "noanonymous",
        "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
        "smtpd_recipient_restrictions": "permit_sasl_authenticated, reject",
        "virtual_mailbox_domains": "far.example",
        "virtual_mailbox_base": mail_dir,
        "virtual_mailbox_maps": "texthash:" + mailboxes,
        "virtual_uid_maps": "static:%d" % nobody.pw_uid,
        "virtual_gid_maps": "static:%d" % nobody.pw_gid,
    })
    return postfix, ca, os.path.join(mail_dir, "bob")


def maildir_messages(directory):
    new = os.path.join(directory, "new")
    if not os.path.isdir(new):
        return []
    out = []
    for name in sorted(os.listdir(new)):
        with open(os.path.join(new, name), "rb") as f:
            out.append(f.read())
    return out


def split_field(message, name):
    """(the first field if it is name:, the rest), like h.split_received."""
    if not message.lower().startswith(name.lower() + b":"):
        return b"", message
    end = 0
    while True:
        end = message.index(b"\n", end) + 1
        if message[end:end + 1] not in (b" ", b"\t"):
            return message[:end], message[end:]


def test():
    require_postfix()
    dns = DnsResponder(a={NEXT_HOP: "127.0.0.1"})
    try:
        postfix, ca_file, mailbox = next_hop_postfix()
        with postfix:
            postfix.start()
            settings = {"relayhost": "[%s]:%d" % (NEXT_HOP, postfix.port),
                        "dns_nameservers": dns.address,
                        "relay_tls": "verify",
                        "relay_tls_ca_file": ca_file,
                        "relay_auth_user": USER,
                        "minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}
            with h.Instance(settings=settings, name="to-postfix") as instance:
                secret = os.path.join(instance.conf_dir, "relay_password")
                with open(secret, "w") as f:
                    f.write(PASSWORD + "\n")
                os.chmod(secret, 0o600)
                instance.settings["relay_password_file"] = secret
                instance.write_config()
                instance.start()
                queue_id = h.send(instance.port, "ann@example.test", [RECIPIENT], MESSAGE)
                h.wait_until(lambda: maildir_messages(mailbox), "Postfix delivers it",
                             timeout=30)
                [delivered] = maildir_messages(mailbox)
                rest = delivered
                for name in (b"Return-Path", b"X-Original-To", b"Delivered-To"):
                    field, rest = split_field(rest, name)
                    assert field, "no %s: first in %r" % (name, delivered[:300])
                theirs, rest = h.split_received(rest)
                line = h.unfold(theirs).decode()
                assert "by %s (Postfix) with ESMTPSA id " % NEXT_HOP in line, line
                ours, rest = h.split_received(rest)
                h.check_received(ours, queue_id)
                assert rest == MESSAGE.replace(b"\r\n", b"\n"), "delivered %r" % rest
                h.wait_until(lambda: queue_id not in instance.queue_list(), "it leaves")
                log = instance.log()
                assert "Verified TLS connection established to %s[127.0.0.1]:%d" % (
                    NEXT_HOP, postfix.port) in log, log[-3000:]
                assert "status=sent" in log and PASSWORD not in log, log[-3000:]
                instance.stop()
            # Postfix names the login with smtpd_sasl_local_domain as its realm.
            postfix.wait_for_log(r"sasl_method=LOGIN, sasl_username=%s@%s\n" %
                                 (re.escape(USER), re.escape(NEXT_HOP)))
            # One session: STARTTLS, AUTH, and the message as BDAT (Postfix offers CHUNKING).
            postfix.wait_for_log(r"disconnect from \S+ ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 "
                                 r"bdat=1 quit=1 commands=8\n")
            assert NEXT_HOP.lower() in [name.lower() for name in dns.asked], dns.asked
    finally:
        dns.close()


if __name__ == "__main__":
    h.run_tests(globals())
