// tests/qmgr/relay_settings_test.cc — RelaySettingsFrom (qmgr/relay_delivery.h):
// the relay keys of postern.conf reach the client session's settings.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "lib/config/config.h"
#include "qmgr/relay_delivery.h"

namespace postern {
namespace {

using std::chrono::seconds;

Config Parse(const std::string& keys) {
  Result<Config> config = ParseConfig(keys + "[listener \"smtp\"]\nbind = 127.0.0.1:2525\n",
                                      "/etc/postern/postern.conf", "/etc/postern");
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().message());
  return *config;
}

BOOST_AUTO_TEST_SUITE(RelaySettings)

// Each relay_*_timeout key sets the session's timer for its reply.
BOOST_AUTO_TEST_CASE(TimeoutKeysBecomeTheSessionsTimers) {
  ClientSettings settings = RelaySettingsFrom(
      Parse("relay_greeting_timeout = 11s\nrelay_mail_timeout = 12s\nrelay_rcpt_timeout = 13s\n"
            "relay_data_init_timeout = 14s\nrelay_data_block_timeout = 15s\n"
            "relay_data_done_timeout = 16s\nrelay_command_timeout = 17s\n"));
  BOOST_TEST((settings.greeting_timeout == seconds(11)));
  BOOST_TEST((settings.mail_timeout == seconds(12)));
  BOOST_TEST((settings.rcpt_timeout == seconds(13)));
  BOOST_TEST((settings.data_init_timeout == seconds(14)));
  BOOST_TEST((settings.data_block_timeout == seconds(15)));
  BOOST_TEST((settings.data_done_timeout == seconds(16)));
  BOOST_TEST((settings.command_timeout == seconds(17)));
}

BOOST_AUTO_TEST_CASE(TheRestOfTheRelayKeys) {
  ClientSettings settings = RelaySettingsFrom(
      Parse("myhostname = mx.example.test\nrelay_tls = verify\nrelay_auth_user = relay\n"
            "relay_password_file = /etc/postern/relay.pw\nrelay_allow_plaintext_auth = yes\n"));
  BOOST_TEST(settings.helo_name == "mx.example.test");
  BOOST_TEST((settings.tls == RelayTls::kVerify));
  BOOST_TEST(settings.credentials);
  BOOST_TEST(settings.allow_plaintext_auth);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
