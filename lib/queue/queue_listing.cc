// lib/queue/queue_listing.cc — see lib/queue/queue_listing.h.
#include "lib/queue/queue_listing.h"

#include <algorithm>
#include <ctime>
#include <iterator>

#include "lib/base/printable.h"

namespace postern {
namespace {

// Room kept on every page for what closes it: the JSON array's end or the
// text listing's summary line.
constexpr size_t kPageEndRoom = 128;

WallTime FromSeconds(int64_t seconds) { return WallTime(std::chrono::seconds(seconds)); }

// The length of the well-formed UTF-8 sequence at the start of bytes
// (RFC 3629: shortest form, no surrogates, at most U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view bytes) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (bytes.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  return length;
}

void AppendUnicodeEscape(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += "\\u00";
  *out += kHex[c >> 4];
  *out += kHex[c & 0xf];
}

// Appends the escape of one byte below 0x80, or of a stray byte.
void AppendByte(unsigned char c, std::string* out) {
  switch (c) {
    case '"':
      *out += "\\\"";
      return;
    case '\\':
      *out += "\\\\";
      return;
    case '\b':
      *out += "\\b";
      return;
    case '\f':
      *out += "\\f";
      return;
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
  }
  if (c < 0x20 || c >= 0x7f)
    AppendUnicodeEscape(c, out);
  else
    *out += static_cast<char>(c);
}

std::string JsonTimeOrNull(std::optional<WallTime> time) {
  return time ? "\"" + Rfc3339(*time) + "\"" : "null";
}

std::string JsonStringOrNull(const std::string& text) {
  return text.empty() ? "null" : JsonString(text);
}

std::string RecipientJson(const Recipient& r, bool held, const DeliverySchedule& schedule,
                          WallTime now) {
  return "{\"address\": " + JsonString(r.address) + ", \"state\": \"" + RecipientStateName(r) +
         "\", \"attempts\": " + std::to_string(r.attempts) + ", \"last_attempt\": " +
         JsonTimeOrNull(r.last_attempt == 0
                            ? std::nullopt
                            : std::optional<WallTime>(FromSeconds(r.last_attempt))) +
         ", \"next_try\": " + JsonTimeOrNull(NextTryOf(r, held, schedule, now)) +
         ", \"status\": " + JsonStringOrNull(r.status) +
         ", \"last_reply\": " + JsonStringOrNull(r.last_error) +
         ", \"remote_mta\": " + JsonStringOrNull(r.remote_mta) + "}";
}

std::string MessageJson(const StoredMessage& m, const DeliverySchedule& schedule, WallTime now) {
  const Envelope& e = m.envelope;
  std::string json = "{\"id\": " + JsonString(e.queue_id) +
                     ", \"size\": " + std::to_string(e.size) + ", \"arrival\": \"" +
                     Rfc3339(e.arrival_time) + "\", \"sender\": " + JsonString(e.sender) +
                     ", \"held\": " + (m.held ? "true" : "false") + ", \"recipients\": [";
  for (size_t i = 0; i < e.recipients.size(); ++i) {
    if (i > 0) json += ", ";
    json += RecipientJson(e.recipients[i], m.held, schedule, now);
  }
  return json + "]}";
}

std::string Attempts(uint32_t attempts) {
  return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

// "(4.2.0 mx.example.net said: 451 try later)", or empty before any reply.
std::string LastReplyText(const Recipient& r) {
  if (r.status.empty() && r.last_error.empty()) return "";
  std::string text = "(" + Printable(r.status);
  if (!r.status.empty() && !r.last_error.empty()) text += " ";
  if (!r.remote_mta.empty()) text += Printable(r.remote_mta) + " said: ";
  return text + Printable(r.last_error) + ")";
}

std::string MessageText(const StoredMessage& m, const DeliverySchedule& schedule, WallTime now) {
  const Envelope& e = m.envelope;
  std::string text = e.queue_id + " " + (m.held ? "held" : "active") + " " +
                     std::to_string(e.size) + " " + Rfc3339(e.arrival_time) + " <" +
                     Printable(e.sender) + ">\n";
  for (const Recipient& r : e.recipients) {
    text += "  <" + Printable(r.address) + "> " + RecipientStateName(r);
    if (r.attempts > 0) text += ", " + Attempts(r.attempts);
    if (r.last_attempt != 0) text += ", last try " + Rfc3339(r.last_attempt);
    if (std::optional<WallTime> next = NextTryOf(r, m.held, schedule, now))
      text += ", next try " + Rfc3339(*next);
    text += "\n";
    if (std::string reply = LastReplyText(r); !reply.empty()) text += "      " + reply + "\n";
  }
  return text + "\n";
}

std::string Summary(const std::vector<StoredMessage>& messages) {
  if (messages.empty()) return "Mail queue is empty\n";
  uint64_t bytes = 0;
  for (const StoredMessage& m : messages) bytes += m.envelope.size;
  return "-- " + std::to_string(messages.size()) + " message(s), " + std::to_string(bytes) +
         " bytes\n";
}

const char* BodyName(BodyType body) {
  switch (body) {
    case BodyType::k7Bit:
      return "7BIT";
    case BodyType::k8BitMime:
      return "8BITMIME";
    case BodyType::kBinaryMime:
      return "BINARYMIME";
  }
  return "?";
}

const char* RetName(DsnRet ret) {
  switch (ret) {
    case DsnRet::kUnspecified:
      return "unspecified";
    case DsnRet::kFull:
      return "FULL";
    case DsnRet::kHeaders:
      return "HDRS";
  }
  return "?";
}

}  // namespace

std::string JsonString(std::string_view bytes) {
  std::string out = "\"";
  out.reserve(bytes.size() + 2);
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    const size_t length = c < 0x80 ? 0 : Utf8SequenceLength(bytes.substr(i));
    // U+0080..U+009F (C2 80..C2 9F): terminal controls, shown by number.
    if (length == 2 && c == 0xc2 && static_cast<unsigned char>(bytes[i + 1]) < 0xa0) {
      AppendUnicodeEscape(static_cast<unsigned char>(bytes[i + 1]), &out);
      i += 2;
    } else if (length > 0) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      AppendByte(c, &out);
      ++i;
    }
  }
  return out + "\"";
}

