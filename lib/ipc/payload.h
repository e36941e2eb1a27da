// lib/ipc/payload.h — the field encodings that IPC payloads (and queued
// envelopes) are built from.
//
// Integers are big-endian; a string is a u32 length and its bytes; a bool is
// a u8 that is 0 or 1; an enum is its underlying integer and must lie in the
// range its reader names. PayloadWriter appends fields; PayloadReader reads
// them in order, stays failed after the first field it cannot read, and
// Finish() says whether every field was read and nothing is left over, and
// if not, what went wrong first. Neither ever reads or writes out of bounds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "lib/base/status.h"

namespace postern::ipc {

class PayloadWriter {
 public:
  PayloadWriter& U8(uint8_t v);
  PayloadWriter& U16(uint16_t v);
  PayloadWriter& U32(uint32_t v);
  PayloadWriter& U64(uint64_t v);
  PayloadWriter& Str(std::string_view v);  // u32 length + bytes
  PayloadWriter& Bool(bool v) { return U8(v ? 1 : 0); }
  template <typename E>
  PayloadWriter& Enum(E v) {
    static_assert(sizeof(E) == 1 || sizeof(E) == 2, "IPC enums are u8 or u16");
    if constexpr (sizeof(E) == 1) return U8(static_cast<uint8_t>(v));
    return U16(static_cast<uint16_t>(v));
  }
  const std::string& data() const { return data_; }
  std::string Take() { return std::move(data_); }

 private:
  std::string data_;
};

// Each getter returns false (and the reader stays failed) once the payload
// is short or a value is out of range.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view payload) : rest_(payload) {}
  bool U8(uint8_t* v);
  bool U16(uint16_t* v);
  bool U32(uint32_t* v);
  bool U64(uint64_t* v);
  bool Str(std::string* v);
  // A u8 that must be 0 or 1.
  bool Bool(bool* v);
  // The enum's underlying u8 or u16, which must lie in [first, last]; the
  // range check every enum on the wire goes through.
  template <typename E>
  bool Enum(E* v, E first, E last) {
    static_assert(std::is_enum_v<E> && (sizeof(E) == 1 || sizeof(E) == 2),
                  "IPC enums are u8 or u16");
    uint16_t raw = 0;
    if constexpr (sizeof(E) == 1) {
      uint8_t byte = 0;
      if (!U8(&byte)) return false;
      raw = byte;
    } else if (!U16(&raw)) {
      return false;
    }
    if (!InRange(raw, static_cast<uint16_t>(first), static_cast<uint16_t>(last))) return false;
    *v = static_cast<E>(raw);
    return true;
  }
  // True only if every read succeeded and no byte is left over.
  bool Done() const { return ok_ && rest_.empty(); }
  // Ok when Done(); otherwise "malformed <what>: " and the first fault (a
  // field cut short, a value out of range, bytes after the last field).
  Status Finish(std::string_view what) const;

 private:
  bool Take(size_t n, std::string_view* out);
  bool InRange(uint16_t value, uint16_t first, uint16_t last);
  void Fail(std::string why);
  std::string_view rest_;
  bool ok_ = true;
  std::string failure_;
};

}  // namespace postern::ipc
