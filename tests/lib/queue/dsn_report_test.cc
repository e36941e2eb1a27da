// tests/lib/queue/dsn_report_test.cc — the DSN writer and WantsDsn()
// (lib/queue/dsn_report.h). Expected reports are typed out here from RFC
// 3464 and RFC 6522, not copied from the writer's output.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/dsn_report.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr int64_t kArrival = 1732960000;  // Sat, 30 Nov 2024 09:46:40 +0000

const std::string kContent =
    "Received: from client.example.test\r\n"
    "From: Alice <alice@example.test>\r\n"
    "Subject: lunch\r\n"
    "\r\n"
    "Shall we?\r\n";
const std::string kHeaders =
    "Received: from client.example.test\r\n"
    "From: Alice <alice@example.test>\r\n"
    "Subject: lunch\r\n";

Envelope Original() {
  Envelope e;
  e.queue_id = "5F3A9C2B1D4E.1A2B.3";
  e.sender = "alice@example.test";
  e.envid = "QQ+2B314159";
  e.arrival_time = kArrival;
  Recipient carol;
  carol.address = "carol@remote.test";
  carol.orcpt = "rfc822;carol+2Bx@remote.test";
  carol.state = RecipientState::kFailed;
  carol.last_error = "550 5.1.1 <carol@remote.test>: no such user";
  carol.status = "5.1.1";
  carol.remote_mta = "mx.remote.test";
  carol.smtp_reply = true;
  carol.attempts = 1;
  carol.last_attempt = kArrival + 120;
  e.recipients.push_back(carol);
  Recipient bob;
  bob.address = "bob@example.test";
  bob.state = RecipientState::kPending;
  bob.last_error = "cannot write the Maildir: No space left on device";
  bob.status = "4.3.1";
  bob.attempts = 2;
  bob.last_attempt = kArrival + 120;
  e.recipients.push_back(bob);
  return e;
}

DsnRequest Request(std::vector<DsnRecipient> recipients) {
  DsnRequest request;
  request.myhostname = "mail.example.test";
  request.queue_id = "6A0B1C2D3E4F.5A6B.7";
  request.date = WallTime(seconds(kArrival + 3600));
  request.recipients = std::move(recipients);
  request.will_retry_until = WallTime(seconds(kArrival + 5 * 86400));
  return request;
}

// The text between "\r\n\r\n" after part `n`'s boundary line and the next
// boundary line, and that part's header lines.
struct Part {
  std::string headers;
  std::string body;
};

std::vector<Part> Parts(const std::string& dsn, const std::string& boundary) {
  std::vector<Part> parts;
  const std::string delimiter = "\r\n--" + boundary;
  size_t at = dsn.find(delimiter);
  while (at != std::string::npos && dsn.compare(at + delimiter.size(), 2, "--") != 0) {
    size_t start = at + delimiter.size() + 2;
    size_t blank = dsn.find("\r\n\r\n", start);
    size_t next = dsn.find(delimiter, start);
    BOOST_TEST_REQUIRE((blank != std::string::npos && next != std::string::npos));
    parts.push_back(
        Part{dsn.substr(start, blank + 2 - start), dsn.substr(blank + 4, next - blank - 4)});
    at = next;
  }
  return parts;
}

std::string HeaderOf(const std::string& dsn) { return dsn.substr(0, dsn.find("\r\n\r\n") + 2); }

BOOST_AUTO_TEST_SUITE(dsn_report)

