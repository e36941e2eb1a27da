// lib/smtp/session_log.cc — see lib/smtp/session_log.h.
#include "lib/smtp/session_log.h"

#include <algorithm>

#include "lib/base/printable.h"

namespace postern {
namespace {

// A Message-ID or a HELO name longer than this is cut in the log.
constexpr size_t kMaxLoggedField = 256;

struct VerbName {
  Verb verb;
  const char* name;
};

// Postfix's order (smtpd.c's command table), then postern's own verbs.
constexpr VerbName kOrder[] = {
    {Verb::kHelo, "helo"},       {Verb::kEhlo, "ehlo"},       {Verb::kStarttls, "starttls"},
    {Verb::kAuth, "auth"},       {Verb::kMail, "mail"},       {Verb::kRcpt, "rcpt"},
    {Verb::kData, "data"},       {Verb::kBdat, "bdat"},       {Verb::kRset, "rset"},
    {Verb::kNoop, "noop"},       {Verb::kVrfy, "vrfy"},       {Verb::kExpn, "expn"},
    {Verb::kHelp, "help"},       {Verb::kXexch50, "xexch50"}, {Verb::kQuit, "quit"},
    {Verb::kUnknown, "unknown"},
};

// Postfix writes "0/0" for a session without commands.
std::string Tallied(uint32_t succeeded, uint32_t total) {
  if (succeeded == total && total > 0) return std::to_string(total);
  return std::to_string(succeeded) + "/" + std::to_string(total);
}

// "550 5.7.1 " of "550 5.7.1 Unable to relay": the code and the enhanced
// code, each with its space.
size_t CodesLength(std::string_view reply) {
  size_t length = reply.size() > 4 && reply[3] == ' ' ? 4 : 0;
  size_t space = reply.find(' ', length);
  std::string_view next =
      reply.substr(length, space == std::string_view::npos ? 0 : space - length);
  const bool enhanced = !next.empty() && next.find_first_not_of("0123456789.") == next.npos &&
                        std::count(next.begin(), next.end(), '.') == 2;
  return enhanced ? space + 1 : length;
}

std::string ReplyNaming(const RejectLogFields& fields) {
  std::string reply = Printable(fields.reply);
  if (fields.stage != "RCPT" || !fields.to) return reply;
  const size_t codes = CodesLength(reply);
  return reply.substr(0, codes) + "<" + Printable(*fields.to) + ">: " + reply.substr(codes);
}

}  // namespace

std::string ClientLogName(std::string_view hostname, std::string_view address) {
  return (hostname.empty() ? std::string("unknown") : Printable(hostname, kMaxLoggedField)) + "[" +
         Printable(address) + "]";
}

std::string ConnectLogLine(std::string_view client, uint16_t port, std::string_view listener) {
  return "connect from " + std::string(client) + ":" + std::to_string(port) + " to listener " +
         Printable(listener);
}

void CommandCounts::Count(Verb verb, bool succeeded) {
  // A line with NUL or a bare CR or LF is no command postern knows.
  if (verb == Verb::kInvalidCharacters) verb = Verb::kUnknown;
  Tally& tally = tallies_[static_cast<size_t>(verb)];
  ++tally.total;
  if (succeeded) ++tally.succeeded;
}

std::string CommandCounts::Text() const {
  std::string text;
  uint32_t total = 0;
  uint32_t succeeded = 0;
  for (const VerbName& entry : kOrder) {
    const Tally& tally = tallies_[static_cast<size_t>(entry.verb)];
    if (tally.total == 0) continue;
    text += " " + std::string(entry.name) + "=" + Tallied(tally.succeeded, tally.total);
    total += tally.total;
    succeeded += tally.succeeded;
  }
  return text + " commands=" + Tallied(succeeded, total);
}

std::string DisconnectLogLine(std::string_view client, const CommandCounts& counts) {
  return "disconnect from " + std::string(client) + counts.Text();
}

std::string ClientLogLine(std::string_view queue_id, std::string_view client,
                          std::string_view sasl_method, std::string_view sasl_username) {
  std::string line = std::string(queue_id) + ": client=" + std::string(client);
  if (!sasl_method.empty() && !sasl_username.empty())
    line += ", sasl_method=" + Printable(sasl_method) +
            ", sasl_username=" + Printable(sasl_username, kMaxLoggedField);
  return line;
}

std::string MessageIdLogLine(std::string_view queue_id, std::string_view message_id) {
  return std::string(queue_id) + ": message-id=" + Printable(message_id, kMaxLoggedField);
}

std::string RejectLogLine(const RejectLogFields& fields) {
  std::string line = fields.queue_id.empty() ? "NOQUEUE" : std::string(fields.queue_id);
  line += ": reject: " + std::string(fields.stage) + " from " + std::string(fields.client) + ": " +
          ReplyNaming(fields) + ";";
  if (fields.from) line += " from=<" + Printable(*fields.from) + ">";
  if (fields.to) line += " to=<" + Printable(*fields.to) + ">";
  line += fields.extended ? " proto=ESMTP" : " proto=SMTP";
  if (!fields.helo.empty()) line += " helo=<" + Printable(fields.helo, kMaxLoggedField) + ">";
  return line;
}

std::string ReplyLogText(std::string_view wire) {
  std::string line(wire.substr(0, wire.find("\r\n")));
  if (line.size() > 3 && line[3] == '-') line[3] = ' ';
  return line;
}

std::string SaslFailureLogLine(std::string_view client, std::string_view mechanism,
                               std::string_view reason, std::string_view username) {
  std::string line = std::string(client) + ": SASL " + Printable(mechanism) +
                     " authentication failed: " + Printable(reason);
  if (!username.empty()) line += ", sasl_username=" + Printable(username, kMaxLoggedField);
  return line;
}

}  // namespace postern