std::string Rfc3339(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return text;
}

std::string Rfc3339(WallTime time) {
  return Rfc3339(std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count());
}

const char* RecipientStateName(const Recipient& r) {
  switch (r.state) {
    case RecipientState::kPending:
      return r.attempts == 0 && r.last_error.empty() ? "pending" : "deferred";
    case RecipientState::kDelivered:
      return "delivered";
    case RecipientState::kFailed:
      return "failed";
  }
  return "?";
}

std::optional<WallTime> NextTryOf(const Recipient& recipient, bool held,
                                  const DeliverySchedule& schedule, WallTime now) {
  if (held || recipient.state != RecipientState::kPending) return std::nullopt;
  return std::max(schedule.NextTry(recipient), now);
}

Result<ListingPage> ListQueuePage(const std::vector<StoredMessage>& messages, ListingFormat format,
                                  const std::string& after, size_t max_bytes,
                                  const DeliverySchedule& schedule, WallTime now) {
  const bool json = format == ListingFormat::kJson;
  auto first = after.empty() ? messages.begin()
                             : std::upper_bound(messages.begin(), messages.end(), after,
                                                [](const std::string& id, const StoredMessage& m) {
                                                  return id < m.envelope.queue_id;
                                                });
  ListingPage page;
  if (json && after.empty()) page.text = "[";
  for (auto m = first; m != messages.end(); ++m) {
    std::string entry =
        json ? (after.empty() && m == first ? "\n" : ",\n") + MessageJson(*m, schedule, now)
             : MessageText(*m, schedule, now);
    if (page.text.size() + entry.size() + kPageEndRoom > max_bytes) {
      if (m != first) {
        page.more = std::prev(m)->envelope.queue_id;
        return page;
      }
      return Status::Error("message " + m->envelope.queue_id + " takes " +
                           std::to_string(entry.size()) +
                           " bytes to list, more than a control reply holds; see "
                           "`postern queue show " +
                           m->envelope.queue_id + "`");
    }
    page.text += entry;
  }
  const bool listed_any = !after.empty() || first != messages.end();
  if (json)
    page.text += listed_any ? "\n]\n" : "]\n";
  else
    page.text += Summary(messages);
  return page;
}

std::string DescribeMessage(const StoredMessage& m, const DeliverySchedule& schedule,
                            WallTime now) {
  const Envelope& e = m.envelope;
  std::string text = "queue_id: " + e.queue_id + "\nstatus: " + (m.held ? "held" : "active") +
                     "\narrival_time: " + Rfc3339(e.arrival_time) +
                     "\nsize: " + std::to_string(e.size) + "\nsender: <" + Printable(e.sender) +
                     ">\n";
  for (const Recipient& r : e.recipients) {
    text += "recipient: <" + Printable(r.address) + "> " + RecipientStateName(r) +
            "\n  attempts: " + std::to_string(r.attempts) + "\n";
    if (r.last_attempt != 0) text += "  last_attempt: " + Rfc3339(r.last_attempt) + "\n";
    if (std::optional<WallTime> next = NextTryOf(r, m.held, schedule, now))
      text += "  next_try: " + Rfc3339(*next) + "\n";
    if (!r.status.empty()) text += "  dsn: " + Printable(r.status) + "\n";
    if (!r.remote_mta.empty()) text += "  remote_mta: " + Printable(r.remote_mta) + "\n";
    if (!r.last_error.empty()) text += "  last_reply: " + Printable(r.last_error) + "\n";
  }
  text += std::string("body: ") + BodyName(e.body) + "\nret: " + RetName(e.ret) +
          "\nenvid: " + Printable(e.envid) + "\nclient: " + Printable(e.client_address) + " [" +
          Printable(e.client_helo) + "]\nauth_user: " + Printable(e.auth_user) +
          "\nauth_mailbox: " + Printable(e.auth_mailbox) + "\nlistener: " + Printable(e.listener) +
          "\n";
  return text;
}

}  // namespace postern
