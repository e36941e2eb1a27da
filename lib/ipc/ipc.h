// lib/ipc/ipc.h — every message that postern processes exchange, and its framing.
//
// This header is the one list of IPC message types. A frame is an 8-byte
// header (payload length u32, protocol version u16, type u16; big-endian)
// followed by the payload. Payloads are built with PayloadWriter and read with
// PayloadReader; a reader that runs past the end or finds trailing bytes
// reports failure, and a malformed frame is an error for that peer only:
// the connection to it is closed, nothing else is affected.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace postern::ipc {

// Bumped whenever a payload layout changes; a frame with another version is
// refused, so a CLI and daemons from different builds fail loudly.
constexpr uint16_t kProtocolVersion = 1;
constexpr size_t kHeaderSize = 8;
// Large enough for a data chunk plus envelope; anything bigger is an attack
// or a bug.
constexpr size_t kMaxPayload = 1 << 20;

enum class MsgType : uint16_t {
  // master -> smtpd, SOCK_SEQPACKET with the client socket attached
  // (SCM_RIGHTS): u64 conn_id, str listener, str peer_addr, u16 peer_port,
  // str local_addr, u16 local_port.
  kHandoff = 1,
  // smtpd -> master: u64 conn_id. The worker owns the fd; master closes its copy.
  kHandoffAck = 2,
  // smtpd -> master: u64 conn_id. The session ended; master updates its counts.
  kConnClosed = 3,
  // master -> smtpd: no payload. Take no new connections, finish the live
  // sessions, then exit.
  kDrain = 4,
  // smtpd -> master: u64 request_id, str listener, str rate_key. Asked at
  // every MAIL FROM that is otherwise acceptable: master checks its resources
  // (lib/policy/resource_check), then counts one message for rate_key (client
  // address or user) over a sliding minute where the listener has a
  // message_rate_limit.
  kRateCheck = 5,
  // master -> smtpd: u64 request_id, u8 MailVerdict.
  kRateReply = 6,
  // smtpd -> master: u8 Service. smtpd is chrooted and cannot reach the
  // service sockets, so master connects on its behalf.
  kServiceConnect = 7,
  // master -> smtpd: u8 Service, u8 ok; the connected socket attached when ok.
  kServiceSocket = 8,
  // master -> smtpd: str key (gnutls_session_ticket_key_generate). Sent once,
  // before any hand-off: every worker encrypts session tickets with master's
  // one key, so a client resumes its TLS session on whichever worker it meets.
  kTlsTicketKey = 9,
  // smtpd -> master: u64 conn_id. The hand-off arrived without its
  // descriptor (the worker has no descriptor left: MSG_CTRUNC); master still
  // holds the connection and gives it to another worker or refuses it.
  kHandoffRefused = 10,

  // smtpd -> qmgr, SOCK_STREAM: u64 stream_id, bytes envelope (Envelope::Encode).
  // Message bytes follow as kMessageData and end with kMessageEnd or kMessageAbort.
  kMessageBegin = 20,
  // smtpd -> qmgr: u64 stream_id, bytes content (already un-dot-stuffed).
  kMessageData = 21,
  // smtpd -> qmgr: u64 stream_id. Commit the message durably.
  kMessageEnd = 22,
  // smtpd -> qmgr: u64 stream_id. Forget the message.
  kMessageAbort = 23,
  // qmgr -> smtpd: u64 stream_id, u8 QueueOutcome, str queue_id or reason.
  kMessageResult = 24,

  // any client -> authd: no payload; authd answers kPong.
  kPing = 40,
  kPong = 41,
  // smtpd -> authd: u64 auth_id, str mechanism, str client_address,
  // u8 has_initial_response, str initial_response (decoded from base64).
  // auth_id is chosen by smtpd and unique on its connection to authd.
  kAuthStart = 42,
  // smtpd -> authd: u64 auth_id, str response (decoded from base64).
  kAuthStep = 43,
  // smtpd -> authd: u64 auth_id. The exchange is abandoned (the client
  // cancelled or left); authd forgets it and does not answer.
  kAuthCancel = 44,
  // authd -> smtpd: u64 auth_id, u8 AuthOutcome, str data: the challenge
  // (raw, not base64) for kContinue, the authenticated user for kSuccess,
  // empty otherwise. Every outcome but kContinue ends the exchange.
  kAuthReply = 45,

