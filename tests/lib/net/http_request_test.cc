// tests/lib/net/http_request_test.cc — unit tests of lib/net/http_request.h.
//
// Request heads as a scraper, a careless client and an attacker send them,
// whole and cut at every byte; the responses typed out byte for byte.
#define BOOST_TEST_DYN_LINK
#include "lib/net/http_request.h"

#include <boost/test/unit_test.hpp>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace postern::http {

// For Boost.Test's messages.
std::ostream& operator<<(std::ostream& out, HeadParse::Outcome outcome) {
  switch (outcome) {
    case HeadParse::Outcome::kNeedMore:
      return out << "kNeedMore";
    case HeadParse::Outcome::kComplete:
      return out << "kComplete";
    case HeadParse::Outcome::kMalformed:
      return out << "kMalformed";
    case HeadParse::Outcome::kTooLarge:
      return out << "kTooLarge";
  }
  return out << "Outcome " << static_cast<int>(outcome);
}

namespace {

using Outcome = HeadParse::Outcome;

HeadParse Complete(std::string_view bytes) {
  HeadParse parse = ParseRequestHead(bytes);
  BOOST_REQUIRE_MESSAGE(parse.outcome == Outcome::kComplete,
                        "not complete: " << bytes << " (" << parse.why << ")");
  return parse;
}

void ExpectMalformed(std::string_view bytes) {
  HeadParse parse = ParseRequestHead(bytes);
  BOOST_CHECK_MESSAGE(parse.outcome == Outcome::kMalformed, "not refused as malformed: " << bytes);
  BOOST_CHECK(!parse.why.empty());
}

BOOST_AUTO_TEST_SUITE(http_request)

BOOST_AUTO_TEST_CASE(a_scrape_is_complete) {
  const std::string head =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9587\r\nUser-Agent: Prometheus/2.45.0\r\n"
      "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n\r\n";
  HeadParse parse = Complete(head);
  BOOST_TEST(parse.request.method == "GET");
  BOOST_TEST(parse.request.target == "/metrics");
  BOOST_TEST(parse.request.minor_version == 1);
  BOOST_TEST(parse.head_length == head.size());
}

BOOST_AUTO_TEST_CASE(bytes_after_the_head_are_not_part_of_it) {
  const std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
  HeadParse parse = Complete(head + "hello");
  BOOST_TEST(parse.head_length == head.size());
  BOOST_TEST(parse.request.method == "POST");
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_head_needs_more) {
  const std::string head = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
  for (size_t n = 0; n < head.size(); ++n) {
    HeadParse parse = ParseRequestHead(std::string_view(head).substr(0, n));
    BOOST_CHECK_MESSAGE(parse.outcome == Outcome::kNeedMore, "prefix of " << n << " bytes");
  }
  Complete(head);
}

BOOST_AUTO_TEST_CASE(bare_lf_is_tolerated) {
  HeadParse parse = Complete("GET / HTTP/1.1\nHost: h\n\n");
  BOOST_TEST(parse.request.target == "/");
  BOOST_TEST(parse.head_length == 24u);
  Complete("GET / HTTP/1.1\r\nHost: h\n\r\n");
  BOOST_TEST(ParseRequestHead("GET / HTTP/1.1\nHost: h\n").outcome == Outcome::kNeedMore);
}

BOOST_AUTO_TEST_CASE(http_1_0_needs_no_host) {
  HeadParse parse = Complete("GET /metrics HTTP/1.0\r\n\r\n");
  BOOST_TEST(parse.request.minor_version == 0);
  Complete("HEAD / HTTP/1.0\r\nHost: a\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(http_1_1_needs_exactly_one_host) {
  ExpectMalformed("GET /metrics HTTP/1.1\r\n\r\n");
  ExpectMalformed("GET /metrics HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n");
  Complete("GET /metrics HTTP/1.1\r\nhOsT: a\r\n\r\n");
  Complete("GET /metrics HTTP/1.1\r\nHost:\r\n\r\n");  // empty, as RFC 9112 3.2 allows
}

BOOST_AUTO_TEST_CASE(methods_are_tokens_kept_as_sent) {
  for (const char* method : {"GET", "HEAD", "POST", "DELETE", "get", "X-Custom!"}) {
    HeadParse parse = Complete(std::string(method) + " / HTTP/1.0\r\n\r\n");
    BOOST_TEST(parse.request.method == method);
  }
  ExpectMalformed("G(T / HTTP/1.0\r\n\r\n");
  ExpectMalformed(" / HTTP/1.0\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(the_request_line_is_exact) {
  ExpectMalformed("GET /metrics\r\n\r\n");  // HTTP/0.9: no version
  ExpectMalformed("GET\r\n\r\n");
  ExpectMalformed("GET  /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  ExpectMalformed("GET /metrics  HTTP/1.1\r\nHost: h\r\n\r\n");
  ExpectMalformed("GET /metrics HTTP/1.1 \r\nHost: h\r\n\r\n");
  ExpectMalformed("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n");
  ExpectMalformed("GET /metrics HTTP/2.0\r\n\r\n");
  ExpectMalformed("GET /metrics HTTP/1.10\r\n\r\n");
  ExpectMalformed("GET /metrics http/1.1\r\nHost: h\r\n\r\n");
  ExpectMalformed("GET /metrics HTTP/1.x\r\n\r\n");
  ExpectMalformed("GET /m\xc3\xa9trics HTTP/1.0\r\n\r\n");
  ExpectMalformed("GET\t/metrics HTTP/1.0\r\n\r\n");
  ExpectMalformed("\r\nGET / HTTP/1.0\r\n\r\n");  // no empty line first
  HeadParse parse = Complete("GET /metrics?x=1&y=%20 HTTP/1.9\r\nHost: h\r\n\r\n");
  BOOST_TEST(parse.request.target == "/metrics?x=1&y=%20");
  BOOST_TEST(parse.request.minor_version == 9);
}

BOOST_AUTO_TEST_CASE(header_lines_are_name_colon_value) {
  ExpectMalformed("GET / HTTP/1.0\r\nno colon here\r\n\r\n");
  ExpectMalformed("GET / HTTP/1.0\r\nName : value\r\n\r\n");
  ExpectMalformed("GET / HTTP/1.0\r\n: value\r\n\r\n");
  ExpectMalformed("GET / HTTP/1.0\r\nA: b\r\n folded\r\n\r\n");
  ExpectMalformed("GET / HTTP/1.0\r\nA: b\rc\r\n\r\n");
  Complete("GET / HTTP/1.0\r\nA:\tb c\x80\xff\r\nB:\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(nul_and_control_bytes_are_refused_at_once) {
  // No need to wait for a line end: these can never become a request.
  ExpectMalformed(std::string("GET /\0", 6));
  ExpectMalformed(std::string("GET / HTTP/1.0\r\nA: \0b\r\n\r\n", 25));
  ExpectMalformed("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");  // a TLS ClientHello
  ExpectMalformed("GET /\x1b[2J");
  ExpectMalformed("GET /\rX");
  ExpectMalformed("\x7f");
  BOOST_TEST(ParseRequestHead("GET /metrics HTTP/1.1\r").outcome == Outcome::kNeedMore);
}

BOOST_AUTO_TEST_CASE(garbage_lines_are_malformed) {
  ExpectMalformed("hello\r\n");
  ExpectMalformed("EHLO client.example.test\r\n");
  ExpectMalformed("\n");
  ExpectMalformed("\xff\xfe\xfd\n");
}

BOOST_AUTO_TEST_CASE(a_head_over_8_kb_is_too_large) {
  std::string start = "GET /metrics HTTP/1.1\r\nHost: h\r\nX-Filler: ";
  // Complete at exactly kMaxHeadBytes.
  std::string fits = start + std::string(kMaxHeadBytes - start.size() - 4, 'a') + "\r\n\r\n";
  BOOST_REQUIRE_EQUAL(fits.size(), kMaxHeadBytes);
  BOOST_TEST(Complete(fits).head_length == kMaxHeadBytes);
  // One byte more.
  std::string over = start + std::string(kMaxHeadBytes - start.size() - 3, 'a') + "\r\n\r\n";
  BOOST_TEST(ParseRequestHead(over).outcome == Outcome::kTooLarge);
  // Still unfinished past the bound, with or without line ends.
  std::string endless = start + std::string(kMaxHeadBytes, 'a');
  BOOST_TEST(ParseRequestHead(endless).outcome == Outcome::kTooLarge);
  std::string many_lines = "GET / HTTP/1.0\r\n";
  while (many_lines.size() <= kMaxHeadBytes) many_lines += "A: b\r\n";
  HeadParse parse = ParseRequestHead(many_lines);
  BOOST_TEST(parse.outcome == Outcome::kTooLarge);
  BOOST_TEST(parse.why.find("8192") != std::string::npos);
  // A long request line is the same.
  BOOST_TEST(ParseRequestHead("GET /" + std::string(kMaxHeadBytes, 'x')).outcome ==
             Outcome::kTooLarge);
  // Up to the bound, an unfinished head needs more.
  BOOST_TEST(ParseRequestHead(endless.substr(0, kMaxHeadBytes)).outcome == Outcome::kNeedMore);
}

// Heads made of request-like pieces in random order (a fixed seed): whatever
// the verdict, a complete head lies within the bytes and the bound, and its
// own bytes alone give the same request.
BOOST_AUTO_TEST_CASE(random_heads_keep_the_invariants) {
  const std::vector<std::string> pieces = {"GET",      "HEAD",
                                           " ",        "/metrics",
                                           "HTTP/1.1", "HTTP/1.0",
                                           "\r\n",     "\n",
                                           "\r",       "Host",
                                           ":",        "a",
                                           "\t",       std::string(1, '\0'),
                                           "\xff",     std::string(3000, 'x')};
  std::mt19937 random(20261207);
  size_t complete = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = round % 2 ? "GET /metrics HTTP/1.1\r\n" : "";
    size_t count = random() % 24;
    for (size_t i = 0; i < count; ++i) bytes += pieces[random() % pieces.size()];
    HeadParse parse = ParseRequestHead(bytes);
    if (parse.outcome != Outcome::kComplete) {
      BOOST_CHECK(parse.outcome == Outcome::kNeedMore || !parse.why.empty());
      continue;
    }
    ++complete;
    BOOST_REQUIRE(parse.head_length <= bytes.size() && parse.head_length <= kMaxHeadBytes);
    HeadParse again = ParseRequestHead(std::string_view(bytes).substr(0, parse.head_length));
    BOOST_REQUIRE(again.outcome == Outcome::kComplete);
    BOOST_CHECK(again.request.method == parse.request.method &&
                again.request.target == parse.request.target);
  }
  BOOST_TEST(complete > 0u);
}

BOOST_AUTO_TEST_CASE(a_response_has_status_type_length_and_close) {
  Response ok{200, "text/plain; version=0.0.4; charset=utf-8", "a 1\nb 2\n", ""};
  BOOST_TEST(FormatResponse(ok, false) ==
             "HTTP/1.1 200 OK\r\n"
             "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
             "Content-Length: 8\r\n"
             "Connection: close\r\n"
             "\r\n"
             "a 1\nb 2\n");
}

BOOST_AUTO_TEST_CASE(a_head_response_has_no_body_but_its_length) {
  Response ok{200, "text/plain; charset=utf-8", "twelve bytes", ""};
  BOOST_TEST(FormatResponse(ok, true) ==
             "HTTP/1.1 200 OK\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Length: 12\r\n"
             "Connection: close\r\n"
             "\r\n");
}

BOOST_AUTO_TEST_CASE(a_405_names_the_allowed_methods) {
  Response refused{405, "text/plain; charset=utf-8", "only GET and HEAD\n", "GET, HEAD"};
  BOOST_TEST(FormatResponse(refused, false) ==
             "HTTP/1.1 405 Method Not Allowed\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Length: 18\r\n"
             "Allow: GET, HEAD\r\n"
             "Connection: close\r\n"
             "\r\n"
             "only GET and HEAD\n");
}

BOOST_AUTO_TEST_CASE(reasons_of_the_statuses_sent) {
  BOOST_TEST(StatusReason(400) == "Bad Request");
  BOOST_TEST(StatusReason(404) == "Not Found");
  BOOST_TEST(StatusReason(431) == "Request Header Fields Too Large");
  BOOST_TEST(StatusReason(503) == "Service Unavailable");
  Response empty{503, "text/plain; charset=utf-8", "", ""};
  BOOST_TEST(FormatResponse(empty, false).find("\r\nContent-Length: 0\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern::http
