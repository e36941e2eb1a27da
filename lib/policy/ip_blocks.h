// lib/policy/ip_blocks.h — IPAddressNotAllowed (MS-OXSMTP 3.2.7): which clients master refuses.
//
// Three sources of blocked addresses, each with the spec's own reply: the
// listener's static blocked_networks, the dynamic blocks the administrator
// adds while postern runs (postern block add, with an optional expiry), and
// block lists (files of networks, which master holds against each new
// connection, or DNSBL zones, which the unprivileged smtpd worker asks before
// the banner: a root process parses no DNS reply). Only gateway listeners
// apply them; relay listeners serve their authenticated users whatever their
// address. Pure logic: the dynamic blocks are kept against a Clock and
// converted to wall-clock time only when they are written out; DNSBL answers
// arrive from the caller. Never opens sockets.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/net/network.h"

namespace postern {

// The blocks added through the control socket, each until its expiry or
// until it is removed. Keyed by the canonical network, so adding a network
// again replaces its expiry.
class DynamicBlocks {
 public:
  struct Entry {
    Network network;
    std::optional<TimePoint> expiry;  // nullopt: permanent
  };

  explicit DynamicBlocks(const Clock* clock) : clock_(clock) {}

  // duration nullopt: until removed.
  void Add(const Network& network, std::optional<Duration> duration);
  // False when no block of that network exists.
  bool Remove(const Network& network);
  // True when an unexpired block contains address.
  bool Contains(const IpAddress& address) const;
  // The unexpired blocks, in network order.
  std::vector<Entry> List() const;

  // The persisted form: a comment line, then "NETWORK permanent" or
  // "NETWORK UNIX-SECONDS" per unexpired block. wall_now is the wall-clock
  // time that corresponds to clock->Now().
  std::string Serialize(WallTime wall_now) const;
  // Replaces every block with those of text (as Serialize writes it);
  // blocks already expired at wall_now are dropped. A bad line is an error
  // naming file_name and the line number, and leaves the blocks unchanged.
  Status Load(std::string_view text, const std::string& file_name, WallTime wall_now);

  // The wall-clock expiry of entry, for display.
  WallTime WallExpiry(const Entry& entry, WallTime wall_now) const;

 private:
  bool Live(const Entry& entry) const;

  const Clock* clock_;
  std::map<std::string, Entry> entries_;  // by Network::ToString()
};

// The networks of a block-list file: one address or network a line; blank
// lines and text after '#' are ignored. A bad line is an error naming
// file_name:line.
Result<std::vector<Network>> ParseBlockListFile(std::string_view text,
                                                const std::string& file_name);
// Reads and parses the file at path.
Result<std::vector<Network>> ReadBlockListFile(const std::string& path);

// A block_list word names a file when it is an absolute path, a DNSBL zone
// otherwise.
bool IsBlockListFile(std::string_view word);
// The DNSBL zones among the listener's block_list words.
std::vector<std::string> DnsblZones(const ListenerConfig& listener);

// Every block-list file named by any listener, parsed: path -> networks.
using BlockListFiles = std::map<std::string, std::vector<Network>>;
Result<BlockListFiles> ReadBlockListFiles(const Config& config);

// The refusal (wire form, CRLF included) for client on listener from the
// static blocks, the dynamic blocks and the block-list files, in that order;
// empty when none applies, and always empty on a relay listener.
std::string BlockedReply(const ListenerConfig& listener, const IpAddress& client,
                         const DynamicBlocks& dynamic, const BlockListFiles& files);

// The block-list refusal, for a client a DNSBL zone lists.
std::string BlockListReply();

// RFC 5782 2.1 / 2.4: the name to query for client in zone: the IPv4 octets
// reversed ("2.0.0.127.zone"), or the 32 nibbles of an IPv6 address
// reversed. A mapped IPv6 address is queried as its IPv4 address.
std::string DnsblQueryName(const IpAddress& client, std::string_view zone);

// RFC 5782 2.3: an A record in 127.0.0.0/8 means listed. address is in
// network byte order, as the resolver returns it.
bool DnsblAnswerLists(uint32_t address);

// The names to ask an A record for, one per DNSBL zone of listener, for
// client; none on a relay listener.
std::vector<std::string> DnsblQueries(const ListenerConfig& listener, const IpAddress& client);

// What one zone's reply says of the client.
enum class DnsblAnswer {
  kListed,     // an A record in 127.0.0.0/8
  kNotListed,  // NXDOMAIN, or only other records
  kFailed,     // no usable reply (timeout, SERVFAIL, ...): the client is let in
};

// evdns_result: the DNS_ERR_* code evdns gives the callback; a_records: the
// A records of a successful reply, in network byte order.
DnsblAnswer ClassifyDnsblReply(int evdns_result, const std::vector<uint32_t>& a_records);

// The verdict over every zone asked for one client: listed when any zone
// lists it, known only once every zone has answered (a failed lookup counts
// as not listed: fail open).
class DnsblVerdict {
 public:
  explicit DnsblVerdict(size_t zones) : outstanding_(zones) {}
  // One zone's answer; at most one per zone.
  void Add(DnsblAnswer answer);
  bool done() const { return outstanding_ == 0; }
  bool listed() const { return done() && listed_; }

 private:
  size_t outstanding_;
  bool listed_ = false;
};

}  // namespace postern
