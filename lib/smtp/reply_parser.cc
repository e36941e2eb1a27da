// lib/smtp/reply_parser.cc — a next hop's SMTP replies, read from its byte stream.
#include "lib/smtp/reply_parser.h"

#include "lib/base/ascii.h"
#include "lib/base/printable.h"

namespace postern {
namespace {

// The length of "class.subject.detail" at the start of text, followed by a
// space or the end (RFC 3463: class 2, 4 or 5, subject and detail 1 to 3
// digits), or 0 when text does not start so.
size_t EnhancedCodeLength(std::string_view text) {
  bool known_class = !text.empty() && (text[0] == '2' || text[0] == '4' || text[0] == '5');
  if (!known_class || text.size() < 2 || text[1] != '.') return 0;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t digits = 0;
    while (i < text.size() && IsAsciiDigit(text[i]) && digits < 4) ++i, ++digits;
    if (digits == 0 || digits > 3) return 0;
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

}  // namespace

std::string SmtpReply::Text() const {
  std::string text;
  for (const std::string& line : lines) {
    if (!text.empty() && !line.empty()) text += ' ';
    text += line;
  }
  return text;
}

std::string SmtpReply::ToString() const {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  std::string text = Text();
  if (!text.empty()) out += " " + text;
  return out;
}

ReplyParser::Item ReplyParser::Next(std::string_view input) {
  if (!error_.empty()) return {Kind::kError, 0};
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] != '\n') {
      if (partial_.size() + 2 > kMaxReplyLine) {
        Fail("a reply line longer than " + std::to_string(kMaxReplyLine) + " octets");
        return {Kind::kError, i};
      }
      partial_ += input[i];
      continue;
    }
    std::string_view line = partial_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool last = AddLine(line);
    partial_.clear();
    if (!error_.empty()) return {Kind::kError, i + 1};
    if (last) {
      reply_ = std::move(building_);
      building_ = SmtpReply();
      return {Kind::kReply, i + 1};
    }
  }
  return {Kind::kNeedMore, input.size()};
}

bool ReplyParser::AddLine(std::string_view line) {
  bool code_ok = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && IsAsciiDigit(line[1]) &&
                 IsAsciiDigit(line[2]) && (line.size() == 3 || line[3] == ' ' || line[3] == '-');
  if (!code_ok) {
    Fail("a reply line that does not start with a reply code: \"" + Printable(line, 80) + "\"");
    return false;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (!building_.lines.empty() && code != building_.code) {
    Fail("reply code " + std::to_string(code) + " inside a multi-line reply " +
         std::to_string(building_.code));
    return false;
  }
  if (building_.lines.size() == kMaxReplyLines) {
    Fail("a reply of more than " + std::to_string(kMaxReplyLines) + " lines");
    return false;
  }
  building_.code = code;
  bool last = line.size() == 3 || line[3] == ' ';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (enhanced_) {
    if (size_t length = EnhancedCodeLength(text); length > 0) {
      if (building_.lines.empty()) building_.enhanced = std::string(text.substr(0, length));
      text.remove_prefix(length < text.size() ? length + 1 : length);
    }
  }
  building_.lines.emplace_back(text);
  return last;
}

void ReplyParser::Fail(std::string reason) {
  error_ = std::move(reason);
  partial_.clear();
  building_ = SmtpReply();
}

}  // namespace postern
