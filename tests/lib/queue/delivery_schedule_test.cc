// tests/lib/queue/delivery_schedule_test.cc — back-off, lifetime, delay
// warnings and DSN choices of lib/queue/delivery_schedule.h, each on a
// FakeClock.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/delivery_schedule.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Ids = std::vector<std::string>;
using Indices = std::vector<size_t>;
using Dsn = std::vector<DsnRecipient>;

constexpr int64_t kArrival = 1732960000;  // Sat, 30 Nov 2024 09:46:40 +0000
const WallTime kArrivalTime{seconds(kArrival)};

Envelope Message(std::vector<uint8_t> notify_per_recipient) {
  Envelope e;
  e.queue_id = "5F3A9C2B1D4E.1A2B.3";
  e.sender = "alice@example.test";
  e.arrival_time = kArrival;
  for (size_t i = 0; i < notify_per_recipient.size(); ++i) {
    Recipient r;
    r.address = "r" + std::to_string(i) + "@remote.test";
    r.notify = notify_per_recipient[i];
    e.recipients.push_back(r);
  }
  return e;
}

AttemptOutcome Deferred(size_t index) {
  return AttemptOutcome{index,   Verdict::kDeferred, "451 4.3.0 try again later",
                        "4.3.0", "mx.remote.test",   true};
}

AttemptOutcome Outcome(size_t index, Verdict verdict) {
  return AttemptOutcome{index, verdict, "", "", "", false};
}

BOOST_AUTO_TEST_SUITE(delivery_schedule)

BOOST_AUTO_TEST_CASE(back_off_is_5m_10m_20m_40m_then_1h) {
  DeliverySettings settings;
  BOOST_TEST((RetryDelay(1, settings) == minutes(5)));
  BOOST_TEST((RetryDelay(2, settings) == minutes(10)));
  BOOST_TEST((RetryDelay(3, settings) == minutes(20)));
  BOOST_TEST((RetryDelay(4, settings) == minutes(40)));
  BOOST_TEST((RetryDelay(5, settings) == hours(1)));  // 80 minutes, capped
  BOOST_TEST((RetryDelay(6, settings) == hours(1)));
  BOOST_TEST((RetryDelay(100000, settings) == hours(1)));
}

// qmgr takes the back-off from minimal_backoff_time and maximal_backoff_time.
BOOST_AUTO_TEST_CASE(the_back_off_keys_set_the_back_off) {
  Config config;
  config.minimal_backoff_time = minutes(1);
  config.maximal_backoff_time = minutes(30);
  const DeliverySettings settings = DeliverySettingsFrom(config);
  BOOST_TEST((RetryDelay(1, settings) == minutes(1)));
  BOOST_TEST((RetryDelay(2, settings) == minutes(2)));
  BOOST_TEST((RetryDelay(5, settings) == minutes(16)));
  BOOST_TEST((RetryDelay(6, settings) == minutes(30)));
}

// maximal_queue_lifetime and delay_warning_time set the expiry and the warning.
BOOST_AUTO_TEST_CASE(the_lifetime_keys_set_the_expiry_and_the_warning) {
  Config config;
  config.maximal_queue_lifetime = hours(2);
  config.delay_warning_time = minutes(30);
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettingsFrom(config));
  Envelope e = Message({0});
  schedule.Record(&e, {Deferred(0)});
  BOOST_TEST((schedule.Expiry(e) == kArrivalTime + hours(2)));
  BOOST_TEST((schedule.NextReview(e) == kArrivalTime + minutes(30)));
  clock.Advance(minutes(30));
  ScheduleDecision warned = schedule.Review(&e);
  BOOST_TEST(warned.dsn.size() == 1u);
  BOOST_TEST((schedule.NextReview(e) == kArrivalTime + hours(2)));
}

BOOST_AUTO_TEST_CASE(deferred_recipient_is_due_again_after_each_back_off) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0});
  BOOST_TEST((schedule.Due(e) == Indices{0}));  // never tried: at once
  for (Duration wait : {Duration(minutes(5)), Duration(minutes(10)), Duration(minutes(20)),
                        Duration(minutes(40)), Duration(hours(1)), Duration(hours(1))}) {
    ScheduleDecision decision = schedule.Record(&e, {Deferred(0)});
    BOOST_TEST(!decision.finished);
    BOOST_TEST(decision.dsn.empty());
    BOOST_TEST_REQUIRE(decision.next_event.has_value());
    BOOST_TEST((*decision.next_event == clock.WallNow() + wait));
    clock.Advance(wait - seconds(1));
    BOOST_TEST(schedule.Due(e).empty());
    clock.Advance(seconds(1));
    BOOST_TEST((schedule.Due(e) == Indices{0}));
  }
  BOOST_TEST(e.recipients[0].attempts == 6u);
  BOOST_TEST((e.recipients[0].state == RecipientState::kPending));
}

