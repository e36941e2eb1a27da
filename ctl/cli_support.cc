// ctl/cli_support.cc — the helpers of ctl/cli.h that every verb group uses.
#include <cstdio>

#include "ctl/cli.h"
#include "lib/policy/resource_check.h"

namespace postern::cli {

void ExpectOperands(const Invocation& invocation, size_t count) {
  if (invocation.operands.size() == count) return;
  throw UsageError(invocation.verb + " takes " +
                   (count == 0 ? std::string("no operands")
                               : std::to_string(count) + " operand" + (count == 1 ? "" : "s")));
}

Result<Config> LoadCliConfig(const Invocation& invocation) {
  return LoadConfig(invocation.config_dir);
}

void WarnAboutSettings(const Config& config) {
  Result<uint64_t> size = FileSystemSize(config.state_directory);
  if (!size.ok()) return;  // start and check report unusable directories themselves
  if (std::optional<std::string> warning = DiskThresholdWarning(config, *size))
    fprintf(stderr, "postern: warning: %s\n", warning->c_str());
}

void PrintText(const std::string& text) {
  fputs(text.c_str(), stdout);
  if (!text.empty() && text.back() != '\n') fputc('\n', stdout);
}

}  // namespace postern::cli
