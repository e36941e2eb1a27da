// lib/smtp/message_stream.h — the content of one message on its way from
// the client to qmgr.
//
// Opened at DATA's 354 or at the first accepted BDAT chunk: it appends
// BeginMessage with the envelope to the session's actions, and the
// Received: field postern prepends is its first content. DATA content
// (dot-decoded) and BDAT chunks go through a MessageReader, which applies
// the listener's bounds, and leave as MessageData in pieces of
// kMessageDataPiece octets: no session holds a whole message. Once a bound
// is crossed the stream is given up at once (AbortMessage) and the rest of
// the content is read and dropped; at the end the session answers the
// verdict. The stream never replies and never decides when content starts
// or ends: that is the session's. On a listener with an
// acknowledgement_delay its EndMessage asks qmgr to report the message's
// first delivery attempt (lib/smtp/server_session.h).
//
// Decided here:
//   - Hop counts and sizes are those of the content the client sent, as it
//     is stored (a bare LF made CRLF counts two octets); the Received: field
//     postern prepends is not counted.
//   - Bare LF in DATA (bare_newline): normalize, the default, stores a
//     content line that ends in LF alone with CRLF, and only CRLF.CRLF ends
//     the data (lib/smtp/message_reader.h); reject refuses the message at
//     its end with 554 5.6.0. A bare CR refuses it in both modes: the
//     smuggling variants that rely on CR alone stay refused, and no common
//     client sends one. BDAT chunks are content byte for byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/config.h"
#include "lib/queue/envelope.h"
#include "lib/smtp/message_reader.h"
#include "lib/smtp/server_session.h"

namespace postern {

// Content is handed to qmgr in pieces of this size (fewer, fuller IPC
// frames, each well under ipc::kMaxPayload); the last piece may be smaller.
inline constexpr size_t kMessageDataPiece = 64 * 1024;

// The content bounds of a listener (max_message_size, max_header_size,
// max_hop_count, max_local_hop_count).
ContentLimits ListenerContentLimits(const ListenerConfig& listener);

class MessageStream {
 public:
  // Opens the stream for envelope (which names its queue id), its content
  // starting with received_field. listener must outlive the stream, and so
  // must *actions, where every request to qmgr is appended; myhostname
  // marks the local hops.
  MessageStream(const ListenerConfig& listener, std::string myhostname, Envelope envelope,
                std::string received_field, std::vector<Action>* actions);

  const std::string& queue_id() const { return queue_id_; }
  // DATA: reads up to and including the end-of-data line; returns the
  // octets of input used, *complete once the end of data was read.
  size_t ReadData(std::string_view input, bool* complete);
  // BDAT: octets of a chunk, all of them content.
  void ReadChunk(std::string_view octets);
  // The last octet of the message was read: hands out the rest and
  // EndMessage, or gives up the stream; returns the verdict.
  ContentVerdict Finish();
  // The first bound the content crossed, or kAccepted.
  ContentVerdict verdict() const { return reader_.verdict(); }
  // The first Message-ID field's body as the client wrote it, or empty.
  const std::string& message_id() const { return reader_.scanner().message_id(); }
  // Content octets read so far (the whole message once it is complete).
  uint64_t size() const { return reader_.scanner().size(); }
  // The transaction is discarded: AbortMessage, unless the stream ended.
  void Abandon();

 private:
  // Hands out full pieces, or gives up the stream once a bound is crossed.
  void HandOut();

  std::vector<Action>* actions_;
  std::string queue_id_;
  // The listener has an acknowledgement_delay: EndMessage asks qmgr to
  // report the first delivery attempt.
  bool report_first_attempt_;
  MessageReader reader_;
  bool open_ = true;     // BeginMessage sent, neither End nor Abort yet
  std::string pending_;  // content not yet handed out as MessageData
};

}  // namespace postern
