// lib/config/config_keys.cc — the table of postern.conf keys and the value syntax.
//
// Owns every key's name, type, scope, default and man page paragraph, and
// the conversion between text and typed values. A new key is one entry here
// plus its member in lib/config/config.h; the parser, `postern config` and
// postern.conf(5) follow. Never reads files or the environment.
#include "lib/config/config_keys.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <limits>
#include <type_traits>

#include "lib/base/ascii.h"
#include "lib/base/log.h"
#include "lib/config/install_dirs.h"
#include "lib/config/text_lines.h"

namespace postern {
namespace {

std::string SystemHostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

using K = ConfigKey;
using T = KeyType;
using S = KeyScope;
using C = Config;
using L = ListenerConfig;

// The words of the kChoice keys, in the order of their enums.
constexpr std::string_view kBareNewlineWords[] = {"normalize", "reject"};
constexpr std::string_view kAuthRequireTlsWords[] = {"login", "all"};
constexpr std::string_view kRelayTlsWords[] = {"none", "may", "encrypt", "verify"};
constexpr std::string_view kLogTargetWords[] = {"syslog", "stderr", "file"};
constexpr std::string_view kLogFacilityWords[] = {"mail",   "daemon", "local0", "local1", "local2",
                                                  "local3", "local4", "local5", "local6", "local7"};

constexpr std::array kKeys = {
    // Global keys.
    K{.name = "myhostname",
      .type = T::kString,
      .scope = S::kGlobal,
      .system_default = SystemHostName,
      .default_doc = "the system host name (gethostname(2))",
      .description = "The name postern gives itself: in the greeting and the EHLO reply, in the "
                     "Received: header fields it adds, in the EHLO it sends when it relays, and "
                     "in delivery status notifications. It must be a host name (RFC 1123: labels "
                     "of letters, digits and inner hyphens, at most 63 octets each, separated by "
                     "dots, no final dot), or the configuration is refused; so must the system "
                     "host name when myhostname is not set.",
      .slot = &C::myhostname},
    K{.name = "state_directory",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = POSTERN_STATE_DIR,
      .default_doc = "localstatedir/lib/postern, as configure set it when postern was built: "
                     "/var/lib/postern with the Debian package",
      .description = "Where qmgr keeps the queue (an LMDB database under queue/) and, unless "
                     "mail_directory says otherwise, the Maildirs of local domains (under mail/). "
                     "It belongs to queue_user.",
      .slot = &C::state_directory},
    K{.name = "run_directory",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = POSTERN_RUN_DIR,
      .default_doc = "runstatedir/postern, as configure set it when postern was built: "
                     "/run/postern with the Debian package",
      .description = "Where master creates the Unix sockets that the postern processes and the "
                     "postern command talk through, and master.pid.",
      .slot = &C::run_directory},
    K{.name = "mail_directory",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = "",
      .default_doc = "empty, which means state_directory/mail",
      .description = "The directory that holds one Maildir per local recipient of local_domains.",
      .slot = &C::mail_directory},
    K{.name = "log_file",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = "",
      .description = "With log_target = file, the file that master and every process it starts "
                     "append their log lines to (opened by master as root, mode 0640).",
      .slot = &C::log_file},
    K{.name = "log_syslog",
      .type = T::kBool,
      .scope = S::kGlobal,
      .default_value = "no",
      .description = "Deprecated: yes is log_target = syslog. Kept so that older configurations "
                     "still load; lines no longer go to log_file as well.",
      .slot = &C::log_syslog},
    K{.name = "log_target",
      .type = T::kChoice,
      .scope = S::kGlobal,
      .default_value = "syslog",
      .default_doc = "syslog; when log_target is not set but log_file is, file",
      .description =
          "Where every postern process writes its log lines, in Postfix's format (pflogsumm reads "
          "them). syslog: to the local syslog daemon through syslog_socket, with log_facility, "
          "tagged postern/master, postern/smtpd, postern/qmgr and postern/authd. When syslog "
          "cannot be reached at start, master warns on standard error and in the file, and every "
          "process writes to state_directory/log/postern.log instead (postern status says so); "
          "a line syslog does not take later (a full queue, a syslogd restarting) goes to that "
          "file too, or to the terminal of postern start-fg. stderr: standard error: the "
          "terminal or the journal of postern start-fg (postern start detaches, so its "
          "lines go to state_directory/log/postern.log). file: log_file, which must be set.",
      .choices = kLogTargetWords,
      .slot = &C::log_target},
    K{.name = "log_facility",
      .type = T::kChoice,
      .scope = S::kGlobal,
      .default_value = "mail",
      .description = "The syslog facility of postern's lines with log_target = syslog: mail, "
                     "daemon or local0 to local7.",
      .choices = kLogFacilityWords,
      .slot = &C::log_facility},
    K{.name = "metrics_listen",
      .type = T::kBindAddresses,
      .scope = S::kGlobal,
      .default_value = "",
      .default_doc = "empty: no endpoint",
      .description =
          "One ADDRESS:PORT (e.g. 127.0.0.1:9587) where metricsd serves Prometheus's text "
          "format at /metrics: connections and refusals per listener, messages, bytes and "
          "rejections (by command and reply) per listener, sessions, deliveries by transport "
          "and status, the queue by state, group-commit batch sizes and commit latency. "
          "master binds it; metricsd answers as smtpd_user, chrooted, and asks master, which "
          "asks qmgr. The page has no authentication: bind it to loopback or a management "
          "network. A change takes a restart (postern stop, postern start); a reload keeps "
          "the endpoint it has and says so.",
      .slot = &C::metrics_listen},
    K{.name = "syslog_socket",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = "/dev/log",
      .description = "The Unix datagram socket of the local syslog daemon, which each postern "
                     "process connects to as it starts (smtpd before its chroot, reconnected by "
                     "master after a syslogd restart).",
      .slot = &C::syslog_socket},
    K{.name = "smtpd_workers",
      .type = T::kCount,
      .scope = S::kGlobal,
      .default_value = "2",
      .description = "How many smtpd worker processes master keeps running. Each one serves many "
                     "sessions at once, so one or two per processor core is enough.",
      .minimum = 1,
      .slot = &C::smtpd_workers},
    K{.name = "max_server_connections",
      .type = T::kCount,
      .scope = S::kGlobal,
      .default_value = "5000",
      .description = "The most concurrent client connections of the whole server, all listeners "
                     "together (MS-OXSMTP 3.2.7 ConnectionCountExceeded: \"an SMTP server has "
                     "exceeded 5000 concurrent inbound connections\"). Master answers one more "
                     "with 421 4.3.2 The maximum number of concurrent server connections has "
                     "exceeded a limit, closing transmission channel, and closes it. A listener's "
                     "max_connections (5000 by default) caps that listener too: raising this "
                     "past 5000 serves more on one listener only with its max_connections raised "
                     "as well (or 0). Every session holds a file descriptor in its smtpd worker: "
                     "master admits at most smtpd_workers x (the open file limit - 64) "
                     "connections and lowers this cap to that, with a warning in the log; raise "
                     "the hard limit (systemd's LimitNOFILE=, ulimit -Hn) to serve more (see "
                     "master(8)). 0: no cap.",
      .slot = &C::max_server_connections},
    K{.name = "relayhost",
      .type = T::kNextHops,
      .scope = S::kGlobal,
      .default_value = "",
      .description = "The mail servers that mail for other domains is to be handed to, tried in "
                     "order: [HOST]:PORT or [HOST] (that host itself), HOST:PORT or HOST (its MX "
                     "records first), separated by commas or blanks; HOST is a name or an IP "
                     "address (IPv6 in brackets), PORT defaults to 25. postern check rejects a "
                     "value that is none of these. qmgr relays every recipient outside "
                     "local_domains to the first of them that answers, with STARTTLS as relay_tls "
                     "says and AUTH when relay_auth_user is set (see RELAY DESTINATIONS). Empty: "
                     "qmgr delivers to each recipient domain's mail exchangers, found by its MX "
                     "records (RFC 5321 section 5.1).",
      .slot = &C::relayhost},
    K{.name = "relay_tls",
      .type = T::kChoice,
      .scope = S::kGlobal,
      .default_value = "may",
      .description =
          "How much TLS (STARTTLS, RFC 3207) qmgr asks of a next hop it relays to. none: it "
          "never sends STARTTLS. may: STARTTLS whenever the next hop offers it, accepting any "
          "certificate, and cleartext when it is not offered or refused (opportunistic TLS, as "
          "Postfix's smtp_tls_security_level = may). encrypt: STARTTLS or no delivery (the mail "
          "is deferred), with any certificate. verify: as encrypt, and the next hop's certificate "
          "must chain to a CA of relay_tls_ca_file and name the host qmgr connected to; else "
          "the handshake fails and the mail is deferred, the log saying why. may and encrypt "
          "protect the mail from eavesdroppers, not from an attacker who can impersonate the "
          "next hop; verify protects from both. A new connection resumes the TLS session of the "
          "last one to the same next hop when the next hop gave a ticket (qmgr(8)).",
      .choices = kRelayTlsWords,
      .slot = &C::relay_tls},
    K{.name = "relay_tls_ca_file",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = "",
      .default_doc = "empty, which means the system's trusted CAs (on Debian the ca-certificates "
                     "package)",
      .description = "A PEM file of the certificate authorities whose certificates relay_tls = "
                     "verify accepts. postern check reports it when it cannot be read while "
                     "relay_tls is verify.",
      .slot = &C::relay_tls_ca_file},
    K{.name = "relay_auth_user",
      .type = T::kString,
      .scope = S::kGlobal,
      .default_value = "",
      .description = "The user name qmgr logs on to the next hop with (SMTP AUTH, RFC 4954), "
                     "with the first of NTLM, LOGIN and PLAIN that the next hop offers; its "
                     "password is in relay_password_file, which must then be set. A next hop "
                     "that offers AUTH but none of these, or only in cleartext while "
                     "relay_allow_plaintext_auth is no, gets no mail: it is deferred. Empty: qmgr "
                     "does not log on. The password is read when qmgr starts (as root); a "
                     "changed one takes a restart of postern.",
      .slot = &C::relay_auth_user},
    K{.name = "relay_password_file",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = "",
      .description = "The file whose first line (without its line end) is relay_auth_user's "
                     "password. qmgr reads it as root at start, before it drops privileges, so "
                     "it may belong to root alone. It must be a regular file that neither its "
                     "group nor others may read or write, mode 0600 or stricter: postern check "
                     "and qmgr refuse it otherwise, with the fix (chmod 600 FILE). An empty file "
                     "is refused too.",
      .slot = &C::relay_password_file},
    K{.name = "relay_allow_plaintext_auth",
      .type = T::kBool,
      .scope = S::kGlobal,
      .default_value = "no",
      .description = "no: qmgr logs on to a next hop only once the session is encrypted with "
                     "TLS. yes: also in cleartext, where LOGIN and PLAIN show the password to "
                     "anyone on the path.",
      .slot = &C::relay_allow_plaintext_auth},
    K{.name = "relay_tcp_port",
      .type = T::kCount,
      .scope = S::kGlobal,
      .default_value = "25",
      .description = "The TCP port qmgr connects to on the mail exchangers it finds by MX lookup "
                     "(when relayhost is empty), as Postfix's smtp_tcp_port. 25 is SMTP's port "
                     "(RFC 5321); another value is for tests and private arrangements only, "
                     "since every mail exchanger on the internet listens on 25. relayhost "
                     "entries carry their own port.",
      .minimum = 1,
      .maximum = 65535,
      .slot = &C::relay_tcp_port},
    K{.name = "relay_destination_concurrency",
      .type = T::kCount,
      .scope = S::kGlobal,
      .default_value = "10",
      .description = "The most SMTP sessions qmgr holds open at the same time to one "
                     "destination (the relayhost, or the domain of the recipients when it "
                     "delivers by MX lookup); each session carries one message after another.",
      .minimum = 1,
      .slot = &C::relay_destination_concurrency},
    K{.name = "relay_concurrency_limit",
      .type = T::kCount,
      .scope = S::kGlobal,
      .default_value = "100",
      .description = "The most SMTP sessions qmgr holds open at the same time to all next hops "
                     "together (Postfix's default_process_limit for its smtp processes), so "
                     "that mail for many domains cannot use up qmgr's descriptors. When it is "
                     "reached, mail for a destination without a session waits until a session "
                     "ends somewhere, and the destinations waiting take the freed sessions in "
                     "turn.",
      .minimum = 1,
      .slot = &C::relay_concurrency_limit},
    K{.name = "relay_connect_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "30s",
      .description = "How long qmgr waits for a TCP connection to a next hop to be established "
                     "(Postfix's smtp_connect_timeout). When it runs out, the next address of the "
                     "next hop, or the next entry of relayhost, is tried; when none is left, the "
                     "mail is deferred. Must not be 0.",
      .slot = &C::relay_connect_timeout},
    K{.name = "relay_greeting_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "5m",
      .description = "How long qmgr waits for a next hop's greeting (220) once connected (RFC "
                     "5321 4.5.3.2.1). When this or any relay_*_timeout after it runs out, qmgr "
                     "closes the connection without QUIT and defers what the session had not "
                     "delivered yet with status 4.4.2 (timed out waiting for ...); before the "
                     "session was ready for mail, the next address is tried first, as for "
                     "relayhost. None of these timeouts may be 0.",
      .slot = &C::relay_greeting_timeout},
    K{.name = "relay_mail_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "5m",
      .description =
          "How long qmgr waits for the reply to MAIL FROM (RFC 5321 4.5.3.2.2; Postfix's "
          "smtp_mail_timeout).",
      .slot = &C::relay_mail_timeout},
    K{.name = "relay_rcpt_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "5m",
      .description = "How long qmgr waits for the reply to each RCPT TO (RFC 5321 4.5.3.2.3; "
                     "Postfix's smtp_rcpt_timeout).",
      .slot = &C::relay_rcpt_timeout},
    K{.name = "relay_data_init_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "2m",
      .description = "How long qmgr waits for the 354 reply to DATA (RFC 5321 4.5.3.2.4; Postfix's "
                     "smtp_data_init_timeout).",
      .slot = &C::relay_data_init_timeout},
    K{.name = "relay_data_block_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "3m",
      .description =
          "How long qmgr lets the sending of one piece of the message content take, and "
          "how long it waits for the reply to a BDAT chunk other than the last (RFC 5321 "
          "4.5.3.2.5; Postfix's smtp_data_xfer_timeout).",
      .slot = &C::relay_data_block_timeout},
    K{.name = "relay_data_done_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "10m",
      .description =
          "How long qmgr waits for the reply to the end of the content (the final \".\" or "
          "BDAT LAST): RFC 5321 4.5.3.2.6 asks for 10 minutes, since the next hop may be "
          "processing the message before it answers (Postfix's smtp_data_done_timeout).",
      .slot = &C::relay_data_done_timeout},
    K{.name = "relay_command_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "5m",
      .description =
          "How long qmgr waits for the reply to a command without a timeout of its own in "
          "RFC 5321: EHLO, HELO, STARTTLS and the TLS handshake, AUTH, RSET and QUIT "
          "(Postfix's smtp_helo_timeout, smtp_starttls_timeout and smtp_quit_timeout "
          "together).",
      .slot = &C::relay_command_timeout},
    K{.name = "local_domains",
      .type = T::kDomains,
      .scope = S::kGlobal,
      .default_value = "",
      .description = "The domains whose mail qmgr delivers into Maildirs under mail_directory "
                     "instead of relaying it. Case does not matter.",
      .slot = &C::local_domains},
    K{.name = "local_delivery_concurrency",
      .type = T::kCount,
      .scope = S::kGlobal,
      .default_value = "4",
      .description = "How many messages qmgr delivers into Maildirs at the same time, each in a "
                     "thread of its own. Every delivery waits for its file to reach the disk "
                     "(fsync), so a few in parallel keep the disk busy; more than the disk can "
                     "sync at once gains nothing. Read when qmgr starts: a reload does not "
                     "change it.",
      .minimum = 1,
      .slot = &C::local_delivery_concurrency},
    K{.name = "minimal_backoff_time",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "5m",
      .description = "How long qmgr waits before it tries a recipient again after the first "
                     "delivery attempt that failed for a reason that may pass (a full disk, an "
                     "I/O error). The wait doubles after every further failure, up to "
                     "maximal_backoff_time. Must not be 0.",
      .slot = &C::minimal_backoff_time},
    K{.name = "maximal_backoff_time",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "1h",
      .description = "The longest wait between two delivery attempts of one recipient; at least "
                     "minimal_backoff_time.",
      .slot = &C::maximal_backoff_time},
    K{.name = "maximal_queue_lifetime",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "5d",
      .description = "How long a message may stay in the queue. A recipient still not "
                     "delivered this long after the message arrived fails with status 4.4.7 "
                     "(delivery time expired), and its sender gets a failure DSN that quotes "
                     "the last reply or reason. Must not be 0.",
      .slot = &C::maximal_queue_lifetime},
    K{.name = "delay_warning_time",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "4h",
      .description = "When a message has waited this long with recipients still pending, its "
                     "sender gets one \"delayed\" DSN about them (for recipients that did not "
                     "refuse DELAY notices with NOTIFY). Once per message. 0: no delay DSNs.",
      .slot = &C::delay_warning_time},
    K{.name = "bounce_size_limit",
      .type = T::kSize,
      .scope = S::kGlobal,
      .default_value = "50000",
      .description = "The largest original message a DSN returns whole (as Postfix's key of "
                     "the same name). A larger one is returned as its header section only, and "
                     "a header section larger than this is left out; 0 returns no part of it.",
      .slot = &C::bounce_size_limit},
    K{.name = "postmaster_address",
      .type = T::kString,
      .scope = S::kGlobal,
      .default_value = "",
      .default_doc = "empty, which means postmaster@ the first of local_domains, or "
                     "postmaster@myhostname when local_domains is empty",
      .description =
          "Where mail to <Postmaster> (without a domain, in any case) goes: RFC 5321 4.5.1 "
          "requires every server to accept it, from any client. smtpd replaces such a "
          "recipient with this address at RCPT TO (keeping <Postmaster> as the original "
          "recipient for DSNs unless the client gave an ORCPT), and qmgr delivers it like any "
          "other: into its Maildir when its "
          "domain is one of local_domains, else to relayhost.",
      .slot = &C::postmaster_address},
    K{.name = "trusted_networks",
      .type = T::kNetworks,
      .scope = S::kGlobal,
      .default_value = "127.0.0.0/8 ::1/128",
      .description = "Clients in these networks may relay to any domain without authenticating. "
                     "Others may send only to local_domains until they authenticate.",
      .slot = &C::trusted_networks},
    K{.name = "client_reverse_lookup",
      .type = T::kBool,
      .scope = S::kGlobal,
      .default_value = "yes",
      .description = "yes: smtpd asks the DNS for the name of each client, for the Received: "
                     "header field and the log. no: it never does, and uses the address alone.",
      .slot = &C::client_reverse_lookup},
    K{.name = "dns_nameservers",
      .type = T::kWords,
      .scope = S::kGlobal,
      .default_value = "",
      .description =
          "The DNS servers postern asks: the smtpd workers, before a client's banner, "
          "for the DNSBL zones of block_list and, when client_reverse_lookup is yes, for "
          "the client's name; qmgr for the MX, A and AAAA records of the destinations "
          "it relays to (master, which runs as root, asks none). ADDRESS or "
          "ADDRESS:PORT ([IPV6-ADDRESS]:PORT). Empty: the nameservers of "
          "/etc/resolv.conf, read by each worker before its chroot and by qmgr when "
          "it starts. A reload applies it to the new workers and to qmgr's next "
          "lookups (qmgr reads resolv.conf again only when dns_nameservers changes).",
      .slot = &C::dns_nameservers},
    K{.name = "smtpd_user",
      .type = T::kString,
      .scope = S::kGlobal,
      .default_value = "postern",
      .description = "The unprivileged user that the smtpd workers run as.",
      .slot = &C::smtpd_user},
    K{.name = "queue_user",
      .type = T::kString,
      .scope = S::kGlobal,
      .default_value = "postern-queue",
      .description = "The user that qmgr runs as; it owns state_directory.",
      .slot = &C::queue_user},
    K{.name = "auth_user",
      .type = T::kString,
      .scope = S::kGlobal,
      .default_value = "postern-auth",
      .description = "The user that authd runs as; it alone can read sasldb_path.",
      .slot = &C::auth_user},
    K{.name = "queue_map_size",
      .type = T::kSize,
      .scope = S::kGlobal,
      .default_value = "0",
      .default_doc = "0: the size of the file system of state_directory",
      .description = "The size of the queue's LMDB memory map: the most the queue can hold. "
                     "0 maps as much as the whole file system of state_directory when qmgr "
                     "starts, so that the queue grows until min_free_disk_space stops it (a "
                     "file system enlarged later counts from the next start). Disk space is "
                     "used only as the queue fills; the map is address space, not memory.",
      .slot = &C::queue_map_size},
    K{.name = "min_free_disk_space",
      .type = T::kSize,
      .scope = S::kGlobal,
      .default_value = "64m",
      .description = "OutOfResources (MS-OXSMTP 3.2.7): when the file system of the queue has "
                     "less space than this available, master answers each new connection "
                     "452 4.3.1 Insufficient system resources and closes it, and each MAIL FROM "
                     "of a session already open gets 452 4.3.1 (the session goes on); read at "
                     "most once a second, counting the room inside the queue file that qmgr "
                     "reports reusable and less the bytes it holds in flight. qmgr keeps it as a "
                     "floor for the messages already in flight: before it stores more of a "
                     "message, the bytes it has accepted and not yet written (with LMDB's "
                     "overhead) must leave this much free, counting the room its queue file can "
                     "reuse; otherwise the youngest messages still streaming in are refused first "
                     "(452 4.3.1 at the end of their data) so that the oldest complete. postern "
                     "check and "
                     "postern start warn when it is larger than the whole file system of "
                     "state_directory. 0: never.",
      .slot = &C::min_free_disk_space},
    K{.name = "min_queue_map_space",
      .type = T::kSize,
      .scope = S::kGlobal,
      .default_value = "16m",
      .description = "OutOfResources: with queue_map_size set, new connections and MAIL FROM "
                     "get 452 4.3.1 Insufficient system resources while the queue's LMDB map "
                     "has less room than this left (with queue_map_size 0 the map spans the "
                     "file system, and min_free_disk_space decides). 0: never (a message that "
                     "does not fit is still refused with 452 4.3.1 at the end of DATA).",
      .slot = &C::min_queue_map_space},
    K{.name = "min_free_memory",
      .type = T::kSize,
      .scope = S::kGlobal,
      .default_value = "32m",
      .description = "OutOfResources: new connections and MAIL FROM get 452 4.3.1 Insufficient "
                     "system resources while the kernel reports less memory available than this "
                     "(MemAvailable in /proc/meminfo). 0: never.",
      .slot = &C::min_free_memory},
    K{.name = "shutdown_grace",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "30s",
      .description = "On postern stop or SIGTERM, how long master lets live sessions finish "
                     "before it ends them, each with 421 4.3.2 Service shutting down.",
      .slot = &C::shutdown_grace},
    K{.name = "handoff_timeout",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "10s",
      .description = "How long master waits for an smtpd worker to take a new connection before "
                     "it answers 421 4.4.2 Connection dropped (NewConnectionNotAvailable).",
      .slot = &C::handoff_timeout},
    K{.name = "daemon_directory",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = POSTERN_DAEMON_DIR,
      .default_doc = "libexecdir/postern, as configure set it when postern was built: "
                     "/usr/libexec/postern with the Debian package",
      .description = "Where master finds the smtpd, qmgr and authd programs. The environment "
                     "variable POSTERN_DAEMON_DIR, when set, overrides it for the postern command "
                     "and for master.",
      .slot = &C::daemon_directory},
    K{.name = "sasldb_path",
      .type = T::kPath,
      .scope = S::kGlobal,
      .default_value = "sasldb2",
      .default_doc = "sasldb2 in the configuration directory",
      .description = "The Cyrus SASL password database that authd checks logons against and "
                     "that postern user changes.",
      .slot = &C::sasldb_path},
    K{.name = "auth_realm",
      .type = T::kString,
      .scope = S::kGlobal,
      .default_value = "",
      .default_doc = "empty: the realm of the users in the sasldb",
      .description = "The Cyrus SASL realm that postern user stores users in and that authd "
                     "checks logons against. A login name with an @ is looked up in the realm "
                     "after the @ instead. Empty: the realm is fixed when the first user is "
                     "added (myhostname at that moment) and read back from the sasldb from "
                     "then on, so that changing myhostname later locks nobody out; when the "
                     "sasldb holds users in several realms, the one named myhostname (or set "
                     "this key).",
      .slot = &C::auth_realm},
    K{.name = "auth_lockout_failures",
      .type = T::kCount,
      .scope = S::kGlobal,
      .default_value = "10",
      .description = "After this many failed logons for one user from one client address within "
                     "auth_lockout_time, authd refuses that user from that address, even with "
                     "the right password, until auth_lockout_time has passed since the last "
                     "failure. Other addresses are not affected, so an attacker cannot lock the "
                     "real user out. 0: no lockout.",
      .slot = &C::auth_lockout_failures},
    K{.name = "auth_lockout_time",
      .type = T::kDuration,
      .scope = S::kGlobal,
      .default_value = "15m",
      .description = "The window over which auth_lockout_failures are counted, and how long a "
                     "lockout lasts.",
      .slot = &C::auth_lockout_time},
    K{.name = "local_recipient_map",
      .type = T::kWords,
      .scope = S::kGlobal,
      .default_value = "sasldb",
      .default_doc = "sasldb: the users of the sasldb",
      .description =
          "The sources of the valid recipients in local_domains; smtpd refuses any other "
          "local recipient at RCPT TO with 550 5.1.1 <address>: Recipient address rejected: "
          "User unknown, so mail for a mailbox nobody reads is never accepted. The word "
          "sasldb means the users of sasldb_path: local@domain is valid when user local "
          "exists in the auth realm or in realm domain; authd notices postern user add and "
          "del at once. Any other word is a file (relative to the configuration directory, "
          "readable by auth_user) in Postfix's map-source form: one key per line, local "
          "(valid at every local domain) or local@domain, optionally followed by a value "
          "that is ignored, # comments; authd reads it at start and reload. A local part is "
          "tried as written, then lower-cased; a recipient found lower-cased is delivered "
          "under that spelling (Alice@ to user alice's Maildir), and the client's spelling "
          "stays in the log (orig_to=) and in DSNs (Original-Recipient). <Postmaster>, "
          "postmaster@ and the local part "
          "of postmaster_address are valid at every local domain. When authd cannot "
          "answer, the recipient gets 451 4.3.0 <address>: Temporary lookup failure. Empty: "
          "every address in local_domains is accepted (delivery creates its Maildir).",
      .slot = &C::local_recipient_map},

    // Listener keys.
    K{.name = "bind",
      .type = T::kBindAddresses,
      .scope = S::kListenerOnly,
      .default_value = "",
      .default_doc = "none; every listener must have one",
      .description = "The addresses and ports the listener accepts connections on, as "
                     "ADDRESS:PORT for IPv4 and [ADDRESS]:PORT for IPv6; 0.0.0.0:25 [::]:25 "
                     "means port 25 on every address. Several listeners may bind the same "
                     "address when their remote_networks differ: each client is served by the "
                     "listener whose remote_networks contain it most specifically.",
      .slot = &L::bind},
    K{.name = "role",
      .type = T::kRole,
      .scope = S::kListener,
      .default_value = "gateway",
      .description = "gateway for a listener that receives mail from other servers (port 25), "
                     "relay for one where users submit mail (port 587). The role picks the "
                     "spec's defaults of connection_timeout, inactivity_timeout and "
                     "message_rate_limit, wherever in the file it is set; a value set "
                     "explicitly wins over the role's default.",
      .slot = &L::role},
    K{.name = "remote_networks",
      .type = T::kNetworks,
      .scope = S::kListener,
      .default_value = "0.0.0.0/0 ::/0",
      .description = "The clients the listener serves. Any other client is answered 421 4.3.2 "
                     "Service not available (BindingNotConfigured).",
      .slot = &L::remote_networks},
    K{.name = "connection_timeout",
      .type = T::kDuration,
      .scope = S::kListener,
      .default_value = "5m",
      .relay_default = "10m",
      .description = "The longest a session may last (ConnectionTimer); then the server answers "
                     "421 4.4.1 Connection timed out and closes it.",
      .slot = &L::connection_timeout},
    K{.name = "inactivity_timeout",
      .type = T::kDuration,
      .scope = S::kListener,
      .default_value = "1m",
      .relay_default = "5m",
      .description = "How long the server waits for input from the client "
                     "(ConnectionInactivityTimer); then it answers 451 4.7.0 Timeout waiting for "
                     "client input and closes the session.",
      .slot = &L::inactivity_timeout},
    K{.name = "max_message_size",
      .type = T::kSize,
      .scope = S::kListener,
      .default_value = "10m",
      .description = "The largest message accepted, 10485760 bytes by default, advertised in the "
                     "EHLO reply as SIZE. A larger one is answered 552 5.3.4 Message size exceeds "
                     "fixed maximum message size (MessageSizeExceeded).",
      .slot = &L::max_message_size},
    K{.name = "max_header_size",
      .type = T::kSize,
      .scope = S::kListener,
      .default_value = "64k",
      .description = "The largest header section accepted, 65536 bytes by default. A larger one "
                     "is answered 552 5.3.4 Header size exceeds fixed maximum size "
                     "(HeaderSizeExceeded).",
      .slot = &L::max_header_size},
    K{.name = "max_recipients",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "200",
      .description = "The most recipients of one message. The next RCPT TO is answered 452 4.5.3 "
                     "Too many recipients (TooManyRecipients).",
      .slot = &L::max_recipients},
    K{.name = "max_hop_count",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "60",
      .description = "The most Received: header fields a message may carry. A message with more "
                     "is answered 554 5.4.6 Hop count exceeded - possible mail loop "
                     "(MaxHopCount).",
      .slot = &L::max_hop_count},
    K{.name = "max_local_hop_count",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "12",
      .description = "The most Received: header fields added by this server (naming myhostname) "
                     "a message may carry. A message with more is answered 554 5.4.6 Hop count "
                     "exceeded - possible mail loop (MaxLocalHopCount).",
      .slot = &L::max_local_hop_count},
    K{.name = "bare_newline",
      .type = T::kChoice,
      .scope = S::kListener,
      .default_value = "normalize",
      .description =
          "What DATA does with a content line that ends in LF alone, against RFC 5321 2.3.8. "
          "normalize: the line is taken and stored as if it ended in CR LF, as Postfix 3.9 does "
          "by default, so that a text file sent by curl -T arrives. Only CR LF . CR LF ends the "
          "data: after a bare LF, or before one, a line holding a single dot is an ordinary "
          "line whose dot is taken for transparency, and is stored empty. reject: the message "
          "is refused at its end with 554 5.6.0 Message contains bare CR or LF; lines must end "
          "with CRLF. In both modes a bare CR (one not followed by LF) refuses the message in the "
          "same way, BDAT chunks are stored byte for byte (a bare CR or LF in them refuses the "
          "message unless the body is BODY=BINARYMIME), and command lines end only with CR LF.",
      .choices = kBareNewlineWords,
      .slot = &L::bare_newline},
    K{.name = "message_rate_limit",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "600",
      .relay_default = "5",
      .description = "The most messages per minute, counted over a sliding minute by master "
                     "for all smtpd workers and all listeners together: per client address on a "
                     "gateway listener, per authenticated user on a relay listener (per client "
                     "address while the client has not authenticated). A client that uses two "
                     "listeners has one count, and the limit of the listener its MAIL FROM "
                     "arrives on applies to it. The MAIL FROM over the limit is answered "
                     "421 4.4.2 Message submission rate for this client has exceeded the "
                     "configured limit (MessageRateLimitExceeded) and the session ends; refused "
                     "attempts are not counted. 0 switches the limit off on the listener: its "
                     "messages are neither checked nor counted.",
      .slot = &L::message_rate_limit},
    K{.name = "max_protocol_errors",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "5",
      .description = "The most protocol errors in one session; the next one is answered 421 "
                     "4.7.0 Too many errors on this connection, closing transmission channel "
                     "(ProtocolViolationCount).",
      .slot = &L::max_protocol_errors},
    K{.name = "max_logon_failures",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "3",
      .description = "The most failed AUTH attempts in one session; the next one is answered "
                     "421 4.7.0 Too many errors on this connection, closing transmission channel "
                     "(ProtocolViolationCount).",
      .slot = &L::max_logon_failures},
    K{.name = "max_connections",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "5000",
      .description = "The most concurrent connections to this listener, a cap beside "
                     "max_server_connections (which counts all listeners together and has the "
                     "same default: to serve more on one listener, raise both). Master answers "
                     "one more with the same 421 4.3.2 The maximum number of concurrent server "
                     "connections has exceeded a limit, closing transmission channel "
                     "(ConnectionCountExceeded). 0: only max_server_connections applies.",
      .slot = &L::max_connections},
    K{.name = "max_connections_per_source",
      .type = T::kCount,
      .scope = S::kListener,
      .default_value = "20",
      .description = "The most concurrent connections from one client address, counted over "
                     "every listener (MS-OXSMTP 3.2.7 ConnectionCountPerSource: \"exceeded 20 "
                     "inbound connections for an IP address\"); the limit of the listener a new "
                     "connection reaches applies to that count. Master answers one more with "
                     "421 4.3.2 The maximum number of concurrent connections has exceeded a "
                     "limit, closing transmission channel. 0: no limit.",
      .slot = &L::max_connections_per_source},
    K{.name = "tarpit_interval",
      .type = T::kDuration,
      .scope = S::kListener,
      .default_value = "5s",
      .description = "How long the server holds back every error reply to a session that has "
                     "not authenticated, and every error reply to MAIL FROM (Tarpit); meanwhile "
                     "it reads nothing more from that client, and serves the others. The greeting "
                     "is not delayed unless tarpit_at_connect is yes.",
      .slot = &L::tarpit_interval},
    K{.name = "tarpit_at_connect",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "no",
      .description =
          "yes: the letter of MS-OXSMTP 3.2.7 (Tarpit \"when an unauthenticated user connects "
          "to the server\"): the greeting of every session is sent tarpit_interval late, and "
          "nothing the client sends is read before it; the worker serves other sessions "
          "meanwhile, and connection_timeout runs. no: the greeting is sent at once, and the "
          "tarpit delays error replies only (see tarpit_interval), as Exchange does in "
          "practice: every client is unauthenticated when it connects, so a delayed greeting "
          "slows every honest client.",
      .slot = &L::tarpit_at_connect},
    K{.name = "acknowledgement_delay",
      .type = T::kDuration,
      .scope = S::kListener,
      .default_value = "0",
      .description =
          "AcknowledgementDelay (MS-OXSMTP 3.2.7): how long the 250 to the end of DATA or BDAT "
          "LAST may wait for the message's first delivery attempt. Once the message is durably "
          "queued, smtpd holds the 250 until qmgr reports that attempt over for every "
          "recipient (delivered into its Maildir, relayed to the next hop, failed or "
          "deferred: past that nothing changes within the delay, so the 250 comes then), or "
          "until this long after the end of the data, whichever is first; the 250 is the same "
          "either way, and the log says which (QUEUEID: acknowledged after N s: delivered, or "
          "acknowledgement_delay N s ran out). The wait does not count as the client's "
          "inactivity and blocks no other session; commands the client pipelined wait behind "
          "it; connection_timeout runs on (when it lapses in the wait, the 250 goes out before "
          "its 421). 0, the default, acknowledges a message as soon as it is durable, as "
          "Postfix does: with 30s every message waits up to 30 s whenever the next hop is down "
          "or slow, which is why Exchange's operators turn it off for their applications. Set "
          "30s, the spec's value, where the sending client should keep its copy until the next "
          "hop (or the Maildir) has one: if this server is lost before it relays, nothing is "
          "lost.",
      .slot = &L::acknowledgement_delay},
    K{.name = "blocked_networks",
      .type = T::kNetworks,
      .scope = S::kListener,
      .default_value = "",
      .description = "Clients in these networks are answered 550 5.7.1 External client with IP "
                     "address ADDRESS does not have permissions to submit to this server, with "
                     "the spec's pointer to more information (IPAddressNotAllowed). Addresses "
                     "blocked while postern runs (postern block add) get the same answer without "
                     "the pointer. Master answers and closes before any smtpd sees the "
                     "connection. Gateway listeners only: relay listeners ignore it, like "
                     "dynamic blocks and block_list.",
      .slot = &L::blocked_networks},
    K{.name = "block_list",
      .type = T::kWords,
      .scope = S::kListener,
      .default_value = "",
      .description = "Block lists to check each client against. A word that is an absolute "
                     "path names a file of one address or network a line (# starts a comment), "
                     "read at start and on reload; a bad line stops either, naming the file and "
                     "line. Any other word is a DNSBL zone: the smtpd worker that receives the "
                     "connection asks, before the banner, for an A record of the "
                     "reversed client address under it (RFC 5782) and takes an answer in "
                     "127.0.0.0/8 as listed; a lookup that fails or times out lets the client in "
                     "and is logged. A listed client is answered 550 5.7.1 Recipient not "
                     "authorized, your IP has been found on a block list. Gateway listeners only.",
      .slot = &L::block_list},
    K{.name = "auth_mechanisms",
      .type = T::kWords,
      .scope = S::kListener,
      .default_value = "NTLM LOGIN",
      .description = "The SASL mechanisms offered on the AUTH line of the EHLO reply, in this "
                     "order. Only NTLM and LOGIN (in any case) are served; a configuration naming "
                     "another mechanism is refused.",
      .slot = &L::auth_mechanisms},
    K{.name = "require_tls",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "no",
      .description = "yes: a MAIL FROM before STARTTLS is answered 451 5.7.3 Must issue a "
                     "STARTTLS command first.",
      .slot = &L::require_tls},
    K{.name = "require_auth",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "no",
      .description = "yes: a MAIL FROM before a successful AUTH is answered 530 5.7.1 Not "
                     "authenticated.",
      .slot = &L::require_auth},
    K{.name = "sender_login_check",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "no",
      .description = "yes: an authenticated client may only send from an address that belongs "
                     "to the user it logged on as; another MAIL FROM address is answered 550 "
                     "5.7.1 Client does not have permissions to submit to this server.",
      .slot = &L::sender_login_check},
    K{.name = "sender_login_map",
      .type = T::kPath,
      .scope = S::kListener,
      .default_value = "",
      .description =
          "A file of further addresses that logins may send from when "
          "sender_login_check is on: one address per line, followed by white space and "
          "the logins allowed to use it, separated by commas or white space; comments as "
          "in this file. It is read when smtpd starts and on postern reload.",
      .slot = &L::sender_login_map},
    K{.name = "allow_plaintext_auth",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "no",
      .description = "no: AUTH LOGIN, which sends the password itself, is offered and accepted "
                     "only once the session is encrypted; before that the AUTH line lists NTLM "
                     "alone, and AUTH LOGIN is answered 538 5.7.11 Encryption required for "
                     "requested authentication mechanism. yes: LOGIN is also allowed in "
                     "cleartext.",
      .slot = &L::allow_plaintext_auth},
    K{.name = "auth_require_tls",
      .type = T::kChoice,
      .scope = S::kListener,
      .default_value = "login",
      .description =
          "Which AUTH mechanisms wait until the session is encrypted. login: only LOGIN, as "
          "allow_plaintext_auth says; NTLM is offered and accepted in cleartext, as Exchange "
          "offers Integrated Windows authentication without TLS. NTLM never sends the password, "
          "but an eavesdropper on a cleartext session captures the NTLMv2 response, from which "
          "a weak password can be found by offline guessing. all: no mechanism is offered or "
          "accepted before TLS: the cleartext EHLO reply has no AUTH line, AUTH is answered 538 "
          "5.7.11 Encryption required for requested authentication mechanism, and "
          "allow_plaintext_auth has no effect; on a listener without TLS no client can "
          "authenticate then. Where require_tls is set, AUTH before STARTTLS is answered 530 "
          "5.7.0 Must issue a STARTTLS command first whatever this key says.",
      .choices = kAuthRequireTlsWords,
      .slot = &L::auth_require_tls},
    K{.name = "tls_wrapper",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "no",
      .description = "yes: TLS starts as soon as the client connects, before the greeting "
                     "(implicit TLS, as on port 465), and STARTTLS is not offered.",
      .slot = &L::tls_wrapper},
    K{.name = "tls_cert_file",
      .type = T::kPath,
      .scope = S::kListener,
      .default_value = "",
      .description =
          "The server's certificate chain in PEM, the server's own certificate first; of any "
          "key algorithm, usually RSA (Postfix's smtpd_tls_cert_file). The listener offers TLS "
          "when it has this certificate, tls_eccert_file's, or both; with neither it offers "
          "none.",
      .slot = &L::tls_cert_file},
    K{.name = "tls_key_file",
      .type = T::kPath,
      .scope = S::kListener,
      .default_value = "",
      .description = "The private key of tls_cert_file in PEM. Each smtpd worker reads it as "
                     "root before it drops privileges and chroots, so it may belong to root alone; "
                     "postern reload reads it again.",
      .slot = &L::tls_key_file},
    K{.name = "tls_eccert_file",
      .type = T::kPath,
      .scope = S::kListener,
      .default_value = "",
      .description =
          "A second certificate chain in PEM, whose own certificate has an ECDSA or EdDSA key "
          "(Postfix's smtpd_tls_eccert_file); another key algorithm is refused at start and "
          "reload. Alone it is the listener's certificate; beside tls_cert_file it is loaded "
          "first, and GnuTLS takes, for each handshake, the first certificate whose key can make "
          "a signature the client accepts: the EC one for nearly every client (an ECDSA "
          "signature costs the server far less than an RSA one), tls_cert_file's for a client "
          "that accepts only RSA signatures. Over TLS 1.2 the cipher suite decides too: with "
          "%SERVER_PRECEDENCE in "
          "tls_priority (the default) the ECDHE-ECDSA suites come before ECDHE-RSA. A client "
          "that names the server (SNI) gets a certificate for that name first, so both "
          "certificates should name the same host.",
      .slot = &L::tls_eccert_file},
    K{.name = "tls_eckey_file",
      .type = T::kPath,
      .scope = S::kListener,
      .default_value = "",
      .description = "The private key of tls_eccert_file in PEM, read as tls_key_file is. "
                     "tls_eccert_file and tls_eckey_file are set together.",
      .slot = &L::tls_eckey_file},
    K{.name = "tls_priority",
      .type = T::kString,
      .scope = S::kListener,
      .default_value = kDefaultTlsPriority,
      .description = "The GnuTLS priority string that picks protocol versions, cipher "
                     "suites and key exchange groups; see gnutls_priority_init(3). The default "
                     "is GnuTLS's NORMAL without TLS 1.0 and 1.1, with X25519 moved before "
                     "NORMAL's first group, P-256: under %SERVER_PRECEDENCE a TLS 1.3 server "
                     "picks its own first group, and a client that sent only an X25519 key "
                     "share (OpenSSL's clients do) would be asked to send another (a "
                     "HelloRetryRequest, one more round trip). qmgr's connections to next hops "
                     "use the default.",
      .slot = &L::tls_priority},
    K{.name = "advertise_size",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists SIZE (RFC 1870). no: it does not, and a SIZE "
                     "parameter of MAIL FROM is refused.",
      .slot = &L::advertise_size},
    K{.name = "advertise_dsn",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists DSN (RFC 3461). no: it does not, and the RET, "
                     "ENVID, NOTIFY and ORCPT parameters are refused.",
      .slot = &L::advertise_dsn},
    K{.name = "advertise_enhancedstatuscodes",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists ENHANCEDSTATUSCODES (RFC 2034). no: it does not.",
      .slot = &L::advertise_enhancedstatuscodes},
    K{.name = "advertise_pipelining",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists PIPELINING (RFC 2920). no: it does not, and "
                     "a client that sends a command before it has the reply to the previous "
                     "one gets 554 5.5.0 Improper use of SMTP command pipelining: what it sent "
                     "early is discarded and the session ends (DATA content after the 354 and "
                     "BDAT chunks are not commands).",
      .slot = &L::advertise_pipelining},
    K{.name = "advertise_starttls",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists STARTTLS (RFC 3207) when the listener has "
                     "a certificate (tls_cert_file or tls_eccert_file) and the session is not yet "
                     "encrypted. no: it does not, and "
                     "STARTTLS is refused.",
      .slot = &L::advertise_starttls},
    K{.name = "advertise_auth",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists AUTH with auth_mechanisms (RFC 4954). no: it "
                     "does not, and AUTH is refused.",
      .slot = &L::advertise_auth},
    K{.name = "advertise_8bitmime",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists 8BITMIME (RFC 1652). no: it does not, and "
                     "BODY=8BITMIME is refused.",
      .slot = &L::advertise_8bitmime},
    K{.name = "advertise_binarymime",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists BINARYMIME (RFC 3030). no: it does not, and "
                     "BODY=BINARYMIME is refused.",
      .slot = &L::advertise_binarymime},
    K{.name = "advertise_chunking",
      .type = T::kBool,
      .scope = S::kListener,
      .default_value = "yes",
      .description = "yes: the EHLO reply lists CHUNKING (RFC 3030). no: it does not, and BDAT "
                     "is refused.",
      .slot = &L::advertise_chunking},
};

// The compile-time checks of the table.

template <typename Member>
struct MemberTraits;
template <typename Class, typename Value>
struct MemberTraits<Value Class::*> {
  using ClassType = Class;
  using ValueType = Value;
};

template <typename Value, typename Variant>
struct AlternativeIndex;
template <typename Value, typename... Alternatives>
struct AlternativeIndex<Value, std::variant<Alternatives...>> {
  static constexpr size_t kValue = [] {
    size_t index = 0;
    for (bool same : {std::is_same_v<Value, Alternatives>...}) {
      if (same) return index;
      ++index;
    }
    return index;
  }();
};

// A member of enum type other than Role holds a kChoice key, as a Choice.
template <typename Value>
constexpr bool kHoldsChoice = std::is_enum_v<Value> && !std::is_same_v<Value, Role>;
template <typename Value>
using StoredAs = std::conditional_t<kHoldsChoice<Value>, Choice, Value>;

template <typename Value>
constexpr size_t kValueIndex = AlternativeIndex<StoredAs<Value>, ConfigValue>::kValue;

constexpr size_t ValueIndexOf(KeyType type) {
  switch (type) {
    case KeyType::kString:
    case KeyType::kPath:
      return kValueIndex<std::string>;
    case KeyType::kBool:
      return kValueIndex<bool>;
    case KeyType::kCount:
      return kValueIndex<uint32_t>;
    case KeyType::kSize:
      return kValueIndex<uint64_t>;
    case KeyType::kDuration:
      return kValueIndex<Duration>;
    case KeyType::kWords:
    case KeyType::kDomains:
      return kValueIndex<std::vector<std::string>>;
    case KeyType::kNetworks:
      return kValueIndex<std::vector<Network>>;
    case KeyType::kBindAddresses:
      return kValueIndex<std::vector<BindAddress>>;
    case KeyType::kNextHops:
      return kValueIndex<std::vector<NextHop>>;
    case KeyType::kRole:
      return kValueIndex<Role>;
    case KeyType::kChoice:
      return kValueIndex<Choice>;
  }
  return std::variant_size_v<ConfigValue>;
}

constexpr bool SlotFitsKey(const ConfigKey& key) {
  return std::visit(
      [&key](auto member) {
        using Traits = MemberTraits<decltype(member)>;
        bool in_listener = std::is_same_v<typename Traits::ClassType, ListenerConfig>;
        return in_listener == (key.scope != KeyScope::kGlobal) &&
               kValueIndex<typename Traits::ValueType> == ValueIndexOf(key.type);
      },
      key.slot);
}

constexpr bool EverySlotFits() { return std::all_of(kKeys.begin(), kKeys.end(), SlotFitsKey); }

constexpr bool NamesAreUnique() {
  for (size_t i = 0; i < kKeys.size(); ++i) {
    for (size_t j = i + 1; j < kKeys.size(); ++j) {
      if (kKeys[i].name == kKeys[j].name) return false;
    }
  }
  return true;
}

constexpr bool GlobalsComeFirst() {
  return std::is_partitioned(kKeys.begin(), kKeys.end(),
                             [](const ConfigKey& key) { return key.scope == KeyScope::kGlobal; });
}

constexpr bool OnlyListenerKeysDependOnRole() {
  return std::none_of(kKeys.begin(), kKeys.end(), [](const ConfigKey& key) {
    return key.relay_default.has_value() && key.scope == KeyScope::kGlobal;
  });
}

constexpr bool OnlyCountsHaveBounds() {
  return std::none_of(kKeys.begin(), kKeys.end(), [](const ConfigKey& key) {
    return (key.minimum != 0 || key.maximum != UINT32_MAX) && key.type != KeyType::kCount;
  });
}

constexpr bool OnlyChoicesHaveWords() {
  return std::all_of(kKeys.begin(), kKeys.end(), [](const ConfigKey& key) {
    return (key.type == KeyType::kChoice) == !key.choices.empty();
  });
}

static_assert(EverySlotFits(), "a key's member does not match its type or scope");
static_assert(NamesAreUnique(), "two keys share a name");
static_assert(GlobalsComeFirst(), "global keys must come before listener keys");
static_assert(OnlyListenerKeysDependOnRole(), "a global key has a relay default");
static_assert(OnlyCountsHaveBounds(), "a minimum or maximum on a key that is not a count");
static_assert(OnlyChoicesHaveWords(), "a choice key without words, or words on another key");

// Value syntax.

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// The words of a list value, as strings.
std::vector<std::string> ListWords(std::string_view text) {
  std::vector<std::string_view> words = SplitWords(text);
  return {words.begin(), words.end()};
}

// The leading decimal digits of a number and the suffix after them.
struct NumberAndSuffix {
  uint64_t number = 0;
  std::string_view suffix;
};
enum class NumberSplit { kOk, kNoDigits, kTooLarge };

NumberSplit SplitNumber(std::string_view text, NumberAndSuffix* out) {
  auto [end, code] = std::from_chars(text.data(), text.data() + text.size(), out->number);
  if (end == text.data()) return NumberSplit::kNoDigits;
  if (code == std::errc::result_out_of_range) return NumberSplit::kTooLarge;
  out->suffix = text.substr(end - text.data());
  return NumberSplit::kOk;
}

Result<ConfigValue> ParseCount(std::string_view text) {
  NumberAndSuffix split;
  NumberSplit result = SplitNumber(text, &split);
  if (result == NumberSplit::kNoDigits || (result == NumberSplit::kOk && !split.suffix.empty())) {
    return Status::Error(Quoted(text) + " is not a number");
  }
  if (result == NumberSplit::kTooLarge || split.number > std::numeric_limits<uint32_t>::max()) {
    return Status::Error(Quoted(text) + " is too large (at most 4294967295)");
  }
  return ConfigValue(std::in_place_type<uint32_t>, static_cast<uint32_t>(split.number));
}

// A number times the multiplier its suffix names, if the suffix is listed
// and the product fits. Shared by sizes and durations.
struct Unit {
  std::string_view suffix;
  uint64_t multiplier;
};

Result<uint64_t> ParseWithUnits(std::string_view text, std::span<const Unit> units, uint64_t limit,
                                const std::string& what) {
  NumberAndSuffix split;
  NumberSplit result = SplitNumber(text, &split);
  if (result == NumberSplit::kNoDigits) return Status::Error(Quoted(text) + " is not " + what);
  if (result == NumberSplit::kTooLarge) return Status::Error(Quoted(text) + " is too large");
  auto unit = std::find_if(units.begin(), units.end(),
                           [&split](const Unit& u) { return u.suffix == split.suffix; });
  if (unit == units.end()) return Status::Error(Quoted(text) + " is not " + what);
  if (split.number > limit / unit->multiplier) {
    return Status::Error(Quoted(text) + " is too large");
  }
  return split.number * unit->multiplier;
}

constexpr Unit kSizeUnits[] = {{"", 1},           {"k", 1ull << 10}, {"K", 1ull << 10},
                               {"m", 1ull << 20}, {"M", 1ull << 20}, {"g", 1ull << 30},
                               {"G", 1ull << 30}};
constexpr Unit kDurationUnits[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};

Result<ConfigValue> ParseSize(std::string_view text) {
  Result<uint64_t> bytes =
      ParseWithUnits(text, kSizeUnits, std::numeric_limits<uint64_t>::max(),
                     "a size (a number of bytes with an optional k, m or g suffix)");
  if (!bytes.ok()) return bytes.status();
  return ConfigValue(std::in_place_type<uint64_t>, *bytes);
}

Result<ConfigValue> ParseDuration(std::string_view text) {
  // Durations are kept in milliseconds; the limit keeps that product in range.
  constexpr uint64_t kMaxSeconds = std::numeric_limits<Duration::rep>::max() / 1000;
  Result<uint64_t> seconds =
      ParseWithUnits(text, kDurationUnits, kMaxSeconds,
                     "a duration (a number with an optional s, m, h or d suffix; a bare number "
                     "means seconds)");
  if (!seconds.ok()) return seconds.status();
  return ConfigValue(std::in_place_type<Duration>,
                     std::chrono::seconds(static_cast<Duration::rep>(*seconds)));
}

Result<ConfigValue> ParseBool(std::string_view text) {
  if (AsciiEqualsIgnoreCase(text, "yes")) return ConfigValue(true);
  if (AsciiEqualsIgnoreCase(text, "no")) return ConfigValue(false);
  return Status::Error(Quoted(text) + " is not yes or no");
}

Result<ConfigValue> ParseRole(std::string_view text) {
  if (AsciiEqualsIgnoreCase(text, "gateway")) return ConfigValue(Role::kGateway);
  if (AsciiEqualsIgnoreCase(text, "relay")) return ConfigValue(Role::kRelay);
  return Status::Error(Quoted(text) + " is not gateway or relay");
}

Result<ConfigValue> ParseChoice(std::string_view text, std::span<const std::string_view> choices) {
  for (size_t i = 0; i < choices.size(); ++i) {
    if (AsciiEqualsIgnoreCase(text, choices[i]))
      return ConfigValue(Choice{static_cast<uint8_t>(i), choices[i]});
  }
  return Status::Error(Quoted(text) + " is not " + ChoiceWords(choices));
}

std::string ResolvePath(std::string_view text, const std::string& config_dir) {
  if (text.empty() || text.front() == '/' || config_dir.empty()) return std::string(text);
  return config_dir + "/" + std::string(text);
}

std::vector<std::string> LowerCased(std::vector<std::string> words) {
  for (std::string& word : words) word = AsciiLowerCase(word);
  return words;
}

// Parses every word with Item::Parse; the first failure is the error.
template <typename Item>
Result<ConfigValue> ParseList(std::string_view text) {
  std::vector<Item> items;
  for (std::string_view word : SplitWords(text)) {
    Result<Item> item = Item::Parse(word);
    if (!item.ok()) return item.status();
    items.push_back(*item);
  }
  return ConfigValue(std::move(items));
}

// The largest unit that divides value exactly, or the bare number.
std::string FormatWithUnits(uint64_t value, std::span<const Unit> units_descending) {
  if (value == 0) return "0";
  for (const Unit& unit : units_descending) {
    if (value % unit.multiplier == 0) {
      return std::to_string(value / unit.multiplier) + std::string(unit.suffix);
    }
  }
  return std::to_string(value);
}

constexpr Unit kSizeFormat[] = {{"g", 1ull << 30}, {"m", 1ull << 20}, {"k", 1ull << 10}};
constexpr Unit kDurationFormat[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};

template <typename Item>
std::string JoinFormatted(const std::vector<Item>& items) {
  std::string text;
  for (const Item& item : items) {
    if (!text.empty()) text += ' ';
    if constexpr (std::is_same_v<Item, std::string>) {
      text += item;
    } else {
      text += item.ToString();
    }
  }
  return text;
}

// The postern.conf spelling of each kind of value; a uint64_t is always a size.
struct Formatter {
  std::string operator()(const std::string& text) const { return text; }
  std::string operator()(bool flag) const { return flag ? "yes" : "no"; }
  std::string operator()(uint32_t count) const { return std::to_string(count); }
  std::string operator()(uint64_t size) const { return FormatWithUnits(size, kSizeFormat); }
  std::string operator()(Duration duration) const {
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration).count();
    return FormatWithUnits(static_cast<uint64_t>(seconds), kDurationFormat);
  }
  std::string operator()(Role role) const { return std::string(RoleName(role)); }
  std::string operator()(Choice choice) const { return std::string(choice.word); }
  template <typename Item>
  std::string operator()(const std::vector<Item>& items) const {
    return JoinFormatted(items);
  }
};

// Whether a member pointer points into Object (Config or ListenerConfig).
// GetFrom and SetIn panic when asked for a key whose member is in the other.
template <typename Object, typename Member>
constexpr bool kMemberOf = std::is_same_v<typename MemberTraits<Member>::ClassType, Object>;

template <typename Object>
ConfigValue GetFrom(const ConfigKey& key, const Object& object) {
  return std::visit(
      [&](auto member) -> ConfigValue {
        if constexpr (kMemberOf<Object, decltype(member)>) {
          using Value = typename MemberTraits<decltype(member)>::ValueType;
          if constexpr (kHoldsChoice<Value>) {
            auto index = static_cast<uint8_t>(object.*member);
            return ConfigValue(Choice{index, key.choices[index]});
          } else {
            return ConfigValue(std::in_place_type<Value>, object.*member);
          }
        } else {
          PANIC("key %.*s is not held by this object", static_cast<int>(key.name.size()),
                key.name.data());
        }
      },
      key.slot);
}

template <typename Object>
void SetIn(const ConfigKey& key, ConfigValue value, Object* object) {
  std::visit(
      [&](auto member) {
        using Value = typename MemberTraits<decltype(member)>::ValueType;
        if constexpr (kMemberOf<Object, decltype(member)>) {
          if (!std::holds_alternative<StoredAs<Value>>(value)) {
            PANIC("key %.*s given a value of another type", static_cast<int>(key.name.size()),
                  key.name.data());
          }
          if constexpr (kHoldsChoice<Value>) {
            object->*member = static_cast<Value>(std::get<Choice>(value).index);
          } else {
            object->*member = std::get<Value>(std::move(value));
          }
        } else {
          PANIC("key %.*s is not held by this object", static_cast<int>(key.name.size()),
                key.name.data());
        }
      },
      key.slot);
}

}  // namespace

