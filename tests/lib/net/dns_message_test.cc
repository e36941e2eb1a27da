// tests/lib/net/dns_message_test.cc — DNS queries and responses of lib/net/dns_message.h,
// as bytes typed here: answers, compression, CNAME chains, and hostile messages.
#include "lib/net/dns_message.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace postern {
namespace {

using namespace std::string_literals;

// Header of a response to id 0x1234: QR RD RA, the rcode, one question, n answers.
std::string Header(int answers, int rcode = 0, int extra_flags = 0) {
  std::string h = "\x12\x34"s;
  h += static_cast<char>(0x81 | (extra_flags >> 8));
  h += static_cast<char>(0x80 | rcode | (extra_flags & 0xFF));
  h += "\x00\x01\x00"s;
  h += static_cast<char>(answers);
  h += "\x00\x00\x00\x00"s;
  return h;
}

// The question "example.test" of type MX (at offset 12; the name's
// "example" label is at 12, "test" at 20).
const std::string kMxQuestion =
    "\x07"
    "example\x04test\x00\x00\x0f\x00\x01"s;

Result<DnsResponse> ParseMx(const std::string& message) {
  return ParseDnsResponse(message, 0x1234, "example.test", DnsType::kMx);
}

std::string Error(const Result<DnsResponse>& response) {
  BOOST_REQUIRE(!response.ok());
  return response.status().message();
}

BOOST_AUTO_TEST_SUITE(dns_message)

BOOST_AUTO_TEST_CASE(a_query_is_a_header_with_rd_and_one_question_of_class_in) {
  Result<std::string> query = EncodeDnsQuery(0xBEEF, "Mail.Example.test.", DnsType::kAaaa);
  BOOST_REQUIRE(query.ok());
  BOOST_TEST(*query ==
             "\xBE\xEF\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             "\x04Mail\x07"
             "Example\x04test\x00\x00\x1c\x00\x01"s);
}

BOOST_AUTO_TEST_CASE(a_name_the_dns_cannot_carry_is_not_asked) {
  BOOST_TEST(!EncodeDnsQuery(1, "", DnsType::kMx).ok());
  BOOST_TEST(!EncodeDnsQuery(1, ".", DnsType::kMx).ok());
  BOOST_TEST(!EncodeDnsQuery(1, "a..test", DnsType::kMx).ok());
  BOOST_TEST(!EncodeDnsQuery(1, std::string(64, 'a') + ".test", DnsType::kMx).ok());
  BOOST_TEST(EncodeDnsQuery(1, std::string(63, 'a') + ".test", DnsType::kMx).ok());
  // Four labels of 63 and their length octets, plus the root: 257 octets.
  std::string label(63, 'a');
  std::string too_long = label + "." + label + "." + label + "." + label;
  Result<std::string> refused = EncodeDnsQuery(1, too_long, DnsType::kA);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.status().message().find("longer than 255") != std::string::npos);
  // 3 x 64 + 62 + 1 = 255 octets: the longest name.
  BOOST_TEST(
      EncodeDnsQuery(1, label + "." + label + "." + label + "." + std::string(61, 'a'), DnsType::kA)
          .ok());
}

BOOST_AUTO_TEST_CASE(mx_records_with_compressed_names) {
  std::string message = Header(2) + kMxQuestion +
                        // example.test MX 20 mx2.other.test (owner: pointer to 12)
                        "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x12"
                        "\x00\x14\x03mx2\x05other\x04test\x00"s +
                        // example.test MX 10 MX1.example.test (a label, then a pointer)
                        "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x08"
                        "\x00\x0a\x03MX1\xc0\x0c"s;
  Result<DnsResponse> response = ParseMx(message);
  BOOST_REQUIRE_MESSAGE(response.ok(), response.status().message());
  BOOST_TEST(response->rcode == kDnsNoError);
  BOOST_TEST(!response->truncated);
  BOOST_REQUIRE(response->mx.size() == 2u);
  BOOST_TEST(response->mx[0].preference == 20);
  BOOST_TEST(response->mx[0].exchange == "mx2.other.test");
  BOOST_TEST(response->mx[1].preference == 10);
  BOOST_TEST(response->mx[1].exchange == "mx1.example.test");
}

BOOST_AUTO_TEST_CASE(a_null_mx_is_an_exchange_of_the_root) {
  std::string message =
      Header(1) + kMxQuestion + "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x03\x00\x00\x00"s;
  Result<DnsResponse> response = ParseMx(message);
  BOOST_REQUIRE_MESSAGE(response.ok(), response.status().message());
  BOOST_REQUIRE(response->mx.size() == 1u);
  BOOST_TEST(response->mx[0].preference == 0);
  BOOST_TEST(response->mx[0].exchange == "");
}

BOOST_AUTO_TEST_CASE(no_records_of_the_type_is_an_empty_answer) {
  Result<DnsResponse> response = ParseMx(Header(0) + kMxQuestion);
  BOOST_REQUIRE(response.ok());
  BOOST_TEST(response->rcode == kDnsNoError);
  BOOST_TEST(response->mx.empty());
}

