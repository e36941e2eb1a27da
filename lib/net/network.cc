// lib/net/network.cc — see lib/net/network.h.
//
// Owns the textual forms of addresses in postern.conf and the CIDR match.
// A network is stored in its family's plain form (an IPv4-mapped network
// such as ::ffff:10.0.0.0/104 becomes 10.0.0.0/8), so matching only has to
// unmap the client address. Never resolves names: no DNS here.
#include "lib/net/network.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace postern {
namespace {

constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool IsMapped(const IpAddress& address) {
  return address.family == AF_INET6 &&
         std::memcmp(address.bytes.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

int MaxPrefix(int family) { return family == AF_INET ? 32 : 128; }

// inet_ntop of the address as stored, without showing mapped IPv4 as IPv4.
std::string RawToString(const IpAddress& address) {
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(address.family, address.bytes.data(), text, sizeof text) == nullptr) return "?";
  return text;
}

// Zeroes every bit after the first prefix_length bits; returns whether any
// bit was set there.
bool ClearHostBits(IpAddress* address, int prefix_length) {
  bool had_host_bits = false;
  int length = address->family == AF_INET ? 4 : 16;
  for (int i = 0; i < length; ++i) {
    int keep = std::clamp(prefix_length - i * 8, 0, 8);
    uint8_t mask = keep == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
    if ((address->bytes[i] & ~mask) != 0) had_host_bits = true;
    address->bytes[i] &= mask;
  }
  return had_host_bits;
}

std::optional<int> ParsePrefix(std::string_view text, int max) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton needs a terminated string; anything longer than the longest
  // address form is not an address.
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) {
    address.family = AF_INET;
    return address;
  }
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) {
    address.family = AF_INET6;
    return address;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::FromSockaddr(const struct sockaddr* sa) {
  IpAddress address;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const struct sockaddr_in*>(sa);
    address.family = AF_INET;
    std::memcpy(address.bytes.data(), &in->sin_addr, 4);
    return address;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(sa);
    address.family = AF_INET6;
    std::memcpy(address.bytes.data(), &in6->sin6_addr, 16);
    return address;
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const { return RawToString(Unmapped()); }

IpAddress IpAddress::Unmapped() const {
  if (!IsMapped(*this)) return *this;
  IpAddress v4;
  v4.family = AF_INET;
  std::memcpy(v4.bytes.data(), bytes.data() + kMappedPrefix.size(), 4);
  return v4;
}

Result<Network> Network::Parse(std::string_view text) {
  std::string_view address_text = text;
  std::optional<std::string_view> prefix_text;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    prefix_text = text.substr(slash + 1);
  }
  std::optional<IpAddress> base = IpAddress::Parse(address_text);
  if (!base) {
    return Status::Error("\"" + std::string(text) + "\" is not an IP network: \"" +
                         std::string(address_text) + "\" is not an IPv4 or IPv6 address");
  }
  Network network;
  network.base = *base;
  network.prefix_length = MaxPrefix(base->family);
  if (prefix_text) {
    std::optional<int> prefix = ParsePrefix(*prefix_text, network.prefix_length);
    if (!prefix) {
      return Status::Error("\"" + std::string(text) + "\" is not an IP network: prefix length \"" +
                           std::string(*prefix_text) + "\" is not a number from 0 to " +
                           std::to_string(network.prefix_length));
    }
    network.prefix_length = *prefix;
  }
  IpAddress canonical = network.base;
  if (ClearHostBits(&canonical, network.prefix_length)) {
    network.base = canonical;
    return Status::Error("\"" + std::string(text) +
                         "\" has bits set after the prefix length (did you mean " +
                         network.ToString() + "?)");
  }
  if (IsMapped(network.base) && network.prefix_length >= 96) {
    network.base = network.base.Unmapped();
    network.prefix_length -= 96;
  }
  return network;
}

bool Network::Contains(const IpAddress& address) const {
  IpAddress candidate = address.Unmapped();
  if (candidate.family != base.family) return false;
  ClearHostBits(&candidate, prefix_length);
  return candidate == base;
}

std::string Network::ToString() const {
  return RawToString(base) + "/" + std::to_string(prefix_length);
}

bool AnyContains(const std::vector<Network>& networks, const IpAddress& address) {
  for (const Network& network : networks) {
    if (network.Contains(address)) return true;
  }
  return false;
}

Result<BindAddress> BindAddress::Parse(std::string_view text) {
  auto error = [text](const std::string& why) {
    return Status::Error("\"" + std::string(text) + "\" is not a bind address: " + why);
  };
  std::string_view host;
  std::string_view port_text;
  bool bracketed = text.starts_with('[');
  if (bracketed) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      return error("expected [IPV6-ADDRESS]:PORT");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return error("expected ADDRESS:PORT or [IPV6-ADDRESS]:PORT");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  std::optional<IpAddress> address = IpAddress::Parse(host);
  if (!address) return error("\"" + std::string(host) + "\" is not an IPv4 or IPv6 address");
  if (address->family == AF_INET6 && !bracketed) {
    return error("write an IPv6 address in brackets, as in [::1]:25");
  }
  std::optional<uint16_t> port = ParsePort(port_text);
  if (!port)
    return error("port \"" + std::string(port_text) + "\" is not a number from 0 to 65535");
  BindAddress bind;
  bind.address = *address;
  bind.port = *port;
  return bind;
}

std::string BindAddress::ToString() const {
  std::string host = RawToString(address);
  if (address.family == AF_INET6) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

socklen_t BindAddress::ToSockaddr(struct sockaddr_storage* out) const {
  std::memset(out, 0, sizeof *out);
  if (address.family == AF_INET) {
    auto* in = reinterpret_cast<struct sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, address.bytes.data(), 4);
    return sizeof *in;
  }
  auto* in6 = reinterpret_cast<struct sockaddr_in6*>(out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, address.bytes.data(), 16);
  return sizeof *in6;
}

}  // namespace postern
