// lib/base/random.h — unpredictable numbers from the kernel (getrandom(2)).
//
// For what an outsider must not guess: DNS query ids (a guessed id lets a
// forged answer in) and the order of equally preferred mail exchangers.
// Never blocks once the kernel's pool is initialized, which it is long
// before a mail daemon starts.
#pragma once

#include <sys/random.h>

#include <cstdint>
#include <random>

namespace postern {

inline uint64_t RandomU64() {
  uint64_t value = 0;
  if (getrandom(&value, sizeof value, 0) == static_cast<ssize_t>(sizeof value)) return value;
  // Interrupted or unavailable: std::random_device reads the same source another way.
  std::random_device device;
  return static_cast<uint64_t>(device()) << 32 | device();
}

}  // namespace postern
