// lib/smtp/next_hop.h — where qmgr hands on mail for other domains.
//
// relayhost names one or more next hops, tried in order for fail-over, in
// Postfix's forms: "[HOST]:PORT" or "[HOST]" (brackets: connect to HOST
// itself, no MX lookup), "HOST:PORT" or "HOST" (look up HOST's MX records
// first, RFC 5321 5.1). HOST is a domain name or an IP address; an IPv6
// address needs the brackets ("[2001:db8::25]:25"), and an address is never
// looked up in the DNS. The port defaults to 25.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"
#include "lib/net/network.h"

namespace postern {

struct NextHop {
  std::string host;                  // a domain name (lower-case) or an IP address
  std::optional<IpAddress> address;  // set when host is an IP address
  uint16_t port = 25;
  bool mx_lookup = true;  // false for "[HOST]" forms and for IP addresses
  bool bracketed = false;

  // One next hop; an error says what is wrong with the text.
  static Result<NextHop> Parse(std::string_view text);
  std::string ToString() const;  // the form it was written in, normalized
  bool operator==(const NextHop&) const = default;
};

}  // namespace postern
