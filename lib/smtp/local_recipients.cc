// lib/smtp/local_recipients.cc — see lib/smtp/local_recipients.h.
#include "lib/smtp/local_recipients.h"

#include "lib/base/ascii.h"
#include "lib/config/text_lines.h"

namespace postern {
namespace {

// local@domain split at the last '@'; the domain is empty when there is none.
std::pair<std::string_view, std::string_view> SplitAddress(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {address, {}};
  return {address.substr(0, at), address.substr(at + 1)};
}

bool IsPostmaster(const Config& config, std::string_view local_part) {
  if (AsciiEqualsIgnoreCase(local_part, "postmaster")) return true;
  std::string postmaster = config.PostmasterAddress();
  return AsciiEqualsIgnoreCase(local_part, SplitAddress(postmaster).first);
}

// The sasldb and map lookups of one spelling of the local part.
bool Knows(const KnownRecipients& known, const std::string& local, const std::string& domain) {
  if (known.use_sasldb && (known.sasldb_users.count({local, AsciiLowerCase(known.auth_realm)}) ||
                           known.sasldb_users.count({local, domain})))
    return true;
  return known.map_keys.count(local) || known.map_keys.count(local + "@" + domain);
}

}  // namespace

bool NeedsRecipientCheck(const Config& config, const Mailbox& recipient) {
  return !config.local_recipient_map.empty() && !recipient.domain.empty() &&
         config.IsLocalDomain(recipient.domain) && !IsPostmaster(config, recipient.local_part);
}

Result<std::set<std::string>> ParseRecipientMap(std::string_view text,
                                                const std::string& file_name) {
  std::set<std::string> keys;
  Status read = ForEachContentLine(text, [&](int line_number, std::string_view line) {
    std::string_view key = SplitWords(line).front();
    auto [local, domain] = SplitAddress(key);
    bool has_at = key.find('@') != std::string_view::npos;
    if (local.empty() || (has_at && domain.empty()))
      return Status::Error(file_name + ":" + std::to_string(line_number) + ": \"" +
                           std::string(key) + "\" is neither a local part nor local@domain");
    keys.insert(has_at ? std::string(local) + "@" + AsciiLowerCase(domain) : std::string(key));
    return Status::Ok();
  });
  if (!read.ok()) return read;
  return keys;
}

std::optional<std::string> KnownAs(const KnownRecipients& known, std::string_view address) {
  auto [local, domain] = SplitAddress(address);
  std::string lower_domain = AsciiLowerCase(domain);
  if (lower_domain.ends_with('.')) lower_domain.pop_back();
  if (Knows(known, std::string(local), lower_domain)) return std::string(address);
  std::string lower_local = AsciiLowerCase(local);
  if (Knows(known, lower_local, lower_domain)) return lower_local + "@" + std::string(domain);
  return std::nullopt;
}

}  // namespace postern
