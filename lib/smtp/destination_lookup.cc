// lib/smtp/destination_lookup.cc — see lib/smtp/destination_lookup.h.
#include "lib/smtp/destination_lookup.h"

#include "lib/base/random.h"

namespace postern {

struct DestinationLookup::Search {
  DestinationLookup* owner = nullptr;
  SearchId id = 0;
  DestinationRequest request;
  DnsAnswers answers;
  std::vector<MxLookup::LookupId> pending;  // this round's lookups (Cancel ignores finished ones)
  size_t unanswered = 0;
  Callback done;
  EventPtr start;
};

std::function<uint64_t()> DestinationLookup::DefaultRandom() { return RandomU64; }

DestinationLookup::DestinationLookup(event_base* base, MxLookup* dns,
                                     std::function<uint64_t()> random)
    : base_(base), dns_(dns), random_(std::move(random)) {}

DestinationLookup::~DestinationLookup() {
  for (const auto& [id, search] : searches_)
    for (MxLookup::LookupId lookup : search->pending) dns_->Cancel(lookup);
}

DestinationLookup::SearchId DestinationLookup::Find(DestinationRequest request, Callback done) {
  auto search = std::make_unique<Search>();
  search->owner = this;
  search->id = next_id_++;
  search->request = std::move(request);
  search->request.shuffle_seed = random_();
  search->done = std::move(done);
  Search* raw = search.get();
  // The first step runs from the loop, so done never runs inside Find().
  raw->start.reset(evtimer_new(
      base_,
      [](evutil_socket_t, short, void* arg) {
        auto* s = static_cast<Search*>(arg);
        s->owner->Step(s);
      },
      raw));
  searches_[raw->id] = std::move(search);
  timeval now{0, 0};
  evtimer_add(raw->start.get(), &now);
  return raw->id;
}

void DestinationLookup::Cancel(SearchId id) {
  auto it = searches_.find(id);
  if (it == searches_.end()) return;
  for (MxLookup::LookupId lookup : it->second->pending) dns_->Cancel(lookup);
  searches_.erase(it);
}

void DestinationLookup::Step(Search* search) {
  PlanningStep step = PlanDestination(search->request, search->answers);
  if (step.questions.empty()) {
    Callback done = std::move(search->done);
    searches_.erase(search->id);
    done(std::move(step.plan));  // may destroy this object: nothing after it
    return;
  }
  SearchId id = search->id;
  search->unanswered = step.questions.size();
  for (const DnsQuestion& question : step.questions) {
    search->pending.push_back(
        dns_->Lookup(question.name, question.type, [this, id, question](DnsLookupResult result) {
          Answered(id, question, std::move(result));
        }));
  }
}

void DestinationLookup::Answered(SearchId id, const DnsQuestion& question, DnsLookupResult result) {
  auto it = searches_.find(id);
  if (it == searches_.end()) return;
  Search* search = it->second.get();
  search->answers[question] = std::move(result);
  if (--search->unanswered > 0) return;
  search->pending.clear();
  Step(search);
}

}  // namespace postern
