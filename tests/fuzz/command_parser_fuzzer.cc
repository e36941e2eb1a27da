// tests/fuzz/command_parser_fuzzer.cc — libFuzzer target for the parsers of
// client input that run before any session state: command framing, verbs,
// MAIL/RCPT paths and parameters, BDAT arguments, and the DATA decoder with
// its content scanner.
//
// Besides memory errors it traps on broken invariants: a line never holds
// CRLF, an accepted path or AUTH= mailbox prints back to itself, and
// decoding gives the same content whether the bytes arrive whole or one at
// a time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/smtp/message_reader.h"
#include "lib/smtp/smtp_address.h"
#include "lib/smtp/smtp_command.h"

namespace postern {
namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

OfferedExtensions Everything() {
  OfferedExtensions offered;
  offered.size = offered.dsn = offered.eightbitmime = offered.binarymime = offered.auth = true;
  return offered;
}

void CheckRoundTrip(const Path& path, PathKind kind) {
  if (path.null) return;
  std::string again = "<" + path.mailbox.ToString() + ">";
  size_t consumed = 0;
  Result<Path> reparsed = ParsePath(again, kind, &consumed);
  Check(reparsed.ok() && consumed == again.size() && reparsed->mailbox == path.mailbox);
}

void ParseLine(std::string_view line) {
  Check(line.find("\r\n") == std::string_view::npos);
  Check(line.size() + 2 <= kMaxCommandLine);
  Command command = ParseCommand(line);
  MailArguments mail;
  if (ParseMailArguments(command.argument, Everything(), &mail) == ArgumentError::kNone) {
    CheckRoundTrip(mail.reverse_path, PathKind::kReverse);
    // A decoded AUTH= mailbox is a path's mailbox too (RFC 4954 5).
    if (mail.parameters.auth) CheckRoundTrip(*mail.parameters.auth, PathKind::kReverse);
  }
  MailArguments plain;
  ParseMailArguments(command.argument, OfferedExtensions(), &plain);
  RcptArguments rcpt;
  if (ParseRcptArguments(command.argument, Everything(), &rcpt) == ArgumentError::kNone)
    CheckRoundTrip(rcpt.forward_path, PathKind::kForward);
  uint64_t size = 0;
  bool last = false;
  ParseBdatArgument(command.argument, &size, &last);
  IsValidHeloName(command.argument);
}

void SplitLines(std::string_view input) {
  CommandLineSplitter splitter;
  while (true) {
    CommandLineSplitter::Item item = splitter.Next(input);
    Check(item.consumed <= input.size());
    if (item.kind == CommandLineSplitter::Kind::kLine) ParseLine(item.line);
    input.remove_prefix(item.consumed);
    if (item.kind == CommandLineSplitter::Kind::kNeedMore) return;
  }
}

void DecodeData(std::string_view input, BareNewline bare_newline) {
  ContentLimits limits;
  limits.max_message_size = 1000;
  limits.max_header_size = 300;
  limits.max_hop_count = 3;
  limits.max_local_hop_count = 1;
  MessageReader whole(limits, "mx.example", BodyType::k7Bit, bare_newline);
  std::string whole_content;
  bool whole_complete = false;
  size_t used = whole.ReadData(input, &whole_content, &whole_complete);
  Check(used <= input.size());
  whole.Finish();

  DotDecoder decoder(bare_newline);
  std::string bytewise;
  bool complete = false;
  size_t i = 0;
  while (i < input.size() && !complete)
    i += decoder.Decode(input.substr(i, 1), &bytewise, &complete);
  Check(i == used && complete == whole_complete);
  // Smuggling: whatever bare_newline says, only CRLF "." CRLF ends the data
  // (DATA's own CRLF standing in before the first line).
  if (complete) {
    std::string_view end = input.substr(0, used);
    Check(end == ".\r\n" || (end.size() >= 5 && end.substr(end.size() - 5) == "\r\n.\r\n"));
  }
  if (whole.verdict() == ContentVerdict::kAccepted) Check(bytewise == whole_content);

  // The verdict does not depend on how the content is cut.
  ContentScanner scanner(limits, "mx.example", BodyType::k7Bit);
  for (char c : bytewise) scanner.Scan(std::string_view(&c, 1));
  scanner.Finish();
  Check(scanner.verdict() == whole.verdict());
}

}  // namespace
}  // namespace postern

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  postern::SplitLines(input);
  std::string_view first = input.substr(0, postern::kMaxCommandLine - 2);
  postern::ParseLine(first.substr(0, first.find("\r\n")));
  postern::DecodeData(input, postern::BareNewline::kReject);
  postern::DecodeData(input, postern::BareNewline::kNormalize);
  return 0;
}
