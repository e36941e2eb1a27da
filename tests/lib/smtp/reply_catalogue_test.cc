// tests/lib/smtp/reply_catalogue_test.cc — the reply catalogue against the spec.
//
// Every expected line is typed from MS-OXSMTP 3.2.5-3.2.7 or the RFC that
// fixes it, so a catalogue text that drifts from the spec fails here.
#define BOOST_TEST_DYN_LINK
#include "lib/smtp/reply_catalogue.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

std::string Wire(const Reply& reply, std::initializer_list<std::string_view> args = {}) {
  return FormatReply(reply, args);
}

BOOST_AUTO_TEST_SUITE(reply_format)

BOOST_AUTO_TEST_CASE(single_line_with_and_without_enhanced_code) {
  BOOST_TEST(FormatReply(250, "2.0.0", "OK") == "250 2.0.0 OK\r\n");
  BOOST_TEST(FormatReply(354, "", "Go ahead") == "354 Go ahead\r\n");
}

BOOST_AUTO_TEST_CASE(multi_line_repeats_the_enhanced_code_on_every_line) {
  // RFC 2034 4: the same status code at the start of each line.
  BOOST_TEST(FormatReply(214, "2.0.0", "first\nsecond\nthird") ==
             "214-2.0.0 first\r\n214-2.0.0 second\r\n214 2.0.0 third\r\n");
}

BOOST_AUTO_TEST_CASE(multi_line_without_enhanced_code_is_the_ehlo_form) {
  BOOST_TEST(FormatReply(250, "", "mx.example Hello 192.0.2.1\nSIZE\nDSN") ==
             "250-mx.example Hello 192.0.2.1\r\n250-SIZE\r\n250 DSN\r\n");
}

BOOST_AUTO_TEST_CASE(a_catalogue_reply_is_formatted_with_its_arguments) {
  BOOST_TEST(FormatReply(Reply{250, "2.6.0", "{0} queued"}, {"ID1"}) == "250 2.6.0 ID1 queued\r\n");
  BOOST_TEST(FormatReply(Reply{220, nullptr, "{0} ready"}, {"mx"}) == "220 mx ready\r\n");
}

BOOST_AUTO_TEST_CASE(placeholders_are_filled_once_and_never_expanded_again) {
  Reply reply{250, "2.0.0", "{0} and {1} but {2}"};
  BOOST_TEST(ExpandReply(reply, {"a{1}", "b"}) == "a{1} and b but {2}");
  BOOST_TEST(ExpandReply(reply) == "{0} and {1} but {2}");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reply_catalogue_texts)

BOOST_AUTO_TEST_CASE(ms_oxsmtp_3_2_5_tables) {
  BOOST_TEST(Wire(reply::kSendHelloFirst) == "503 5.5.2 Send hello first\r\n");
  BOOST_TEST(Wire(reply::kBadSequence) == "503 5.5.1 Bad sequence of commands\r\n");
  BOOST_TEST(Wire(reply::kMustIssueStarttlsFirst) ==
             "451 5.7.3 Must issue a STARTTLS command first\r\n");
  BOOST_TEST(Wire(reply::kSenderAlreadySpecified) == "503 5.5.2 Sender already specified\r\n");
  BOOST_TEST(Wire(reply::kUnrecognizedParameter) == "501 5.5.4 Unrecognized parameter\r\n");
  BOOST_TEST(Wire(reply::kInsufficientSystemResources) ==
             "452 4.3.1 Insufficient system resources\r\n");
  BOOST_TEST(Wire(reply::kInvalidArguments) == "501 5.5.4 Invalid arguments\r\n");
  BOOST_TEST(Wire(reply::kInvalidRecipientAddress) == "501 5.1.3 Invalid address\r\n");
  BOOST_TEST(Wire(reply::kTooManyRecipients) == "452 4.5.3 Too many recipients\r\n");
  BOOST_TEST(Wire(reply::kUnableToRelay) == "550 5.7.1 Unable to relay\r\n");
  BOOST_TEST(FormatReply(reply::kUserUnknown, {"bob@example.test"}) ==
             "550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown\r\n");
  BOOST_TEST(FormatReply(reply::kTemporaryLookupFailure, {"bob@example.test"}) ==
             "451 4.3.0 <bob@example.test>: Temporary lookup failure\r\n");
  BOOST_TEST(Wire(reply::kInvalidSenderAddress) == "501 5.1.7 Invalid address\r\n");
  BOOST_TEST(Wire(reply::kNotAuthenticated) == "530 5.7.1 Not authenticated\r\n");
  BOOST_TEST(Wire(reply::kClientNotAuthenticated) == "530 5.7.1 Client was not authenticated\r\n");
  BOOST_TEST(Wire(reply::kClientNotPermitted) ==
             "550 5.7.1 Client does not have permissions to submit to this server\r\n");
}

