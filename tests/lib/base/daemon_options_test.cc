// tests/lib/base/daemon_options_test.cc — one spelling per option in every daemon.
//
// The specs below are those of the four daemons' mains (which options each
// takes); the command lines are what master, `postern start` and an
// administrator type.
#define BOOST_TEST_DYN_LINK
#include "lib/base/daemon_options.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace postern;

namespace {

Result<DaemonOptions> Parse(const DaemonSpec& spec, std::vector<std::string> args) {
  args.insert(args.begin(), spec.name);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return ParseDaemonOptions(spec, static_cast<int>(args.size()), argv.data());
}

const DaemonSpec kMaster{"master", kReadyFdOption | kDaemonOption, "usage: master", {}};
const DaemonSpec kQmgr{"qmgr", kListenFdOption | kDaemonOption, "usage: qmgr", {}};
const DaemonSpec kAuthd{"authd", kListenFdOption | kDaemonOption, "usage: authd", {}};
const DaemonSpec kSmtpd{"smtpd", kChannelFdOption, "usage: smtpd", {}};

}  // namespace

BOOST_AUTO_TEST_SUITE(daemon_options)

BOOST_AUTO_TEST_CASE(listen_fd_is_spelled_the_same_in_qmgr_and_authd) {
  for (const DaemonSpec* spec : {&kQmgr, &kAuthd}) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"-c", "/etc/postern", "--listen-fd", "3"},
          std::vector<std::string>{"--config", "/etc/postern", "-l", "3"},
          std::vector<std::string>{"-c/etc/postern", "-l3"}}) {
      Result<DaemonOptions> options = Parse(*spec, args);
      BOOST_REQUIRE_MESSAGE(options.ok(), spec->name + ": " + options.status().message());
      BOOST_TEST(options->config_dir == "/etc/postern");
      BOOST_TEST(options->listen_fd == 3);
      BOOST_TEST(options->under_master());
      BOOST_TEST(!options->daemon);
    }
  }
}

BOOST_AUTO_TEST_CASE(what_master_passes_its_children_parses) {
  Result<DaemonOptions> smtpd = Parse(kSmtpd, {"-c", "/etc/postern", "--channel-fd", "3"});
  BOOST_REQUIRE(smtpd.ok());
  BOOST_TEST(smtpd->channel_fd == 3);
  BOOST_TEST(smtpd->under_master());
  Result<DaemonOptions> qmgr = Parse(kQmgr, {"-c", "/etc/postern", "--listen-fd", "3"});
  BOOST_REQUIRE(qmgr.ok());
  BOOST_TEST(qmgr->listen_fd == 3);
}

BOOST_AUTO_TEST_CASE(what_postern_start_passes_master_parses) {
  Result<DaemonOptions> master =
      Parse(kMaster, {"-c", "/etc/postern", "--daemon", "--ready-fd", "7", "-v"});
  BOOST_REQUIRE(master.ok());
  BOOST_TEST(master->daemon);
  BOOST_TEST(master->ready_fd == 7);
  BOOST_TEST(master->verbose);
  BOOST_TEST(!master->under_master());
  Result<DaemonOptions> short_form = Parse(kMaster, {"-c", "/etc/postern", "-d", "--verbose"});
  BOOST_REQUIRE(short_form.ok());
  BOOST_TEST(short_form->daemon);
  BOOST_TEST(short_form->verbose);
}

BOOST_AUTO_TEST_CASE(an_option_the_daemon_does_not_take_is_refused) {
  BOOST_TEST(!Parse(kSmtpd, {"-c", "/etc/postern", "--listen-fd", "3"}).ok());
  BOOST_TEST(!Parse(kSmtpd, {"-c", "/etc/postern", "-d"}).ok());
  BOOST_TEST(!Parse(kMaster, {"-c", "/etc/postern", "-l", "3"}).ok());
  BOOST_TEST(!Parse(kQmgr, {"-c", "/etc/postern", "--foreground"}).ok());
  BOOST_TEST(!Parse(kAuthd, {"-c", "/etc/postern", "--ready-fd", "4"}).ok());
}

BOOST_AUTO_TEST_CASE(bad_command_lines_say_what_is_wrong) {
  Result<DaemonOptions> not_a_number = Parse(kAuthd, {"-c", "/etc/postern", "--listen-fd", "x"});
  BOOST_REQUIRE(!not_a_number.ok());
  BOOST_TEST(not_a_number.status().message() == "--listen-fd wants a descriptor number, not \"x\"");
  Result<DaemonOptions> no_config = Parse(kQmgr, {"-l", "3"});
  BOOST_REQUIRE(!no_config.ok());
  BOOST_TEST(no_config.status().message() == "-c CONFIG_DIR is required");
  Result<DaemonOptions> extra = Parse(kQmgr, {"-c", "/etc/postern", "stray"});
  BOOST_REQUIRE(!extra.ok());
  BOOST_TEST(extra.status().message() == "unexpected argument stray");
  BOOST_TEST(!Parse(kQmgr, {"-c"}).ok());
  BOOST_TEST(!Parse(kQmgr, {"-c", "/etc/postern", "--listen-fd", "-1"}).ok());
}

BOOST_AUTO_TEST_CASE(a_daemon_adds_options_of_its_own) {
  bool standalone = false;
  std::string listener;
  DaemonSpec spec = kSmtpd;
  spec.extras = {{"standalone", 'S', false,
                  [&](const char*) {
                    standalone = true;
                    return true;
                  }},
                 {"listener", 0, true, [&](const char* name) {
                    listener = name;
                    return true;
                  }}};
  Result<DaemonOptions> options = Parse(spec, {"-c", "/etc/postern", "-S", "--listener", "sub"});
  BOOST_REQUIRE(options.ok());
  BOOST_TEST(standalone);
  BOOST_TEST(listener == "sub");
  BOOST_TEST(options->channel_fd == -1);
  BOOST_TEST(!Parse(spec, {"-c", "/etc/postern", "--listener"}).ok());
}

BOOST_AUTO_TEST_SUITE_END()
