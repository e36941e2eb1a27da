// lib/net/dns_message.h — DNS queries and responses as bytes (RFC 1035), for MX, A and AAAA.
//
// Pure: no sockets, no clock. lib/net/mx_lookup sends what EncodeDnsQuery
// makes and reads replies with ParseDnsResponse. A reply comes from the
// network and may be hostile: every malformed one is an error Status that
// says what is wrong, never a crash or a read past its end. In particular:
// a compression pointer must point before the labels it ends (so a name
// cannot loop), a label is at most 63 octets and a name at most 255, and a
// record's data must hold exactly what its type says.
//
// Names are compared without ASCII case and returned in lower case without
// the trailing dot (the root is ""). A label of a name the parser reads may
// hold printable ASCII other than '.'; anything else in a name the answer
// holds makes the response malformed, so no caller ever sees a name that
// would forge a log line or split into other labels.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/status.h"
#include "lib/net/network.h"

namespace postern {

enum class DnsType : uint16_t { kA = 1, kCname = 5, kMx = 15, kAaaa = 28 };

// "A", "CNAME", "MX", "AAAA".
std::string_view DnsTypeName(DnsType type);

// Response codes (RFC 1035 4.1.1) postern acts on; others are numbers.
constexpr int kDnsNoError = 0;
constexpr int kDnsServFail = 2;
constexpr int kDnsNxDomain = 3;

// "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", or "RCODE 9".
std::string DnsRcodeName(int rcode);

struct MxRecord {
  uint16_t preference = 0;
  std::string exchange;  // lower case, no trailing dot; "" for "." (RFC 7505 null MX)
  bool operator==(const MxRecord&) const = default;
};

struct DnsResponse {
  int rcode = kDnsNoError;
  // TC: the answer did not fit; ask again over TCP. Nothing past the
  // question is read from a truncated response.
  bool truncated = false;
  // For NOERROR, the records of the asked type owned by the asked name or
  // by the end of the CNAME chain that starts there (at most 8 links), in
  // the order of the answer section; records of other names and types are
  // ignored. Empty lists are "no such records" (NODATA).
  std::vector<MxRecord> mx;
  std::vector<IpAddress> addresses;  // A or AAAA
};

// A standard query (opcode QUERY, RD set, one question of class IN). An
// error when name is not a host name the DNS can carry: an empty label, a
// label over 63 octets or a name over 255 octets on the wire. One trailing
// dot is allowed.
Result<std::string> EncodeDnsQuery(uint16_t id, std::string_view name, DnsType type);

// The response to the query (id, name, type): an error when it is not a
// response (QR clear, opcode not QUERY), answers another id or another
// question, or is malformed anywhere in its header, question or answer
// section. The authority and additional sections are not read.
Result<DnsResponse> ParseDnsResponse(std::string_view message, uint16_t id, std::string_view name,
                                     DnsType type);

}  // namespace postern
