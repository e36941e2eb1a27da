// lib/queue/delivery_log.cc — see lib/queue/delivery_log.h.
#include "lib/queue/delivery_log.h"

#include <algorithm>

#include "lib/base/ascii.h"
#include "lib/base/printable.h"
#include "lib/smtp/xtext.h"

namespace postern {
namespace {

// The address an rfc822 ORCPT names when it is not the recipient's own;
// empty otherwise.
std::string OriginalAddress(const Recipient& recipient) {
  constexpr std::string_view kType = "rfc822;";
  std::string_view orcpt = recipient.orcpt;
  if (orcpt.size() <= kType.size() || !AsciiEqualsIgnoreCase(orcpt.substr(0, kType.size()), kType))
    return {};
  std::optional<std::string> address = DecodeXtext(orcpt.substr(kType.size()));
  if (!address || *address == recipient.address) return {};
  return *address;
}

}  // namespace

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

std::string DeliveryLogLine(std::string_view queue_id, const Recipient& recipient,
                            std::string_view relay, const AttemptDelays& delays,
                            const AttemptOutcome& attempt, std::string_view detail) {
  std::string line = std::string(queue_id) + ": to=<" + Printable(recipient.address) + ">";
  if (std::string original = OriginalAddress(recipient); !original.empty())
    line += ", orig_to=<" + Printable(original) + ">";
  return line + ", relay=" + Printable(relay) + ", delay=" + FormatDelay(delays.Total()) +
         ", delays=" + FormatDelay(delays.queued) + "/" + FormatDelay(delays.waiting) + "/" +
         FormatDelay(delays.setup) + "/" + FormatDelay(delays.transmission) +
         ", dsn=" + StatusOf(attempt) + ", status=" + std::string(VerdictLogName(attempt.verdict)) +
         " (" + Printable(detail) + ")";
}

}  // namespace postern
