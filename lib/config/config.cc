// lib/config/config.cc — reads postern.conf into a Config, and describes a Config.
//
// Reading happens in three steps: physical lines become logical lines
// (comments dropped, continuations joined); each logical line becomes a
// section or a checked assignment; and only then are values placed, so that a
// listener's role is known before any role-dependent default is chosen, no
// matter where in the file the role is set. Every key's type, scope and
// default come from lib/config/config_keys.cc; this file names no key. A mistake in
// the file is a Status naming the file, the line and the key, never a log
// line or an exception.
#include "lib/config/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "lib/base/ascii.h"
#include "lib/base/log.h"
#include "lib/config/config_keys.h"
#include "lib/config/config_rules.h"
#include "lib/config/text_lines.h"
#include "lib/smtp/smtp_address.h"

namespace postern {
namespace {

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// One logical line: a key line with its continuations, or a section header.
struct LogicalLine {
  int number = 0;  // the physical line it starts on
  std::string text;
};

struct Assignment {
  const ConfigKey* key = nullptr;
  ConfigValue value;
  int line = 0;
};

struct Section {
  std::string name;
  int line = 0;
  std::vector<Assignment> assignments;
};

const Assignment* FindAssignment(const std::vector<Assignment>& assignments, const ConfigKey& key) {
  auto found = std::find_if(assignments.begin(), assignments.end(),
                            [&key](const Assignment& a) { return a.key == &key; });
  return found == assignments.end() ? nullptr : &*found;
}

// The default of key for a listener of role, as a typed value.
ConfigValue DefaultValue(const ConfigKey& key, Role role, const std::string& config_dir) {
  Result<ConfigValue> value = ParseValue(key.type, DefaultText(key, role), config_dir, key.choices);
  if (!value.ok()) {
    PANIC("the default of %.*s does not parse: %s", static_cast<int>(key.name.size()),
          key.name.data(), value.status().message().c_str());
  }
  return *value;
}

// The NAME of a `[listener "NAME"]` header, or nullopt if it is not one.
std::optional<std::string_view> ListenerNameOf(std::string_view header) {
  if (!header.starts_with('[') || !header.ends_with(']')) return std::nullopt;
  std::string_view inner = TrimBlanks(header.substr(1, header.size() - 2));
  constexpr std::string_view kWord = "listener";
  if (!inner.starts_with(kWord)) return std::nullopt;
  std::string_view quoted = inner.substr(kWord.size());
  if (quoted.empty() || !IsBlank(quoted.front())) return std::nullopt;
  quoted = TrimBlanks(quoted);
  if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"') return std::nullopt;
  return quoted.substr(1, quoted.size() - 2);
}

bool IsValidListenerName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '-' || c == '_';
  });
}

class Parser {
 public:
  Parser(const std::string& file_name, const std::string& config_dir)
      : file_name_(file_name), config_dir_(config_dir) {}

  Result<Config> Parse(std::string_view text) {
    Result<std::vector<LogicalLine>> lines = JoinLines(text);
    if (!lines.ok()) return lines.status();
    for (const LogicalLine& line : *lines) {
      Status status = line.text.front() == '[' ? ReadSection(line) : ReadAssignment(line);
      if (!status.ok()) return status;
    }
    if (listeners_.empty()) {
      return Status::Error(file_name_ +
                           ": no [listener \"NAME\"] section: at least one listener is required");
    }
    Config config = Build();
    if (Status logging = ResolveLogTarget(&config); !logging.ok()) return logging;
    Status status = CheckListeners(config);
    if (!status.ok()) return status;
    if (Status postmaster = CheckPostmaster(config); !postmaster.ok()) return postmaster;
    if (Status host = CheckHostName(config); !host.ok()) return host;
    if (Status mechanisms = CheckAuthMechanisms(config); !mechanisms.ok()) return mechanisms;
    if (Status times = CheckDeliveryTimes(config); !times.ok()) return times;
    if (Status times = CheckRelayTimeouts(config); !times.ok()) return times;
    if (Status metrics = CheckMetricsListen(config); !metrics.ok()) return metrics;
    return config;
  }

