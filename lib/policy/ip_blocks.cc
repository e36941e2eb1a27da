// lib/policy/ip_blocks.cc — see lib/policy/ip_blocks.h.
#include "lib/policy/ip_blocks.h"

#include <arpa/inet.h>
#include <event2/dns.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/base/ascii.h"
#include "lib/base/log.h"
#include "lib/config/text_lines.h"
#include "lib/smtp/reply_catalogue.h"

namespace postern {
namespace {

Status LineError(const std::string& file_name, int line, const std::string& why) {
  return Status::Error(file_name + ":" + std::to_string(line) + ": " + why);
}

}  // namespace

void DynamicBlocks::Add(const Network& network, std::optional<Duration> duration) {
  std::optional<TimePoint> expiry;
  if (duration) expiry = clock_->Now() + *duration;
  entries_[network.ToString()] = Entry{network, expiry};
}

bool DynamicBlocks::Remove(const Network& network) {
  return entries_.erase(network.ToString()) > 0;
}

bool DynamicBlocks::Live(const Entry& entry) const {
  return !entry.expiry || *entry.expiry > clock_->Now();
}

bool DynamicBlocks::Contains(const IpAddress& address) const {
  for (const auto& [key, entry] : entries_)
    if (Live(entry) && entry.network.Contains(address)) return true;
  return false;
}

std::vector<DynamicBlocks::Entry> DynamicBlocks::List() const {
  std::vector<Entry> live;
  for (const auto& [key, entry] : entries_)
    if (Live(entry)) live.push_back(entry);
  return live;
}

WallTime DynamicBlocks::WallExpiry(const Entry& entry, WallTime wall_now) const {
  if (!entry.expiry) return WallTime::max();
  return wall_now + std::chrono::duration_cast<WallTime::duration>(*entry.expiry - clock_->Now());
}

std::string DynamicBlocks::Serialize(WallTime wall_now) const {
  std::string text =
      "# postern dynamic blocks: NETWORK, then permanent or the expiry in "
      "seconds since 1970 (UTC)\n";
  for (const Entry& entry : List()) {
    text += entry.network.ToString() + " ";
    if (!entry.expiry) {
      text += "permanent\n";
      continue;
    }
    // Rounded up, so that a block never ends earlier after a restart.
    auto expiry = std::chrono::ceil<std::chrono::seconds>(WallExpiry(entry, wall_now));
    text += std::to_string(expiry.time_since_epoch().count()) + "\n";
  }
  return text;
}

Status DynamicBlocks::Load(std::string_view text, const std::string& file_name, WallTime wall_now) {
  std::map<std::string, Entry> loaded;
  Status status = ForEachContentLine(text, [&](int number, std::string_view line) {
    size_t space = line.find_first_of(" \t\r");
    if (space == std::string_view::npos)
      return LineError(file_name, number, "expected NETWORK and an expiry");
    Result<Network> network = Network::Parse(line.substr(0, space));
    if (!network.ok()) return LineError(file_name, number, network.status().message());
    std::string_view expiry_text = TrimBlanks(line.substr(space));
    Entry entry{*network, std::nullopt};
    if (expiry_text != "permanent") {
      uint64_t seconds = 0;
      if (!ParseDecimal(expiry_text, &seconds) || seconds > (1ull << 40))
        return LineError(file_name, number,
                         "\"" + std::string(expiry_text) +
                             "\" is neither \"permanent\" nor a time in seconds since 1970");
      WallTime expiry{std::chrono::seconds(seconds)};
      if (expiry <= wall_now) return Status::Ok();
      entry.expiry = clock_->Now() + std::chrono::duration_cast<Duration>(expiry - wall_now);
    }
    loaded[entry.network.ToString()] = entry;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  entries_ = std::move(loaded);
  return Status::Ok();
}

Result<std::vector<Network>> ParseBlockListFile(std::string_view text,
                                                const std::string& file_name) {
  std::vector<Network> networks;
  Status status = ForEachContentLine(text, [&](int number, std::string_view line) {
    Result<Network> network = Network::Parse(line);
    if (!network.ok()) return LineError(file_name, number, network.status().message());
    networks.push_back(*network);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return networks;
}

Result<std::vector<Network>> ReadBlockListFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("cannot read block list " + path, errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::FromErrno("cannot read block list " + path, errno);
  return ParseBlockListFile(text.str(), path);
}

bool IsBlockListFile(std::string_view word) { return !word.empty() && word.front() == '/'; }

std::vector<std::string> DnsblZones(const ListenerConfig& listener) {
  std::vector<std::string> zones;
  for (const std::string& word : listener.block_list)
    if (!IsBlockListFile(word)) zones.push_back(word);
  return zones;
}

Result<BlockListFiles> ReadBlockListFiles(const Config& config) {
  BlockListFiles files;
  for (const ListenerConfig& listener : config.listeners) {
    for (const std::string& word : listener.block_list) {
      if (!IsBlockListFile(word) || files.count(word)) continue;
      Result<std::vector<Network>> networks = ReadBlockListFile(word);
      if (!networks.ok()) return networks.status();
      files[word] = std::move(*networks);
    }
  }
  return files;
}

std::string BlockedReply(const ListenerConfig& listener, const IpAddress& client,
                         const DynamicBlocks& dynamic, const BlockListFiles& files) {
  if (listener.role == Role::kRelay) return "";
  std::string address = client.Unmapped().ToString();
  if (AnyContains(listener.blocked_networks, client))
    return FormatReply(reply::kIpAddressNotAllowedStatic, {address});
  if (dynamic.Contains(client)) return FormatReply(reply::kIpAddressNotAllowedDynamic, {address});
  for (const std::string& word : listener.block_list) {
    auto file = files.find(word);
    if (file != files.end() && AnyContains(file->second, client)) return BlockListReply();
  }
  return "";
}

std::string BlockListReply() { return FormatReply(reply::kIpAddressOnBlockList); }

std::string DnsblQueryName(const IpAddress& client, std::string_view zone) {
  IpAddress address = client.Unmapped();
  std::string name;
  if (address.family == AF_INET) {
    for (int i = 3; i >= 0; --i) name += std::to_string(address.bytes[i]) + ".";
  } else {
    constexpr char kHex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      name += kHex[address.bytes[i] & 0xf];
      name += '.';
      name += kHex[address.bytes[i] >> 4];
      name += '.';
    }
  }
  return name + std::string(zone);
}

bool DnsblAnswerLists(uint32_t address) { return (ntohl(address) >> 24) == 127; }

std::vector<std::string> DnsblQueries(const ListenerConfig& listener, const IpAddress& client) {
  std::vector<std::string> names;
  if (listener.role == Role::kRelay) return names;
  for (const std::string& zone : DnsblZones(listener))
    names.push_back(DnsblQueryName(client, zone));
  return names;
}

DnsblAnswer ClassifyDnsblReply(int evdns_result, const std::vector<uint32_t>& a_records) {
  if (evdns_result == DNS_ERR_NOTEXIST) return DnsblAnswer::kNotListed;
  if (evdns_result != DNS_ERR_NONE) return DnsblAnswer::kFailed;
  for (uint32_t address : a_records)
    if (DnsblAnswerLists(address)) return DnsblAnswer::kListed;
  return DnsblAnswer::kNotListed;
}

void DnsblVerdict::Add(DnsblAnswer answer) {
  if (outstanding_ == 0) PANIC("more DNSBL answers than zones asked");
  --outstanding_;
  listed_ = listed_ || answer == DnsblAnswer::kListed;
}

}  // namespace postern
