// lib/queue/queue_id.h — queue identifiers, unique across processes and restarts.
//
// An id is made by the smtpd that receives the message (so the Received
// header can name it before any byte reaches qmgr): 12 hex digits of
// microseconds since the epoch, then the worker's pid and a per-process
// counter in hex, separated by a lower-case z, e.g. "5F3A9C2B1D4Ez1A2Bz3".
// Two processes never share a pid at the same time, and one process never
// repeats a counter. The id is one word (letters and digits) because log
// readers written for Postfix (pflogsumm) take a queue id to be one; ids
// of earlier versions, with '.' where the z is, stay valid for the
// messages they name.
#pragma once

#include <string>
#include <string_view>

namespace postern {

std::string NewQueueId();

// Accepts exactly the form NewQueueId() makes (or its earlier one, with
// dots); qmgr and the CLI refuse anything else before using an id as a key
// or a file name.
bool IsValidQueueId(std::string_view id);

}  // namespace postern