BOOST_AUTO_TEST_CASE(failure_report_to_the_letter) {
  std::string dsn =
      WriteDsn(Original(), kContent, Request({{0, DsnAction::kFailed}, {1, DsnAction::kDelayed}}));
  const std::string boundary = "=_postern_6A0B1C2D3E4F.5A6B.7";
  std::string expected =
      "From: MAILER-DAEMON@mail.example.test (Mail Delivery System)\r\n"
      "To: alice@example.test\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\n"
      "Date: Sat, 30 Nov 2024 10:46:40 +0000\r\n"
      "Message-ID: <6A0B1C2D3E4F.5A6B.7@mail.example.test>\r\n"
      "Auto-Submitted: auto-replied\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      "\tboundary=\"=_postern_6A0B1C2D3E4F.5A6B.7\"\r\n"
      "\r\n"
      "This is a MIME-encapsulated message.\r\n"
      "\r\n"
      "--=_postern_6A0B1C2D3E4F.5A6B.7\r\n"
      "Content-Description: Notification\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "\r\n"
      "This is the mail system at host mail.example.test.\r\n"
      "\r\n"
      "Your message could not be delivered to one or more recipients.\r\n"
      "\r\n"
      "<carol@remote.test>: delivery failed: 550 5.1.1 <carol@remote.test>: no such user "
      "(mx.remote.test)\r\n"
      "<bob@example.test>: not delivered yet, tried until Thu, 5 Dec 2024 09:46:40 +0000: "
      "cannot write the Maildir: No space left on device\r\n"
      "\r\n"
      "Your message is attached.\r\n"
      "\r\n"
      "--=_postern_6A0B1C2D3E4F.5A6B.7\r\n"
      "Content-Description: Delivery report\r\n"
      "Content-Type: message/delivery-status\r\n"
      "\r\n"
      "Reporting-MTA: dns; mail.example.test\r\n"
      "Original-Envelope-Id: QQ+314159\r\n"
      "Arrival-Date: Sat, 30 Nov 2024 09:46:40 +0000\r\n"
      "\r\n"
      "Final-Recipient: rfc822;carol@remote.test\r\n"
      "Original-Recipient: rfc822;carol+x@remote.test\r\n"
      "Action: failed\r\n"
      "Status: 5.1.1\r\n"
      "Remote-MTA: dns; mx.remote.test\r\n"
      "Diagnostic-Code: smtp; 550 5.1.1 <carol@remote.test>: no such user\r\n"
      "Last-Attempt-Date: Sat, 30 Nov 2024 09:48:40 +0000\r\n"
      "\r\n"
      "Final-Recipient: rfc822;bob@example.test\r\n"
      "Action: delayed\r\n"
      "Status: 4.3.1\r\n"
      "Diagnostic-Code: x-postern; cannot write the Maildir: No space left on device\r\n"
      "Last-Attempt-Date: Sat, 30 Nov 2024 09:48:40 +0000\r\n"
      "Will-Retry-Until: Thu, 5 Dec 2024 09:46:40 +0000\r\n"
      "\r\n"
      "--=_postern_6A0B1C2D3E4F.5A6B.7\r\n"
      "Content-Description: Original message\r\n"
      "Content-Type: message/rfc822\r\n"
      "\r\n"
      "Received: from client.example.test\r\n"
      "From: Alice <alice@example.test>\r\n"
      "Subject: lunch\r\n"
      "\r\n"
      "Shall we?\r\n"
      "\r\n"
      "--=_postern_6A0B1C2D3E4F.5A6B.7--\r\n";
  BOOST_TEST(dsn == expected);
  BOOST_TEST(Parts(dsn, boundary).size() == 3u);
}

BOOST_AUTO_TEST_CASE(subject_follows_the_gravest_action) {
  auto subject_of = [](std::vector<DsnRecipient> recipients) {
    std::string dsn = WriteDsn(Original(), kContent, Request(std::move(recipients)));
    size_t at = dsn.find("\r\nSubject: ") + 11;
    return dsn.substr(at, dsn.find("\r\n", at) - at);
  };
  BOOST_TEST(subject_of({{1, DsnAction::kDelayed}}) == "Delayed Mail (still being retried)");
  BOOST_TEST(subject_of({{1, DsnAction::kDelivered}, {0, DsnAction::kRelayed}}) ==
             "Successful Mail Delivery Report");
  BOOST_TEST(subject_of({{0, DsnAction::kRelayed}}) == "Mail Relayed");
  BOOST_TEST(subject_of({{0, DsnAction::kExpanded}}) == "Mail Expanded");
  BOOST_TEST(subject_of({{1, DsnAction::kDelayed}, {0, DsnAction::kFailed}}) ==
             "Undelivered Mail Returned to Sender");
}

// Part 3 by RET and the kind of report.
BOOST_AUTO_TEST_CASE(returned_part_follows_ret) {
  const std::string boundary = "=_postern_6A0B1C2D3E4F.5A6B.7";
  struct Case {
    DsnRet ret;
    DsnAction action;
    const char* type;
    const std::string* body;
  };
  const std::string whole = kContent;
  const std::string headers = kHeaders;
  for (const Case& c :
       {Case{DsnRet::kUnspecified, DsnAction::kFailed, "message/rfc822", &whole},
        Case{DsnRet::kUnspecified, DsnAction::kDelayed, "text/rfc822-headers", &headers},
        Case{DsnRet::kUnspecified, DsnAction::kDelivered, "text/rfc822-headers", &headers},
        Case{DsnRet::kHeaders, DsnAction::kFailed, "text/rfc822-headers", &headers},
        Case{DsnRet::kFull, DsnAction::kDelivered, "message/rfc822", &whole}}) {
    Envelope e = Original();
    e.ret = c.ret;
    std::vector<Part> parts = Parts(WriteDsn(e, kContent, Request({{0, c.action}})), boundary);
    BOOST_TEST_REQUIRE(parts.size() == 3u);
    BOOST_TEST(parts[2].headers.find(std::string("Content-Type: ") + c.type + "\r\n") !=
               std::string::npos);
    // The part's body, then the CRLF that belongs to the delimiter.
    BOOST_TEST(parts[2].body == *c.body);
  }
}

