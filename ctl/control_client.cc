// ctl/control_client.cc — see ctl/control_client.h.
#include "ctl/control_client.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "ctl/cli.h"
#include "lib/ipc/messages_control.h"
#include "lib/net/unix_socket.h"

namespace postern::cli {
namespace {

// Daemons answer at once (qmgr schedules a flush and replies); a minute of
// silence means the daemon is wedged, and the operator should hear so.
constexpr std::chrono::seconds kReplyTimeout{60};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status WaitForReply(int fd, const std::string& daemon_name) {
  pollfd p{fd, POLLIN, 0};
  int timeout_ms = static_cast<int>(std::chrono::milliseconds(kReplyTimeout).count());
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Status::Error(std::string("poll: ") + strerror(errno));
  if (rc == 0)
    return Status::Error(daemon_name + " did not answer within " +
                         std::to_string(kReplyTimeout.count()) + " s");
  return Status::Ok();
}

}  // namespace

Result<ipc::ControlReply> SendControlRequest(const std::string& socket_path,
                                             const std::string& daemon_name,
                                             const std::string& verb,
                                             const std::vector<std::string>& args) {
  Result<int> connected = ConnectUnixStream(socket_path, daemon_name);
  if (!connected.ok())
    return Status::Error(connected.status().message() + " (is postern running?)");
  Fd fd(*connected);
  if (Status s = ipc::SendFrame(fd.get(), ipc::ControlRequest{verb, args}); !s.ok())
    return Status::Error("cannot send to " + daemon_name + ": " + s.message());
  if (Status s = WaitForReply(fd.get(), daemon_name); !s.ok()) return s;
  Result<ipc::Frame> frame = ipc::ReceiveStreamFrame(fd.get());
  if (!frame.ok()) {
    if (frame.status().is_end_of_file())
      return Status::Error(daemon_name + " closed the control connection without answering");
    return Status::Error("no reply from " + daemon_name + ": " + frame.status().message());
  }
  Result<ipc::ControlReply> reply = ipc::DecodeAs<ipc::ControlReply>(*frame);
  if (!reply.ok()) return Status::Error(daemon_name + " sent " + reply.status().message());
  return reply;
}

Status ReportReply(const ipc::ControlReply& reply) {
  if (!reply.ok) {
    std::string text = reply.text;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return Status::Error(text.empty() ? "the daemon refused the request without saying why" : text);
  }
  PrintText(reply.text);
  return Status::Ok();
}

}  // namespace postern::cli
