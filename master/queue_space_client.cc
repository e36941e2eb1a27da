// master/queue_space_client.cc — see master/queue_space_client.h.
#include "master/queue_space_client.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lib/base/log.h"
#include "lib/net/unix_socket.h"

namespace postern {

QueueSpaceClient::QueueSpaceClient(event_base* base, std::string socket_path, const Clock* clock)
    : base_(base), socket_path_(std::move(socket_path)), clock_(clock) {}

bool QueueSpaceClient::Start() {
  timer_.reset(event_new(base_, -1, EV_PERSIST, OnTimer, this));
  timeval interval = ToTimeval(kInterval);
  if (!timer_ || event_add(timer_.get(), &interval) != 0) return false;
  Ask();
  return true;
}

std::optional<QueueSpace> QueueSpaceClient::Latest() const {
  if (!answer_ || clock_->Now() - answered_at_ > kFresh) return std::nullopt;
  return answer_;
}

void QueueSpaceClient::OnTimer(evutil_socket_t, short, void* self) {
  auto* client = static_cast<QueueSpaceClient*>(self);
  if (!client->asking_) return client->Ask();
  if (client->clock_->Now() - client->asked_at_ > kFresh)
    client->Drop("no answer within " + std::to_string(kFresh.count()) + " ms");
}

void QueueSpaceClient::Ask() {
  if (!bev_) {
    // Non-blocking: a qmgr that stopped accepting must not stall root's loop.
    Result<int> connected = ConnectUnixStream(socket_path_, "qmgr", SocketMode::kNonBlocking);
    if (!connected.ok()) return;  // qmgr is (re)starting or busy: statvfs alone until it answers
    bev_.reset(bufferevent_socket_new(base_, *connected, BEV_OPT_CLOSE_ON_FREE));
    if (!bev_) {
      evutil_closesocket(*connected);
      return;
    }
    decoder_ = ipc::FrameDecoder();
    bufferevent_setcb(bev_.get(), OnRead, nullptr, OnEvent, this);
    bufferevent_enable(bev_.get(), EV_READ);
  }
  const std::string frame = ipc::EncodeFrame(ipc::ControlRequest{"space", {}});
  if (bufferevent_write(bev_.get(), frame.data(), frame.size()) != 0)
    return Drop("cannot queue the question");
  asking_ = true;
  asked_at_ = clock_->Now();
}

void QueueSpaceClient::OnRead(bufferevent* bev, void* self) {
  auto* client = static_cast<QueueSpaceClient*>(self);
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
    std::optional<QueueSpace> space;
    if (reply.ok() && reply->ok) space = ParseQueueSpace(reply->text);
    if (!space) return client->Drop("unexpected answer to \"space\"");
    client->answer_ = *space;
    client->answered_at_ = client->clock_->Now();
    client->asking_ = false;
  }
}

void QueueSpaceClient::OnEvent(bufferevent*, short what, void* self) {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    static_cast<QueueSpaceClient*>(self)->Drop("qmgr closed the connection");
}

void QueueSpaceClient::Drop(const std::string& why) {
  LOG_INFO("asking qmgr for the queue's room: %s; using statvfs until it answers", why.c_str());
  bev_.reset();
  asking_ = false;
}

}  // namespace postern
