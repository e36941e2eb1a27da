// lib/smtp/smtp_address.cc — see lib/smtp/smtp_address.h.
#include "lib/smtp/smtp_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "lib/base/ascii.h"
#include "lib/smtp/xtext.h"

namespace postern {
namespace {

constexpr size_t kMaxLabel = 63;     // RFC 1035 2.3.4
constexpr size_t kMaxIpv6Text = 45;  // the longest textual IPv6 address
constexpr std::string_view kIpv6Tag = "IPv6:";

bool IsAtext(char c) {
  return IsAsciiAlpha(c) || IsAsciiDigit(c) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// RFC 5321 qtextSMTP.
bool IsQtext(char c) { return (c >= 32 && c <= 126) && c != '"' && c != '\\'; }

// Whether a label may hold '_': not in a Domain (RFC 5321 4.1.2), but in a
// HELO name (common in Windows computer names).
enum class Underscore { kRefused, kAllowed };

bool IsLabelCharacter(char c, Underscore underscore) {
  return IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '-' ||
         (underscore == Underscore::kAllowed && c == '_');
}

bool IsDomainText(std::string_view text, Underscore underscore) {
  if (text.empty() || text.size() > kMaxDomain) return false;
  while (true) {
    size_t dot = text.find('.');
    std::string_view label = text.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabel) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsLabelCharacter(c, underscore)) return false;
    }
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

// RFC 5321 IPv4-address-literal: Snum 3("." Snum), Snum at most 255.
bool IsIpv4Literal(std::string_view text) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t digits = 0;
    int value = 0;
    while (i < text.size() && IsAsciiDigit(text[i]) && digits <= 3) {
      value = value * 10 + (text[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0 || digits > 3 || value > 255) return false;
    ++parts;
    if (i == text.size()) return parts == 4;
    if (text[i] != '.' || parts == 4) return false;
    ++i;
  }
}

// RFC 5321 IPv6-addr, whose forms are exactly those inet_pton accepts.
bool IsIpv6Text(std::string_view text) {
  if (text.empty() || text.size() > kMaxIpv6Text) return false;
  std::string copy(text);
  in6_addr address;
  return inet_pton(AF_INET6, copy.c_str(), &address) == 1;
}

bool IsDotString(std::string_view text) {
  if (text.empty()) return false;
  bool atom_started = false;
  for (char c : text) {
    if (c == '.') {
      if (!atom_started) return false;
      atom_started = false;
    } else if (IsAtext(c)) {
      atom_started = true;
    } else {
      return false;
    }
  }
  return atom_started;
}

// Length of the quoted-string at the start of text, or 0 if there is none.
size_t QuotedStringLength(std::string_view text) {
  if (text.empty() || text[0] != '"') return 0;
  for (size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= text.size() || text[i + 1] < 32 || text[i + 1] > 126) return 0;
      ++i;
    } else if (!IsQtext(c)) {
      return 0;
    }
  }
  return 0;
}

// Index of the '>' that closes the path opened by text[0] == '<', skipping
// any '>' inside a quoted local part.
size_t FindPathEnd(std::string_view text) {
  bool quoted = false;
  for (size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

// RFC 5321 A-d-l ":" — "@dom,@dom:" before the mailbox; returns the length
// of the route including its colon, or 0 for a malformed one.
size_t SourceRouteLength(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return 0;
  std::string_view route = text.substr(0, colon);
  while (true) {
    if (route.empty() || route[0] != '@') return 0;
    size_t comma = route.find(',');
    if (!IsValidDomain(route.substr(1, comma == std::string_view::npos ? comma : comma - 1)))
      return 0;
    if (comma == std::string_view::npos) return colon + 1;
    route.remove_prefix(comma + 1);
  }
}

Result<Mailbox> ParseMailbox(std::string_view text) {
  size_t local_length = text.empty() || text[0] != '"' ? text.find('@') : QuotedStringLength(text);
  if (local_length == 0 || local_length == std::string_view::npos)
    return Status::Error("the mailbox has no valid local part followed by '@'");
  std::string_view local = text.substr(0, local_length);
  if (local[0] != '"' && !IsDotString(local))
    return Status::Error("the local part is not a dot-string");
  if (local.size() > kMaxLocalPart) return Status::Error("the local part exceeds 64 octets");
  if (local_length >= text.size() || text[local_length] != '@')
    return Status::Error("the local part is not followed by '@'");
  std::string_view domain = text.substr(local_length + 1);
  if (domain.size() > kMaxDomain) return Status::Error("the domain exceeds 255 octets");
  bool domain_ok =
      !domain.empty() && domain[0] == '[' ? IsValidAddressLiteral(domain) : IsValidDomain(domain);
  if (!domain_ok)
    return Status::Error("the domain is neither a domain name nor an address literal");
  return Mailbox{std::string(local), std::string(domain)};
}

// RFC 5321 esmtp-keyword and esmtp-value.
bool IsEsmtpKeyword(std::string_view text) {
  if (text.empty() || !(IsAsciiAlpha(text[0]) || IsAsciiDigit(text[0]))) return false;
  for (char c : text) {
    if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '-') return false;
  }
  return true;
}

bool IsEsmtpValue(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < 33 || c > 126 || c == '=') return false;
  }
  return true;
}

