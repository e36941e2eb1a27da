// tests/lib/smtp/session_harness.h — drives one lib ServerSession in unit tests:
// bytes in, replies and actions recorded, a FakeClock and a fixed wall clock.
//
// Shared by the server session test files. Expected replies in those files
// are typed from MS-OXSMTP and the RFCs, never taken from the reply
// catalogue; the constants below are the common ones.
#pragma once

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "lib/smtp/server_session.h"

namespace postern::testing {

using std::chrono::minutes;
using std::chrono::seconds;

inline constexpr int64_t kWallTime = 1700000000;  // Tue, 14 Nov 2023 22:13:20 UTC
inline const std::string kDate = "Tue, 14 Nov 2023 22:13:20 +0000";

inline const std::string kBanner = "220 mail.example.test ESMTP postern ready\r\n";
inline const std::string kEhloReply =
    "250-mail.example.test Hello 192.0.2.10\r\n"
    "250-SIZE 10485760\r\n"
    "250-DSN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-PIPELINING\r\n"
    "250-8BITMIME\r\n"
    "250-BINARYMIME\r\n"
    "250 CHUNKING\r\n";
inline const std::string kOk = "250 2.0.0 OK\r\n";
inline const std::string kSenderOk = "250 2.1.0 Sender OK\r\n";
inline const std::string kRecipientOk = "250 2.1.5 Recipient OK\r\n";
inline const std::string kGoAhead = "354 Start mail input; end with <CRLF>.<CRLF>\r\n";
inline const std::string kBye =
    "221 2.0.0 mail.example.test Service closing transmission channel\r\n";
inline const std::string kSendHelloFirst = "503 5.5.2 Send hello first\r\n";
inline const std::string kBadSequence = "503 5.5.1 Bad sequence of commands\r\n";
inline const std::string kNeedMail = "503 5.5.2 Need mail command\r\n";
inline const std::string kNeedRcpt = "503 5.5.2 Need rcpt command\r\n";
inline const std::string kUnrecognized = "500 5.5.2 Syntax error, command unrecognized\r\n";
inline const std::string kSyntax = "501 5.5.4 Syntax error in parameters or arguments\r\n";
inline const std::string kTooManyErrors =
    "421 4.7.0 Too many errors on this connection, closing transmission channel\r\n";
inline const std::string kMessageTooBig =
    "552 5.3.4 Message size exceeds fixed maximum message size\r\n";
inline const std::string kBareLf =
    "554 5.6.0 Message contains bare CR or LF; lines must end with CRLF\r\n";

// MS-OXSMTP defaults for a gateway listener (3.2.6, 3.2.7).
inline ListenerConfig SpecListener() {
  ListenerConfig l;
  l.name = "smtp";
  l.role = Role::kGateway;
  l.connection_timeout = minutes(5);
  l.inactivity_timeout = minutes(1);
  l.max_message_size = 10485760;
  l.max_header_size = 65536;
  l.max_recipients = 200;
  l.max_hop_count = 60;
  l.max_local_hop_count = 12;
  l.message_rate_limit = 600;
  l.max_protocol_errors = 5;
  l.max_logon_failures = 3;
  l.max_connections = 5000;
  l.max_connections_per_source = 20;
  l.tarpit_interval = seconds(5);
  l.acknowledgement_delay = seconds(30);
  return l;
}

inline ClientInfo DefaultClient() {
  ClientInfo client;
  client.address = "192.0.2.10";
  client.port = 50123;
  client.hostname = "client.example.net";
  return client;
}

// One session and a record of everything it asked for.
class Harness {
 public:
  using Adjust = std::function<void(ListenerConfig&)>;
  using AdjustConfig = std::function<void(Config&)>;

  // The config has local_recipient_map empty (every local recipient is
  // accepted, nothing asked) unless adjust_config sets it.
  explicit Harness(Adjust adjust = {}, ClientInfo client = DefaultClient(),
                   AdjustConfig adjust_config = {}) {
    config_.myhostname = "mail.example.test";
    config_.local_domains = {"example.test"};
    if (adjust_config) adjust_config(config_);
    listener_ = SpecListener();
    // Error replies to MAIL are delayed 5 s by the spec default; the tarpit
    // has tests of its own, the others answer at once.
    listener_.tarpit_interval = seconds(0);
    // The spec's AcknowledgementDelay holds every 250 to the end of data
    // for a report from qmgr; it has tests of its own (session_ack_delay),
    // the others are answered once the message is queued, as by default.
    listener_.acknowledgement_delay = seconds(0);
    // Every MAIL waits for master's answer (MailCheck). With no rate limit
    // the harness answers kAllowed itself; the tests of the answers
    // (session_rate_limit, session_mail_resources) set a limit or clear
    // auto_allow_mail and answer with MailCheck().
    listener_.message_rate_limit = 0;
    if (adjust) adjust(listener_);
    auto_allow_mail = listener_.message_rate_limit == 0;
    session_ = std::make_unique<ServerSession>(config_, listener_, std::move(client), clock_,
                                               [] { return kWallTime; });
  }

