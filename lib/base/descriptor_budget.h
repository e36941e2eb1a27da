// lib/base/descriptor_budget.h — how many client connections the file descriptor
// limit lets postern hold.
//
// Each session holds one descriptor in its smtpd worker. master raises its
// soft RLIMIT_NOFILE to the hard limit at start (its children inherit it) and
// admits no more connections than the workers can hold, so that a burst
// meets the spec's 421 4.3.2 instead of workers that cannot receive a
// descriptor. master itself holds a connection only until a worker
// acknowledges it, and pauses accepting when it runs out
// (master/listener_sockets). Pure arithmetic apart from RaiseDescriptorLimit().
#pragma once

#include <cstdint>

#include "lib/base/status.h"

namespace postern {

// Descriptors a process keeps for everything but client sessions: its
// channels and service sockets, the event loop, the resolver, log and files.
constexpr uint64_t kReservedDescriptors = 64;

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit now in
// force (the old one when it cannot be raised).
Result<uint64_t> RaiseDescriptorLimit();

// The most concurrent client connections that `workers` smtpd processes can
// hold when each may open `descriptor_limit` descriptors.
uint32_t ConnectionCapacity(uint64_t descriptor_limit, uint32_t workers);

}  // namespace postern