struct Parameter {
  std::string_view keyword;
  std::optional<std::string_view> value;
};

// Calls apply(parameter) for each space-separated esmtp-param; stops at the
// first syntax error or the first parameter apply() refuses.
template <typename Apply>
bool ForEachParameter(std::string_view text, Apply apply) {
  while (true) {
    size_t start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) return true;
    text.remove_prefix(start);
    std::string_view token = text.substr(0, text.find(' '));
    text.remove_prefix(token.size());
    Parameter parameter;
    size_t equals = token.find('=');
    parameter.keyword = token.substr(0, equals);
    if (equals != std::string_view::npos) {
      parameter.value = token.substr(equals + 1);
      if (!IsEsmtpValue(*parameter.value)) return false;
    }
    if (!IsEsmtpKeyword(parameter.keyword) || !apply(parameter)) return false;
  }
}

// Keeps each known keyword to one use per command.
class SeenKeywords {
 public:
  // False if the keyword was seen before.
  bool Mark(unsigned bit) {
    if (seen_ & bit) return false;
    seen_ |= bit;
    return true;
  }

 private:
  unsigned seen_ = 0;
};

// RFC 1870 size-value = 1*20DIGIT. A number too large for uint64_t, even
// with more digits, reads as UINT64_MAX: it is a size over any limit, which
// RFC 1870 6.1 answers with 552, not a syntax error.
bool ParseSize(std::string_view value, uint64_t* size) {
  if (value.empty() || !std::all_of(value.begin(), value.end(), IsAsciiDigit)) return false;
  if (!ParseDecimal(value, size)) *size = UINT64_MAX;
  return true;
}

bool ParseBody(std::string_view value, const OfferedExtensions& offered, BodyType* body) {
  if (AsciiEqualsIgnoreCase(value, "7BIT")) {
    *body = BodyType::k7Bit;
    return offered.eightbitmime || offered.binarymime;
  }
  if (AsciiEqualsIgnoreCase(value, "8BITMIME")) {
    *body = BodyType::k8BitMime;
    return offered.eightbitmime;
  }
  if (AsciiEqualsIgnoreCase(value, "BINARYMIME")) {
    *body = BodyType::kBinaryMime;
    return offered.binarymime;
  }
  return false;
}

bool ParseRet(std::string_view value, DsnRet* ret) {
  if (AsciiEqualsIgnoreCase(value, "FULL")) {
    *ret = DsnRet::kFull;
    return true;
  }
  if (AsciiEqualsIgnoreCase(value, "HDRS")) {
    *ret = DsnRet::kHeaders;
    return true;
  }
  return false;
}

