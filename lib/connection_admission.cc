// lib/connection_admission.cc — see lib/connection_admission.h.
#include "lib/connection_admission.h"

#include "lib/reply_catalogue.h"

namespace postern {

void ConnectionTable::Add(uint64_t conn_id, const std::string& listener, const IpAddress& source) {
  SourceKey key{listener, source.Unmapped().ToString()};
  live_[conn_id] = key;
  ++per_listener_[listener];
  ++per_source_[key];
}

void ConnectionTable::Remove(uint64_t conn_id) {
  auto it = live_.find(conn_id);
  if (it == live_.end()) return;
  const SourceKey& key = it->second;
  if (--per_listener_[key.first] == 0) per_listener_.erase(key.first);
  if (--per_source_[key] == 0) per_source_.erase(key);
  live_.erase(it);
}

uint32_t ConnectionTable::CountForListener(const std::string& listener) const {
  auto it = per_listener_.find(listener);
  return it == per_listener_.end() ? 0 : it->second;
}

uint32_t ConnectionTable::CountForSource(const std::string& listener,
                                         const IpAddress& source) const {
  auto it = per_source_.find({listener, source.Unmapped().ToString()});
  return it == per_source_.end() ? 0 : it->second;
}

namespace {

// Length of the longest remote_networks prefix containing client, or -1.
int BestMatch(const ListenerConfig& listener, const IpAddress& client) {
  int best = -1;
  for (const Network& net : listener.remote_networks)
    if (net.Contains(client) && net.prefix_length > best) best = net.prefix_length;
  return best;
}

}  // namespace

Admission AdmitConnection(const std::vector<const ListenerConfig*>& candidates,
                          const IpAddress& client, const ConnectionTable& table) {
  const ListenerConfig* chosen = nullptr;
  int chosen_prefix = -1;
  for (const ListenerConfig* listener : candidates) {
    int prefix = BestMatch(*listener, client);
    if (prefix > chosen_prefix) {
      chosen = listener;
      chosen_prefix = prefix;
    }
  }
  if (chosen == nullptr) return {nullptr, FormatReply(reply::kServiceNotAvailable)};
  if (chosen->max_connections != 0 &&
      table.CountForListener(chosen->name) >= chosen->max_connections)
    return {nullptr, FormatReply(reply::kConnectionCountExceeded)};
  if (chosen->max_connections_per_source != 0 &&
      table.CountForSource(chosen->name, client) >= chosen->max_connections_per_source)
    return {nullptr, FormatReply(reply::kConnectionCountPerSource)};
  return {chosen, ""};
}

}  // namespace postern
