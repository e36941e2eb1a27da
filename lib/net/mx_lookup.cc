// lib/net/mx_lookup.cc — see lib/net/mx_lookup.h.
#include "lib/net/mx_lookup.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/base/random.h"
#include "lib/net/dns_resolver.h"
#include "lib/net/event_handles.h"

namespace postern {
namespace {

// Large enough for any datagram: a server may ignore the 512-octet limit.
constexpr size_t kMaxDatagram = 65535;

std::string Seconds(Duration duration) {
  auto ms = duration.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

}  // namespace

DnsLookupResult DnsLookupResult::Mx(std::vector<MxRecord> records) {
  DnsLookupResult result;
  result.outcome = Outcome::kAnswer;
  result.mx = std::move(records);
  return result;
}

DnsLookupResult DnsLookupResult::Addresses(std::vector<IpAddress> addresses) {
  DnsLookupResult result;
  result.outcome = Outcome::kAnswer;
  result.addresses = std::move(addresses);
  return result;
}

DnsLookupResult DnsLookupResult::NoSuchDomain(std::string why) {
  DnsLookupResult result;
  result.outcome = Outcome::kNoSuchDomain;
  result.error = std::move(why);
  return result;
}

DnsLookupResult DnsLookupResult::TemporaryFailure(std::string why) {
  DnsLookupResult result;
  result.outcome = Outcome::kTemporaryFailure;
  result.error = std::move(why);
  return result;
}

// One lookup: its current try (a UDP socket, or a TCP connection after a
// truncated answer) and what each server did so far.
struct MxLookup::Query {
  MxLookup* owner = nullptr;
  LookupId id = 0;
  std::string name;
  DnsType type = DnsType::kMx;
  Callback done;
  bool started = false;
  size_t tries = 0;   // tries begun
  size_t server = 0;  // index of the current try's server
  uint16_t query_id = 0;
  std::string packet;
  int udp = -1;
  EventPtr udp_event;
  BufferEventPtr tcp;
  EventPtr timer;
  std::string ignored;                     // why the current try's last reply was ignored
  std::map<size_t, std::string> failures;  // by server: what went wrong last

