// metricsd/metrics_server.cc — see metricsd/metrics_server.h.
#include "metricsd/metrics_server.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include "lib/base/log.h"
#include "lib/base/printable.h"
#include "lib/ipc/messages_control.h"
#include "lib/net/network.h"

namespace postern {
namespace {

constexpr std::string_view kExpositionType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kPlainType = "text/plain; charset=utf-8";
constexpr std::string_view kIndexBody = "postern metricsd: the metrics are at /metrics\n";
// What a request line may show in a log line.
constexpr size_t kLoggedRequestBytes = 200;

enum class Route { kMetrics, kIndex, kNotFound, kMethodNotAllowed };

Route RouteOf(const http::RequestLine& request) {
  if (request.method != "GET" && request.method != "HEAD") return Route::kMethodNotAllowed;
  std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
  if (path == "/metrics") return Route::kMetrics;
  if (path == "/") return Route::kIndex;
  return Route::kNotFound;
}

http::Response Plain(int status, std::string_view body) {
  return http::Response{status, kPlainType, body, ""};
}

// Whether bytes can end a line or make a head malformed: only then is the
// head worth parsing again (a head trickled in byte by byte costs a parse
// per line, not per byte).
bool HasControlByte(std::string_view bytes) {
  for (unsigned char c : bytes)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

long long Seconds(std::chrono::milliseconds duration) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

}  // namespace

struct MetricsServer::Connection {
  enum class Phase {
    kReading,     // the request head
    kWaiting,     // for master's answer
    kAnswering,   // the response is being written
    kDiscarding,  // answered and shut down; reading until the client closes
  };

  MetricsServer* server = nullptr;
  uint64_t id = 0;
  std::string client;  // the address, for the log
  BufferEventPtr bev;
  EventPtr deadline;
  EventPtr answer_timeout;
  Phase phase = Phase::kReading;
  std::string received;  // the head so far, at most kMaxHeadBytes + 1 bytes
  std::string request;   // "GET /metrics", printable, once the head is read
  bool head_only = false;
  size_t discarded = 0;
};

MetricsServer::MetricsServer(event_base* base, int listen_fd, int channel_fd, Limits limits)
    : base_(base),
      listen_fd_(listen_fd),
      limits_(limits),
      channel_(base, channel_fd, "master",
               DatagramChannel::Handlers{[this](ipc::Datagram& datagram) { OnFrame(datagram); },
                                         [this](const std::string& why, bool peer_closed) {
                                           OnMasterGone(why, peer_closed);
                                         }}),
      acceptor_(
          base, "metrics socket", listen_fd, limits.accept_pause,
          [this](int fd, const sockaddr_storage& peer) {
            std::optional<IpAddress> ip =
                IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&peer));
            Adopt(fd, ip ? ip->Unmapped().ToString() : "unknown");
            return true;
          },
          [this] { return !master_gone_ && connections_.size() < limits_.max_connections; }) {}

MetricsServer::~MetricsServer() {
  connections_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
}

Status MetricsServer::Start() { return acceptor_.Start(); }

// --- connections

void MetricsServer::Adopt(int fd, const std::string& client) {
  auto c = std::make_unique<Connection>();
  c->server = this;
  c->id = next_id_++;
  c->client = client;
  c->bev.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
  if (!c->bev) {
    close(fd);
    LOG_ERROR("cannot serve a metrics client [%s]: out of memory", client.c_str());
    return;
  }
  c->deadline.reset(evtimer_new(base_, OnDeadline, c.get()));
  c->answer_timeout.reset(evtimer_new(base_, OnAnswerTimeout, c.get()));
  timeval deadline = ToTimeval(limits_.connection_deadline);
  if (!c->deadline || !c->answer_timeout || evtimer_add(c->deadline.get(), &deadline) != 0) {
    LOG_ERROR("cannot serve a metrics client [%s]: out of memory", client.c_str());
    return;
  }
  bufferevent_setcb(c->bev.get(), OnRead, nullptr, OnEvent, c.get());
  bufferevent_enable(c->bev.get(), EV_READ);
  connections_[c->id] = std::move(c);
}

// --- one connection

void MetricsServer::OnRead(bufferevent*, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  if (c->phase == Connection::Phase::kReading) return c->server->ReadHead(c);
  if (c->phase == Connection::Phase::kDiscarding) return c->server->Discard(c);
}

