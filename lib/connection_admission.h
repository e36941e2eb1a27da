// lib/connection_admission.h — master's decision on each new connection.
//
// Before any smtpd sees a connection, master picks the listener that serves
// it and refuses it with the spec's reply when a connection-level event
// applies (MS-OXSMTP 3.2.7): BindingNotConfigured when no listener on the
// local address serves the client's network, ConnectionCountExceeded and
// ConnectionCountPerSource when a listener's limits are reached. Several
// listeners may share a bind address with different remote_networks; the
// most specific (longest prefix) match serves the client, as Exchange receive
// connectors do. Pure logic over a ConnectionTable: no sockets.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/config.h"
#include "lib/network.h"

namespace postern {

// The live connections master knows of, by listener and by source address.
class ConnectionTable {
 public:
  void Add(uint64_t conn_id, const std::string& listener, const IpAddress& source);
  void Remove(uint64_t conn_id);  // unknown ids are ignored
  uint32_t CountForListener(const std::string& listener) const;
  uint32_t CountForSource(const std::string& listener, const IpAddress& source) const;
  size_t size() const { return live_.size(); }

 private:
  using SourceKey = std::pair<std::string, std::string>;  // listener, textual address
  std::unordered_map<uint64_t, SourceKey> live_;
  std::map<std::string, uint32_t> per_listener_;
  std::map<SourceKey, uint32_t> per_source_;
};

struct Admission {
  const ListenerConfig* listener = nullptr;  // null when refused
  std::string refusal;                       // the reply line (CRLF included) when refused
};

// candidates: the listeners bound to the local address the client reached.
Admission AdmitConnection(const std::vector<const ListenerConfig*>& candidates,
                          const IpAddress& client, const ConnectionTable& table);

}  // namespace postern
