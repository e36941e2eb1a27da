// tests/lib/config/config_test.cc — unit tests of lib/config/config.h, lib/config/config_keys.h
// and lib/config/config_man.h.
//
// Expected values are the defaults of DESIGN.md and MS-OXSMTP 3.2.6/3.2.7,
// written out by hand. The ShippedFiles suite reads man/postern.conf.5 and
// conf/postern.conf from the source tree named by POSTERN_SRCDIR, which the
// test environment must set.
#define BOOST_TEST_DYN_LINK
#include "lib/config/config.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "lib/config/config_keys.h"
#include "lib/config/config_man.h"
#include "lib/config/install_dirs.h"

namespace postern {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const std::string kFile = "/etc/postern/postern.conf";
const std::string kDir = "/etc/postern";
const std::string kListener = "[listener \"smtp\"]\nbind = 127.0.0.1:2525\n";

Config Parse(const std::string& text) {
  Result<Config> config = ParseConfig(text, kFile, kDir);
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().message());
  return *config;
}

std::string ErrorOf(const std::string& text) {
  Result<Config> config = ParseConfig(text, kFile, kDir);
  BOOST_REQUIRE_MESSAGE(!config.ok(), "parsed without error:\n" << text);
  return config.status().message();
}

const ListenerConfig& Listener(const Config& config, const char* name) {
  const ListenerConfig* listener = config.FindListener(name);
  BOOST_REQUIRE_MESSAGE(listener != nullptr, "no listener " << name);
  return *listener;
}

ConfigValue Value(KeyType type, const std::string& text) {
  Result<ConfigValue> value = ParseValue(type, text, kDir);
  BOOST_REQUIRE_MESSAGE(value.ok(), value.status().message());
  return *value;
}

std::string ValueError(KeyType type, const std::string& text) {
  Result<ConfigValue> value = ParseValue(type, text, kDir);
  BOOST_REQUIRE_MESSAGE(!value.ok(), "\"" << text << "\" parsed");
  return value.status().message();
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  BOOST_REQUIRE(gethostname(name, sizeof name - 1) == 0);
  return name;
}

std::vector<std::string> Strings(const std::vector<Network>& networks) {
  std::vector<std::string> texts;
  for (const Network& network : networks) texts.push_back(network.ToString());
  return texts;
}

std::vector<std::string> Strings(const std::vector<BindAddress>& binds) {
  std::vector<std::string> texts;
  for (const BindAddress& bind : binds) texts.push_back(bind.ToString());
  return texts;
}

using Strs = std::vector<std::string>;

std::map<std::string, std::string> EntryMap(const std::vector<ConfigEntry>& entries) {
  std::map<std::string, std::string> map;
  for (const ConfigEntry& entry : entries) map[entry.key] = entry.value;
  return map;
}

const ConfigEntry& Entry(const std::vector<ConfigEntry>& entries, const std::string& key) {
  auto found = std::find_if(entries.begin(), entries.end(),
                            [&key](const ConfigEntry& e) { return e.key == key; });
  BOOST_REQUIRE_MESSAGE(found != entries.end(), "no entry " << key);
  return *found;
}

