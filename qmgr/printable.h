// qmgr/printable.h — envelope text made safe for log lines and control replies.
//
// Addresses come from clients; a CR, LF or escape byte in one must not forge
// a log line or drive the operator's terminal.
#pragma once

#include <string>
#include <string_view>

namespace postern {

// text with every control byte (below 0x20, and 0x7F) shown as '?'.
std::string Printable(std::string_view text);

}  // namespace postern
