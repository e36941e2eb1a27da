// lib/base/syslog_socket.h — a client of the local syslog daemon's datagram socket.
//
// postern writes its syslog records itself (lib/base/log_format.h) rather
// than through syslog(3), which hides every failure: this socket says when
// syslog cannot be reached, so that the line goes to the fallback file
// instead of nowhere. One record is one datagram.
//
// Decided here:
//   - Never blocks for long: the socket is non-blocking. A syslogd whose
//     receive queue is full (EAGAIN, ENOBUFS; Linux queues only
//     net.unix.max_dgram_qlen datagrams, often 10, so a burst of lines
//     fills it) is waited for up to kPatience (100 ms) for room, as
//     syslog(3) would wait without a bound; when that runs out, Send()
//     fails with is_would_block(), the caller writes the line elsewhere,
//     and no further line waits until one is taken at once again, so a
//     syslogd that stopped reading costs one wait, not one per line.
//   - A syslogd that restarted (ECONNREFUSED, ENOTCONN: the socket was
//     made anew) is reconnected by path once and the record sent again;
//     a failed reconnection is tried again at most once a second, so a
//     missing syslogd costs one connect() a second, not one per line.
//   - A chrooted process cannot reach the path again: Adopt() takes a
//     socket connected by someone who can (smtpd's comes from master).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace postern {

class SyslogSocket {
 public:
  explicit SyslogSocket(std::string path) : path_(std::move(path)) {}
  ~SyslogSocket();
  SyslogSocket(const SyslogSocket&) = delete;
  SyslogSocket& operator=(const SyslogSocket&) = delete;

  // Connects to the path, replacing any socket held; says why it cannot.
  Status Connect();
  // Sends one record; see the decisions above.
  Status Send(std::string_view record);
  // Replaces the socket with fd, a datagram socket connected to syslog.
  void Adopt(int fd);
  bool connected() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  // 0 or the errno of send().
  int SendOnce(std::string_view record);
  Status Failure(int error) const;
  void Close();

  std::string path_;
  int fd_ = -1;
  // The last record went out: a full queue is worth waiting for.
  bool patient_ = true;
  std::chrono::steady_clock::time_point next_reconnect_{};
};

// A non-blocking datagram socket connected to path (for master to pass to
// a chrooted child), or why not.
Result<int> ConnectSyslog(const std::string& path);

}  // namespace postern
