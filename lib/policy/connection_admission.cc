// lib/policy/connection_admission.cc — see lib/policy/connection_admission.h.
#include "lib/policy/connection_admission.h"

#include <utility>

#include "lib/smtp/reply_catalogue.h"

namespace postern {

void ConnectionTable::Add(uint64_t conn_id, const std::string& listener, const IpAddress& source) {
  Entry entry{listener, source.Unmapped().ToString()};
  ++per_listener_[entry.listener];
  ++per_source_[entry.source];
  live_[conn_id] = std::move(entry);
}

void ConnectionTable::Remove(uint64_t conn_id) {
  auto it = live_.find(conn_id);
  if (it == live_.end()) return;
  const Entry& entry = it->second;
  if (--per_listener_[entry.listener] == 0) per_listener_.erase(entry.listener);
  if (--per_source_[entry.source] == 0) per_source_.erase(entry.source);
  live_.erase(it);
}

uint32_t ConnectionTable::CountForListener(const std::string& listener) const {
  auto it = per_listener_.find(listener);
  return it == per_listener_.end() ? 0 : it->second;
}

uint32_t ConnectionTable::CountForSource(const IpAddress& source) const {
  auto it = per_source_.find(source.Unmapped().ToString());
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

// True when a limit (0: none) is already reached by count.
bool Reached(uint64_t count, uint32_t limit) { return limit != 0 && count >= limit; }

}  // namespace

Admission AdmitConnection(const std::vector<const ListenerConfig*>& candidates,
                          const IpAddress& client, const ConnectionTable& table,
                          const ServerLimits& limits) {
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
  if (Reached(table.size(), limits.max_connections) ||
      Reached(table.CountForListener(chosen->name), chosen->max_connections))
    return {nullptr, FormatReply(reply::kConnectionCountExceeded)};
  if (Reached(table.CountForSource(client), chosen->max_connections_per_source))
    return {nullptr, FormatReply(reply::kConnectionCountPerSource)};
  return {chosen, ""};
}

}  // namespace postern
