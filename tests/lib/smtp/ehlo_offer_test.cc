// tests/lib/smtp/ehlo_offer_test.cc — lib/smtp/ehlo_offer: what a session
// offers, as a pure function of the listener, the hello and TLS.
//
// Keywords are typed from MS-OXSMTP 3.2.5, RFC 1870, RFC 3207 and RFC 4954.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/ehlo_offer.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

using Keywords = std::vector<std::string>;

ListenerConfig Plain() {
  ListenerConfig l;
  l.max_message_size = 10485760;
  return l;
}

ListenerConfig WithCertificate() {
  ListenerConfig l = Plain();
  l.tls_cert_file = "/etc/postern/tls/cert.pem";
  l.tls_key_file = "/etc/postern/tls/key.pem";
  l.auth_mechanisms = {"ntlm", "Login"};
  return l;
}

Keywords KeywordsOf(const ListenerConfig& l, Transport transport = Transport::kCleartext) {
  return EhloOffer(l, Hello::kEhlo, transport).keywords();
}

BOOST_AUTO_TEST_SUITE(ehlo_offer)

BOOST_AUTO_TEST_CASE(without_a_certificate_every_keyword_but_starttls_and_auth) {
  BOOST_TEST(KeywordsOf(Plain()) == (Keywords{"SIZE 10485760", "DSN", "ENHANCEDSTATUSCODES",
                                              "PIPELINING", "8BITMIME", "BINARYMIME", "CHUNKING"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cleartext_offers_starttls_and_ntlm_alone) {
  BOOST_TEST(KeywordsOf(WithCertificate()) ==
                 (Keywords{"SIZE 10485760", "DSN", "ENHANCEDSTATUSCODES", "PIPELINING", "STARTTLS",
                           "AUTH NTLM", "8BITMIME", "BINARYMIME", "CHUNKING"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_ec_certificate_alone_offers_starttls) {
  ListenerConfig l = Plain();
  l.tls_eccert_file = "/etc/postern/tls/eccert.pem";
  l.tls_eckey_file = "/etc/postern/tls/eckey.pem";
  BOOST_TEST(EhloOffer(l, Hello::kEhlo, Transport::kCleartext).starttls());
}

BOOST_AUTO_TEST_CASE(under_tls_no_starttls_and_every_mechanism_upper_case) {
  ListenerConfig l = WithCertificate();
  EhloOffer offer(l, Hello::kEhlo, Transport::kTls);
  BOOST_TEST(!offer.starttls());
  BOOST_TEST(offer.auth_mechanisms() == (Keywords{"NTLM", "LOGIN"}),
             boost::test_tools::per_element());
  BOOST_TEST(
      offer.keywords() == (Keywords{"SIZE 10485760", "DSN", "ENHANCEDSTATUSCODES", "PIPELINING",
                                    "AUTH NTLM LOGIN", "8BITMIME", "BINARYMIME", "CHUNKING"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(allow_plaintext_auth_lists_login_before_starttls) {
  ListenerConfig l = WithCertificate();
  l.allow_plaintext_auth = true;
  BOOST_TEST(EhloOffer(l, Hello::kEhlo, Transport::kCleartext).auth_mechanisms() ==
                 (Keywords{"NTLM", "LOGIN"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(require_tls_and_auth_require_tls_all_list_no_auth_before_starttls) {
  ListenerConfig require_tls = WithCertificate();
  require_tls.require_tls = true;
  ListenerConfig all = WithCertificate();
  all.auth_require_tls = AuthRequireTls::kAll;
  all.allow_plaintext_auth = true;  // no effect under all
  for (const ListenerConfig& l : {require_tls, all}) {
    EhloOffer cleartext(l, Hello::kEhlo, Transport::kCleartext);
    BOOST_TEST(cleartext.starttls());
    BOOST_TEST(cleartext.auth_mechanisms().empty());
    BOOST_TEST(!cleartext.parameters().auth);  // AUTH= goes with the AUTH line
    EhloOffer tls(l, Hello::kEhlo, Transport::kTls);
    BOOST_TEST(tls.auth_mechanisms() == (Keywords{"NTLM", "LOGIN"}),
               boost::test_tools::per_element());
    BOOST_TEST(tls.parameters().auth);
  }
}

BOOST_AUTO_TEST_CASE(tls_wrapper_never_offers_starttls) {
  ListenerConfig l = WithCertificate();
  l.tls_wrapper = true;
  BOOST_TEST(!EhloOffer(l, Hello::kEhlo, Transport::kCleartext).starttls());
}

BOOST_AUTO_TEST_CASE(pipelining_off_leaves_only_its_keyword_out) {
  ListenerConfig l = Plain();
  l.advertise_pipelining = false;
  BOOST_TEST(KeywordsOf(l) == (Keywords{"SIZE 10485760", "DSN", "ENHANCEDSTATUSCODES", "8BITMIME",
                                        "BINARYMIME", "CHUNKING"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(size_names_the_limit_and_no_limit_is_a_bare_size) {
  ListenerConfig l = Plain();
  l.max_message_size = 2048;
  BOOST_TEST(KeywordsOf(l).front() == "SIZE 2048");
  l.max_message_size = 0;
  BOOST_TEST(KeywordsOf(l).front() == "SIZE");
  l.advertise_size = false;
  BOOST_TEST(KeywordsOf(l).front() == "DSN");
  BOOST_TEST(!EhloOffer(l, Hello::kEhlo, Transport::kCleartext).parameters().size);
}

BOOST_AUTO_TEST_CASE(binarymime_needs_chunking) {
  ListenerConfig l = Plain();
  l.advertise_chunking = false;
  EhloOffer offer(l, Hello::kEhlo, Transport::kCleartext);
  BOOST_TEST(!offer.chunking());
  BOOST_TEST(!offer.parameters().binarymime);
  BOOST_TEST(offer.parameters().eightbitmime);
  BOOST_TEST(offer.keywords().back() == "8BITMIME");
}

BOOST_AUTO_TEST_CASE(after_helo_or_before_any_hello_nothing_is_offered) {
  ListenerConfig l = WithCertificate();
  for (Hello hello : {Hello::kNone, Hello::kHelo}) {
    EhloOffer offer(l, hello, Transport::kCleartext);
    BOOST_TEST(offer.keywords().empty());
    BOOST_TEST(!offer.starttls());
    BOOST_TEST(!offer.chunking());
    BOOST_TEST(offer.auth_mechanisms().empty());
    OfferedExtensions parameters = offer.parameters();
    BOOST_TEST(!(parameters.size || parameters.dsn || parameters.eightbitmime ||
                 parameters.binarymime || parameters.auth));
  }
}

BOOST_AUTO_TEST_CASE(which_mechanisms_wait_for_tls) {
  ListenerConfig l;
  BOOST_TEST(AuthMechanismWaitsForTls(l, "login"));
  BOOST_TEST(AuthMechanismWaitsForTls(l, "PLAIN"));
  BOOST_TEST(!AuthMechanismWaitsForTls(l, "NTLM"));
  l.allow_plaintext_auth = true;
  BOOST_TEST(!AuthMechanismWaitsForTls(l, "LOGIN"));
  l.auth_require_tls = AuthRequireTls::kAll;
  BOOST_TEST(AuthMechanismWaitsForTls(l, "LOGIN"));
  BOOST_TEST(AuthMechanismWaitsForTls(l, "NTLM"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
