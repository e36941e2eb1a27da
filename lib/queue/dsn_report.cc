// lib/queue/dsn_report.cc — see lib/queue/dsn_report.h.
#include "lib/queue/dsn_report.h"

#include <algorithm>

#include "lib/base/ascii.h"
#include "lib/base/printable.h"
#include "lib/smtp/received_header.h"
#include "lib/smtp/xtext.h"

namespace postern {
namespace {

// RFC 5322 2.1.1: 998 octets a line; field values are capped well below
// so that a name and a prefix fit beside them.
constexpr size_t kMaxLine = 998;
constexpr size_t kMaxFieldText = 900;

bool IsPrintableAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// Outside text (addresses, replies, host names) as one field value: as it is
// when it is printable ASCII, else shown by Printable(); a reply's line
// breaks become spaces; capped at kMaxFieldText octets.
std::string FieldText(std::string_view text) {
  std::string flat;
  for (size_t i = 0; i < text.size(); ++i) {
    bool line_break = text[i] == '\r' || text[i] == '\n';
    if (text.substr(i, 2) == "\r\n") ++i;
    flat.push_back(line_break ? ' ' : text[i]);
  }
  std::string safe = IsPrintableAscii(flat) ? flat : Printable(flat);
  if (safe.size() > kMaxFieldText) safe = safe.substr(0, kMaxFieldText) + "...";
  return safe;
}

// RFC 3461 4.2, 4.4: ENVID and ORCPT decode to printable US-ASCII; a value
// that does not is kept as received (xtext is printable US-ASCII itself).
std::string DecodedXtext(std::string_view xtext) {
  std::optional<std::string> decoded = DecodeXtext(xtext);
  return FieldText(decoded && IsPrintableAscii(*decoded) ? *decoded : std::string(xtext));
}

// "rfc822;bob%40x" is address type ";" xtext.
std::string OriginalRecipient(std::string_view orcpt) {
  size_t semicolon = orcpt.find(';');
  if (semicolon == std::string_view::npos) return FieldText(orcpt);
  return FieldText(orcpt.substr(0, semicolon)) + ";" + DecodedXtext(orcpt.substr(semicolon + 1));
}

const char* ActionName(DsnAction action) {
  switch (action) {
    case DsnAction::kFailed:
      return "failed";
    case DsnAction::kDelayed:
      return "delayed";
    case DsnAction::kDelivered:
      return "delivered";
    case DsnAction::kRelayed:
      return "relayed";
    case DsnAction::kExpanded:
      return "expanded";
  }
  return "failed";
}

const char* DefaultStatus(DsnAction action) {
  switch (action) {
    case DsnAction::kFailed:
      return "5.0.0";
    case DsnAction::kDelayed:
      return "4.0.0";
    case DsnAction::kDelivered:
    case DsnAction::kRelayed:
    case DsnAction::kExpanded:
      return "2.0.0";
  }
  return "5.0.0";
}

// The gravest action reported names the report: the enum is in that order.
DsnAction GravestAction(const std::vector<DsnRecipient>& recipients) {
  DsnAction gravest = DsnAction::kExpanded;
  for (const DsnRecipient& r : recipients) gravest = std::min(gravest, r.action);
  return gravest;
}

const char* Subject(DsnAction gravest) {
  switch (gravest) {
    case DsnAction::kFailed:
      return "Undelivered Mail Returned to Sender";
    case DsnAction::kDelayed:
      return "Delayed Mail (still being retried)";
    case DsnAction::kDelivered:
      return "Successful Mail Delivery Report";
    case DsnAction::kRelayed:
      return "Mail Relayed";
    case DsnAction::kExpanded:
      return "Mail Expanded";
  }
  return "Undelivered Mail Returned to Sender";
}

const char* Introduction(DsnAction gravest) {
  switch (gravest) {
    case DsnAction::kFailed:
      return "Your message could not be delivered to one or more recipients.";
    case DsnAction::kDelayed:
      return "Your message has not been delivered yet to one or more recipients.\r\n"
             "The mail system keeps trying; you need not send it again.";
    case DsnAction::kDelivered:
    case DsnAction::kRelayed:
    case DsnAction::kExpanded:
      return "This is the delivery report you asked for.";
  }
  return "";
}

// RFC 6522: 7-bit text is US-ASCII without NUL in CRLF lines of at most 998
// octets (and a non-empty text ends with its CRLF).
bool IsSevenBitText(std::string_view text) {
  size_t line_length = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0 || c > 127) return false;
    if (c == '\r') {
      if (i + 1 >= text.size() || text[i + 1] != '\n') return false;
      line_length = 0;
      ++i;
      continue;
    }
    if (c == '\n' || ++line_length > kMaxLine) return false;
  }
  return text.empty() || text.back() == '\n';
}