  void EndTry() {
    udp_event.reset();
    if (udp >= 0) close(udp);
    udp = -1;
    tcp.reset();
    ignored.clear();
  }
  ~Query() { EndTry(); }
};

Result<std::unique_ptr<MxLookup>> MxLookup::Create(event_base* base,
                                                   const MxLookupOptions& options) {
  Result<std::vector<BindAddress>> servers =
      ResolverNameservers(base, {options.nameservers, 1, 1}, "MX lookups");
  if (!servers.ok()) return servers.status();
  return std::make_unique<MxLookup>(base, std::move(*servers), options.timeout, options.attempts);
}

MxLookup::MxLookup(event_base* base, std::vector<BindAddress> servers, Duration timeout,
                   int attempts)
    : base_(base), servers_(std::move(servers)), timeout_(timeout), attempts_(attempts) {}

MxLookup::~MxLookup() = default;

MxLookup::LookupId MxLookup::Lookup(std::string name, DnsType type, Callback done) {
  auto query = std::make_unique<Query>();
  query->owner = this;
  query->id = next_id_++;
  query->name = std::move(name);
  query->type = type;
  query->done = std::move(done);
  Query* raw = query.get();
  raw->timer.reset(evtimer_new(
      base_,
      [](evutil_socket_t, short, void* arg) {
        auto* q = static_cast<Query*>(arg);
        if (!q->started) return q->owner->Start(q);
        std::string why = "did not answer within " + Seconds(q->owner->timeout_);
        if (!q->ignored.empty()) why += " (a reply was ignored: " + q->ignored + ")";
        q->owner->ServerFailed(q, why);
      },
      raw));
  lookups_[raw->id] = std::move(query);
  // The first try starts from the loop, so done never runs inside Lookup().
  timeval now{0, 0};
  evtimer_add(raw->timer.get(), &now);
  return raw->id;
}

void MxLookup::Cancel(LookupId id) { lookups_.erase(id); }

void MxLookup::Start(Query* query) {
  query->started = true;
  // A name that cannot be asked cannot exist.
  Result<std::string> check = EncodeDnsQuery(0, query->name, query->type);
  if (!check.ok()) return Finish(query, DnsLookupResult::NoSuchDomain(check.status().message()));
  if (servers_.empty())
    return Finish(query, DnsLookupResult::TemporaryFailure("no nameserver to ask"));
  NextTry(query);
}

void MxLookup::NextTry(Query* query) {
  query->EndTry();
  size_t total = servers_.size() * static_cast<size_t>(std::max(attempts_, 1));
  while (query->tries < total) {
    query->server = query->tries % servers_.size();
    ++query->tries;
    if (SendUdp(query)) {
      timeval timeout = ToTimeval(timeout_);
      evtimer_add(query->timer.get(), &timeout);
      return;
    }
  }
  std::string why;
  for (const auto& [server, failure] : query->failures) {
    if (!why.empty()) why += "; ";
    why += servers_[server].ToString() + " " + failure;
  }
  Finish(query, DnsLookupResult::TemporaryFailure(why));
}

bool MxLookup::SendUdp(Query* query) {
  query->query_id = static_cast<uint16_t>(RandomU64());
  Result<std::string> packet = EncodeDnsQuery(query->query_id, query->name, query->type);
  query->packet = std::move(*packet);  // Start() checked that the name can be asked
  sockaddr_storage server;
  socklen_t length = servers_[query->server].ToSockaddr(&server);
  auto fail = [query](const char* what) {
    query->failures[query->server] = std::string(what) + ": " + std::strerror(errno);
    query->EndTry();
    return false;
  };
  query->udp = socket(server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (query->udp < 0) return fail("cannot make a UDP socket");
  if (connect(query->udp, reinterpret_cast<sockaddr*>(&server), length) != 0)
    return fail("cannot connect a UDP socket");
  if (send(query->udp, query->packet.data(), query->packet.size(), 0) < 0)
    return fail("cannot send the query");
  query->udp_event.reset(event_new(
      base_, query->udp, EV_READ | EV_PERSIST,
      [](evutil_socket_t fd, short, void* arg) {
        auto* q = static_cast<Query*>(arg);
        std::string datagram(kMaxDatagram, '\0');
        ssize_t got = recv(fd, datagram.data(), datagram.size(), 0);
        if (got < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
          return q->owner->ServerFailed(q,
                                        std::string("refused the query: ") + std::strerror(errno));
        }
        datagram.resize(static_cast<size_t>(got));
        Result<DnsResponse> response = ParseDnsResponse(datagram, q->query_id, q->name, q->type);
        if (!response.ok()) {
          q->ignored = response.status().message();
          return;
        }
        if (response->truncated) return q->owner->StartTcp(q);
        q->owner->Handle(q, *response);
      },
      query));
  event_add(query->udp_event.get(), nullptr);
  return true;
}

void MxLookup::StartTcp(Query* query) {
  query->EndTry();
  query->tcp.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  bufferevent* tcp = query->tcp.get();
  bufferevent_setcb(
      tcp,
      [](bufferevent*, void* arg) {
        auto* q = static_cast<Query*>(arg);
        q->owner->OnTcpRead(q);
      },
      nullptr,
      [](bufferevent*, short what, void* arg) {
        auto* q = static_cast<Query*>(arg);
        if (what & BEV_EVENT_CONNECTED) return;
        std::string why = (what & BEV_EVENT_EOF)
                              ? "closed the TCP connection without a whole answer"
                              : std::string("failed over TCP: ") +
                                    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
        q->owner->ServerFailed(q, why);
      },
      query);
  bufferevent_enable(tcp, EV_READ | EV_WRITE);
  uint8_t prefix[2] = {static_cast<uint8_t>(query->packet.size() >> 8),
                       static_cast<uint8_t>(query->packet.size() & 0xFF)};
  bufferevent_write(tcp, prefix, sizeof prefix);
  bufferevent_write(tcp, query->packet.data(), query->packet.size());
  sockaddr_storage server;
  socklen_t length = servers_[query->server].ToSockaddr(&server);
  if (bufferevent_socket_connect(tcp, reinterpret_cast<sockaddr*>(&server),
                                 static_cast<int>(length)) != 0)
    return ServerFailed(query, "answered truncated and cannot be reached over TCP");
  // The TCP exchange gets a timeout of its own.
  timeval timeout = ToTimeval(timeout_);
  evtimer_add(query->timer.get(), &timeout);
}

void MxLookup::OnTcpRead(Query* query) {
  evbuffer* input = bufferevent_get_input(query->tcp.get());
  uint8_t prefix[2];
  if (evbuffer_copyout(input, prefix, 2) < 2) return;
  size_t length = static_cast<size_t>(prefix[0]) << 8 | prefix[1];
  if (evbuffer_get_length(input) < 2 + length) return;
  evbuffer_drain(input, 2);
  std::string message(length, '\0');
  evbuffer_remove(input, message.data(), length);
  Result<DnsResponse> response =
      ParseDnsResponse(message, query->query_id, query->name, query->type);
  // Over TCP no one else can answer in the server's name: a bad answer is the server's.
  if (!response.ok())
    return ServerFailed(query, "sent a malformed answer over TCP: " + response.status().message());
  if (response->truncated) return ServerFailed(query, "answered truncated over TCP");
  Handle(query, *response);
}

void MxLookup::Handle(Query* query, const DnsResponse& response) {
  if (response.rcode == kDnsNxDomain) {
    return Finish(query, DnsLookupResult::NoSuchDomain(servers_[query->server].ToString() +
                                                       " answered NXDOMAIN"));
  }
  if (response.rcode != kDnsNoError)
    return ServerFailed(query, "answered " + DnsRcodeName(response.rcode));
  Finish(query, query->type == DnsType::kMx ? DnsLookupResult::Mx(response.mx)
                                            : DnsLookupResult::Addresses(response.addresses));
}

void MxLookup::ServerFailed(Query* query, const std::string& why) {
  query->failures[query->server] = why;
  NextTry(query);
}

void MxLookup::Finish(Query* query, DnsLookupResult result) {
  Callback done = std::move(query->done);
  lookups_.erase(query->id);  // frees the query's events, from inside one of them
  done(std::move(result));    // may destroy this MxLookup: nothing after it
}

}  // namespace postern
