// lib/base/daemon_options.h — the command line every postern daemon shares.
//
// One option means one thing, with one spelling, in master, smtpd, qmgr and
// authd:
//
//   -c, --config DIR       the configuration directory (required)
//   -l, --listen-fd N      serve the listening socket inherited as fd N
//                          (master passes it to qmgr and authd)
//       --channel-fd N     the channel to master inherited as fd N (smtpd)
//       --ready-fd N       write one line to N once start-up is over: `ok`,
//                          or `error: <why>` (master, for `postern start`)
//   -d, --daemon           detach from the terminal
//   -v, --verbose          log debug lines too
//
// Each daemon names which of these it takes (a daemon run only by master
// takes no --daemon, say) and may add options of its own (smtpd -S). A
// command line that breaks these rules is a usage error: the daemon prints
// its usage and exits 2. Pure: parsing touches nothing but its arguments.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lib/base/status.h"

namespace postern {

// The shared options a daemon takes, as a bit set; -c and -v always.
enum DaemonOptionSet : unsigned {
  kListenFdOption = 1u << 0,
  kChannelFdOption = 1u << 1,
  kReadyFdOption = 1u << 2,
  kDaemonOption = 1u << 3,
};

// An option of one daemon only. set() gets the argument (nullptr when the
// option takes none) and returns false when it is not acceptable.
struct ExtraDaemonOption {
  const char* long_name;
  char short_name;  // 0: long form only
  bool takes_argument;
  std::function<bool(const char* argument)> set;
};

struct DaemonSpec {
  std::string name;    // "qmgr": logs, usage
  unsigned takes = 0;  // DaemonOptionSet bits
  std::string usage;   // the whole usage text, without a trailing newline
  std::vector<ExtraDaemonOption> extras;
};

struct DaemonOptions {
  std::string config_dir;
  int listen_fd = -1;
  int channel_fd = -1;
  int ready_fd = -1;
  bool daemon = false;
  bool verbose = false;

  // Started by master with a descriptor to serve: master has set up logging
  // and privileges for it.
  bool under_master() const { return listen_fd >= 0 || channel_fd >= 0; }
};

// The options of argv, or an error saying which argument is wrong.
Result<DaemonOptions> ParseDaemonOptions(const DaemonSpec& spec, int argc, char* const* argv);

}  // namespace postern
