// lib/smtp/destination_lookup.h — finds a destination's plan on the event loop.
//
// The asynchronous half of lib/smtp/destination_plan: asks lib/net/mx_lookup
// every question PlanDestination names, all at once, and plans again when
// the last answer is in (two rounds at most: MX, then AAAA and A). The
// relay driver calls Find() once per delivery attempt; nothing is cached.
//
// Callbacks run from the event loop, never inside Find(); a callback may
// destroy the DestinationLookup. Destroying it, or Cancel(), stops a search
// and its lookups without calling back.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "lib/net/event_handles.h"
#include "lib/net/mx_lookup.h"
#include "lib/smtp/destination_plan.h"

namespace postern {

class DestinationLookup {
 public:
  using Callback = std::function<void(DestinationPlan)>;
  using SearchId = uint64_t;

  // dns must outlive this object. random gives each search its shuffle
  // seed (tests pass a fixed one).
  DestinationLookup(event_base* base, MxLookup* dns,
                    std::function<uint64_t()> random = DefaultRandom());
  ~DestinationLookup();
  DestinationLookup(const DestinationLookup&) = delete;
  DestinationLookup& operator=(const DestinationLookup&) = delete;

  // request.shuffle_seed is replaced by one from random.
  SearchId Find(DestinationRequest request, Callback done);
  void Cancel(SearchId id);
  size_t outstanding() const { return searches_.size(); }

 private:
  struct Search;
  static std::function<uint64_t()> DefaultRandom();
  void Step(Search* search);
  void Answered(SearchId id, const DnsQuestion& question, DnsLookupResult result);

  event_base* base_;
  MxLookup* dns_;
  std::function<uint64_t()> random_;
  SearchId next_id_ = 1;
  std::map<SearchId, std::unique_ptr<Search>> searches_;
};

}  // namespace postern
