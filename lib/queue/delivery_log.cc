// lib/queue/delivery_log.cc — see lib/queue/delivery_log.h.
#include "lib/queue/delivery_log.h"

#include <algorithm>

#include "lib/base/printable.h"

namespace postern {

std::string FormatDelay(Duration delay) {
  const int64_t ms = std::max<int64_t>(delay.count(), 0);
  if (ms >= 10'000) return std::to_string(ms / 1000);
  // Below 10 s: two significant digits, at most two decimals, rounded.
  const int64_t hundredths = ms >= 1000 ? (ms + 50) / 100 * 10 : (ms + 5) / 10;
  std::string text = std::to_string(hundredths / 100);
  const int64_t fraction = hundredths % 100;
  if (fraction != 0) {
    text += '.';
    text += static_cast<char>('0' + fraction / 10);
    if (fraction % 10 != 0) text += static_cast<char>('0' + fraction % 10);
  }
  return text;
}

std::string_view VerdictLogName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kDelivered:
    case Verdict::kRelayed:
    case Verdict::kRelayedNoDsn:
      return "sent";
    case Verdict::kFailed:
      return "bounced";
    case Verdict::kDeferred:
      return "deferred";
  }
  return "deferred";
}

std::string ArrivalLogLine(const Envelope& envelope) {
  std::string line = envelope.queue_id + ": from=<" + Printable(envelope.sender) +
                     ">, size=" + std::to_string(envelope.size) +
                     ", nrcpt=" + std::to_string(envelope.recipients.size());
  if (!envelope.auth_mailbox.empty()) line += ", auth=" + Printable(envelope.auth_mailbox);
  return line + " (queue active)";
}

std::string DeliveryLogLine(std::string_view queue_id, std::string_view address,
                            std::string_view relay, const AttemptDelays& delays,
                            const AttemptOutcome& attempt, std::string_view detail) {
  return std::string(queue_id) + ": to=<" + Printable(address) + ">, relay=" + Printable(relay) +
         ", delay=" + FormatDelay(delays.Total()) + ", delays=" + FormatDelay(delays.queued) + "/" +
         FormatDelay(delays.waiting) + "/" + FormatDelay(delays.setup) + "/" +
         FormatDelay(delays.transmission) + ", dsn=" + StatusOf(attempt) +
         ", status=" + std::string(VerdictLogName(attempt.verdict)) + " (" + Printable(detail) +
         ")";
}

}  // namespace postern
