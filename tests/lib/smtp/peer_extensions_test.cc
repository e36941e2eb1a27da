// tests/lib/smtp/peer_extensions_test.cc — lib/smtp/peer_extensions: the
// keywords of a next hop's EHLO reply (RFC 1869, 1870, 2920, 3030, 3207,
// 3461, 2034, 4954).
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/peer_extensions.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

PeerExtensions Offer(std::string_view reply) {
  ReplyParser parser;
  parser.Next(reply);
  return ParseEhloReply(parser.reply());
}

BOOST_AUTO_TEST_SUITE(peer_extensions)

BOOST_AUTO_TEST_CASE(every_keyword_postern_uses) {
  PeerExtensions p = Offer(
      "250-mx.example.org Hello [192.0.2.1]\r\n250-SIZE 35882577\r\n250-PIPELINING\r\n"
      "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-DSN\r\n"
      "250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250 AUTH NTLM LOGIN\r\n");
  BOOST_TEST(p.size);
  BOOST_TEST(p.size_limit == 35882577u);
  BOOST_TEST(p.pipelining);
  BOOST_TEST(p.eightbitmime);
  BOOST_TEST(p.binarymime);
  BOOST_TEST(p.chunking);
  BOOST_TEST(p.dsn);
  BOOST_TEST(p.enhanced_status_codes);
  BOOST_TEST(p.starttls);
  std::vector<std::string> mechanisms = {"NTLM", "LOGIN"};
  BOOST_TEST(p.auth_mechanisms == mechanisms, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_bare_greeting_offers_nothing) {
  PeerExtensions p = Offer("250 mx.example.org\r\n");
  BOOST_TEST(!p.size);
  BOOST_TEST(!p.pipelining);
  BOOST_TEST(!p.starttls);
  BOOST_TEST(p.auth_mechanisms.empty());
}

BOOST_AUTO_TEST_CASE(keywords_are_case_insensitive_and_auth_has_two_forms) {
  PeerExtensions p =
      Offer("250-mx\r\n250-pipelining\r\n250-auth=login plain\r\n250 Auth PLAIN cram-md5\r\n");
  BOOST_TEST(p.pipelining);
  std::vector<std::string> mechanisms = {"LOGIN", "PLAIN", "CRAM-MD5"};
  BOOST_TEST(p.auth_mechanisms == mechanisms, boost::test_tools::per_element());
  BOOST_TEST(p.OffersAuth("login"));
  BOOST_TEST(!p.OffersAuth("NTLM"));
}

BOOST_AUTO_TEST_CASE(size_without_a_usable_number_has_no_limit) {
  for (std::string_view line : {"250 SIZE\r\n", "250 SIZE 0\r\n", "250 SIZE lots\r\n"}) {
    BOOST_TEST_CONTEXT(line) {
      PeerExtensions p = Offer("250-mx\r\n" + std::string(line));
      BOOST_TEST(p.size);
      BOOST_TEST(p.size_limit == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(binarymime_counts_only_with_chunking) {
  BOOST_TEST(!Offer("250-mx\r\n250 BINARYMIME\r\n").binarymime);
  BOOST_TEST(Offer("250-mx\r\n250-CHUNKING\r\n250 BINARYMIME\r\n").binarymime);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
