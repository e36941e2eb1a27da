// lib/smtp/message_reader.h — reads message content of DATA and BDAT.
//
// DotDecoder undoes the RFC 5321 4.5.2 transparency of DATA: a line that
// starts with '.' loses that dot, and the line "." ends the data. The end
// of data is only CRLF "." CRLF (DATA's own CRLF counts for the first
// line): LF "." LF, LF "." CRLF and CRLF "." LF end nothing. This is the
// defence against SMTP smuggling: no other reader of the same bytes can
// find an end of data where postern does not. What a bare LF does depends
// on bare_newline:
//   - reject: only CRLF ends a line; a bare LF is content, which the
//     scanner then refuses (kBareLineEnding).
//   - normalize (Postfix 3.9's default): a bare LF also ends a line, and is
//     handed out as CRLF. A line starting with '.' loses that dot whatever
//     ended the line before it, as Postfix does; so the "." line of
//     LF "." LF, CRLF "." LF or LF "." CRLF is stored as an empty line.
//     A bare CR stays content in both modes, and the scanner refuses it.
//
// ContentScanner inspects the content as it streams past, in pieces of any
// size, and keeps none of it:
//   - size: every content octet (DATA's terminating "." CRLF excluded; the
//     CRLF before it belongs to the last line);
//   - header size: the octets before the first empty line, line endings
//     included, the empty line excluded; without an empty line, all of it;
//   - Received: header fields sent by the client, and among them those whose
//     `by` clause names myhostname (case-insensitive, comments skipped; only
//     the first 4096 octets of a field are examined);
//   - bare CR or bare LF anywhere in the content. RFC 5321 2.3.8 forbids
//     them, so they fail the message (kBareLineEnding) unless the body is
//     BINARYMIME, where any octet is content. Header lines may end in LF
//     alone for the purpose of finding the header's end. (With
//     bare_newline = normalize, DATA content reaches the scanner with its
//     bare LFs already made CRLF: sizes count the octets as stored.)
// Lines longer than 1000 octets are passed through unchanged: the size
// limits bound what a client can send.
//
// The first limit crossed, in content order, decides the verdict (the same
// however the content is cut into pieces), which never changes after;
// MessageReader stops handing out content from then on, but keeps reading
// (DATA still needs its end).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/config/config.h"
#include "lib/queue/envelope.h"

namespace postern {

struct ContentLimits {
  uint64_t max_message_size = 0;  // 0: no limit, for each of these
  uint64_t max_header_size = 0;
  uint32_t max_hop_count = 0;        // Received: fields
  uint32_t max_local_hop_count = 0;  // Received: fields naming myhostname in `by`
};

enum class ContentVerdict {
  kAccepted,
  kMessageSizeExceeded,    // size > max_message_size
  kHeaderSizeExceeded,     // header size > max_header_size
  kHopCountExceeded,       // Received: fields > max_hop_count
  kLocalHopCountExceeded,  // Received: fields by myhostname > max_local_hop_count
  kBareLineEnding,         // bare CR or bare LF outside a BINARYMIME body
};

class DotDecoder {
 public:
  explicit DotDecoder(BareNewline bare_newline);

  // Decodes from `input`, appending content to *out (or dropping it when out
  // is nullptr), and stops after the end-of-data line. Returns the number of
  // input bytes used; *complete tells whether the end of data was found.
  size_t Decode(std::string_view input, std::string* out, bool* complete);

 private:
  enum class State { kLineStart, kDot, kDotCr, kText, kTextCr };
  bool normalize_;
  State state_ = State::kLineStart;
  bool line_after_crlf_ = true;  // DATA's own CRLF starts the first line
};

class ContentScanner {
 public:
  // body: as declared on MAIL; a BINARYMIME body may hold any octet.
  ContentScanner(const ContentLimits& limits, std::string myhostname, BodyType body);

  void Scan(std::string_view piece);
  // The content is complete: settles a trailing CR and the last header field.
  void Finish();

  ContentVerdict verdict() const { return verdict_; }
  uint64_t size() const { return size_; }
  uint64_t header_size() const;
  uint32_t received_count() const { return received_count_; }
  uint32_t local_received_count() const { return local_received_count_; }
  // The body of the first Message-ID field, unfolded and trimmed
  // ("<id@host>"); empty when the header has none.
  const std::string& message_id() const { return message_id_; }

 private:
  void ScanHeaderByte(char c);
  void StartHeaderLine(char c);
  void FinishField();
  void CheckLineEnding(char c);
  void Decide(ContentVerdict verdict);

  ContentLimits limits_;
  std::string myhostname_;
  bool binary_;
  ContentVerdict verdict_ = ContentVerdict::kAccepted;
  uint64_t size_ = 0;
  bool after_cr_ = false;  // the previous content octet was CR

  bool in_header_ = true;
  uint64_t completed_header_ = 0;  // octets of complete header lines
  uint64_t line_length_ = 0;       // octets of the current header line so far
  bool line_starts_with_cr_ = false;
  std::string field_;  // the current header field, up to kMaxFieldKept octets
  uint32_t received_count_ = 0;
  uint32_t local_received_count_ = 0;
  std::string message_id_;
};

class MessageReader {
 public:
  // body: as declared on MAIL (BODY=), see ContentScanner. bare_newline
  // applies to DATA only: BDAT chunks are content byte for byte.
  MessageReader(const ContentLimits& limits, std::string myhostname, BodyType body,
                BareNewline bare_newline);

  // DATA: reads up to and including the end-of-data line; appends decoded
  // content to *content while the verdict is kAccepted. Returns the bytes of
  // `input` used.
  size_t ReadData(std::string_view input, std::string* content, bool* complete);
  // BDAT: `bytes` is chunk data, all of it content.
  void ReadChunk(std::string_view bytes, std::string* content);
  // The last byte of the message has been read.
  void Finish() { scanner_.Finish(); }

  ContentVerdict verdict() const { return scanner_.verdict(); }
  const ContentScanner& scanner() const { return scanner_; }

 private:
  // Scans what was appended to *content since `old_size`, and takes it back
  // if it crossed a limit.
  void Inspect(std::string* content, size_t old_size);

  DotDecoder decoder_;
  ContentScanner scanner_;
};

}  // namespace postern
