// tests/lib/smtp/smtp_address_test.cc — RFC 5321 paths and ESMTP parameters.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/smtp_address.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "lib/smtp/xtext.h"

namespace postern {
namespace {

// The mailbox of a reverse or forward path, "<>" for the null path, or
// "ERROR".
std::string PathOf(const std::string& text, PathKind kind) {
  size_t consumed = 0;
  Result<Path> path = ParsePath(text, kind, &consumed);
  if (!path.ok()) return "ERROR";
  if (path->null) return "<>";
  return path->mailbox.ToString();
}
std::string Reverse(const std::string& text) { return PathOf(text, PathKind::kReverse); }
std::string Forward(const std::string& text) { return PathOf(text, PathKind::kForward); }

OfferedExtensions AllOffered() {
  OfferedExtensions offered;
  offered.size = offered.dsn = offered.eightbitmime = offered.binarymime = offered.auth = true;
  return offered;
}

ArgumentError Mail(const std::string& argument, MailArguments* out = nullptr,
                   OfferedExtensions offered = AllOffered()) {
  MailArguments scratch;
  return ParseMailArguments(argument, offered, out ? out : &scratch);
}

ArgumentError Rcpt(const std::string& argument, RcptArguments* out = nullptr,
                   OfferedExtensions offered = AllOffered()) {
  RcptArguments scratch;
  return ParseRcptArguments(argument, offered, out ? out : &scratch);
}

BOOST_AUTO_TEST_SUITE(smtp_paths)

BOOST_AUTO_TEST_CASE(plain_mailboxes) {
  BOOST_TEST(Reverse("<alice@example.test>") == "alice@example.test");
  BOOST_TEST(Forward("<Bob.Smith+tag@Mail.Example.TEST>") == "Bob.Smith+tag@Mail.Example.TEST");
  BOOST_TEST(Forward("<!#$%&'*+-/=?^_`{|}~@x.example>") == "!#$%&'*+-/=?^_`{|}~@x.example");
  BOOST_TEST(Forward("<a@b>") == "a@b");
  BOOST_TEST(Forward("<a@123.example>") == "a@123.example");
}

BOOST_AUTO_TEST_CASE(quoted_local_parts) {
  BOOST_TEST(Forward("<\"john doe\"@example.test>") == "\"john doe\"@example.test");
  BOOST_TEST(Forward("<\"a\\\"b>c\"@example.test>") == "\"a\\\"b>c\"@example.test");
  BOOST_TEST(Forward("<\"\"@example.test>") == "\"\"@example.test");
  BOOST_TEST(Forward("<\"unterminated@example.test>") == "ERROR");
  BOOST_TEST(Forward("<\"a\"b@example.test>") == "ERROR");
  BOOST_TEST(Forward("<\"tab\there\"@example.test>") == "ERROR");
}

BOOST_AUTO_TEST_CASE(dot_string_rules) {
  BOOST_TEST(Forward("<.a@example.test>") == "ERROR");
  BOOST_TEST(Forward("<a.@example.test>") == "ERROR");
  BOOST_TEST(Forward("<a..b@example.test>") == "ERROR");
  BOOST_TEST(Forward("<a b@example.test>") == "ERROR");
  BOOST_TEST(Forward("<a(b)@example.test>") == "ERROR");
  BOOST_TEST(Forward("<@example.test>") == "ERROR");
  BOOST_TEST(Forward("<a@b@example.test>") == "ERROR");
  BOOST_TEST(Forward("<a>") == "ERROR");
  BOOST_TEST(Forward("<\xc3\xa4@example.test>") == "ERROR");
}

BOOST_AUTO_TEST_CASE(domains) {
  BOOST_TEST(Forward("<a@-x.example>") == "ERROR");
  BOOST_TEST(Forward("<a@x-.example>") == "ERROR");
  BOOST_TEST(Forward("<a@x..example>") == "ERROR");
  BOOST_TEST(Forward("<a@x.example.>") == "ERROR");
  BOOST_TEST(Forward("<a@x_y.example>") == "ERROR");
  BOOST_TEST(Forward("<a@>") == "ERROR");
  BOOST_TEST(Forward("<a@" + std::string(63, 'l') + ".example>") != "ERROR");
  BOOST_TEST(Forward("<a@" + std::string(64, 'l') + ".example>") == "ERROR");
}

BOOST_AUTO_TEST_CASE(address_literals) {
  BOOST_TEST(Forward("<a@[192.0.2.1]>") == "a@[192.0.2.1]");
  BOOST_TEST(Forward("<a@[001.0.2.255]>") == "a@[001.0.2.255]");
  BOOST_TEST(Forward("<a@[IPv6:2001:db8::1]>") == "a@[IPv6:2001:db8::1]");
  BOOST_TEST(Forward("<a@[ipv6:::1]>") == "a@[ipv6:::1]");
  BOOST_TEST(Forward("<a@[IPv6:::ffff:192.0.2.1]>") == "a@[IPv6:::ffff:192.0.2.1]");
  BOOST_TEST(Forward("<a@[IPv6:1:2:3:4:5:6:7:8]>") == "a@[IPv6:1:2:3:4:5:6:7:8]");
  for (const char* bad :
       {"<a@[256.0.0.1]>", "<a@[1.2.3]>", "<a@[1.2.3.4.5]>", "<a@[1..2.3]>", "<a@[1234.0.0.1]>",
        "<a@[IPv6:2001:db8::g]>", "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", "<a@[IPv6:]>",
        "<a@[x-tag:stuff]>", "<a@[]>", "<a@[192.0.2.1>", "<a@192.0.2.1]>"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(Forward(bad) == "ERROR"); }
  }
}

BOOST_AUTO_TEST_CASE(source_routes_are_checked_and_dropped) {
  BOOST_TEST(Forward("<@relay1.example,@relay2.example:user@dest.example>") == "user@dest.example");
  BOOST_TEST(Reverse("<@relay.example:user@dest.example>") == "user@dest.example");
  BOOST_TEST(Forward("<@:user@dest.example>") == "ERROR");
  BOOST_TEST(Forward("<@relay.example,user@dest.example>") == "ERROR");
  BOOST_TEST(Forward("<@relay.example,:user@dest.example>") == "ERROR");
  BOOST_TEST(Forward("<@relay.example:>") == "ERROR");
  BOOST_TEST(Forward("<@bad_relay.example:user@dest.example>") == "ERROR");
}

BOOST_AUTO_TEST_CASE(null_path_and_postmaster) {
  BOOST_TEST(Reverse("<>") == "<>");
  BOOST_TEST(Forward("<>") == "ERROR");
  BOOST_TEST(Forward("<Postmaster>") == "Postmaster");
  BOOST_TEST(Forward("<postMASTER>") == "postMASTER");
  BOOST_TEST(Reverse("<Postmaster>") == "ERROR");
  BOOST_TEST(Forward("<postmaster@example.test>") == "postmaster@example.test");
}

BOOST_AUTO_TEST_CASE(brackets_are_required) {
  BOOST_TEST(Forward("a@example.test") == "ERROR");
  BOOST_TEST(Forward("<a@example.test") == "ERROR");
  BOOST_TEST(Forward("") == "ERROR");
}

BOOST_AUTO_TEST_CASE(rfc_5321_length_limits) {
  std::string local64(64, 'l');
  BOOST_TEST(Forward("<" + local64 + "@example.test>") == local64 + "@example.test");
  BOOST_TEST(Forward("<" + std::string(65, 'l') + "@example.test>") == "ERROR");
  // A whole path of 256 octets, brackets included, is the most allowed.
  std::string domain = std::string(63, 'd') + "." + std::string(63, 'd') + "." +
                       std::string(63, 'd') + "." + std::string(60, 'd');
  BOOST_REQUIRE(domain.size() == 252u);
  BOOST_TEST(Forward("<a@" + domain + ">") != "ERROR");   // 1 + 1 + 1 + 252 + 1 = 256
  BOOST_TEST(Forward("<ab@" + domain + ">") == "ERROR");  // 257
}

BOOST_AUTO_TEST_CASE(consumed_covers_the_path_only) {
  size_t consumed = 0;
  Result<Path> path = ParsePath("<\"x>y\"@example.test> SIZE=5", PathKind::kReverse, &consumed);
  BOOST_REQUIRE(path.ok());
  BOOST_TEST(consumed == std::string("<\"x>y\"@example.test>").size());
  BOOST_TEST(path->mailbox.local_part == "\"x>y\"");
  BOOST_TEST(path->mailbox.domain == "example.test");
}

BOOST_AUTO_TEST_CASE(helo_names) {
  BOOST_TEST(IsValidHeloName("client.example.net"));
  BOOST_TEST(IsValidHeloName("MY_PC"));
  BOOST_TEST(IsValidHeloName("[192.0.2.1]"));
  BOOST_TEST(IsValidHeloName("[IPv6:2001:db8::1]"));
  BOOST_TEST(IsValidHeloName("192.0.2.1"));
  BOOST_TEST(!IsValidHeloName(""));
  BOOST_TEST(!IsValidHeloName("two words"));
  BOOST_TEST(!IsValidHeloName("bad(name)"));
  BOOST_TEST(!IsValidHeloName("[999.0.0.1]"));
  BOOST_TEST(!IsValidDomain("MY_PC"));
  BOOST_TEST(IsValidDomain("my-pc"));
  BOOST_TEST(IsValidAddressLiteral("[127.0.0.1]"));
  BOOST_TEST(!IsValidAddressLiteral("127.0.0.1"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mail_arguments)

BOOST_AUTO_TEST_CASE(from_path_and_parameters) {
  MailArguments mail;
  BOOST_TEST((Mail("FROM:<alice@example.test> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 "
                   "AUTH=<>",
                   &mail) == ArgumentError::kNone));
  BOOST_TEST(mail.reverse_path.mailbox.ToString() == "alice@example.test");
  BOOST_TEST(*mail.parameters.size == 1000u);
  BOOST_TEST((mail.parameters.body == BodyType::k8BitMime));
  BOOST_TEST((mail.parameters.ret == DsnRet::kHeaders));
  BOOST_TEST(mail.parameters.envid == "QQ+2B1");
  BOOST_REQUIRE(mail.parameters.auth.has_value());
  BOOST_TEST(mail.parameters.auth->null);
}

// RFC 4954 5 and 7: AUTH= is xtext (RFC 3461 4) whose decoded form is "<>"
// or a Mailbox.
std::string AuthOf(const std::string& value) {
  MailArguments mail;
  if (Mail("FROM:<a@b.example> AUTH=" + value, &mail) != ArgumentError::kNone) return "ERROR";
  if (!mail.parameters.auth) return "NONE";
  return mail.parameters.auth->null ? "<>" : mail.parameters.auth->mailbox.ToString();
}

BOOST_AUTO_TEST_CASE(auth_value_decodes_to_null_or_a_mailbox) {
  BOOST_TEST(AuthOf("<>") == "<>");
  BOOST_TEST(AuthOf("+3C+3E") == "<>");  // "<>" written in hexchars is still "<>"
  BOOST_TEST(AuthOf("alice@example.org") == "alice@example.org");
  BOOST_TEST(AuthOf("alice+2Blists@example.org") == "alice+lists@example.org");
  BOOST_TEST(AuthOf("e+3Dmc2@example.com") == "e=mc2@example.com");  // RFC 4954's example
  BOOST_TEST(AuthOf("+22a+20b+22@[192.0.2.1]") == "\"a b\"@[192.0.2.1]");
  BOOST_TEST(AuthOf(std::string(64, 'l') + "@" + std::string(63, 'd') + "." + std::string(63, 'd') +
                    "." + std::string(61, 'd')) != "ERROR");
  MailArguments none;
  BOOST_TEST((Mail("FROM:<a@b.example>", &none) == ArgumentError::kNone));
  BOOST_TEST(!none.parameters.auth.has_value());
}

BOOST_AUTO_TEST_CASE(malformed_auth_values_are_invalid_arguments) {
  for (const char* bad : {
           "alice+ZZ@example.org",     // not hex
           "alice+2",                  // hexchar cut short
           "alice@example.org+2",      // hexchar cut short at the end
           "alice+2b@example.org",     // hex digits are upper-case
           "alice",                    // no domain
           "<alice@example.org>",      // a path, not a mailbox
           "+3Calice@example.org+3E",  // the same, hex-encoded
           "alice+00@example.org",     // decodes to a NUL
           "alice+0D+0A@example.org",  // decodes to CRLF
           "a..b@example.org",         // not a dot-string
           "",                         // no value
       }) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(AuthOf(bad) == "ERROR"); }
  }
  BOOST_TEST((Mail("FROM:<a@b.example> AUTH") == ArgumentError::kInvalidParameter));
  // Longer than a path may be (256 octets with its brackets).
  BOOST_TEST(AuthOf(std::string(64, 'l') + "@" + std::string(63, 'd') + "." + std::string(63, 'd') +
                    "." + std::string(62, 'd')) == "ERROR");
}

BOOST_AUTO_TEST_CASE(auth_given_twice_is_an_invalid_argument) {
  BOOST_TEST((Mail("FROM:<a@b.example> AUTH=<> AUTH=<>") == ArgumentError::kInvalidParameter));
  BOOST_TEST(
      (Mail("FROM:<a@b.example> AUTH=a@b.example auth=<>") == ArgumentError::kInvalidParameter));
}

BOOST_AUTO_TEST_CASE(defaults_without_parameters) {
  MailArguments mail;
  BOOST_TEST((Mail("FROM:<>", &mail) == ArgumentError::kNone));
  BOOST_TEST(mail.reverse_path.null);
  BOOST_TEST(!mail.parameters.size.has_value());
  BOOST_TEST((mail.parameters.body == BodyType::k7Bit));
  BOOST_TEST((mail.parameters.ret == DsnRet::kUnspecified));
  BOOST_TEST(mail.parameters.envid.empty());
  BOOST_TEST(!mail.parameters.auth.has_value());
}

BOOST_AUTO_TEST_CASE(keyword_and_values_are_case_insensitive) {
  MailArguments mail;
  BOOST_TEST((Mail("from:<a@b.example> body=binarymime ret=full", &mail) == ArgumentError::kNone));
  BOOST_TEST((mail.parameters.body == BodyType::kBinaryMime));
  BOOST_TEST((mail.parameters.ret == DsnRet::kFull));
}

BOOST_AUTO_TEST_CASE(spaces_after_the_colon_and_between_parameters_are_tolerated) {
  BOOST_TEST((Mail("FROM: <a@b.example>") == ArgumentError::kNone));
  BOOST_TEST((Mail("FROM:<a@b.example>   SIZE=1   BODY=7BIT") == ArgumentError::kNone));
}

BOOST_AUTO_TEST_CASE(missing_colon_is_an_unrecognized_parameter) {
  for (const char* bad : {"", "FROM", "FROM <a@b.example>", "FROM<a@b.example>", "TO:<a@b.example>",
                          "FROM :<a@b.example>", "FRM:<a@b.example>"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST((Mail(bad) == ArgumentError::kMissingColon)); }
  }
}

BOOST_AUTO_TEST_CASE(bad_paths_are_invalid_addresses) {
  for (const char* bad : {"FROM:", "FROM:a@b.example", "FROM:<a@b.example>SIZE=1",
                          "FROM:<a@b.example", "FROM:<a@@b.example>", "FROM:<Postmaster>"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST((Mail(bad) == ArgumentError::kInvalidAddress)); }
  }
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_invalid_arguments) {
  for (const char* bad :
       {"SIZE",          "SIZE=",     "SIZE=abc",   "SIZE=-1",      "SIZE=1x",
        "SIZE=1 SIZE=2", "BODY=9BIT", "BODY",       "RET=NEVER",    "RET=FULL RET=HDRS",
        "ENVID=a+2b",    "ENVID=a+2", "ENVID=a+ZZ", "NOTIFY=NEVER", "ORCPT=rfc822;a@b",
        "FOO=BAR",       "FOO",       "-X=1",       "SIZE=1=2",     "BODY=7BIT body=8BITMIME"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(
          (Mail(std::string("FROM:<a@b.example> ") + bad) == ArgumentError::kInvalidParameter));
    }
  }
}

// A size too large to hold is a size over any limit (RFC 1870 6.1: 552),
// not a syntax error.
BOOST_AUTO_TEST_CASE(a_size_too_large_to_hold_reads_as_the_largest) {
  for (const char* size :
       {"18446744073709551615", "18446744073709551616", "99999999999999999999999999999999999999"}) {
    MailArguments mail;
    BOOST_TEST_CONTEXT(size) {
      BOOST_TEST(
          (Mail(std::string("FROM:<a@b.example> SIZE=") + size, &mail) == ArgumentError::kNone));
      BOOST_TEST(*mail.parameters.size == 18446744073709551615ull);
    }
  }
}

BOOST_AUTO_TEST_CASE(envid_is_at_most_100_octets) {
  BOOST_TEST((Mail("FROM:<a@b.example> ENVID=" + std::string(100, 'e')) == ArgumentError::kNone));
  BOOST_TEST((Mail("FROM:<a@b.example> ENVID=" + std::string(101, 'e')) ==
              ArgumentError::kInvalidParameter));
}

BOOST_AUTO_TEST_CASE(parameters_of_extensions_not_offered_are_refused) {
  OfferedExtensions none;
  BOOST_TEST((Mail("FROM:<a@b.example>", nullptr, none) == ArgumentError::kNone));
  for (const char* p : {"SIZE=1", "BODY=7BIT", "BODY=8BITMIME", "RET=FULL", "ENVID=x", "AUTH=<>"}) {
    BOOST_TEST_CONTEXT(p) {
      BOOST_TEST((Mail(std::string("FROM:<a@b.example> ") + p, nullptr, none) ==
                  ArgumentError::kInvalidParameter));
    }
  }
  OfferedExtensions only_8bit;
  only_8bit.eightbitmime = true;
  BOOST_TEST(
      (Mail("FROM:<a@b.example> BODY=8BITMIME", nullptr, only_8bit) == ArgumentError::kNone));
  BOOST_TEST((Mail("FROM:<a@b.example> BODY=BINARYMIME", nullptr, only_8bit) ==
              ArgumentError::kInvalidParameter));
  OfferedExtensions only_binary;
  only_binary.binarymime = true;
  BOOST_TEST((Mail("FROM:<a@b.example> BODY=7BIT", nullptr, only_binary) == ArgumentError::kNone));
  BOOST_TEST((Mail("FROM:<a@b.example> BODY=8BITMIME", nullptr, only_binary) ==
              ArgumentError::kInvalidParameter));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rcpt_arguments)

BOOST_AUTO_TEST_CASE(to_path_and_dsn_parameters) {
  RcptArguments rcpt;
  BOOST_TEST((Rcpt("TO:<bob@example.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob+40x@example.test",
                   &rcpt) == ArgumentError::kNone));
  BOOST_TEST(rcpt.forward_path.mailbox.ToString() == "bob@example.test");
  BOOST_TEST(rcpt.parameters.notify == (kNotifySuccess | kNotifyDelay));
  BOOST_TEST(rcpt.parameters.orcpt == "rfc822;bob+40x@example.test");
}

BOOST_AUTO_TEST_CASE(notify_forms) {
  RcptArguments rcpt;
  BOOST_TEST((Rcpt("TO:<b@example.test> NOTIFY=NEVER", &rcpt) == ArgumentError::kNone));
  BOOST_TEST(rcpt.parameters.notify == kNotifyNever);
  RcptArguments all;
  BOOST_TEST(
      (Rcpt("TO:<b@example.test> notify=failure,Success,DELAY", &all) == ArgumentError::kNone));
  BOOST_TEST(all.parameters.notify == (kNotifySuccess | kNotifyFailure | kNotifyDelay));
  RcptArguments none;
  BOOST_TEST((Rcpt("TO:<b@example.test>", &none) == ArgumentError::kNone));
  BOOST_TEST(none.parameters.notify == 0);
  BOOST_TEST(none.parameters.orcpt.empty());
}

BOOST_AUTO_TEST_CASE(bad_rcpt_parameters) {
  for (const char* bad :
       {"NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,", "NOTIFY=,SUCCESS", "NOTIFY=SOMETIMES", "NOTIFY",
        "NOTIFY=SUCCESS NOTIFY=DELAY", "ORCPT=rfc822", "ORCPT=;a@b", "ORCPT=rfc822;a=b",
        "ORCPT=rfc822;a+zz", "ORCPT=r@c;a", "SIZE=10", "BODY=8BITMIME", "RET=FULL", "X=1"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(
          (Rcpt(std::string("TO:<b@example.test> ") + bad) == ArgumentError::kInvalidParameter));
    }
  }
}

BOOST_AUTO_TEST_CASE(orcpt_parameter_is_at_most_500_octets) {
  // "ORCPT=" (6) + "rfc822;" (7) + 487 = 500.
  std::string value = "rfc822;" + std::string(487, 'o');
  BOOST_TEST((Rcpt("TO:<b@example.test> ORCPT=" + value) == ArgumentError::kNone));
  BOOST_TEST(
      (Rcpt("TO:<b@example.test> ORCPT=" + value + "o") == ArgumentError::kInvalidParameter));
}

BOOST_AUTO_TEST_CASE(dsn_not_offered) {
  OfferedExtensions none;
  BOOST_TEST((Rcpt("TO:<b@example.test> NOTIFY=NEVER", nullptr, none) ==
              ArgumentError::kInvalidParameter));
}

BOOST_AUTO_TEST_CASE(rcpt_errors) {
  BOOST_TEST((Rcpt("TO <b@example.test>") == ArgumentError::kMissingColon));
  BOOST_TEST((Rcpt("FROM:<b@example.test>") == ArgumentError::kMissingColon));
  BOOST_TEST((Rcpt("TO:<>") == ArgumentError::kInvalidAddress));
  BOOST_TEST((Rcpt("TO:b@example.test") == ArgumentError::kInvalidAddress));
  RcptArguments postmaster;
  BOOST_TEST((Rcpt("to:<POSTMASTER>", &postmaster) == ArgumentError::kNone));
  BOOST_TEST(postmaster.forward_path.mailbox.ToString() == "POSTMASTER");
  BOOST_TEST(postmaster.forward_path.mailbox.domain.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(xtext)

// RFC 3461 4: "+", "=", controls, space and 8-bit octets become +XX.
BOOST_AUTO_TEST_CASE(encoding) {
  BOOST_TEST(EncodeXtext("alice@example.org") == "alice@example.org");
  BOOST_TEST(EncodeXtext("a+b=c d") == "a+2Bb+3Dc+20d");
  BOOST_TEST(EncodeXtext(std::string("\x7f\x80\x00", 3)) == "+7F+80+00");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