// The header section: up to and with the CRLF of its last field; the whole
// content when it has no body.
std::string_view HeaderSection(std::string_view content) {
  if (content.substr(0, 2) == "\r\n") return content.substr(0, 0);
  size_t end = content.find("\r\n\r\n");
  return end == std::string_view::npos ? content : content.substr(0, end + 2);
}

struct ReturnedPart {
  std::string_view bytes;
  bool whole = false;
  bool included = false;
  std::string note;  // for the text part: what is attached, and why not more
};

ReturnedPart ChooseReturnedPart(const Envelope& original, std::string_view content,
                                const DsnRequest& request, DsnAction gravest) {
  bool want_whole = original.ret == DsnRet::kFull ||
                    (original.ret == DsnRet::kUnspecified && gravest == DsnAction::kFailed);
  std::string limit = std::to_string(request.return_size_limit);
  ReturnedPart part;
  std::string why_not_whole;
  if (want_whole) {
    if (content.size() > request.return_size_limit)
      why_not_whole = "the message is larger than " + limit + " bytes";
    else if (!IsSevenBitText(content))
      why_not_whole = "the message is not 7-bit text, which this report does not carry";
    else
      return ReturnedPart{content, true, true, "Your message is attached."};
  }
  std::string_view headers = HeaderSection(content);
  std::string reason = why_not_whole.empty() ? "" : " (" + why_not_whole + ")";
  if (headers.size() > request.return_size_limit)
    return ReturnedPart{
        {},
        false,
        false,
        "Your message is not attached: its header section is larger than " + limit + " bytes."};
  if (!IsSevenBitText(headers))
    return ReturnedPart{
        {},
        false,
        false,
        "Your message is not attached: its header section is not 7-bit text, which this report "
        "does not carry."};
  return ReturnedPart{headers, false, true,
                      "The header section of your message is attached" + reason + "."};
}

std::string Date(int64_t seconds) { return FormatRfc5322Date(seconds); }

std::string StatusOf(const Recipient& r, DsnAction action) {
  return r.status.empty() ? DefaultStatus(action) : FieldText(r.status);
}

// One recipient in words: "<bob@x>: delivery failed: 550 5.1.1 no such user
// (mx.example.net)".
std::string RecipientLine(const Recipient& r, DsnAction action, const DsnRequest& request) {
  std::string line = "<" + FieldText(r.address) + ">: ";
  switch (action) {
    case DsnAction::kFailed:
      line += r.status == "4.4.7" ? "delivery time expired, given up" : "delivery failed";
      break;
    case DsnAction::kDelayed:
      line += "not delivered yet, tried until " + Date(ToEpochSeconds(request.will_retry_until));
      break;
    case DsnAction::kDelivered:
      line += "delivered";
      break;
    case DsnAction::kRelayed:
      line += "passed on to a mail system that sends no delivery reports";
      break;
    case DsnAction::kExpanded:
      line += "expanded";
      break;
  }
  if (!r.last_error.empty()) line += ": " + FieldText(r.last_error);
  if (!r.remote_mta.empty()) line += " (" + FieldText(r.remote_mta) + ")";
  if (line.size() > kMaxFieldText) line = line.substr(0, kMaxFieldText) + "...";
  return line + "\r\n";
}

std::string TextPart(const Envelope& original, const DsnRequest& request, DsnAction gravest,
                     const ReturnedPart& returned) {
  std::string text = "This is the mail system at host " + FieldText(request.myhostname) +
                     ".\r\n\r\n" + Introduction(gravest) + "\r\n\r\n";
  for (const DsnRecipient& r : request.recipients)
    text += RecipientLine(original.recipients[r.index], r.action, request);
  return text + "\r\n" + returned.note + "\r\n";
}

