// lib/ipc/messages_worker.h — the messages between master and an smtpd worker.
//
// One SOCK_SEQPACKET channel per worker (lib/ipc/datagram_channel.h), one
// frame per datagram, descriptors attached with SCM_RIGHTS. Each struct is
// one message type of lib/ipc/frame.h: Encode() gives its payload, Decode()
// reads one back and fails, saying why, on a payload that is cut short,
// carries an out-of-range value or has bytes left over. A receiver drops a
// peer whose frame does not decode: master kills the worker (the supervisor
// starts another), a worker takes master for gone and drains.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "lib/ipc/frame.h"

namespace postern::ipc {

// The services master connects to on a chrooted worker's behalf.
// kSyslog: a datagram socket connected to syslog_socket, for a chrooted
// smtpd whose syslogd restarted.
enum class Service : uint8_t { kQueue = 1, kAuth = 2, kSyslog = 3 };

// master's answer to a MailCheck. The values keep the meaning of the first
// layout's "u8 allowed" (0 refused, 1 allowed).
enum class MailVerdict : uint8_t {
  kRateLimitExceeded = 0,      // MessageRateLimitExceeded: 421 4.4.2, the session ends
  kAllowed = 1,                // counted, within the limit
  kInsufficientResources = 2,  // OutOfResources: 452 4.3.1, not counted
};

// master -> smtpd, with the client socket attached: u64 conn_id,
// str listener, str peer_address, u16 peer_port, str local_address,
// u16 local_port.
struct Handoff {
  static constexpr MsgType kType = MsgType::kHandoff;
  uint64_t conn_id = 0;
  std::string listener;
  std::string peer_address;
  uint16_t peer_port = 0;
  std::string local_address;
  uint16_t local_port = 0;

  std::string Encode() const;
  static Result<Handoff> Decode(std::string_view payload);
  bool operator==(const Handoff&) const = default;
};

// smtpd -> master: u64 conn_id. The worker owns the socket; master closes
// its copy.
struct HandoffAck {
  static constexpr MsgType kType = MsgType::kHandoffAck;
  uint64_t conn_id = 0;

  std::string Encode() const;
  static Result<HandoffAck> Decode(std::string_view payload);
  bool operator==(const HandoffAck&) const = default;
};

// smtpd -> master: u64 conn_id. The hand-off arrived without its descriptor
// (the worker has none left: MSG_CTRUNC); master still holds the connection
// and gives it to another worker or refuses it.
struct HandoffRefused {
  static constexpr MsgType kType = MsgType::kHandoffRefused;
  uint64_t conn_id = 0;

  std::string Encode() const;
  static Result<HandoffRefused> Decode(std::string_view payload);
  bool operator==(const HandoffRefused&) const = default;
};

// smtpd -> master: u64 conn_id. The session ended; master updates its counts.
struct ConnClosed {
  static constexpr MsgType kType = MsgType::kConnClosed;
  uint64_t conn_id = 0;

  std::string Encode() const;
  static Result<ConnClosed> Decode(std::string_view payload);
  bool operator==(const ConnClosed&) const = default;
};

// master -> smtpd: no payload. Take no new connections, finish the live
// sessions, then exit.
struct Drain {
  static constexpr MsgType kType = MsgType::kDrain;

  std::string Encode() const;
  static Result<Drain> Decode(std::string_view payload);
  bool operator==(const Drain&) const = default;
};

// smtpd -> master: u64 request_id, str listener, str rate_key. Asked at
// every MAIL FROM that is otherwise acceptable: master checks its resources,
// then counts one message for rate_key (client address or user) over a
// sliding minute where the listener has a message_rate_limit
// (lib/policy/resource_check.h AnswerMailCheck).
struct MailCheck {
  static constexpr MsgType kType = MsgType::kMailCheck;
  uint64_t request_id = 0;
  std::string listener;
  std::string rate_key;

  std::string Encode() const;
  static Result<MailCheck> Decode(std::string_view payload);
  bool operator==(const MailCheck&) const = default;
};

// master -> smtpd: u64 request_id, u8 MailVerdict.
struct MailCheckReply {
  static constexpr MsgType kType = MsgType::kMailCheckReply;
  uint64_t request_id = 0;
  MailVerdict verdict = MailVerdict::kAllowed;

