// lib/base/printable.h — outside text made safe for one log line or a control reply.
//
// Addresses, HELO names, user names and error texts come from clients and
// peers; written as they are, a CR LF in one would forge a log line and an
// escape sequence would reach the administrator's terminal. Every such text
// goes through Printable() before it is logged or listed, so every process
// shows it the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace postern {

constexpr size_t kNoLengthLimit = static_cast<size_t>(-1);

// text with every byte outside printable ASCII (below 0x20, 0x7F and above)
// and the backslash shown as \xHH (lower-case hex); when text is longer
// than max_length bytes, only those are shown, followed by "...".
std::string Printable(std::string_view text, size_t max_length = kNoLengthLimit);

}  // namespace postern
