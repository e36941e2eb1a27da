// lib/base/daemon_options.cc — see lib/base/daemon_options.h.
#include "lib/base/daemon_options.h"

#include <getopt.h>

#include <optional>

#include "lib/base/daemon_support.h"

namespace postern {
namespace {

// getopt_long values of the long-only shared options; extras use 1000 + index.
enum : int { kChannelFd = 256, kReadyFd, kExtraBase = 1000 };

struct Table {
  std::string short_options = ":c:v";
  std::vector<option> long_options;
};

Table BuildTable(const DaemonSpec& spec) {
  Table table;
  table.long_options = {{"config", required_argument, nullptr, 'c'},
                        {"verbose", no_argument, nullptr, 'v'}};
  if (spec.takes & kListenFdOption) {
    table.short_options += "l:";
    table.long_options.push_back({"listen-fd", required_argument, nullptr, 'l'});
  }
  if (spec.takes & kChannelFdOption)
    table.long_options.push_back({"channel-fd", required_argument, nullptr, kChannelFd});
  if (spec.takes & kReadyFdOption)
    table.long_options.push_back({"ready-fd", required_argument, nullptr, kReadyFd});
  if (spec.takes & kDaemonOption) {
    table.short_options += "d";
    table.long_options.push_back({"daemon", no_argument, nullptr, 'd'});
  }
  for (size_t i = 0; i < spec.extras.size(); ++i) {
    const ExtraDaemonOption& extra = spec.extras[i];
    int value = extra.short_name != 0 ? extra.short_name : kExtraBase + static_cast<int>(i);
    if (extra.short_name != 0) {
      table.short_options += extra.short_name;
      if (extra.takes_argument) table.short_options += ':';
    }
    table.long_options.push_back(
        {extra.long_name, extra.takes_argument ? required_argument : no_argument, nullptr, value});
  }
  table.long_options.push_back({nullptr, 0, nullptr, 0});
  return table;
}

Status SetDescriptor(const char* option, const char* text, int* fd) {
  std::optional<int> parsed = ParseDescriptor(text);
  if (!parsed)
    return Status::Error(std::string(option) + " wants a descriptor number, not \"" + text + "\"");
  *fd = *parsed;
  return Status::Ok();
}

const ExtraDaemonOption* FindExtra(const DaemonSpec& spec, int value) {
  for (size_t i = 0; i < spec.extras.size(); ++i) {
    const ExtraDaemonOption& extra = spec.extras[i];
    if (value == (extra.short_name != 0 ? extra.short_name : kExtraBase + static_cast<int>(i)))
      return &extra;
  }
  return nullptr;
}

}  // namespace

Result<DaemonOptions> ParseDaemonOptions(const DaemonSpec& spec, int argc, char* const* argv) {
  Table table = BuildTable(spec);
  DaemonOptions options;
  optind = 0;  // GNU getopt: start afresh, so the parser can run more than once
  opterr = 0;  // the caller reports errors, once, with the usage
  for (;;) {
    optopt = 0;
    int c =
        getopt_long(argc, argv, table.short_options.c_str(), table.long_options.data(), nullptr);
    if (c == -1) break;
    // The option at fault: a short one by its letter, a long one as typed.
    auto at_fault = [&] {
      return optopt > 0 && optopt < 256 ? std::string("-") + static_cast<char>(optopt)
                                        : std::string(argv[optind - 1]);
    };
    Status s = Status::Ok();
    switch (c) {
      case 'c':
        options.config_dir = optarg;
        break;
      case 'v':
        options.verbose = true;
        break;
      case 'd':
        options.daemon = true;
        break;
      case 'l':
        s = SetDescriptor("--listen-fd", optarg, &options.listen_fd);
        break;
      case kChannelFd:
        s = SetDescriptor("--channel-fd", optarg, &options.channel_fd);
        break;
      case kReadyFd:
        s = SetDescriptor("--ready-fd", optarg, &options.ready_fd);
        break;
      case ':':
        return Status::Error(at_fault() + " wants an argument");
      case '?':
        return Status::Error("unknown option " + at_fault());
      default: {
        const ExtraDaemonOption* extra = FindExtra(spec, c);
        if (extra == nullptr || !extra->set(extra->takes_argument ? optarg : nullptr))
          return Status::Error("bad argument to " + std::string(argv[optind - 1]));
      }
    }
    if (!s.ok()) return s;
  }
  if (optind != argc) return Status::Error(std::string("unexpected argument ") + argv[optind]);
  if (options.config_dir.empty()) return Status::Error("-c CONFIG_DIR is required");
  return options;
}

}  // namespace postern