BOOST_AUTO_TEST_CASE(a_message_over_the_limit_returns_its_headers) {
  DsnRequest request = Request({{0, DsnAction::kFailed}});
  request.return_size_limit = kContent.size() - 1;
  std::string dsn = WriteDsn(Original(), kContent, request);
  std::vector<Part> parts = Parts(dsn, "=_postern_6A0B1C2D3E4F.5A6B.7");
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  BOOST_TEST(parts[2].headers ==
             "Content-Description: Original message headers\r\n"
             "Content-Type: text/rfc822-headers\r\n");
  BOOST_TEST(parts[2].body == kHeaders);
  BOOST_TEST(parts[0].body.find("The header section of your message is attached (the message is "
                                "larger than " +
                                std::to_string(kContent.size() - 1) + " bytes).\r\n") !=
             std::string::npos);
  // Headers over the limit too: no third part.
  request.return_size_limit = kHeaders.size() - 1;
  BOOST_TEST(
      Parts(WriteDsn(Original(), kContent, request), "=_postern_6A0B1C2D3E4F.5A6B.7").size() == 2u);
}

BOOST_AUTO_TEST_CASE(eight_bit_content_returns_headers_and_eight_bit_headers_nothing) {
  const std::string boundary = "=_postern_6A0B1C2D3E4F.5A6B.7";
  Envelope e = Original();
  e.body = BodyType::k8BitMime;
  std::string body_8bit = kHeaders +
                          "\r\nGr\xc3\xbc\xc3\x9f"
                          "e\r\n";
  std::vector<Part> parts =
      Parts(WriteDsn(e, body_8bit, Request({{0, DsnAction::kFailed}})), boundary);
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  BOOST_TEST(parts[2].body == kHeaders);
  BOOST_TEST(parts[0].body.find("(the message is not 7-bit text, which this report does not "
                                "carry)") != std::string::npos);
  // Binary: a bare LF is not 7-bit text either.
  e.body = BodyType::kBinaryMime;
  parts = Parts(WriteDsn(e, kHeaders + "\r\nline\nline\r\n", Request({{0, DsnAction::kFailed}})),
                boundary);
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  BOOST_TEST(parts[2].body == kHeaders);
  // 8-bit in the header section: nothing returned, and the DSN stays 7-bit.
  std::string dsn = WriteDsn(e,
                             "Subject: Gr\xc3\xbc\xc3\x9f"
                             "e\r\n\r\nx\r\n",
                             Request({{0, DsnAction::kFailed}}));
  BOOST_TEST(Parts(dsn, boundary).size() == 2u);
  for (char c : dsn) BOOST_TEST_REQUIRE(static_cast<unsigned char>(c) < 128);
}

BOOST_AUTO_TEST_CASE(boundary_never_occurs_in_the_parts) {
  std::string content =
      kHeaders + "\r\n--=_postern_6A0B1C2D3E4F.5A6B.7\r\n--=_postern_6A0B1C2D3E4F.5A6B.7.0\r\n";
  std::string dsn = WriteDsn(Original(), content, Request({{0, DsnAction::kFailed}}));
  BOOST_TEST(HeaderOf(dsn).find("\tboundary=\"=_postern_6A0B1C2D3E4F.5A6B.7.1\"\r\n") !=
             std::string::npos);
  std::vector<Part> parts = Parts(dsn, "=_postern_6A0B1C2D3E4F.5A6B.7.1");
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  BOOST_TEST(parts[2].body == content);
}

