// qmgr/relay_delivery.cc — relaying to relayhost or by MX: qmgr/relay_delivery.h.
#include "qmgr/relay_delivery.h"

#include <algorithm>

#include "lib/base/ascii.h"
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

namespace {

// One recipient's attempt as the queue keeps it: an SMTP reply whole
// ("550 5.1.1 ..."), postern's own reason as its words (its status is
// kept beside them).
RecipientReport AttemptReport(size_t index, Verdict verdict, const Diagnostic& why,
                              const std::string& remote_mta) {
  AttemptOutcome attempt;
  attempt.index = index;
  attempt.verdict = verdict;
  attempt.reply = why.code != 0 ? why.ToString() : why.text;
  attempt.status = why.enhanced;  // empty: the verdict's (StatusOf)
  attempt.remote_mta = remote_mta;
  attempt.smtp_reply = why.code != 0;
  return RecipientReport{attempt, attempt.reply};
}

Verdict VerdictOf(DeliveryStatus status, bool dsn_passed_on) {
  switch (status) {
    case DeliveryStatus::kDelivered:
      return dsn_passed_on ? Verdict::kRelayed : Verdict::kRelayedNoDsn;
    case DeliveryStatus::kDeferred:
      return Verdict::kDeferred;
    case DeliveryStatus::kFailed:
      return Verdict::kFailed;
  }
  return Verdict::kDeferred;
}

}  // namespace

DeliveryReport RelayReport(const MessageOutcome& outcome, const Target& target) {
  DeliveryReport report;
  report.queue_id = outcome.queue_id;
  report.relay = target.ToString();
  for (const RecipientOutcome& r : outcome.recipients)
    report.recipients.push_back(AttemptReport(r.index, VerdictOf(r.status, outcome.dsn_passed_on),
                                              r.diagnostic, target.host));
  return report;
}

DeliveryReport ReportForAll(const Envelope& envelope, const Diagnostic& why,
                            const std::string& relay) {
  DeliveryReport report;
  report.queue_id = envelope.queue_id;
  report.relay = relay;
  const Verdict verdict = why.enhanced.starts_with("5") ? Verdict::kFailed : Verdict::kDeferred;
  for (size_t i = 0; i < envelope.recipients.size(); ++i)
    if (envelope.recipients[i].state == RecipientState::kPending)
      report.recipients.push_back(AttemptReport(i, verdict, why, ""));
  return report;
}

RelayDelivery::RelayDelivery(event_base* base, const Clock* clock, const QueueStore* store)
    : base_(base),
      clock_(clock),
      store_(store),
      resumption_(clock),
      later_(event_new(base, -1, 0, OnLater, this)) {}

RelayDelivery::~RelayDelivery() { Stop(); }

Status RelayDelivery::Configure(std::shared_ptr<const Config> config) {
  if (!later_) return Status::Error("cannot create the relay's events");
  const bool new_servers = !dns_ || config_->dns_nameservers != config->dns_nameservers;
  std::unique_ptr<MxLookup> dns;
  if (new_servers) {
    Result<std::unique_ptr<MxLookup>> created =
        MxLookup::Create(base_, MxLookupOptions{config->dns_nameservers});
    if (!created.ok()) return created.status();
    dns = std::move(*created);
  }
  std::shared_ptr<const TlsClientCredentials> tls;
  if (config->relay_tls != RelayTls::kNone) {
    Result<std::unique_ptr<TlsClientCredentials>> loaded =
        TlsClientCredentials::Load(config->relay_tls_ca_file, kDefaultTlsPriority);
    if (!loaded.ok()) return loaded.status();
    tls = std::move(*loaded);
  }
  tls_ = std::move(tls);
  resumption_.Clear();
  config_ = std::move(config);
  sasl_.reset();
  if (!config_->relay_auth_user.empty())
    sasl_ = std::make_shared<const SaslClientCredentials>(
        SaslClientCredentials{config_->relay_auth_user, password_});
  if (new_servers) {
    lookup_.reset();  // cancels the searches under way: they start again below
    dns_ = std::move(dns);
    lookup_ = std::make_unique<DestinationLookup>(base_, dns_.get());
  }
  // relayhost may have changed: every later attempt plans again.
  for (auto& [key, destination] : destinations_) {
    destination.targets.clear();
    if (new_servers) destination.search = 0;
    Kick(&destination);
  }
  return Status::Ok();
}

