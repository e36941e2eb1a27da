// qmgr/relay_delivery.cc — relaying to relayhost: qmgr/relay_delivery.h.
#include "qmgr/relay_delivery.h"

#include <sys/socket.h>

#include <algorithm>

#include "lib/base/log.h"

namespace postern {

ClientSettings RelaySettingsFrom(const Config& config) {
  ClientSettings settings;
  settings.helo_name = config.myhostname;
  settings.tls = config.relay_tls;
  settings.credentials = !config.relay_auth_user.empty();
  settings.allow_plaintext_auth = config.relay_allow_plaintext_auth;
  settings.greeting_timeout = config.relay_greeting_timeout;
  settings.mail_timeout = config.relay_mail_timeout;
  settings.rcpt_timeout = config.relay_rcpt_timeout;
  settings.data_init_timeout = config.relay_data_init_timeout;
  settings.data_block_timeout = config.relay_data_block_timeout;
  settings.data_done_timeout = config.relay_data_done_timeout;
  settings.command_timeout = config.relay_command_timeout;
  return settings;
}

DeliveryReport RelayReport(const MessageOutcome& outcome, const RelayTarget& target) {
  DeliveryReport report;
  report.queue_id = outcome.queue_id;
  report.relay = target.ToString();
  for (const RecipientOutcome& r : outcome.recipients) {
    AttemptOutcome attempt;
    attempt.index = r.index;
    switch (r.status) {
      case DeliveryStatus::kDelivered:
        attempt.verdict = outcome.dsn_passed_on ? Verdict::kRelayed : Verdict::kRelayedNoDsn;
        break;
      case DeliveryStatus::kDeferred:
        attempt.verdict = Verdict::kDeferred;
        break;
      case DeliveryStatus::kFailed:
        attempt.verdict = Verdict::kFailed;
        break;
    }
    attempt.reply = r.diagnostic.ToString();
    attempt.status = r.diagnostic.enhanced;
    attempt.remote_mta = target.host;
    attempt.smtp_reply = r.diagnostic.code != 0;
    report.recipients.push_back(RecipientReport{attempt, attempt.reply});
  }
  return report;
}

DeliveryReport DeferredReport(const Envelope& envelope, const Diagnostic& why,
                              const std::string& relay) {
  DeliveryReport report;
  report.queue_id = envelope.queue_id;
  report.relay = relay;
  for (size_t i = 0; i < envelope.recipients.size(); ++i) {
    if (envelope.recipients[i].state != RecipientState::kPending) continue;
    AttemptOutcome attempt;
    attempt.index = i;
    attempt.verdict = Verdict::kDeferred;
    attempt.reply = why.ToString();
    attempt.status = why.enhanced.empty() ? "4.0.0" : why.enhanced;
    attempt.smtp_reply = why.code != 0;
    report.recipients.push_back(RecipientReport{attempt, attempt.reply});
  }
  return report;
}

RelayDelivery::RelayDelivery(event_base* base, const Clock* clock, const QueueStore* store)
    : base_(base), clock_(clock), store_(store), later_(event_new(base, -1, 0, OnLater, this)) {}

RelayDelivery::~RelayDelivery() { Stop(); }

Status RelayDelivery::Configure(std::shared_ptr<const Config> config) {
  if (!later_) return Status::Error("cannot create the relay's events");
  if (!dns_ || !config_ || config_->dns_nameservers != config->dns_nameservers) {
    if (request_) evdns_getaddrinfo_cancel(request_);
    Result<EvdnsBasePtr> dns = NewResolver(base_, {config->dns_nameservers, 5, 2}, "relayhost");
    if (!dns.ok()) return dns.status();
    dns_ = std::move(*dns);
  }
  std::shared_ptr<const TlsClientCredentials> tls;
  if (config->relay_tls != RelayTls::kNone) {
    Result<std::unique_ptr<TlsClientCredentials>> loaded =
        TlsClientCredentials::Load(config->relay_tls_ca_file, kDefaultTlsPriority);
    if (!loaded.ok()) return loaded.status();
    tls = std::move(*loaded);
  }
  tls_ = std::move(tls);
  config_ = std::move(config);
  sasl_.reset();
  if (!config_->relay_auth_user.empty())
    sasl_ = std::make_shared<const SaslClientCredentials>(
        SaslClientCredentials{config_->relay_auth_user, password_});
  targets_known_ = false;  // relayhost may have changed
  return Status::Ok();
}

void RelayDelivery::SetRelayPassword(std::string password) {
  password_ = std::move(password);
  if (config_ && !config_->relay_auth_user.empty())
    sasl_ = std::make_shared<const SaslClientCredentials>(
        SaslClientCredentials{config_->relay_auth_user, password_});
}

void RelayDelivery::Stop() {
  if (request_) {
    evdns_getaddrinfo_cancel(request_);  // its callback runs, with EVUTIL_EAI_CANCEL
    request_ = nullptr;
  }
  open_.clear();
  finished_.clear();
  waiting_.clear();
  reports_.clear();
}

void RelayDelivery::Submit(Envelope envelope) {
  waiting_.push_back(std::move(envelope));
  Kick();
}

void RelayDelivery::Kick() {
  if (waiting_.empty() || resolving_) return;
  if (!targets_known_) {
    targets_.clear();
    resolving_ = true;
    resolving_hop_ = 0;
    return ResolveNext();
  }
  OpenConnections();
}

// Resolves relayhost's next hops one after the other, in their order.
void RelayDelivery::ResolveNext() {
  while (resolving_hop_ < config_->relayhost.size()) {
    const NextHop& hop = config_->relayhost[resolving_hop_];
    if (hop.address) {
      targets_.push_back(RelayTarget{hop.host, *hop.address, hop.port});
      ++resolving_hop_;
      continue;
    }
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    request_ = evdns_getaddrinfo(dns_.get(), hop.host.c_str(), nullptr, &hints, OnResolved, this);
    return;  // OnResolved goes on (it may have run already)
  }
  resolving_ = false;
  targets_known_ = !targets_.empty();
  if (!targets_known_) {
    const Diagnostic why{0, "4.4.3", "no address found for relayhost"};
    LOG_WARNING("cannot relay: %s", why.text.c_str());
    while (!waiting_.empty()) {
      Report(DeferredReport(waiting_.front(), why, "none"));
      waiting_.pop_front();
    }
    return;
  }
  OpenConnections();
}

void RelayDelivery::OnResolved(int result, evutil_addrinfo* answers, void* self) {
  RelayDelivery* relay = static_cast<RelayDelivery*>(self);
  if (result == EVUTIL_EAI_CANCEL) {
    if (answers) evutil_freeaddrinfo(answers);
    return;
  }
  relay->request_ = nullptr;
  const NextHop& hop = relay->config_->relayhost[relay->resolving_hop_];
  if (result != 0) {
    LOG_WARNING("cannot resolve relayhost %s: %s", hop.host.c_str(), evutil_gai_strerror(result));
  }
  for (evutil_addrinfo* a = answers; a != nullptr; a = a->ai_next) {
    std::optional<IpAddress> address = IpAddress::FromSockaddr(a->ai_addr);
    if (address) relay->targets_.push_back(RelayTarget{hop.host, *address, hop.port});
  }
  if (answers) evutil_freeaddrinfo(answers);
  ++relay->resolving_hop_;
  relay->ResolveNext();
}

void RelayDelivery::OpenConnections() {
  size_t connecting = 0;
  for (const Open& open : open_)
    if (!open.connection->ready_once()) ++connecting;
  while (connecting < waiting_.size() && open_.size() < config_->relay_destination_concurrency) {
    OpenTo(0);
    ++connecting;
  }
}

void RelayDelivery::OpenTo(size_t target_index) {
  RelayConnection::Callbacks callbacks;
  callbacks.ready = [this](RelayConnection* c) { OnReady(c); };
  callbacks.message_done = [this](RelayConnection* c, MessageOutcome outcome) {
    OnMessageDone(c, outcome);
  };
  callbacks.closed = [this](RelayConnection* c, const SessionEnd& end) { OnClosed(c, end); };
  Open open;
  open.connection =
      std::make_unique<RelayConnection>(base_, clock_, store_, RelaySettingsFrom(*config_), tls_,
                                        sasl_, targets_[target_index], std::move(callbacks));
  open.target_index = target_index;
  RelayConnection* connection = open.connection.get();
  open_.push_back(std::move(open));
  connection->Connect(config_->relay_connect_timeout);
}

RelayDelivery::Open* RelayDelivery::Find(RelayConnection* connection) {
  for (Open& open : open_)
    if (open.connection.get() == connection) return &open;
  return nullptr;
}

void RelayDelivery::OnReady(RelayConnection* connection) {
  Open* open = Find(connection);
  if (!open) return;
  if (waiting_.empty()) return connection->Quit();
  Envelope envelope = std::move(waiting_.front());
  waiting_.pop_front();
  open->handed.emplace(envelope.queue_id, envelope);
  connection->Deliver(std::move(envelope));
}

void RelayDelivery::OnMessageDone(RelayConnection* connection, const MessageOutcome& outcome) {
  if (Open* open = Find(connection)) open->handed.erase(outcome.queue_id);
  Report(RelayReport(outcome, connection->target()));
}

void RelayDelivery::OnClosed(RelayConnection* connection, const SessionEnd& end) {
  auto found = std::find_if(open_.begin(), open_.end(), [connection](const Open& o) {
    return o.connection.get() == connection;
  });
  if (found == open_.end()) return;
  Open open = std::move(*found);
  open_.erase(found);
  const std::string relay = connection->target().ToString();
  for (const auto& [id, envelope] : open.handed)
    Report(DeferredReport(envelope, end.reason, relay));
  const bool failed_before_ready = !connection->ready_once();
  const size_t next_target = open.target_index + 1;
  finished_.push_back(std::move(open.connection));
  event_active(later_.get(), EV_TIMEOUT, 1);
  if (!failed_before_ready) return Kick();
  LOG_INFO("relay to %s failed: %s", relay.c_str(), end.reason.ToString().c_str());
  if (next_target < targets_.size() && !waiting_.empty()) return OpenTo(next_target);
  // Every address failed: unless another connection can still take them,
  // the waiting messages wait for their next try.
  if (!open_.empty()) return;
  while (!waiting_.empty()) {
    Report(DeferredReport(waiting_.front(), end.reason, relay));
    waiting_.pop_front();
  }
  targets_known_ = false;
}

void RelayDelivery::Report(DeliveryReport report) {
  reports_.push_back(std::move(report));
  event_active(later_.get(), EV_TIMEOUT, 1);
}

void RelayDelivery::OnLater(evutil_socket_t, short, void* self) {
  RelayDelivery* relay = static_cast<RelayDelivery*>(self);
  relay->finished_.clear();
  std::vector<DeliveryReport> reports = std::move(relay->reports_);
  relay->reports_.clear();
  for (DeliveryReport& report : reports)
    if (relay->report_) relay->report_(std::move(report));
}

}  // namespace postern
