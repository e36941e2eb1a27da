// qmgr/relay_delivery.h — delivery of the recipients outside local_domains
// to the next hop, on qmgr's event loop.
//
// Takes messages from the queue manager (each with the recipients due
// marked pending, the rest not) and sorts their pending recipients by
// destination: with relayhost, one destination for all; without, one per
// recipient domain (RFC 5321 5.1). Each destination keeps its own queue
// and opens up to relay_destination_concurrency connections
// (qmgr/relay_connection.h), each carrying that destination's messages one
// after another until its queue is empty (then QUIT). Every message gives
// one DeliveryReport (qmgr/delivery.h) per destination it had recipients
// for, through the callback.
//
// Connections that STARTTLS resume the TLS session of the last one to the
// same next hop (lib/tls/tls_resumption_cache.h), when the next hop gave a
// ticket: the certificate and the key exchange are skipped.
//
// Where a destination's mail goes is planned once per delivery attempt by
// lib/smtp/destination_lookup (relayhost's entries in order, MX records
// for names written without brackets, the domain's MX records without
// relayhost; the rules are in lib/smtp/destination_plan.h), over
// dns_nameservers or resolv.conf. A plan that fails fails or defers every
// waiting message as its code says (5.1.2 no such domain, 5.1.10 null MX,
// 4.4.3 DNS trouble, ...). The plan's addresses are tried in order: a
// connection that fails before the session is ready for mail (refused,
// timed out, a greeting other than 220) is replaced by one to the next
// address; when every address failed, every waiting message is deferred
// with the last reason. A destination with nothing waiting and no
// connection is forgotten, so the next attempt plans again.
//
// A message handed to a connection that ends before reporting it (the
// peer vanished, qmgr stops) is deferred with the connection's reason; on
// qmgr's stop nothing is reported, so its recipients stay pending and go
// again after the restart (a message whose 250 was lost in that moment is
// delivered twice: SMTP cannot tell).
#pragma once

#include <event2/event.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/net/event_handles.h"
#include "lib/net/mx_lookup.h"
#include "lib/queue/queue_store.h"
#include "lib/smtp/destination_lookup.h"
#include "lib/tls/tls_resumption_cache.h"
#include "qmgr/delivery.h"
#include "qmgr/relay_connection.h"

namespace postern {

// The client session's settings for relaying with config.
ClientSettings RelaySettingsFrom(const Config& config);

// What one connection made of a message, as a report for the queue manager.
DeliveryReport RelayReport(const MessageOutcome& outcome, const Target& target);
// Every recipient of envelope that was to be attempted, failed when why's
// enhanced code is 5.x.x, else deferred.
DeliveryReport ReportForAll(const Envelope& envelope, const Diagnostic& why,
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
  // Relays the recipients of envelope at the indexes due (pending ones).
  // Returns how many reports will come for it: one per destination.
  size_t Submit(const Envelope& envelope, const std::vector<size_t>& due);
  // Closes every connection without reporting anything.
  void Stop();

 private:
  struct Waiting {
    Envelope envelope;
    TimePoint submitted;
  };
  struct Handed {
    Envelope envelope;
    TimePoint started;     // given to the connection
    AttemptDelays delays;  // waiting and setup so far
  };
  struct Open {
    std::unique_ptr<RelayConnection> connection;
    size_t target_index = 0;
    bool carried = false;                  // a message went out on it: later ones had no setup
    std::map<std::string, Handed> handed;  // given to it, not yet reported
  };
  // Mail for relayhost (key "") or for one recipient domain (its name).
  struct Destination {
    std::string key;
    std::deque<Waiting> waiting;
    std::vector<Open> open;
    std::vector<Target> targets;             // this attempt's plan, once found
    DestinationLookup::SearchId search = 0;  // none under way
  };

  // Runs from the loop after the callbacks that queued work for it:
  // destroys finished connections and hands out the reports.
  static void OnLater(evutil_socket_t, short, void* self);

  std::string DestinationOf(const Recipient& recipient) const;
  Destination* Find(const std::string& key);
  void Kick(Destination* destination);
  void OnPlanned(const std::string& key, DestinationPlan plan);
  // Opens sessions for the waiting messages, within relay_destination_concurrency
  // and relay_concurrency_limit.
  void OpenConnections(Destination* destination);
  // A session ended: gives the free sessions to destinations that wait for
  // one, in turn from the one after the last served.
  void OpenWhereWaiting();
  void OpenTo(Destination* destination, size_t target_index);
  void OnReady(const std::string& key, RelayConnection* connection);
  void OnMessageDone(const std::string& key, RelayConnection* connection,
                     const MessageOutcome& outcome);
  void OnClosed(const std::string& key, RelayConnection* connection, const SessionEnd& end);
  // Reports every waiting message with why and empties the queue.
  void ReportWaiting(Destination* destination, const Diagnostic& why, const std::string& relay);
  // Forgets the destination when nothing is left for it.
  void ForgetIfIdle(Destination* destination);
  // Sets the report's transmission from handed, and queues it.
  void Report(DeliveryReport report, const Handed& handed);
  void Report(DeliveryReport report);

  event_base* base_;
  const Clock* clock_;
  const QueueStore* store_;
  TlsResumptionCache resumption_;  // emptied by Configure(): the trust may change
  std::shared_ptr<const Config> config_;
  std::unique_ptr<MxLookup> dns_;
  std::unique_ptr<DestinationLookup> lookup_;        // over dns_
  std::shared_ptr<const TlsClientCredentials> tls_;  // null under relay_tls none
  std::string password_;
  std::shared_ptr<const SaslClientCredentials> sasl_;  // null without relay_auth_user
  ReportCallback report_;
  EventPtr later_;
  std::vector<std::unique_ptr<RelayConnection>> finished_;  // destroyed by OnLater
  std::vector<DeliveryReport> reports_;                     // handed out by OnLater
  std::map<std::string, Destination> destinations_;
  size_t sessions_ = 0;      // open, all destinations together
  std::string last_served_;  // OpenWhereWaiting's turn
};

}  // namespace postern
