// tests/lib/ipc/payload_test.cc — the field encodings of lib/ipc/payload.h.
#define BOOST_TEST_DYN_LINK
#include "lib/ipc/payload.h"

#include <boost/test/unit_test.hpp>

using namespace postern;
using namespace postern::ipc;

BOOST_AUTO_TEST_SUITE(ipc_payload)

BOOST_AUTO_TEST_CASE(round_trip_of_every_field_type) {
  // A string with an embedded NUL survives.
  PayloadWriter w;
  w.U8(7).U16(0xBEEF).U32(0xDEADBEEF).U64(1ull << 40).Str(std::string("a\0b", 3));
  PayloadReader r(w.data());
  uint8_t a;
  uint16_t b;
  uint32_t c;
  uint64_t d;
  std::string e;
  BOOST_TEST((r.U8(&a) && r.U16(&b) && r.U32(&c) && r.U64(&d) && r.Str(&e)));
  BOOST_TEST(r.Done());
  BOOST_TEST(a == 7);
  BOOST_TEST(b == 0xBEEF);
  BOOST_TEST(c == 0xDEADBEEFu);
  BOOST_TEST(d == (1ull << 40));
  BOOST_TEST(e == std::string("a\0b", 3));
}

BOOST_AUTO_TEST_CASE(short_payload_fails_and_stays_failed) {
  // Claims a 100-byte string but carries three bytes.
  std::string payload = PayloadWriter().U32(100).Take() + "abc";
  PayloadReader r(payload);
  std::string s;
  BOOST_TEST(!r.Str(&s));
  uint8_t x;
  BOOST_TEST(!r.U8(&x));
  BOOST_TEST(!r.Done());
}

BOOST_AUTO_TEST_CASE(trailing_bytes_are_not_done) {
  std::string payload = PayloadWriter().U8(1).U8(2).Take();
  PayloadReader r(payload);
  uint8_t x;
  BOOST_TEST(r.U8(&x));
  BOOST_TEST(!r.Done());
}

BOOST_AUTO_TEST_CASE(finish_says_what_went_wrong_first) {
  std::string payload = PayloadWriter().U32(100).Take() + "abc";
  PayloadReader cut(payload);
  std::string s;
  cut.Str(&s);
  BOOST_TEST(cut.Finish("kAuthStep").message() ==
             "malformed kAuthStep: it ends inside a field (100 bytes wanted, 3 left)");
  std::string two = PayloadWriter().U8(1).U8(2).Take();
  PayloadReader trailing(two);
  uint8_t x;
  trailing.U8(&x);
  BOOST_TEST(trailing.Finish("kDrain").message() ==
             "malformed kDrain: 1 bytes after the last field");
  PayloadReader whole(two);
  whole.U8(&x);
  whole.U8(&x);
  BOOST_TEST(whole.Finish("anything").ok());
}

BOOST_AUTO_TEST_CASE(a_bool_is_zero_or_one) {
  bool b = false;
  PayloadReader one(std::string_view("\x01", 1));
  BOOST_TEST(one.Bool(&b));
  BOOST_TEST(b);
  PayloadReader two(std::string_view("\x02", 1));
  BOOST_TEST(!two.Bool(&b));
  BOOST_TEST(two.Finish("flag").message() == "malformed flag: value 2 is outside 0..1");
}

enum class Colour : uint8_t { kRed = 1, kGreen = 2, kBlue = 3 };
enum class Wide : uint16_t { kFirst = 0x100, kLast = 0x102 };

BOOST_AUTO_TEST_CASE(an_enum_is_read_only_within_its_range) {
  Colour colour = Colour::kRed;
  for (uint8_t raw : {1, 2, 3}) {
    std::string byte(1, static_cast<char>(raw));
    PayloadReader r(byte);
    BOOST_TEST(r.Enum(&colour, Colour::kRed, Colour::kBlue));
    BOOST_TEST(static_cast<uint8_t>(colour) == raw);
  }
  for (uint8_t raw : {0, 4, 255}) {
    std::string byte(1, static_cast<char>(raw));
    PayloadReader r(byte);
    colour = Colour::kGreen;
    BOOST_TEST(!r.Enum(&colour, Colour::kRed, Colour::kBlue));
    BOOST_TEST((colour == Colour::kGreen));  // untouched
    BOOST_TEST(!r.Finish("colour").ok());
  }
  Wide wide = Wide::kFirst;
  PayloadReader inside(std::string_view("\x01\x02", 2));
  BOOST_TEST(inside.Enum(&wide, Wide::kFirst, Wide::kLast));
  BOOST_TEST((wide == Wide::kLast));
  PayloadReader outside(std::string_view("\x01\x03", 2));
  BOOST_TEST(!outside.Enum(&wide, Wide::kFirst, Wide::kLast));
  BOOST_TEST(PayloadWriter().Enum(Wide::kLast).data() == std::string("\x01\x02", 2));
}

BOOST_AUTO_TEST_SUITE_END()
