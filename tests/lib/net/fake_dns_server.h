// tests/lib/net/fake_dns_server.h — a DNS server on 127.0.0.1 in a test's own event loop.
//
// For the tests of lib/net/mx_lookup and lib/smtp/destination_lookup: it
// answers UDP and TCP on one port with what the test's function returns for
// each query, and records the queries.
#pragma once

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/net/event_handles.h"
#include "lib/net/network.h"

namespace postern {

// A DNS server on 127.0.0.1, UDP and TCP on one port, driven by the test's
// loop. For each query it sends what answer() returns: no datagram is
// silence, several are sent in order.
class FakeDnsServer {
 public:
  struct Query {
    std::string bytes;
    bool tcp = false;
  };
  using Answer = std::function<std::vector<std::string>(const Query&)>;

  FakeDnsServer(event_base* base, Answer answer) : answer_(std::move(answer)) {
    // The kernel picks a free UDP port; the same TCP port may be taken (by a
    // system test running beside the unit tests), and then another is tried.
    for (int attempt = 0; attempt < 20 && tcp_ < 0; ++attempt) {
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      udp_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      BOOST_REQUIRE(bind(udp_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
      socklen_t length = sizeof address;
      getsockname(udp_, reinterpret_cast<sockaddr*>(&address), &length);
      port_ = ntohs(address.sin_port);
      int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int on = 1;
      setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      if (bind(tcp, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        tcp_ = tcp;
      } else {
        close(tcp);
        close(udp_);
      }
    }
    BOOST_REQUIRE_MESSAGE(tcp_ >= 0, "no port free for both UDP and TCP on 127.0.0.1");
    BOOST_REQUIRE(listen(tcp_, 4) == 0);
    udp_event_.reset(event_new(base, udp_, EV_READ | EV_PERSIST, &OnUdp, this));
    tcp_event_.reset(event_new(base, tcp_, EV_READ | EV_PERSIST, &OnAccept, this));
    event_add(udp_event_.get(), nullptr);
    event_add(tcp_event_.get(), nullptr);
  }
  ~FakeDnsServer() {
    udp_event_.reset();
    tcp_event_.reset();
    close(udp_);
    close(tcp_);
    for (auto& connection : connections_) {
      connection->event.reset();
      close(connection->fd);
    }
  }

  BindAddress address() const { return {*IpAddress::Parse("127.0.0.1"), port_}; }
  std::vector<Query> queries;

 private:
  static void OnUdp(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<FakeDnsServer*>(arg);
    char buffer[4096];
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    ssize_t got =
        recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (got <= 0) return;
    Query query{std::string(buffer, static_cast<size_t>(got)), false};
    self->queries.push_back(query);
    for (const std::string& reply : self->answer_(query))
      sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), length);
  }
  // One query per connection, answered once it is whole; the connection
  // stays open until the server is destroyed.
  struct Connection {
    FakeDnsServer* server = nullptr;
    int fd = -1;
    std::string bytes;
    EventPtr event;
  };

  static void OnAccept(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<FakeDnsServer*>(arg);
    int accepted = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (accepted < 0) return;
    auto connection = std::make_unique<Connection>();
    connection->server = self;
    connection->fd = accepted;
    connection->event.reset(event_new(event_get_base(self->tcp_event_.get()), accepted,
                                      EV_READ | EV_PERSIST, &OnReadable, connection.get()));
    event_add(connection->event.get(), nullptr);
    self->connections_.push_back(std::move(connection));
  }

  static void OnReadable(evutil_socket_t fd, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    char buffer[4096];
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got <= 0) return (void)event_del(connection->event.get());
    std::string& bytes = connection->bytes;
    bytes.append(buffer, static_cast<size_t>(got));
    if (bytes.size() < 2) return;
    size_t length =
        static_cast<size_t>(static_cast<uint8_t>(bytes[0])) << 8 | static_cast<uint8_t>(bytes[1]);
    if (bytes.size() < 2 + length) return;
    Query query{bytes.substr(2, length), true};
    bytes.clear();
    FakeDnsServer* self = connection->server;
    self->queries.push_back(query);
    for (const std::string& reply : self->answer_(query)) {
      std::string framed = {static_cast<char>(reply.size() >> 8),
                            static_cast<char>(reply.size() & 0xFF)};
      framed += reply;
      BOOST_REQUIRE(write(fd, framed.data(), framed.size()) == static_cast<ssize_t>(framed.size()));
    }
  }

  Answer answer_;
  int udp_ = -1;
  int tcp_ = -1;
  uint16_t port_ = 0;
  EventPtr udp_event_;
  EventPtr tcp_event_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

// A reply to query: its id (plus id_delta), QR RD RA, the rcode, TC if
// asked, the question as asked, then the given answer records.
inline std::string DnsReply(const FakeDnsServer::Query& query, int rcode, int answers = 0,
                            const std::string& records = "", bool truncated = false,
                            int id_delta = 0) {
  std::string reply = query.bytes.substr(0, 2);
  reply[1] = static_cast<char>(reply[1] + id_delta);
  reply += static_cast<char>(truncated ? 0x83 : 0x81);
  reply += static_cast<char>(0x80 | rcode);
  reply += std::string("\x00\x01\x00", 3) + static_cast<char>(answers) + std::string(4, '\0');
  return reply + query.bytes.substr(12) + records;
}

// The question's name, dotted, as asked (queries carry no compression).
inline std::string DnsQuestionName(const FakeDnsServer::Query& query) {
  std::string name;
  for (size_t p = 12; p < query.bytes.size() && query.bytes[p] != 0;) {
    size_t length = static_cast<uint8_t>(query.bytes[p]);
    if (!name.empty()) name += '.';
    name += query.bytes.substr(p + 1, length);
    p += 1 + length;
  }
  return name;
}

// The question's type (15 MX, 1 A, 28 AAAA).
inline int DnsQuestionType(const FakeDnsServer::Query& query) {
  size_t end = query.bytes.size();
  return static_cast<uint8_t>(query.bytes[end - 4]) << 8 |
         static_cast<uint8_t>(query.bytes[end - 3]);
}

}  // namespace postern
