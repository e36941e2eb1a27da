// lib/smtp/received_header.cc — see lib/smtp/received_header.h.
#include "lib/smtp/received_header.h"

#include <time.h>

#include <cstdio>
#include <vector>

#include "lib/smtp/smtp_address.h"

namespace postern {
namespace {

constexpr size_t kFoldColumn = 78;  // RFC 5322 2.1.1

std::string AddressLiteral(const std::string& address) {
  if (address.find(':') != std::string::npos) return "[IPv6:" + address + "]";
  return "[" + address + "]";
}

// Joins the clauses with a space, or with CRLF TAB where the line would
// pass the fold column. The first clause stays on the field's first line.
std::string Fold(const std::vector<std::string>& clauses) {
  std::string out = "Received:";
  size_t line_length = out.size();
  for (const std::string& clause : clauses) {
    if (&clause != &clauses.front() && line_length + 1 + clause.size() > kFoldColumn) {
      out.append("\r\n\t");
      line_length = 1;
    } else {
      out.push_back(' ');
      ++line_length;
    }
    out.append(clause);
    line_length += clause.size();
  }
  out.append("\r\n");
  return out;
}

}  // namespace

std::string FormatRfc5322Date(int64_t time) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t seconds = static_cast<time_t>(time);
  struct tm utc;
  gmtime_r(&seconds, &utc);
  char text[64];
  snprintf(text, sizeof text, "%s, %d %s %04d %02d:%02d:%02d +0000", kDays[utc.tm_wday],
           utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
           utc.tm_sec);
  return text;
}

std::string BuildReceivedHeader(const ReceivedFields& fields) {
  // A reverse-lookup answer is outside data: only a well-formed name is
  // written into the header.
  const std::string& name =
      IsValidDomain(fields.client_hostname) ? fields.client_hostname : std::string("unknown");
  std::vector<std::string> clauses = {
      "from " + fields.helo,
      "(" + name + " " + AddressLiteral(fields.client_address) + ")",
  };
  if (!fields.tls_version.empty())
    clauses.push_back("(using " + fields.tls_version + " with cipher " + fields.tls_cipher + ")");
  clauses.push_back("by " + fields.myhostname + " (postern)");
  clauses.push_back("with " + fields.protocol);
  std::string id = "id " + fields.queue_id;
  if (fields.recipient.empty()) {
    clauses.push_back(id + ";");
  } else {
    clauses.push_back(id);
    clauses.push_back("for <" + fields.recipient + ">;");
  }
  clauses.push_back(FormatRfc5322Date(fields.time));
  return Fold(clauses);
}

}  // namespace postern
