// lib/net/network.h — IP addresses, CIDR networks and listener bind addresses.
//
// Parses the textual forms used in postern.conf ("127.0.0.1", "::1",
// "10.0.0.0/8", "[::1]:2525", "127.0.0.1:2525") and answers "is this client
// inside that network". IPv4-mapped IPv6 client addresses (::ffff:a.b.c.d)
// match IPv4 networks.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace postern {

struct IpAddress {
  int family = AF_INET;             // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // first 4 used for AF_INET

  static std::optional<IpAddress> Parse(std::string_view text);
  static std::optional<IpAddress> FromSockaddr(const struct sockaddr* sa);
  // Textual form: dotted quad, or RFC 5952 IPv6 (inet_ntop). Mapped IPv4 is
  // shown as IPv4.
  std::string ToString() const;
  // ::ffff:a.b.c.d becomes a.b.c.d; anything else is returned unchanged.
  IpAddress Unmapped() const;
  bool operator==(const IpAddress& other) const = default;
};

struct Network {
  IpAddress base;
  int prefix_length = 0;

  // "10.0.0.0/8", "::1/128", or a bare address (a host network).
  static Result<Network> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
};

// True if any network contains the address.
bool AnyContains(const std::vector<Network>& networks, const IpAddress& address);

// A port number in decimal, 0 to 65535; nothing for anything else.
std::optional<uint16_t> ParsePort(std::string_view text);

struct BindAddress {
  IpAddress address;
  uint16_t port = 0;
  bool operator==(const BindAddress&) const = default;

  // "127.0.0.1:2525", "[::1]:2525", "0.0.0.0:25", "[::]:587".
  static Result<BindAddress> Parse(std::string_view text);
  std::string ToString() const;  // the same forms
  // Fills a sockaddr_in or sockaddr_in6; returns its length.
  socklen_t ToSockaddr(struct sockaddr_storage* out) const;
};

}  // namespace postern
