// lib/queue/delivery_schedule.h — when each recipient of a queued message is
// tried, when it is given up, and which DSN each event asks for.
//
// The queue's decisions, kept pure so that a FakeClock drives every one of
// them; qmgr only carries them out (attempts, DSNs written in the same
// transaction as the states, the message removed once finished). Works on
// the Envelope itself: what it decides is stored in the recipients
// (state, status, attempts, last attempt) and in delay_warning_sent, so it
// holds across a restart of qmgr. Time is the Clock's WallNow(), because
// an envelope's arrival and last attempt are calendar times.
//
// Decisions:
//   - Back-off: a pending recipient is due at once when never tried, else
//     RetryDelay(attempts) after its last attempt: minimal_backoff_time,
//     doubling up to maximal_backoff_time (lib/base/backoff.h), per
//     recipient, so a recipient deferred once is not held back by another
//     deferred five times.
//   - Lifetime: at arrival + maximal_queue_lifetime every recipient still
//     pending fails with status 4.4.7 (RFC 3463 "delivery time expired"),
//     keeping the reply of its last attempt for the DSN's Diagnostic-Code.
//     The expiry is an event of its own (next_event names it): a recipient
//     waiting for its next try is not tried once more after it.
//   - Delay warning: once per message, at arrival + delay_warning_time
//     (0: never), the recipients still pending that asked for DELAY
//     notices (explicitly or by default) get one "delayed" DSN; the
//     decision is stored, so a restart does not repeat it.
//   - One DSN per event at most: the recipients that an attempt's outcomes,
//     the expiry or the warning finished or delayed, each with its Action,
//     in one report (RFC 3464 allows several actions per report), for
//     those WantsDsn() (lib/queue/dsn_report.h) selects: never for a
//     sender of <>, never for NOTIFY=NEVER, FAILURE,DELAY when NOTIFY was
//     not given, "relayed" for SUCCESS when the next hop had no DSN.
//
// Not thread-safe; the Clock must outlive the schedule.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/queue/dsn_report.h"
#include "lib/queue/envelope.h"

namespace postern {

// The defaults for the keys of the same names.
struct DeliverySettings {
  Duration minimal_backoff_time = std::chrono::minutes(5);
  Duration maximal_backoff_time = std::chrono::hours(1);
  Duration maximal_queue_lifetime = std::chrono::hours(5 * 24);
  Duration delay_warning_time = std::chrono::hours(4);  // 0: no delay DSNs
};

// The settings of the keys of config.
DeliverySettings DeliverySettingsFrom(const Config& config);

// The wait after the n-th attempt in a row that did not deliver (n >= 1):
// minimal_backoff_time, doubling, never more than maximal_backoff_time.
Duration RetryDelay(int failed_attempts, const DeliverySettings& settings);

// What one attempt made of one recipient.
enum class Verdict : uint8_t {
  kDelivered,     // final delivery (its Maildir): Action "delivered"
  kRelayed,       // taken by a next hop that offered DSN and was given NOTIFY and
                  // ORCPT: any further DSN is its job (RFC 3461)
  kRelayedNoDsn,  // taken by a next hop without DSN: Action "relayed" (RFC 3461)
  kDeferred,      // a failure that may pass: tried again after the back-off
  kFailed,        // a permanent failure
};

struct AttemptOutcome {
  size_t index = 0;  // into Envelope::recipients
  Verdict verdict = Verdict::kDeferred;
  std::string reply;        // the next hop's reply, or the local reason
  std::string status;       // RFC 3463 X.Y.Z; empty: 2.0.0, 4.0.0 or 5.0.0 by the verdict
  std::string remote_mta;   // the host that answered; empty for local delivery
  bool smtp_reply = false;  // reply is remote_mta's SMTP reply
};

// outcome's status, or its verdict's: 2.0.0, 4.0.0 or 5.0.0.
std::string StatusOf(const AttemptOutcome& outcome);

struct ScheduleDecision {
  // The recipients one DSN reports, each with its Action; empty: no DSN.
  std::vector<DsnRecipient> dsn;
  // Every recipient is final: the message goes once the DSN is queued.
  bool finished = false;
  // When Review() has something to do next (an attempt due, the warning,
  // the expiry); nothing once finished.
  std::optional<WallTime> next_event;
};

class DeliverySchedule {
 public:
  DeliverySchedule(const Clock* clock, DeliverySettings settings)
      : clock_(clock), settings_(settings) {}

  const DeliverySettings& settings() const { return settings_; }

  // The indices of the pending recipients whose attempt is due now.
  std::vector<size_t> Due(const Envelope& envelope) const;
  // When a pending recipient is due: at once when never tried, else its
  // back-off after its last attempt.
  WallTime NextTry(const Recipient& recipient) const;
  // When the message's pending recipients fail (a delay DSN's
  // Will-Retry-Until).
  WallTime Expiry(const Envelope& envelope) const;
  // When Review() has something to do without an attempt: the expiry, or
  // the delay warning when it is still to come.
  WallTime NextReview(const Envelope& envelope) const;

  // Records the outcomes of one attempt (outcomes for a recipient that is
  // no longer pending, or beyond the list, change nothing: a repeated
  // report is harmless), then reviews the message as Review() does.
  ScheduleDecision Record(Envelope* envelope, const std::vector<AttemptOutcome>& outcomes) const;
  // Without an attempt: the expiry and the delay warning, when due.
  ScheduleDecision Review(Envelope* envelope) const;

 private:
  void Expire(Envelope* envelope, ScheduleDecision* decision) const;
  void WarnOfDelay(Envelope* envelope, ScheduleDecision* decision) const;
  void Conclude(const Envelope& envelope, ScheduleDecision* decision) const;

  const Clock* clock_;
  DeliverySettings settings_;
};

// The queue ids waiting for a due time, handed out when it comes (qmgr's
// retry timer). Not thread-safe.
class DueMessages {
 public:
  // Sets (or moves) the due time of queue_id.
  void Schedule(const std::string& queue_id, TimePoint due);
  void Cancel(const std::string& queue_id);
  // Removes and returns every id due at or before now, earliest first.
  std::vector<std::string> TakeDue(TimePoint now);
  // Removes and returns every id (a flush).
  std::vector<std::string> TakeAll();
  // The earliest due time, or nothing when no id waits.
  std::optional<TimePoint> NextDue() const;
  size_t size() const { return due_by_id_.size(); }

 private:
  std::multimap<TimePoint, std::string> by_time_;
  std::unordered_map<std::string, std::multimap<TimePoint, std::string>::iterator> due_by_id_;
};

}  // namespace postern