BOOST_AUTO_TEST_CASE(every_line_ends_in_crlf_and_fits_998_octets) {
  Envelope e = Original();
  e.recipients[0].last_error =
      "550-5.1.1 first line\r\n550 5.1.1 " + std::string(3000, 'x') + "\x1b[31m";
  e.recipients[0].remote_mta = std::string(2000, 'h');
  std::string dsn = WriteDsn(e, kContent, Request({{0, DsnAction::kFailed}}));
  size_t start = 0;
  while (start < dsn.size()) {
    size_t end = dsn.find("\r\n", start);
    BOOST_TEST_REQUIRE(end != std::string::npos);
    std::string line = dsn.substr(start, end - start);
    BOOST_TEST(line.size() <= 998u);
    BOOST_TEST(line.find('\n') == std::string::npos);
    BOOST_TEST(line.find('\r') == std::string::npos);
    BOOST_TEST(line.find('\x1b') == std::string::npos);
    start = end + 2;
  }
  BOOST_TEST(dsn.find("Diagnostic-Code: smtp; 550-5.1.1 first line 550 5.1.1 xxx") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(xtext_that_decodes_to_control_bytes_is_kept_as_received) {
  Envelope e = Original();
  e.envid = "a+0D+0Ab";
  e.recipients[0].orcpt = "rfc822;c+0A@x";
  std::string dsn = WriteDsn(e, kContent, Request({{0, DsnAction::kFailed}}));
  BOOST_TEST(dsn.find("\r\nOriginal-Envelope-Id: a+0D+0Ab\r\n") != std::string::npos);
  BOOST_TEST(dsn.find("\r\nOriginal-Recipient: rfc822;c+0A@x\r\n") != std::string::npos);
  // Without ENVID and ORCPT, no such fields.
  e.envid.clear();
  e.recipients[0].orcpt.clear();
  dsn = WriteDsn(e, kContent, Request({{0, DsnAction::kFailed}}));
  BOOST_TEST(dsn.find("Original-Envelope-Id") == std::string::npos);
  BOOST_TEST(dsn.find("Original-Recipient") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(status_defaults_by_action_and_optional_fields_are_left_out) {
  Envelope e = Original();
  Recipient& r = e.recipients[0];
  r.status.clear();
  r.remote_mta.clear();
  r.last_error.clear();
  r.last_attempt = 0;
  std::string dsn = WriteDsn(e, kContent, Request({{0, DsnAction::kDelivered}}));
  BOOST_TEST(dsn.find("\r\nFinal-Recipient: rfc822;carol@remote.test\r\n"
                      "Original-Recipient: rfc822;carol+x@remote.test\r\n"
                      "Action: delivered\r\n"
                      "Status: 2.0.0\r\n"
                      "\r\n--") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wants_dsn_follows_rfc_3461_notify) {
  Envelope e = Original();
  Recipient r;
  auto wants = [&](uint8_t notify, DsnAction action) {
    r.notify = notify;
    return WantsDsn(e, r, action);
  };
  // No NOTIFY: FAILURE,DELAY.
  BOOST_TEST(wants(0, DsnAction::kFailed));
  BOOST_TEST(wants(0, DsnAction::kDelayed));
  BOOST_TEST(!wants(0, DsnAction::kDelivered));
  BOOST_TEST(!wants(0, DsnAction::kRelayed));
  BOOST_TEST(!wants(kNotifyNever, DsnAction::kFailed));
  BOOST_TEST(!wants(kNotifyNever, DsnAction::kDelayed));
  BOOST_TEST(wants(kNotifySuccess, DsnAction::kDelivered));
  BOOST_TEST(wants(kNotifySuccess, DsnAction::kRelayed));
  BOOST_TEST(wants(kNotifySuccess, DsnAction::kExpanded));
  BOOST_TEST(!wants(kNotifySuccess, DsnAction::kFailed));
  BOOST_TEST(!wants(kNotifyFailure, DsnAction::kDelayed));
  BOOST_TEST(wants(kNotifyDelay, DsnAction::kDelayed));
  // Never about a message from <>.
  e.sender = "";
  BOOST_TEST(!wants(kNotifyFailure, DsnAction::kFailed));
  BOOST_TEST(!wants(0, DsnAction::kFailed));
}

BOOST_AUTO_TEST_CASE(dsn_envelope_goes_from_null_to_the_sender) {
  Envelope dsn = DsnEnvelope(Original(), "6A0B1C2D3E4F.5A6B.7", kArrival + 3600, 1234);
  BOOST_TEST(dsn.queue_id == "6A0B1C2D3E4F.5A6B.7");
  BOOST_TEST(dsn.sender.empty());
  BOOST_TEST_REQUIRE(dsn.recipients.size() == 1u);
  BOOST_TEST(dsn.recipients[0].address == "alice@example.test");
  BOOST_TEST((dsn.recipients[0].state == RecipientState::kPending));
  BOOST_TEST((dsn.body == BodyType::k7Bit));
  BOOST_TEST(dsn.size == 1234u);
  BOOST_TEST(dsn.arrival_time == kArrival + 3600);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
