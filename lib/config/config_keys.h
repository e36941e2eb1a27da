// lib/config/config_keys.h — the one table of postern.conf keys.
//
// Every key is declared once, in lib/config/config_keys.cc: its name, value type,
// scope, default (two where the spec's default differs between gateway and
// relay listeners), the paragraph that postern.conf(5) prints for it, and the
// Config or ListenerConfig member that holds it. The parser (lib/config/config.cc),
// `postern config` (DescribeConfig) and the man page (lib/config/config_man.cc) all
// read this table; none of them names a key of its own. The table is checked
// at compile time: unique names, globals first, and a member whose C++ type
// matches the key's type and scope.
//
// This header also owns the value syntax: how text in postern.conf becomes a
// typed value (ParseValue) and how a value is written back (FormatValue).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/net/network.h"

namespace postern {

enum class KeyType {
  kString,         // the text as written
  kPath,           // a file or directory; a relative one is taken relative to the
                   // configuration directory; empty stays empty
  kBool,           // yes | no
  kCount,          // 0 .. 4294967295
  kSize,           // bytes, with an optional k, m or g suffix (powers of 1024)
  kDuration,       // with an optional s, m, h or d suffix; a bare number is seconds
  kWords,          // words separated by white space or commas
  kDomains,        // like kWords, lower-cased
  kNetworks,       // CIDR networks or single addresses
  kBindAddresses,  // ADDRESS:PORT or [IPV6-ADDRESS]:PORT
  kNextHops,       // [HOST]:PORT, HOST:PORT, ... (lib/smtp/next_hop.h)
  kRole,           // gateway | relay
  kChoice,         // one of the words in ConfigKey::choices
};

enum class KeyScope {
  kGlobal,        // top level only
  kListener,      // top level (the default for every listener) or in [listener "NAME"]
  kListenerOnly,  // in [listener "NAME"] only
};

// The value of a kChoice key: which of its words, by position. The member
// that holds it is an enum whose enumerators follow the words' order.
struct Choice {
  uint8_t index = 0;
  std::string_view word;  // points into the key's choices
  bool operator==(const Choice&) const = default;
};

// A typed value. kString and kPath hold std::string, kBool bool, kCount
// uint32_t, kSize uint64_t, kDuration Duration, kWords and kDomains
// std::vector<std::string>, kNetworks std::vector<Network>, kBindAddresses
// std::vector<BindAddress>, kNextHops std::vector<NextHop>, kRole Role,
// kChoice Choice.
using ConfigValue = std::variant<std::string, bool, uint32_t, uint64_t, Duration,
                                 std::vector<std::string>, std::vector<Network>,
                                 std::vector<BindAddress>, std::vector<NextHop>, Role, Choice>;

// The member that holds a key's value: of Config for global keys, of
// ListenerConfig for listener keys.
using ConfigSlot =
    std::variant<std::string Config::*, bool Config::*, uint32_t Config::*, uint64_t Config::*,
                 Duration Config::*, std::vector<std::string> Config::*,
                 std::vector<Network> Config::*, std::vector<BindAddress> Config::*,
                 std::vector<NextHop> Config::*, RelayTls Config::*, LogTarget Config::*,
                 LogFacility Config::*, std::string ListenerConfig::*, bool ListenerConfig::*,
                 uint32_t ListenerConfig::*, uint64_t ListenerConfig::*, Duration ListenerConfig::*,
                 std::vector<std::string> ListenerConfig::*, std::vector<Network> ListenerConfig::*,
                 std::vector<BindAddress> ListenerConfig::*, Role ListenerConfig::*,
                 BareNewline ListenerConfig::*, AuthRequireTls ListenerConfig::*>;

struct ConfigKey {
  std::string_view name;
  KeyType type;
  KeyScope scope;
  // The default as written in postern.conf; for a key with a relay_default,
  // the gateway listeners' default.
  std::string_view default_value = {};
  // Set only where the spec gives relay listeners another default.
  std::optional<std::string_view> relay_default = std::nullopt;
  // Set where the default comes from the running system (the host name);
  // it then replaces default_value.
  std::string (*system_default)() = nullptr;
  // How postern.conf(5) states a default that the bare value would misstate
  // (computed, build-dependent, relative, or required); empty otherwise.
  std::string_view default_doc = {};
  // One paragraph of plain text for postern.conf(5).
  std::string_view description;
  // The smallest and the largest value a kCount key accepts.
  uint32_t minimum = 0;
  uint32_t maximum = UINT32_MAX;
  // The words a kChoice key accepts, in the order of its enum's enumerators.
  std::span<const std::string_view> choices = {};
  ConfigSlot slot;
};

// Every key, global keys first, in the order postern.conf(5) lists them.
std::span<const ConfigKey> ConfigKeys();

// The key called name, or nullptr.
const ConfigKey* FindConfigKey(std::string_view name);

// The default of key as text for a listener of the given role (the role is
// ignored unless the key has a relay_default).
std::string DefaultText(const ConfigKey& key, Role role);

// "gateway" or "relay".
std::string_view RoleName(Role role);

// The words of a kChoice key as a phrase: "a or b", "a, b or c".
std::string ChoiceWords(std::span<const std::string_view> choices);

// Reads text as a value of type; a relative kPath is joined to config_dir;
// a kChoice is one of choices (case-insensitive). The error says what is
// wrong with the text without naming the key, e.g. `"abc" is not a number`.
Result<ConfigValue> ParseValue(KeyType type, std::string_view text, const std::string& config_dir,
                               std::span<const std::string_view> choices = {});

// The value as it would be written in postern.conf: yes/no, durations and
// sizes with the largest unit that divides them exactly (5m, 30s, 10m, 64k,
// 1g; 0 for zero), lists separated by one space, networks and bind
// addresses in their canonical form.
std::string FormatValue(const ConfigValue& value);

// Reading and writing a key's member. Calling these with a key of the other
// scope (a listener key on Config, a global key on ListenerConfig) or with
// a value of another type is a broken invariant and panics.
ConfigValue GetValue(const ConfigKey& key, const Config& config);
ConfigValue GetValue(const ConfigKey& key, const ListenerConfig& listener);
void SetValue(const ConfigKey& key, ConfigValue value, Config* config);
void SetValue(const ConfigKey& key, ConfigValue value, ListenerConfig* listener);

}  // namespace postern