BOOST_AUTO_TEST_CASE(ms_oxsmtp_3_2_6_timer_events) {
  BOOST_TEST(Wire(reply::kConnectionTimedOut) == "421 4.4.1 Connection timed out\r\n");
  BOOST_TEST(Wire(reply::kTimeoutWaitingForInput) ==
             "451 4.7.0 Timeout waiting for client input\r\n");
}

BOOST_AUTO_TEST_CASE(ms_oxsmtp_3_2_7_local_events) {
  BOOST_TEST(Wire(reply::kHopCountExceeded) ==
             "554 5.4.6 Hop count exceeded - possible mail loop\r\n");
  BOOST_TEST(Wire(reply::kRateLimitExceeded) ==
             "421 4.4.2 Message submission rate for this client has exceeded the configured "
             "limit\r\n");
  BOOST_TEST(Wire(reply::kHeaderSizeExceeded) ==
             "552 5.3.4 Header size exceeds fixed maximum size\r\n");
  BOOST_TEST(Wire(reply::kMessageSizeExceeded) ==
             "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  BOOST_TEST(Wire(reply::kTooManyErrors) ==
             "421 4.7.0 Too many errors on this connection, closing transmission channel\r\n");
  BOOST_TEST(Wire(reply::kConnectionDropped) == "421 4.4.2 Connection dropped\r\n");
  BOOST_TEST(Wire(reply::kServiceNotAvailable) == "421 4.3.2 Service not available\r\n");
  BOOST_TEST(Wire(reply::kConnectionCountExceeded) ==
             "421 4.3.2 The maximum number of concurrent server connections has exceeded a "
             "limit, closing transmission channel\r\n");
  BOOST_TEST(Wire(reply::kConnectionCountPerSource) ==
             "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, "
             "closing transmission channel\r\n");
}

BOOST_AUTO_TEST_CASE(ip_address_not_allowed_texts_carry_the_address) {
  BOOST_TEST(Wire(reply::kIpAddressNotAllowedStatic, {"198.51.100.7"}) ==
             "550 5.7.1 External client with IP address 198.51.100.7 does not have permissions "
             "to submit to this server. Visit http://support.microsoft.com/kb/928123 for more "
             "information\r\n");
  BOOST_TEST(Wire(reply::kIpAddressNotAllowedDynamic, {"2001:db8::7"}) ==
             "550 5.7.1 External client with IP address 2001:db8::7 does not have permissions "
             "to submit to this server\r\n");
  BOOST_TEST(Wire(reply::kIpAddressOnBlockList) ==
             "550 5.7.1 Recipient not authorized, your IP has been found on a block list\r\n");
}