 private:
  Status Error(int line, const std::string& message) const {
    return Status::Error(file_name_ + ":" + std::to_string(line) + ": " + message);
  }

  Status KeyError(int line, const ConfigKey& key, const std::string& message) const {
    return Error(line, std::string(key.name) + ": " + message);
  }

  Result<std::vector<LogicalLine>> JoinLines(std::string_view text) const {
    std::vector<LogicalLine> lines;
    int number = 0;
    while (!text.empty()) {
      size_t end = text.find('\n');
      std::string_view physical = text.substr(0, end);
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
      ++number;
      std::string_view content = StripComment(physical);
      if (TrimBlanks(content).empty()) continue;
      if (!IsBlank(content.front())) {
        lines.push_back({number, std::string(TrimBlanks(content))});
        continue;
      }
      if (lines.empty()) {
        return Error(number,
                     "a line that starts with white space continues the line before it, "
                     "and there is none");
      }
      if (lines.back().text.front() == '[') {
        return Error(number,
                     "a line that starts with white space continues the line before it, and "
                     "a section header cannot be continued: remove the indentation");
      }
      if (std::optional<std::string_view> key = LooksLikeKeyLine(TrimBlanks(content))) {
        return Error(number, "the indented line \"" + std::string(TrimBlanks(content)) +
                                 "\" would continue line " + std::to_string(lines.back().number) +
                                 ", yet it reads like a setting of " + std::string(*key) +
                                 ": remove the leading white space");
      }
      lines.back().text += ' ';
      lines.back().text += TrimBlanks(content);
    }
    return lines;
  }

  Status ReadSection(const LogicalLine& line) {
    std::optional<std::string_view> name = ListenerNameOf(line.text);
    if (!name) {
      return Error(line.number,
                   "bad section header " + Quoted(line.text) + ": expected [listener \"NAME\"]");
    }
    if (!IsValidListenerName(*name)) {
      return Error(line.number, "listener name " + Quoted(*name) +
                                    " may contain only letters, digits, \"-\" and \"_\"");
    }
    for (const Section& section : listeners_) {
      if (section.name == *name) {
        return Error(line.number, "duplicate listener " + Quoted(*name) +
                                      " (first defined at line " + std::to_string(section.line) +
                                      ")");
      }
    }
    listeners_.push_back({std::string(*name), line.number, {}});
    return Status::Ok();
  }

  Status ReadAssignment(const LogicalLine& line) {
    size_t equals = line.text.find('=');
    std::string_view key_name =
        TrimBlanks(std::string_view(line.text).substr(0, std::min(equals, line.text.size())));
    if (equals == std::string::npos || key_name.empty() ||
        std::any_of(key_name.begin(), key_name.end(), IsBlank)) {
      return Error(line.number,
                   "expected \"key = value\" or [listener \"NAME\"], got " + Quoted(line.text));
    }
    const ConfigKey* key = FindConfigKey(key_name);
    if (key == nullptr) {
      std::optional<std::string_view> nearest = NearestKeyName(key_name);
      return Error(line.number,
                   "unknown key " + Quoted(key_name) +
                       (nearest ? "; did you mean " + std::string(*nearest) + "?" : ""));
    }
    Status scope = CheckScope(line.number, *key);
    if (!scope.ok()) return scope;

    std::vector<Assignment>& assignments = CurrentAssignments();
    if (const Assignment* earlier = FindAssignment(assignments, *key)) {
      return KeyError(line.number, *key, "already set at line " + std::to_string(earlier->line));
    }
    std::string_view text = TrimBlanks(std::string_view(line.text).substr(equals + 1));
    Result<ConfigValue> value = ParseValue(key->type, text, config_dir_, key->choices);
    if (!value.ok()) return KeyError(line.number, *key, value.status().message());
    if (key->type == KeyType::kCount && std::get<uint32_t>(*value) < key->minimum) {
      return KeyError(line.number, *key, "must be at least " + std::to_string(key->minimum));
    }
    if (key->type == KeyType::kCount && std::get<uint32_t>(*value) > key->maximum) {
      return KeyError(line.number, *key, "must be at most " + std::to_string(key->maximum));
    }
    assignments.push_back({key, std::move(*value), line.number});
    return Status::Ok();
  }

