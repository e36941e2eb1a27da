// lib/config/config.h — the typed configuration of a postern installation.
//
// postern.conf is `key = value` lines, `#` comments, continuation lines that
// start with white space, and `[listener "NAME"]` sections. Every key is
// declared once in the key table (lib/config/config_keys.cc) with its type, scope
// and default (per role where the spec gives two); the parser, `postern
// config -d` and postern.conf(5) all read that table. A listener-scope key
// set at the top of the file is the default for every listener; set inside a
// section it overrides that default for one listener. An unknown key or a bad
// value is an error naming the file, the line and the key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/log_format.h"
#include "lib/base/status.h"
#include "lib/net/network.h"
#include "lib/smtp/next_hop.h"
#include "lib/smtp/relay_tls.h"

namespace postern {

enum class Role { kGateway, kRelay };

// The GnuTLS priority string of tls_priority's default (TLS 1.2 and 1.3),
// which qmgr's relay client uses as well: it has no key of its own.
// GnuTLS's NORMAL puts the P-256 group first, and under %SERVER_PRECEDENCE
// a TLS 1.3 server picks its own first group: a client that sent only an
// X25519 key share, as OpenSSL's do, then got a HelloRetryRequest, a second
// round trip and a costlier key exchange. X25519 goes first, the rest keep
// NORMAL's order.
inline constexpr char kDefaultTlsPriority[] =
    "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-GROUP-ALL:+GROUP-X25519:+GROUP-EC-ALL:+GROUP-DH-ALL:"
    "%SERVER_PRECEDENCE";

// bare_newline: what DATA does with a content line that ends in LF alone.
enum class BareNewline : uint8_t { kNormalize, kReject };
// auth_require_tls: which AUTH mechanisms wait for TLS.
enum class AuthRequireTls : uint8_t { kLogin, kAll };

struct ListenerConfig {
  std::string name;
  std::vector<BindAddress> bind;
  Role role = Role::kGateway;
  std::vector<Network> remote_networks;  // BindingNotConfigured when no match

  // MS-OXSMTP 3.2.6 / 3.2.7 limits; 0 switches a limit or timer off.
  Duration connection_timeout{};            // 5m gateway / 10m relay
  Duration inactivity_timeout{};            // 1m gateway / 5m relay
  uint64_t max_message_size = 0;            // 10485760
  uint64_t max_header_size = 0;             // 65536
  uint32_t max_recipients = 0;              // 200
  uint32_t max_hop_count = 0;               // 60
  uint32_t max_local_hop_count = 0;         // 12
  uint32_t message_rate_limit = 0;          // per minute: 600 per IP gateway / 5 per user relay
  uint32_t max_protocol_errors = 0;         // 5
  uint32_t max_logon_failures = 0;          // 3
  uint32_t max_connections = 0;             // 5000, this listener's own cap
  uint32_t max_connections_per_source = 0;  // 20, ConnectionCountPerSource (all listeners)
  Duration tarpit_interval{};               // 5s
  bool tarpit_at_connect = false;           // the greeting too waits tarpit_interval
  Duration acknowledgement_delay{};         // 30s
  std::vector<Network> blocked_networks;
  std::vector<std::string> block_list;       // files or DNSBL zones
  std::vector<std::string> auth_mechanisms;  // NTLM LOGIN

  bool require_tls = false;
  bool require_auth = false;
  bool sender_login_check = false;
  std::string sender_login_map;       // extra address -> logins file
  bool allow_plaintext_auth = false;  // LOGIN before TLS
  AuthRequireTls auth_require_tls = AuthRequireTls::kLogin;
  BareNewline bare_newline = BareNewline::kNormalize;
  bool tls_wrapper = false;
  // Two certificates, as Postfix's smtpd_tls_cert_file and
  // smtpd_tls_eccert_file: tls_cert_file of any key algorithm (usually
  // RSA), tls_eccert_file ECDSA or EdDSA only. Either pair, or both, may
  // be set; with both GnuTLS takes the EC one for a client that accepts
  // its signatures (lib/tls/tls_credentials.h).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_eccert_file;
  std::string tls_eckey_file;
  std::string tls_priority;

  // One switch per EHLO keyword; a switched-off extension is also refused.
  bool advertise_size = true;
  bool advertise_dsn = true;
  bool advertise_enhancedstatuscodes = true;
  bool advertise_pipelining = true;
  bool advertise_starttls = true;
  bool advertise_auth = true;
  bool advertise_8bitmime = true;
  bool advertise_binarymime = true;
  bool advertise_chunking = true;

  // Whether the listener can do TLS at all: a certificate in either pair
  // (lib/config/config refuses a certificate without its key).
  bool has_tls() const { return !tls_cert_file.empty() || !tls_eccert_file.empty(); }
};

struct Config {
  std::string config_dir;   // where postern.conf was read from
  std::string config_file;  // config_dir + "/postern.conf"

