// tests/lib/smtp/smtp_command_test.cc — command line framing and verb parsing.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/smtp_command.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

// Feeds `pieces` one after another the way the session does (unconsumed
// bytes stay in front of the next piece) and records "L:<line>" for each
// line and "TOO_LONG" for each over-long line.
struct SplitResult {
  std::vector<std::string> events;
  size_t max_buffered = 0;  // the most bytes ever kept between calls
};

SplitResult Split(const std::vector<std::string>& pieces) {
  CommandLineSplitter splitter;
  SplitResult result;
  std::string buffer;
  for (const std::string& piece : pieces) {
    buffer += piece;
    while (true) {
      CommandLineSplitter::Item item = splitter.Next(buffer);
      std::string line(item.line);
      buffer.erase(0, item.consumed);
      if (item.kind == CommandLineSplitter::Kind::kNeedMore) break;
      result.events.push_back(item.kind == CommandLineSplitter::Kind::kLine ? "L:" + line
                                                                            : "TOO_LONG");
    }
    result.max_buffered = std::max(result.max_buffered, buffer.size());
  }
  return result;
}

std::vector<std::string> Bytewise(const std::string& text) {
  std::vector<std::string> pieces;
  for (char c : text) pieces.emplace_back(1, c);
  return pieces;
}

using Events = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(command_line_splitter)

BOOST_AUTO_TEST_CASE(lines_end_at_crlf) {
  BOOST_TEST(Split({"NOOP\r\nRSET\r\n"}).events == (Events{"L:NOOP", "L:RSET"}));
  BOOST_TEST(Split({"NO", "OP\r", "\nRS"}).events == (Events{"L:NOOP"}));
  BOOST_TEST(Split({"\r\n"}).events == (Events{"L:"}));
}

BOOST_AUTO_TEST_CASE(bare_lf_and_bare_cr_do_not_end_a_line) {
  BOOST_TEST(Split({"NOOP\nRSET\r\n"}).events == (Events{"L:NOOP\nRSET"}));
  BOOST_TEST(Split({"NOOP\rRSET\r\n"}).events == (Events{"L:NOOP\rRSET"}));
  BOOST_TEST(Split({"NOOP\n"}).events.empty());
}

BOOST_AUTO_TEST_CASE(a_512_octet_line_is_accepted) {
  std::string content(510, 'x');
  BOOST_TEST(Split({content + "\r\n"}).events == (Events{"L:" + content}));
  BOOST_TEST(Split(Bytewise(content + "\r\n")).events == (Events{"L:" + content}));
}

BOOST_AUTO_TEST_CASE(a_513_octet_line_is_too_long_and_its_rest_is_dropped) {
  std::string content(511, 'x');
  Events expected{"TOO_LONG", "L:NOOP"};
  BOOST_TEST(Split({content + "\r\nNOOP\r\n"}).events == expected);
  BOOST_TEST(Split(Bytewise(content + "\r\nNOOP\r\n")).events == expected);
  // The CR is the 512th octet and the LF arrives alone afterwards.
  BOOST_TEST(Split({content + "\r", "\nNOOP\r\n"}).events == expected);
}

BOOST_AUTO_TEST_CASE(the_rest_of_a_long_line_is_never_buffered) {
  std::vector<std::string> pieces(200, std::string(4096, 'y'));
  pieces.push_back("tail\r\nQUIT\r\n");
  SplitResult result = Split(pieces);
  BOOST_TEST(result.events == (Events{"TOO_LONG", "L:QUIT"}));
  BOOST_TEST(result.max_buffered < 512u);
}