BOOST_AUTO_TEST_CASE(a_and_aaaa_records_of_the_name_only) {
  std::string question =
      "\x04mail\x07"
      "example\x04test\x00\x00\x01\x00\x01"s;
  std::string message = Header(3) + question +
                        "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x19"s +
                        // an A record of another name: ignored
                        "\xc0\x11\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x63"s +
                        "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x33\x64\x01"s;
  Result<DnsResponse> response =
      ParseDnsResponse(message, 0x1234, "MAIL.example.test", DnsType::kA);
  BOOST_REQUIRE_MESSAGE(response.ok(), response.status().message());
  BOOST_REQUIRE(response->addresses.size() == 2u);
  BOOST_TEST(response->addresses[0].ToString() == "192.0.2.25");
  BOOST_TEST(response->addresses[1].ToString() == "198.51.100.1");

  std::string question6 =
      "\x04mail\x07"
      "example\x04test\x00\x00\x1c\x00\x01"s;
  std::string message6 = Header(1) + question6 +
                         "\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10"
                         "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x25"s;
  Result<DnsResponse> response6 =
      ParseDnsResponse(message6, 0x1234, "mail.example.test", DnsType::kAaaa);
  BOOST_REQUIRE_MESSAGE(response6.ok(), response6.status().message());
  BOOST_REQUIRE(response6->addresses.size() == 1u);
  BOOST_TEST(response6->addresses[0].ToString() == "2001:db8::25");
}

BOOST_AUTO_TEST_CASE(a_cname_chain_is_followed_to_the_records_of_its_end) {
  // www.example.test (question at 12: "www" 12, "example" 16, "test" 24)
  std::string question =
      "\x03www\x07"
      "example\x04test\x00\x00\x01\x00\x01"s;
  std::string message =
      Header(3) + question +
      // the A record of the chain's end comes first
      "\x04host\xc0\x10\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x07"s +
      // www.example.test CNAME alias.example.test
      "\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x08\x05"
      "alias\xc0\x10"s +
      // alias.example.test CNAME host.example.test (pointer to offset 34)
      "\x05"
      "alias\xc0\x10\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x22"s;
  Result<DnsResponse> response = ParseDnsResponse(message, 0x1234, "www.example.test", DnsType::kA);
  BOOST_REQUIRE_MESSAGE(response.ok(), response.status().message());
  BOOST_REQUIRE(response->addresses.size() == 1u);
  BOOST_TEST(response->addresses[0].ToString() == "192.0.2.7");
}