  std::string Start(std::optional<TlsInfo> implicit_tls = std::nullopt) {
    session_->Start(std::move(implicit_tls));
    return Collect();
  }
  // The handshake that the last StartTls asked for is done.
  std::string Tls(TlsInfo info = {"TLS1.3", "TLS_AES_256_GCM_SHA384"}) {
    session_->TlsStarted(info);
    return Collect();
  }
  // authd's answer to the last AuthStart or AuthStep.
  std::string Auth(ipc::AuthOutcome outcome, const std::string& data = "") {
    session_->AuthResult(outcome, data);
    return Collect();
  }
  std::string Say(std::string_view bytes) {
    session_->Receive(bytes);
    return Collect();
  }
  // authd's answer to the last RecipientCheck.
  std::string RecipientCheck(ipc::RecipientVerdict verdict, const std::string& known_as = "") {
    session_->RecipientCheckResult(verdict, known_as);
    return Collect();
  }
  std::string MailCheck(ipc::MailVerdict verdict) {
    session_->MailCheckResult(verdict);
    return Collect();
  }
  std::string Queue(ipc::QueueOutcome outcome = ipc::QueueOutcome::kQueued) {
    ++queue_answers;
    session_->QueueResult(outcome);
    return Collect();
  }
  // qmgr's report that the last message's first delivery attempt ended.
  std::string Attempt(ipc::AttemptSummary summary) {
    session_->FirstAttemptEnded(summary);
    return Collect();
  }
  std::string Advance(Duration d) {
    clock_.Advance(d);
    session_->OnTimer();
    return Collect();
  }
  // The server is stopping.
  std::string ShutDown() {
    session_->ShutDown();
    return Collect();
  }
  std::string Eof() {
    session_->ReceiveEof();
    return Collect();
  }

  // EHLO, MAIL and one local RCPT, checking each answer.
  void Open(const std::string& mail_parameters = "") {
    BOOST_TEST(Start() == kBanner);
    BOOST_TEST(Say("EHLO client.example.net\r\n").rfind("250-mail.example.test Hello ", 0) == 0u);
    BOOST_TEST(Say("MAIL FROM:<alice@example.org>" + mail_parameters + "\r\n") == kSenderOk);
    BOOST_TEST(Say("RCPT TO:<bob@example.test>\r\n") == kRecipientOk);
  }

  std::string Queued(size_t message = SIZE_MAX) const {
    const Envelope& e = message == SIZE_MAX ? envelopes.back() : envelopes.at(message);
    return "250 2.6.0 " + e.queue_id + " Queued mail for delivery\r\n";
  }
  std::string LastId() const { return envelopes.empty() ? "" : envelopes.back().queue_id; }
  // The content of the last message after its Received: field.
  std::string Body() const {
    const std::string& m = messages.back();
    size_t end = m.find("\r\n", m.find(kDate));
    return m.substr(end + 2);
  }

  ServerSession& session() { return *session_; }
  FakeClock& clock() { return clock_; }

  std::vector<Envelope> envelopes;
  std::vector<std::string> messages;  // content of each BeginMessage, as handed out
  std::vector<size_t> pieces;         // sizes of every MessageData
  int ends = 0;
  // report_first_attempt of each EndMessage, in order.
  std::vector<bool> first_attempt_asked;
  std::vector<action::Acknowledged> acknowledged;
  int aborts = 0;
  int queue_answers = 0;
  bool closed_seen = false;
  std::vector<action::MailCheck> mail_checks;
  std::vector<std::string> recipient_checks;  // the address of each RecipientCheck
  // Answer each MailCheck with kAllowed as soon as it is seen.
  bool auto_allow_mail = true;
  // Act as a client that reads every reply at once: tell the session its
  // output was written (ServerSession::OutputWritten) after each batch.
  bool auto_write_output = true;
  std::vector<action::AuthStart> auth_starts;
  std::vector<std::string> auth_steps;
  int auth_cancels = 0;
  int tls_starts = 0;
  // One letter per action: S B D E A C, M (MailCheck), R (RecipientCheck), T
  // (StartTls), a s x (AuthStart, AuthStep, AuthCancel), K (Acknowledged); Log
  // actions are not in it but in log_lines.
  std::string events;
  // Each action::Log, with its level's prefix ("warning: ...").
  std::vector<std::string> log_lines;

