// lib/net/event_handles.h — RAII owners for libevent handles.
//
// Every event_base, event and bufferevent in postern is held by one of these,
// so no code path forgets an event_free or frees twice.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <chrono>
#include <memory>

namespace postern {

struct EventBaseDeleter {
  void operator()(event_base* base) const { event_base_free(base); }
};
struct EventDeleter {
  void operator()(event* ev) const { event_free(ev); }
};
struct BufferEventDeleter {
  void operator()(bufferevent* bev) const { bufferevent_free(bev); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventDeleter>;

// A timeval for libevent from a std::chrono duration.
template <typename D>
timeval ToTimeval(D duration) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  if (micros < 0) micros = 0;
  return timeval{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
}

}  // namespace postern
