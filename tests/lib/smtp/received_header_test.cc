// tests/lib/smtp/received_header_test.cc — the Received: field smtpd prepends.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/received_header.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

ReceivedFields Sample() {
  ReceivedFields f;
  f.helo = "client.example.net";
  f.client_hostname = "host.example.net";
  f.client_address = "192.0.2.10";
  f.myhostname = "mail.example.test";
  f.protocol = "ESMTP";
  f.queue_id = "655A1B2C3D4E.1F2A.7";
  f.recipient = "bob@example.test";
  f.time = 1700000000;  // Tue, 14 Nov 2023 22:13:20 UTC
  return f;
}

std::vector<std::string> Lines(const std::string& field) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < field.size()) {
    size_t end = field.find("\r\n", start);
    lines.push_back(field.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

BOOST_AUTO_TEST_SUITE(received_header)

BOOST_AUTO_TEST_CASE(rfc_5322_dates) {
  BOOST_TEST(FormatRfc5322Date(0) == "Thu, 1 Jan 1970 00:00:00 +0000");
  BOOST_TEST(FormatRfc5322Date(951782400) == "Tue, 29 Feb 2000 00:00:00 +0000");
  BOOST_TEST(FormatRfc5322Date(1700000000) == "Tue, 14 Nov 2023 22:13:20 +0000");
  BOOST_TEST(FormatRfc5322Date(4102444799) == "Thu, 31 Dec 2099 23:59:59 +0000");
}

BOOST_AUTO_TEST_CASE(one_recipient) {
  BOOST_TEST(BuildReceivedHeader(Sample()) ==
             "Received: from client.example.net (host.example.net [192.0.2.10])\r\n"
             "\tby mail.example.test (postern) with ESMTP id 655A1B2C3D4E.1F2A.7\r\n"
             "\tfor <bob@example.test>; Tue, 14 Nov 2023 22:13:20 +0000\r\n");
}

// RFC 3848 ESMTPSA, with the TLS parameters in a comment, as Postfix writes them.
BOOST_AUTO_TEST_CASE(a_tls_session_names_its_version_and_cipher) {
  ReceivedFields f = Sample();
  f.protocol = "ESMTPSA";
  f.tls_version = "TLS1.3";
  f.tls_cipher = "TLS_AES_256_GCM_SHA384";
  BOOST_TEST(BuildReceivedHeader(f) ==
             "Received: from client.example.net (host.example.net [192.0.2.10])\r\n"
             "\t(using TLS1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
             "\tby mail.example.test (postern) with ESMTPSA id 655A1B2C3D4E.1F2A.7\r\n"
             "\tfor <bob@example.test>; Tue, 14 Nov 2023 22:13:20 +0000\r\n");
}

BOOST_AUTO_TEST_CASE(several_recipients_have_no_for_clause) {
  ReceivedFields f = Sample();
  f.recipient.clear();
  f.protocol = "SMTP";
  BOOST_TEST(BuildReceivedHeader(f) ==
             "Received: from client.example.net (host.example.net [192.0.2.10])\r\n"
             "\tby mail.example.test (postern) with SMTP id 655A1B2C3D4E.1F2A.7;\r\n"
             "\tTue, 14 Nov 2023 22:13:20 +0000\r\n");
}

BOOST_AUTO_TEST_CASE(ipv6_clients_get_an_ipv6_address_literal) {
  ReceivedFields f = Sample();
  f.client_address = "2001:db8::5";
  f.client_hostname.clear();
  f.helo = "[IPv6:2001:db8::5]";
  BOOST_TEST(BuildReceivedHeader(f) ==
             "Received: from [IPv6:2001:db8::5] (unknown [IPv6:2001:db8::5])\r\n"
             "\tby mail.example.test (postern) with ESMTP id 655A1B2C3D4E.1F2A.7\r\n"
             "\tfor <bob@example.test>; Tue, 14 Nov 2023 22:13:20 +0000\r\n");
}

BOOST_AUTO_TEST_CASE(a_malformed_reverse_name_is_written_as_unknown) {
  ReceivedFields f = Sample();
  f.client_hostname = "evil)\r\nX-Injected: yes";
  std::string field = BuildReceivedHeader(f);
  BOOST_TEST(field.find("(unknown [192.0.2.10])") != std::string::npos);
  BOOST_TEST(field.find("Injected") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(lines_are_folded_at_78_columns) {
  ReceivedFields f = Sample();
  f.helo = std::string(50, 'h') + ".example";
  f.recipient = std::string(50, 'r') + "@example.test";
  std::string field = BuildReceivedHeader(f);
  std::vector<std::string> lines = Lines(field);
  BOOST_TEST(lines.size() >= 4u);
  BOOST_TEST(lines[0].rfind("Received: from ", 0) == 0u);
  for (size_t i = 0; i < lines.size(); ++i) {
    BOOST_TEST_CONTEXT(lines[i]) {
      BOOST_TEST(lines[i].size() <= 78u);
      if (i > 0) BOOST_TEST(lines[i][0] == '\t');
    }
  }
}

BOOST_AUTO_TEST_CASE(a_long_first_clause_stays_on_the_first_line) {
  ReceivedFields f = Sample();
  f.helo = std::string(100, 'h');
  std::vector<std::string> lines = Lines(BuildReceivedHeader(f));
  BOOST_TEST(lines[0] == "Received: from " + std::string(100, 'h'));
  BOOST_TEST(lines[1] ==
             "\t(host.example.net [192.0.2.10]) by mail.example.test (postern) with ESMTP");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
