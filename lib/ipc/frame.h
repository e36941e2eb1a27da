// lib/ipc/frame.h — the list of IPC message types and the frame that carries one.
//
// A frame is an 8-byte header (payload length u32, protocol version u16,
// type u16; big-endian) followed by the payload. MsgType below is the one
// list of message types; each type's payload is one struct with Encode() and
// Decode() in lib/ipc/messages_*.h (by channel), built on lib/ipc/payload.h.
// A frame with another version, an oversized length, a type the receiver
// does not serve or a payload its struct does not decode is an error for
// that peer only: the receiver drops the peer, nothing else is affected.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "lib/base/status.h"

namespace postern::ipc {

// Bumped whenever a payload layout changes; a frame with another version is
// refused, so a CLI and daemons from different builds fail loudly.
constexpr uint16_t kProtocolVersion = 4;
constexpr size_t kHeaderSize = 8;
// Large enough for a data chunk plus envelope; anything bigger is an attack
// or a bug.
constexpr size_t kMaxPayload = 1 << 20;

// The payload of each type is the struct of the same name in the header
// named in the group's comment.
enum class MsgType : uint16_t {
  // master <-> smtpd (lib/ipc/messages_worker.h), SOCK_SEQPACKET
  kHandoff = 1,
  kHandoffAck = 2,
  kConnClosed = 3,
  kDrain = 4,
  kMailCheck = 5,
  kMailCheckReply = 6,
  kServiceConnect = 7,
  kServiceSocket = 8,
  kTlsTicketKey = 9,
  kHandoffRefused = 10,
  kSessionTally = 11,
  kMailCheckPolicy = 12,

  // smtpd <-> qmgr (lib/ipc/messages_queue.h), SOCK_STREAM
  kMessageBegin = 20,
  kMessageData = 21,
  kMessageEnd = 22,
  kMessageAbort = 23,
  kMessageResult = 24,
  kFirstAttemptEnded = 25,

  // any client / smtpd <-> authd (lib/ipc/messages_auth.h), SOCK_STREAM
  kPing = 40,
  kPong = 41,
  kAuthStart = 42,
  kAuthStep = 43,
  kAuthCancel = 44,
  kAuthReply = 45,
  kRecipientQuery = 46,
  kRecipientAnswer = 47,

  // postern CLI <-> master or qmgr (lib/ipc/messages_control.h), SOCK_STREAM
  kControlRequest = 60,
  kControlReply = 61,
};

// "kHandoff", ... for logs; "unknown message type N" for a value not listed.
std::string MsgTypeName(MsgType type);

struct Frame {
  MsgType type;
  std::string payload;
};

// The wire bytes of one frame.
std::string EncodeFrame(MsgType type, std::string_view payload);
// The header alone of a frame whose payload is payload_size bytes: what a
// sender writes before a payload it sends in pieces, without a copy of it
// joined to the header.
std::string EncodeFrameHeader(MsgType type, size_t payload_size);

// Splits a byte stream into frames. Feed() appends bytes; Next() returns the
// next complete frame, nothing when more bytes are needed, or an error for a
// bad version or oversized length (after which the stream is unusable).
class FrameDecoder {
 public:
  void Feed(std::string_view bytes) { buffer_.append(bytes); }
  Result<std::optional<Frame>> Next();
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;
};

// Decodes exactly one frame (a SOCK_SEQPACKET datagram).
Result<Frame> DecodeDatagram(std::string_view bytes);

// The frame of one message struct (lib/ipc/messages_*.h).
template <typename Message>
std::string EncodeFrame(const Message& message) {
  return EncodeFrame(Message::kType, message.Encode());
}

// Decodes frame.payload as Message and runs handle(message), returning what
// a Status-returning handler returns; the decode error, without running
// handle, when the payload is not a Message. The receivers' switch on
// frame.type calls this once per type it serves.
template <typename Message, typename Handler>
Status DecodeThen(const Frame& frame, Handler&& handle) {
  Result<Message> message = Message::Decode(frame.payload);
  if (!message.ok()) return message.status();
  if constexpr (std::is_void_v<std::invoke_result_t<Handler, Message&>>) {
    handle(*message);
    return Status::Ok();
  } else {
    return handle(*message);
  }
}

// Decodes frame as Message: an error naming both types when the frame
// carries another type; Message::Decode's error when the payload is not one.
template <typename Message>
Result<Message> DecodeAs(const Frame& frame) {
  if (frame.type != Message::kType)
    return Status::Error(MsgTypeName(frame.type) + " where " + MsgTypeName(Message::kType) +
                         " was expected");
  return Message::Decode(frame.payload);
}

// Blocking helpers for sockets that carry one frame per send (SOCK_SEQPACKET)
// or for simple request/reply clients such as the CLI.

// Sends a frame, with fd_to_pass attached as SCM_RIGHTS when >= 0.
Status SendFrame(int socket, MsgType type, std::string_view payload, int fd_to_pass = -1);
template <typename Message>
Status SendFrame(int socket, const Message& message, int fd_to_pass = -1) {
  return SendFrame(socket, Message::kType, message.Encode(), fd_to_pass);
}

// One sendmsg(2) of bytes with flags, fd_to_pass attached as SCM_RIGHTS when
// >= 0; EINTR is retried. Returns what sendmsg returns (errno set on -1).
ssize_t SendWithDescriptor(int socket, std::string_view bytes, int fd_to_pass, int flags);

// One datagram received from a SOCK_SEQPACKET socket.
struct Datagram {
  Frame frame;
  int fd = -1;                   // an attached descriptor, owned by the receiver
  bool descriptor_lost = false;  // one was attached but could not be received
};

// Where ReceiveDatagram() receives: room for the largest frame, reused from
// call to call. The room is mapped on first use and never written by
// postern, so the kernel backs with memory only the pages datagrams have
// filled so far: a channel that carries small frames holds a page or two,
// not a megabyte (every smtpd worker, and master for each, has one).
class DatagramBuffer {
 public:
  DatagramBuffer() = default;
  ~DatagramBuffer();
  DatagramBuffer(const DatagramBuffer&) = delete;
  DatagramBuffer& operator=(const DatagramBuffer&) = delete;

  // The room, kHeaderSize + kMaxPayload bytes, mapped on the first call;
  // an error when it cannot be mapped.
  Result<char*> Room();
  static constexpr size_t kSize = kHeaderSize + kMaxPayload;

 private:
  char* bytes_ = nullptr;
};

// Receives one datagram frame from a SOCK_SEQPACKET socket into *buffer. A
// truncated control message (MSG_CTRUNC: the receiver has no descriptor
// left) is not an error: the frame is returned with descriptor_lost, so the
// receiver can tell the sender, which still holds its copy. The Status is
// is_end_of_file() when the peer closed, is_would_block() on an empty
// non-blocking socket.
Result<Datagram> ReceiveDatagram(int socket, DatagramBuffer* buffer);

// Reads exactly one frame from a stream socket (blocking); is_end_of_file()
// when the peer closed before a whole frame arrived.
Result<Frame> ReceiveStreamFrame(int socket);

}  // namespace postern::ipc
