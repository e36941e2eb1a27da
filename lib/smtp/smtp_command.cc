// lib/smtp/smtp_command.cc — see lib/smtp/smtp_command.h.
#include "lib/smtp/smtp_command.h"

#include <algorithm>
#include <array>

#include "lib/base/ascii.h"

namespace postern {
namespace {

struct VerbName {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbName, 15> kVerbs{{
    {"EHLO", Verb::kEhlo},
    {"HELO", Verb::kHelo},
    {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},
    {"DATA", Verb::kData},
    {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset},
    {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},
    {"EXPN", Verb::kExpn},
    {"HELP", Verb::kHelp},
    {"XEXCH50", Verb::kXexch50},
    {"STARTTLS", Verb::kStarttls},
    {"AUTH", Verb::kAuth},
}};

bool HasInvalidCharacters(std::string_view line) {
  return line.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos;
}

std::string_view TrimTrailingBlanks(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

size_t CommandLineSplitter::Discard(std::string_view input) {
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '\n' && discard_after_cr_) {
      discarding_ = false;
      discard_after_cr_ = false;
      return i + 1;
    }
    discard_after_cr_ = input[i] == '\r';
  }
  return input.size();
}

CommandLineSplitter::Item CommandLineSplitter::Next(std::string_view input) {
  Item item;
  if (discarding_) {
    item.consumed = Discard(input);
    if (discarding_) return item;
    input.remove_prefix(item.consumed);
  }
  std::string_view window = input.substr(0, max_line_);
  size_t end = window.find("\r\n");
  if (end != std::string_view::npos) {
    item.kind = Kind::kLine;
    item.line = input.substr(0, end);
    item.consumed += end + 2;
    return item;
  }
  if (window.size() < max_line_) return item;
  item.kind = Kind::kTooLong;
  item.consumed += window.size();
  discarding_ = true;
  discard_after_cr_ = window.back() == '\r';
  return item;
}

Command ParseCommand(std::string_view line) {
  Command command;
  if (HasInvalidCharacters(line)) {
    command.verb = Verb::kInvalidCharacters;
    return command;
  }
  line = TrimTrailingBlanks(line);
  size_t space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  for (const VerbName& entry : kVerbs) {
    if (AsciiEqualsIgnoreCase(verb, entry.name)) command.verb = entry.verb;
  }
  if (space == std::string_view::npos) return command;
  std::string_view argument = line.substr(space);
  argument.remove_prefix(std::min(argument.find_first_not_of(' '), argument.size()));
  command.argument = argument;
  return command;
}

bool ParseBdatArgument(std::string_view argument, uint64_t* size, bool* last) {
  size_t space = argument.find(' ');
  *last = false;
  if (space != std::string_view::npos) {
    std::string_view marker = argument.substr(space);
    marker.remove_prefix(std::min(marker.find_first_not_of(' '), marker.size()));
    if (!AsciiEqualsIgnoreCase(marker, "LAST")) return false;
    *last = true;
  }
  return ParseDecimal(argument.substr(0, space), size);
}

}  // namespace postern
