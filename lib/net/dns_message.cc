// lib/net/dns_message.cc — see lib/net/dns_message.h.
#include "lib/net/dns_message.h"

#include <algorithm>
#include <iterator>
#include <optional>

#include "lib/base/ascii.h"

namespace postern {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxWireName = 255;
constexpr int kMaxCnameLinks = 8;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kFlagResponse = 0x8000;
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr uint16_t kFlagTruncated = 0x0200;
constexpr uint16_t kFlagRecursionDesired = 0x0100;
constexpr uint16_t kRcodeMask = 0x000F;

void AppendU16(std::string* out, uint16_t value) {
  out->push_back(static_cast<char>(value >> 8));
  out->push_back(static_cast<char>(value & 0xFF));
}

std::string_view WithoutTrailingDot(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  return name;
}

// Reads a message front to back; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view message) : message_(message) {}

  bool U16(uint16_t* value) {
    if (message_.size() - pos_ < 2) return false;
    *value = static_cast<uint16_t>(Byte(pos_) << 8 | Byte(pos_ + 1));
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* value) {
    uint16_t high, low;
    if (!U16(&high) || !U16(&low)) return false;
    *value = static_cast<uint32_t>(high) << 16 | low;
    return true;
  }
  // A name at the current position, compression pointers followed.
  Result<std::string> Name() { return NameAt(pos_, &pos_); }
  size_t pos() const { return pos_; }
  void Seek(size_t pos) { pos_ = pos; }
  size_t size() const { return message_.size(); }

  // The name starting at start; *end is set past its last octet in place
  // (past the first pointer, if any).
  Result<std::string> NameAt(size_t start, size_t* end) const {
    std::string name;
    size_t p = start;
    size_t segment = start;  // where the labels ended by the next pointer begin
    size_t wire_length = 1;  // the root label
    std::optional<size_t> after_pointer;
    while (true) {
      if (p >= message_.size()) return Status::Error("a name runs past the end of the message");
      uint8_t length = Byte(p);
      if ((length & 0xC0) == 0xC0) {
        if (p + 1 >= message_.size())
          return Status::Error("a compression pointer is cut off at the end of the message");
        size_t target = static_cast<size_t>(length & 0x3F) << 8 | Byte(p + 1);
        // A pointer into or after the labels it ends would make a loop.
        if (target >= segment)
          return Status::Error("a compression pointer does not point before its own name (a loop)");
        if (!after_pointer) after_pointer = p + 2;
        p = segment = target;
        continue;
      }
      if (length > kMaxLabel)
        return Status::Error("a label begins with length octet " + std::to_string(length) +
                             " (over 63, and not a compression pointer)");
      if (length == 0) break;
      wire_length += 1 + length;
      if (wire_length > kMaxWireName) return Status::Error("a name is longer than 255 octets");
      if (message_.size() - p - 1 < length)
        return Status::Error("a label runs past the end of the message");
      std::string_view label = message_.substr(p + 1, length);
      for (char c : label) {
        if (c <= ' ' || c > '~' || c == '.')
          return Status::Error("a name holds a byte that is not printable ASCII, or a dot");
      }
      if (!name.empty()) name += '.';
      name += AsciiLowerCase(label);
      p += 1 + length;
    }
    *end = after_pointer ? *after_pointer : p + 1;
    return name;
  }

 private:
  uint8_t Byte(size_t pos) const { return static_cast<uint8_t>(message_[pos]); }
  std::string_view message_;
  size_t pos_ = 0;
};

struct Record {
  std::string owner;
  uint16_t type = 0;
  uint16_t rclass = 0;
  size_t data = 0;  // offset of the record's data in the message
  uint16_t data_length = 0;
};

struct ParsedAnswer {
  std::vector<std::pair<std::string, std::string>> cnames;  // owner, target
  std::vector<std::pair<std::string, MxRecord>> mx;
  std::vector<std::pair<std::string, IpAddress>> addresses;
};