void RelayDelivery::SetRelayPassword(std::string password) {
  password_ = std::move(password);
  if (config_ && !config_->relay_auth_user.empty())
    sasl_ = std::make_shared<const SaslClientCredentials>(
        SaslClientCredentials{config_->relay_auth_user, password_});
}

void RelayDelivery::Stop() {
  lookup_.reset();
  destinations_.clear();
  sessions_ = 0;
  finished_.clear();
  reports_.clear();
}

std::string RelayDelivery::DestinationOf(const Recipient& recipient) const {
  if (!config_->relayhost.empty()) return "";
  return AsciiLowerCase(AddressDomain(recipient.address));
}

size_t RelayDelivery::Submit(const Envelope& envelope, const std::vector<size_t>& due) {
  // Each destination's copy of the envelope has only its own recipients
  // pending: a connection attempts the pending ones.
  std::map<std::string, std::vector<size_t>> by_destination;
  for (size_t i : due) by_destination[DestinationOf(envelope.recipients[i])].push_back(i);
  for (const auto& [key, indexes] : by_destination) {
    Envelope copy = envelope;
    for (Recipient& r : copy.recipients)
      if (r.state == RecipientState::kPending) r.state = RecipientState::kDelivered;
    for (size_t i : indexes) copy.recipients[i].state = RecipientState::kPending;
    Destination& destination = destinations_[key];
    destination.key = key;
    destination.waiting.push_back(Waiting{std::move(copy), clock_->Now()});
    Kick(&destination);
  }
  return by_destination.size();
}

RelayDelivery::Destination* RelayDelivery::Find(const std::string& key) {
  auto found = destinations_.find(key);
  return found == destinations_.end() ? nullptr : &found->second;
}

void RelayDelivery::Kick(Destination* destination) {
  if (destination->waiting.empty() || destination->search != 0) return;
  if (!destination->targets.empty()) return OpenConnections(destination);
  DestinationRequest request;
  request.domain = destination->key;
  request.relayhosts = config_->relayhost;
  request.myhostname = config_->myhostname;
  request.mx_port = static_cast<uint16_t>(config_->relay_tcp_port);
  destination->search = lookup_->Find(
      std::move(request),
      [this, key = destination->key](DestinationPlan plan) { OnPlanned(key, std::move(plan)); });
}

void RelayDelivery::OnPlanned(const std::string& key, DestinationPlan plan) {
  Destination* destination = Find(key);
  if (!destination) return;
  destination->search = 0;
  if (!plan.ok()) {
    const std::string& name = key.empty() ? "relayhost" : key;
    LOG_WARNING("cannot relay mail for %s: %s", name.c_str(), plan.failure->ToString().c_str());
    ReportWaiting(destination, *plan.failure, "none");
    return ForgetIfIdle(destination);
  }
  destination->targets = std::move(plan.targets);
  OpenConnections(destination);
}

void RelayDelivery::OpenConnections(Destination* destination) {
  size_t connecting = 0;
  for (const Open& open : destination->open)
    if (!open.connection->ready_once()) ++connecting;
  while (connecting < destination->waiting.size() &&
         destination->open.size() < config_->relay_destination_concurrency &&
         sessions_ < config_->relay_concurrency_limit) {
    OpenTo(destination, 0);
    ++connecting;
  }
}

void RelayDelivery::OpenWhereWaiting() {
  // One round over the destinations, from the one after the last served,
  // each with a plan and mail waiting taking what it can of the free sessions.
  const size_t count = destinations_.size();
  std::string key = last_served_;
  for (size_t visited = 0; visited < count && sessions_ < config_->relay_concurrency_limit;
       ++visited) {
    auto it = destinations_.upper_bound(key);
    if (it == destinations_.end()) it = destinations_.begin();
    if (it == destinations_.end()) return;
    key = it->first;
    Destination& destination = it->second;
    if (destination.targets.empty() || destination.search != 0) continue;
    const size_t before = destination.open.size();
    OpenConnections(&destination);
    if (destination.open.size() != before) last_served_ = key;
  }
}