// RFC 3464 2.2 and 2.3.
std::string StatusPart(const Envelope& original, const DsnRequest& request) {
  std::string status = "Reporting-MTA: dns; " + FieldText(request.myhostname) + "\r\n";
  if (!original.envid.empty())
    status += "Original-Envelope-Id: " + DecodedXtext(original.envid) + "\r\n";
  status += "Arrival-Date: " + Date(original.arrival_time) + "\r\n";
  for (const DsnRecipient& entry : request.recipients) {
    const Recipient& r = original.recipients[entry.index];
    status += "\r\nFinal-Recipient: rfc822;" + FieldText(r.address) + "\r\n";
    if (!r.orcpt.empty()) status += "Original-Recipient: " + OriginalRecipient(r.orcpt) + "\r\n";
    status += std::string("Action: ") + ActionName(entry.action) + "\r\n";
    status += "Status: " + StatusOf(r, entry.action) + "\r\n";
    if (!r.remote_mta.empty()) status += "Remote-MTA: dns; " + FieldText(r.remote_mta) + "\r\n";
    if (!r.last_error.empty())
      status += std::string("Diagnostic-Code: ") + (r.smtp_reply ? "smtp; " : "x-postern; ") +
                FieldText(r.last_error) + "\r\n";
    if (r.last_attempt != 0) status += "Last-Attempt-Date: " + Date(r.last_attempt) + "\r\n";
    if (entry.action == DsnAction::kDelayed)
      status += "Will-Retry-Until: " + Date(ToEpochSeconds(request.will_retry_until)) + "\r\n";
  }
  return status;
}

// RFC 2046 5.1.1 bchars; a queue id has only letters, digits and dots.
std::string Boundary(const DsnRequest& request, std::string_view parts) {
  std::string id;
  for (char c : request.queue_id.substr(0, 40))
    id.push_back(IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '.' ? c : '_');
  std::string base = "=_postern_" + id;
  std::string boundary = base;
  for (int n = 0; parts.find(boundary) != std::string_view::npos; ++n)
    boundary = base + "." + std::to_string(n);
  return boundary;
}

}  // namespace

bool WantsDsn(const Envelope& envelope, const Recipient& recipient, DsnAction action) {
  if (envelope.sender.empty() || (recipient.notify & kNotifyNever) != 0) return false;
  uint8_t notify = recipient.notify == 0 ? (kNotifyFailure | kNotifyDelay) : recipient.notify;
  switch (action) {
    case DsnAction::kFailed:
      return (notify & kNotifyFailure) != 0;
    case DsnAction::kDelayed:
      return (notify & kNotifyDelay) != 0;
    case DsnAction::kDelivered:
    case DsnAction::kRelayed:
    case DsnAction::kExpanded:
      return (notify & kNotifySuccess) != 0;
  }
  return false;
}

std::string WriteDsn(const Envelope& original, std::string_view content,
                     const DsnRequest& request) {
  DsnAction gravest = GravestAction(request.recipients);
  ReturnedPart returned = ChooseReturnedPart(original, content, request, gravest);
  std::string text = TextPart(original, request, gravest, returned);
  std::string status = StatusPart(original, request);
  std::string boundary = Boundary(request, text + status + std::string(returned.bytes));
  std::string host = FieldText(request.myhostname);

  std::string dsn;
  dsn += "From: MAILER-DAEMON@" + host + " (Mail Delivery System)\r\n";
  dsn += "To: " + FieldText(original.sender) + "\r\n";
  dsn += std::string("Subject: ") + Subject(gravest) + "\r\n";
  dsn += "Date: " + Date(ToEpochSeconds(request.date)) + "\r\n";
  dsn += "Message-ID: <" + FieldText(request.queue_id) + "@" + host + ">\r\n";
  dsn += "Auto-Submitted: auto-replied\r\n";
  dsn += "MIME-Version: 1.0\r\n";
  dsn += "Content-Type: multipart/report; report-type=delivery-status;\r\n";
  dsn += "\tboundary=\"" + boundary + "\"\r\n";
  dsn += "\r\nThis is a MIME-encapsulated message.\r\n";
  dsn += "\r\n--" + boundary + "\r\n";
  dsn += "Content-Description: Notification\r\n";
  dsn += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  dsn += text;
  dsn += "\r\n--" + boundary + "\r\n";
  dsn += "Content-Description: Delivery report\r\n";
  dsn += "Content-Type: message/delivery-status\r\n\r\n";
  dsn += status;
  if (returned.included) {
    dsn += "\r\n--" + boundary + "\r\n";
    dsn += returned.whole ? "Content-Description: Original message\r\n"
                            "Content-Type: message/rfc822\r\n\r\n"
                          : "Content-Description: Original message headers\r\n"
                            "Content-Type: text/rfc822-headers\r\n\r\n";
    dsn += returned.bytes;
  }
  dsn += "\r\n--" + boundary + "--\r\n";
  return dsn;
}

Envelope DsnEnvelope(const Envelope& original, std::string queue_id, int64_t arrival_time,
                     uint64_t size) {
  Envelope dsn;
  dsn.queue_id = std::move(queue_id);
  Recipient to;
  to.address = original.sender;
  dsn.recipients.push_back(std::move(to));
  dsn.size = size;
  dsn.arrival_time = arrival_time;
  return dsn;
}

}  // namespace postern
