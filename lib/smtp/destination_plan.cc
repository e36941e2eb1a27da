// lib/smtp/destination_plan.cc — see lib/smtp/destination_plan.h.
#include "lib/smtp/destination_plan.h"

#include <algorithm>

#include "lib/base/ascii.h"
#include "lib/smtp/smtp_address.h"

namespace postern {
namespace {

using Outcome = DnsLookupResult::Outcome;

// One way to the destination: a relayhost entry, or the recipient domain.
struct Route {
  std::string name;
  std::optional<IpAddress> address;
  uint16_t port = 25;
  bool mx_lookup = true;
  std::string relayhost;  // the entry as written, for a relayhost route; else empty
};

struct RouteResult {
  std::vector<DnsQuestion> questions;
  std::vector<Target> targets;
  std::optional<Diagnostic> failure;
};

// The hosts of a route whose addresses are wanted.
struct Hosts {
  std::vector<std::string> names;
  bool implicit_mx = false;  // the route's own name, for want of MX records
  std::optional<Diagnostic> failure;
};

Diagnostic Own(std::string enhanced, std::string text) {
  return Diagnostic{0, std::move(enhanced), std::move(text)};
}

// splitmix64: a small generator that is the same everywhere for a seed.
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  size_t Below(size_t n) {
    state_ += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return static_cast<size_t>((z ^ (z >> 31)) % n);
  }

