// lib/config/text_lines.h — the line syntax shared by every configuration-style file.
//
// postern.conf, the sender login map, the IP block list and master's
// dynamic blocks file are all read with the same rules, so an administrator
// learns them once: lines end at LF (a CR before it is a blank); blanks are
// space, tab and CR; a `#` starts a comment at the start of a line or after
// a blank, and a `#` inside a word (a URL fragment, a password file name,
// an address) is kept; list words are separated by blanks or commas.
#pragma once

#include <string_view>
#include <vector>

#include "lib/base/status.h"

namespace postern {

constexpr bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// text without its leading and trailing blanks.
std::string_view TrimBlanks(std::string_view text);

// line up to the `#` that starts its comment, if any.
std::string_view StripComment(std::string_view line);

// The words of text, separated by blanks and commas.
std::vector<std::string_view> SplitWords(std::string_view text);

// Calls line_fn(line_number, line) for every line of text that holds
// something once its comment and surrounding blanks are gone (numbers
// count from 1); stops at, and returns, the first failure of line_fn.
template <typename LineFn>
Status ForEachContentLine(std::string_view text, LineFn line_fn) {
  int number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    line = TrimBlanks(StripComment(line));
    if (line.empty()) continue;
    if (Status s = line_fn(number, line); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace postern