BOOST_AUTO_TEST_CASE(each_recipient_keeps_its_own_back_off) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0, 0});
  schedule.Record(&e, {Deferred(0), Deferred(1)});
  clock.Advance(minutes(5));
  ScheduleDecision decision = schedule.Record(&e, {Deferred(0)});
  // r0 waits 10 minutes now, r1 is due since its 5 minutes are over.
  BOOST_TEST((schedule.Due(e) == Indices{1}));
  BOOST_TEST((*decision.next_event == clock.WallNow()));
}

BOOST_AUTO_TEST_CASE(outcome_records_reply_status_host_and_time) {
  FakeClock clock(kArrivalTime + minutes(2));
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0, 0, 0});
  schedule.Record(&e, {AttemptOutcome{0, Verdict::kFailed, "550 5.1.1 <r0@remote.test>: unknown",
                                      "5.1.1", "mx.remote.test", true},
                       Outcome(1, Verdict::kFailed), Outcome(2, Verdict::kDelivered)});
  const Recipient& r0 = e.recipients[0];
  BOOST_TEST((r0.state == RecipientState::kFailed));
  BOOST_TEST(r0.last_error == "550 5.1.1 <r0@remote.test>: unknown");
  BOOST_TEST(r0.status == "5.1.1");
  BOOST_TEST(r0.remote_mta == "mx.remote.test");
  BOOST_TEST(r0.smtp_reply);
  BOOST_TEST(r0.last_attempt == kArrival + 120);
  BOOST_TEST(r0.attempts == 1u);
  // Without an enhanced code, the verdict's class.
  BOOST_TEST(e.recipients[1].status == "5.0.0");
  BOOST_TEST(e.recipients[2].status == "2.0.0");
  BOOST_TEST((e.recipients[2].state == RecipientState::kDelivered));
}

BOOST_AUTO_TEST_CASE(failure_dsn_by_default_and_message_finished) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0, 0});
  ScheduleDecision decision =
      schedule.Record(&e, {Outcome(0, Verdict::kFailed), Outcome(1, Verdict::kDelivered)});
  // NOTIFY not given: FAILURE,DELAY, so no success report for r1.
  BOOST_TEST((decision.dsn == Dsn{{0, DsnAction::kFailed}}));
  BOOST_TEST(decision.finished);
  BOOST_TEST(!decision.next_event.has_value());
}

BOOST_AUTO_TEST_CASE(notify_success_and_failure_share_one_dsn) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({kNotifySuccess | kNotifyFailure, kNotifySuccess, kNotifySuccess,
                        kNotifySuccess, kNotifyFailure});
  ScheduleDecision decision =
      schedule.Record(&e, {Outcome(0, Verdict::kFailed), Outcome(1, Verdict::kDelivered),
                           Outcome(2, Verdict::kRelayedNoDsn), Outcome(3, Verdict::kRelayed),
                           Outcome(4, Verdict::kDelivered)});
  // r3's next hop took NOTIFY and reports itself; r4 asked for failures only.
  BOOST_TEST((decision.dsn ==
              Dsn{{0, DsnAction::kFailed}, {1, DsnAction::kDelivered}, {2, DsnAction::kRelayed}}));
  BOOST_TEST(decision.finished);
}

BOOST_AUTO_TEST_CASE(never_a_dsn_for_notify_never_or_a_null_sender) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope never = Message({kNotifyNever});
  BOOST_TEST(schedule.Record(&never, {Outcome(0, Verdict::kFailed)}).dsn.empty());
  Envelope bounce = Message({kNotifySuccess | kNotifyFailure});
  bounce.sender = "";
  BOOST_TEST(schedule.Record(&bounce, {Outcome(0, Verdict::kFailed)}).dsn.empty());
  BOOST_TEST((bounce.recipients[0].state == RecipientState::kFailed));
}

BOOST_AUTO_TEST_CASE(outcome_for_a_final_recipient_changes_nothing) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0});
  schedule.Record(&e, {Outcome(0, Verdict::kDelivered)});
  Envelope before = e;
  ScheduleDecision decision =
      schedule.Record(&e, {Outcome(0, Verdict::kFailed), Outcome(7, Verdict::kFailed)});
  BOOST_TEST((e == before));
  BOOST_TEST(decision.dsn.empty());
  BOOST_TEST(decision.finished);
}

BOOST_AUTO_TEST_CASE(pending_recipients_fail_at_the_lifetime_keeping_the_last_error) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0, kNotifyNever});
  e.delay_warning_sent = true;  // this test is about the expiry alone
  schedule.Record(&e, {Deferred(0), Deferred(1)});
  clock.Advance(hours(5 * 24) - minutes(5));
  ScheduleDecision decision = schedule.Record(&e, {Deferred(0), Deferred(1)});
  // The next try (in 10 minutes) would come after the expiry: the expiry is
  // the next event, and no attempt is made after it.
  BOOST_TEST((*decision.next_event == kArrivalTime + hours(5 * 24)));
  clock.Advance(minutes(5) - seconds(1));
  BOOST_TEST(schedule.Review(&e).dsn.empty());
  BOOST_TEST((e.recipients[0].state == RecipientState::kPending));
  clock.Advance(seconds(1));
  decision = schedule.Review(&e);
  BOOST_TEST((decision.dsn == Dsn{{0, DsnAction::kFailed}}));  // r1: NOTIFY=NEVER
  BOOST_TEST(decision.finished);
  for (const Recipient& r : e.recipients) {
    BOOST_TEST((r.state == RecipientState::kFailed));
    BOOST_TEST(r.status == "4.4.7");
    BOOST_TEST(r.last_error == "451 4.3.0 try again later");
    BOOST_TEST(r.remote_mta == "mx.remote.test");
  }
}

