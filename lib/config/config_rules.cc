// lib/config/config_rules.cc — see lib/config/config_rules.h.
#include "lib/config/config_rules.h"

#include <algorithm>

#include "lib/base/ascii.h"
#include "lib/config/config_keys.h"
#include "lib/config/text_lines.h"
#include "lib/smtp/smtp_address.h"

namespace postern {

std::optional<std::string_view> LooksLikeKeyLine(std::string_view text) {
  size_t equals = text.find('=');
  if (equals == std::string_view::npos) return std::nullopt;
  std::string_view name = TrimBlanks(text.substr(0, equals));
  const ConfigKey* key = FindConfigKey(name);
  if (key == nullptr) return std::nullopt;
  return key->name;
}

std::optional<std::string> HostNameProblem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.back() == '.') return "it ends with a dot";
  if (name.size() > kMaxDomain)
    return "it is longer than " + std::to_string(kMaxDomain) + " octets";
  if (IsValidDomain(name)) return std::nullopt;
  return "a host name is labels of letters, digits and inner hyphens, at most 63 octets each, "
         "separated by dots (RFC 1123)";
}

std::vector<std::string> UnservedAuthMechanisms(const std::vector<std::string>& mechanisms) {
  std::vector<std::string> unserved;
  for (const std::string& mechanism : mechanisms) {
    std::string upper = AsciiUpperCase(mechanism);
    if (std::find(std::begin(kServedAuthMechanisms), std::end(kServedAuthMechanisms), upper) ==
        std::end(kServedAuthMechanisms))
      unserved.push_back(mechanism);
  }
  return unserved;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic programme: i-2, i-1 and i.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        current[j] = std::min(current[j], before[j - 2] + 1);
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

std::optional<std::string_view> NearestKeyName(std::string_view typed) {
  const std::string lower = AsciiLowerCase(typed);
  const size_t allowed = lower.size() <= 4 ? 1 : lower.size() <= 10 ? 2 : 3;
  std::optional<std::string_view> nearest;
  size_t best = allowed + 1;
  for (const ConfigKey& key : ConfigKeys()) {
    size_t distance = EditDistance(lower, key.name);
    if (distance < best) {
      best = distance;
      nearest = key.name;
    }
  }
  return nearest;
}

}  // namespace postern
