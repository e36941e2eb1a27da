// tests/lib/smtp/server_session_recipient_check_test.cc — the RCPT TO round
// trip of local_recipient_map: a local recipient waits for authd's verdict
// (RecipientCheck, RecipientCheckResult), unknown ones get Postfix's 550
// 5.1.1, a failed lookup 451 4.3.0, pipelined RCPTs are answered in order,
// and a recipient is recorded under the spelling authd found.
#include "tests/lib/smtp/session_harness.h"

namespace postern::testing {
namespace {

using ipc::RecipientVerdict;

const std::string kUserUnknown =
    "550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown\r\n";
const std::string kLookupFailure = "451 4.3.0 <bob@example.test>: Temporary lookup failure\r\n";

void WithMap(Config& config) { config.local_recipient_map = {"sasldb"}; }

// A session that has said EHLO and MAIL, with local_recipient_map set.
struct Checked {
  explicit Checked(Harness::Adjust adjust = {}, ClientInfo client = DefaultClient())
      : h(std::move(adjust), std::move(client), WithMap) {
    h.Start();
    h.Say("EHLO client.example.net\r\n");
    BOOST_TEST(h.Say("MAIL FROM:<alice@example.org>\r\n") == kSenderOk);
  }
  Harness h;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(session_recipient_check)

BOOST_AUTO_TEST_CASE(a_known_local_recipient_is_accepted_after_the_answer) {
  Checked c;
  BOOST_TEST(c.h.Say("RCPT TO:<alice@example.test>\r\n").empty());
  BOOST_TEST(c.h.session().input_paused());
  std::vector<std::string> asked = {"alice@example.test"};
  BOOST_TEST(c.h.recipient_checks == asked, boost::test_tools::per_element());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown) == kRecipientOk);
  BOOST_TEST(!c.h.session().input_paused());
  BOOST_TEST(c.h.Say("DATA\r\n") == kGoAhead);
  BOOST_TEST(c.h.Say("Subject: x\r\n\r\nhi\r\n.\r\n").empty());
  BOOST_REQUIRE(c.h.envelopes.size() == 1u);
  BOOST_REQUIRE(c.h.envelopes[0].recipients.size() == 1u);
  BOOST_TEST(c.h.envelopes[0].recipients[0].address == "alice@example.test");
}

// Alice@ is accepted because user alice exists, and goes to alice's mailbox;
// a DSN still names the address the client wrote.
BOOST_AUTO_TEST_CASE(a_recipient_is_recorded_as_the_directory_knows_it) {
  Checked c;
  BOOST_TEST(c.h.Say("RCPT TO:<Alice@Example.Test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown, "alice@Example.Test") == kRecipientOk);
  BOOST_TEST(c.h.Say("RCPT TO:<Bob+Lists@example.test> ORCPT=rfc822;Bob+2BLists@example.test\r\n")
                 .empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown, "bob+lists@example.test") ==
             kRecipientOk);
  BOOST_TEST(c.h.Say("RCPT TO:<Carol+X@example.test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown, "carol+x@example.test") == kRecipientOk);
  BOOST_TEST(c.h.Say("RCPT TO:<dave@example.test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown, "dave@example.test") == kRecipientOk);
  BOOST_TEST(c.h.Say("DATA\r\n") == kGoAhead);
  BOOST_TEST(c.h.Say("\r\nhi\r\n.\r\n").empty());
  BOOST_REQUIRE(c.h.envelopes.size() == 1u);
  const std::vector<Recipient>& recipients = c.h.envelopes[0].recipients;
  BOOST_REQUIRE(recipients.size() == 4u);
  BOOST_TEST(recipients[0].address == "alice@Example.Test");
  BOOST_TEST(recipients[0].orcpt == "rfc822;Alice@Example.Test");
  // The client's own ORCPT is kept.
  BOOST_TEST(recipients[1].address == "bob+lists@example.test");
  BOOST_TEST(recipients[1].orcpt == "rfc822;Bob+2BLists@example.test");
  // The client's spelling is xtext in the ORCPT made for it.
  BOOST_TEST(recipients[2].address == "carol+x@example.test");
  BOOST_TEST(recipients[2].orcpt == "rfc822;Carol+2BX@example.test");
  // Known as written: nothing changes.
  BOOST_TEST(recipients[3].address == "dave@example.test");
  BOOST_TEST(recipients[3].orcpt.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_local_recipient_is_refused_and_left_out) {
  Checked c;
  BOOST_TEST(c.h.Say("RCPT TO:<bob@example.test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kUnknown) == kUserUnknown);
  // The transaction goes on without it.
  BOOST_TEST(c.h.Say("DATA\r\n") == kNeedRcpt);
  BOOST_TEST(c.h.Say("RCPT TO:<alice@example.test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown) == kRecipientOk);
  BOOST_TEST(c.h.Say("DATA\r\n") == kGoAhead);
  BOOST_TEST(c.h.Say("\r\nhi\r\n.\r\n").empty());
  BOOST_REQUIRE(c.h.envelopes.size() == 1u);
  BOOST_REQUIRE(c.h.envelopes[0].recipients.size() == 1u);
  BOOST_TEST(c.h.envelopes[0].recipients[0].address == "alice@example.test");
}

BOOST_AUTO_TEST_CASE(a_failed_lookup_is_a_temporary_refusal) {
  Checked c;
  BOOST_TEST(c.h.Say("RCPT TO:<bob@example.test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kUnavailable) == kLookupFailure);
  BOOST_TEST(c.h.Say("DATA\r\n") == kNeedRcpt);
}

BOOST_AUTO_TEST_CASE(remote_and_postmaster_recipients_are_not_asked_about) {
  ClientInfo trusted = DefaultClient();
  trusted.trusted = true;
  Checked c({}, trusted);
  BOOST_TEST(c.h.Say("RCPT TO:<bob@example.net>\r\n") == kRecipientOk);
  BOOST_TEST(c.h.Say("RCPT TO:<Postmaster>\r\n") == kRecipientOk);
  BOOST_TEST(c.h.Say("RCPT TO:<postmaster@Example.Test>\r\n") == kRecipientOk);
  BOOST_TEST(c.h.recipient_checks.empty());
}

BOOST_AUTO_TEST_CASE(with_an_empty_map_nothing_is_asked) {
  Harness h;  // local_recipient_map empty
  h.Open();
  BOOST_TEST(h.recipient_checks.empty());
  BOOST_TEST(h.events.find('R') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(pipelined_recipients_are_answered_in_order) {
  Harness h({}, DefaultClient(), WithMap);
  h.Start();
  h.Say("EHLO client.example.net\r\n");
  BOOST_TEST(h.Say("MAIL FROM:<alice@example.org>\r\n"
                   "RCPT TO:<alice@example.test>\r\n"
                   "RCPT TO:<bob@example.test>\r\n"
                   "RCPT TO:<carol@example.test>\r\n"
                   "DATA\r\n") == kSenderOk);
  std::vector<std::string> asked = {"alice@example.test"};
  BOOST_TEST(h.recipient_checks == asked, boost::test_tools::per_element());
  BOOST_TEST(h.RecipientCheck(RecipientVerdict::kKnown) == kRecipientOk);
  asked.push_back("bob@example.test");
  BOOST_TEST(h.recipient_checks == asked, boost::test_tools::per_element());
  BOOST_TEST(h.RecipientCheck(RecipientVerdict::kUnknown) == kUserUnknown);
  asked.push_back("carol@example.test");
  BOOST_TEST(h.recipient_checks == asked, boost::test_tools::per_element());
  BOOST_TEST(h.RecipientCheck(RecipientVerdict::kKnown) == kRecipientOk + kGoAhead);
  BOOST_TEST(h.Say("\r\nhi\r\n.\r\n").empty());
  BOOST_REQUIRE(h.envelopes.size() == 1u);
  BOOST_REQUIRE(h.envelopes[0].recipients.size() == 2u);
  BOOST_TEST(h.envelopes[0].recipients[1].address == "carol@example.test");
}

BOOST_AUTO_TEST_CASE(refusals_are_tarpitted_for_a_client_that_has_not_authenticated) {
  Checked c([](ListenerConfig& l) { l.tarpit_interval = seconds(5); });
  BOOST_TEST(c.h.Say("RCPT TO:<bob@example.test>\r\nNOOP\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kUnknown).empty());
  BOOST_TEST(c.h.Advance(seconds(4)).empty());
  BOOST_TEST(c.h.Advance(seconds(1)) == kUserUnknown + kOk);
}

BOOST_AUTO_TEST_CASE(unknown_recipients_are_not_protocol_errors) {
  Checked c([](ListenerConfig& l) { l.max_protocol_errors = 1; });
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(c.h.Say("RCPT TO:<bob@example.test>\r\n").empty());
    BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kUnknown) == kUserUnknown);
  }
  BOOST_TEST(!c.h.session().closed());
}

BOOST_AUTO_TEST_CASE(max_recipients_counts_accepted_recipients_only) {
  Checked c([](ListenerConfig& l) { l.max_recipients = 1; });
  BOOST_TEST(c.h.Say("RCPT TO:<bob@example.test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kUnknown) == kUserUnknown);
  BOOST_TEST(c.h.Say("RCPT TO:<alice@example.test>\r\n").empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown) == kRecipientOk);
  // The limit is reached: the next RCPT is not even asked about.
  BOOST_TEST(c.h.Say("RCPT TO:<carol@example.test>\r\n") == "452 4.5.3 Too many recipients\r\n");
  BOOST_TEST(c.h.recipient_checks.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_wait_suspends_the_inactivity_timer_and_stray_answers_are_ignored) {
  Checked c;
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown).empty());  // nobody asked
  BOOST_TEST(c.h.Say("RCPT TO:<alice@example.test>\r\n").empty());
  BOOST_TEST(c.h.Advance(minutes(2)).empty());
  BOOST_TEST(c.h.RecipientCheck(RecipientVerdict::kKnown) == kRecipientOk);
  BOOST_TEST(c.h.Say("DATA\r\n") == kGoAhead);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern::testing
