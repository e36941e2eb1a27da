// smtpd/auth_client.cc — see smtpd/auth_client.h.
#include "smtpd/auth_client.h"

#include <vector>

#include "lib/base/log.h"

namespace postern {

AuthClient::AuthClient(event_base* base, std::function<void()> request_connection)
    : request_connection_(std::move(request_connection)),
      connection_(base, "authd",
                  {.frame = [this](const ipc::Frame& frame) { HandleFrame(frame); },
                   .failed = [this](const std::string& why) { ConnectionLost(why); },
                   .written = nullptr}),
      deliver_failures_(event_new(base, -1, 0, OnDeliverFailures, this)) {
  if (!deliver_failures_) PANIC("cannot create the authd failure event");
}

AuthClient::~AuthClient() = default;

void AuthClient::Attach(int fd) {
  connection_requested_ = false;
  connection_.Open(fd);
  for (const auto& [type, payload] : queued_) connection_.Send(type, payload);
  queued_.clear();
}

void AuthClient::AttachFailed() {
  connection_requested_ = false;
  ConnectionLost("no connection to authd");
}

uint64_t AuthClient::Start(const std::string& mechanism, const std::string& client_address,
                           const std::optional<std::string>& initial_response,
                           ReplyCallback on_reply) {
  uint64_t id = next_id_++;
  exchanges_[id] = Exchange{std::move(on_reply), Phase::kAwaitingReply};
  Send(ipc::AuthStart{id, mechanism, client_address, initial_response});
  RequestConnectionIfNeeded();
  return id;
}

uint64_t AuthClient::CheckRecipient(const std::string& address, VerdictCallback on_verdict) {
  uint64_t id = next_id_++;
  queries_[id] = Query{std::move(on_verdict), false};
  Send(ipc::RecipientQuery{id, address});
  RequestConnectionIfNeeded();
  return id;
}

void AuthClient::ForgetRecipientCheck(uint64_t id) {
  auto it = queries_.find(id);
  if (it == queries_.end()) return;
  if (it->second.failing) {
    queries_.erase(it);
  } else {
    it->second.on_verdict = nullptr;
  }
}

void AuthClient::RequestConnectionIfNeeded() {
  if (connected() || connection_requested_) return;
  connection_requested_ = true;
  request_connection_();
}

void AuthClient::Step(uint64_t id, const std::string& response) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end() ||
      (it->second.phase != Phase::kAwaitingStep && it->second.phase != Phase::kBroken))
    PANIC("AUTH step for exchange %llu, which does not await one",
          static_cast<unsigned long long>(id));
  if (it->second.phase == Phase::kBroken) {
    ScheduleFailure(it->second);
    return;
  }
  it->second.phase = Phase::kAwaitingReply;
  Send(ipc::AuthStep{id, response});
}

void AuthClient::Cancel(uint64_t id) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  Phase phase = it->second.phase;
  exchanges_.erase(it);
  // A broken or failing exchange died with its connection: authd has
  // forgotten it already.
  if (phase != Phase::kAwaitingReply && phase != Phase::kAwaitingStep) return;
  if (phase == Phase::kAwaitingReply) cancelled_.insert(id);
  Send(ipc::AuthCancel{id});
}

// Every exchange awaiting a reply has a connection or one on its way, so a
// frame that cannot go out now waits for Attach().
void AuthClient::SendOrQueue(ipc::MsgType type, std::string payload) {
  if (connected()) {
    connection_.Send(type, payload);
  } else {
    queued_.emplace_back(type, std::move(payload));
  }
}

void AuthClient::HandleFrame(const ipc::Frame& frame) {
  if (frame.type == ipc::MsgType::kRecipientAnswer) return HandleRecipientAnswer(frame);
  HandleAuthReply(frame);
}

