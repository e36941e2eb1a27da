// metricsd/metrics_server.h — the HTTP side of metrics_listen: answers
// Prometheus scrapes with the text master gives.
//
// Owns the listening TCP socket master bound (metricsd's fd 4), every
// client connection, and the channel to master (fd 3). Holds no metric
// itself: each GET /metrics asks master with one ControlRequest{"metrics"},
// and master answers one ControlReply{ok, text, more = ""}.
//
// Decisions:
//   - One question at a time. A scrape that arrives while a question is out
//     waits for its answer; every connection waiting when the answer comes
//     gets that same answer, so 64 scrapes at once cost master one question.
//     A question stays out until master answers it (never a second one
//     beside it), however long that takes.
//   - A waiting scrape gets 503 when master has not answered within
//     Limits::answer_timeout of its request, when master answers ok = false
//     (master's text says why) or pages its answer (`more` not empty), or
//     when master is gone. A ControlReply nobody asked for, or any other
//     frame, breaks the channel's protocol: master counts as gone.
//   - Routes: GET or HEAD /metrics (any query string) is the exposition
//     (text/plain; version=0.0.4); GET or HEAD / a line pointing there; any
//     other path 404; any other method 405 with Allow: GET, HEAD; a head
//     lib/net/http_request.h calls malformed 400, too large 431. One request
//     per connection: the answer says Connection: close.
//   - Every connection has Limits::connection_deadline from its accept to
//     send its request and take its answer; then it is closed, answered or
//     not. After its answer the server shuts its side (FIN) and reads and
//     discards what the client still sends until the client closes or the
//     deadline, so an answer is never destroyed by a reset from unread bytes.
//   - At most Limits::max_connections at once: accepting pauses at the cap
//     (the kernel's backlog holds the rest). Out of descriptors (EMFILE,
//     ENFILE, ENOBUFS, ENOMEM) accepting pauses for Limits::accept_pause or
//     until a connection closes, instead of spinning.
//   - Logs one info line per refused or failed request (4xx, 503, a client
//     that sent no whole request in time or closed halfway); a successful
//     answer is not logged, so a scrape every 15 s adds nothing to the log.
//     Request bytes are logged only through Printable().
//   - Master gone (the channel closed or failed): no new connection is
//     accepted, waiting scrapes get 503, connections that have not sent a
//     whole request are closed, and once the last answer is out (or its
//     deadline passed) the event loop is ended: metricsd exits 0 and master,
//     if alive, starts a new one.
//
// Never blocks: sockets are non-blocking, output waits in bufferevents.
// Single-threaded, on the daemon's event loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "lib/base/status.h"
#include "lib/ipc/datagram_channel.h"
#include "lib/net/event_handles.h"
#include "lib/net/http_request.h"
#include "lib/net/socket_acceptor.h"

namespace postern {

class MetricsServer {
 public:
  struct Limits {
    size_t max_connections = 64;
    std::chrono::milliseconds connection_deadline{10000};
    std::chrono::milliseconds answer_timeout{5000};
    std::chrono::milliseconds accept_pause{1000};
    // Bytes read and thrown away after an answer before the connection is
    // simply closed.
    size_t max_discard = 64 * 1024;
  };

  // Takes ownership of listen_fd (a listening TCP socket, non-blocking:
  // lib/base/daemon_support.h AdoptListeningSocket) and channel_fd
  // (the SOCK_SEQPACKET channel to master). Construct as root: the channel
  // may enlarge its socket buffer.
  MetricsServer(event_base* base, int listen_fd, int channel_fd, Limits limits);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Starts accepting.
  Status Start();

 private:
  struct Connection;

  static void OnRead(bufferevent* bev, void* connection);
  static void OnWritten(bufferevent* bev, void* connection);
  static void OnEvent(bufferevent* bev, short what, void* connection);
  static void OnDeadline(evutil_socket_t, short, void* connection);
  static void OnAnswerTimeout(evutil_socket_t, short, void* connection);

  void Adopt(int fd, const std::string& client);
  void ReadHead(Connection* c);
  void Discard(Connection* c);
  void Serve(Connection* c, const http::RequestLine& request);
  void AskMaster(Connection* c);
  void OnFrame(ipc::Datagram& datagram);
  void OnMasterGone(const std::string& why, bool peer_closed);
  // Answers every waiting connection alike.
  void AnswerWaiters(const http::Response& response, const std::string& why);
  // Sends the response, then discards input until the client closes; why,
  // when not empty, is logged as the reason of a refused or failed request.
  void Respond(Connection* c, const http::Response& response, const std::string& why);
  void Close(Connection* c);

  event_base* base_;
  int listen_fd_;
  Limits limits_;
  DatagramChannel channel_;
  SocketAcceptor acceptor_;
  bool master_gone_ = false;
  bool question_out_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::set<uint64_t> waiters_;
};

}  // namespace postern