BOOST_AUTO_TEST_CASE(a_lone_lf_does_not_end_the_dropped_line) {
  std::string content(600, 'z');
  BOOST_TEST(Split({content + "\nstill dropped\r\nNOOP\r\n"}).events ==
             (Events{"TOO_LONG", "L:NOOP"}));
  BOOST_TEST(Split({content + "\r", "x\n", "\r\nNOOP\r\n"}).events ==
             (Events{"TOO_LONG", "L:NOOP"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(command_parser)

BOOST_AUTO_TEST_CASE(verbs_are_case_insensitive) {
  BOOST_TEST((ParseCommand("ehlo client.example").verb == Verb::kEhlo));
  BOOST_TEST((ParseCommand("Mail FROM:<a@b.example>").verb == Verb::kMail));
  BOOST_TEST((ParseCommand("rCpT TO:<a@b.example>").verb == Verb::kRcpt));
  BOOST_TEST((ParseCommand("XEXCH50 100 2").verb == Verb::kXexch50));
  BOOST_TEST((ParseCommand("starttls").verb == Verb::kStarttls));
  BOOST_TEST((ParseCommand("Auth NTLM").verb == Verb::kAuth));
  BOOST_TEST(ParseCommand("Auth NTLM").argument == "NTLM");
  const std::vector<std::pair<std::string, Verb>> all = {
      {"HELO", Verb::kHelo}, {"DATA", Verb::kData}, {"BDAT", Verb::kBdat},
      {"RSET", Verb::kRset}, {"NOOP", Verb::kNoop}, {"QUIT", Verb::kQuit},
      {"VRFY", Verb::kVrfy}, {"EXPN", Verb::kExpn}, {"HELP", Verb::kHelp}};
  for (const auto& [name, verb] : all) BOOST_TEST((ParseCommand(name).verb == verb));
}

BOOST_AUTO_TEST_CASE(argument_follows_the_spaces_after_the_verb) {
  Command c = ParseCommand("MAIL  FROM:<a@b.example> SIZE=10  \t");
  BOOST_TEST((c.verb == Verb::kMail));
  BOOST_TEST(c.argument == "FROM:<a@b.example> SIZE=10");
  BOOST_TEST(ParseCommand("RSET").argument.empty());
  BOOST_TEST((ParseCommand("RSET  ").verb == Verb::kRset));
  BOOST_TEST(ParseCommand("RSET  ").argument.empty());
}

BOOST_AUTO_TEST_CASE(unknown_verbs) {
  BOOST_TEST((ParseCommand("").verb == Verb::kUnknown));
  BOOST_TEST((ParseCommand("MAILFROM:<a@b>").verb == Verb::kUnknown));
  BOOST_TEST((ParseCommand("STARTTLSX").verb == Verb::kUnknown));
  BOOST_TEST((ParseCommand(" NOOP").verb == Verb::kUnknown));
  BOOST_TEST((ParseCommand("NOOP\tx").verb == Verb::kUnknown));
  BOOST_TEST((ParseCommand("\xc3\x9c"
                           "BER")
                  .verb == Verb::kUnknown));
}

BOOST_AUTO_TEST_CASE(nul_and_bare_line_endings_make_the_line_invalid) {
  BOOST_TEST((ParseCommand(std::string("NOOP\0", 5)).verb == Verb::kInvalidCharacters));
  BOOST_TEST((ParseCommand("NOOP\nMAIL FROM:<a@b>").verb == Verb::kInvalidCharacters));
  BOOST_TEST((ParseCommand("NOOP\r").verb == Verb::kInvalidCharacters));
}

BOOST_AUTO_TEST_CASE(bdat_argument) {
  uint64_t size = 99;
  bool last = true;
  BOOST_TEST(ParseBdatArgument("100", &size, &last));
  BOOST_TEST(size == 100u);
  BOOST_TEST(!last);
  BOOST_TEST(ParseBdatArgument("0 LAST", &size, &last));
  BOOST_TEST(size == 0u);
  BOOST_TEST(last);
  BOOST_TEST(ParseBdatArgument("7 last", &size, &last));
  BOOST_TEST(ParseBdatArgument("18446744073709551615", &size, &last));
  BOOST_TEST(size == 18446744073709551615ull);
  for (const char* bad :
       {"", "LAST", "abc", "-1", "1.5", "100 FIRST", "100 LAST x", "18446744073709551616", "+5"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!ParseBdatArgument(bad, &size, &last)); }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
