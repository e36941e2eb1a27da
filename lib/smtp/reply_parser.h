// lib/smtp/reply_parser.h — a next hop's SMTP replies, read from its byte stream.
//
// The SMTP client (lib/smtp/client_session.h) feeds every byte the server
// sends through ReplyParser and acts on each complete reply (RFC 5321 4.2):
// one or more lines "NNN-text" ending with a line "NNN text" (or "NNN"
// alone), all with the same code.
//
// Decided here:
//   - Lines end with CRLF; a bare LF also ends one (its CR, when present, is
//     dropped). Being strict here would only fail mail on a peer's sloppiness:
//     nothing a server sends is re-sent elsewhere as a line.
//   - Bounds: a line of more than kMaxReplyLine octets (its line ending
//     included), a reply of more than kMaxReplyLines lines, a line that does
//     not begin with three digits whose first is 2 to 5 followed by a space,
//     a hyphen or the line's end, and a continuation line whose code differs
//     from the first line's are protocol errors. The parser then reports the
//     error, with a reason naming what it saw, on this and every later call:
//     the session is unusable. Memory held is at most one reply.
//   - Enhanced status codes (RFC 2034, RFC 3463): once the peer offered
//     ENHANCEDSTATUSCODES (set_enhanced_status_codes), a line's text that
//     begins with "class.subject.detail" (class 2, 4 or 5, then 1 to 3
//     digits twice) and a space or the line's end has that code taken off;
//     the first line's is the reply's. The class need not match the reply
//     code's first digit: MS-OXSMTP 3.2.5 itself answers "451 5.7.3", and
//     the client must recognise that row. Other text (another class, parts
//     of four digits) stays text.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace postern {

// RFC 5321 4.5.3.1.5 allows 512 octets; real servers send longer EHLO and
// error lines, so postern takes eight times that before it gives up.
inline constexpr size_t kMaxReplyLine = 4096;
inline constexpr size_t kMaxReplyLines = 100;

struct SmtpReply {
  int code = 0;
  std::string enhanced;            // "5.1.1", or empty when the line carried none
  std::vector<std::string> lines;  // each line's text, without code and enhanced code

  // The lines joined by single spaces.
  std::string Text() const;
  // "550 5.1.1 text", as a DSN's Diagnostic-Code and the log show it.
  std::string ToString() const;
  bool positive() const { return code >= 200 && code < 300; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
};

class ReplyParser {
 public:
  enum class Kind {
    kNeedMore,  // all input was taken; no reply is complete yet
    kReply,     // reply() holds one complete reply
    kError,     // the stream is not SMTP replies; error() says why
  };
  struct Item {
    Kind kind = Kind::kNeedMore;
    size_t consumed = 0;  // input bytes used; give the rest to the next call
  };

  void set_enhanced_status_codes(bool on) { enhanced_ = on; }
  // Reads input up to the end of the next complete reply.
  Item Next(std::string_view input);
  // The reply of the last kReply, valid until the next call.
  const SmtpReply& reply() const { return reply_; }
  const std::string& error() const { return error_; }

 private:
  // Adds one line (without its line ending) to the reply being built;
  // true when it was the reply's last line.
  bool AddLine(std::string_view line);
  void Fail(std::string reason);

  bool enhanced_ = false;
  std::string partial_;  // the current line so far, at most kMaxReplyLine octets
  SmtpReply building_;
  SmtpReply reply_;
  std::string error_;
};

}  // namespace postern
