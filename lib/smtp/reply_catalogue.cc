// lib/smtp/reply_catalogue.cc — see lib/smtp/reply_catalogue.h.
#include "lib/smtp/reply_catalogue.h"

#include <string>

namespace postern {

std::string ExpandReply(const Reply& reply, std::initializer_list<std::string_view> args) {
  std::string_view text = reply.text;
  std::string out;
  out.reserve(text.size() + 64);
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{' && i + 2 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9' &&
        text[i + 2] == '}') {
      size_t index = static_cast<size_t>(text[i + 1] - '0');
      if (index < args.size()) {
        out.append(*(args.begin() + index));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

std::string FormatReply(int code, std::string_view enhanced, std::string_view text) {
  std::string code_text = std::to_string(code);
  std::string out;
  out.reserve(text.size() + 16);
  while (true) {
    size_t newline = text.find('\n');
    bool last = newline == std::string_view::npos;
    out.append(code_text);
    out.push_back(last ? ' ' : '-');
    if (!enhanced.empty()) {
      out.append(enhanced);
      out.push_back(' ');
    }
    out.append(text.substr(0, newline));
    out.append("\r\n");
    if (last) return out;
    text.remove_prefix(newline + 1);
  }
}

std::string FormatReply(const Reply& reply, std::initializer_list<std::string_view> args) {
  return FormatReply(reply.code, reply.enhanced == nullptr ? "" : reply.enhanced,
                     ExpandReply(reply, args));
}

}  // namespace postern