Result<Record> ReadRecordHeader(Reader* reader) {
  Record record;
  Result<std::string> owner = reader->Name();
  if (!owner.ok()) return owner.status();
  record.owner = *owner;
  uint32_t ttl;
  if (!reader->U16(&record.type) || !reader->U16(&record.rclass) || !reader->U32(&ttl) ||
      !reader->U16(&record.data_length))
    return Status::Error("a record is cut off in its fixed fields");
  record.data = reader->pos();
  if (reader->size() - record.data < record.data_length)
    return Status::Error("a record's data runs past the end of the message");
  reader->Seek(record.data + record.data_length);
  return record;
}

// A name that must fill the rest of a record's data exactly.
Result<std::string> NameFilling(const Reader& reader, size_t start, const Record& record) {
  size_t end = 0;
  Result<std::string> name = reader.NameAt(start, &end);
  if (!name.ok()) return name.status();
  if (end != record.data + record.data_length)
    return Status::Error("the data length of a " +
                         std::string(DnsTypeName(static_cast<DnsType>(record.type))) +
                         " record does not match its contents");
  return name;
}

Status ReadAnswerRecord(std::string_view message, Reader* reader, ParsedAnswer* answer) {
  Result<Record> record = ReadRecordHeader(reader);
  if (!record.ok()) return record.status();
  if (record->rclass != kClassIn) return Status::Ok();
  std::string_view data = message.substr(record->data, record->data_length);
  switch (static_cast<DnsType>(record->type)) {
    case DnsType::kCname: {
      Result<std::string> target = NameFilling(*reader, record->data, *record);
      if (!target.ok()) return target.status();
      answer->cnames.emplace_back(record->owner, *target);
      return Status::Ok();
    }
    case DnsType::kMx: {
      if (data.size() < 3) return Status::Error("an MX record's data is shorter than 3 octets");
      MxRecord mx;
      mx.preference =
          static_cast<uint16_t>(static_cast<uint8_t>(data[0]) << 8 | static_cast<uint8_t>(data[1]));
      Result<std::string> exchange = NameFilling(*reader, record->data + 2, *record);
      if (!exchange.ok()) return exchange.status();
      mx.exchange = *exchange;
      answer->mx.emplace_back(record->owner, mx);
      return Status::Ok();
    }
    case DnsType::kA:
    case DnsType::kAaaa: {
      bool v4 = record->type == static_cast<uint16_t>(DnsType::kA);
      size_t size = v4 ? 4 : 16;
      if (data.size() != size)
        return Status::Error(std::string(v4 ? "an A" : "an AAAA") + " record's data is " +
                             std::to_string(data.size()) + " octets, not " + std::to_string(size));
      IpAddress address;
      address.family = v4 ? AF_INET : AF_INET6;
      for (size_t i = 0; i < size; ++i) address.bytes[i] = static_cast<uint8_t>(data[i]);
      answer->addresses.emplace_back(record->owner, address);
      return Status::Ok();
    }
  }
  return Status::Ok();  // another type: not ours
}

// The name the answer's CNAME chain from name ends at.
Result<std::string> FollowCnames(const ParsedAnswer& answer, std::string name) {
  for (int links = 0;; ++links) {
    auto cname = std::find_if(answer.cnames.begin(), answer.cnames.end(),
                              [&name](const auto& c) { return c.first == name; });
    if (cname == answer.cnames.end()) return name;
    if (links == kMaxCnameLinks)
      return Status::Error("the CNAME chain is longer than " + std::to_string(kMaxCnameLinks) +
                           " links (or a loop)");
    name = cname->second;
  }
}

}  // namespace

std::string_view DnsTypeName(DnsType type) {
  switch (type) {
    case DnsType::kA:
      return "A";
    case DnsType::kCname:
      return "CNAME";
    case DnsType::kMx:
      return "MX";
    case DnsType::kAaaa:
      return "AAAA";
  }
  return "TYPE?";
}

