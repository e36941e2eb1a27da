// lib/ipc/ipc.cc — framing, payload encoding and blocking socket helpers of lib/ipc/ipc.h.
#include "lib/ipc/ipc.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace postern::ipc {
namespace {

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

struct Header {
  uint32_t length;
  uint16_t version;
  uint16_t type;
};

Header ParseHeader(std::string_view bytes) {
  return Header{static_cast<uint32_t>(GetBigEndian(bytes, 4)),
                static_cast<uint16_t>(GetBigEndian(bytes.substr(4), 2)),
                static_cast<uint16_t>(GetBigEndian(bytes.substr(6), 2))};
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
    if (n == 0) return Status::Error(kEof);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(std::string("read from peer: ") + strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeFrame(MsgType type, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  PutBigEndian(&out, payload.size(), 4);
  PutBigEndian(&out, kProtocolVersion, 2);
  PutBigEndian(&out, static_cast<uint16_t>(type), 2);
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

PayloadWriter& PayloadWriter::U8(uint8_t v) {
  PutBigEndian(&data_, v, 1);
  return *this;
}
PayloadWriter& PayloadWriter::U16(uint16_t v) {
  PutBigEndian(&data_, v, 2);
  return *this;
}
PayloadWriter& PayloadWriter::U32(uint32_t v) {
  PutBigEndian(&data_, v, 4);
  return *this;
}
PayloadWriter& PayloadWriter::U64(uint64_t v) {
  PutBigEndian(&data_, v, 8);
  return *this;
}
PayloadWriter& PayloadWriter::Str(std::string_view v) {
  U32(static_cast<uint32_t>(v.size()));
  data_.append(v);
  return *this;
}

bool PayloadReader::Take(size_t n, std::string_view* out) {
  if (!ok_ || rest_.size() < n) {
    ok_ = false;
    return false;
  }
  *out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return true;
}

bool PayloadReader::U8(uint8_t* v) {
  std::string_view b;
  if (!Take(1, &b)) return false;
  *v = static_cast<uint8_t>(GetBigEndian(b, 1));
  return true;
}
bool PayloadReader::U16(uint16_t* v) {
  std::string_view b;
  if (!Take(2, &b)) return false;
  *v = static_cast<uint16_t>(GetBigEndian(b, 2));
  return true;
}
bool PayloadReader::U32(uint32_t* v) {
  std::string_view b;
  if (!Take(4, &b)) return false;
  *v = static_cast<uint32_t>(GetBigEndian(b, 4));
  return true;
}
bool PayloadReader::U64(uint64_t* v) {
  std::string_view b;
  if (!Take(8, &b)) return false;
  *v = GetBigEndian(b, 8);
  return true;
}
bool PayloadReader::Str(std::string* v) {
  uint32_t len;
  std::string_view b;
  if (!U32(&len) || !Take(len, &b)) return false;
  v->assign(b);
  return true;
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

Result<Datagram> ReceiveDatagram(int socket, std::string* buffer) {
  // Sized once: zeroing a megabyte for every small datagram costs more than
  // the rest of the receive.
  if (buffer->size() != kHeaderSize + kMaxPayload) buffer->resize(kHeaderSize + kMaxPayload);
  struct iovec iov = {buffer->data(), buffer->size()};
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
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::Error(kWouldBlock);
  if (n < 0) return Status::Error(std::string("receive from peer: ") + strerror(errno));
  if (n == 0) return Status::Error(kEof);
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
  Result<Frame> frame = DecodeDatagram(std::string_view(buffer->data(), static_cast<size_t>(n)));
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