 private:
  std::string Collect() {
    std::string out;
    for (;;) {
      size_t checks = mail_checks.size();
      size_t written = out.size();
      for (Action& action : session_->TakeActions()) {
        BOOST_TEST(!closed_seen, "an action after Close");
        std::visit([&](auto& a) { Record(a, &out); }, action);
      }
      bool more = false;
      if (auto_write_output && out.size() > written) {
        session_->OutputWritten();
        more = true;
      }
      if (auto_allow_mail && mail_checks.size() > checks) {
        session_->MailCheckResult(ipc::MailVerdict::kAllowed);
        more = true;
      }
      if (!more) return out;
    }
  }
  void Record(action::Send& a, std::string* out) {
    events += 'S';
    BOOST_TEST(a.bytes.size() >= 2u);
    BOOST_TEST(a.bytes.substr(a.bytes.size() - 2) == "\r\n");
    *out += a.bytes;
  }
  void Record(action::Close&, std::string*) {
    events += 'C';
    closed_seen = true;
  }
  void Record(action::BeginMessage& a, std::string*) {
    events += 'B';
    BOOST_TEST(!stream_open_, "BeginMessage while a stream is open");
    stream_open_ = true;
    envelopes.push_back(a.envelope);
    messages.emplace_back();
  }
  void Record(action::MessageData& a, std::string*) {
    events += 'D';
    BOOST_TEST(stream_open_, "MessageData outside a stream");
    pieces.push_back(a.bytes.size());
    messages.back() += a.bytes;
  }
  void Record(action::EndMessage& a, std::string*) {
    events += 'E';
    BOOST_TEST(stream_open_, "EndMessage outside a stream");
    stream_open_ = false;
    ++ends;
    first_attempt_asked.push_back(a.report_first_attempt);
  }
  void Record(action::Acknowledged& a, std::string*) {
    events += 'K';
    acknowledged.push_back(a);
  }
  void Record(action::AbortMessage&, std::string*) {
    events += 'A';
    BOOST_TEST(stream_open_, "AbortMessage outside a stream");
    stream_open_ = false;
    ++aborts;
  }
  void Record(action::MailCheck& a, std::string*) {
    events += 'M';
    mail_checks.push_back(a);
  }
  void Record(action::RecipientCheck& a, std::string*) {
    events += 'R';
    recipient_checks.push_back(a.address);
  }
  void Record(action::StartTls&, std::string*) {
    events += 'T';
    ++tls_starts;
  }
  void Record(action::AuthStart& a, std::string*) {
    events += 'a';
    auth_starts.push_back(a);
  }
  void Record(action::AuthStep& a, std::string*) {
    events += 's';
    auth_steps.push_back(a.response);
  }
  void Record(action::AuthCancel&, std::string*) {
    events += 'x';
    ++auth_cancels;
  }
  void Record(action::Log& a, std::string*) {
    log_lines.push_back(std::string(LevelPrefix(a.level)) + a.text);
  }

  Config config_;
  ListenerConfig listener_;
  FakeClock clock_;
  std::unique_ptr<ServerSession> session_;
  bool stream_open_ = false;
};

inline std::string ReceivedLine(const std::string& queue_id, const std::string& recipient_clause,
                                const std::string& protocol = "ESMTP") {
  std::string by = "\tby mail.example.test (postern) with " + protocol + " id " + queue_id;
  if (recipient_clause.empty()) return by + ";\r\n\t" + kDate + "\r\n";
  return by + "\r\n\tfor " + recipient_clause + "; " + kDate + "\r\n";
}

// Received: fields as other hosts write them.
inline std::string Hops(int count, const std::string& by) {
  std::string header;
  for (int i = 0; i < count; ++i)
    header += "Received: from h" + std::to_string(i) + ".example.org\r\n\tby " + by +
              " with ESMTP; Mon, 1 Jan 2024 00:00:00 +0000\r\n";
  return header;
}

}  // namespace postern::testing
