#!/usr/bin/env python3
"""tests/system/recipient_check_test.py — recipient validation at RCPT (issue 11, point 6).

The real daemons with the real default, local_recipient_map = sasldb: smtpd
asks authd about each recipient in local_domains, and authd answers from the
sasldb's users and the map files. Proved here:
  - a user added with `postern user add` is accepted (250), an unknown one is
    refused 550 5.1.1 with Postfix's text, and nothing for it lands in any
    Maildir or in the queue (no DSN either);
  - after `postern user add bob`, without a reload, bob is accepted;
  - a sasldb authd cannot read gives 451 4.3.0 Temporary lookup failure,
    and its repair counts at once;
  - RCPT TO:<Alice@...> for user alice is delivered into alice's Maildir,
    and the log line says orig_to=<Alice@...>;
  - <Postmaster> is always accepted and delivered;
  - MAIL, three RCPTs and DATA written at once are answered in order;
  - an address listed in a map file (local_recipient_map = sasldb
    recipients, then a reload) is accepted and delivered;
  - with local_recipient_map empty and a reload, any local address is
    accepted.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postern_harness as h  # noqa: E402

PASSWORD = "Correct-Horse-7"
SENDER = "sender@example.org"
MESSAGE = b"From: sender@example.org\r\nSubject: recipient check\r\n\r\nhello\r\n"
USER_UNKNOWN = "550 5.1.1 <%s>: Recipient address rejected: User unknown"


def rcpt_reply(instance, recipient):
    """(code, text) of RCPT TO:<recipient> after EHLO and MAIL, on a fresh connection."""
    client = h.connect(instance.port)
    try:
        code, text = client.mail(SENDER)
        assert code == 250, "MAIL answered %d %r" % (code, text)
        return client.rcpt(recipient)
    finally:
        client.quit()


def assert_refused(instance, local):
    address = "%s@%s" % (local, h.LOCAL_DOMAIN)
    code, text = rcpt_reply(instance, address)
    line = "%d %s" % (code, text.decode())
    assert line == USER_UNKNOWN % address, "RCPT TO:<%s> answered %r" % (address, line)


def assert_accepted(instance, address):
    code, text = rcpt_reply(instance, address)
    assert (code, text) == (250, b"2.1.5 Recipient OK"), (address, code, text)


def wait_accepted(instance, address, what):
    """A reload replaces the smtpd workers and authd rereads its files, not at
    once: wait until RCPT TO:<address> is accepted."""
    h.wait_until(lambda: rcpt_reply(instance, address)[0] == 250, what)


def reload(instance, **settings):
    instance.settings.update(settings)
    instance.write_config()
    result = instance.ctl("reload")
    assert result.returncode == 0, result.stderr


def check_users_and_strangers(instance):
    alice = "alice@" + h.LOCAL_DOMAIN
    assert_accepted(instance, alice)
    assert_accepted(instance, "Alice@" + h.LOCAL_DOMAIN.upper())
    assert_refused(instance, "bob")
    # A transaction whose only recipients are unknown never gets to DATA.
    client = h.connect(instance.port)
    assert client.mail(SENDER)[0] == 250
    assert client.rcpt("bob@" + h.LOCAL_DOMAIN)[0] == 550
    assert client.docmd("DATA") == (503, b"5.5.2 Need rcpt command")
    client.quit()
    queue_id = h.send(instance.port, SENDER, [alice], MESSAGE)
    h.check_delivered(instance.wait_for_mail(alice, 1)[0], queue_id, MESSAGE)
    h.wait_until(lambda: instance.queue_list().strip() in ("", "Mail queue is empty"),
                 "the queue empties")
    assert instance.delivered("bob@" + h.LOCAL_DOMAIN) == []
    # alice's copy is the only mail: no Maildir for bob, no DSN to anyone.
    boxes = sorted(os.listdir(os.path.join(instance.mail_dir, h.LOCAL_DOMAIN)))
    assert boxes == ["alice"], boxes


def check_a_capitalised_address_reaches_the_users_mailbox(instance):
    """User alice exists, so RCPT TO:<Alice@...> is accepted; the message
    must land in alice's Maildir, where her IMAP server reads, not in a new
    Maildir named Alice. The log names both spellings, as Postfix's does."""
    alice = "alice@" + h.LOCAL_DOMAIN
    before = len(instance.delivered(alice))
    queue_id = h.send(instance.port, SENDER, ["Alice@" + h.LOCAL_DOMAIN], MESSAGE)
    h.check_delivered(instance.wait_for_mail(alice, before + 1)[-1], queue_id, MESSAGE)
    boxes = sorted(os.listdir(os.path.join(instance.mail_dir, h.LOCAL_DOMAIN)))
    assert boxes == ["alice"], boxes
    line = "%s: to=<%s>, orig_to=<Alice@%s>, relay=maildir" % (queue_id, alice, h.LOCAL_DOMAIN)
    h.wait_until(lambda: line in instance.log(), "the delivery is logged with orig_to")


