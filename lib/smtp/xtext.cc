// lib/smtp/xtext.cc — see lib/smtp/xtext.h.
#include "lib/smtp/xtext.h"

#include "lib/base/ascii.h"

namespace postern {

std::optional<std::string> DecodeXtext(std::string_view text) {
  auto hex_value = [](char h) {
    if (IsAsciiDigit(h)) return h - '0';
    return h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
  };
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      decoded.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return std::nullopt;
    } else {
      decoded.push_back(c);
    }
  }
  return decoded;
}

std::string EncodeXtext(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    auto octet = static_cast<unsigned char>(c);
    if (octet < 33 || octet > 126 || c == '+' || c == '=') {
      out += '+';
      out += kHex[octet >> 4];
      out += kHex[octet & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace postern
