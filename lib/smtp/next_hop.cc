// lib/smtp/next_hop.cc — see lib/smtp/next_hop.h.
#include "lib/smtp/next_hop.h"

#include <algorithm>

#include "lib/base/ascii.h"
#include "lib/smtp/smtp_address.h"

namespace postern {

Result<NextHop> NextHop::Parse(std::string_view text) {
  auto error = [text](const std::string& why) {
    return Status::Error("\"" + std::string(text) + "\" is not a next hop: " + why);
  };
  NextHop hop;
  std::string_view host;
  std::string_view rest;
  hop.bracketed = text.starts_with('[');
  if (hop.bracketed) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return error("the '[' has no ']'");
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else {
    if (std::count(text.begin(), text.end(), ':') > 1)
      return error("write an IPv6 address in brackets, as in [2001:db8::25]:25");
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (!rest.empty()) {
    if (rest[0] != ':') return error("expected :PORT after the host");
    // A next hop never listens on port 0.
    std::optional<uint16_t> port = ParsePort(rest.substr(1));
    if (!port || *port == 0)
      return error("port \"" + std::string(rest.substr(1)) + "\" is not a number from 1 to 65535");
    hop.port = *port;
  }
  if (host.empty()) return error("the host is empty");
  hop.address = IpAddress::Parse(host);
  if (hop.address) {
    hop.host = hop.address->ToString();
    hop.mx_lookup = false;
    return hop;
  }
  if (!IsValidDomain(host))
    return error("\"" + std::string(host) + "\" is neither a host name nor an IP address");
  hop.host = AsciiLowerCase(host);
  hop.mx_lookup = !hop.bracketed;
  return hop;
}

std::string NextHop::ToString() const {
  std::string text = bracketed ? "[" + host + "]" : host;
  if (port != 25 || bracketed) text += ":" + std::to_string(port);
  return text;
}

}  // namespace postern