BOOST_AUTO_TEST_CASE(a_cname_loop_is_an_error) {
  std::string question =
      "\x01"
      "a\x04test\x00\x00\x01\x00\x01"s;  // a.test at 12, test at 14
  std::string message = Header(2) + question +
                        // a.test CNAME b.test; b.test CNAME a.test
                        "\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x04\x01"
                        "b\xc0\x0e"s +
                        "\x01"
                        "b\xc0\x0e\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x0c"s;
  BOOST_TEST(Error(ParseDnsResponse(message, 0x1234, "a.test", DnsType::kA)).find("CNAME") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(rcode_and_truncation_come_back_without_records) {
  Result<DnsResponse> nx = ParseMx(Header(0, 3) + kMxQuestion);
  BOOST_REQUIRE(nx.ok());
  BOOST_TEST(nx->rcode == kDnsNxDomain);
  Result<DnsResponse> servfail = ParseMx(Header(0, 2) + kMxQuestion);
  BOOST_REQUIRE(servfail.ok());
  BOOST_TEST(servfail->rcode == kDnsServFail);
  BOOST_TEST(DnsRcodeName(kDnsServFail) == "SERVFAIL");
  BOOST_TEST(DnsRcodeName(9) == "RCODE 9");
  // TC set and an answer cut off in the middle: the records are not read.
  Result<DnsResponse> truncated = ParseMx(Header(2, 0, 0x0200) + kMxQuestion + "\xc0\x0c\x00"s);
  BOOST_REQUIRE_MESSAGE(truncated.ok(), truncated.status().message());
  BOOST_TEST(truncated->truncated);
  BOOST_TEST(truncated->mx.empty());
}

BOOST_AUTO_TEST_CASE(the_question_is_compared_without_case) {
  std::string question =
      "\x07"
      "EXAMPLE\x04Test\x00\x00\x0f\x00\x01"s;
  Result<DnsResponse> response = ParseMx(Header(0) + question);
  BOOST_TEST(response.ok());
}

BOOST_AUTO_TEST_CASE(a_message_that_does_not_answer_this_query_is_refused) {
  std::string other_id = Header(0) + kMxQuestion;
  other_id[1] = '\x35';
  BOOST_TEST(Error(ParseMx(other_id)).find("id 4661, not 4660") != std::string::npos);
  std::string query = Header(0) + kMxQuestion;
  query[2] = '\x01';  // QR clear
  BOOST_TEST(Error(ParseMx(query)).find("not a response") != std::string::npos);
  std::string other_type = Header(0) +
                           "\x07"
                           "example\x04test\x00\x00\x01\x00\x01"s;
  BOOST_TEST(Error(ParseMx(other_type)).find("another question") != std::string::npos);
  std::string other_name = Header(0) +
                           "\x07"
                           "example\x03net\x00\x00\x0f\x00\x01"s;
  BOOST_TEST(Error(ParseMx(other_name)).find("another question") != std::string::npos);
  std::string no_question = Header(0) + kMxQuestion;
  no_question[5] = '\x00';
  BOOST_TEST(Error(ParseMx(no_question)).find("0 questions") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(hostile_names_are_errors) {
  auto mx_with_exchange = [](const std::string& rdata_name) {
    std::string rdata = "\x00\x0a"s + rdata_name;
    std::string record =
        "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00"s + static_cast<char>(rdata.size()) + rdata;
    return Header(1) + kMxQuestion + record;
  };
  // The exchange is at offset 44: a pointer to itself, and one forward.
  BOOST_TEST(Error(ParseMx(mx_with_exchange("\xc0\x2c"s))).find("loop") != std::string::npos);
  BOOST_TEST(Error(ParseMx(mx_with_exchange("\xc0\x30"s))).find("loop") != std::string::npos);
  // A label, then a pointer back to it: backwards, and still a loop.
  BOOST_TEST(Error(ParseMx(mx_with_exchange("\x01"
                                            "a\xc0\x2c"s)))
                 .find("loop") != std::string::npos);
  // A pointer cut off by the end of the message.
  BOOST_TEST(!ParseMx(Header(1) + kMxQuestion + "\xc0"s).ok());
  // Length octet 0x40 (64) and 0x80: neither a label nor a pointer.
  BOOST_TEST(
      Error(ParseMx(mx_with_exchange("\x40"s + std::string(64, 'a') + "\x00"s))).find("over 63") !=
      std::string::npos);
  BOOST_TEST(!ParseMx(mx_with_exchange("\x80\x00"s)).ok());
  // A label running past the end of the message (and of the record).
  BOOST_TEST(!ParseMx(Header(1) + kMxQuestion +
                      "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x05\x00\x0a\x09mx"s)
                  .ok());
  // Bytes that are not printable, or a dot inside a label.
  BOOST_TEST(Error(ParseMx(mx_with_exchange("\x03"
                                            "a\nb\x00"s)))
                 .find("printable") != std::string::npos);
  BOOST_TEST(!ParseMx(mx_with_exchange("\x03"
                                       "a.b\x00"s))
                  .ok());
  // A name over 255 octets built from pointers to earlier names: five
  // names of 60 octets, each ending in a pointer to the one before.
  size_t previous = 0;
  std::string label(58, 'x');
  std::string records;
  size_t offset = 12 + kMxQuestion.size();
  for (int i = 0; i < 5; ++i) {
    std::string name = "\x3a"s + label;
    if (previous == 0) {
      name += "\x00"s;
    } else {
      name += static_cast<char>(0xC0 | previous >> 8);
      name += static_cast<char>(previous & 0xFF);
    }
    std::string rdata = "\x00\x0a"s + name;
    std::string record =
        "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00"s + static_cast<char>(rdata.size()) + rdata;
    previous = offset + 12 + 2;  // this record's exchange
    offset += record.size();
    records += record;
  }
  std::string long_name = Header(5) + kMxQuestion + records;
  BOOST_TEST(Error(ParseMx(long_name)).find("longer than 255") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(truncated_and_inconsistent_records_are_errors) {
  std::string good = Header(1) + kMxQuestion +
                     "\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x07\x00\x0a\x02mx\xc0\x0c"s;
  BOOST_REQUIRE(ParseMx(good).ok());
  // Every proper prefix of the message is refused, none read past its end.
  for (size_t length = 0; length < good.size(); ++length)
    BOOST_TEST(!ParseMx(good.substr(0, length)).ok(), "prefix of " << length << " octets");
  // An MX whose data length is longer than its name, or shorter.
  std::string longer = good;
  longer[12 + kMxQuestion.size() + 11] = '\x08';
  BOOST_TEST(!ParseMx(longer + "\x00"s).ok());
  std::string shorter = good;
  shorter[12 + kMxQuestion.size() + 11] = '\x06';
  BOOST_TEST(!ParseMx(shorter).ok());
  // An A record of five octets.
  std::string question =
      "\x01"
      "a\x04test\x00\x00\x01\x00\x01"s;
  std::string five = Header(1) + question +
                     "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x05\xc0\x00\x02\x19\x00"s;
  BOOST_TEST(Error(ParseDnsResponse(five, 0x1234, "a.test", DnsType::kA)).find("5 octets") !=
             std::string::npos);
  // More answers announced than present.
  BOOST_TEST(!ParseMx(Header(2) + good.substr(12)).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
