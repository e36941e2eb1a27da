// lib/smtp/session_log.h — smtpd's log lines, in Postfix's shape.
//
// Pure functions of what the session knows, so that log readers written
// for Postfix (pflogsumm, fail2ban, grep habits) read postern's smtpd:
//   connect from HOST[ADDR]:PORT to listener NAME
//   disconnect from HOST[ADDR] ehlo=1 starttls=1 auth=1 mail=1 rcpt=0/1 data=1 quit=1 commands=6/7
//   QUEUEID: client=HOST[ADDR], sasl_method=LOGIN, sasl_username=alice
//   QUEUEID: message-id=<...>
//   NOQUEUE: reject: RCPT from HOST[ADDR]: 550 5.7.1 ...; from=<a@b> to=<c@d> proto=ESMTP helo=<h>
//   warning: HOST[ADDR]: SASL LOGIN authentication failed: REASON, sasl_username=alice
// HOST is the client's name from the reverse lookup, or "unknown" (as
// Postfix writes a name it has not verified). The connect line carries
// the client's port (Postfix's smtpd_client_port_logging shape) and the
// listener. Outside text (addresses, HELO names, user names, the
// Message-ID) is made printable here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/smtp/smtp_command.h"

namespace postern {

// "mail.example.net[192.0.2.1]", or "unknown[192.0.2.1]" without a name.
std::string ClientLogName(std::string_view hostname, std::string_view address);

std::string ConnectLogLine(std::string_view client, uint16_t port, std::string_view listener);

// The commands of one session and how many of each succeeded, for the
// disconnect line. A command succeeded when its final reply (the one
// after any 334 or 354) was 2xx: DATA counts when the message was queued,
// AUTH when the client authenticated.
class CommandCounts {
 public:
  void Count(Verb verb, bool succeeded);
  // " ehlo=1 mail=1 rcpt=0/1 commands=2/3" in Postfix's order (helo, ehlo,
  // starttls, auth, mail, rcpt, data, bdat, rset, noop, vrfy, expn, help,
  // xexch50, quit, unknown): each verb used, as N when all N succeeded,
  // else as SUCCEEDED/N; " commands=0/0" when no command came.
  std::string Text() const;

 private:
  struct Tally {
    uint32_t total = 0;
    uint32_t succeeded = 0;
  };
  static constexpr size_t kVerbs = static_cast<size_t>(Verb::kUnknown) + 1;
  std::array<Tally, kVerbs> tallies_{};
};

std::string DisconnectLogLine(std::string_view client, const CommandCounts& counts);

// QUEUEID: client=HOST[ADDR], with ", sasl_method=M, sasl_username=U" once
// the client has authenticated (mechanism and user not empty).
std::string ClientLogLine(std::string_view queue_id, std::string_view client,
                          std::string_view sasl_method, std::string_view sasl_username);

std::string MessageIdLogLine(std::string_view queue_id, std::string_view message_id);

// A refused MAIL, RCPT, DATA, END-OF-MESSAGE (the end of the content) or
// CONNECT: "QUEUEID: reject: STAGE from CLIENT: REPLY; from=<> to=<>
// proto=ESMTP helo=<>". queue_id empty: NOQUEUE. reply is the first line
// as sent ("550 5.7.1 Unable to relay"); for RCPT the recipient goes before
// its text, as in Postfix's replies ("550 5.7.1 <c@d>: Unable to relay"),
// which is where pflogsumm looks for the reason. from and to are left out
// when unknown, helo when there was none.
struct RejectLogFields {
  std::string_view queue_id = {};
  std::string_view stage = {};
  std::string_view client = {};
  std::string_view reply = {};
  std::optional<std::string_view> from = std::nullopt;
  std::optional<std::string_view> to = std::nullopt;
  bool extended = false;  // proto=ESMTP after EHLO, else SMTP
  std::string_view helo = {};
};
std::string RejectLogLine(const RejectLogFields& fields);

// The first line of a reply as written on the wire ("550-5.7.1 x\r\n...")
// as a log shows it ("550 5.7.1 x").
std::string ReplyLogText(std::string_view wire);

// Without its "warning: " prefix, which the logger adds.
std::string SaslFailureLogLine(std::string_view client, std::string_view mechanism,
                               std::string_view reason, std::string_view username);

}  // namespace postern
