// ctl/cli.h — what the verb groups of the `postern` control CLI share.
//
// main.cc parses the global options and picks a verb; each verb group file
// (daemon_verbs, config_verbs, queue_verbs, user_verbs) implements its verbs
// as functions from an Invocation to a Status. A verb prints its results on
// stdout; main prints a failed Status as one `postern: ...` line on stderr
// and exits 1, and a UsageError with the usage text and exit status 2.
// Nothing here talks to a daemon; that is control_client and master_process.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "lib/base/status.h"
#include "lib/config/config.h"

namespace postern::cli {

struct Invocation {
  std::string config_dir;             // absolute
  std::string verb;                   // "start", "queue", ...
  std::vector<std::string> operands;  // the words after the verb
};

// The command line does not follow the usage: main prints the message, the
// usage text, and exits 2. Exceptions are fine here: this is the CLI.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws UsageError unless the verb got exactly `count` operands.
void ExpectOperands(const Invocation& invocation, size_t count);

// postern.conf from the invocation's configuration directory.
Result<Config> LoadCliConfig(const Invocation& invocation);

// Prints a `postern: warning: ...` line on stderr for each setting that is
// valid but cannot work on this machine (min_free_disk_space larger than
// the file system of state_directory). Never fails: a warning is not an error.
void WarnAboutSettings(const Config& config);

// Writes text to stdout, adding a final newline when it lacks one.
void PrintText(const std::string& text);

// The verbs. Each validates its operands (UsageError) before doing anything.
Status RunStart(const Invocation& invocation);
Status RunStartForeground(const Invocation& invocation);
Status RunStop(const Invocation& invocation);
Status RunReload(const Invocation& invocation);
Status RunStatus(const Invocation& invocation);
Status RunBlock(const Invocation& invocation);
Status RunCheck(const Invocation& invocation);
Status RunConfig(const Invocation& invocation);
Status RunQueue(const Invocation& invocation);
Status RunUser(const Invocation& invocation);

}  // namespace postern::cli
