// lib/smtp/message_reader.cc — see lib/smtp/message_reader.h.
#include "lib/smtp/message_reader.h"

#include <utility>

#include "lib/base/ascii.h"
#include "lib/smtp/line_breaks.h"

namespace postern {
namespace {

// How much of one header field is kept to look for its `by` clause.
constexpr size_t kMaxFieldKept = 4096;

bool IsFoldingWhite(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// value[start] is '('; returns the index after the matching ')', honouring
// nesting and quoted-pairs (RFC 5322 3.2.2), or value.size().
size_t SkipComment(std::string_view value, size_t start) {
  int depth = 0;
  for (size_t i = start; i < value.size(); ++i) {
    if (value[i] == '\\') {
      ++i;
    } else if (value[i] == '(') {
      ++depth;
    } else if (value[i] == ')' && --depth == 0) {
      return i + 1;
    }
  }
  return value.size();
}

// A field body with its folding undone and white space trimmed at both ends.
std::string UnfoldedBody(std::string_view body) {
  std::string text;
  for (char c : body) {
    if (c == '\r' || c == '\n') continue;
    text.push_back(c == '\t' ? ' ' : c);
  }
  size_t begin = text.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(' ') + 1 - begin);
}

// True if a "by" word in the value of a Received: field is followed by
// `host` (RFC 5321 4.4 By-domain). The date after ';' is not examined.
bool NamesHostInByClause(std::string_view value, std::string_view host) {
  bool after_by = false;
  size_t i = 0;
  while (i < value.size()) {
    char c = value[i];
    if (c == ';') return false;
    if (c == '(') {
      i = SkipComment(value, i);
      continue;
    }
    if (IsFoldingWhite(c)) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < value.size() && !IsFoldingWhite(value[i]) && value[i] != '(' && value[i] != ';') ++i;
    std::string_view word = value.substr(start, i - start);
    if (after_by && AsciiEqualsIgnoreCase(word, host)) return true;
    after_by = AsciiEqualsIgnoreCase(word, "by");
  }
  return false;
}

}  // namespace

DotDecoder::DotDecoder(BareNewline bare_newline)
    : normalize_(bare_newline == BareNewline::kNormalize) {}

size_t DotDecoder::Decode(std::string_view input, std::string* out, bool* complete) {
  *complete = false;
  auto emit = [out](std::string_view bytes) {
    if (out != nullptr) out->append(bytes);
  };
  // A line that ended in LF alone (normalize only): stored with CRLF, and
  // the next line cannot end the data.
  auto end_bare_line = [this, &emit] {
    emit("\r\n");
    state_ = State::kLineStart;
    line_after_crlf_ = false;
  };
  LineBreakFinder breaks(input);
  size_t i = 0;
  while (i < input.size()) {
    char c = input[i];
    switch (state_) {
      case State::kText: {
        size_t end = normalize_ ? breaks.Next(i) : input.find('\r', i);
        size_t stop = end == std::string_view::npos ? input.size() : end;
        emit(input.substr(i, stop - i));
        i = stop;
        if (end == std::string_view::npos) break;
        if (input[i] == '\r') {
          emit("\r");
          state_ = State::kTextCr;
        } else {
          end_bare_line();
        }
        ++i;
        break;
      }
      case State::kTextCr:
        if (c == '\n') {
          emit("\n");
          state_ = State::kLineStart;
          line_after_crlf_ = true;
          ++i;
        } else if (c == '\r') {
          emit("\r");
          ++i;
        } else {
          state_ = State::kText;
        }
        break;
      case State::kLineStart:
        if (c == '.') {
          state_ = State::kDot;
          ++i;
        } else {
          state_ = State::kText;
        }
        break;
      case State::kDot:
        // The dot of a line that is not "." alone was transparency: drop it.
        if (c == '\r') {
          state_ = State::kDotCr;
          ++i;
        } else if (c == '\n' && normalize_) {
          end_bare_line();  // "." LF ends nothing: an empty line
          ++i;
        } else {
          state_ = State::kText;
        }
        break;
      case State::kDotCr:
        if (c == '\n' && line_after_crlf_) {
          *complete = true;
          return i + 1;
        }
        if (c == '\n') {
          // LF "." CRLF ends nothing: an empty line, after which a "."
          // line may end the data.
          emit("\r\n");
          state_ = State::kLineStart;
          line_after_crlf_ = true;
          ++i;
          break;
        }
        emit("\r");
        state_ = State::kTextCr;
        break;
    }
  }
  return i;
}

ContentScanner::ContentScanner(const ContentLimits& limits, std::string myhostname, BodyType body)
    : limits_(limits), myhostname_(std::move(myhostname)), binary_(body == BodyType::kBinaryMime) {}

void ContentScanner::Decide(ContentVerdict verdict) {
  if (verdict_ == ContentVerdict::kAccepted) verdict_ = verdict;
}

