// lib/smtp/line_breaks.h — finds the CR and LF octets of message content at
// memchr's speed.
//
// Message content is mostly long runs of text between line breaks; looking
// at it octet by octet (or with find_first_of, which calls memchr once per
// octet) cost more than everything else smtpd does with a 100 KB message.
// LineBreakFinder finds the next LF once and remembers it, and looks for a
// CR only up to that LF, so every octet of the text is examined a bounded
// number of times whatever mix of CR and LF it holds.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace postern {

class LineBreakFinder {
 public:
  explicit LineBreakFinder(std::string_view text) : text_(text) {}

  // The position of the first CR or LF at or after `from`, or npos.
  size_t Next(size_t from) {
    if (from >= text_.size()) return std::string_view::npos;
    if (!lf_known_ || lf_ < from) {
      lf_ = Find('\n', from, text_.size());
      lf_known_ = true;
    }
    size_t cr = Find('\r', from, lf_);
    if (cr < lf_) return cr;
    return lf_ < text_.size() ? lf_ : std::string_view::npos;
  }

 private:
  // The position of c in [from, to), or `to`.
  size_t Find(char c, size_t from, size_t to) const {
    const void* found = std::memchr(text_.data() + from, c, to - from);
    return found != nullptr ? static_cast<size_t>(static_cast<const char*>(found) - text_.data())
                            : to;
  }

  std::string_view text_;
  size_t lf_ = 0;  // the first LF at or after the last search's start, or size
  bool lf_known_ = false;
};

// The position of the first LF at or after `from`, or npos.
inline size_t FindLineFeed(std::string_view text, size_t from) {
  if (from >= text.size()) return std::string_view::npos;
  const void* found = std::memchr(text.data() + from, '\n', text.size() - from);
  return found != nullptr ? static_cast<size_t>(static_cast<const char*>(found) - text.data())
                          : std::string_view::npos;
}

}  // namespace postern