BOOST_AUTO_TEST_CASE(a_deferral_after_the_lifetime_fails_at_once) {
  FakeClock clock(kArrivalTime + hours(6 * 24));
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0});
  e.delay_warning_sent = true;
  ScheduleDecision decision = schedule.Record(&e, {Deferred(0)});
  BOOST_TEST((decision.dsn == Dsn{{0, DsnAction::kFailed}}));
  BOOST_TEST(e.recipients[0].status == "4.4.7");
  BOOST_TEST(e.recipients[0].last_error == "451 4.3.0 try again later");
}

BOOST_AUTO_TEST_CASE(one_delay_warning_per_message_for_notify_delay) {
  FakeClock clock(kArrivalTime);
  DeliverySchedule schedule(&clock, DeliverySettings{});
  Envelope e = Message({0, kNotifyFailure, kNotifyDelay, kNotifyDelay});
  ScheduleDecision decision =
      schedule.Record(&e, {Deferred(0), Deferred(1), Deferred(2), Outcome(3, Verdict::kDelivered)});
  BOOST_TEST(decision.dsn.empty());
  clock.Advance(hours(4) - seconds(1));
  decision = schedule.Record(&e, {Deferred(0), Deferred(1), Deferred(2)});
  // The warning comes before the next try.
  BOOST_TEST((*decision.next_event == kArrivalTime + hours(4)));
  BOOST_TEST(!e.delay_warning_sent);
  clock.Advance(seconds(1));
  decision = schedule.Review(&e);
  // r0 by default, r2 by NOTIFY=DELAY; r1 asked for failures only; r3 is delivered.
  BOOST_TEST((decision.dsn == Dsn{{0, DsnAction::kDelayed}, {2, DsnAction::kDelayed}}));
  BOOST_TEST(e.delay_warning_sent);
  BOOST_TEST((e.recipients[0].state == RecipientState::kPending));
  // Once: not again later, nor after the envelope went through the queue.
  Result<Envelope> stored = Envelope::Decode(e.Encode());
  BOOST_TEST_REQUIRE(stored.ok());
  clock.Advance(hours(1));
  BOOST_TEST(schedule.Review(&*stored).dsn.empty());
  BOOST_TEST(schedule.Record(&*stored, {Deferred(0)}).dsn.empty());
}

BOOST_AUTO_TEST_CASE(delay_warning_time_zero_sends_none) {
  FakeClock clock(kArrivalTime);
  DeliverySettings settings;
  settings.delay_warning_time = Duration::zero();
  DeliverySchedule schedule(&clock, settings);
  Envelope e = Message({0});
  schedule.Record(&e, {Deferred(0)});
  for (int hour = 0; hour < 24; ++hour) {
    clock.Advance(hours(1));
    ScheduleDecision decision = schedule.Record(&e, {Deferred(0)});
    BOOST_TEST(decision.dsn.empty());
    BOOST_TEST(
        (*decision.next_event == clock.WallNow() + RetryDelay(e.recipients[0].attempts, settings)));
  }
  BOOST_TEST(!e.delay_warning_sent);
}

BOOST_AUTO_TEST_CASE(due_messages_come_out_earliest_first) {
  FakeClock clock;
  DueMessages due;
  due.Schedule("B", clock.Now() + minutes(2));
  due.Schedule("A", clock.Now() + minutes(1));
  BOOST_TEST((due.NextDue() == clock.Now() + minutes(1)));
  BOOST_TEST(due.TakeDue(clock.Now()).empty());
  clock.Advance(minutes(1));
  BOOST_TEST((due.TakeDue(clock.Now()) == Ids{"A"}));
  clock.Advance(minutes(5));
  BOOST_TEST((due.TakeDue(clock.Now()) == Ids{"B"}));
  BOOST_TEST(!due.NextDue().has_value());
}

BOOST_AUTO_TEST_CASE(rescheduling_moves_and_cancel_removes) {
  FakeClock clock;
  DueMessages due;
  due.Schedule("A", clock.Now() + seconds(10));
  due.Schedule("A", clock.Now() + hours(1));
  due.Schedule("B", clock.Now() + seconds(10));
  due.Cancel("B");
  due.Cancel("never-scheduled");
  BOOST_TEST(due.size() == 1u);
  clock.Advance(minutes(1));
  BOOST_TEST(due.TakeDue(clock.Now()).empty());
  BOOST_TEST((due.TakeAll() == Ids{"A"}));
  BOOST_TEST(due.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
