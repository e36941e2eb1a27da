// lib/ipc/framed_server.cc — see lib/ipc/framed_server.h.
#include "lib/ipc/framed_server.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>

#include "lib/base/log.h"

namespace postern {

FramedServer::Connection::~Connection() {
  read_event.reset();
  write_event.reset();
  close(fd);
}

FramedServer::FramedServer(event_base* base, std::string name, int listen_fd, Handlers handlers,
                           Limits limits)
    : base_(base),
      name_(std::move(name)),
      listen_fd_(listen_fd),
      handlers_(std::move(handlers)),
      limits_(limits),
      acceptor_(
          base, name_, listen_fd, limits.accept_pause,
          [this](int fd, const sockaddr_storage&) { return Adopt(fd); },
          [this] { return WantsConnections(); }),
      read_buffer_(limits.read_size) {}

FramedServer::~FramedServer() {
  connections_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
}

Status FramedServer::Start() {
  reap_event_.reset(event_new(base_, -1, 0, OnReap, this));
  if (!reap_event_) return Status::Error("cannot watch the " + name_ + " with libevent");
  accepting_ = true;
  return acceptor_.Start();
}

void FramedServer::StopAccepting() {
  accepting_ = false;
  acceptor_.Update();
}

void FramedServer::CloseAll() {
  std::vector<PeerId> ids;
  for (const auto& [id, connection] : connections_) ids.push_back(id);
  connections_.clear();
  for (PeerId id : ids)
    if (handlers_.closed) handlers_.closed(id);
  acceptor_.Update();
}

// --- accepting

bool FramedServer::WantsConnections() const {
  return accepting_ &&
         (limits_.max_connections == 0 || connections_.size() < limits_.max_connections);
}

bool FramedServer::Adopt(int fd) {
  auto c = std::make_unique<Connection>();
  c->server = this;
  c->id = next_id_++;
  c->fd = fd;
  c->read_event.reset(event_new(base_, fd, EV_READ | EV_PERSIST, OnReadable, c.get()));
  c->write_event.reset(event_new(base_, fd, EV_WRITE | EV_PERSIST, OnWritable, c.get()));
  if (!c->read_event || !c->write_event || event_add(c->read_event.get(), nullptr) != 0) {
    LOG_ERROR("cannot watch a connection on the %s: out of memory", name_.c_str());
    return false;
  }
  connections_[c->id] = std::move(c);
  return true;
}

// --- one connection

void FramedServer::OnReadable(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  c->server->Read(c);
}

void FramedServer::OnWritable(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  c->server->Flush(c);
}

void FramedServer::Read(Connection* c) {
  ssize_t n = read(c->fd, read_buffer_.data(), read_buffer_.size());
  if (n == 0) return Drop(c->id, "");
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      Drop(c->id, std::string("read: ") + strerror(errno));
    return;
  }
  c->decoder.Feed(std::string_view(read_buffer_.data(), static_cast<size_t>(n)));
  // A handler may drop or close this peer; it stays allocated until the reap.
  while (!c->gone && !c->closing) {
    Result<std::optional<ipc::Frame>> frame = c->decoder.Next();
    if (!frame.ok()) return Drop(c->id, frame.status().message());
    if (!frame->has_value()) return;
    if (Status s = handlers_.frame(c->id, **frame); !s.ok()) return Drop(c->id, s.message());
  }
}

void FramedServer::Flush(Connection* c) {
  size_t sent = 0;
  while (sent < c->output.size()) {
    ssize_t n =
        send(c->fd, c->output.data() + sent, c->output.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Drop(c->id, std::string("write: ") + strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  c->output.erase(0, sent);
  if (!c->output.empty()) {
    event_add(c->write_event.get(), nullptr);
    return;
  }
  event_del(c->write_event.get());
  if (c->closing) Drop(c->id, "");
}

FramedServer::Connection* FramedServer::Find(PeerId peer) {
  auto found = connections_.find(peer);
  if (found == connections_.end() || found->second->gone) return nullptr;
  return found->second.get();
}

void FramedServer::SendFrame(PeerId peer, std::string_view frame) {
  Connection* c = Find(peer);
  if (c == nullptr || c->closing) return;
  if (c->output.size() + frame.size() > limits_.max_output)
    return Drop(peer, "it leaves more than " + std::to_string(limits_.max_output) +
                          " bytes of replies unread");
  c->output.append(frame);
  Flush(c);
}

void FramedServer::CloseAfterSending(PeerId peer) {
  Connection* c = Find(peer);
  if (c == nullptr || c->closing) return;
  c->closing = true;
  event_del(c->read_event.get());
  if (c->output.empty()) Drop(peer, "");
}

void FramedServer::Drop(PeerId peer, const std::string& why) {
  Connection* c = Find(peer);
  if (c == nullptr) return;
  if (!why.empty())
    LOG_WARNING("%s: closing connection %" PRIu64 ": %s", name_.c_str(), peer, why.c_str());
  c->gone = true;
  event_del(c->read_event.get());
  event_del(c->write_event.get());
  event_active(reap_event_.get(), EV_TIMEOUT, 1);
}

void FramedServer::OnReap(evutil_socket_t, short, void* self) {
  static_cast<FramedServer*>(self)->Reap();
}

void FramedServer::Reap() {
  std::vector<PeerId> reaped;
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->second->gone) {
      reaped.push_back(it->first);
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
  // A descriptor came back: worth trying the listen queue again now.
  if (!reaped.empty()) acceptor_.DescriptorFreed();
  acceptor_.Update();
  for (PeerId id : reaped)
    if (handlers_.closed) handlers_.closed(id);
}

}  // namespace postern