  Status CheckScope(int line, const ConfigKey& key) const {
    if (key.scope == KeyScope::kGlobal && !listeners_.empty()) {
      return KeyError(line, key,
                      "a global key, not allowed inside [listener " +
                          Quoted(listeners_.back().name) +
                          "]: set it above the first listener section");
    }
    if (key.scope == KeyScope::kListenerOnly && listeners_.empty()) {
      return KeyError(line, key, "allowed only inside a [listener \"NAME\"] section");
    }
    return Status::Ok();
  }

  std::vector<Assignment>& CurrentAssignments() {
    return listeners_.empty() ? globals_ : listeners_.back().assignments;
  }

  // The role of a listener: its own, else the top-level one, else the default.
  Role RoleOf(const Section& section) const {
    for (const auto* assignments : {&section.assignments, &globals_}) {
      for (const Assignment& assignment : *assignments) {
        if (assignment.key->type == KeyType::kRole) return std::get<Role>(assignment.value);
      }
    }
    return Role::kGateway;
  }

  Config Build() const {
    Config config;
    config.config_dir = config_dir_;
    config.config_file = file_name_;
    for (const ConfigKey& key : ConfigKeys()) {
      if (key.scope != KeyScope::kGlobal) continue;
      const Assignment* assignment = FindAssignment(globals_, key);
      SetValue(key, assignment ? assignment->value : DefaultValue(key, Role::kGateway, config_dir_),
               &config);
    }
    config.listener_defaults = BuildListener(Section{});
    for (const Section& section : listeners_) config.listeners.push_back(BuildListener(section));
    return config;
  }

  // A listener's value of a key is its own, else the top-level one, else the
  // default for its role.
  ListenerConfig BuildListener(const Section& section) const {
    ListenerConfig listener;
    listener.name = section.name;
    Role role = RoleOf(section);
    for (const ConfigKey& key : ConfigKeys()) {
      if (key.scope == KeyScope::kGlobal) continue;
      const Assignment* assignment = FindAssignment(section.assignments, key);
      if (assignment == nullptr) assignment = FindAssignment(globals_, key);
      SetValue(key, assignment ? assignment->value : DefaultValue(key, role, config_dir_),
               &listener);
    }
    return listener;
  }

  // log_target left unset keeps what log_file and log_syslog meant before it
  // existed; log_target = file needs a file.
  Status ResolveLogTarget(Config* config) const {
    const ConfigKey& target = *FindConfigKey("log_target");
    const Assignment* at = FindAssignment(globals_, target);
    if (at == nullptr) {
      const bool file = !config->log_file.empty() && !config->log_syslog;
      config->log_target = file ? LogTarget::kFile : LogTarget::kSyslog;
    } else if (config->log_target == LogTarget::kFile && config->log_file.empty()) {
      return KeyError(at->line, target, "file needs log_file");
    }
    return Status::Ok();
  }

