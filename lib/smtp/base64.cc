// lib/smtp/base64.cc — see lib/smtp/base64.h.
#include "lib/smtp/base64.h"

#include <array>
#include <cstdint>

namespace postern {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of each alphabet character, -1 for every other byte.
constexpr std::array<int8_t, 256> kValues = [] {
  std::array<int8_t, 256> values{};
  values.fill(-1);
  for (int i = 0; i < 64; ++i) values[static_cast<unsigned char>(kAlphabet[i])] = int8_t(i);
  return values;
}();

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t group = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                     uint8_t(bytes[i + 2]);
    text.push_back(kAlphabet[group >> 18]);
    text.push_back(kAlphabet[(group >> 12) & 63]);
    text.push_back(kAlphabet[(group >> 6) & 63]);
    text.push_back(kAlphabet[group & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 0) return text;
  uint32_t group = uint32_t(uint8_t(bytes[i])) << 16;
  if (rest == 2) group |= uint32_t(uint8_t(bytes[i + 1])) << 8;
  text.push_back(kAlphabet[group >> 18]);
  text.push_back(kAlphabet[(group >> 12) & 63]);
  text.push_back(rest == 2 ? kAlphabet[(group >> 6) & 63] : '=');
  text.push_back('=');
  return text;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool final_group = i + 4 == text.size();
    size_t padding = 0;
    if (final_group) padding = text[i + 3] != '=' ? 0 : text[i + 2] == '=' ? 2 : 1;
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      int8_t value = j < 4 - padding ? kValues[uint8_t(text[i + j])] : 0;
      if (value < 0) return std::nullopt;  // '=' inside the text is not in the alphabet either
      group = group << 6 | uint32_t(value);
    }
    // Canonical: the bits that padding leaves over must be zero (RFC 4648 3.5).
    if ((padding == 1 && (group & 0xff) != 0) || (padding == 2 && (group & 0xffff) != 0))
      return std::nullopt;
    bytes.push_back(char(group >> 16));
    if (padding < 2) bytes.push_back(char(group >> 8));
    if (padding < 1) bytes.push_back(char(group));
  }
  return bytes;
}

}  // namespace postern