 private:
  uint64_t state_;
};

// By preference; each run of equal preferences in a random order (Fisher-Yates).
void OrderByPreference(std::vector<MxRecord>* records, uint64_t seed) {
  std::stable_sort(records->begin(), records->end(), [](const MxRecord& a, const MxRecord& b) {
    return a.preference < b.preference;
  });
  SeededRandom random(seed);
  for (auto run = records->begin(); run != records->end();) {
    auto end = std::find_if(run, records->end(),
                            [run](const MxRecord& r) { return r.preference != run->preference; });
    for (size_t n = static_cast<size_t>(end - run); n > 1; --n)
      std::swap(run[n - 1], run[random.Below(n)]);
    run = end;
  }
}

Hosts HostsFromMx(const Route& route, std::vector<MxRecord> records,
                  const DestinationRequest& request) {
  const std::string& name = route.name;
  if (records.size() == 1 && records[0].exchange.empty())
    return {{},
            false,
            Own("5.1.10", "Recipient address has null MX: " + name +
                              " does not accept mail (its MX record is \".\", RFC 7505)")};
  bool loops_to_me = AsciiEqualsIgnoreCase(name, request.myhostname);
  if (records.empty()) {
    if (loops_to_me) return {{}, true, Own("5.4.6", "mail for " + name + " loops back to myself")};
    return {{name}, true, std::nullopt};
  }
  std::erase_if(records, [](const MxRecord& r) { return !IsValidDomain(r.exchange); });
  if (records.empty())
    return {{}, false, Own("5.4.4", "none of the MX records of " + name + " names a host")};
  OrderByPreference(&records, request.shuffle_seed);
  auto me = std::find_if(records.begin(), records.end(), [&request](const MxRecord& r) {
    return AsciiEqualsIgnoreCase(r.exchange, request.myhostname);
  });
  if (me != records.end()) {
    uint16_t mine = me->preference;
    std::erase_if(records, [mine](const MxRecord& r) { return r.preference >= mine; });
    if (records.empty())
      return {{}, false, Own("5.4.6", "mail for " + name + " loops back to myself")};
  }
  Hosts hosts;
  for (const MxRecord& record : records) {
    if (hosts.names.size() == kMaxMxHosts) break;
    hosts.names.push_back(record.exchange);
  }
  return hosts;
}

// The route's hosts, or the MX question still to ask (in questions).
Hosts FindHosts(const Route& route, const DestinationRequest& request, const DnsAnswers& answers,
                std::vector<DnsQuestion>* questions) {
  if (!route.mx_lookup) return {{route.name}, false, std::nullopt};
  auto mx = answers.find({route.name, DnsType::kMx});
  if (mx == answers.end()) {
    questions->push_back({route.name, DnsType::kMx});
    return {};
  }
  const DnsLookupResult& result = mx->second;
  switch (result.outcome) {
    case Outcome::kTemporaryFailure:
      return {{},
              false,
              Own("4.4.3", "cannot look up the MX records of " + route.name + ": " + result.error)};
    case Outcome::kNoSuchDomain:
      return {{},
              false,
              Own("5.1.2", "Host or domain name not found: " + route.name + " does not exist (" +
                               result.error + ")")};
    case Outcome::kAnswer:
      break;
  }
  return HostsFromMx(route, result.mx, request);
}

// "mx1.example.test (AAAA: why; A: why)", "mx1.example.test does not exist", ...
std::string DescribeNoAddress(const std::string& host, const DnsLookupResult& v6,
                              const DnsLookupResult& v4) {
  std::string temporary;
  using Named = std::pair<const char*, const DnsLookupResult*>;
  for (const auto& [type, result] : {Named{"AAAA", &v6}, Named{"A", &v4}}) {
    if (result->outcome != Outcome::kTemporaryFailure) continue;
    if (!temporary.empty()) temporary += "; ";
    temporary += std::string(type) + ": " + result->error;
  }
  if (!temporary.empty()) return host + " (" + temporary + ")";
  if (v6.outcome == Outcome::kNoSuchDomain || v4.outcome == Outcome::kNoSuchDomain)
    return host + " does not exist";
  return host + " has no AAAA or A record";
}

void AddTarget(std::vector<Target>* targets, Target target) {
  if (targets->size() >= kMaxTargets) return;
  for (const Target& t : *targets)
    if (t.address == target.address && t.port == target.port) return;
  targets->push_back(std::move(target));
}

RouteResult PlanRoute(const Route& route, const DestinationRequest& request,
                      const DnsAnswers& answers) {
  RouteResult out;
  if (route.address) {
    out.targets.push_back({route.name, *route.address, route.port});
    return out;
  }
  Hosts hosts = FindHosts(route, request, answers, &out.questions);
  if (hosts.failure) out.failure = hosts.failure;
  if (hosts.failure || !out.questions.empty()) return out;
  for (const std::string& host : hosts.names) {
    for (DnsType type : {DnsType::kAaaa, DnsType::kA})
      if (!answers.contains({host, type})) out.questions.push_back({host, type});
  }
  if (!out.questions.empty()) return out;

  bool temporary = false;
  std::string problems;
  for (const std::string& host : hosts.names) {
    const DnsLookupResult& v6 = answers.at({host, DnsType::kAaaa});
    const DnsLookupResult& v4 = answers.at({host, DnsType::kA});
    for (const DnsLookupResult* result : {&v6, &v4}) {
      if (result->outcome != Outcome::kAnswer) continue;
      for (const IpAddress& address : result->addresses)
        AddTarget(&out.targets, {host, address, route.port});
    }
    if (!v6.addresses.empty() || !v4.addresses.empty()) continue;
    temporary = temporary || v6.outcome == Outcome::kTemporaryFailure ||
                v4.outcome == Outcome::kTemporaryFailure;
    if (!problems.empty()) problems += "; ";
    problems += DescribeNoAddress(host, v6, v4);
  }
  if (!out.targets.empty()) return out;
  if (temporary) {
    out.failure = Own("4.4.3", "cannot look up addresses: " + problems);
  } else if (hosts.implicit_mx) {
    out.failure = Own(
        "5.1.2", "Host or domain name not found: " + route.name + " has no MX, AAAA or A record");
  } else if (!route.mx_lookup) {
    out.failure = Own("5.4.4", "Host or domain name not found: " + problems);
  } else {
    out.failure =
        Own("5.4.4", "no mail exchanger of " + route.name + " has an address: " + problems);
  }
  return out;
}

// A relayhost's failure defers: the class becomes 4, the subject "routing".
Diagnostic AsRelayhostFailure(const Route& route, Diagnostic failure) {
  if (failure.enhanced.starts_with('5'))
    failure.enhanced = failure.enhanced == "5.4.6" ? "4.4.6" : "4.4.4";
  failure.text = "relayhost " + route.relayhost + ": " + failure.text;
  return failure;
}

std::vector<Route> RoutesOf(const DestinationRequest& request) {
  if (request.relayhosts.empty())
    return {Route{request.domain, std::nullopt, request.mx_port, true, ""}};
  std::vector<Route> routes;
  for (const NextHop& hop : request.relayhosts)
    routes.push_back({hop.host, hop.address, hop.port, hop.mx_lookup, hop.ToString()});
  return routes;
}

}  // namespace

std::string Target::ToString() const {
  return host + "[" + address.ToString() + "]:" + std::to_string(port);
}

PlanningStep PlanDestination(const DestinationRequest& request, const DnsAnswers& answers) {
  PlanningStep step;
  std::vector<Target> targets;
  std::optional<Diagnostic> failure;
  for (const Route& route : RoutesOf(request)) {
    RouteResult result = PlanRoute(route, request, answers);
    for (DnsQuestion& question : result.questions) {
      if (std::find(step.questions.begin(), step.questions.end(), question) == step.questions.end())
        step.questions.push_back(std::move(question));
    }
    for (Target& target : result.targets) AddTarget(&targets, std::move(target));
    if (!result.failure) continue;
    Diagnostic why =
        route.relayhost.empty() ? *result.failure : AsRelayhostFailure(route, *result.failure);
    if (!failure) {
      failure = why;
    } else {
      failure->text += "; " + why.text;
      // DNS trouble anywhere: the others may come back too.
      if (why.enhanced == "4.4.3") failure->enhanced = why.enhanced;
    }
  }
  if (!step.questions.empty()) return step;
  if (!targets.empty()) {
    step.plan.targets = std::move(targets);
  } else {
    step.plan.failure = failure;
  }
  return step;
}

}  // namespace postern
