// lib/policy/connection_admission.h — master's decision on each new connection.
//
// Before any smtpd sees a connection, master picks the listener that serves
// it and refuses it with the spec's reply when a connection-level event
// applies (MS-OXSMTP 3.2.7): BindingNotConfigured when no listener on the
// local address serves the client's network; ConnectionCountExceeded when
// the server already holds its cap of concurrent connections, all listeners
// together (max_server_connections, "an SMTP server has exceeded 5000
// concurrent inbound connections"), or the chosen listener its own optional
// cap (max_connections); ConnectionCountPerSource when the client's address
// already holds max_connections_per_source connections, counted over every
// listener ("exceeded 20 inbound connections for an IP address") against the
// limit of the listener the new connection reached. Several listeners may
// share a bind address with different remote_networks; the most specific
// (longest prefix) match serves the client, as Exchange receive connectors
// do. Pure logic over a ConnectionTable: no sockets.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/config/config.h"
#include "lib/net/network.h"

namespace postern {

// The live connections master knows of, by listener and by source address.
class ConnectionTable {
 public:
  void Add(uint64_t conn_id, const std::string& listener, const IpAddress& source);
  void Remove(uint64_t conn_id);  // unknown ids are ignored
  uint32_t CountForListener(const std::string& listener) const;
  // Connections from source on every listener (IPv4-mapped IPv6 counts as IPv4).
  uint32_t CountForSource(const IpAddress& source) const;
  size_t size() const { return live_.size(); }

 private:
  struct Entry {
    std::string listener;
    std::string source;  // textual, unmapped
  };
  std::unordered_map<uint64_t, Entry> live_;
  std::map<std::string, uint32_t> per_listener_;
  std::map<std::string, uint32_t> per_source_;
};

// Limits that belong to the server rather than to one listener. A separate
// value, not read from Config inside AdmitConnection, so that master can
// lower the cap below the configured one (for instance to what its
// descriptors allow) without touching the decision.
struct ServerLimits {
  uint32_t max_connections = 0;  // concurrent connections, all listeners; 0: no cap

  static ServerLimits FromConfig(const Config& config) {
    return ServerLimits{config.max_server_connections};
  }
};

struct Admission {
  const ListenerConfig* listener = nullptr;  // null when refused
  std::string refusal;                       // the reply line (CRLF included) when refused
};

// candidates: the listeners bound to the local address the client reached.
Admission AdmitConnection(const std::vector<const ListenerConfig*>& candidates,
                          const IpAddress& client, const ConnectionTable& table,
                          const ServerLimits& limits);

}  // namespace postern
