// lib/queue/queue_id.cc — see lib/queue/queue_id.h.
#include "lib/queue/queue_id.h"

#include <sys/time.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>

#include "lib/base/process_id.h"

namespace postern {

std::string NewQueueId() {
  static uint64_t counter = 0;
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  uint64_t micros = static_cast<uint64_t>(tv.tv_sec) * 1000000u + static_cast<uint64_t>(tv.tv_usec);
  char id[64];
  snprintf(id, sizeof id, "%012" PRIX64 "z%Xz%" PRIX64, micros & UINT64_C(0xFFFFFFFFFFFF),
           static_cast<unsigned>(ProcessId()), ++counter);
  return id;
}

bool IsValidQueueId(std::string_view id) {
  if (id.size() < 16 || id.size() > 48) return false;
  // 'z' since ids are one word for log readers; '.' in earlier ids.
  const char separator = id[12];
  if (separator != 'z' && separator != '.') return false;
  int separators = 0;
  size_t field_length = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (c == separator) {
      if (field_length == 0) return false;
      ++separators;
      field_length = 0;
    } else if (std::isxdigit(static_cast<unsigned char>(c)) &&
               !std::islower(static_cast<unsigned char>(c))) {
      ++field_length;
    } else {
      return false;
    }
  }
  return separators == 2 && field_length > 0;
}

}  // namespace postern
