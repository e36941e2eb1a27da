// master/queue_control_client.cc — see master/queue_control_client.h.
#include "master/queue_control_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>

#include "lib/base/log.h"
#include "lib/net/unix_socket.h"

namespace postern {

QueueControlClient::QueueControlClient(event_base* base, std::string socket_path,
                                       const Clock* clock)
    : base_(base), socket_path_(std::move(socket_path)), clock_(clock) {}

QueueControlClient::~QueueControlClient() = default;

bool QueueControlClient::Start() {
  timer_.reset(event_new(base_, -1, EV_PERSIST, OnTimer, this));
  fail_event_.reset(event_new(base_, -1, 0, OnFailLater, this));
  timeval interval = ToTimeval(kInterval);
  if (!timer_ || !fail_event_ || event_add(timer_.get(), &interval) != 0) return false;
  Send("space");
  return true;
}

std::optional<QueueSpace> QueueControlClient::Latest() const {
  if (!answer_ || clock_->Now() - answered_at_ > kFresh) return std::nullopt;
  return answer_;
}

void QueueControlClient::AskMetrics(MetricsCallback done) {
  const size_t waiting = std::count_if(in_flight_.begin(), in_flight_.end(),
                                       [](const Question& q) { return q.verb == "metrics"; });
  if (waiting >= kMaxMetricsQuestions)
    return FailLater(std::move(done), "too many questions to qmgr in flight");
  if (!Send("metrics")) return FailLater(std::move(done), "qmgr is not connected");
  in_flight_.back().done = std::move(done);
}

void QueueControlClient::OnTimer(evutil_socket_t, short, void* self) {
  auto* client = static_cast<QueueControlClient*>(self);
  if (!client->in_flight_.empty() &&
      client->clock_->Now() - client->in_flight_.front().asked_at > kFresh)
    return client->Drop("no answer within " + std::to_string(kFresh.count()) + " ms");
  const bool asking_space = std::any_of(client->in_flight_.begin(), client->in_flight_.end(),
                                        [](const Question& q) { return q.verb == "space"; });
  if (!asking_space) client->Send("space");
}

bool QueueControlClient::Connected() {
  if (bev_) return true;
  // Non-blocking: a qmgr that stopped accepting must not stall root's loop.
  Result<int> connected = ConnectUnixStream(socket_path_, "qmgr", SocketMode::kNonBlocking);
  if (!connected.ok()) return false;  // qmgr is (re)starting or busy
  bev_.reset(bufferevent_socket_new(base_, *connected, BEV_OPT_CLOSE_ON_FREE));
  if (!bev_) {
    evutil_closesocket(*connected);
    return false;
  }
  decoder_ = ipc::FrameDecoder();
  bufferevent_setcb(bev_.get(), OnRead, nullptr, OnEvent, this);
  bufferevent_enable(bev_.get(), EV_READ);
  return true;
}

bool QueueControlClient::Send(const std::string& verb) {
  if (!Connected()) return false;
  const std::string frame = ipc::EncodeFrame(ipc::ControlRequest{verb, {}});
  if (bufferevent_write(bev_.get(), frame.data(), frame.size()) != 0) {
    Drop("cannot queue the question \"" + verb + "\"");
    return false;
  }
  in_flight_.push_back({verb, nullptr, clock_->Now()});
  return true;
}

void QueueControlClient::OnRead(bufferevent* bev, void* self) {
  auto* client = static_cast<QueueControlClient*>(self);
  evbuffer* input = bufferevent_get_input(bev);
  const size_t length = evbuffer_get_length(input);
  client->decoder_.Feed(
      std::string_view(reinterpret_cast<const char*>(evbuffer_pullup(input, -1)), length));
  evbuffer_drain(input, length);
  for (;;) {
    Result<std::optional<ipc::Frame>> frame = client->decoder_.Next();
    if (!frame.ok()) return client->Drop(frame.status().message());
    if (!frame->has_value()) return;
    Result<ipc::ControlReply> reply = ipc::DecodeAs<ipc::ControlReply>(**frame);
    if (!reply.ok()) return client->Drop(reply.status().message());
    if (client->in_flight_.empty()) return client->Drop("an answer to no question");
    client->Answered(*reply);
    if (!client->bev_) return;  // dropped meanwhile
  }
}

void QueueControlClient::Answered(const ipc::ControlReply& reply) {
  Question question = std::move(in_flight_.front());
  in_flight_.pop_front();
  if (question.verb == "metrics") {
    if (reply.ok) return question.done(reply.text);
    return question.done(Status::Error("qmgr refused \"metrics\": " + reply.text));
  }
  std::optional<QueueSpace> space;
  if (reply.ok) space = ParseQueueSpace(reply.text);
  if (!space) return Drop("unexpected answer to \"space\"");
  answer_ = *space;
  answered_at_ = clock_->Now();
}

void QueueControlClient::OnEvent(bufferevent*, short what, void* self) {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    static_cast<QueueControlClient*>(self)->Drop("qmgr closed the connection");
}

void QueueControlClient::Drop(const std::string& why) {
  LOG_INFO("asking qmgr: %s; using statvfs for the queue's room until it answers", why.c_str());
  bev_.reset();
  std::deque<Question> questions = std::move(in_flight_);
  in_flight_.clear();
  for (Question& question : questions)
    if (question.done) FailLater(std::move(question.done), why);
}

void QueueControlClient::FailLater(MetricsCallback done, std::string why) {
  failed_.emplace_back(std::move(done), std::move(why));
  event_active(fail_event_.get(), EV_TIMEOUT, 1);
}

void QueueControlClient::OnFailLater(evutil_socket_t, short, void* self) {
  auto* client = static_cast<QueueControlClient*>(self);
  auto failed = std::move(client->failed_);
  client->failed_.clear();
  for (auto& [done, why] : failed) done(Status::Error(why));
}

}  // namespace postern