// RFC 3461 4.1: "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ).
bool ParseNotify(std::string_view value, uint8_t* notify) {
  if (AsciiEqualsIgnoreCase(value, "NEVER")) {
    *notify = kNotifyNever;
    return true;
  }
  uint8_t bits = 0;
  while (true) {
    size_t comma = value.find(',');
    std::string_view element = value.substr(0, comma);
    if (AsciiEqualsIgnoreCase(element, "SUCCESS")) {
      bits |= kNotifySuccess;
    } else if (AsciiEqualsIgnoreCase(element, "FAILURE")) {
      bits |= kNotifyFailure;
    } else if (AsciiEqualsIgnoreCase(element, "DELAY")) {
      bits |= kNotifyDelay;
    } else {
      return false;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  *notify = bits;
  return true;
}

// RFC 3461 4.2: addr-type ";" xtext, the whole parameter at most 500 octets.
bool IsOrcptValue(std::string_view value) {
  if (value.size() + std::string_view("ORCPT=").size() > kMaxOrcptParameter) return false;
  size_t semicolon = value.find(';');
  if (semicolon == 0 || semicolon == std::string_view::npos) return false;
  for (char c : value.substr(0, semicolon)) {
    if (!IsAtext(c)) return false;
  }
  return IsXtext(value.substr(semicolon + 1));
}

// RFC 4954 5 and 7: AUTH= xtext whose decoded form is the two characters
// "<>" or an RFC 5321 Mailbox (which fits in a path of at most 256 octets).
bool ParseAuthValue(std::string_view value, Path* auth) {
  std::optional<std::string> decoded = DecodeXtext(value);
  if (!decoded) return false;
  if (*decoded == "<>") {
    auth->null = true;
    return true;
  }
  if (decoded->size() + 2 > kMaxPath) return false;
  Result<Mailbox> mailbox = ParseMailbox(*decoded);
  if (!mailbox.ok()) return false;
  auth->mailbox = std::move(*mailbox);
  return true;
}

enum MailKeyword : unsigned {
  kSizeBit = 1,
  kBodyBit = 2,
  kRetBit = 4,
  kEnvidBit = 8,
  kAuthBit = 16
};
enum RcptKeyword : unsigned { kNotifyBit = 1, kOrcptBit = 2 };

bool ApplyMailParameter(const Parameter& p, const OfferedExtensions& offered, SeenKeywords* seen,
                        MailParameters* out) {
  if (!p.value) return false;  // every MAIL parameter postern knows takes a value
  std::string_view value = *p.value;
  if (AsciiEqualsIgnoreCase(p.keyword, "SIZE")) {
    uint64_t size = 0;
    if (!offered.size || !seen->Mark(kSizeBit) || !ParseSize(value, &size)) return false;
    out->size = size;
    return true;
  }
  if (AsciiEqualsIgnoreCase(p.keyword, "BODY")) {
    return seen->Mark(kBodyBit) && ParseBody(value, offered, &out->body);
  }
  if (AsciiEqualsIgnoreCase(p.keyword, "RET")) {
    return offered.dsn && seen->Mark(kRetBit) && ParseRet(value, &out->ret);
  }
  if (AsciiEqualsIgnoreCase(p.keyword, "ENVID")) {
    if (!offered.dsn || !seen->Mark(kEnvidBit) || value.size() > kMaxEnvid || !IsXtext(value))
      return false;
    out->envid = std::string(value);
    return true;
  }
  if (AsciiEqualsIgnoreCase(p.keyword, "AUTH")) {
    Path auth;
    if (!offered.auth || !seen->Mark(kAuthBit) || !ParseAuthValue(value, &auth)) return false;
    out->auth = std::move(auth);
    return true;
  }
  return false;
}

bool ApplyRcptParameter(const Parameter& p, const OfferedExtensions& offered, SeenKeywords* seen,
                        RcptParameters* out) {
  if (!p.value || !offered.dsn) return false;
  std::string_view value = *p.value;
  if (AsciiEqualsIgnoreCase(p.keyword, "NOTIFY")) {
    return seen->Mark(kNotifyBit) && ParseNotify(value, &out->notify);
  }
  if (AsciiEqualsIgnoreCase(p.keyword, "ORCPT")) {
    if (!seen->Mark(kOrcptBit) || !IsOrcptValue(value)) return false;
    out->orcpt = std::string(value);
    return true;
  }
  return false;
}

// Splits "KEYWORD:<path> params" into the path and the parameter text.
ArgumentError SplitPathArgument(std::string_view argument, std::string_view keyword, PathKind kind,
                                Path* path, std::string_view* parameters) {
  size_t colon = argument.find(':');
  if (colon == std::string_view::npos || !AsciiEqualsIgnoreCase(argument.substr(0, colon), keyword))
    return ArgumentError::kMissingColon;
  std::string_view rest = argument.substr(colon + 1);
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  size_t consumed = 0;
  Result<Path> parsed = ParsePath(rest, kind, &consumed);
  if (!parsed.ok()) return ArgumentError::kInvalidAddress;
  rest.remove_prefix(consumed);
  if (!rest.empty() && rest[0] != ' ') return ArgumentError::kInvalidAddress;
  *path = std::move(*parsed);
  *parameters = rest;
  return ArgumentError::kNone;
}

}  // namespace

std::string Mailbox::ToString() const {
  if (domain.empty()) return local_part;
  return local_part + "@" + domain;
}

bool IsValidDomain(std::string_view text) { return IsDomainText(text, Underscore::kRefused); }

bool IsValidAddressLiteral(std::string_view text) {
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') return false;
  std::string_view inner = text.substr(1, text.size() - 2);
  if (inner.size() > kIpv6Tag.size() &&
      AsciiEqualsIgnoreCase(inner.substr(0, kIpv6Tag.size()), kIpv6Tag)) {
    return IsIpv6Text(inner.substr(kIpv6Tag.size()));
  }
  return IsIpv4Literal(inner);
}

bool IsValidHeloName(std::string_view text) {
  if (!text.empty() && text[0] == '[') return IsValidAddressLiteral(text);
  return IsDomainText(text, Underscore::kAllowed);
}

Result<Path> ParsePath(std::string_view text, PathKind kind, size_t* consumed) {
  if (text.empty() || text[0] != '<') return Status::Error("the path does not start with '<'");
  size_t end = FindPathEnd(text);
  if (end == std::string_view::npos) return Status::Error("the path has no closing '>'");
  if (end + 1 > kMaxPath) return Status::Error("the path exceeds 256 octets");
  std::string_view inner = text.substr(1, end - 1);
  Path path;
  if (inner.empty()) {
    if (kind == PathKind::kForward) return Status::Error("the null path <> is not a recipient");
    path.null = true;
    *consumed = end + 1;
    return path;
  }
  if (kind == PathKind::kForward && AsciiEqualsIgnoreCase(inner, "Postmaster")) {
    path.mailbox.local_part = std::string(inner);
    *consumed = end + 1;
    return path;
  }
  if (inner[0] == '@') {
    size_t route = SourceRouteLength(inner);
    if (route == 0) return Status::Error("the source route is malformed");
    inner.remove_prefix(route);
  }
  Result<Mailbox> mailbox = ParseMailbox(inner);
  if (!mailbox.ok()) return mailbox.status();
  path.mailbox = std::move(*mailbox);
  *consumed = end + 1;
  return path;
}

ArgumentError ParseMailArguments(std::string_view argument, const OfferedExtensions& offered,
                                 MailArguments* out) {
  std::string_view parameters;
  ArgumentError error =
      SplitPathArgument(argument, "FROM", PathKind::kReverse, &out->reverse_path, &parameters);
  if (error != ArgumentError::kNone) return error;
  SeenKeywords seen;
  bool ok = ForEachParameter(parameters, [&](const Parameter& p) {
    return ApplyMailParameter(p, offered, &seen, &out->parameters);
  });
  return ok ? ArgumentError::kNone : ArgumentError::kInvalidParameter;
}

ArgumentError ParseRcptArguments(std::string_view argument, const OfferedExtensions& offered,
                                 RcptArguments* out) {
  std::string_view parameters;
  ArgumentError error =
      SplitPathArgument(argument, "TO", PathKind::kForward, &out->forward_path, &parameters);
  if (error != ArgumentError::kNone) return error;
  SeenKeywords seen;
  bool ok = ForEachParameter(parameters, [&](const Parameter& p) {
    return ApplyRcptParameter(p, offered, &seen, &out->parameters);
  });
  return ok ? ArgumentError::kNone : ArgumentError::kInvalidParameter;
}

}  // namespace postern