  // A zero back-off would retry a failing delivery without pause, a
  // ceiling under the first wait would make no sense, and a zero lifetime
  // would fail every message that is not delivered at the first attempt.
  Status CheckDeliveryTimes(const Config& config) const {
    const ConfigKey& lifetime = *FindConfigKey("maximal_queue_lifetime");
    if (config.maximal_queue_lifetime <= Duration::zero()) {
      const Assignment* lifetime_at = FindAssignment(globals_, lifetime);
      return KeyError(lifetime_at ? lifetime_at->line : 0, lifetime, "must be more than 0");
    }
    const ConfigKey& minimal = *FindConfigKey("minimal_backoff_time");
    const Assignment* at = FindAssignment(globals_, minimal);
    if (config.minimal_backoff_time <= Duration::zero())
      return KeyError(at ? at->line : 0, minimal, "must be more than 0");
    if (config.maximal_backoff_time < config.minimal_backoff_time) {
      const ConfigKey& maximal = *FindConfigKey("maximal_backoff_time");
      const Assignment* max_at = FindAssignment(globals_, maximal);
      return KeyError(max_at ? max_at->line : (at ? at->line : 0), maximal,
                      "must be at least minimal_backoff_time (" +
                          FormatValue(ConfigValue(config.minimal_backoff_time)) + ")");
    }
    return Status::Ok();
  }

  // A zero relay timeout would give up on every next hop before it could
  // answer.
  Status CheckRelayTimeouts(const Config& config) const {
    for (std::string_view name :
         {"relay_connect_timeout", "relay_greeting_timeout", "relay_mail_timeout",
          "relay_rcpt_timeout", "relay_data_init_timeout", "relay_data_block_timeout",
          "relay_data_done_timeout", "relay_command_timeout"}) {
      const ConfigKey& key = *FindConfigKey(name);
      if (config.*std::get<Duration Config::*>(key.slot) > Duration::zero()) continue;
      const Assignment* at = FindAssignment(globals_, key);
      return KeyError(at ? at->line : 0, key, "must be more than 0");
    }
    return Status::Ok();
  }

  // <Postmaster> is rewritten to this address, so it must be one.
  Status CheckPostmaster(const Config& config) const {
    const ConfigKey& key = *FindConfigKey("postmaster_address");
    const Assignment* assignment = FindAssignment(globals_, key);
    if (assignment == nullptr || config.postmaster_address.empty()) return Status::Ok();
    size_t consumed = 0;
    std::string path = "<" + config.postmaster_address + ">";
    Result<Path> parsed = ParsePath(path, PathKind::kForward, &consumed);
    if (parsed.ok() && consumed == path.size() && !parsed->mailbox.domain.empty())
      return Status::Ok();
    return KeyError(assignment->line, key,
                    Quoted(config.postmaster_address) + " is not a mailbox (local-part@domain): " +
                        (parsed.ok() ? "it has no domain" : parsed.status().message()));
  }

  // metricsd serves one socket.
  Status CheckMetricsListen(const Config& config) const {
    if (config.metrics_listen.size() <= 1) return Status::Ok();
    const ConfigKey& key = *FindConfigKey("metrics_listen");
    const Assignment* assignment = FindAssignment(globals_, key);
    return KeyError(assignment != nullptr ? assignment->line : 0, key,
                    "takes one ADDRESS:PORT, not " + std::to_string(config.metrics_listen.size()));
  }

  // myhostname names postern in every greeting, EHLO and Received: field.
  Status CheckHostName(const Config& config) const {
    std::optional<std::string> problem = HostNameProblem(config.myhostname);
    if (!problem) return Status::Ok();
    const ConfigKey& key = *FindConfigKey("myhostname");
    if (const Assignment* assignment = FindAssignment(globals_, key))
      return KeyError(assignment->line, key,
                      Quoted(config.myhostname) + " is not a host name: " + *problem);
    return Status::Error(file_name_ + ": myhostname is not set, and the system's host name " +
                         Quoted(config.myhostname) + " is not a host name (" + *problem +
                         "): set myhostname");
  }