void AuthClient::HandleRecipientAnswer(const ipc::Frame& frame) {
  Result<ipc::RecipientAnswer> answer = ipc::DecodeAs<ipc::RecipientAnswer>(frame);
  if (!answer.ok()) {
    DropConnection("authd sent " + answer.status().message());
    return;
  }
  auto it = queries_.find(answer->query_id);
  if (it == queries_.end() || it->second.failing) {
    DropConnection("authd answered recipient query " + std::to_string(answer->query_id) +
                   ", which awaits no answer");
    return;
  }
  VerdictCallback callback = std::move(it->second.on_verdict);
  queries_.erase(it);
  if (callback) callback(answer->verdict, answer->known_as);
}

void AuthClient::HandleAuthReply(const ipc::Frame& frame) {
  Result<ipc::AuthReply> reply = ipc::DecodeAs<ipc::AuthReply>(frame);
  if (!reply.ok()) {
    DropConnection("authd sent " + reply.status().message());
    return;
  }
  const uint64_t id = reply->auth_id;
  if (cancelled_.erase(id)) return;  // crossed our kAuthCancel
  auto it = exchanges_.find(id);
  if (it == exchanges_.end() || it->second.phase != Phase::kAwaitingReply) {
    DropConnection("authd answered exchange " + std::to_string(id) + ", which awaits no reply");
    return;
  }
  // The callback may start, step or cancel exchanges, so it runs on a copy
  // and after the exchange's bookkeeping is done.
  ReplyCallback callback;
  if (reply->outcome == ipc::AuthOutcome::kContinue) {
    it->second.phase = Phase::kAwaitingStep;
    callback = it->second.on_reply;
  } else {
    callback = std::move(it->second.on_reply);
    exchanges_.erase(it);
  }
  callback(reply->outcome, reply->data);
}

void AuthClient::DropConnection(const std::string& why) {
  connection_.Close();
  ConnectionLost(why);
}

// authd keeps an exchange's SASL state per connection, so whatever was open
// on it is lost: replies due now fail from the loop, exchanges awaiting the
// client fail at their next step.
void AuthClient::ConnectionLost(const std::string& why) {
  LOG_WARNING("%s; %zu open AUTH exchange(s) and %zu recipient check(s) fail temporarily",
              why.c_str(), exchanges_.size(), queries_.size());
  queued_.clear();
  cancelled_.clear();
  for (auto& [id, exchange] : exchanges_) {
    if (exchange.phase == Phase::kAwaitingReply) ScheduleFailure(exchange);
    if (exchange.phase == Phase::kAwaitingStep) exchange.phase = Phase::kBroken;
  }
  for (auto& [id, query] : queries_) query.failing = true;
  if (!queries_.empty()) event_active(deliver_failures_.get(), 0, 0);
}

void AuthClient::ScheduleFailure(Exchange& exchange) {
  exchange.phase = Phase::kFailing;
  event_active(deliver_failures_.get(), 0, 0);
}

void AuthClient::OnDeliverFailures(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<AuthClient*>(self_ptr);
  std::vector<uint64_t> due;
  for (const auto& [id, exchange] : self->exchanges_)
    if (exchange.phase == Phase::kFailing) due.push_back(id);
  for (uint64_t id : due) {
    // An earlier callback may have cancelled this one.
    auto it = self->exchanges_.find(id);
    if (it == self->exchanges_.end()) continue;
    ReplyCallback callback = std::move(it->second.on_reply);
    self->exchanges_.erase(it);
    callback(ipc::AuthOutcome::kTemporaryFailure, "");
  }
  self->DeliverFailedQueries();
}

void AuthClient::DeliverFailedQueries() {
  std::vector<uint64_t> due;
  for (const auto& [id, query] : queries_)
    if (query.failing) due.push_back(id);
  for (uint64_t id : due) {
    // An earlier callback may have forgotten this one.
    auto it = queries_.find(id);
    if (it == queries_.end()) continue;
    VerdictCallback callback = std::move(it->second.on_verdict);
    queries_.erase(it);
    if (callback) callback(ipc::RecipientVerdict::kUnavailable, {});
  }
}

}  // namespace postern
