// smtpd/session_driver.cc — see smtpd/session_driver.h.
#include "smtpd/session_driver.h"

#include <unistd.h>

#include <type_traits>

#include "lib/log.h"

namespace postern {
namespace {

// Read at most this much per callback, so one fast client cannot starve
// the others in the worker.
constexpr size_t kReadHighWater = 64 * 1024;

BufferEventPtr NewBufferEvent(event_base* base, int fd) {
  evutil_make_socket_nonblocking(fd);
  return BufferEventPtr(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE));
}

}  // namespace

SessionDriver::SessionDriver(WorkerContext* context, const ListenerConfig& listener, int in_fd,
                             int out_fd, ClientInfo client, uint64_t conn_id)
    : context_(context),
      session_(*context->config, listener, std::move(client), *context->clock),
      conn_id_(conn_id) {
  in_bev_ = NewBufferEvent(context_->base, in_fd);
  if (out_fd != in_fd) out_bev_ = NewBufferEvent(context_->base, out_fd);
  if (!in_bev_ || (out_fd != in_fd && !out_bev_)) PANIC("cannot allocate a bufferevent");
  bufferevent_setcb(in_bev_.get(), OnRead, out_bev_ ? nullptr : OnWrite, OnEvent, this);
  if (out_bev_) bufferevent_setcb(out_bev_.get(), nullptr, OnWrite, OnEvent, this);
  bufferevent_setwatermark(in_bev_.get(), EV_READ, 0, kReadHighWater);
  timer_.reset(evtimer_new(context_->base, OnTimer, this));
}

SessionDriver::~SessionDriver() {
  context_->queue->CancelWait(this);
  if (stream_ != 0) context_->queue->Forget(stream_);
}

void SessionDriver::Start() {
  bufferevent_enable(writer(), EV_WRITE);
  session_.Start();
  Pump();
}

void SessionDriver::RateAnswered(bool allowed) {
  session_.RateResult(allowed);
  Pump();
}

void SessionDriver::OnRead(bufferevent* bev, void* self_ptr) {
  auto* self = static_cast<SessionDriver*>(self_ptr);
  evbuffer* input = bufferevent_get_input(bev);
  size_t length = evbuffer_get_length(input);
  if (length == 0) return;
  std::string bytes(length, '\0');
  evbuffer_remove(input, bytes.data(), length);
  self->session_.Receive(bytes);
  self->Pump();
}

void SessionDriver::OnWrite(bufferevent*, void* self_ptr) {
  auto* self = static_cast<SessionDriver*>(self_ptr);
  if (self->closing_ && evbuffer_get_length(bufferevent_get_output(self->writer())) == 0)
    self->Finish();
}

void SessionDriver::OnEvent(bufferevent*, short what, void* self_ptr) {
  auto* self = static_cast<SessionDriver*>(self_ptr);
  if (what & BEV_EVENT_EOF) {
    self->session_.ReceiveEof();
    self->Pump();
    // A client that half-closes still gets its pending replies.
    if (!self->closing_) self->Finish();
    return;
  }
  if (what & BEV_EVENT_ERROR) {
    self->session_.ReceiveEof();
    self->Pump();
    self->Finish();
  }
}

void SessionDriver::OnTimer(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<SessionDriver*>(self_ptr);
  self->session_.OnTimer();
  self->Pump();
}

void SessionDriver::Pump() {
  if (finished_) return;
  for (Action& action : session_.TakeActions()) Execute(action);
  if (finished_) return;
  if (closing_) {
    OnWrite(writer(), this);
    if (finished_) return;
  }
  UpdateReading();
  ArmTimer();
}

void SessionDriver::Execute(Action& action) {
  std::visit(
      [this](auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, action::Send>) {
          bufferevent_write(writer(), a.bytes.data(), a.bytes.size());
        } else if constexpr (std::is_same_v<T, action::Close>) {
          closing_ = true;
          bufferevent_disable(in_bev_.get(), EV_READ);
        } else if constexpr (std::is_same_v<T, action::BeginMessage>) {
          stream_ = context_->queue->Begin(
              a.envelope, [this](ipc::QueueOutcome outcome, const std::string& text) {
                stream_ = 0;
                session_.QueueResult(outcome, text);
                Pump();
              });
        } else if constexpr (std::is_same_v<T, action::MessageData>) {
          context_->queue->Data(stream_, a.bytes);
        } else if constexpr (std::is_same_v<T, action::EndMessage>) {
          // The result callback may run inside End() (queue down); it pumps.
          context_->queue->End(stream_);
        } else if constexpr (std::is_same_v<T, action::AbortMessage>) {
          context_->queue->Forget(stream_);
          stream_ = 0;
        } else if constexpr (std::is_same_v<T, action::CheckRate>) {
          // The answer may come inside this call (stand-alone); it pumps.
          context_->check_rate(this, a);
        }
      },
      action);
}

void SessionDriver::UpdateReading() {
  if (closing_ || session_.closed()) return;
  if (session_.input_paused()) {
    bufferevent_disable(in_bev_.get(), EV_READ);
  } else if (context_->queue->congested()) {
    bufferevent_disable(in_bev_.get(), EV_READ);
    context_->queue->WhenUncongested(this, [this] { UpdateReading(); });
  } else {
    bufferevent_enable(in_bev_.get(), EV_READ);
  }
}

void SessionDriver::ArmTimer() {
  TimePoint deadline = session_.NextDeadline();
  if (deadline == TimePoint::max()) {
    evtimer_del(timer_.get());
    return;
  }
  timeval tv = ToTimeval(deadline - context_->clock->Now());
  evtimer_add(timer_.get(), &tv);
}

void SessionDriver::Finish() {
  if (finished_) return;
  finished_ = true;
  evtimer_del(timer_.get());
  bufferevent_disable(in_bev_.get(), EV_READ | EV_WRITE);
  if (out_bev_) bufferevent_disable(out_bev_.get(), EV_READ | EV_WRITE);
  context_->on_session_end(this);
}

}  // namespace postern
