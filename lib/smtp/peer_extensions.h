// lib/smtp/peer_extensions.h — what a next hop's EHLO reply offers (RFC 5321 4.1.1.1).
//
// The SMTP client reads the keywords of the EHLO reply (one per line after
// the first, RFC 1869 4.3) into PeerExtensions and decides from it how to
// send. Keywords are case-insensitive; unknown ones are ignored.
//
// Decided here:
//   - "SIZE" without a number, with 0 or with a number that does not parse
//     is an offer without a limit (RFC 1870 4: 0 means no fixed maximum).
//   - AUTH is read both as "AUTH m1 m2" and in the "AUTH=m1 m2" form of
//     older servers; mechanisms are kept upper-case, each once.
//   - BINARYMIME counts only together with CHUNKING (RFC 3030 3: BINARYMIME
//     needs BDAT), so a peer listing it alone gets no binary body.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/smtp/reply_parser.h"

namespace postern {

struct PeerExtensions {
  bool size = false;
  uint64_t size_limit = 0;  // 0: no limit announced
  bool pipelining = false;
  bool eightbitmime = false;
  bool binarymime = false;  // and CHUNKING
  bool chunking = false;
  bool dsn = false;
  bool enhanced_status_codes = false;
  bool starttls = false;
  std::vector<std::string> auth_mechanisms;  // upper-case, as offered

  bool OffersAuth(const std::string& mechanism) const;
};

// The offer in a positive EHLO reply.
PeerExtensions ParseEhloReply(const SmtpReply& reply);

}  // namespace postern