  std::string Encode() const;
  static Result<MailCheckReply> Decode(std::string_view payload);
  bool operator==(const MailCheckReply&) const = default;
};

// master -> smtpd: bool resources_ample, u32 count, count x str listener.
// Which MAIL checks the worker may answer itself: while resources_ample,
// a MAIL FROM on one of unlimited_listeners (those whose message_rate_limit
// is 0 in master's configuration) is allowed without a MailCheck, since
// master would only have checked the resources, and would count nothing.
// Sent at the worker's start, after every reload, and whenever master's
// resource reading changes; until the first one the worker asks for every
// MAIL. At most kMaxListeners names of at most kMaxListenerName octets.
struct MailCheckPolicy {
  static constexpr MsgType kType = MsgType::kMailCheckPolicy;
  static constexpr uint32_t kMaxListeners = 1000;
  static constexpr size_t kMaxListenerName = 255;
  bool resources_ample = false;
  std::vector<std::string> unlimited_listeners;

  std::string Encode() const;
  static Result<MailCheckPolicy> Decode(std::string_view payload);
  bool operator==(const MailCheckPolicy&) const = default;
};

// smtpd -> master: u8 Service. smtpd is chrooted and cannot reach the
// service sockets, so master connects on its behalf.
struct ServiceConnect {
  static constexpr MsgType kType = MsgType::kServiceConnect;
  Service service = Service::kQueue;

  std::string Encode() const;
  static Result<ServiceConnect> Decode(std::string_view payload);
  bool operator==(const ServiceConnect&) const = default;
};

// master -> smtpd: u8 Service, bool connected; the connected socket is
// attached when connected.
struct ServiceSocket {
  static constexpr MsgType kType = MsgType::kServiceSocket;
  Service service = Service::kQueue;
  bool connected = false;

  std::string Encode() const;
  static Result<ServiceSocket> Decode(std::string_view payload);
  bool operator==(const ServiceSocket&) const = default;
};

// master -> smtpd: str key (gnutls_session_ticket_key_generate). Sent once,
// before any hand-off: every worker encrypts session tickets with master's
// one key, so a client resumes its TLS session on whichever worker it meets.
struct TlsTicketKey {
  static constexpr MsgType kType = MsgType::kTlsTicketKey;
  std::string key;

  std::string Encode() const;
  static Result<TlsTicketKey> Decode(std::string_view payload);
  bool operator==(const TlsTicketKey&) const = default;
};

// smtpd -> master: str listener, u32 messages, u32 rejections, u64 bytes,
// u32 n, then n refusals (str command, u16 code, str enhanced, u32 count).
// What the sessions of the listener did since the last tally: messages
// acknowledged with 250 (queued) and their content octets, and 4xx/5xx
// replies to MAIL, RCPT, DATA and BDAT or to a client refused before its
// banner (command "CONNECT"), by command and reply. master sums them over a
// sliding minute for `postern status` and for good for metrics_listen;
// summed over the worker's sessions and sent every 100 ms when something
// happened (lib/smtp/tally_frames), never answered. At most kMaxRefusalKinds
// refusals, with short names, so a worker cannot make master hold much.
struct SessionTally {
  static constexpr MsgType kType = MsgType::kSessionTally;
  static constexpr uint32_t kMaxRefusalKinds = 64;
  struct Refusal {
    std::string command;  // "MAIL", "RCPT", "DATA", "BDAT", "CONNECT"
    uint16_t code = 0;
    std::string enhanced;  // "5.1.1", or empty
    uint32_t count = 0;
    bool operator==(const Refusal&) const = default;
  };
  std::string listener;
  uint32_t messages = 0;
  uint32_t rejections = 0;
  uint64_t bytes = 0;
  std::vector<Refusal> refused;

  std::string Encode() const;
  static Result<SessionTally> Decode(std::string_view payload);
  bool operator==(const SessionTally&) const = default;
};

}  // namespace postern::ipc
