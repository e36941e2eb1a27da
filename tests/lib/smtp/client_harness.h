// tests/lib/smtp/client_harness.h — drives one lib ClientSession in unit tests:
// server bytes in, command bytes and actions recorded, a FakeClock.
//
// Shared by the client session test files. The harness plays the driver:
// it answers NeedContent from `contents` (in pieces of `piece` bytes) unless
// told not to, and records every other action for the test to check.
// Expected commands in the tests are typed from RFC 5321 and its extensions.
#pragma once

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/smtp/client_session.h"

namespace postern::testing {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

inline const std::string kGreeting = "220 mx.example.org ESMTP ready\r\n";
inline const std::string kEhlo = "EHLO relay.example.test\r\n";
// An EHLO reply without PIPELINING, CHUNKING, DSN or STARTTLS.
inline const std::string kPlainEhloReply =
    "250-mx.example.org Hello relay.example.test\r\n"
    "250-SIZE 1000000\r\n"
    "250-8BITMIME\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";
inline const std::string kPipeliningEhloReply =
    "250-mx.example.org Hello relay.example.test\r\n"
    "250-SIZE 1000000\r\n"
    "250-PIPELINING\r\n"
    "250-8BITMIME\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";
inline const std::string kChunkingEhloReply =
    "250-mx.example.org Hello relay.example.test\r\n"
    "250-PIPELINING\r\n"
    "250-8BITMIME\r\n"
    "250-BINARYMIME\r\n"
    "250-CHUNKING\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";

// A message from alice@example.org to each address, all pending.
inline Envelope Message(const std::string& id, const std::vector<std::string>& to,
                        uint64_t size = 20) {
  Envelope e;
  e.queue_id = id;
  e.sender = "alice@example.org";
  for (const std::string& address : to) {
    Recipient r;
    r.address = address;
    e.recipients.push_back(r);
  }
  e.size = size;
  return e;
}

class ClientHarness {
 public:
  using Adjust = std::function<void(ClientSettings&)>;

  explicit ClientHarness(Adjust adjust = {}) {
    settings_.helo_name = "relay.example.test";
    if (adjust) adjust(settings_);
    session_ = std::make_unique<ClientSession>(settings_, clock_);
  }

  // Start(), the greeting and the EHLO reply; checks that EHLO was sent.
  std::string Connect(const std::string& ehlo_reply) {
    Start();
    BOOST_TEST(Say(kGreeting) == kEhlo);
    return Say(ehlo_reply);
  }

  std::string Start() {
    session_->Start();
    return Collect();
  }
  std::string Say(std::string_view bytes) {
    session_->Received(bytes);
    return Collect();
  }
  std::string Deliver(Envelope envelope, std::string content = "Subject: hi\r\n\r\nhello\r\n") {
    contents[envelope.queue_id] = std::move(content);
    session_->Deliver(std::move(envelope));
    return Collect();
  }
  std::string Quit() {
    session_->Quit();
    return Collect();
  }
  std::string Tls() {
    session_->TlsStarted();
    return Collect();
  }
  std::string TlsFailed(const std::string& reason) {
    session_->TlsFailed(reason);
    return Collect();
  }
  std::string Auth(std::optional<std::string> response) {
    session_->AuthResponse(std::move(response));
    return Collect();
  }
  std::string AuthFailed(const std::string& reason) {
    session_->AuthFailed(reason);
    return Collect();
  }
  std::string Content(std::string_view bytes, bool last) {
    session_->ContentPiece(bytes, last);
    return Collect();
  }
  std::string Advance(Duration d) {
    clock_.Advance(d);
    if (clock_.Now() >= session_->NextDeadline()) session_->OnTimer();
    return Collect();
  }
  std::string PeerClosed() {
    session_->PeerClosed();
    return Collect();
  }

  ClientSession& session() { return *session_; }

  // The outcome of the only or last message done.
  const MessageOutcome& Outcome() const {
    BOOST_REQUIRE(!outcomes.empty());
    return outcomes.back();
  }
  // "index:D|F|Q:diagnostic" per recipient of the last message (Q: deferred).
  std::vector<std::string> Results() const {
    std::vector<std::string> out;
    for (const RecipientOutcome& r : Outcome().recipients) {
      char status = r.status == DeliveryStatus::kDelivered ? 'D'
                    : r.status == DeliveryStatus::kFailed  ? 'F'
                                                           : 'Q';
      out.push_back(std::to_string(r.index) + ":" + status + ":" + r.diagnostic.ToString());
    }
    return out;
  }

  // Driver behaviour.
  std::map<std::string, std::string> contents;  // by queue id
  size_t piece = SIZE_MAX;                      // bytes per ContentPiece
  bool auto_content = true;

  // What the session asked for.
  std::vector<MessageOutcome> outcomes;
  std::optional<SessionEnd> end;
  std::vector<client_action::NeedContent> content_requests;
  std::vector<std::string> auth_starts;
  std::vector<std::string> challenges;
  int tls_starts = 0;
  int readies = 0;
  int writes = 0;  // Send actions
  // One letter per action: S (Send), T (StartTls), a (AuthStart), c
  // (AuthContinue), N (NeedContent), M (MessageDone), R (Ready), C (Close).
  std::string events;

 private:
  std::string Collect() {
    std::string out;
    for (bool more = true; more;) {
      more = false;
      for (ClientAction& action : session_->TakeActions()) {
        more = std::visit([&](auto& a) { return Record(a, &out); }, action) || more;
      }
    }
    return out;
  }
  bool Record(client_action::Send& a, std::string* out) {
    BOOST_TEST(!end.has_value(), "a write after Close");
    events += 'S';
    ++writes;
    *out += a.bytes;
    return false;
  }
  bool Record(client_action::StartTls&, std::string*) {
    events += 'T';
    ++tls_starts;
    return false;
  }
  bool Record(client_action::AuthStart& a, std::string*) {
    events += 'a';
    auth_starts.push_back(a.mechanism);
    return false;
  }
  bool Record(client_action::AuthContinue& a, std::string*) {
    events += 'c';
    challenges.push_back(a.challenge);
    return false;
  }
  bool Record(client_action::NeedContent& a, std::string*) {
    events += 'N';
    content_requests.push_back(a);
    if (!auto_content) return false;
    const std::string& content = contents.at(a.queue_id);
    BOOST_REQUIRE(a.offset <= content.size());
    std::string_view rest = std::string_view(content).substr(a.offset);
    std::string_view bytes = rest.substr(0, piece);
    session_->ContentPiece(bytes, bytes.size() == rest.size());
    return true;
  }
  bool Record(client_action::MessageDone& a, std::string*) {
    events += 'M';
    outcomes.push_back(a.outcome);
    return false;
  }
  bool Record(client_action::Ready&, std::string*) {
    events += 'R';
    ++readies;
    return false;
  }
  bool Record(client_action::Close& a, std::string*) {
    events += 'C';
    end = a.end;
    return false;
  }

  ClientSettings settings_;
  FakeClock clock_;
  std::unique_ptr<ClientSession> session_;
};

}  // namespace postern::testing
