// lib/ipc/payload.cc — the field encodings of lib/ipc/payload.h.
#include "lib/ipc/payload.h"

namespace postern::ipc {
namespace {

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (char c : in) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace

PayloadWriter& PayloadWriter::U8(uint8_t v) {
  PutBigEndian(&data_, v, 1);
  return *this;
}
PayloadWriter& PayloadWriter::U16(uint16_t v) {
  PutBigEndian(&data_, v, 2);
  return *this;
}
PayloadWriter& PayloadWriter::U32(uint32_t v) {
  PutBigEndian(&data_, v, 4);
  return *this;
}
PayloadWriter& PayloadWriter::U64(uint64_t v) {
  PutBigEndian(&data_, v, 8);
  return *this;
}
PayloadWriter& PayloadWriter::Str(std::string_view v) {
  U32(static_cast<uint32_t>(v.size()));
  data_.append(v);
  return *this;
}

void PayloadReader::Fail(std::string why) {
  if (ok_) failure_ = std::move(why);
  ok_ = false;
}

bool PayloadReader::Take(size_t n, std::string_view* out) {
  if (!ok_) return false;
  if (rest_.size() < n) {
    Fail("it ends inside a field (" + std::to_string(n) + " bytes wanted, " +
         std::to_string(rest_.size()) + " left)");
    return false;
  }
  *out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return true;
}

bool PayloadReader::InRange(uint16_t value, uint16_t first, uint16_t last) {
  if (value >= first && value <= last) return true;
  Fail("value " + std::to_string(value) + " is outside " + std::to_string(first) + ".." +
       std::to_string(last));
  return false;
}

bool PayloadReader::U8(uint8_t* v) {
  std::string_view b;
  if (!Take(1, &b)) return false;
  *v = static_cast<uint8_t>(GetBigEndian(b));
  return true;
}
bool PayloadReader::U16(uint16_t* v) {
  std::string_view b;
  if (!Take(2, &b)) return false;
  *v = static_cast<uint16_t>(GetBigEndian(b));
  return true;
}
bool PayloadReader::U32(uint32_t* v) {
  std::string_view b;
  if (!Take(4, &b)) return false;
  *v = static_cast<uint32_t>(GetBigEndian(b));
  return true;
}
bool PayloadReader::U64(uint64_t* v) {
  std::string_view b;
  if (!Take(8, &b)) return false;
  *v = GetBigEndian(b);
  return true;
}
bool PayloadReader::Str(std::string* v) {
  uint32_t len;
  std::string_view b;
  if (!U32(&len) || !Take(len, &b)) return false;
  v->assign(b);
  return true;
}
bool PayloadReader::Bool(bool* v) {
  uint8_t byte = 0;
  if (!U8(&byte) || !InRange(byte, 0, 1)) return false;
  *v = byte == 1;
  return true;
}

Status PayloadReader::Finish(std::string_view what) const {
  if (!ok_) return Status::Error("malformed " + std::string(what) + ": " + failure_);
  if (!rest_.empty())
    return Status::Error("malformed " + std::string(what) + ": " + std::to_string(rest_.size()) +
                         " bytes after the last field");
  return Status::Ok();
}

}  // namespace postern::ipc
