// lib/base/descriptor_budget.cc — see lib/base/descriptor_budget.h.
#include "lib/base/descriptor_budget.h"

#include <errno.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace postern {

Result<uint64_t> RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return Status::FromErrno("cannot read the file descriptor limit", errno);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0)
      return Status::FromErrno("cannot raise the file descriptor limit from " +
                                   std::to_string(limit.rlim_cur) + " to " +
                                   std::to_string(limit.rlim_max),
                               errno);
    limit = raised;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

uint32_t ConnectionCapacity(uint64_t descriptor_limit, uint32_t workers) {
  uint64_t per_process =
      descriptor_limit > kReservedDescriptors ? descriptor_limit - kReservedDescriptors : 0;
  // Workers share the sessions about evenly (master picks the least loaded).
  // master needs no share of its own: it holds a connection only until a
  // worker acknowledges it, and pauses accepting when it runs out.
  uint64_t capacity = per_process * workers;
  return static_cast<uint32_t>(std::min<uint64_t>(capacity, std::numeric_limits<uint32_t>::max()));
}

}  // namespace postern