std::string SourceFile(const std::string& relative) {
  const char* srcdir = std::getenv("POSTERN_SRCDIR");
  BOOST_REQUIRE_MESSAGE(srcdir != nullptr && *srcdir != '\0',
                        "POSTERN_SRCDIR must name the source tree (the directory holding man/ "
                        "and conf/)");
  std::ifstream in(std::string(srcdir) + "/" + relative);
  BOOST_REQUIRE_MESSAGE(in.good(), "cannot open " << srcdir << "/" << relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ConfigValueSyntax)

BOOST_AUTO_TEST_CASE(Counts) {
  BOOST_TEST(std::get<uint32_t>(Value(KeyType::kCount, "200")) == 200u);
  BOOST_TEST(std::get<uint32_t>(Value(KeyType::kCount, "0")) == 0u);
  BOOST_TEST(std::get<uint32_t>(Value(KeyType::kCount, "4294967295")) == 4294967295u);
  BOOST_TEST(ValueError(KeyType::kCount, "4294967296") ==
             "\"4294967296\" is too large (at most 4294967295)");
  BOOST_TEST(ValueError(KeyType::kCount, "99999999999999999999999") ==
             "\"99999999999999999999999\" is too large (at most 4294967295)");
  for (const char* bad : {"abc", "", "12x", "-1", "+1", "1 2", "10k"}) {
    BOOST_TEST(ValueError(KeyType::kCount, bad) == "\"" + std::string(bad) + "\" is not a number");
  }
}

BOOST_AUTO_TEST_CASE(SizesTakeBinarySuffixes) {
  BOOST_TEST(std::get<uint64_t>(Value(KeyType::kSize, "10485760")) == 10485760u);
  BOOST_TEST(std::get<uint64_t>(Value(KeyType::kSize, "10m")) == 10485760u);
  BOOST_TEST(std::get<uint64_t>(Value(KeyType::kSize, "10M")) == 10485760u);
  BOOST_TEST(std::get<uint64_t>(Value(KeyType::kSize, "64k")) == 65536u);
  BOOST_TEST(std::get<uint64_t>(Value(KeyType::kSize, "64K")) == 65536u);
  BOOST_TEST(std::get<uint64_t>(Value(KeyType::kSize, "1g")) == 1073741824u);
  BOOST_TEST(std::get<uint64_t>(Value(KeyType::kSize, "0")) == 0u);
  const std::string what = " is not a size (a number of bytes with an optional k, m or g suffix)";
  for (const char* bad : {"10x", "m", "", "10 m", "10mb", "-5"}) {
    BOOST_TEST(ValueError(KeyType::kSize, bad) == "\"" + std::string(bad) + "\"" + what);
  }
  BOOST_TEST(ValueError(KeyType::kSize, "17179869184g") == "\"17179869184g\" is too large");
}

BOOST_AUTO_TEST_CASE(DurationsTakeSuffixesAndABareNumberIsSeconds) {
  BOOST_TEST((std::get<Duration>(Value(KeyType::kDuration, "30")) == seconds(30)));
  BOOST_TEST((std::get<Duration>(Value(KeyType::kDuration, "30s")) == seconds(30)));
  BOOST_TEST((std::get<Duration>(Value(KeyType::kDuration, "5m")) == minutes(5)));
  BOOST_TEST((std::get<Duration>(Value(KeyType::kDuration, "2h")) == hours(2)));
  BOOST_TEST((std::get<Duration>(Value(KeyType::kDuration, "1d")) == hours(24)));
  BOOST_TEST((std::get<Duration>(Value(KeyType::kDuration, "0")) == seconds(0)));
  const std::string what =
      " is not a duration (a number with an optional s, m, h or d suffix; a bare number means "
      "seconds)";
  for (const char* bad : {"5w", "m", "", "1m30s", "5 m", "5M", "1.5h"}) {
    BOOST_TEST(ValueError(KeyType::kDuration, bad) == "\"" + std::string(bad) + "\"" + what);
  }
  BOOST_TEST(ValueError(KeyType::kDuration, "999999999999999999d") ==
             "\"999999999999999999d\" is too large");
}

BOOST_AUTO_TEST_CASE(BooleansAreYesOrNo) {
  BOOST_TEST(std::get<bool>(Value(KeyType::kBool, "yes")) == true);
  BOOST_TEST(std::get<bool>(Value(KeyType::kBool, "no")) == false);
  BOOST_TEST(std::get<bool>(Value(KeyType::kBool, "Yes")) == true);
  BOOST_TEST(ValueError(KeyType::kBool, "true") == "\"true\" is not yes or no");
  BOOST_TEST(ValueError(KeyType::kBool, "1") == "\"1\" is not yes or no");
  BOOST_TEST(ValueError(KeyType::kBool, "") == "\"\" is not yes or no");
}

BOOST_AUTO_TEST_CASE(RolesAreGatewayOrRelay) {
  BOOST_TEST((std::get<Role>(Value(KeyType::kRole, "gateway")) == Role::kGateway));
  BOOST_TEST((std::get<Role>(Value(KeyType::kRole, "relay")) == Role::kRelay));
  BOOST_TEST(ValueError(KeyType::kRole, "edge") == "\"edge\" is not gateway or relay");
}

BOOST_AUTO_TEST_CASE(ChoicesAreOneOfTheKeysWords) {
  const ConfigKey& key = *FindConfigKey("bare_newline");
  Result<ConfigValue> reject = ParseValue(key.type, "Reject", kDir, key.choices);
  BOOST_REQUIRE(reject.ok());
  BOOST_TEST(FormatValue(*reject) == "reject");
  ListenerConfig listener;
  SetValue(key, *reject, &listener);
  BOOST_TEST((listener.bare_newline == BareNewline::kReject));
  BOOST_TEST(FormatValue(GetValue(key, listener)) == "reject");
  Result<ConfigValue> other = ParseValue(key.type, "strip", kDir, key.choices);
  BOOST_TEST(!other.ok());
  BOOST_TEST(other.status().message() == "\"strip\" is not normalize or reject");
}

BOOST_AUTO_TEST_CASE(WordListsSplitOnWhiteSpaceAndCommas) {
  BOOST_TEST((std::get<Strs>(Value(KeyType::kWords, "NTLM, LOGIN \t PLAIN,,x")) ==
              Strs{"NTLM", "LOGIN", "PLAIN", "x"}));
  BOOST_TEST(std::get<Strs>(Value(KeyType::kWords, "")).empty());
  BOOST_TEST((std::get<Strs>(Value(KeyType::kDomains, "Example.TEST other.test")) ==
              Strs{"example.test", "other.test"}));
}

BOOST_AUTO_TEST_CASE(NetworkAndBindLists) {
  BOOST_TEST((Strings(std::get<std::vector<Network>>(
                  Value(KeyType::kNetworks, "127.0.0.0/8 ::1/128, 192.0.2.1"))) ==
              Strs{"127.0.0.0/8", "::1/128", "192.0.2.1/32"}));
  BOOST_TEST(std::get<std::vector<Network>>(Value(KeyType::kNetworks, "")).empty());
  BOOST_TEST(ValueError(KeyType::kNetworks, "127.0.0.0/8 10.0.0.0/33") ==
             "\"10.0.0.0/33\" is not an IP network: prefix length \"33\" is not a number from 0 "
             "to 32");
  BOOST_TEST(
      (Strings(std::get<std::vector<BindAddress>>(Value(
           KeyType::kBindAddresses, "0.0.0.0:25 [::]:25"))) == Strs{"0.0.0.0:25", "[::]:25"}));
  BOOST_TEST(ValueError(KeyType::kBindAddresses, "0.0.0.0") ==
             "\"0.0.0.0\" is not a bind address: expected ADDRESS:PORT or [IPV6-ADDRESS]:PORT");
}

BOOST_AUTO_TEST_CASE(PathsAreRelativeToTheConfigDirectory) {
  BOOST_TEST(std::get<std::string>(Value(KeyType::kPath, "sasldb2")) == "/etc/postern/sasldb2");
  BOOST_TEST(std::get<std::string>(Value(KeyType::kPath, "tls/cert.pem")) ==
             "/etc/postern/tls/cert.pem");
  BOOST_TEST(std::get<std::string>(Value(KeyType::kPath, "/srv/mail")) == "/srv/mail");
  BOOST_TEST(std::get<std::string>(Value(KeyType::kPath, "")) == "");
  BOOST_TEST(std::get<std::string>(Value(KeyType::kString, "[127.0.0.1]:2526")) ==
             "[127.0.0.1]:2526");
}

BOOST_AUTO_TEST_CASE(FormatUsesTheLargestExactUnit) {
  BOOST_TEST(FormatValue(Duration(minutes(5))) == "5m");
  BOOST_TEST(FormatValue(Duration(seconds(90))) == "90s");
  BOOST_TEST(FormatValue(Duration(hours(1))) == "1h");
  BOOST_TEST(FormatValue(Duration(hours(48))) == "2d");
  BOOST_TEST(FormatValue(Duration(seconds(7260))) == "121m");
  BOOST_TEST(FormatValue(Duration(0)) == "0");
  BOOST_TEST(FormatValue(ConfigValue(std::in_place_type<uint64_t>, 10485760)) == "10m");
  BOOST_TEST(FormatValue(ConfigValue(std::in_place_type<uint64_t>, 65536)) == "64k");
  BOOST_TEST(FormatValue(ConfigValue(std::in_place_type<uint64_t>, 1073741824)) == "1g");
  BOOST_TEST(FormatValue(ConfigValue(std::in_place_type<uint64_t>, 1536)) == "1536");
  BOOST_TEST(FormatValue(ConfigValue(std::in_place_type<uint64_t>, 0)) == "0");
  BOOST_TEST(FormatValue(ConfigValue(std::in_place_type<uint32_t>, 200)) == "200");
}

BOOST_AUTO_TEST_CASE(FormatWritesOtherValuesAsInPosternConf) {
  BOOST_TEST(FormatValue(true) == "yes");
  BOOST_TEST(FormatValue(false) == "no");
  BOOST_TEST(FormatValue(Role::kRelay) == "relay");
  BOOST_TEST(FormatValue(Strs{"NTLM", "LOGIN"}) == "NTLM LOGIN");
  BOOST_TEST(FormatValue(Strs{}) == "");
  BOOST_TEST(FormatValue(Value(KeyType::kNetworks, "127.0.0.0/8,::1/128")) ==
             "127.0.0.0/8 ::1/128");
  BOOST_TEST(FormatValue(Value(KeyType::kBindAddresses, "127.0.0.1:2525  [::1]:2525")) ==
             "127.0.0.1:2525 [::1]:2525");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ConfigKeyTable)

BOOST_AUTO_TEST_CASE(HoldsEveryKeyOfTheOperatorContract) {
  const Strs globals = {"myhostname",
                        "state_directory",
                        "run_directory",
                        "mail_directory",
                        "log_file",
                        "log_syslog",
                        "log_target",
                        "log_facility",
                        "metrics_listen",
                        "syslog_socket",
                        "smtpd_workers",
                        "max_server_connections",
                        "relayhost",
                        "relay_tls",
                        "relay_tls_ca_file",
                        "relay_auth_user",
                        "relay_password_file",
                        "relay_allow_plaintext_auth",
                        "relay_tcp_port",
                        "relay_destination_concurrency",
                        "relay_concurrency_limit",
                        "relay_connect_timeout",
                        "relay_greeting_timeout",
                        "relay_mail_timeout",
                        "relay_rcpt_timeout",
                        "relay_data_init_timeout",
                        "relay_data_block_timeout",
                        "relay_data_done_timeout",
                        "relay_command_timeout",
                        "local_domains",
                        "local_delivery_concurrency",
                        "minimal_backoff_time",
                        "maximal_backoff_time",
                        "maximal_queue_lifetime",
                        "delay_warning_time",
                        "bounce_size_limit",
                        "postmaster_address",
                        "trusted_networks",
                        "client_reverse_lookup",
                        "dns_nameservers",
                        "smtpd_user",
                        "queue_user",
                        "auth_user",
                        "queue_map_size",
                        "min_free_disk_space",
                        "min_queue_map_space",
                        "min_free_memory",
                        "shutdown_grace",
                        "handoff_timeout",
                        "daemon_directory",
                        "sasldb_path",
                        "auth_realm",
                        "auth_lockout_failures",
                        "auth_lockout_time",
                        "local_recipient_map"};
  const Strs listener = {"bind",
                         "role",
                         "remote_networks",
                         "connection_timeout",
                         "inactivity_timeout",
                         "max_message_size",
                         "max_header_size",
                         "max_recipients",
                         "max_hop_count",
                         "max_local_hop_count",
                         "bare_newline",
                         "message_rate_limit",
                         "max_protocol_errors",
                         "max_logon_failures",
                         "max_connections",
                         "max_connections_per_source",
                         "tarpit_interval",
                         "tarpit_at_connect",
                         "acknowledgement_delay",
                         "blocked_networks",
                         "block_list",
                         "auth_mechanisms",
                         "require_tls",
                         "require_auth",
                         "sender_login_check",
                         "sender_login_map",
                         "allow_plaintext_auth",
                         "auth_require_tls",
                         "tls_wrapper",
                         "tls_cert_file",
                         "tls_key_file",
                         "tls_eccert_file",
                         "tls_eckey_file",
                         "tls_priority",
                         "advertise_size",
                         "advertise_dsn",
                         "advertise_enhancedstatuscodes",
                         "advertise_pipelining",
                         "advertise_starttls",
                         "advertise_auth",
                         "advertise_8bitmime",
                         "advertise_binarymime",
                         "advertise_chunking"};
  Strs table_globals;
  Strs table_listener;
  for (const ConfigKey& key : ConfigKeys()) {
    (key.scope == KeyScope::kGlobal ? table_globals : table_listener).emplace_back(key.name);
  }
  BOOST_TEST(table_globals == globals, boost::test_tools::per_element());
  BOOST_TEST(table_listener == listener, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(FindsKeysByName) {
  const ConfigKey* key = FindConfigKey("max_recipients");
  BOOST_REQUIRE(key != nullptr);
  BOOST_TEST(key->name == "max_recipients");
  BOOST_TEST((key->type == KeyType::kCount));
  BOOST_TEST((key->scope == KeyScope::kListener));
  BOOST_TEST(FindConfigKey("max_recipent") == nullptr);
  BOOST_TEST((FindConfigKey("bind")->scope == KeyScope::kListenerOnly));
  BOOST_TEST((FindConfigKey("myhostname")->scope == KeyScope::kGlobal));
}

BOOST_AUTO_TEST_CASE(OnlyTheSpecsRoleTimersAndRateDependOnRole) {
  std::map<std::string, std::pair<std::string, std::string>> role_dependent;
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.relay_default) {
      role_dependent[std::string(key.name)] = {DefaultText(key, Role::kGateway),
                                               DefaultText(key, Role::kRelay)};
    }
  }
  std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"connection_timeout", {"5m", "10m"}},
      {"inactivity_timeout", {"1m", "5m"}},
      {"message_rate_limit", {"600", "5"}}};
  BOOST_TEST((role_dependent == expected));
}

BOOST_AUTO_TEST_CASE(EveryKeyHasADescriptionAndADefaultThatParses) {
  for (const ConfigKey& key : ConfigKeys()) {
    BOOST_TEST_CONTEXT("key " << key.name) {
      BOOST_TEST(!key.description.empty());
      for (Role role : {Role::kGateway, Role::kRelay}) {
        Result<ConfigValue> value = ParseValue(key.type, DefaultText(key, role), kDir, key.choices);
        BOOST_TEST(value.ok(), value.status().message());
      }
    }
  }
}

// The man page prints the table's defaults and `postern config -d` prints
// formatted values; they agree only if the table writes them canonically.
BOOST_AUTO_TEST_CASE(DefaultsAreWrittenAsPosternConfigPrintsThem) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (!key.default_doc.empty()) continue;  // computed, build- or directory-dependent
    for (Role role : {Role::kGateway, Role::kRelay}) {
      std::string text = DefaultText(key, role);
      Result<ConfigValue> value = ParseValue(key.type, text, kDir, key.choices);
      BOOST_REQUIRE(value.ok());
      BOOST_TEST(FormatValue(*value) == text, "key " << key.name);
    }
  }
}

