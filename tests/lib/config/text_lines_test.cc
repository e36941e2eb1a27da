// tests/lib/config/text_lines_test.cc — the one line syntax of every
// configuration-style file (lib/config/text_lines.h).
#define BOOST_TEST_DYN_LINK
#include "lib/config/text_lines.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <utility>
#include <vector>

#include "lib/policy/ip_blocks.h"
#include "lib/smtp/sender_login.h"

namespace postern {
namespace {

using Lines = std::vector<std::pair<int, std::string>>;

Lines ContentLines(std::string_view text) {
  Lines lines;
  Status s = ForEachContentLine(text, [&](int number, std::string_view line) {
    lines.emplace_back(number, std::string(line));
    return Status::Ok();
  });
  BOOST_TEST(s.ok());
  return lines;
}

BOOST_AUTO_TEST_SUITE(text_lines)

BOOST_AUTO_TEST_CASE(a_hash_starts_a_comment_only_at_a_line_start_or_after_a_blank) {
  BOOST_TEST(StripComment("# all comment") == "");
  BOOST_TEST(StripComment("value # note") == "value ");
  BOOST_TEST(StripComment("value\t#note") == "value\t");
  BOOST_TEST(StripComment("http://host/#fragment") == "http://host/#fragment");
  BOOST_TEST(StripComment("a#b@example.test login") == "a#b@example.test login");
}

BOOST_AUTO_TEST_CASE(lines_without_content_are_skipped_and_numbers_count_from_one) {
  Lines lines = ContentLines("# header\n\n  one  # note\r\n\t\r\ntwo\nthree#kept");
  Lines expected{{3, "one"}, {5, "two"}, {6, "three#kept"}};
  BOOST_TEST((lines == expected));
}

BOOST_AUTO_TEST_CASE(the_first_failure_stops_the_reading) {
  int calls = 0;
  Status s = ForEachContentLine("a\nb\nc\n", [&](int number, std::string_view) {
    ++calls;
    return number == 2 ? Status::Error("line 2 is wrong") : Status::Ok();
  });
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message() == "line 2 is wrong");
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(words_are_separated_by_blanks_and_commas) {
  std::vector<std::string_view> words = SplitWords(" a, b\tc,,d\r");
  std::vector<std::string_view> expected{"a", "b", "c", "d"};
  BOOST_TEST((words == expected));
}

// The files that use the syntax keep a `#` inside a word, as postern.conf does.
BOOST_AUTO_TEST_CASE(the_sender_login_map_keeps_a_hash_inside_an_address) {
  Result<SenderLoginMap> map =
      SenderLoginMap::Parse("a#b@example.test alice # comment\n", "senders");
  BOOST_REQUIRE(map.ok());
  BOOST_TEST(map->Allows("alice", "a#b@example.test", {}));
  BOOST_TEST(!map->Allows("alice", "a@example.test", {}));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
