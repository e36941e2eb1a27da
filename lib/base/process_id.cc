// lib/base/process_id.cc — see lib/base/process_id.h.
#include "lib/base/process_id.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>

namespace postern {
namespace {

std::atomic<int> g_pid{0};

void ReadProcessId() { g_pid.store(static_cast<int>(getpid()), std::memory_order_relaxed); }

}  // namespace

int ProcessId() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, ReadProcessId);
    ReadProcessId();
    return true;
  }();
  (void)registered;
  return g_pid.load(std::memory_order_relaxed);
}

}  // namespace postern
