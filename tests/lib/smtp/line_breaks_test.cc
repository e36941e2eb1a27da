// tests/lib/smtp/line_breaks_test.cc — LineBreakFinder and FindLineFeed
// against an octet-by-octet search.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/line_breaks.h"

#include <boost/test/unit_test.hpp>
#include <random>
#include <string>

namespace postern {
namespace {

size_t SlowNext(std::string_view text, size_t from) {
  for (size_t i = from; i < text.size(); ++i)
    if (text[i] == '\r' || text[i] == '\n') return i;
  return std::string_view::npos;
}

// Text of `size` octets drawn from `alphabet`.
std::string RandomText(std::mt19937* random, std::string_view alphabet, size_t size) {
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string text;
  for (size_t i = 0; i < size; ++i) text += alphabet[pick(*random)];
  return text;
}

BOOST_AUTO_TEST_SUITE(line_breaks)

BOOST_AUTO_TEST_CASE(finds_every_cr_and_lf_in_order) {
  LineBreakFinder finder(std::string_view("ab\r\ncd\nef\rg\r\r\n\n", 16));
  std::vector<size_t> found;
  for (size_t at = finder.Next(0); at != std::string_view::npos; at = finder.Next(at + 1))
    found.push_back(at);
  std::vector<size_t> expected = {2, 3, 6, 9, 11, 12, 13, 14};
  BOOST_TEST(found == expected, boost::test_tools::per_element());
  BOOST_TEST(LineBreakFinder("no breaks here").Next(0) == std::string_view::npos);
  BOOST_TEST(LineBreakFinder("").Next(0) == std::string_view::npos);
  BOOST_TEST(LineBreakFinder("x\n").Next(5) == std::string_view::npos);
}

// Callers move forward by any amount, not only to the next break: text with
// CR without LF, LF without CR, and long runs of either.
BOOST_AUTO_TEST_CASE(agrees_with_an_octet_by_octet_search_on_random_text) {
  std::mt19937 random(20261207);
  for (std::string_view alphabet : {"ab\r\n", "a\r", "a\n", "aaaaaaaaaaaaaaaa\r\n", "\r\n"}) {
    for (int round = 0; round < 200; ++round) {
      std::string text = RandomText(&random, alphabet, random() % 300);
      LineBreakFinder finder(text);
      std::uniform_int_distribution<size_t> skip(0, 7);
      for (size_t from = 0; from <= text.size() + 1;) {
        size_t at = finder.Next(from);
        BOOST_TEST_REQUIRE(at == SlowNext(text, from),
                           "text of " << text.size() << " from " << from);
        from = (at == std::string_view::npos ? from : at) + 1 + skip(random);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(find_line_feed) {
  BOOST_TEST(FindLineFeed("a\r\nb\n", 0) == 2u);
  BOOST_TEST(FindLineFeed("a\r\nb\n", 3) == 4u);
  BOOST_TEST(FindLineFeed("a\r\nb\n", 5) == std::string_view::npos);
  BOOST_TEST(FindLineFeed("a\rb", 0) == std::string_view::npos);
  BOOST_TEST(FindLineFeed("", 0) == std::string_view::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
