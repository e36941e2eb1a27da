// lib/net/http_request.cc — see lib/net/http_request.h.
#include "lib/net/http_request.h"

#include "lib/base/ascii.h"

namespace postern::http {
namespace {

// tchar of RFC 9110 5.6.2.
bool IsTokenChar(unsigned char c) {
  if (IsAsciiAlpha(static_cast<char>(c)) || IsAsciiDigit(static_cast<char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text)
    if (!IsTokenChar(c)) return false;
  return true;
}

// field-vchar, SP and HTAB (RFC 9110 5.5), obs-text included.
bool IsFieldValue(std::string_view text) {
  for (unsigned char c : text)
    if (c == 0x7f || (c < 0x20 && c != '\t')) return false;
  return true;
}

bool IsTarget(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

// The unfinished last line may still end in CR (its LF to come) but holds
// no other control byte: garbage is refused without waiting for a LF.
bool CanStartALine(std::string_view partial) {
  if (!partial.empty() && partial.back() == '\r') partial.remove_suffix(1);
  return IsFieldValue(partial);
}

bool ParseRequestLine(std::string_view line, RequestLine* request) {
  size_t first_space = line.find(' ');
  if (first_space == std::string_view::npos) return false;
  size_t second_space = line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) return false;
  std::string_view method = line.substr(0, first_space);
  std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  std::string_view version = line.substr(second_space + 1);
  constexpr std::string_view kVersionPrefix = "HTTP/1.";
  if (!IsToken(method) || !IsTarget(target) || version.size() != kVersionPrefix.size() + 1 ||
      version.substr(0, kVersionPrefix.size()) != kVersionPrefix || !IsAsciiDigit(version.back()))
    return false;
  request->method = std::string(method);
  request->target = std::string(target);
  request->minor_version = version.back() - '0';
  return true;
}

HeadParse Refused(HeadParse::Outcome outcome, std::string why) {
  HeadParse parse;
  parse.outcome = outcome;
  parse.why = std::move(why);
  return parse;
}

HeadParse TooLarge() {
  return Refused(HeadParse::Outcome::kTooLarge,
                 "request head longer than " + std::to_string(kMaxHeadBytes) + " bytes");
}

}  // namespace

HeadParse ParseRequestHead(std::string_view received) {
  using Outcome = HeadParse::Outcome;
  HeadParse parse;
  size_t hosts = 0;
  size_t at = 0;
  for (size_t line_number = 0;; ++line_number) {
    size_t lf = received.find('\n', at);
    if (lf == std::string_view::npos) {
      if (received.size() > kMaxHeadBytes) return TooLarge();
      if (!CanStartALine(received.substr(at)))
        return Refused(Outcome::kMalformed, "control byte in the request head");
      return parse;  // kNeedMore
    }
    if (lf + 1 > kMaxHeadBytes) return TooLarge();
    std::string_view line = received.substr(at, lf - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = lf + 1;
    if (line_number == 0) {
      if (!ParseRequestLine(line, &parse.request))
        return Refused(Outcome::kMalformed,
                       "not a request line of the form METHOD TARGET HTTP/1.x");
      continue;
    }
    if (line.empty()) {
      if (parse.request.minor_version >= 1 && hosts != 1)
        return Refused(Outcome::kMalformed, "an HTTP/1.1 request needs exactly one Host field");
      parse.outcome = Outcome::kComplete;
      parse.head_length = at;
      return parse;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)) ||
        !IsFieldValue(line.substr(colon + 1)))
      return Refused(Outcome::kMalformed, "not a header field of the form NAME: VALUE");
    if (AsciiEqualsIgnoreCase(line.substr(0, colon), "host")) ++hosts;
  }
}

std::string_view StatusReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string FormatResponse(const Response& response, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " ";
  out += StatusReason(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: " + std::to_string(response.body.size());
  if (!response.allow.empty()) {
    out += "\r\nAllow: ";
    out += response.allow;
  }
  out += "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += response.body;
  return out;
}

}  // namespace postern::http