def check_postmaster_is_always_accepted(instance):
    queue_id = h.send(instance.port, SENDER, ["Postmaster"], MESSAGE)
    postmaster = "postmaster@" + h.LOCAL_DOMAIN
    h.check_delivered(instance.wait_for_mail(postmaster, 1)[0], queue_id, MESSAGE)


def check_pipelined_recipients_are_answered_in_order(instance):
    alice = "alice@" + h.LOCAL_DOMAIN
    before = len(instance.delivered(alice))
    client = h.RawClient(instance.port)
    assert client.line().decode() == h.BANNER
    client.command("EHLO client.example.test")
    client.send("MAIL FROM:<%s>\r\nRCPT TO:<alice@%s>\r\nRCPT TO:<carol@%s>\r\n"
                "RCPT TO:<postmaster@%s>\r\nDATA\r\n"
                % (SENDER, h.LOCAL_DOMAIN, h.LOCAL_DOMAIN, h.LOCAL_DOMAIN))
    replies = [client.reply()[-1] for _ in range(5)]
    assert replies == ["250 2.1.0 Sender OK",
                       "250 2.1.5 Recipient OK",
                       USER_UNKNOWN % ("carol@" + h.LOCAL_DOMAIN),
                       "250 2.1.5 Recipient OK",
                       "354 Start mail input; end with <CRLF>.<CRLF>"], replies
    client.send(MESSAGE + b".\r\n")
    queue_id = h.queue_id_from(client.reply()[-1][4:])  # without "250 "
    client.command("QUIT")
    client.close()
    h.check_delivered(instance.wait_for_mail(alice, before + 1)[-1], queue_id, MESSAGE)
    assert instance.delivered("carol@" + h.LOCAL_DOMAIN) == []


def check_user_add_counts_without_a_reload(instance):
    assert_refused(instance, "bob")
    instance.add_user("bob", PASSWORD)
    assert_accepted(instance, "bob@" + h.LOCAL_DOMAIN)


def check_unreadable_sasldb_is_a_temporary_failure(instance):
    path = os.path.join(instance.conf_dir, "sasldb2")
    with open(path, "rb") as f:
        good = f.read()
    with open(path, "r+b") as f:  # in place: owner and mode stay
        f.write(b"not a Berkeley DB file" + b"\0" * 64)
        f.truncate()
    alice = "alice@" + h.LOCAL_DOMAIN
    code, text = rcpt_reply(instance, alice)
    assert (code, text.decode()) == (451, "4.3.0 <%s>: Temporary lookup failure" % alice), (
        code, text)
    with open(path, "r+b") as f:
        f.write(good)
        f.truncate()
    assert_accepted(instance, alice)


def check_map_file(instance):
    with open(os.path.join(instance.conf_dir, "recipients"), "w") as f:
        f.write("# valid recipients besides the users\nsales\n")
    assert_refused(instance, "sales")
    reload(instance, local_recipient_map="sasldb recipients")
    sales = "sales@" + h.LOCAL_DOMAIN
    wait_accepted(instance, sales, "the map file counts after the reload")
    queue_id = h.send(instance.port, SENDER, [sales], MESSAGE)
    h.check_delivered(instance.wait_for_mail(sales, 1)[0], queue_id, MESSAGE)
    assert_accepted(instance, "alice@" + h.LOCAL_DOMAIN)
    assert_refused(instance, "dave")


def check_empty_map_accepts_everyone(instance):
    reload(instance, local_recipient_map="")
    wait_accepted(instance, "dave@" + h.LOCAL_DOMAIN, "an empty map accepts every address")
    assert_accepted(instance, "anyone@" + h.LOCAL_DOMAIN)


def test():
    with h.Instance() as instance:
        # The harness accepts every local address; this test wants the default.
        del instance.settings["local_recipient_map"]
        instance.write_config()
        instance.add_user("alice", PASSWORD)
        instance.start()
        check_users_and_strangers(instance)
        check_a_capitalised_address_reaches_the_users_mailbox(instance)
        check_postmaster_is_always_accepted(instance)
        check_pipelined_recipients_are_answered_in_order(instance)
        check_user_add_counts_without_a_reload(instance)
        check_unreadable_sasldb_is_a_temporary_failure(instance)
        check_map_file(instance)
        check_empty_map_accepts_everyone(instance)
        instance.stop()


if __name__ == "__main__":
    h.run_tests(globals())
