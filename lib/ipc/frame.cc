// lib/ipc/frame.cc — framing and blocking socket helpers of lib/ipc/frame.h.
#include "lib/ipc/frame.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "lib/ipc/payload.h"

namespace postern::ipc {
namespace {

struct Header {
  uint32_t length;
  uint16_t version;
  uint16_t type;
};

// bytes holds at least kHeaderSize bytes.
Header ParseHeader(std::string_view bytes) {
  Header h{};
  PayloadReader reader(bytes.substr(0, kHeaderSize));
  reader.U32(&h.length);
  reader.U16(&h.version);
  reader.U16(&h.type);
  return h;
}

Status CheckHeader(const Header& h) {
  if (h.version != kProtocolVersion)
    return Status::Error("peer speaks IPC protocol version " + std::to_string(h.version) +
                         ", this build speaks " + std::to_string(kProtocolVersion));
  if (h.length > kMaxPayload)
    return Status::Error("peer sent a frame of " + std::to_string(h.length) +
                         " bytes, more than the limit of " + std::to_string(kMaxPayload));
  return Status::Ok();
}

Status ReadFully(int socket, char* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(socket, buf + done, len - done);
    if (n == 0) return Status::EndOfFile("the peer closed the connection");
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(std::string("read from peer: ") + strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

std::string MsgTypeName(MsgType type) {
  switch (type) {
    case MsgType::kHandoff:
      return "kHandoff";
    case MsgType::kHandoffAck:
      return "kHandoffAck";
    case MsgType::kConnClosed:
      return "kConnClosed";
    case MsgType::kDrain:
      return "kDrain";
    case MsgType::kMailCheck:
      return "kMailCheck";
    case MsgType::kMailCheckReply:
      return "kMailCheckReply";
    case MsgType::kServiceConnect:
      return "kServiceConnect";
    case MsgType::kServiceSocket:
      return "kServiceSocket";
    case MsgType::kTlsTicketKey:
      return "kTlsTicketKey";
    case MsgType::kHandoffRefused:
      return "kHandoffRefused";
    case MsgType::kSessionTally:
      return "kSessionTally";
    case MsgType::kMailCheckPolicy:
      return "kMailCheckPolicy";
    case MsgType::kMessageBegin:
      return "kMessageBegin";
    case MsgType::kMessageData:
      return "kMessageData";
    case MsgType::kMessageEnd:
      return "kMessageEnd";
    case MsgType::kMessageAbort:
      return "kMessageAbort";
    case MsgType::kMessageResult:
      return "kMessageResult";
    case MsgType::kFirstAttemptEnded:
      return "kFirstAttemptEnded";
    case MsgType::kPing:
      return "kPing";
    case MsgType::kPong:
      return "kPong";
    case MsgType::kAuthStart:
      return "kAuthStart";
    case MsgType::kAuthStep:
      return "kAuthStep";
    case MsgType::kAuthCancel:
      return "kAuthCancel";
    case MsgType::kAuthReply:
      return "kAuthReply";
    case MsgType::kRecipientQuery:
      return "kRecipientQuery";
    case MsgType::kRecipientAnswer:
      return "kRecipientAnswer";
    case MsgType::kControlRequest:
      return "kControlRequest";
    case MsgType::kControlReply:
      return "kControlReply";
  }
  return "unknown message type " + std::to_string(static_cast<unsigned>(type));
}

std::string EncodeFrameHeader(MsgType type, size_t payload_size) {
  return PayloadWriter()
      .U32(static_cast<uint32_t>(payload_size))
      .U16(kProtocolVersion)
      .U16(static_cast<uint16_t>(type))
      .Take();
}

std::string EncodeFrame(MsgType type, std::string_view payload) {
  std::string out = EncodeFrameHeader(type, payload.size());
  out.reserve(kHeaderSize + payload.size());
  out.append(payload);
  return out;
}

Result<std::optional<Frame>> FrameDecoder::Next() {
  std::string_view rest(buffer_.data() + offset_, buffer_.size() - offset_);
  if (rest.size() < kHeaderSize) return std::optional<Frame>();
  Header h = ParseHeader(rest);
  if (Status s = CheckHeader(h); !s.ok()) return s;
  if (rest.size() < kHeaderSize + h.length) return std::optional<Frame>();
  Frame frame{static_cast<MsgType>(h.type), std::string(rest.substr(kHeaderSize, h.length))};
  offset_ += kHeaderSize + h.length;
  // Compact once the consumed prefix dominates, so the buffer stays small.
  if (offset_ > 65536 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return std::optional<Frame>(std::move(frame));
}

Result<Frame> DecodeDatagram(std::string_view bytes) {
  if (bytes.size() < kHeaderSize)
    return Status::Error("peer sent a datagram of " + std::to_string(bytes.size()) +
                         " bytes, shorter than a frame header");
  Header h = ParseHeader(bytes);
  if (Status s = CheckHeader(h); !s.ok()) return s;
  if (bytes.size() != kHeaderSize + h.length)
    return Status::Error("peer sent a datagram whose length field says " +
                         std::to_string(h.length) + " bytes but carries " +
                         std::to_string(bytes.size() - kHeaderSize));
  return Frame{static_cast<MsgType>(h.type), std::string(bytes.substr(kHeaderSize))};
}

ssize_t SendWithDescriptor(int socket, std::string_view bytes, int fd_to_pass, int flags) {
  struct iovec iov = {const_cast<char*>(bytes.data()), bytes.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd_to_pass >= 0) {
    memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd_to_pass, sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(socket, &msg, flags);
  } while (n < 0 && errno == EINTR);
  return n;
}

Status SendFrame(int socket, MsgType type, std::string_view payload, int fd_to_pass) {
  if (payload.size() > kMaxPayload)
    return Status::Error("refusing to send a frame of " + std::to_string(payload.size()) +
                         " bytes");
  std::string bytes = EncodeFrame(type, payload);
  size_t sent = 0;
  while (sent < bytes.size()) {
    // Only a stream socket sends partially; the fd goes with the first byte.
    ssize_t n = SendWithDescriptor(socket, std::string_view(bytes).substr(sent),
                                   sent == 0 ? fd_to_pass : -1, MSG_NOSIGNAL);
    if (n < 0) return Status::Error(std::string("send to peer: ") + strerror(errno));
    sent += static_cast<size_t>(n);
  }
  return Status::Ok();
}

DatagramBuffer::~DatagramBuffer() {
  if (bytes_ != nullptr) munmap(bytes_, kSize);
}

Result<char*> DatagramBuffer::Room() {
  if (bytes_ == nullptr) {
    // Anonymous pages are backed by memory only once written.
    void* mapped = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED)
      return Status::FromErrno(
          "cannot map " + std::to_string(kSize) + " bytes to receive datagrams into", errno);
    bytes_ = static_cast<char*>(mapped);
  }
  return bytes_;
}

Result<Datagram> ReceiveDatagram(int socket, DatagramBuffer* buffer) {
  Result<char*> room = buffer->Room();
  if (!room.ok()) return room.status();
  struct iovec iov = {*room, DatagramBuffer::kSize};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return Status::WouldBlock("nothing to receive now");
  if (n < 0) return Status::Error(std::string("receive from peer: ") + strerror(errno));
  if (n == 0) return Status::EndOfFile("the peer closed the connection");
  Datagram datagram;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int))) {
      memcpy(&datagram.fd, CMSG_DATA(c), sizeof(int));
    }
  }
  datagram.descriptor_lost = (msg.msg_flags & MSG_CTRUNC) != 0;
  auto discard_fd = [&datagram] {
    if (datagram.fd >= 0) close(datagram.fd);
    datagram.fd = -1;
  };
  if (datagram.descriptor_lost) discard_fd();
  if (msg.msg_flags & MSG_TRUNC) {
    discard_fd();
    return Status::Error("datagram larger than the largest frame");
  }
  Result<Frame> frame = DecodeDatagram(std::string_view(*room, static_cast<size_t>(n)));
  if (!frame.ok()) {
    discard_fd();
    return frame.status();
  }
  datagram.frame = std::move(*frame);
  return datagram;
}

Result<Frame> ReceiveStreamFrame(int socket) {
  char header[kHeaderSize];
  if (Status s = ReadFully(socket, header, sizeof header); !s.ok()) return s;
  Header h = ParseHeader(std::string_view(header, sizeof header));
  if (Status s = CheckHeader(h); !s.ok()) return s;
  std::string payload(h.length, '\0');
  if (Status s = ReadFully(socket, payload.data(), payload.size()); !s.ok()) return s;
  return Frame{static_cast<MsgType>(h.type), std::move(payload)};
}

}  // namespace postern::ipc
