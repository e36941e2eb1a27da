// qmgr/relay_delivery.h — delivery of the recipients outside local_domains
// to relayhost, on qmgr's event loop.
//
// Takes messages from the queue manager (each with the recipients due
// marked pending, the rest not), keeps them in one queue for the relayhost
// destination and opens up to relay_destination_concurrency connections
// (qmgr/relay_connection.h), each carrying messages one after another until
// the queue is empty (then QUIT). Reports every message's outcome per
// recipient as a DeliveryReport (qmgr/delivery.h) through the callback.
//
// Destinations. relayhost lists next hops, tried in order for fail-over:
// an IP address is used as it is; a host name is resolved to its A and
// AAAA records with evdns (dns_nameservers; MX records of relayhost names
// are not looked up yet); the addresses are tried in order. A connection
// that fails before the session is ready for mail (refused, timed out, a
// greeting other than 220) is replaced by one to the next address; when
// every address failed, every waiting message is deferred with the last
// reason, and the names are resolved again for the next attempt.
//
// A message handed to a connection that ends before reporting it (the
// peer vanished, qmgr stops) is deferred with the connection's reason; on
// qmgr's stop nothing is reported, so its recipients stay pending and go
// again after the restart (a message whose 250 was lost in that moment is
// delivered twice: SMTP cannot tell).
#pragma once

#include <event2/dns.h>
#include <event2/event.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/net/dns_resolver.h"
#include "lib/net/event_handles.h"
#include "lib/queue/queue_store.h"
#include "qmgr/delivery.h"
#include "qmgr/relay_connection.h"

namespace postern {

// The client session's settings for relaying with config.
ClientSettings RelaySettingsFrom(const Config& config);

// What one connection made of a message, as a report for the queue manager.
DeliveryReport RelayReport(const MessageOutcome& outcome, const RelayTarget& target);
// Every recipient of envelope that was to be attempted, deferred with why.
DeliveryReport DeferredReport(const Envelope& envelope, const Diagnostic& why,
                              const std::string& relay);

class RelayDelivery {
 public:
  using ReportCallback = std::function<void(DeliveryReport)>;

  // clock and store must outlive the delivery.
  RelayDelivery(event_base* base, const Clock* clock, const QueueStore* store);
  ~RelayDelivery();
  RelayDelivery(const RelayDelivery&) = delete;
  RelayDelivery& operator=(const RelayDelivery&) = delete;

  // Reports come through this, from the event loop (never from inside
  // Submit()).
  void SetReportCallback(ReportCallback callback) { report_ = std::move(callback); }
  // Later connections use this configuration; connections open keep theirs.
  Status Configure(std::shared_ptr<const Config> config);
  // The password of relay_auth_user (read as root at start: qmgr/main.cc);
  // AUTH to the next hop uses it while relay_auth_user is set.
  void SetRelayPassword(std::string password);
  // relayhost is set: Submit() has somewhere to go.
  bool enabled() const { return config_ && !config_->relayhost.empty(); }
  // Relays a message: its recipients in state kPending are attempted.
  void Submit(Envelope envelope);
  // Closes every connection without reporting anything.
  void Stop();

 private:
  struct Open {
    std::unique_ptr<RelayConnection> connection;
    size_t target_index = 0;
    std::map<std::string, Envelope> handed;  // given to it, not yet reported
  };

  static void OnResolved(int result, evutil_addrinfo* answers, void* self);
  // Runs from the loop after the callbacks that queued work for it:
  // destroys finished connections and hands out the reports.
  static void OnLater(evutil_socket_t, short, void* self);

  void Kick();
  void ResolveNext();
  void OpenConnections();
  void OpenTo(size_t target_index);
  Open* Find(RelayConnection* connection);
  void OnReady(RelayConnection* connection);
  void OnMessageDone(RelayConnection* connection, const MessageOutcome& outcome);
  void OnClosed(RelayConnection* connection, const SessionEnd& end);
  void Report(DeliveryReport report);

  event_base* base_;
  const Clock* clock_;
  const QueueStore* store_;
  std::shared_ptr<const Config> config_;
  EvdnsBasePtr dns_;
  std::shared_ptr<const TlsClientCredentials> tls_;  // null under relay_tls none
  std::string password_;
  std::shared_ptr<const SaslClientCredentials> sasl_;  // null without relay_auth_user
  ReportCallback report_;
  EventPtr later_;
  std::vector<std::unique_ptr<RelayConnection>> finished_;  // destroyed by OnLater
  std::vector<DeliveryReport> reports_;                     // handed out by OnLater

  std::deque<Envelope> waiting_;
  std::vector<Open> open_;
  std::vector<RelayTarget> targets_;
  bool targets_known_ = false;
  size_t resolving_hop_ = 0;
  bool resolving_ = false;
  evdns_getaddrinfo_request* request_ = nullptr;
};

}  // namespace postern
