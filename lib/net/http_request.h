// lib/net/http_request.h — the head of one HTTP/1.x request, and the one
// response metricsd sends back, as pure functions over bytes.
//
// metricsd (metricsd/metrics_server.h) reads a request from anyone who can
// reach metrics_listen, so the head is hostile input: ParseRequestHead()
// takes the bytes received so far and says whether more are needed, the
// head is complete, or the bytes are not a request postern serves. Strict
// and minimal (RFC 9112, the parts a scraper uses):
//   - lines end in CR LF or a bare LF; a CR anywhere else, a NUL or any
//     other control byte (HTAB inside a header value aside) is malformed;
//   - the request line is exactly METHOD SP TARGET SP HTTP/1.DIGIT: the
//     method a token, the target printable ASCII without spaces; no version
//     (HTTP/0.9), another major version, or extra spaces are malformed;
//   - no empty line before the request line (RFC 9112 2.2 lets a server
//     ignore one; postern's scrapers never send it);
//   - each header line is NAME ":" VALUE with NAME a token and no space
//     before the colon; a folded line (obsolete line folding) is malformed;
//     values may hold obs-text (bytes 0x80-0xFF), which is never used;
//   - an HTTP/1.1 request must carry exactly one Host field (RFC 9112 3.2);
//   - a head (request line through the empty line) longer than
//     kMaxHeadBytes is refused as too large, whether complete or not.
// Nothing after the head is looked at: the server answers one request and
// closes the connection (a body, if any, is never read).
//
// FormatResponse() writes the one kind of response the server sends: a
// status line, Content-Type, Content-Length, Connection: close, optionally
// Allow, and the body (none for HEAD, whose Content-Length is still the
// body's).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace postern::http {

// Longest head accepted, the empty line included.
constexpr size_t kMaxHeadBytes = 8192;

struct RequestLine {
  std::string method;  // case-sensitive, as sent ("GET")
  std::string target;  // as sent ("/metrics"), never decoded
  int minor_version = 0;
};

struct HeadParse {
  enum class Outcome {
    kNeedMore,   // no end of head yet, and under kMaxHeadBytes
    kComplete,   // request holds the request line
    kMalformed,  // answer 400
    kTooLarge,   // answer 431
  };
  Outcome outcome = Outcome::kNeedMore;
  RequestLine request;
  // kComplete: bytes of the head, its empty line included.
  size_t head_length = 0;
  // kMalformed, kTooLarge: what was wrong, for the log (no request bytes).
  std::string why;
};

// Looks at the bytes of one connection received so far, from its first
// byte. Pure: the same bytes always give the same answer, so a caller may
// call it again as more arrive.
HeadParse ParseRequestHead(std::string_view received);

struct Response {
  int status = 200;               // one of those StatusReason() knows
  std::string_view content_type;  // "text/plain; charset=utf-8"
  std::string_view body;
  std::string_view allow;  // the Allow field's value for a 405; empty: none
};

// "OK", "Bad Request", ... for the statuses metricsd sends (200, 400, 404,
// 405, 431, 503); "Unknown" for any other.
std::string_view StatusReason(int status);

// The response's bytes; with head_only (a HEAD request) without the body.
std::string FormatResponse(const Response& response, bool head_only);

}  // namespace postern::http
