// lib/base/printable.cc — see lib/base/printable.h.
#include "lib/base/printable.h"

namespace postern {

std::string Printable(std::string_view text, size_t max_length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() < max_length ? text.size() : max_length);
  for (unsigned char c : text.substr(0, max_length)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (text.size() > max_length) out += "...";
  return out;
}

}  // namespace postern
