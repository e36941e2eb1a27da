// ctl/main.cc — `postern`, the control CLI: options, verb dispatch, exit status.
//
// Parses `postern [-c CONFIG_DIR] VERB [OPERANDS]`, runs the verb, and turns
// its outcome into the operator contract: exit 0 on success; 1 with
// `postern: what failed and why` on stderr; 2 with the usage text for a
// command line that does not follow it. Holds no verb logic of its own.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include "ctl/cli.h"
#include "lib/base/log.h"
#include "lib/base/version.h"
#include "lib/config/install_dirs.h"

namespace postern::cli {
namespace {

constexpr char kDefaultConfigDir[] = POSTERN_CONFIG_DIR;

const char kUsage[] =
    "usage: postern [-c CONFIG_DIR] COMMAND [ARGUMENTS]\n"
    "       postern --version\n"
    "\n"
    "  start                     start postern in the background; returns once it listens\n"
    "  start-fg                  run master in the foreground (systemd, development)\n"
    "  stop                      stop postern; returns once master has exited\n"
    "  reload                    re-read postern.conf without dropping sessions\n"
    "  status [--json]           version, uptime, processes, sessions, queue, last minute\n"
    "  check                     check the configuration; silent when it is fine\n"
    "  config [-n|-d] [KEY...]   effective values (-n non-default only, -d defaults)\n"
    "  queue list [--json] | show ID [--body] | flush\n"
    "  queue hold|release|delete|requeue ID|ALL\n"
    "  user add NAME | passwd NAME | del NAME | list   (password on standard input)\n"
    "  block add ADDR [--for DURATION] | del ADDR | list\n"
    "\n"
    "CONFIG_DIR defaults to $POSTERN_CONFIG_DIR, else " POSTERN_CONFIG_DIR ".\n";

using Verb = Status (*)(const Invocation&);

const std::map<std::string, Verb>& Verbs() {
  static const std::map<std::string, Verb> verbs = {
      {"start", RunStart},   {"start-fg", RunStartForeground},
      {"stop", RunStop},     {"reload", RunReload},
      {"status", RunStatus}, {"check", RunCheck},
      {"config", RunConfig}, {"queue", RunQueue},
      {"user", RunUser},     {"block", RunBlock},
  };
  return verbs;
}

std::string DefaultConfigDir() {
  const char* from_env = getenv("POSTERN_CONFIG_DIR");
  return from_env != nullptr && *from_env != '\0' ? from_env : kDefaultConfigDir;
}

// master chdir's to / when it daemonizes, so it must get an absolute path.
std::string Absolute(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (!dir.empty() && dir[0] == '/') return dir;
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) == nullptr) return dir;
  return std::string(cwd) + "/" + dir;
}

// Returns the invocation; prints help and exits 0 for -h / --help, and the
// version for -V / --version (reading no configuration).
Invocation ParseCommandLine(int argc, char** argv) {
  Invocation invocation;
  std::string config_dir = DefaultConfigDir();
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string option = argv[i];
    if (option == "-c") {
      if (++i == argc) throw UsageError("-c needs a CONFIG_DIR");
      config_dir = argv[i];
      if (config_dir.empty()) throw UsageError("-c needs a non-empty CONFIG_DIR");
    } else if (option == "-h" || option == "--help") {
      fputs(kUsage, stdout);
      exit(0);
    } else if (option == "-V" || option == "--version") {
      printf("postern %s\n", kPosternVersion);
      exit(0);
    } else {
      throw UsageError("unknown option " + option);
    }
  }
  if (i == argc) throw UsageError("no command given");
  invocation.config_dir = Absolute(config_dir);
  invocation.verb = argv[i];
  invocation.operands.assign(argv + i + 1, argv + argc);
  return invocation;
}

// Every line of a failure gets the program name, as the contract wants.
void PrintFailure(const std::string& message) {
  std::istringstream lines(message);
  std::string line;
  while (std::getline(lines, line)) fprintf(stderr, "postern: %s\n", line.c_str());
}

int Run(int argc, char** argv) {
  try {
    Invocation invocation = ParseCommandLine(argc, argv);
    auto verb = Verbs().find(invocation.verb);
    if (verb == Verbs().end()) throw UsageError("unknown command " + invocation.verb);
    Status status = verb->second(invocation);
    fflush(stdout);
    if (status.ok()) return 0;
    PrintFailure(status.message());
    return 1;
  } catch (const UsageError& e) {
    fprintf(stderr, "postern: %s\n%s", e.what(), kUsage);
    return 2;
  }
}

}  // namespace
}  // namespace postern::cli

int main(int argc, char** argv) {
  postern::LogInit("postern", postern::LogSettings{});
  return postern::cli::Run(argc, argv);
}
