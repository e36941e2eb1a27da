// lib/smtp/smtp_command.h — SMTP command lines: framing and verb/argument split.
//
// CommandLineSplitter finds command lines in the client's byte stream.
// Framing rules (RFC 5321 2.3.8, 4.1.1, 4.5.3.1.4):
//   - Only CRLF ends a command line. A bare LF or bare CR does not: it stays
//     inside the line, and ParseCommand() refuses such a line as a whole
//     (kInvalidCharacters). Accepting LF alone would let a client and a
//     proxy in front of postern disagree about where commands begin.
//   - A command line may hold at most 512 octets including its CRLF; a
//     client's answer to an AUTH challenge up to 12288 (RFC 4954 4; the
//     session picks the limit). When the first that many octets hold no
//     CRLF, the splitter reports kTooLong once and then drops bytes, without storing them, up to
//     and including the next CRLF (which may arrive much later, in other pieces).
// The splitter never copies input and gives identical results however the
// stream is cut into pieces.
//
// ParseCommand() splits one line into its verb (case-insensitive) and its
// argument. It never fails: unknown verbs are Verb::kUnknown, and argument
// syntax is checked by the handler of each verb.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace postern {

// RFC 5321 4.5.3.1.4: a command line, CRLF included.
inline constexpr size_t kMaxCommandLine = 512;
// RFC 4954 4: an answer to an AUTH challenge may be up to 12288 octets
// long, CRLF included (NTLMv2 AUTHENTICATE messages need more than 512).
inline constexpr size_t kMaxAuthLine = 12288;

class CommandLineSplitter {
 public:
  enum class Kind {
    kNeedMore,  // no complete line in the input given; all of it that could be used was
    kLine,      // `line` holds one command line without its CRLF
    kTooLong,   // a line over kMaxCommandLine began; its rest is dropped as it arrives
  };
  struct Item {
    Kind kind = Kind::kNeedMore;
    std::string_view line;  // points into the input given to Next()
    size_t consumed = 0;    // bytes of that input used up; drop them before the next call
  };

  // The longest line accepted from now on, CRLF included; kMaxCommandLine
  // until changed. A line being dropped as too long is still dropped.
  void set_max_line(size_t max_line) { max_line_ = max_line; }

  // Looks at the input not yet consumed. While the rest of an over-long line
  // is being dropped, consumed may be non-zero together with kNeedMore.
  Item Next(std::string_view input);

 private:
  // Drops input up to and including the CRLF that ends the over-long line;
  // returns the number of bytes dropped.
  size_t Discard(std::string_view input);

  size_t max_line_ = kMaxCommandLine;
  bool discarding_ = false;
  bool discard_after_cr_ = false;  // the last dropped byte was CR
};

enum class Verb {
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kXexch50,
  kStarttls,
  kAuth,
  kInvalidCharacters,  // the line holds NUL, a bare CR or a bare LF
  kUnknown,
};

struct Command {
  Verb verb = Verb::kUnknown;
  // What follows the verb and its separating spaces, with trailing spaces
  // and tabs removed; empty when there is none.
  std::string_view argument;
};

// `line` is one command line without its CRLF.
Command ParseCommand(std::string_view line);

// RFC 3030 BDAT argument: chunk-size [SP "LAST"]. False on any other form,
// including a size that does not fit in 64 bits.
bool ParseBdatArgument(std::string_view argument, uint64_t* size, bool* last);

}  // namespace postern