std::string DnsRcodeName(int rcode) {
  static constexpr std::string_view kNames[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                                "NXDOMAIN", "NOTIMP",  "REFUSED"};
  if (rcode >= 0 && rcode < static_cast<int>(std::size(kNames))) return std::string(kNames[rcode]);
  return "RCODE " + std::to_string(rcode);
}

Result<std::string> EncodeDnsQuery(uint16_t id, std::string_view name, DnsType type) {
  std::string_view rest = WithoutTrailingDot(name);
  auto error = [name](const std::string& why) {
    return Status::Error("cannot ask the DNS about \"" + std::string(name) + "\": " + why);
  };
  if (rest.empty()) return error("the name is empty");
  std::string query;
  AppendU16(&query, id);
  AppendU16(&query, kFlagRecursionDesired);
  for (uint16_t count : {1, 0, 0, 0}) AppendU16(&query, count);
  while (true) {
    size_t dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (label.empty()) return error("it has an empty label");
    if (label.size() > kMaxLabel) return error("it has a label longer than 63 octets");
    query.push_back(static_cast<char>(label.size()));
    query.append(label);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  query.push_back('\0');
  if (query.size() - kHeaderSize > kMaxWireName) return error("it is longer than 255 octets");
  AppendU16(&query, static_cast<uint16_t>(type));
  AppendU16(&query, kClassIn);
  return query;
}

Result<DnsResponse> ParseDnsResponse(std::string_view message, uint16_t id, std::string_view name,
                                     DnsType type) {
  Reader reader(message);
  uint16_t got_id, flags, questions, answers, authorities, additionals;
  if (!reader.U16(&got_id) || !reader.U16(&flags) || !reader.U16(&questions) ||
      !reader.U16(&answers) || !reader.U16(&authorities) || !reader.U16(&additionals))
    return Status::Error("the message is shorter than a DNS header (" +
                         std::to_string(message.size()) + " octets)");
  if (got_id != id)
    return Status::Error("the response has id " + std::to_string(got_id) + ", not " +
                         std::to_string(id));
  if (!(flags & kFlagResponse) || (flags & kOpcodeMask) != 0)
    return Status::Error("the message is not a response to a standard query");
  if (questions != 1)
    return Status::Error("the response holds " + std::to_string(questions) +
                         " questions instead of the one asked");
  Result<std::string> question = reader.Name();
  if (!question.ok()) return Status::Error("in the question: " + question.status().message());
  uint16_t qtype, qclass;
  if (!reader.U16(&qtype) || !reader.U16(&qclass))
    return Status::Error("the question is cut off after its name");
  std::string asked = AsciiLowerCase(WithoutTrailingDot(name));
  if (*question != asked || qtype != static_cast<uint16_t>(type) || qclass != kClassIn)
    return Status::Error("the response answers another question");

  DnsResponse response;
  response.rcode = flags & kRcodeMask;
  response.truncated = (flags & kFlagTruncated) != 0;
  if (response.truncated || response.rcode != kDnsNoError) return response;

  ParsedAnswer parsed;
  for (uint16_t i = 0; i < answers; ++i) {
    Status status = ReadAnswerRecord(message, &reader, &parsed);
    if (!status.ok())
      return Status::Error("in answer record " + std::to_string(i + 1) + ": " + status.message());
  }
  Result<std::string> owner = FollowCnames(parsed, asked);
  if (!owner.ok()) return owner.status();
  for (const auto& [record_owner, mx] : parsed.mx)
    if (type == DnsType::kMx && record_owner == *owner) response.mx.push_back(mx);
  int family = type == DnsType::kA ? AF_INET : AF_INET6;
  for (const auto& [record_owner, address] : parsed.addresses) {
    if (type != DnsType::kMx && address.family == family && record_owner == *owner)
      response.addresses.push_back(address);
  }
  return response;
}

}  // namespace postern
