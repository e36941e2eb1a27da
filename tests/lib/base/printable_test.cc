// tests/lib/base/printable_test.cc — outside text made safe for the log and
// control replies (lib/base/printable.h).
#define BOOST_TEST_DYN_LINK
#include "lib/base/printable.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace postern {
namespace {

BOOST_AUTO_TEST_SUITE(printable)

BOOST_AUTO_TEST_CASE(printable_ascii_passes_unchanged) {
  BOOST_TEST(Printable("alice@example.test [192.0.2.1]") == "alice@example.test [192.0.2.1]");
}

BOOST_AUTO_TEST_CASE(control_bytes_8bit_bytes_and_the_backslash_become_hex_escapes) {
  BOOST_TEST(Printable("a\r\nb") == "a\\x0d\\x0ab");
  BOOST_TEST(Printable(std::string("n\0ul", 4)) == "n\\x00ul");
  BOOST_TEST(Printable("\x1b[2J") == "\\x1b[2J");
  BOOST_TEST(Printable("del\x7f") == "del\\x7f");
  BOOST_TEST(Printable("caf\xc3\xa9") == "caf\\xc3\\xa9");
  BOOST_TEST(Printable("a\\x41") == "a\\x5cx41");  // an escape cannot be faked
}

BOOST_AUTO_TEST_CASE(long_text_is_cut_at_the_limit_and_says_so) {
  BOOST_TEST(Printable("abcdef", 3) == "abc...");
  BOOST_TEST(Printable("abc", 3) == "abc");
  BOOST_TEST(Printable(std::string(10000, 'x')).size() == 10000u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