  std::string myhostname;
  std::string state_directory;  // LMDB queue under queue/, Maildirs under mail/
  std::string run_directory;    // sockets and master.pid
  std::string mail_directory;   // Maildir root; empty: state_directory/mail (MailDirectory())
  // Where log lines go (lib/base/log.h). When postern.conf does not set
  // it: file when log_file is set (and the deprecated log_syslog is not
  // yes), as before the key existed; else syslog.
  LogTarget log_target = LogTarget::kSyslog;
  LogFacility log_facility = LogFacility::kMail;
  std::string syslog_socket = "/dev/log";
  std::string log_file;     // log_target = file: the file every process appends to
  bool log_syslog = false;  // deprecated: yes is log_target = syslog
  uint32_t smtpd_workers = 2;
  // The Prometheus endpoint (metricsd); empty: none. One address at most.
  std::vector<BindAddress> metrics_listen;
  // ConnectionCountExceeded: concurrent connections, all listeners together; 0: no cap.
  uint32_t max_server_connections = 0;
  std::vector<NextHop> relayhost;  // tried in order; empty: none
  uint32_t relay_tcp_port = 25;    // of the MX hosts of a recipient domain
  RelayTls relay_tls = RelayTls::kMay;
  std::string relay_tls_ca_file;    // empty: the system trust store
  std::string relay_auth_user;      // empty: no AUTH to the next hop
  std::string relay_password_file;  // its first line: relay_auth_user's password
  bool relay_allow_plaintext_auth = false;
  uint32_t relay_concurrency_limit = 0;         // sessions to all next hops together
  uint32_t relay_destination_concurrency = 10;  // sessions at once per next hop
  // The relay client's timeouts: connect as Postfix's smtp_connect_timeout,
  // the rest RFC 5321 4.5.3.2's (lib/smtp/client_session.h).
  Duration relay_connect_timeout = std::chrono::seconds(30);
  Duration relay_greeting_timeout = std::chrono::minutes(5);
  Duration relay_mail_timeout = std::chrono::minutes(5);
  Duration relay_rcpt_timeout = std::chrono::minutes(5);
  Duration relay_data_init_timeout = std::chrono::minutes(2);
  Duration relay_data_block_timeout = std::chrono::minutes(3);
  Duration relay_data_done_timeout = std::chrono::minutes(10);
  Duration relay_command_timeout = std::chrono::minutes(5);
  uint32_t local_delivery_concurrency = 4;  // Maildir deliveries side by side
  // The wait after a failed delivery: minimal, doubling up to maximal.
  Duration minimal_backoff_time = std::chrono::minutes(5);
  Duration maximal_backoff_time = std::chrono::hours(1);
  Duration maximal_queue_lifetime = std::chrono::hours(5 * 24);
  Duration delay_warning_time = std::chrono::hours(4);
  uint64_t bounce_size_limit = 50000;
  std::vector<std::string> local_domains;  // lower-case
  std::string postmaster_address;          // empty: PostmasterAddress() picks one
  std::vector<Network> trusted_networks;
  bool client_reverse_lookup = true;
  std::vector<std::string> dns_nameservers;  // DNSBL, PTR, MX; empty: resolv.conf

  std::string smtpd_user;  // postern
  std::string queue_user;  // postern-queue
  std::string auth_user;   // postern-auth

  uint64_t queue_map_size = 0;  // LMDB map size in bytes
  // OutOfResources thresholds, checked by master at connect; 0: off.
  uint64_t min_free_disk_space = 0;
  uint64_t min_queue_map_space = 0;
  uint64_t min_free_memory = 0;
  Duration shutdown_grace{};           // how long SIGTERM waits for live sessions
  Duration handoff_timeout{};          // NewConnectionNotAvailable after this
  std::string daemon_directory;        // where master finds smtpd, qmgr and authd
  std::string sasldb_path;             // Cyrus SASL password database
  std::string auth_realm;              // empty: the sasldb's realm (lib/sasl/auth_realm)
  uint32_t auth_lockout_failures = 0;  // 10 per (client address, user)
  Duration auth_lockout_time{};        // 15m
  // Sources of valid local recipients: "sasldb" and map files (lib/smtp/local_recipients);
  // empty: every local address is accepted.
  std::vector<std::string> local_recipient_map;

  std::vector<ListenerConfig> listeners;
  // The listener keys as set above the first listener section, else their
  // defaults (for the role set there, else gateway): what every listener
  // starts from, and what `postern config KEY` shows for such a key. Its
  // name is empty and its bind unused.
  ListenerConfig listener_defaults;

  // The listener named `name`, or nullptr.
  const ListenerConfig* FindListener(std::string_view name) const;
  bool IsLocalDomain(std::string_view domain) const;  // case-insensitive
  // mail_directory, or state_directory/mail when it is empty.
  std::string MailDirectory() const;
  // Where <Postmaster> goes: postmaster_address, or postmaster@ the first
  // local domain, or postmaster@myhostname without local domains.
  std::string PostmasterAddress() const;
};

// Reads CONFIG_DIR/postern.conf. A relative config_dir is made absolute
// first, so that relative paths in the file survive a chdir.
Result<Config> LoadConfig(const std::string& config_dir);

// Parses text as if read from file_name (used in error messages).
Result<Config> ParseConfig(std::string_view text, const std::string& file_name,
                           const std::string& config_dir);

// One line of `postern config` output.
struct ConfigEntry {
  std::string key;    // "myhostname" or "listener.submission.require_tls"
  std::string value;  // as it would be written in postern.conf
  bool is_default = false;
};

enum class ConfigView { kEffective, kNonDefault, kDefaults };

// Every key with its value for the given view, in table order: global keys,
// then the listener keys that may be set above the first listener section
// (every one but bind) with their value there (Config::listener_defaults),
// then each listener's keys as listener.NAME.KEY.
//   kEffective:  every key with the value in force.
//   kNonDefault: only the keys whose value differs from their default; the
//                default of a role-dependent key is the one of the
//                listener's own role.
//   kDefaults:   every key with its built-in default, as if postern.conf set
//                nothing: so listener keys show the gateway default (gateway
//                being the default role); relay defaults are listed in
//                postern.conf(5). Paths are shown resolved against
//                config.config_dir.
std::vector<ConfigEntry> DescribeConfig(const Config& config, ConfigView view);

}  // namespace postern
