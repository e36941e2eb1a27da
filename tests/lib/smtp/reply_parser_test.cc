// tests/lib/smtp/reply_parser_test.cc — lib/smtp/reply_parser: server replies
// from bytes, multi-line replies, enhanced codes and the bounds.
//
// Replies are typed from RFC 5321 4.2 and RFC 2034 examples.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/reply_parser.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

// Every reply in input, given one byte at a time when split is set; the
// error text when the stream goes wrong, as a last element "ERROR: ...".
std::vector<std::string> Parse(std::string_view input, bool enhanced = false, bool split = false) {
  ReplyParser parser;
  parser.set_enhanced_status_codes(enhanced);
  std::vector<std::string> out;
  while (!input.empty()) {
    std::string_view piece = split ? input.substr(0, 1) : input;
    ReplyParser::Item item = parser.Next(piece);
    if (item.kind == ReplyParser::Kind::kError) {
      out.push_back("ERROR: " + parser.error());
      return out;
    }
    if (item.kind == ReplyParser::Kind::kReply) {
      const SmtpReply& r = parser.reply();
      out.push_back(std::to_string(r.code) + "|" + r.enhanced + "|" + r.Text() + "|" +
                    std::to_string(r.lines.size()));
    }
    input.remove_prefix(item.consumed);
  }
  return out;
}

BOOST_AUTO_TEST_SUITE(reply_parser)

BOOST_AUTO_TEST_CASE(single_line_replies) {
  std::vector<std::string> expected = {"220||ESMTP ready|1", "250||OK|1"};
  BOOST_TEST(Parse("220 ESMTP ready\r\n250 OK\r\n") == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(multi_line_reply_is_one_reply_with_every_line) {
  ReplyParser parser;
  std::string_view input = "250-mx.example.org Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n";
  ReplyParser::Item item = parser.Next(input);
  BOOST_TEST((item.kind == ReplyParser::Kind::kReply));
  BOOST_TEST(item.consumed == input.size());
  std::vector<std::string> lines = {"mx.example.org Hello", "PIPELINING", "SIZE 1000"};
  BOOST_TEST(parser.reply().lines == lines, boost::test_tools::per_element());
  BOOST_TEST(parser.reply().code == 250);
}

BOOST_AUTO_TEST_CASE(byte_by_byte_gives_the_same_replies) {
  std::string input = "250-first\r\n250 second\r\n354 go ahead\r\n";
  BOOST_TEST(Parse(input, false, true) == Parse(input), boost::test_tools::per_element());
  std::vector<std::string> expected = {"250||first second|2", "354||go ahead|1"};
  BOOST_TEST(Parse(input, false, true) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_bare_code_and_a_bare_lf_end_a_reply) {
  std::vector<std::string> expected = {"250|||1", "221||bye|1"};
  BOOST_TEST(Parse("250\r\n221 bye\n") == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(stops_at_the_end_of_a_reply_and_leaves_the_rest) {
  ReplyParser parser;
  std::string_view input = "250 OK\r\n250 more";
  ReplyParser::Item item = parser.Next(input);
  BOOST_TEST(item.consumed == 8u);
  item = parser.Next(input.substr(8));
  BOOST_TEST((item.kind == ReplyParser::Kind::kNeedMore));
  BOOST_TEST(item.consumed == 8u);
  item = parser.Next("\r\n");
  BOOST_TEST((item.kind == ReplyParser::Kind::kReply));
  BOOST_TEST(parser.reply().Text() == "more");
}

BOOST_AUTO_TEST_CASE(enhanced_codes_are_read_once_offered) {
  std::vector<std::string> off = {"550||5.1.1 no such user|1"};
  BOOST_TEST(Parse("550 5.1.1 no such user\r\n") == off, boost::test_tools::per_element());
  std::vector<std::string> on = {"550|5.1.1|no such user here|2"};
  BOOST_TEST(Parse("550-5.1.1 no such user\r\n550 5.1.1 here\r\n", true) == on,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(text_that_only_looks_like_an_enhanced_code_stays_text) {
  std::vector<std::string> expected = {"250||8BITMIME|1", "550||3.1.1 no such class|1",
                                       "250||2.1000.1 too long|1", "250||2.0.0x|1", "250|2.0.0||1"};
  BOOST_TEST(Parse("250 8BITMIME\r\n550 3.1.1 no such class\r\n250 2.1000.1 too long\r\n"
                   "250 2.0.0x\r\n250 2.0.0\r\n",
                   true) == expected,
             boost::test_tools::per_element());
}

// MS-OXSMTP 3.2.5 has the row "451 5.7.3 Must issue a STARTTLS command first".
BOOST_AUTO_TEST_CASE(the_class_need_not_match_the_reply_code) {
  std::vector<std::string> expected = {"451|5.7.3|Must issue a STARTTLS command first|1"};
  BOOST_TEST(Parse("451 5.7.3 Must issue a STARTTLS command first\r\n", true) == expected,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(to_string_is_the_diagnostic_form) {
  ReplyParser parser;
  parser.set_enhanced_status_codes(true);
  parser.Next("452 4.5.3 Too many recipients\r\n");
  BOOST_TEST(parser.reply().ToString() == "452 4.5.3 Too many recipients");
}

BOOST_AUTO_TEST_CASE(garbage_is_a_protocol_error_that_stays) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hello there\r\n", "a reply line that does not start with a reply code: \"hello there\""},
      {"25O ok\r\n", "a reply line that does not start with a reply code: \"25O ok\""},
      {"650 no such class\r\n",
       "a reply line that does not start with a reply code: \"650 no such class\""},
      {"250_OK\r\n", "a reply line that does not start with a reply code: \"250_OK\""},
      {"250-one\r\n251 two\r\n", "reply code 251 inside a multi-line reply 250"},
  };
  for (const auto& [input, reason] : cases) {
    BOOST_TEST_CONTEXT(input) {
      std::vector<std::string> replies = Parse(input);
      BOOST_TEST(replies.back() == "ERROR: " + reason);
    }
  }
  ReplyParser parser;
  parser.Next("x\r\n");
  BOOST_TEST((parser.Next("250 OK\r\n").kind == ReplyParser::Kind::kError));
}

BOOST_AUTO_TEST_CASE(a_line_over_4096_octets_is_an_error_without_being_held) {
  std::string fits = "250 " + std::string(4096 - 6, 'a') + "\r\n";
  BOOST_TEST(fits.size() == 4096u);
  BOOST_TEST(Parse(fits).size() == 1u);
  BOOST_TEST(Parse(fits).front().rfind("250|", 0) == 0u);
  std::string over = "250 " + std::string(4096 - 5, 'a') + "\r\n";
  BOOST_TEST(Parse(over).back() == "ERROR: a reply line longer than 4096 octets");
  // A megabyte without a line end is refused at octet 4096.
  ReplyParser parser;
  std::string flood(1 << 20, 'a');
  ReplyParser::Item item = parser.Next("250 " + flood);
  BOOST_TEST((item.kind == ReplyParser::Kind::kError));
  BOOST_TEST(item.consumed <= 4096u);
}

BOOST_AUTO_TEST_CASE(a_reply_of_more_than_100_lines_is_an_error) {
  std::string hundred;
  for (int i = 0; i < 99; ++i) hundred += "250-line\r\n";
  BOOST_TEST(Parse(hundred + "250 last\r\n").front().rfind("250||line", 0) == 0u);
  BOOST_TEST(Parse(hundred + "250-line\r\n250 last\r\n").back() ==
             "ERROR: a reply of more than 100 lines");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
