// lib/queue/queue_id.h — queue identifiers, unique across processes and restarts.
//
// An id is made by the smtpd that receives the message (so the Received
// header can name it before any byte reaches qmgr): 12 hex digits of
// microseconds since the epoch, then the worker's pid and a per-process
// counter in hex, e.g. "5F3A9C2B1D4E.1A2B.3". Two processes never share a
// pid at the same time, and one process never repeats a counter.
#pragma once

#include <string>
#include <string_view>

namespace postern {

std::string NewQueueId();

// Accepts exactly the form NewQueueId() makes; qmgr and the CLI refuse
// anything else before using an id as a key or a file name.
bool IsValidQueueId(std::string_view id);

}  // namespace postern
