// lib/smtp/received_header.h — the Received: trace field smtpd prepends.
//
// RFC 5321 4.4 Time-stamp-line:
//   Received: from <helo> (<client name or "unknown"> [<address literal>])
//           (using <TLS version> with cipher <suite>)
//           by <myhostname> (postern) with <protocol> id <queue id>
//           for <<recipient>>; <RFC 5322 date-time>
// The `using` comment appears only for a session under TLS; the protocol is
// the RFC 3848 name (SMTP, ESMTP, ESMTPA, ESMTPS, ESMTPSA). The `for`
// clause appears only when the message has exactly one recipient (more
// would disclose Bcc recipients to each other). An IPv6 client is
// written [IPv6:...] as the address-literal grammar requires. Clauses are
// folded with CRLF TAB so that no line exceeds 78 octets unless a single
// clause makes it longer (the first clause always shares the line with
// "Received:"). Time comes from the caller, so tests fix it.
#pragma once

#include <cstdint>
#include <string>

namespace postern {

struct ReceivedFields {
  std::string helo;             // the EHLO/HELO argument, already checked by the session
  std::string client_hostname;  // the client's verified name, or empty for "unknown"
  std::string client_address;   // textual IPv4 or IPv6 address, no brackets
  std::string myhostname;
  std::string protocol;     // RFC 3848: "SMTP", "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA"
  std::string tls_version;  // "TLS1.3", or empty without TLS
  std::string tls_cipher;   // "TLS_AES_256_GCM_SHA384"
  std::string queue_id;
  std::string recipient;  // the one recipient (without brackets), or empty
  int64_t time = 0;       // seconds since the epoch
};

// The complete field, ending in CRLF.
std::string BuildReceivedHeader(const ReceivedFields& fields);

// RFC 5322 3.3 date-time in UTC: "Thu, 21 Nov 2024 09:05:07 +0000".
std::string FormatRfc5322Date(int64_t time);

}  // namespace postern