  // A mechanism that authd does not serve would be offered in EHLO and
  // then fail every client that picks it: refused where it is set, above
  // the listener sections or in one.
  Status CheckAuthMechanisms(const Config& config) const {
    const ConfigKey& key = *FindConfigKey("auth_mechanisms");
    if (const Assignment* at = FindAssignment(globals_, key))
      if (Status s = RefuseUnserved(key, *at, config.listener_defaults); !s.ok()) return s;
    for (size_t i = 0; i < config.listeners.size(); ++i)
      if (const Assignment* at = FindAssignment(listeners_[i].assignments, key))
        if (Status s = RefuseUnserved(key, *at, config.listeners[i]); !s.ok()) return s;
    return Status::Ok();
  }

  Status RefuseUnserved(const ConfigKey& key, const Assignment& at,
                        const ListenerConfig& listener) const {
    std::vector<std::string> unserved = UnservedAuthMechanisms(listener.auth_mechanisms);
    if (unserved.empty()) return Status::Ok();
    std::string names;
    for (const std::string& name : unserved) names += (names.empty() ? "" : " ") + name;
    std::string served;
    for (std::string_view name : kServedAuthMechanisms)
      served += (served.empty() ? "" : " and ") + std::string(name);
    return KeyError(at.line, key,
                    "postern does not serve " + names + ": only " + served + " are served");
  }

  // Every listener binds somewhere. Listeners may share an address (master
  // then serves each client by the most specific remote_networks), but not
  // with the same remote_networks: nothing would tell them apart.
  Status CheckListeners(const Config& config) const {
    std::map<std::string, std::vector<const ListenerConfig*>> bound_by;  // address -> listeners
    for (size_t i = 0; i < config.listeners.size(); ++i) {
      const ListenerConfig& listener = config.listeners[i];
      if (listener.bind.empty()) {
        return Error(listeners_[i].line, "listener " + Quoted(listener.name) +
                                             " has no bind address: set bind = ADDRESS:PORT");
      }
      if (Status tls = CheckTls(listener, listeners_[i].line); !tls.ok()) return tls;
      for (const BindAddress& bind : listener.bind) {
        std::vector<const ListenerConfig*>& sharing = bound_by[bind.ToString()];
        for (const ListenerConfig* other : sharing) {
          if (NetworkSet(*other) == NetworkSet(listener)) {
            return Error(BindLine(listeners_[i]),
                         "bind: " + bind.ToString() + " is already bound by listener " +
                             Quoted(other->name) +
                             " with the same remote_networks; give one of them other "
                             "remote_networks");
          }
        }
        sharing.push_back(&listener);
      }
    }
    return Status::Ok();
  }

  // A listener that would promise TLS it cannot give is refused here, so
  // that `postern check` finds it rather than a client. Either certificate
  // pair gives TLS; each needs both its files.
  Status CheckTls(const ListenerConfig& listener, int line) const {
    std::string name = "listener " + Quoted(listener.name);
    if (listener.tls_cert_file.empty() != listener.tls_key_file.empty())
      return Error(line, name + ": tls_cert_file and tls_key_file must be set together");
    if (listener.tls_eccert_file.empty() != listener.tls_eckey_file.empty())
      return Error(line, name + ": tls_eccert_file and tls_eckey_file must be set together");
    const char* certificate =
        "a certificate: tls_cert_file and tls_key_file, or tls_eccert_file and tls_eckey_file";
    if (!listener.has_tls() && listener.tls_wrapper)
      return Error(line, name + ": tls_wrapper = yes needs " + certificate);
    if (!listener.has_tls() && listener.require_tls)
      return Error(line, name + ": require_tls = yes needs " + certificate +
                             ", or no client could ever send mail");
    return Status::Ok();
  }

  static std::set<std::string> NetworkSet(const ListenerConfig& listener) {
    std::set<std::string> set;
    for (const Network& network : listener.remote_networks) set.insert(network.ToString());
    return set;
  }

  static int BindLine(const Section& section) {
    for (const Assignment& assignment : section.assignments) {
      if (assignment.key->type == KeyType::kBindAddresses) return assignment.line;
    }
    return section.line;
  }