void MetricsServer::ReadHead(Connection* c) {
  evbuffer* input = bufferevent_get_input(c->bev.get());
  size_t available = evbuffer_get_length(input);
  // Beyond kMaxHeadBytes + 1 nothing can change the verdict: too large.
  size_t take = std::min(available, http::kMaxHeadBytes + 1 - c->received.size());
  size_t old_size = c->received.size();
  c->received.resize(old_size + take);
  evbuffer_remove(input, c->received.data() + old_size, take);
  evbuffer_drain(input, available - take);
  std::string_view fresh = std::string_view(c->received).substr(old_size);
  if (!HasControlByte(fresh) && c->received.size() <= http::kMaxHeadBytes) return;
  http::HeadParse head = http::ParseRequestHead(c->received);
  switch (head.outcome) {
    case http::HeadParse::Outcome::kNeedMore:
      return;
    case http::HeadParse::Outcome::kMalformed:
      return Respond(c, Plain(400, "bad request: " + head.why + "\n"), head.why);
    case http::HeadParse::Outcome::kTooLarge:
      return Respond(c, Plain(431, head.why + "\n"), head.why);
    case http::HeadParse::Outcome::kComplete:
      return Serve(c, head.request);
  }
}

void MetricsServer::Serve(Connection* c, const http::RequestLine& request) {
  c->request = Printable(request.method + " " + request.target, kLoggedRequestBytes);
  c->head_only = request.method == "HEAD";
  switch (RouteOf(request)) {
    case Route::kMetrics:
      return AskMaster(c);
    case Route::kIndex:
      return Respond(c, Plain(200, kIndexBody), "");
    case Route::kNotFound:
      return Respond(c, Plain(404, "not found: the metrics are at /metrics\n"), "no such path");
    case Route::kMethodNotAllowed:
      return Respond(c, {405, kPlainType, "only GET and HEAD are served\n", "GET, HEAD"},
                     "method not allowed");
  }
}

void MetricsServer::AskMaster(Connection* c) {
  c->phase = Connection::Phase::kWaiting;
  bufferevent_disable(c->bev.get(), EV_READ);
  waiters_.insert(c->id);
  timeval timeout = ToTimeval(limits_.answer_timeout);
  evtimer_add(c->answer_timeout.get(), &timeout);
  if (question_out_) return;
  if (Status sent = channel_.Send(ipc::ControlRequest{"metrics", {}}); !sent.ok()) {
    std::string why = "cannot ask master: " + sent.message();
    return AnswerWaiters(Plain(503, why + "\n"), why);
  }
  question_out_ = true;
}

void MetricsServer::OnAnswerTimeout(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  MetricsServer* self = c->server;
  self->waiters_.erase(c->id);
  std::string why = "master did not answer within " +
                    std::to_string(Seconds(self->limits_.answer_timeout)) + " s";
  self->Respond(c, Plain(503, why + "\n"), why);
}

void MetricsServer::Respond(Connection* c, const http::Response& response, const std::string& why) {
  if (!why.empty()) {
    std::string request = c->request.empty() ? "" : c->request + ": ";
    LOG_INFO("metrics client [%s]: %s%d %s: %s", c->client.c_str(), request.c_str(),
             response.status, std::string(http::StatusReason(response.status)).c_str(),
             why.c_str());
  }
  evtimer_del(c->answer_timeout.get());
  c->phase = Connection::Phase::kAnswering;
  bufferevent_disable(c->bev.get(), EV_READ);
  bufferevent_setcb(c->bev.get(), nullptr, OnWritten, OnEvent, c);
  std::string bytes = http::FormatResponse(response, c->head_only);
  if (bufferevent_write(c->bev.get(), bytes.data(), bytes.size()) != 0) {
    LOG_ERROR("metrics client [%s]: cannot queue the answer: out of memory", c->client.c_str());
    Close(c);
  }
}

void MetricsServer::OnWritten(bufferevent* bev, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  if (c->phase != Connection::Phase::kAnswering) return;
  // FIN after the answer, then read until the client's FIN: closing with
  // unread input would send a reset that may destroy the answer in flight.
  shutdown(bufferevent_getfd(bev), SHUT_WR);
  c->phase = Connection::Phase::kDiscarding;
  bufferevent_setcb(bev, OnRead, nullptr, OnEvent, c);
  bufferevent_enable(bev, EV_READ);
  c->server->Discard(c);
}

void MetricsServer::Discard(Connection* c) {
  evbuffer* input = bufferevent_get_input(c->bev.get());
  size_t available = evbuffer_get_length(input);
  c->discarded += available;
  evbuffer_drain(input, available);
  if (c->discarded > limits_.max_discard) Close(c);
}

