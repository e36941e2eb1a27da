// tests/lib/queue/delivery_log_test.cc — lib/queue/delivery_log.h: Postfix's
// delay notation and the whole line of a delivery attempt.
#include "lib/queue/delivery_log.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

using std::chrono::milliseconds;

Recipient To(std::string address, std::string orcpt = "") {
  Recipient recipient;
  recipient.address = std::move(address);
  recipient.orcpt = std::move(orcpt);
  return recipient;
}

BOOST_AUTO_TEST_SUITE(delivery_log)

BOOST_AUTO_TEST_CASE(delays_are_written_as_postfix_writes_them) {
  const std::pair<int64_t, const char*> cases[] = {
      {0, "0"},       {4, "0"},       {5, "0.01"},         {61, "0.06"},
      {100, "0.1"},   {123, "0.12"},  {995, "1"},          {1000, "1"},
      {1234, "1.2"},  {1250, "1.3"},  {9949, "9.9"},       {9960, "10"},
      {10'000, "10"}, {12'345, "12"}, {1'234'567, "1234"}, {-5, "0"},
  };
  for (const auto& [ms, text] : cases)
    BOOST_TEST(FormatDelay(milliseconds(ms)) == text, ms << " ms");
}

BOOST_AUTO_TEST_CASE(the_line_has_every_stage_and_their_sum) {
  AttemptDelays delays{milliseconds(61), milliseconds(0), milliseconds(520), milliseconds(1234)};
  AttemptOutcome attempt;
  attempt.verdict = Verdict::kRelayed;
  attempt.status = "2.0.0";
  BOOST_TEST(DeliveryLogLine("61FF.1A.2", To("zoe@elsewhere.test"),
                             "mx.elsewhere.test[192.0.2.1]:25", delays, attempt,
                             "250 2.0.0 Ok: queued as N1") ==
             "61FF.1A.2: to=<zoe@elsewhere.test>, relay=mx.elsewhere.test[192.0.2.1]:25, "
             "delay=1.8, delays=0.06/0/0.52/1.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "
             "N1)");
  attempt.verdict = Verdict::kDeferred;
  attempt.status = "4.4.3";
  BOOST_TEST(DeliveryLogLine("61FF.1A.2", To("a\nb@x.test"), "none", AttemptDelays{}, attempt,
                             "no\tanswer") ==
             "61FF.1A.2: to=<a\\x0ab@x.test>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.3, "
             "status=deferred (no\\x09answer)");
  attempt.verdict = Verdict::kFailed;
  BOOST_TEST(DeliveryLogLine("I", To("a@x.test"), "maildir", AttemptDelays{}, attempt, "why")
                 .find(", dsn=4.4.3, status=bounced (why)") != std::string::npos);
  attempt.status.clear();  // a reply without an enhanced code: the verdict's class
  BOOST_TEST(DeliveryLogLine("I", To("a@x.test"), "maildir", AttemptDelays{}, attempt, "why")
                 .find(", dsn=5.0.0, status=bounced (why)") != std::string::npos);
}

// Postfix's orig_to=: only when an rfc822 ORCPT names another address.
BOOST_AUTO_TEST_CASE(orig_to_names_the_address_the_client_wrote) {
  AttemptOutcome attempt;
  attempt.verdict = Verdict::kDelivered;
  attempt.status = "2.0.0";
  const std::string rest = ", relay=maildir, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (ok)";
  BOOST_TEST(DeliveryLogLine("I", To("alice@x.test", "rfc822;Alice@X.test"), "maildir",
                             AttemptDelays{}, attempt,
                             "ok") == "I: to=<alice@x.test>, orig_to=<Alice@X.test>" + rest);
  BOOST_TEST(DeliveryLogLine("I", To("postmaster@x.test", "RFC822;Postmaster"), "maildir",
                             AttemptDelays{}, attempt,
                             "ok") == "I: to=<postmaster@x.test>, orig_to=<Postmaster>" + rest);
  // xtext is decoded, and what it decodes to is made printable.
  BOOST_TEST(DeliveryLogLine("I", To("c@x.test", "rfc822;C+2Bd+0A@x.test"), "maildir",
                             AttemptDelays{}, attempt,
                             "ok") == "I: to=<c@x.test>, orig_to=<C+d\\x0a@x.test>" + rest);
  // The same address, another type, or no xtext: nothing.
  for (const char* orcpt : {"rfc822;alice@x.test", "x400;Alice", "rfc822;A+zz", "rfc822;", ""})
    BOOST_TEST(DeliveryLogLine("I", To("alice@x.test", orcpt), "maildir", AttemptDelays{}, attempt,
                               "ok") == "I: to=<alice@x.test>" + rest,
               orcpt);
}

BOOST_AUTO_TEST_CASE(an_arrival_is_qmgrs_queue_active_line) {
  Envelope envelope;
  envelope.queue_id = "61FF.1A.2";
  envelope.sender = "alice@example.test";
  envelope.size = 1234;
  envelope.recipients.resize(2);
  BOOST_TEST(ArrivalLogLine(envelope) ==
             "61FF.1A.2: from=<alice@example.test>, size=1234, nrcpt=2 (queue active)");
  envelope.sender.clear();
  envelope.auth_mailbox = "bob@example.test";
  BOOST_TEST(ArrivalLogLine(envelope) ==
             "61FF.1A.2: from=<>, size=1234, nrcpt=2, auth=bob@example.test (queue active)");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