  std::string file_name_;
  std::string config_dir_;
  std::vector<Assignment> globals_;
  std::vector<Section> listeners_;
};

Result<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path, errno);
  std::string text;
  char buffer[8192];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof buffer)) != 0) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int error = errno;
      close(fd);
      return Status::FromErrno("cannot read " + path, error);
    }
    text.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  return text;
}

Result<std::string> AbsoluteDirectory(const std::string& dir) {
  std::string absolute = dir;
  if (absolute.empty() || absolute.front() != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) == nullptr) {
      return Status::Error("cannot resolve the configuration directory " + Quoted(dir) +
                           ": getcwd: " + std::strerror(errno));
    }
    absolute = absolute.empty() ? std::string(cwd) : std::string(cwd) + "/" + absolute;
  }
  while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  return absolute;
}

void AddEntry(std::string name, std::string value, std::string default_text, ConfigView view,
              std::vector<ConfigEntry>* entries) {
  bool is_default = view == ConfigView::kDefaults || value == default_text;
  if (view == ConfigView::kNonDefault && is_default) return;
  std::string shown = view == ConfigView::kDefaults ? std::move(default_text) : std::move(value);
  entries->push_back({std::move(name), std::move(shown), is_default});
}

}  // namespace

const ListenerConfig* Config::FindListener(std::string_view name) const {
  auto found = std::find_if(listeners.begin(), listeners.end(),
                            [name](const ListenerConfig& l) { return l.name == name; });
  return found == listeners.end() ? nullptr : &*found;
}

bool Config::IsLocalDomain(std::string_view domain) const {
  if (domain.ends_with('.')) domain.remove_suffix(1);
  std::string lower = AsciiLowerCase(domain);
  return std::find(local_domains.begin(), local_domains.end(), lower) != local_domains.end();
}

std::string Config::PostmasterAddress() const {
  if (!postmaster_address.empty()) return postmaster_address;
  return "postmaster@" + (local_domains.empty() ? myhostname : local_domains.front());
}

std::string Config::MailDirectory() const {
  return mail_directory.empty() ? state_directory + "/mail" : mail_directory;
}

Result<Config> ParseConfig(std::string_view text, const std::string& file_name,
                           const std::string& config_dir) {
  return Parser(file_name, config_dir).Parse(text);
}

Result<Config> LoadConfig(const std::string& config_dir) {
  Result<std::string> dir = AbsoluteDirectory(config_dir);
  if (!dir.ok()) return dir.status();
  std::string file_name = *dir + "/postern.conf";
  Result<std::string> text = ReadFile(file_name);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, file_name, *dir);
}

std::vector<ConfigEntry> DescribeConfig(const Config& config, ConfigView view) {
  std::vector<ConfigEntry> entries;
  const std::string& dir = config.config_dir;
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.scope != KeyScope::kGlobal) continue;
    AddEntry(std::string(key.name), FormatValue(GetValue(key, config)),
             FormatValue(DefaultValue(key, Role::kGateway, dir)), view, &entries);
  }
  const ListenerConfig& top = config.listener_defaults;
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.scope != KeyScope::kListener) continue;
    Role default_role = view == ConfigView::kDefaults ? Role::kGateway : top.role;
    AddEntry(std::string(key.name), FormatValue(GetValue(key, top)),
             FormatValue(DefaultValue(key, default_role, dir)), view, &entries);
  }
  for (const ListenerConfig& listener : config.listeners) {
    Role default_role = view == ConfigView::kDefaults ? Role::kGateway : listener.role;
    for (const ConfigKey& key : ConfigKeys()) {
      if (key.scope == KeyScope::kGlobal) continue;
      AddEntry("listener." + listener.name + "." + std::string(key.name),
               FormatValue(GetValue(key, listener)),
               FormatValue(DefaultValue(key, default_role, dir)), view, &entries);
    }
  }
  return entries;
}

}  // namespace postern