  // postern CLI -> master or qmgr control socket: str verb, u32 argc, argc x str.
  kControlRequest = 60,
  // daemon -> CLI: u8 ok, str text (printed as is).
  kControlReply = 61,
};

enum class Service : uint8_t { kQueue = 1, kAuth = 2 };

enum class AuthOutcome : uint8_t {
  kContinue = 0,          // send the challenge, then a kAuthStep with the answer
  kSuccess = 1,           // data: the user name the client proved
  kFailure = 2,           // wrong password, unknown user, malformed exchange, locked out
  kUnknownMechanism = 3,  // authd does not offer the mechanism
  kTemporaryFailure = 4,  // authd could not decide (libsasl2 or sasldb trouble)
};

enum class QueueOutcome : uint8_t {
  kQueued = 0,                 // text: queue id; synced to disk
  kInsufficientResources = 1,  // map full, disk full
  kTemporaryFailure = 2,       // any other local problem
};

// master's answer to a kRateCheck. The values keep the meaning of the
// former "u8 allowed" (0 refused, 1 allowed), so the layout is unchanged.
enum class MailVerdict : uint8_t {
  kRateLimitExceeded = 0,      // MessageRateLimitExceeded: 421 4.4.2, the session ends
  kAllowed = 1,                // counted, within the limit
  kInsufficientResources = 2,  // OutOfResources: 452 4.3.1, not counted
};

struct Frame {
  MsgType type;
  std::string payload;
};

// The wire bytes of one frame.
std::string EncodeFrame(MsgType type, std::string_view payload);

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

class PayloadWriter {
 public:
  PayloadWriter& U8(uint8_t v);
  PayloadWriter& U16(uint16_t v);
  PayloadWriter& U32(uint32_t v);
  PayloadWriter& U64(uint64_t v);
  PayloadWriter& Str(std::string_view v);  // u32 length + bytes
  const std::string& data() const { return data_; }
  std::string Take() { return std::move(data_); }

 private:
  std::string data_;
};

// Reads fields in order. Each getter returns false (and stays failed) once
// the payload is short; Done() is true only if every read succeeded and no
// byte is left over.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view payload) : rest_(payload) {}
  bool U8(uint8_t* v);
  bool U16(uint16_t* v);
  bool U32(uint32_t* v);
  bool U64(uint64_t* v);
  bool Str(std::string* v);
  bool Done() const { return ok_ && rest_.empty(); }

 private:
  bool Take(size_t n, std::string_view* out);
  std::string_view rest_;
  bool ok_ = true;
};

// Messages of the Status returned by the receive helpers below when the peer
// closed the socket, or when a non-blocking socket has nothing to read.
inline constexpr const char* kEof = "eof";
inline constexpr const char* kWouldBlock = "would block";

// Blocking helpers for sockets that carry one frame per send (SOCK_SEQPACKET)
// or for simple request/reply clients such as the CLI.

// Sends a frame, with fd_to_pass attached as SCM_RIGHTS when >= 0.
Status SendFrame(int socket, MsgType type, std::string_view payload, int fd_to_pass = -1);

// One sendmsg(2) of bytes with flags, fd_to_pass attached as SCM_RIGHTS when
// >= 0; EINTR is retried. Returns what sendmsg returns (errno set on -1).
ssize_t SendWithDescriptor(int socket, std::string_view bytes, int fd_to_pass, int flags);

// One datagram received from a SOCK_SEQPACKET socket.
struct Datagram {
  Frame frame;
  int fd = -1;                   // an attached descriptor, owned by the receiver
  bool descriptor_lost = false;  // one was attached but could not be received
};

// Receives one datagram frame from a SOCK_SEQPACKET socket into *buffer,
// which is reused from call to call (sized once to the largest frame). A
// truncated control message (MSG_CTRUNC: the receiver has no descriptor
// left) is not an error: the frame is returned with descriptor_lost, so the
// receiver can tell the sender, which still holds its copy. Returns kEof
// when the peer closed, kWouldBlock on an empty non-blocking socket.
Result<Datagram> ReceiveDatagram(int socket, std::string* buffer);

// Reads exactly one frame from a stream socket (blocking).
Result<Frame> ReceiveStreamFrame(int socket);

}  // namespace postern::ipc
