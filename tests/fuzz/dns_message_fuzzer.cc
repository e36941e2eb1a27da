// tests/fuzz/dns_message_fuzzer.cc — libFuzzer target: DNS responses from a hostile server.
//
// Parses the input as the response to a query for "example.test" of each
// type postern asks (MX, A, AAAA), with the id the input itself carries so
// that the parser gets past the header. Besides memory errors it traps on
// broken invariants: a failed parse says why; a parsed response holds only
// records of the type asked (addresses of its family), and every name it
// returns is lower-case printable ASCII without empty labels, at most 253
// characters, so it can go into a log line and be asked about again.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/net/dns_message.h"

namespace {

using namespace postern;

void Check(bool condition, const char* what) {
  if (condition) return;
  fprintf(stderr, "dns_message_fuzzer: %s\n", what);
  abort();
}

void CheckName(const std::string& name) {
  Check(name.size() <= 253, "a name longer than 253 characters");
  Check(name.empty() || (name.front() != '.' && name.back() != '.'), "a name with an empty label");
  Check(name.find("..") == std::string::npos, "a name with an empty label");
  for (char c : name) {
    Check(c > ' ' && c <= '~', "a name with a byte that is not printable ASCII");
    Check(!(c >= 'A' && c <= 'Z'), "a name that is not in lower case");
  }
  if (!name.empty())
    Check(EncodeDnsQuery(1, name, DnsType::kA).ok(), "a name that cannot be asked");
}

void ParseAs(std::string_view message, uint16_t id, DnsType type) {
  Result<DnsResponse> response = ParseDnsResponse(message, id, "example.test", type);
  if (!response.ok()) {
    Check(!response.status().message().empty(), "a failed parse does not say why");
    return;
  }
  if (response->truncated || response->rcode != kDnsNoError) {
    Check(response->mx.empty() && response->addresses.empty(), "records beside TC or an rcode");
    return;
  }
  Check(type == DnsType::kMx || response->mx.empty(), "MX records for another type");
  Check(type != DnsType::kMx || response->addresses.empty(), "addresses for an MX query");
  int family = type == DnsType::kAaaa ? AF_INET6 : AF_INET;
  for (const IpAddress& address : response->addresses)
    Check(address.family == family, "an address of the other family");
  for (const MxRecord& mx : response->mx) CheckName(mx.exchange);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  uint16_t id = size >= 2 ? static_cast<uint16_t>(data[0] << 8 | data[1]) : 0;
  for (DnsType type : {DnsType::kMx, DnsType::kA, DnsType::kAaaa}) ParseAs(message, id, type);
  return 0;
}