BOOST_AUTO_TEST_CASE(rfc_5321_dialogue_replies) {
  BOOST_TEST(Wire(reply::kServiceReady, {"mx.example"}) ==
             "220 mx.example ESMTP postern ready\r\n");
  BOOST_TEST(Wire(reply::kHelloGreeting, {"mx.example", "192.0.2.1"}) ==
             "250 mx.example Hello 192.0.2.1\r\n");
  BOOST_TEST(Wire(reply::kClosingChannel, {"mx.example"}) ==
             "221 2.0.0 mx.example Service closing transmission channel\r\n");
  BOOST_TEST(Wire(reply::kOk) == "250 2.0.0 OK\r\n");
  BOOST_TEST(Wire(reply::kSenderOk) == "250 2.1.0 Sender OK\r\n");
  BOOST_TEST(Wire(reply::kRecipientOk) == "250 2.1.5 Recipient OK\r\n");
  BOOST_TEST(Wire(reply::kStartMailInput) == "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
  BOOST_TEST(Wire(reply::kQueued, {"ABC"}) == "250 2.6.0 ABC Queued mail for delivery\r\n");
  BOOST_TEST(Wire(reply::kCannotVerify) ==
             "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  BOOST_TEST(Wire(reply::kCommandUnrecognized) ==
             "500 5.5.2 Syntax error, command unrecognized\r\n");
  BOOST_TEST(Wire(reply::kLineTooLong) == "500 5.5.2 Line too long\r\n");
  BOOST_TEST(Wire(reply::kSyntaxError) == "501 5.5.4 Syntax error in parameters or arguments\r\n");
  BOOST_TEST(Wire(reply::kCommandNotImplemented) == "502 5.5.1 Command not implemented\r\n");
  BOOST_TEST(Wire(reply::kXexch50NotAuthorized) == "504 5.7.1 Not authorized\r\n");
}

BOOST_AUTO_TEST_CASE(enhanced_codes_agree_with_the_reply_class) {
  // RFC 2034 4: a 2xx reply carries 2.X.X, 4xx 4.X.X, 5xx 5.X.X; 3xx none.
  const std::vector<Reply> replies = {
      reply::kServiceReady,
      reply::kHelloGreeting,
      reply::kClosingChannel,
      reply::kOk,
      reply::kSenderOk,
      reply::kRecipientOk,
      reply::kStartMailInput,
      reply::kQueued,
      reply::kChunkReceived,
      reply::kCannotVerify,
      reply::kHelp,
      reply::kCommandUnrecognized,
      reply::kLineTooLong,
      reply::kInvalidCommandCharacters,
      reply::kSyntaxError,
      reply::kInvalidDomainName,
      reply::kCommandNotImplemented,
      reply::kNeedMailCommand,
      reply::kNeedRcptCommand,
      reply::kXexch50NotAuthorized,
      reply::kLocalErrorInProcessing,
      reply::kBareLineEnding,
      reply::kImproperPipelining,
      reply::kSendHelloFirst,
      reply::kBadSequence,
      reply::kMustIssueStarttlsFirst,
      reply::kSenderAlreadySpecified,
      reply::kUnrecognizedParameter,
      reply::kInsufficientSystemResources,
      reply::kInvalidArguments,
      reply::kInvalidRecipientAddress,
      reply::kUnableToRelay,
      reply::kUserUnknown,
      reply::kTemporaryLookupFailure,
      reply::kInvalidSenderAddress,
      reply::kNotAuthenticated,
      reply::kClientNotAuthenticated,
      reply::kClientNotPermitted,
      reply::kConnectionTimedOut,
      reply::kTimeoutWaitingForInput,
      reply::kHopCountExceeded,
      reply::kTooManyRecipients,
      reply::kRateLimitExceeded,
      reply::kHeaderSizeExceeded,
      reply::kMessageSizeExceeded,
      reply::kTooManyErrors,
      reply::kConnectionDropped,
      reply::kServiceNotAvailable,
      reply::kConnectionCountExceeded,
      reply::kConnectionCountPerSource,
      reply::kIpAddressNotAllowedStatic,
      reply::kIpAddressNotAllowedDynamic,
      reply::kIpAddressOnBlockList,
  };
  for (const Reply& r : replies) {
    BOOST_TEST_CONTEXT(r.code << " " << r.text) {
      // The greeting and the EHLO/HELO answer carry none either.
      if (r.code / 100 == 3 || r.code == 220 || std::string(r.text) == "{0} Hello {1}") {
        BOOST_TEST(r.enhanced == nullptr);
      } else if (r.code == 451 && std::string(r.enhanced) == "5.7.3") {
        // MS-OXSMTP 3.2.5 fixes "451 5.7.3" for MAIL before STARTTLS.
      } else {
        BOOST_REQUIRE(r.enhanced != nullptr);
        BOOST_TEST(r.enhanced[0] == static_cast<char>('0' + r.code / 100));
      }
      // A reply line is at most 512 octets (RFC 5321 4.5.3.1.5).
      BOOST_TEST(Wire(r, {"255.255.255.255", "x"}).size() <= 512u);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