void MetricsServer::OnEvent(bufferevent*, short what, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  MetricsServer* self = c->server;
  const bool error = (what & BEV_EVENT_ERROR) != 0;
  const std::string reason =
      error ? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) : "closed by the client";
  switch (c->phase) {
    case Connection::Phase::kReading:
      if (c->received.empty()) {
        LOG_DEBUG("metrics client [%s]: %s before sending anything", c->client.c_str(),
                  reason.c_str());
      } else {
        LOG_INFO("metrics client [%s]: %s before its request was complete", c->client.c_str(),
                 reason.c_str());
      }
      break;
    case Connection::Phase::kWaiting:
    case Connection::Phase::kAnswering:
      LOG_INFO("metrics client [%s]: %s: %s before its answer was sent", c->client.c_str(),
               c->request.c_str(), reason.c_str());
      break;
    case Connection::Phase::kDiscarding:
      break;
  }
  self->Close(c);
}

void MetricsServer::OnDeadline(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  MetricsServer* self = c->server;
  const long long seconds = Seconds(self->limits_.connection_deadline);
  switch (c->phase) {
    case Connection::Phase::kReading:
      LOG_INFO("metrics client [%s]: no whole request within %lld s; closing", c->client.c_str(),
               seconds);
      break;
    case Connection::Phase::kWaiting:
      LOG_INFO(
          "metrics client [%s]: %s: no answer from master within the connection's %lld s; "
          "closing",
          c->client.c_str(), c->request.c_str(), seconds);
      break;
    case Connection::Phase::kAnswering:
      LOG_INFO("metrics client [%s]: %s: the answer was not taken within %lld s; closing",
               c->client.c_str(), c->request.c_str(), seconds);
      break;
    case Connection::Phase::kDiscarding:
      break;
  }
  self->Close(c);
}

void MetricsServer::Close(Connection* c) {
  waiters_.erase(c->id);
  connections_.erase(c->id);  // c is gone from here on
  // A descriptor came back: worth trying the listen queue again now.
  acceptor_.DescriptorFreed();
  if (master_gone_ && connections_.empty()) event_base_loopexit(base_, nullptr);
}

// --- master

void MetricsServer::OnFrame(ipc::Datagram& datagram) {
  const bool descriptor = datagram.fd >= 0 || datagram.descriptor_lost;
  if (datagram.fd >= 0) close(datagram.fd);
  Result<ipc::ControlReply> reply = ipc::DecodeAs<ipc::ControlReply>(datagram.frame);
  if (!reply.ok()) return channel_.Fail("master sent " + reply.status().message());
  if (descriptor) return channel_.Fail("master attached a descriptor to its answer");
  if (!question_out_) return channel_.Fail("master answered a question metricsd did not ask");
  question_out_ = false;
  if (!reply->ok) {
    std::string why = "master cannot give the metrics: " + Printable(reply->text);
    return AnswerWaiters(Plain(503, why + "\n"), why);
  }
  if (!reply->more.empty()) {
    std::string why = "master's answer comes in pages, which metricsd does not follow";
    return AnswerWaiters(Plain(503, why + "\n"), why);
  }
  AnswerWaiters({200, kExpositionType, reply->text, ""}, "");
}

void MetricsServer::AnswerWaiters(const http::Response& response, const std::string& why) {
  std::vector<uint64_t> ids(waiters_.begin(), waiters_.end());
  waiters_.clear();
  for (uint64_t id : ids) {
    auto found = connections_.find(id);
    if (found != connections_.end()) Respond(found->second.get(), response, why);
  }
}

void MetricsServer::OnMasterGone(const std::string& why, bool peer_closed) {
  if (peer_closed) {
    LOG_INFO("master closed the channel; stopping once the requests in hand are answered");
  } else {
    LOG_WARNING(
        "the channel to master failed: %s; stopping once the requests in hand are "
        "answered",
        why.c_str());
  }
  master_gone_ = true;
  question_out_ = false;
  acceptor_.Update();
  AnswerWaiters(Plain(503, "master is gone\n"), "master is gone");
  std::vector<Connection*> reading;
  for (const auto& [id, c] : connections_)
    if (c->phase == Connection::Phase::kReading) reading.push_back(c.get());
  for (Connection* c : reading) Close(c);
  if (connections_.empty()) event_base_loopexit(base_, nullptr);
}

}  // namespace postern
