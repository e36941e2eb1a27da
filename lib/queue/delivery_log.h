// lib/queue/delivery_log.h — the log line of one delivery attempt, in Postfix's form.
//
// "QUEUEID: to=<ADDRESS>, relay=RELAY, delay=D, delays=a/b/c/d, dsn=X.Y.Z,
// status=sent|deferred|bounced (DETAIL)", which log readers written for
// Postfix (pflogsumm, grep habits) understand. As in Postfix, ", orig_to=<ORIG>"
// follows the address when the recipient was given under another spelling:
// its ORCPT is of type rfc822 and names another address (<Postmaster>, or
// Alice@ recorded as user alice, lib/smtp/local_recipients.h). The stages of delays=:
//   a  in the queue before this attempt was handed out: from the durable
//      commit (for a message queued before qmgr started, from its arrival),
//      back-off included;
//   b  handed out, waiting for a delivery thread or an SMTP connection (the
//      MX lookup included);
//   c  setting up the new connection the message went out on: connect,
//      greeting, EHLO, STARTTLS, AUTH (0 for a connection already open and
//      for Maildir delivery);
//   d  transmission: from the message's start until its outcome.
// delay= is their sum. Times are written as Postfix writes them: whole
// seconds in full, below 10 s with two significant digits at most two
// decimals, and "0" below 10 ms.
#pragma once

#include <string>
#include <string_view>

#include "lib/base/clock.h"
#include "lib/queue/delivery_schedule.h"
#include "lib/queue/envelope.h"

namespace postern {

struct AttemptDelays {
  Duration queued{};        // a
  Duration waiting{};       // b
  Duration setup{};         // c
  Duration transmission{};  // d
  Duration Total() const { return queued + waiting + setup + transmission; }
};

// "0", "0.01", "0.1", "1.2", "12", "1234".
std::string FormatDelay(Duration delay);

// sent, deferred or bounced.
std::string_view VerdictLogName(Verdict verdict);

// A message committed to the queue, as Postfix's qmgr logs it (pflogsumm
// takes the size from it): "QUEUEID: from=<SENDER>, size=N, nrcpt=N
// (queue active)", with ", auth=MAILBOX" before the parenthesis when the
// client gave AUTH= (RFC 4954 5 lets it be logged).
std::string ArrivalLogLine(const Envelope& envelope);

// The line without the logger's prefix. Addresses, relay and detail are made
// printable here.
std::string DeliveryLogLine(std::string_view queue_id, const Recipient& recipient,
                            std::string_view relay, const AttemptDelays& delays,
                            const AttemptOutcome& attempt, std::string_view detail);

}  // namespace postern