uint64_t ContentScanner::header_size() const {
  if (!in_header_) return completed_header_;
  bool maybe_empty_line = line_length_ == 1 && line_starts_with_cr_;
  return completed_header_ + (maybe_empty_line ? 0 : line_length_);
}

void ContentScanner::Scan(std::string_view piece) {
  if (verdict_ != ContentVerdict::kAccepted) return;
  // The octet that crosses the size limit decides before it is looked at,
  // so the verdict does not depend on how the content was cut into pieces.
  bool crosses_size =
      limits_.max_message_size != 0 && piece.size() > limits_.max_message_size - size_;
  std::string_view within =
      crosses_size ? piece.substr(0, limits_.max_message_size - size_) : piece;
  size_t i = 0;
  for (; i < within.size() && in_header_; ++i) {
    CheckLineEnding(within[i]);
    ScanHeaderByte(within[i]);
    if (verdict_ != ContentVerdict::kAccepted) return;
  }
  // The body: only the octets around line breaks can be wrong.
  LineBreakFinder breaks(within);
  while (i < within.size() && !binary_) {
    if (!after_cr_) {
      i = breaks.Next(i);
      if (i == std::string_view::npos) break;
    }
    CheckLineEnding(within[i]);
    if (verdict_ != ContentVerdict::kAccepted) return;
    ++i;
  }
  size_ += piece.size();
  if (crosses_size) Decide(ContentVerdict::kMessageSizeExceeded);
}

void ContentScanner::Finish() {
  if (in_header_) FinishField();
  if (after_cr_ && !binary_) Decide(ContentVerdict::kBareLineEnding);
}

void ContentScanner::CheckLineEnding(char c) {
  if (binary_) return;
  // A CR must be followed by LF, and an LF preceded by CR.
  if (after_cr_ != (c == '\n')) Decide(ContentVerdict::kBareLineEnding);
  after_cr_ = c == '\r';
}

void ContentScanner::StartHeaderLine(char c) {
  line_starts_with_cr_ = c == '\r';
  if (c == ' ' || c == '\t') return;  // a continuation line of the current field
  FinishField();
}

void ContentScanner::ScanHeaderByte(char c) {
  if (line_length_ == 0) StartHeaderLine(c);
  ++line_length_;
  if (c == '\n') {
    if (line_length_ == 1 || (line_length_ == 2 && line_starts_with_cr_)) {
      in_header_ = false;  // the empty line: the body follows
      line_length_ = 0;
      field_.clear();
      return;
    }
    completed_header_ += line_length_;
    line_length_ = 0;
  }
  if (field_.size() < kMaxFieldKept) field_.push_back(c);
  if (limits_.max_header_size != 0 && header_size() > limits_.max_header_size)
    Decide(ContentVerdict::kHeaderSizeExceeded);
}

void ContentScanner::FinishField() {
  std::string_view field = field_;
  size_t colon = field.find(':');
  if (colon != std::string_view::npos) {
    std::string_view name = field.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (message_id_.empty() && AsciiEqualsIgnoreCase(name, "Message-ID"))
      message_id_ = UnfoldedBody(field.substr(colon + 1));
    if (AsciiEqualsIgnoreCase(name, "Received")) {
      ++received_count_;
      if (NamesHostInByClause(field.substr(colon + 1), myhostname_)) ++local_received_count_;
      if (limits_.max_hop_count != 0 && received_count_ > limits_.max_hop_count)
        Decide(ContentVerdict::kHopCountExceeded);
      if (limits_.max_local_hop_count != 0 && local_received_count_ > limits_.max_local_hop_count)
        Decide(ContentVerdict::kLocalHopCountExceeded);
    }
  }
  field_.clear();
}

MessageReader::MessageReader(const ContentLimits& limits, std::string myhostname, BodyType body,
                             BareNewline bare_newline)
    : decoder_(bare_newline), scanner_(limits, std::move(myhostname), body) {}

size_t MessageReader::ReadData(std::string_view input, std::string* content, bool* complete) {
  if (verdict() != ContentVerdict::kAccepted) return decoder_.Decode(input, nullptr, complete);
  size_t old_size = content->size();
  size_t used = decoder_.Decode(input, content, complete);
  Inspect(content, old_size);
  return used;
}

void MessageReader::ReadChunk(std::string_view bytes, std::string* content) {
  if (verdict() != ContentVerdict::kAccepted) return;
  size_t old_size = content->size();
  content->append(bytes);
  Inspect(content, old_size);
}

void MessageReader::Inspect(std::string* content, size_t old_size) {
  scanner_.Scan(std::string_view(*content).substr(old_size));
  if (scanner_.verdict() != ContentVerdict::kAccepted) content->resize(old_size);
}

}  // namespace postern