void RelayDelivery::OpenTo(Destination* destination, size_t target_index) {
  const std::string& key = destination->key;
  RelayConnection::Callbacks callbacks;
  callbacks.ready = [this, key](RelayConnection* c) { OnReady(key, c); };
  callbacks.message_done = [this, key](RelayConnection* c, MessageOutcome outcome) {
    OnMessageDone(key, c, outcome);
  };
  callbacks.closed = [this, key](RelayConnection* c, const SessionEnd& end) {
    OnClosed(key, c, end);
  };
  Open open;
  open.connection = std::make_unique<RelayConnection>(
      base_, clock_, store_, RelaySettingsFrom(*config_), tls_, &resumption_, sasl_,
      destination->targets[target_index], std::move(callbacks));
  open.target_index = target_index;
  RelayConnection* connection = open.connection.get();
  destination->open.push_back(std::move(open));
  ++sessions_;
  connection->Connect(config_->relay_connect_timeout);
}

void RelayDelivery::OnReady(const std::string& key, RelayConnection* connection) {
  Destination* destination = Find(key);
  if (!destination) return;
  if (destination->waiting.empty()) return connection->Quit();
  for (Open& open : destination->open) {
    if (open.connection.get() != connection) continue;
    Waiting next = std::move(destination->waiting.front());
    destination->waiting.pop_front();
    Handed handed{next.envelope, clock_->Now(), {}};
    const Duration waited = std::chrono::duration_cast<Duration>(handed.started - next.submitted);
    // The first message waited for the connection's setup (or part of it).
    if (!open.carried) handed.delays.setup = std::min(connection->setup_time(), waited);
    handed.delays.waiting = waited - handed.delays.setup;
    open.carried = true;
    open.handed.emplace(next.envelope.queue_id, std::move(handed));
    return connection->Deliver(std::move(next.envelope));
  }
}

void RelayDelivery::OnMessageDone(const std::string& key, RelayConnection* connection,
                                  const MessageOutcome& outcome) {
  Destination* destination = Find(key);
  if (!destination) return;
  for (Open& open : destination->open) {
    if (open.connection.get() != connection) continue;
    auto handed = open.handed.find(outcome.queue_id);
    if (handed == open.handed.end()) return;
    Report(RelayReport(outcome, connection->target()), handed->second);
    open.handed.erase(handed);
    return;
  }
}

void RelayDelivery::OnClosed(const std::string& key, RelayConnection* connection,
                             const SessionEnd& end) {
  Destination* destination = Find(key);
  if (!destination) return;
  std::vector<Open>& opens = destination->open;
  auto found = std::find_if(opens.begin(), opens.end(), [connection](const Open& o) {
    return o.connection.get() == connection;
  });
  if (found == opens.end()) return;
  Open open = std::move(*found);
  opens.erase(found);
  --sessions_;
  const std::string relay = connection->target().ToString();
  for (const auto& [id, handed] : open.handed)
    Report(ReportForAll(handed.envelope, end.reason, relay), handed);
  finished_.push_back(std::move(open.connection));
  event_active(later_.get(), EV_TIMEOUT, 1);
  if (connection->ready_once()) {
    Kick(destination);
    ForgetIfIdle(destination);
    return OpenWhereWaiting();
  }
  LOG_INFO("relay to %s failed: %s", relay.c_str(), end.reason.ToString().c_str());
  const size_t next_target = open.target_index + 1;
  if (next_target < destination->targets.size() && !destination->waiting.empty())
    return OpenTo(destination, next_target);
  // Every address failed: unless another connection can still take them,
  // the waiting messages wait for their next try.
  if (opens.empty()) {
    ReportWaiting(destination, end.reason, relay);
    ForgetIfIdle(destination);
  }
  OpenWhereWaiting();
}

void RelayDelivery::ReportWaiting(Destination* destination, const Diagnostic& why,
                                  const std::string& relay) {
  const TimePoint now = clock_->Now();
  for (const Waiting& waiting : destination->waiting) {
    DeliveryReport report = ReportForAll(waiting.envelope, why, relay);
    report.delays.waiting = std::chrono::duration_cast<Duration>(now - waiting.submitted);
    Report(std::move(report));
  }
  destination->waiting.clear();
}

void RelayDelivery::ForgetIfIdle(Destination* destination) {
  if (!destination->waiting.empty() || !destination->open.empty() || destination->search != 0)
    return;
  const std::string key = destination->key;  // erase must not read the node it destroys
  destinations_.erase(key);
}

void RelayDelivery::Report(DeliveryReport report, const Handed& handed) {
  report.delays = handed.delays;
  report.delays.transmission = std::chrono::duration_cast<Duration>(clock_->Now() - handed.started);
  Report(std::move(report));
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