std::span<const ConfigKey> ConfigKeys() { return kKeys; }

const ConfigKey* FindConfigKey(std::string_view name) {
  auto key = std::find_if(kKeys.begin(), kKeys.end(),
                          [name](const ConfigKey& k) { return k.name == name; });
  return key == kKeys.end() ? nullptr : &*key;
}

std::string DefaultText(const ConfigKey& key, Role role) {
  if (key.system_default != nullptr) return key.system_default();
  if (role == Role::kRelay && key.relay_default) return std::string(*key.relay_default);
  return std::string(key.default_value);
}

std::string_view RoleName(Role role) { return role == Role::kRelay ? "relay" : "gateway"; }

std::string ChoiceWords(std::span<const std::string_view> choices) {
  std::string words;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) words += i + 1 == choices.size() ? " or " : ", ";
    words += choices[i];
  }
  return words;
}

Result<ConfigValue> ParseValue(KeyType type, std::string_view text, const std::string& config_dir,
                               std::span<const std::string_view> choices) {
  switch (type) {
    case KeyType::kString:
      return ConfigValue(std::string(text));
    case KeyType::kPath:
      return ConfigValue(ResolvePath(text, config_dir));
    case KeyType::kBool:
      return ParseBool(text);
    case KeyType::kCount:
      return ParseCount(text);
    case KeyType::kSize:
      return ParseSize(text);
    case KeyType::kDuration:
      return ParseDuration(text);
    case KeyType::kWords:
      return ConfigValue(ListWords(text));
    case KeyType::kDomains:
      return ConfigValue(LowerCased(ListWords(text)));
    case KeyType::kNetworks:
      return ParseList<Network>(text);
    case KeyType::kBindAddresses:
      return ParseList<BindAddress>(text);
    case KeyType::kNextHops:
      return ParseList<NextHop>(text);
    case KeyType::kRole:
      return ParseRole(text);
    case KeyType::kChoice:
      return ParseChoice(text, choices);
  }
  PANIC("unknown key type %d", static_cast<int>(type));
}

std::string FormatValue(const ConfigValue& value) { return std::visit(Formatter{}, value); }

ConfigValue GetValue(const ConfigKey& key, const Config& config) { return GetFrom(key, config); }

ConfigValue GetValue(const ConfigKey& key, const ListenerConfig& listener) {
  return GetFrom(key, listener);
}

void SetValue(const ConfigKey& key, ConfigValue value, Config* config) {
  SetIn(key, std::move(value), config);
}

void SetValue(const ConfigKey& key, ConfigValue value, ListenerConfig* listener) {
  SetIn(key, std::move(value), listener);
}

}  // namespace postern
