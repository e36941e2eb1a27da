// tests/lib/smtp/base64_test.cc — lib/smtp/base64: RFC 4648 test vectors and strictness.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/base64.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

BOOST_AUTO_TEST_SUITE(Base64)

// RFC 4648 section 10.
BOOST_AUTO_TEST_CASE(EncodesTheRfcVectors) {
  BOOST_TEST(Base64Encode("") == "");
  BOOST_TEST(Base64Encode("f") == "Zg==");
  BOOST_TEST(Base64Encode("fo") == "Zm8=");
  BOOST_TEST(Base64Encode("foo") == "Zm9v");
  BOOST_TEST(Base64Encode("foob") == "Zm9vYg==");
  BOOST_TEST(Base64Encode("fooba") == "Zm9vYmE=");
  BOOST_TEST(Base64Encode("foobar") == "Zm9vYmFy");
}

BOOST_AUTO_TEST_CASE(EncodesTheXloginChallenges) {
  // [MS-XLOGIN] 2.2: the username and password prompts.
  BOOST_TEST(Base64Encode("Username:") == "VXNlcm5hbWU6");
  BOOST_TEST(Base64Encode("Password:") == "UGFzc3dvcmQ6");
}

BOOST_AUTO_TEST_CASE(DecodesTheRfcVectors) {
  BOOST_TEST(Base64Decode("").value() == "");
  BOOST_TEST(Base64Decode("Zg==").value() == "f");
  BOOST_TEST(Base64Decode("Zm8=").value() == "fo");
  BOOST_TEST(Base64Decode("Zm9vYmFy").value() == "foobar");
  BOOST_TEST(Base64Decode("Zm9vYg==").value() == "foob");
}

BOOST_AUTO_TEST_CASE(RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  for (size_t length = 0; length <= all.size(); length += 37) {
    std::string bytes = all.substr(0, length);
    BOOST_TEST(Base64Decode(Base64Encode(bytes)).value() == bytes);
  }
}

BOOST_AUTO_TEST_CASE(RefusesAnythingNotCanonical) {
  for (const char* text : {"Zg", "Zg=", "Zm9", "Z===", "Zg==Zg==", "Zm9v\r\n", " Zm9v", "Zm9v ",
                           "Zm-v", "Zm_v", "Zh==", "Zm9=", "====", "Zm=v", "*"}) {
    BOOST_TEST(!Base64Decode(text).has_value(), "accepted \"" << text << "\"");
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
