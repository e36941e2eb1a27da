// ctl/config_verbs.cc — `postern check` and `postern config`.
//
// Both only read: the configuration through lib/config/config (which owns every
// key, default and error message, and the checks of lib/config/config_rules
// that master applies at start and reload too); check also reads the password
// and file systems and the listeners' files (lib/config/listener_files).
// Neither creates a directory or talks to a daemon.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "ctl/cli.h"
#include "lib/base/privileges.h"
#include "lib/config/config_rules.h"
#include "lib/config/listener_files.h"
#include "lib/config/relay_password.h"
#include "lib/sasl/recipient_directory.h"
#include "lib/tls/tls_credentials.h"

namespace postern::cli {
namespace {

std::string ParentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// master creates `key`'s directory at start; its parent must exist or be
// creatable below the nearest existing ancestor.
Status CheckParentCreatable(const std::string& key, const std::string& path) {
  std::string parent = ParentOf(path);
  std::string ancestor = parent;
  struct stat st;
  while (stat(ancestor.c_str(), &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR)
      return Status::Error(key + " = " + path + ": cannot examine " + ancestor + ": " +
                           strerror(errno));
    ancestor = ParentOf(ancestor);
  }
  if (!S_ISDIR(st.st_mode))
    return Status::Error(key + " = " + path + ": " + ancestor + " is not a directory");
  if (ancestor != parent && access(ancestor.c_str(), W_OK | X_OK) != 0)
    return Status::Error(key + " = " + path + ": cannot create " + parent + " in " + ancestor +
                         ": " + strerror(errno));
  return Status::Ok();
}

// What qmgr will need to relay: the password of relay_auth_user, and the
// trust of relay_tls = verify. Read as qmgr reads them (as root, before its
// privilege drop), so run as root this sees what qmgr will see.
void CheckRelayCredentials(const Config& config, std::vector<std::string>* problems) {
  if (!config.relay_auth_user.empty() && config.relay_password_file.empty()) {
    problems->push_back("relay_auth_user = " + config.relay_auth_user +
                        " needs relay_password_file, the file that holds its password");
  }
  if (!config.relay_password_file.empty()) {
    Result<std::string> password = ReadRelayPassword(config.relay_password_file);
    if (!password.ok()) problems->push_back(password.status().message());
  }
  if (config.relay_tls == RelayTls::kVerify) {
    Result<std::unique_ptr<TlsClientCredentials>> trust =
        TlsClientCredentials::Load(config.relay_tls_ca_file, kDefaultTlsPriority);
    if (!trust.ok()) problems->push_back("relay_tls = verify: " + trust.status().message());
  }
}

std::vector<std::string> CheckProblems(const Config& config) {
  std::vector<std::string> problems;
  if (RunningAsRoot()) {
    const std::pair<const char*, const std::string*> users[] = {{"smtpd_user", &config.smtpd_user},
                                                                {"queue_user", &config.queue_user},
                                                                {"auth_user", &config.auth_user}};
    for (const auto& [key, name] : users) {
      Result<UserIdentity> user = LookUpUser(*name, key);
      if (!user.ok()) problems.push_back(user.status().message());
    }
  }
  for (const auto& [key, path] :
       {std::pair<const char*, const std::string*>{"state_directory", &config.state_directory},
        {"run_directory", &config.run_directory}}) {
    if (Status s = CheckParentCreatable(key, *path); !s.ok()) problems.push_back(s.message());
  }
  CheckRelayCredentials(config, &problems);
  // master loads every listener's certificates, keys and sender_login_map
  // as root at start and reload, and refuses what it cannot load; run as
  // root, check reads them the same way (as another user a key kept for
  // root alone would only look unreadable).
  if (RunningAsRoot()) {
    if (Result<std::map<std::string, ListenerFiles>> files = LoadListenerFiles(config); !files.ok())
      problems.push_back(files.status().message());
  }
  // authd reads local_recipient_map's files at start and reload; one it
  // cannot read or parse would stop it.
  if (Result<RecipientDirectory> maps = RecipientDirectory::Load(config, ""); !maps.ok())
    problems.push_back(maps.status().message());
  return problems;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += (text.empty() ? "" : "\n") + line;
  return text;
}

struct ConfigArguments {
  ConfigView view = ConfigView::kEffective;
  std::vector<std::string> keys;
};

ConfigArguments ParseConfigArguments(const std::vector<std::string>& operands) {
  ConfigArguments parsed;
  size_t i = 0;
  for (; i < operands.size() && !operands[i].empty() && operands[i][0] == '-'; ++i) {
    if (parsed.view != ConfigView::kEffective)
      throw UsageError("config takes at most one of -n and -d");
    if (operands[i] == "-n") {
      parsed.view = ConfigView::kNonDefault;
    } else if (operands[i] == "-d") {
      parsed.view = ConfigView::kDefaults;
    } else {
      throw UsageError("config: unknown option " + operands[i]);
    }
  }
  parsed.keys.assign(operands.begin() + static_cast<ptrdiff_t>(i), operands.end());
  return parsed;
}

void PrintEntry(const ConfigEntry& entry) { PrintText(entry.key + " = " + entry.value); }

}  // namespace

Status RunCheck(const Invocation& invocation) {
  ExpectOperands(invocation, 0);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  WarnAboutSettings(*config);
  std::vector<std::string> problems = CheckProblems(*config);
  if (!problems.empty()) return Status::Error(JoinLines(problems));
  return Status::Ok();
}

Status RunConfig(const Invocation& invocation) {
  ConfigArguments arguments = ParseConfigArguments(invocation.operands);
  Result<Config> config = LoadCliConfig(invocation);
  if (!config.ok()) return config.status();
  std::vector<ConfigEntry> entries = DescribeConfig(*config, arguments.view);
  if (arguments.keys.empty()) {
    for (const ConfigEntry& entry : entries) PrintEntry(entry);
    return Status::Ok();
  }
  // A key may be valid yet absent from the -n view (it is at its default).
  std::map<std::string, bool> known;
  for (const ConfigEntry& entry : DescribeConfig(*config, ConfigView::kEffective))
    known[entry.key] = true;
  std::vector<std::string> unknown;
  for (const std::string& key : arguments.keys) {
    if (known.count(key)) continue;
    std::optional<std::string_view> nearest = NearestKeyName(key);
    unknown.push_back("unknown configuration key: " + key +
                      (nearest ? "; did you mean " + std::string(*nearest) + "?" : ""));
  }
  if (!unknown.empty()) return Status::Error(JoinLines(unknown));
  for (const std::string& key : arguments.keys) {
    for (const ConfigEntry& entry : entries)
      if (entry.key == key) PrintEntry(entry);
  }
  return Status::Ok();
}

}  // namespace postern::cli