BOOST_AUTO_TEST_CASE(GetAndSetReachTheMembers) {
  Config config;
  SetValue(*FindConfigKey("smtpd_workers"), ConfigValue(std::in_place_type<uint32_t>, 7), &config);
  BOOST_TEST(config.smtpd_workers == 7u);
  ListenerConfig listener;
  listener.max_recipients = 42;
  BOOST_TEST(std::get<uint32_t>(GetValue(*FindConfigKey("max_recipients"), listener)) == 42u);
  SetValue(*FindConfigKey("tarpit_interval"), ConfigValue(Duration(seconds(3))), &listener);
  BOOST_TEST((listener.tarpit_interval == seconds(3)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ConfigParse)

BOOST_AUTO_TEST_CASE(GlobalDefaults) {
  Config config = Parse(kListener);
  BOOST_TEST(config.config_dir == "/etc/postern");
  BOOST_TEST(config.config_file == "/etc/postern/postern.conf");
  BOOST_TEST(config.myhostname == HostName());
  // configure's localstatedir/lib/postern and runstatedir/postern.
  BOOST_TEST(config.state_directory == POSTERN_STATE_DIR);
  BOOST_TEST(config.run_directory == POSTERN_RUN_DIR);
  BOOST_TEST(config.mail_directory == "");
  BOOST_TEST(config.MailDirectory() == POSTERN_STATE_DIR "/mail");
  BOOST_TEST(config.log_file == "");
  BOOST_TEST(config.log_syslog == false);
  BOOST_TEST((config.log_target == LogTarget::kSyslog));
  BOOST_TEST((config.log_facility == LogFacility::kMail));
  BOOST_TEST(config.syslog_socket == "/dev/log");
  BOOST_TEST(config.smtpd_workers == 2u);
  BOOST_TEST(config.max_server_connections == 5000u);  // MS-OXSMTP 3.2.7 ConnectionCountExceeded
  BOOST_TEST(config.relayhost.empty());
  BOOST_TEST(config.local_domains.empty());
  BOOST_TEST((Strings(config.trusted_networks) == Strs{"127.0.0.0/8", "::1/128"}));
  BOOST_TEST(config.client_reverse_lookup == true);
  BOOST_TEST(config.smtpd_user == "postern");
  BOOST_TEST(config.queue_user == "postern-queue");
  BOOST_TEST(config.auth_user == "postern-auth");
  BOOST_TEST(config.queue_map_size == 0u);
  BOOST_TEST((config.shutdown_grace == seconds(30)));
  BOOST_TEST((config.handoff_timeout == seconds(10)));
  BOOST_TEST(config.daemon_directory == POSTERN_DAEMON_DIR);
  BOOST_TEST(config.sasldb_path == "/etc/postern/sasldb2");
  BOOST_TEST(config.postmaster_address == "");
}

// RFC 5321 4.5.1: <Postmaster> goes to a mailbox of the first local domain.
BOOST_AUTO_TEST_CASE(PostmasterAddressDefaultsToTheFirstLocalDomain) {
  BOOST_TEST(Parse("myhostname = mx.example.test\n" + kListener).PostmasterAddress() ==
             "postmaster@mx.example.test");
  BOOST_TEST(Parse("local_domains = Example.test other.test\n" + kListener).PostmasterAddress() ==
             "postmaster@example.test");
  BOOST_TEST(
      Parse("postmaster_address = hostmaster@example.test\n" + kListener).PostmasterAddress() ==
      "hostmaster@example.test");
  BOOST_TEST(ErrorOf("postmaster_address = postmaster\n" + kListener) ==
             "/etc/postern/postern.conf:1: postmaster_address: \"postmaster\" is not a mailbox "
             "(local-part@domain): it has no domain");
  BOOST_TEST(
      ErrorOf("postmaster_address = a b@example.test\n" + kListener)
          .find("/etc/postern/postern.conf:1: postmaster_address: \"a b@example.test\" is not "
                "a mailbox") == 0u);
}

// The retry back-off: 5m doubling to 1h by default; never 0, and the
// ceiling never under the first wait.
BOOST_AUTO_TEST_CASE(BackoffKeysDefaultAndMustMakeSense) {
  Config defaults = Parse(kListener);
  BOOST_TEST((defaults.minimal_backoff_time == std::chrono::minutes(5)));
  BOOST_TEST((defaults.maximal_backoff_time == std::chrono::hours(1)));
  Config set = Parse("minimal_backoff_time = 30s\nmaximal_backoff_time = 10m\n" + kListener);
  BOOST_TEST((set.minimal_backoff_time == std::chrono::seconds(30)));
  BOOST_TEST((set.maximal_backoff_time == std::chrono::minutes(10)));
  BOOST_TEST(ErrorOf("minimal_backoff_time = 0\n" + kListener) ==
             "/etc/postern/postern.conf:1: minimal_backoff_time: must be more than 0");
  BOOST_TEST(ErrorOf("minimal_backoff_time = 2h\n" + kListener) ==
             "/etc/postern/postern.conf:1: maximal_backoff_time: must be at least "
             "minimal_backoff_time (2h)");
  BOOST_TEST(ErrorOf("minimal_backoff_time = 10m\nmaximal_backoff_time = 5m\n" + kListener) ==
             "/etc/postern/postern.conf:2: maximal_backoff_time: must be at least "
             "minimal_backoff_time (10m)");
}

BOOST_AUTO_TEST_CASE(LifetimeKeysDefaultAndMustMakeSense) {
  Config defaults = Parse(kListener);
  BOOST_TEST((defaults.maximal_queue_lifetime == std::chrono::hours(5 * 24)));
  BOOST_TEST((defaults.delay_warning_time == std::chrono::hours(4)));
  BOOST_TEST(defaults.bounce_size_limit == 50000u);
  Config set = Parse(
      "maximal_queue_lifetime = 2d\ndelay_warning_time = 0\nbounce_size_limit = 1k\n" + kListener);
  BOOST_TEST((set.maximal_queue_lifetime == std::chrono::hours(48)));
  BOOST_TEST((set.delay_warning_time == Duration::zero()));
  BOOST_TEST(set.bounce_size_limit == 1024u);
  BOOST_TEST(ErrorOf("maximal_queue_lifetime = 0\n" + kListener) ==
             "/etc/postern/postern.conf:1: maximal_queue_lifetime: must be more than 0");
}

// The relay client's keys: TLS may, no credentials, no AUTH in cleartext,
// 10 sessions per destination; MX hosts on port 25; relay_tls is one of four words.
BOOST_AUTO_TEST_CASE(RelayKeysDefaultAndParse) {
  Config defaults = Parse(kListener);
  BOOST_TEST((defaults.relay_tls == RelayTls::kMay));
  BOOST_TEST(defaults.relay_tls_ca_file.empty());
  BOOST_TEST(defaults.relay_auth_user.empty());
  BOOST_TEST(defaults.relay_password_file.empty());
  BOOST_TEST(!defaults.relay_allow_plaintext_auth);
  BOOST_TEST(defaults.relay_destination_concurrency == 10u);
  BOOST_TEST(defaults.relay_tcp_port == 25u);
  const std::pair<const char*, RelayTls> words[] = {{"none", RelayTls::kNone},
                                                    {"may", RelayTls::kMay},
                                                    {"Encrypt", RelayTls::kEncrypt},
                                                    {"VERIFY", RelayTls::kVerify}};
  for (const auto& [word, tls] : words) {
    BOOST_TEST((Parse(std::string("relay_tls = ") + word + "\n" + kListener).relay_tls == tls),
               word);
  }
  Config set = Parse(
      "relay_tls_ca_file = ca.pem\nrelay_auth_user = relay@example.test\n"
      "relay_password_file = /etc/postern/relay.pw\nrelay_allow_plaintext_auth = yes\n"
      "relay_destination_concurrency = 50\nrelay_tcp_port = 2525\n" +
      kListener);
  BOOST_TEST(set.relay_tls_ca_file == "/etc/postern/ca.pem");
  BOOST_TEST(set.relay_auth_user == "relay@example.test");
  BOOST_TEST(set.relay_password_file == "/etc/postern/relay.pw");
  BOOST_TEST(set.relay_allow_plaintext_auth);
  BOOST_TEST(set.relay_destination_concurrency == 50u);
  BOOST_TEST(set.relay_tcp_port == 2525u);
  BOOST_TEST(ErrorOf("relay_tcp_port = 0\n" + kListener) ==
             "/etc/postern/postern.conf:1: relay_tcp_port: must be at least 1");
  BOOST_TEST(ErrorOf("relay_tcp_port = 65536\n" + kListener) ==
             "/etc/postern/postern.conf:1: relay_tcp_port: must be at most 65535");
  BOOST_TEST(ErrorOf("relay_tls = dane\n" + kListener) ==
             "/etc/postern/postern.conf:1: relay_tls: \"dane\" is not none, may, encrypt or "
             "verify");
  BOOST_TEST(ErrorOf("relay_destination_concurrency = 0\n" + kListener) ==
             "/etc/postern/postern.conf:1: relay_destination_concurrency: must be at least 1");
}

// The relay client's timeouts: 30 s to connect (Postfix's
// smtp_connect_timeout), RFC 5321 4.5.3.2's minimums for the replies;
// each can be set, none can be 0.
BOOST_AUTO_TEST_CASE(RelayTimeoutsDefaultAndParse) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  Config defaults = Parse(kListener);
  BOOST_TEST((defaults.relay_connect_timeout == seconds(30)));
  BOOST_TEST((defaults.relay_greeting_timeout == minutes(5)));
  BOOST_TEST((defaults.relay_mail_timeout == minutes(5)));
  BOOST_TEST((defaults.relay_rcpt_timeout == minutes(5)));
  BOOST_TEST((defaults.relay_data_init_timeout == minutes(2)));
  BOOST_TEST((defaults.relay_data_block_timeout == minutes(3)));
  BOOST_TEST((defaults.relay_data_done_timeout == minutes(10)));
  BOOST_TEST((defaults.relay_command_timeout == minutes(5)));
  Config set = Parse(
      "relay_connect_timeout = 1s\nrelay_greeting_timeout = 2s\nrelay_mail_timeout = 3s\n"
      "relay_rcpt_timeout = 4s\nrelay_data_init_timeout = 5s\nrelay_data_block_timeout = 6s\n"
      "relay_data_done_timeout = 7s\nrelay_command_timeout = 1m\n" +
      kListener);
  BOOST_TEST((set.relay_connect_timeout == seconds(1)));
  BOOST_TEST((set.relay_greeting_timeout == seconds(2)));
  BOOST_TEST((set.relay_mail_timeout == seconds(3)));
  BOOST_TEST((set.relay_rcpt_timeout == seconds(4)));
  BOOST_TEST((set.relay_data_init_timeout == seconds(5)));
  BOOST_TEST((set.relay_data_block_timeout == seconds(6)));
  BOOST_TEST((set.relay_data_done_timeout == seconds(7)));
  BOOST_TEST((set.relay_command_timeout == minutes(1)));
  BOOST_TEST(ErrorOf("relay_greeting_timeout = 0\n" + kListener) ==
             "/etc/postern/postern.conf:1: relay_greeting_timeout: must be more than 0");
  BOOST_TEST(ErrorOf("myhostname = a.test\nrelay_connect_timeout = 0s\n" + kListener) ==
             "/etc/postern/postern.conf:2: relay_connect_timeout: must be more than 0");
  BOOST_TEST(ErrorOf("relay_data_done_timeout = soon\n" + kListener)
                 .find("/etc/postern/postern.conf:1: relay_data_done_timeout: ") == 0u);
}

BOOST_AUTO_TEST_CASE(GatewayListenerDefaults) {
  Config config = Parse(kListener);
  const ListenerConfig& l = Listener(config, "smtp");
  BOOST_TEST(l.name == "smtp");
  BOOST_TEST((Strings(l.bind) == Strs{"127.0.0.1:2525"}));
  BOOST_TEST((l.role == Role::kGateway));
  BOOST_TEST((Strings(l.remote_networks) == Strs{"0.0.0.0/0", "::/0"}));
  BOOST_TEST((l.connection_timeout == minutes(5)));
  BOOST_TEST((l.inactivity_timeout == minutes(1)));
  BOOST_TEST(l.max_message_size == 10485760u);
  BOOST_TEST(l.max_header_size == 65536u);
  BOOST_TEST(l.max_recipients == 200u);
  BOOST_TEST(l.max_hop_count == 60u);
  BOOST_TEST(l.max_local_hop_count == 12u);
  BOOST_TEST(l.message_rate_limit == 600u);
  BOOST_TEST(l.max_protocol_errors == 5u);
  BOOST_TEST(l.max_logon_failures == 3u);
  BOOST_TEST(l.max_connections == 5000u);
  BOOST_TEST(l.max_connections_per_source == 20u);
  BOOST_TEST((l.tarpit_interval == seconds(5)));
  BOOST_TEST(l.tarpit_at_connect == false);
  BOOST_TEST((l.acknowledgement_delay == seconds(0)));
  BOOST_TEST((l.bare_newline == BareNewline::kNormalize));
  BOOST_TEST((l.auth_require_tls == AuthRequireTls::kLogin));
  BOOST_TEST(l.blocked_networks.empty());
  BOOST_TEST(l.block_list.empty());
  BOOST_TEST((l.auth_mechanisms == Strs{"NTLM", "LOGIN"}));
  BOOST_TEST(l.require_tls == false);
  BOOST_TEST(l.require_auth == false);
  BOOST_TEST(l.sender_login_check == false);
  BOOST_TEST(l.tls_wrapper == false);
  BOOST_TEST(l.tls_cert_file == "");
  BOOST_TEST(l.tls_key_file == "");
  BOOST_TEST(l.tls_eccert_file == "");
  BOOST_TEST(l.tls_eckey_file == "");
  BOOST_TEST(!l.has_tls());
  BOOST_TEST(
      l.tls_priority ==
      "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-GROUP-ALL:+GROUP-X25519:+GROUP-EC-ALL:+GROUP-DH-ALL:"
      "%SERVER_PRECEDENCE");
  BOOST_TEST(l.advertise_size);
  BOOST_TEST(l.advertise_dsn);
  BOOST_TEST(l.advertise_enhancedstatuscodes);
  BOOST_TEST(l.advertise_pipelining);
  BOOST_TEST(l.advertise_starttls);
  BOOST_TEST(l.advertise_auth);
  BOOST_TEST(l.advertise_8bitmime);
  BOOST_TEST(l.advertise_binarymime);
  BOOST_TEST(l.advertise_chunking);
}

BOOST_AUTO_TEST_CASE(RelayListenerDefaults) {
  Config config = Parse("[listener \"sub\"]\nrole = relay\nbind = 127.0.0.1:5587\n");
  const ListenerConfig& l = Listener(config, "sub");
  BOOST_TEST((l.role == Role::kRelay));
  BOOST_TEST((l.connection_timeout == minutes(10)));
  BOOST_TEST((l.inactivity_timeout == minutes(5)));
  BOOST_TEST(l.message_rate_limit == 5u);
  // The rest does not depend on the role.
  BOOST_TEST(l.max_recipients == 200u);
  BOOST_TEST(l.max_message_size == 10485760u);
  BOOST_TEST((l.tarpit_interval == seconds(5)));
}

BOOST_AUTO_TEST_CASE(RoleDefaultsFollowARoleSetAfterTheKey) {
  Config config = Parse(
      "[listener \"sub\"]\n"
      "bind = 127.0.0.1:5587\n"
      "max_recipients = 100\n"
      "role = relay\n");
  const ListenerConfig& l = Listener(config, "sub");
  BOOST_TEST((l.connection_timeout == minutes(10)));
  BOOST_TEST((l.inactivity_timeout == minutes(5)));
  BOOST_TEST(l.message_rate_limit == 5u);
}

BOOST_AUTO_TEST_CASE(TopLevelRoleIsTheDefaultRoleOfEveryListener) {
  Config config = Parse(
      "role = relay\n"
      "[listener \"a\"]\nbind = 127.0.0.1:1\n"
      "[listener \"b\"]\nbind = 127.0.0.1:2\nrole = gateway\n");
  BOOST_TEST((Listener(config, "a").role == Role::kRelay));
  BOOST_TEST((Listener(config, "a").connection_timeout == minutes(10)));
  BOOST_TEST((Listener(config, "b").role == Role::kGateway));
  BOOST_TEST((Listener(config, "b").connection_timeout == minutes(5)));
}

BOOST_AUTO_TEST_CASE(ExplicitValuesWinOverRoleDefaults) {
  Config config = Parse(
      "connection_timeout = 7m\n"
      "[listener \"a\"]\nbind = 127.0.0.1:1\nrole = relay\n"
      "[listener \"b\"]\nbind = 127.0.0.1:2\nconnection_timeout = 2m\ninactivity_timeout = 0\n"
      "message_rate_limit = 50\nrole = relay\n");
  const ListenerConfig& a = Listener(config, "a");
  BOOST_TEST((a.connection_timeout == minutes(7)));  // top level beats the relay default
  BOOST_TEST((a.inactivity_timeout == minutes(5)));
  const ListenerConfig& b = Listener(config, "b");
  BOOST_TEST((b.connection_timeout == minutes(2)));  // the section beats the top level
  BOOST_TEST((b.inactivity_timeout == seconds(0)));
  BOOST_TEST(b.message_rate_limit == 50u);
}

BOOST_AUTO_TEST_CASE(TopLevelListenerKeysAreDefaultsASectionOverrides) {
  Config config = Parse(
      "max_recipients = 50\n"
      "require_auth = yes\n"
      "[listener \"a\"]\nbind = 127.0.0.1:1\n"
      "[listener \"b\"]\nbind = 127.0.0.1:2\nmax_recipients = 10\n");
  BOOST_TEST(Listener(config, "a").max_recipients == 50u);
  BOOST_TEST(Listener(config, "b").max_recipients == 10u);
  BOOST_TEST(Listener(config, "a").require_auth);
  BOOST_TEST(Listener(config, "b").require_auth);
}

BOOST_AUTO_TEST_CASE(TlsPromisesNeedACertificateAndItsKey) {
  auto error = [](const std::string& keys) {
    Result<Config> config = ParseConfig("[listener \"s\"]\nbind = 127.0.0.1:1\n" + keys,
                                        "postern.conf", "/etc/postern");
    return config.ok() ? std::string("accepted") : config.status().message();
  };
  BOOST_TEST(error("tls_cert_file = /c.pem\n") ==
             "postern.conf:1: listener \"s\": tls_cert_file and tls_key_file must be set together");
  BOOST_TEST(error("tls_key_file = /k.pem\n") ==
             "postern.conf:1: listener \"s\": tls_cert_file and tls_key_file must be set together");
  BOOST_TEST(error("tls_eccert_file = /ec.pem\n") ==
             "postern.conf:1: listener \"s\": tls_eccert_file and tls_eckey_file must be set "
             "together");
  BOOST_TEST(error("tls_cert_file = /c.pem\ntls_key_file = /k.pem\ntls_eckey_file = /eck.pem\n") ==
             "postern.conf:1: listener \"s\": tls_eccert_file and tls_eckey_file must be set "
             "together");
  BOOST_TEST(error("tls_wrapper = yes\n") ==
             "postern.conf:1: listener \"s\": tls_wrapper = yes needs a certificate: "
             "tls_cert_file and tls_key_file, or tls_eccert_file and tls_eckey_file");
  BOOST_TEST(error("require_tls = yes\n") ==
             "postern.conf:1: listener \"s\": require_tls = yes needs a certificate: "
             "tls_cert_file and tls_key_file, or tls_eccert_file and tls_eckey_file, or no "
             "client could ever send mail");
  BOOST_TEST(error("require_tls = yes\ntls_cert_file = /c.pem\ntls_key_file = /k.pem\n") ==
             "accepted");
}

BOOST_AUTO_TEST_CASE(EitherCertificatePairOrBothGiveTls) {
  const std::string rsa = "tls_cert_file = /c.pem\ntls_key_file = /k.pem\n";
  const std::string ec = "tls_eccert_file = /ec.pem\ntls_eckey_file = /eck.pem\n";
  for (const std::string& pairs : {rsa, ec, rsa + ec}) {
    BOOST_TEST_CONTEXT(pairs) {
      Config config = Parse(
          "[listener \"s\"]\nbind = 127.0.0.1:1\ntls_wrapper = yes\n"
          "require_tls = yes\n" +
          pairs);
      BOOST_TEST(Listener(config, "s").has_tls());
    }
  }
  const Config config = Parse("[listener \"s\"]\nbind = 127.0.0.1:1\n" + rsa + ec);
  const ListenerConfig& both = Listener(config, "s");
  BOOST_TEST(both.tls_eccert_file == "/ec.pem");
  BOOST_TEST(both.tls_eckey_file == "/eck.pem");
}

BOOST_AUTO_TEST_CASE(GlobalValuesOverrideDefaults) {
  Config config = Parse(
      "myhostname = mail.example.test\n"
      "state_directory = /srv/postern\n"
      "mail_directory = maildirs\n"
      "smtpd_workers = 8\n"
      "queue_map_size = 4g\n"
      "shutdown_grace = 2m\n"
      "log_syslog = yes\n"
      "sasldb_path = /var/lib/sasl/db\n" +
      kListener);
  BOOST_TEST(config.myhostname == "mail.example.test");
  BOOST_TEST(config.state_directory == "/srv/postern");
  BOOST_TEST(config.MailDirectory() == "/etc/postern/maildirs");
  BOOST_TEST(config.smtpd_workers == 8u);
  BOOST_TEST(config.queue_map_size == 4294967296u);
  BOOST_TEST((config.shutdown_grace == minutes(2)));
  BOOST_TEST(config.log_syslog);
  BOOST_TEST(config.sasldb_path == "/var/lib/sasl/db");
}

BOOST_AUTO_TEST_CASE(LogTargetKeepsWhatLogFileMeantWhenUnset) {
  BOOST_TEST(
      (Parse("log_file = /var/log/postern.log\n" + kListener).log_target == LogTarget::kFile));
  BOOST_TEST((Parse("log_file = /var/log/postern.log\nlog_syslog = yes\n" + kListener).log_target ==
              LogTarget::kSyslog));
  BOOST_TEST(
      (Parse("log_file = /var/log/postern.log\nlog_target = syslog\n" + kListener).log_target ==
       LogTarget::kSyslog));
  Config config =
      Parse("log_target = stderr\nlog_facility = local5\nsyslog_socket = /run/log\n" + kListener);
  BOOST_TEST((config.log_target == LogTarget::kStderr));
  BOOST_TEST((config.log_facility == LogFacility::kLocal5));
  BOOST_TEST(config.syslog_socket == "/run/log");
}

BOOST_AUTO_TEST_CASE(LogTargetFileNeedsLogFile) {
  BOOST_TEST(ErrorOf("log_target = file\n" + kListener) ==
             "/etc/postern/postern.conf:1: log_target: file needs log_file");
  BOOST_TEST(ErrorOf("log_facility = kern\n" + kListener).find("log_facility") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(CommentsAreDroppedAtLineStartOrAfterWhiteSpace) {
  Config config = Parse(
      "# a comment\n"
      "   # an indented comment\n"
      "max_recipients = 10 # ten\n"
      "max_hop_count = 30\t# tab before the hash\n"
      "block_list = /etc/postern/block#1\n"
      "relay_auth_user = relay#1\n" +
      kListener);
  const ListenerConfig& l = Listener(config, "smtp");
  BOOST_TEST(l.max_recipients == 10u);
  BOOST_TEST(l.max_hop_count == 30u);
  BOOST_TEST((l.block_list == Strs{"/etc/postern/block#1"}));
  BOOST_TEST(config.relay_auth_user == "relay#1");
}

BOOST_AUTO_TEST_CASE(ContinuationLinesJoinTheLineBefore) {
  Config config = Parse(
      "trusted_networks = 127.0.0.0/8\n"
      "    10.0.0.0/8\n"
      "\n"
      "  # a comment does not end the value\n"
      "\t::1/128\n"
      "[listener \"smtp\"]\n"
      "bind = 127.0.0.1:2525\n"
      "  [::1]:2525\n"
      "auth_mechanisms =\n"
      "  LOGIN\n");
  BOOST_TEST((Strings(config.trusted_networks) == Strs{"127.0.0.0/8", "10.0.0.0/8", "::1/128"}));
  const ListenerConfig& l = Listener(config, "smtp");
  BOOST_TEST((Strings(l.bind) == Strs{"127.0.0.1:2525", "[::1]:2525"}));
  BOOST_TEST((l.auth_mechanisms == Strs{"LOGIN"}));
}

BOOST_AUTO_TEST_CASE(ToleratesCrLfAndMissingSpacesAndFinalNewline) {
  Config config =
      Parse("max_recipients=10\r\n[listener \"smtp\"]\r\nbind=127.0.0.1:25\r\nrole=relay");
  const ListenerConfig& l = Listener(config, "smtp");
  BOOST_TEST(l.max_recipients == 10u);
  BOOST_TEST((Strings(l.bind) == Strs{"127.0.0.1:25"}));
  BOOST_TEST((l.role == Role::kRelay));
}

BOOST_AUTO_TEST_CASE(EmptyValueEmptiesAList) {
  Config config = Parse("trusted_networks =\n" + kListener + "auth_mechanisms =\n");
  BOOST_TEST(config.trusted_networks.empty());
  BOOST_TEST(Listener(config, "smtp").auth_mechanisms.empty());
}

BOOST_AUTO_TEST_CASE(SectionsKeepTheirOrderAndNames) {
  Config config = Parse(
      "[listener \"smtp\"]\nbind = 0.0.0.0:25\n"
      "[ listener   \"sub_mission-2\" ]\nbind = 0.0.0.0:587\n");
  BOOST_REQUIRE(config.listeners.size() == 2u);
  BOOST_TEST(config.listeners[0].name == "smtp");
  BOOST_TEST(config.listeners[1].name == "sub_mission-2");
  BOOST_TEST(config.FindListener("sub_mission-2") == &config.listeners[1]);
  BOOST_TEST(config.FindListener("submission") == nullptr);
}

BOOST_AUTO_TEST_CASE(LocalDomainsAreLowerCasedAndMatchedWithoutCase) {
  Config config = Parse("local_domains = Example.TEST, mail.Example.test\n" + kListener);
  BOOST_TEST((config.local_domains == Strs{"example.test", "mail.example.test"}));
  BOOST_TEST(config.IsLocalDomain("example.test"));
  BOOST_TEST(config.IsLocalDomain("EXAMPLE.Test"));
  BOOST_TEST(config.IsLocalDomain("example.test."));
  BOOST_TEST(config.IsLocalDomain("MAIL.example.test"));
  BOOST_TEST(!config.IsLocalDomain("sub.example.test"));
  BOOST_TEST(!config.IsLocalDomain("example.org"));
  BOOST_TEST(!config.IsLocalDomain(""));
}

BOOST_AUTO_TEST_CASE(SameKeyAtTopAndInSectionsIsAllowed) {
  Config config = Parse(
      "max_recipients = 5\n"
      "[listener \"a\"]\nbind = 127.0.0.1:1\nmax_recipients = 6\n"
      "[listener \"b\"]\nbind = 127.0.0.1:2\nmax_recipients = 7\n");
  BOOST_TEST(Listener(config, "a").max_recipients == 6u);
  BOOST_TEST(Listener(config, "b").max_recipients == 7u);
}

BOOST_AUTO_TEST_CASE(ParsesTheDesignDocumentsExample) {
  // The example of DESIGN.md's operator contract, as written there.
  Config config = Parse(R"(myhostname       = mail.example.test
state_directory  = /var/lib/postern        # LMDB queue, Maildirs by default
run_directory    = /run/postern            # sockets, master.pid
smtpd_workers    = 2
max_connections  = 5000                    # ConnectionCountExceeded
max_connections_per_source = 20            # ConnectionCountPerSource
relayhost        = [127.0.0.1]:2526        # empty: deliver local domains only
local_domains    = example.test            # delivered into Maildirs
trusted_networks = 127.0.0.0/8 ::1/128     # may relay without AUTH
client_reverse_lookup = yes               # no: never ask DNS for client names

[listener "smtp"]
bind             = 127.0.0.1:2525 [::1]:2525
role             = gateway                 # gateway | relay: timer and rate defaults
remote_networks  = 0.0.0.0/0 ::/0          # which clients this listener serves

[listener "submission"]
bind             = 127.0.0.1:5587
role             = relay
require_tls      = yes                     # MAIL before STARTTLS: 451 5.7.3
require_auth     = yes                     # MAIL before AUTH: 530 5.7.1
tls_cert_file    = /etc/postern/tls/cert.pem
tls_key_file     = /etc/postern/tls/key.pem
)");
  BOOST_TEST(config.myhostname == "mail.example.test");
  BOOST_TEST(config.state_directory == "/var/lib/postern");
  BOOST_TEST(config.run_directory == "/run/postern");
  BOOST_TEST(config.relayhost.size() == 1u);
  BOOST_TEST(config.relayhost[0].ToString() == "[127.0.0.1]:2526");
  BOOST_TEST(!config.relayhost[0].mx_lookup);
  BOOST_TEST((config.local_domains == Strs{"example.test"}));
  BOOST_TEST((Strings(config.trusted_networks) == Strs{"127.0.0.0/8", "::1/128"}));
  BOOST_TEST(config.client_reverse_lookup);
  BOOST_REQUIRE(config.listeners.size() == 2u);
  const ListenerConfig& smtp = Listener(config, "smtp");
  BOOST_TEST((Strings(smtp.bind) == Strs{"127.0.0.1:2525", "[::1]:2525"}));
  BOOST_TEST((smtp.role == Role::kGateway));
  BOOST_TEST(smtp.max_connections == 5000u);
  BOOST_TEST(smtp.max_connections_per_source == 20u);
  const ListenerConfig& submission = Listener(config, "submission");
  BOOST_TEST((Strings(submission.bind) == Strs{"127.0.0.1:5587"}));
  BOOST_TEST((submission.role == Role::kRelay));
  BOOST_TEST((submission.connection_timeout == minutes(10)));
  BOOST_TEST(submission.require_tls);
  BOOST_TEST(submission.require_auth);
  BOOST_TEST(submission.tls_cert_file == "/etc/postern/tls/cert.pem");
  BOOST_TEST(submission.tls_key_file == "/etc/postern/tls/key.pem");
  BOOST_TEST(submission.max_connections == 5000u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ConfigErrors)

BOOST_AUTO_TEST_CASE(UnknownKey) {
  BOOST_TEST(ErrorOf("max_recipent = 10\n" + kListener) ==
             "/etc/postern/postern.conf:1: unknown key \"max_recipent\"; did you mean "
             "max_recipients?");
  BOOST_TEST(ErrorOf(kListener + "Max_Recipients = 10\n") ==
             "/etc/postern/postern.conf:3: unknown key \"Max_Recipients\"; did you mean "
             "max_recipients?");
  BOOST_TEST(ErrorOf("mydestination = example.test\n" + kListener) ==
             "/etc/postern/postern.conf:1: unknown key \"mydestination\"");
}

// The checks of lib/config/config_rules.h, as the parser reports them: so
// `postern check`, master's start and every reload refuse these files.
BOOST_AUTO_TEST_CASE(AnIndentedKeyLineIsNotTakenAsAContinuation) {
  BOOST_TEST(ErrorOf("trusted_networks = 127.0.0.0/8\n"
                     "  max_recipients = 50\n" +
                     kListener) ==
             "/etc/postern/postern.conf:2: the indented line \"max_recipients = 50\" would "
             "continue line 1, yet it reads like a setting of max_recipients: remove the leading "
             "white space");
  BOOST_TEST(ErrorOf(kListener + "require_tls = no\n\n\tauth_mechanisms=LOGIN\n") ==
             "/etc/postern/postern.conf:5: the indented line \"auth_mechanisms=LOGIN\" would "
             "continue line 3, yet it reads like a setting of auth_mechanisms: remove the leading "
             "white space");
  // A continuation that is a value stays one.
  Config config = Parse("trusted_networks = 127.0.0.0/8\n  10.0.0.0/8\n" + kListener);
  BOOST_TEST((Strings(config.trusted_networks) == Strs{"127.0.0.0/8", "10.0.0.0/8"}));
}

BOOST_AUTO_TEST_CASE(MyhostnameMustBeAHostName) {
  BOOST_TEST(ErrorOf("myhostname = bad host name\n" + kListener) ==
             "/etc/postern/postern.conf:1: myhostname: \"bad host name\" is not a host name: a "
             "host name is labels of letters, digits and inner hyphens, at most 63 octets each, "
             "separated by dots (RFC 1123)");
  BOOST_TEST(ErrorOf("# x\nmyhostname = mail_1.example.test\n" + kListener)
                 .starts_with("/etc/postern/postern.conf:2: myhostname: \"mail_1.example.test\" "
                              "is not a host name"));
  BOOST_TEST(ErrorOf("myhostname = mail.example.test.\n" + kListener) ==
             "/etc/postern/postern.conf:1: myhostname: \"mail.example.test.\" is not a host "
             "name: it ends with a dot");
  BOOST_TEST(Parse("myhostname = mail-1.example.test\n" + kListener).myhostname ==
             "mail-1.example.test");
}

BOOST_AUTO_TEST_CASE(AuthMechanismsNameOnlyWhatAuthdServes) {
  BOOST_TEST(ErrorOf(kListener + "auth_mechanisms = CRAM-MD5 PLAIN\n") ==
             "/etc/postern/postern.conf:3: auth_mechanisms: postern does not serve CRAM-MD5 "
             "PLAIN: only NTLM and LOGIN are served");
  // Above the listener sections too, even where every listener sets its own.
  BOOST_TEST(
      ErrorOf("auth_mechanisms = LOGIN, PLAIN\n" + kListener + "auth_mechanisms = LOGIN\n") ==
      "/etc/postern/postern.conf:1: auth_mechanisms: postern does not serve PLAIN: only "
      "NTLM and LOGIN are served");
  BOOST_TEST(
      (Listener(Parse(kListener + "auth_mechanisms = login ntlm\n"), "smtp").auth_mechanisms ==
       Strs{"login", "ntlm"}));
}

BOOST_AUTO_TEST_CASE(BadValuesNameFileLineAndKey) {
  std::string six_lines = "# 1\n# 2\n\n# 4\n" + kListener;
  BOOST_TEST(ErrorOf(six_lines + "max_recipients = abc\n") ==
             "/etc/postern/postern.conf:7: max_recipients: \"abc\" is not a number");
  BOOST_TEST(ErrorOf(six_lines + "max_message_size = 10x\n") ==
             "/etc/postern/postern.conf:7: max_message_size: \"10x\" is not a size (a number of "
             "bytes with an optional k, m or g suffix)");
  BOOST_TEST(ErrorOf(six_lines + "connection_timeout = 5w\n") ==
             "/etc/postern/postern.conf:7: connection_timeout: \"5w\" is not a duration (a number "
             "with an optional s, m, h or d suffix; a bare number means seconds)");
  BOOST_TEST(ErrorOf(six_lines + "require_tls = maybe\n") ==
             "/etc/postern/postern.conf:7: require_tls: \"maybe\" is not yes or no");
  BOOST_TEST(ErrorOf(six_lines + "role = edge\n") ==
             "/etc/postern/postern.conf:7: role: \"edge\" is not gateway or relay");
  BOOST_TEST(ErrorOf(six_lines + "auth_require_tls = ntlm\n") ==
             "/etc/postern/postern.conf:7: auth_require_tls: \"ntlm\" is not login or all");
  BOOST_TEST(ErrorOf(six_lines + "remote_networks = 10.1.0.0/8\n") ==
             "/etc/postern/postern.conf:7: remote_networks: \"10.1.0.0/8\" has bits set after "
             "the prefix length (did you mean 10.0.0.0/8?)");
  BOOST_TEST(ErrorOf("[listener \"smtp\"]\nbind = 127.0.0.1\n") ==
             "/etc/postern/postern.conf:2: bind: \"127.0.0.1\" is not a bind address: expected "
             "ADDRESS:PORT or [IPV6-ADDRESS]:PORT");
  BOOST_TEST(ErrorOf("queue_map_size = 1t\n" + kListener) ==
             "/etc/postern/postern.conf:1: queue_map_size: \"1t\" is not a size (a number of "
             "bytes with an optional k, m or g suffix)");
}

BOOST_AUTO_TEST_CASE(ValueErrorInAContinuationNamesTheKeysLine) {
  BOOST_TEST(ErrorOf("trusted_networks = 127.0.0.0/8\n   10.0.0.0/33\n" + kListener) ==
             "/etc/postern/postern.conf:1: trusted_networks: \"10.0.0.0/33\" is not an IP "
             "network: prefix length \"33\" is not a number from 0 to 32");
}

BOOST_AUTO_TEST_CASE(MinimumOfACount) {
  BOOST_TEST(ErrorOf("smtpd_workers = 0\n" + kListener) ==
             "/etc/postern/postern.conf:1: smtpd_workers: must be at least 1");
}

BOOST_AUTO_TEST_CASE(GlobalKeyInsideAListenerSection) {
  BOOST_TEST(ErrorOf(kListener + "myhostname = mail.example.test\n") ==
             "/etc/postern/postern.conf:3: myhostname: a global key, not allowed inside "
             "[listener \"smtp\"]: set it above the first listener section");
}

BOOST_AUTO_TEST_CASE(ListenerOnlyKeyAtTopLevel) {
  BOOST_TEST(ErrorOf("bind = 127.0.0.1:25\n" + kListener) ==
             "/etc/postern/postern.conf:1: bind: allowed only inside a [listener \"NAME\"] "
             "section");
}

BOOST_AUTO_TEST_CASE(KeySetTwiceInOneScope) {
  BOOST_TEST(ErrorOf("max_recipients = 1\n\nmax_recipients = 2\n" + kListener) ==
             "/etc/postern/postern.conf:3: max_recipients: already set at line 1");
  BOOST_TEST(ErrorOf(kListener + "role = relay\nrole = gateway\n") ==
             "/etc/postern/postern.conf:4: role: already set at line 3");
}

BOOST_AUTO_TEST_CASE(DuplicateListener) {
  BOOST_TEST(ErrorOf(kListener + "\n[listener \"smtp\"]\nbind = 127.0.0.1:2526\n") ==
             "/etc/postern/postern.conf:4: duplicate listener \"smtp\" (first defined at line 1)");
}

BOOST_AUTO_TEST_CASE(NoListener) {
  BOOST_TEST(ErrorOf("myhostname = mail.example.test\n") ==
             "/etc/postern/postern.conf: no [listener \"NAME\"] section: at least one listener "
             "is required");
  BOOST_TEST(ErrorOf("") ==
             "/etc/postern/postern.conf: no [listener \"NAME\"] section: at least one listener "
             "is required");
}

BOOST_AUTO_TEST_CASE(ListenerWithoutBind) {
  BOOST_TEST(ErrorOf(kListener + "[listener \"sub\"]\nrole = relay\n") ==
             "/etc/postern/postern.conf:3: listener \"sub\" has no bind address: set bind = "
             "ADDRESS:PORT");
  BOOST_TEST(ErrorOf("[listener \"smtp\"]\nbind =\n") ==
             "/etc/postern/postern.conf:1: listener \"smtp\" has no bind address: set bind = "
             "ADDRESS:PORT");
}

BOOST_AUTO_TEST_CASE(AddressBoundByTwoListenersWithTheSameNetworks) {
  BOOST_TEST(ErrorOf(kListener + "[listener \"other\"]\nrole = relay\nbind = [::1]:1 "
                                 "127.0.0.1:2525\n") ==
             "/etc/postern/postern.conf:5: bind: 127.0.0.1:2525 is already bound by listener "
             "\"smtp\" with the same remote_networks; give one of them other remote_networks");
}

BOOST_AUTO_TEST_CASE(ListenersShareAnAddressWithOtherNetworks) {
  // Exchange-style receive connectors: one address, the most specific
  // remote_networks serves the client (lib/policy/connection_admission).
  Result<Config> config = ParseConfig(kListener +
                                          "[listener \"lan\"]\nbind = 127.0.0.1:2525\n"
                                          "remote_networks = 127.0.0.0/8\n",
                                      "/etc/postern/postern.conf", "/etc/postern");
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().message());
  BOOST_TEST(config->listeners.size() == 2u);
}

BOOST_AUTO_TEST_CASE(LineWithoutEquals) {
  BOOST_TEST(ErrorOf("max_recipients 10\n" + kListener) ==
             "/etc/postern/postern.conf:1: expected \"key = value\" or [listener \"NAME\"], got "
             "\"max_recipients 10\"");
  BOOST_TEST(ErrorOf("= 10\n" + kListener) ==
             "/etc/postern/postern.conf:1: expected \"key = value\" or [listener \"NAME\"], got "
             "\"= 10\"");
}

BOOST_AUTO_TEST_CASE(ContinuationWithNothingBefore) {
  BOOST_TEST(ErrorOf("# comment\n  127.0.0.1\n" + kListener) ==
             "/etc/postern/postern.conf:2: a line that starts with white space continues the "
             "line before it, and there is none");
}

BOOST_AUTO_TEST_CASE(IndentedKeyUnderASectionHeader) {
  BOOST_TEST(ErrorOf("[listener \"smtp\"]\n  bind = 127.0.0.1:25\n") ==
             "/etc/postern/postern.conf:2: a line that starts with white space continues the "
             "line before it, and a section header cannot be continued: remove the indentation");
}

BOOST_AUTO_TEST_CASE(BadSectionHeaders) {
  for (const char* header : {"[listener smtp]", "[server \"smtp\"]", "[listener\"smtp\"]",
                             "[listener \"smtp\"", "[listener \"smtp]", "[]"}) {
    BOOST_TEST(ErrorOf(std::string(header) + "\nbind = 127.0.0.1:25\n") ==
               "/etc/postern/postern.conf:1: bad section header \"" + std::string(header) +
                   "\": expected [listener \"NAME\"]");
  }
  BOOST_TEST(ErrorOf("[listener \"a.b\"]\nbind = 127.0.0.1:25\n") ==
             "/etc/postern/postern.conf:1: listener name \"a.b\" may contain only letters, "
             "digits, \"-\" and \"_\"");
  BOOST_TEST(ErrorOf("[listener \"\"]\nbind = 127.0.0.1:25\n") ==
             "/etc/postern/postern.conf:1: listener name \"\" may contain only letters, digits, "
             "\"-\" and \"_\"");
}

BOOST_AUTO_TEST_CASE(LoadConfigReadsConfigDirAndReportsAMissingFile) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("postern-config-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "postern.conf");
    out << "sasldb_path = users.db\n" << kListener;
  }
  Result<Config> config = LoadConfig(dir.string() + "/");
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().message());
  BOOST_TEST(config->config_dir == dir.string());
  BOOST_TEST(config->config_file == dir.string() + "/postern.conf");
  BOOST_TEST(config->sasldb_path == dir.string() + "/users.db");

  // A relative directory is made absolute.
  std::filesystem::path saved = std::filesystem::current_path();
  std::filesystem::current_path(dir.parent_path());
  Result<Config> relative = LoadConfig(dir.filename().string());
  std::filesystem::current_path(saved);
  BOOST_REQUIRE_MESSAGE(relative.ok(), relative.status().message());
  BOOST_TEST(relative->config_dir == dir.string());
  BOOST_TEST(relative->sasldb_path == dir.string() + "/users.db");

  std::filesystem::remove_all(dir);
  Result<Config> missing = LoadConfig(dir.string());
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.status().message() ==
             "cannot open " + dir.string() + "/postern.conf: No such file or directory");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(DescribeConfigViews)

const std::string kTwoListeners =
    "myhostname = mail.example.test\n"
    "max_recipients = 50\n"
    "[listener \"smtp\"]\n"
    "bind = 127.0.0.1:2525 [::1]:2525\n"
    "max_hop_count = 60\n"  // set, but to its default
    "[listener \"submission\"]\n"
    "bind = 127.0.0.1:5587\n"
    "connection_timeout = 5m\n"  // the gateway default, not the relay one
    "role = relay\n"
    "tls_cert_file = tls/cert.pem\n"
    "tls_key_file = tls/key.pem\n";

BOOST_AUTO_TEST_CASE(EffectiveListsEveryKeyGlobalsFirst) {
  Config config = Parse(kTwoListeners);
  std::vector<ConfigEntry> entries = DescribeConfig(config, ConfigView::kEffective);
  size_t globals = 0;
  size_t listener_keys = 0;
  for (const ConfigKey& key : ConfigKeys())
    ++(key.scope == KeyScope::kGlobal ? globals : listener_keys);
  // Above the sections, every listener key but bind.
  const size_t top = globals + listener_keys - 1;
  BOOST_REQUIRE(entries.size() == top + 2 * listener_keys);
  BOOST_TEST(entries.front().key == "myhostname");
  BOOST_TEST(entries[globals].key == "role");
  BOOST_TEST(entries[top].key == "listener.smtp.bind");
  BOOST_TEST(entries[top + listener_keys].key == "listener.submission.bind");
  BOOST_TEST(entries.back().key == "listener.submission.advertise_chunking");

  std::map<std::string, std::string> values = EntryMap(entries);
  BOOST_TEST(values["myhostname"] == "mail.example.test");
  BOOST_TEST(values["state_directory"] == POSTERN_STATE_DIR);
  BOOST_TEST(values["mail_directory"] == "");
  BOOST_TEST(values["smtpd_workers"] == "2");
  BOOST_TEST(values["trusted_networks"] == "127.0.0.0/8 ::1/128");
  BOOST_TEST(values["queue_map_size"] == "0");
  BOOST_TEST(values["shutdown_grace"] == "30s");
  BOOST_TEST(values["sasldb_path"] == "/etc/postern/sasldb2");
  BOOST_TEST(values["log_syslog"] == "no");
  BOOST_TEST(values["listener.smtp.bind"] == "127.0.0.1:2525 [::1]:2525");
  BOOST_TEST(values["max_recipients"] == "50");
  BOOST_TEST(values["auth_mechanisms"] == "NTLM LOGIN");
  BOOST_TEST(values["inactivity_timeout"] == "1m");
  BOOST_TEST(!values.count("bind"));
  BOOST_TEST(values["listener.smtp.role"] == "gateway");
  BOOST_TEST(values["listener.smtp.connection_timeout"] == "5m");
  BOOST_TEST(values["listener.smtp.inactivity_timeout"] == "1m");
  BOOST_TEST(values["listener.smtp.max_message_size"] == "10m");
  BOOST_TEST(values["listener.smtp.max_header_size"] == "64k");
  BOOST_TEST(values["listener.smtp.max_recipients"] == "50");
  BOOST_TEST(values["listener.smtp.auth_mechanisms"] == "NTLM LOGIN");
  BOOST_TEST(values["listener.smtp.remote_networks"] == "0.0.0.0/0 ::/0");
  BOOST_TEST(values["listener.submission.role"] == "relay");
  BOOST_TEST(values["listener.submission.connection_timeout"] == "5m");
  BOOST_TEST(values["listener.submission.inactivity_timeout"] == "5m");
  BOOST_TEST(values["listener.submission.message_rate_limit"] == "5");
  BOOST_TEST(values["listener.submission.tls_cert_file"] == "/etc/postern/tls/cert.pem");

  BOOST_TEST(Entry(entries, "state_directory").is_default);
  BOOST_TEST(!Entry(entries, "myhostname").is_default);
  BOOST_TEST(Entry(entries, "listener.smtp.max_hop_count").is_default);
  BOOST_TEST(Entry(entries, "listener.submission.inactivity_timeout").is_default);
  BOOST_TEST(!Entry(entries, "listener.submission.connection_timeout").is_default);
}

BOOST_AUTO_TEST_CASE(NonDefaultListsOnlyWhatDiffers) {
  std::vector<ConfigEntry> entries = DescribeConfig(Parse(kTwoListeners), ConfigView::kNonDefault);
  Strs keys;
  for (const ConfigEntry& entry : entries) {
    keys.push_back(entry.key + " = " + entry.value);
    BOOST_TEST(!entry.is_default);
  }
  Strs expected = {"myhostname = mail.example.test",
                   "max_recipients = 50",
                   "listener.smtp.bind = 127.0.0.1:2525 [::1]:2525",
                   "listener.smtp.max_recipients = 50",
                   "listener.submission.bind = 127.0.0.1:5587",
                   "listener.submission.role = relay",
                   "listener.submission.connection_timeout = 5m",
                   "listener.submission.max_recipients = 50",
                   "listener.submission.tls_cert_file = /etc/postern/tls/cert.pem",
                   "listener.submission.tls_key_file = /etc/postern/tls/key.pem"};
  BOOST_TEST(keys == expected, boost::test_tools::per_element());
}

// `postern config auth_mechanisms` shows the value above the sections: what
// every listener starts from, with the defaults of the role set there.
BOOST_AUTO_TEST_CASE(ListenerKeysAboveTheSectionsShowTheirTopLevelValue) {
  Config config = Parse("role = relay\nauth_mechanisms = LOGIN\n" + kListener);
  std::map<std::string, std::string> effective =
      EntryMap(DescribeConfig(config, ConfigView::kEffective));
  BOOST_TEST(effective["auth_mechanisms"] == "LOGIN");
  BOOST_TEST(effective["inactivity_timeout"] == "5m");
  BOOST_TEST(effective["max_recipients"] == "200");
  Strs non_default;
  for (const ConfigEntry& entry : DescribeConfig(config, ConfigView::kNonDefault))
    non_default.push_back(entry.key + " = " + entry.value);
  BOOST_TEST(
      non_default ==
          (Strs{"role = relay", "auth_mechanisms = LOGIN", "listener.smtp.bind = 127.0.0.1:2525",
                "listener.smtp.role = relay", "listener.smtp.auth_mechanisms = LOGIN"}),
      boost::test_tools::per_element());
  std::map<std::string, std::string> defaults =
      EntryMap(DescribeConfig(config, ConfigView::kDefaults));
  BOOST_TEST(defaults["auth_mechanisms"] == "NTLM LOGIN");
  BOOST_TEST(defaults["inactivity_timeout"] == "1m");
  BOOST_TEST((config.listener_defaults.auth_mechanisms == Strs{"LOGIN"}));
  BOOST_TEST(config.listener_defaults.name.empty());
}

BOOST_AUTO_TEST_CASE(DefaultsShowTheBuiltInValuesWithGatewayDefaults) {
  Config config = Parse(kTwoListeners);
  std::vector<ConfigEntry> entries = DescribeConfig(config, ConfigView::kDefaults);
  BOOST_TEST(entries.size() == DescribeConfig(config, ConfigView::kEffective).size());
  for (const ConfigEntry& entry : entries) BOOST_TEST(entry.is_default, entry.key);
  std::map<std::string, std::string> values = EntryMap(entries);
  BOOST_TEST(values["myhostname"] == HostName());
  BOOST_TEST(values["sasldb_path"] == "/etc/postern/sasldb2");
  BOOST_TEST(values["listener.smtp.bind"] == "");
  BOOST_TEST(values["listener.smtp.max_recipients"] == "200");
  BOOST_TEST(values["listener.submission.role"] == "gateway");
  BOOST_TEST(values["listener.submission.connection_timeout"] == "5m");
  BOOST_TEST(values["listener.submission.message_rate_limit"] == "600");
  BOOST_TEST(
      values["listener.submission.tls_priority"] ==
      "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-GROUP-ALL:+GROUP-X25519:+GROUP-EC-ALL:+GROUP-DH-ALL:"
      "%SERVER_PRECEDENCE");
}

// `postern config` prints values as they would be written: a file made of
// its output reads back to the same configuration.
BOOST_AUTO_TEST_CASE(EffectiveValuesReadBackUnchanged) {
  Config config = Parse(kTwoListeners +
                        "blocked_networks = 192.0.2.0/24, 2001:db8::/32\n"
                        "tarpit_interval = 90\nmax_header_size = 1536\n");
  std::vector<ConfigEntry> entries = DescribeConfig(config, ConfigView::kEffective);
  std::string text;
  std::string current_listener;
  for (const ConfigEntry& entry : entries) {
    std::string key = entry.key;
    if (key.starts_with("listener.")) {
      size_t dot = key.find('.', 9);
      std::string name = key.substr(9, dot - 9);
      if (name != current_listener) text += "[listener \"" + name + "\"]\n";
      current_listener = name;
      key = key.substr(dot + 1);
    }
    text += key + " = " + entry.value + "\n";
  }
  Config again = Parse(text);
  std::vector<ConfigEntry> reread = DescribeConfig(again, ConfigView::kEffective);
  BOOST_REQUIRE(reread.size() == entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    BOOST_TEST(reread[i].key == entries[i].key);
    BOOST_TEST(reread[i].value == entries[i].value, entries[i].key);
  }
  BOOST_TEST(EntryMap(entries)["listener.submission.tarpit_interval"] == "90s");
  BOOST_TEST(EntryMap(entries)["listener.submission.max_header_size"] == "1536");
  BOOST_TEST(EntryMap(entries)["listener.submission.blocked_networks"] ==
             "192.0.2.0/24 2001:db8::/32");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ShippedFiles)

BOOST_AUTO_TEST_CASE(ManPageListsEveryKeyOfTheTable) {
  std::string page = SourceFile("man/postern.conf.5");
  for (const ConfigKey& key : ConfigKeys()) {
    BOOST_TEST(page.find(".TP\n.B " + std::string(key.name) + "\n") != std::string::npos,
               "man/postern.conf.5 has no .TP/.B entry for " << key.name);
  }
  Result<std::string> regenerated = SpliceKeysIntoManPage(page);
  BOOST_REQUIRE_MESSAGE(regenerated.ok(), regenerated.status().message());
  BOOST_TEST(*regenerated == page,
             "man/postern.conf.5 differs from lib/config/config_keys.cc: run man/update_keys.cc "
             "(see its header) and commit the page");
}

BOOST_AUTO_TEST_CASE(SpliceReplacesOnlyTheKeyBlock) {
  std::string page = ".TH X 5\n.SH KEYS\n.\\\" BEGIN KEYS x\nstale\n.\\\" END KEYS\n.SH FILES\n";
  Result<std::string> spliced = SpliceKeysIntoManPage(page);
  BOOST_REQUIRE(spliced.ok());
  BOOST_TEST(*spliced == ".TH X 5\n.SH KEYS\n.\\\" BEGIN KEYS x\n" + RenderKeysRoff() +
                             ".\\\" END KEYS\n.SH FILES\n");
  BOOST_TEST(RenderKeysRoff().find(".TP\n.B connection_timeout\nType: duration.\n.br\n"
                                   "Default: \\fB\\%5m\\fR on a gateway listener, "
                                   "\\fB\\%10m\\fR on a relay listener.\n") != std::string::npos);
  // A long literal may break after a lone colon (\:), never inside a word
  // nor inside an IPv6 address's "::".
  BOOST_TEST(RenderKeysRoff().find("\\fB\\%127.0.0.0/8 ::1/128\\fR") != std::string::npos);
  BOOST_TEST(RenderKeysRoff().find("\\fB\\%NORMAL:\\:\\-VERS\\-TLS1.0:\\:\\-VERS\\-TLS1.1:\\:") !=
             std::string::npos);
  BOOST_TEST(!SpliceKeysIntoManPage(".TH X 5\n").ok());
  BOOST_TEST(!SpliceKeysIntoManPage(".\\\" BEGIN KEYS\n").ok());
}

// RFC 6409 4.3: an MSA requires authentication. The shipped file opens
// submission on 587 (STARTTLS) and 465 (implicit TLS), both for logged-on
// users only, with Debian's snakeoil certificate; port 25 stays commented out.
BOOST_AUTO_TEST_CASE(ShippedConfigParses) {
  std::string text = SourceFile("conf/postern.conf");
  Config config = Parse(text);
  BOOST_REQUIRE(config.listeners.size() == 2u);
  const ListenerConfig& submission = Listener(config, "submission");
  BOOST_TEST((Strings(submission.bind) == Strs{"0.0.0.0:587", "[::]:587"}));
  BOOST_TEST((submission.role == Role::kRelay));
  BOOST_TEST(submission.require_auth);
  BOOST_TEST(!submission.tls_wrapper);
  BOOST_TEST((submission.auth_require_tls == AuthRequireTls::kLogin));
  BOOST_TEST(!submission.allow_plaintext_auth);
  const ListenerConfig& submissions = Listener(config, "submissions");
  BOOST_TEST((Strings(submissions.bind) == Strs{"0.0.0.0:465", "[::]:465"}));
  BOOST_TEST((submissions.role == Role::kRelay));
  BOOST_TEST(submissions.require_auth);
  BOOST_TEST(submissions.tls_wrapper);
  for (const ListenerConfig* l : {&submission, &submissions}) {
    BOOST_TEST(l->tls_cert_file == "/etc/ssl/certs/ssl-cert-snakeoil.pem");
    BOOST_TEST(l->tls_key_file == "/etc/ssl/private/ssl-cert-snakeoil.key");
  }
  BOOST_TEST(!config.client_reverse_lookup);
  BOOST_TEST(config.FindListener("smtp") == nullptr);
  BOOST_TEST(text.find("\n#[listener \"smtp\"]\n#bind = 0.0.0.0:25 [::]:25\n#role = gateway\n") !=
             std::string::npos);
  // Everything else is left at its default.
  Strs non_default;
  for (const ConfigEntry& entry : DescribeConfig(config, ConfigView::kNonDefault)) {
    non_default.push_back(entry.key);
  }
  BOOST_TEST(
      (non_default == Strs{"client_reverse_lookup", "tls_cert_file", "tls_key_file",
                           "listener.submission.bind", "listener.submission.role",
                           "listener.submission.require_auth", "listener.submission.tls_cert_file",
                           "listener.submission.tls_key_file", "listener.submissions.bind",
                           "listener.submissions.role", "listener.submissions.require_auth",
                           "listener.submissions.tls_wrapper", "listener.submissions.tls_cert_file",
                           "listener.submissions.tls_key_file"}));
}

// The shipped file names every key, and each `#key = value` line above the
// listeners shows the default: uncommenting them all changes nothing. As
// `make install` does, @DAEMON_DIR@, @STATE_DIR@ and @RUN_DIR@ become the
// built-in directories.
BOOST_AUTO_TEST_CASE(ShippedConfigShowsEveryKeyWithItsDefault) {
  std::string text = SourceFile("conf/postern.conf");
  for (const ConfigKey& key : ConfigKeys()) {
    std::regex mention("(^|\\n)#? ?" + std::string(key.name) + "( =|:|\\s)");
    BOOST_TEST(std::regex_search(text, mention), "conf/postern.conf does not mention " << key.name);
  }
  for (const auto& [marker, key] :
       {std::pair{"@DAEMON_DIR@", "daemon_directory"}, std::pair{"@STATE_DIR@", "state_directory"},
        std::pair{"@RUN_DIR@", "run_directory"}})
    text = std::regex_replace(text, std::regex(marker),
                              DefaultText(*FindConfigKey(key), Role::kGateway));
  size_t listeners = text.find("\n[listener");
  BOOST_REQUIRE(listeners != std::string::npos);
  std::string head = text.substr(0, listeners);
  std::string uncommented = std::regex_replace(head, std::regex("(^|\\n)#([a-z0-9_]+ =)"), "$1$2") +
                            text.substr(listeners);
  BOOST_TEST(uncommented != text);
  std::vector<ConfigEntry> shipped = DescribeConfig(Parse(text), ConfigView::kEffective);
  std::vector<ConfigEntry> with_defaults =
      DescribeConfig(Parse(uncommented), ConfigView::kEffective);
  BOOST_REQUIRE(shipped.size() == with_defaults.size());
  for (size_t i = 0; i < shipped.size(); ++i) {
    BOOST_TEST(with_defaults[i].value == shipped[i].value, shipped[i].key);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
