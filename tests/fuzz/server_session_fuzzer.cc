// tests/fuzz/server_session_fuzzer.cc — libFuzzer target for the SMTP
// server session fed arbitrary client bytes.
//
// Input layout: byte 0 picks listener switches (small limits with a 30 s
// acknowledgement_delay, tarpit,
// HELO-only extensions off, trusted client), byte 1 seeds the way the rest
// is cut into pieces; between pieces the clock moves, timers fire and queue
// (the commit, and the first attempt's report, stray ones included),
// MAIL check (allowed, rate exceeded, resources short) and authd answers and
// TLS handshakes complete and the output is reported written as a driver
// would deliver them (a small rate limit
// goes with the small limits; PIPELINING is off with ENHANCEDSTATUSCODES). The
// listener always has a certificate and offers AUTH NTLM LOGIN. Besides memory errors it
// traps on broken contracts: every reply line is a reply code, SP or "-",
// text without CR, LF or NUL, and CRLF, at most 512 octets; message data
// only flows inside a BeginMessage/End-or-Abort pair and in pieces of at
// most 64 KB; AUTH steps and cancels only inside an exchange, one exchange
// at a time; StartTls at most once; EndMessage asks for the first attempt
// exactly when there is a delay, and only then is a wait acknowledged;
// nothing follows Close; end of input
// closes the session.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "lib/smtp/server_session.h"

namespace postern {
namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckReplyLines(const std::string& bytes) {
  size_t start = 0;
  Check(!bytes.empty());
  while (start < bytes.size()) {
    size_t end = bytes.find("\r\n", start);
    Check(end != std::string::npos && end - start >= 4 && end - start + 2 <= 512);
    Check(bytes[start] >= '2' && bytes[start] <= '5');
    Check(bytes[start + 1] >= '0' && bytes[start + 1] <= '9');
    Check(bytes[start + 2] >= '0' && bytes[start + 2] <= '9');
    Check(bytes[start + 3] == ' ' || bytes[start + 3] == '-');
    for (size_t i = start; i < end; ++i) Check(bytes[i] != '\r' && bytes[i] != '\n' && bytes[i]);
    start = end + 2;
  }
}

class Driver {
 public:
  Driver(uint8_t switches) {
    config_.myhostname = "mx.example";
    config_.local_domains = {"example.test"};
    if (switches & 2) config_.local_recipient_map = {"sasldb"};
    listener_.name = "fuzz";
    listener_.connection_timeout = std::chrono::minutes(5);
    listener_.inactivity_timeout = std::chrono::minutes(1);
    bool small = switches & 1;
    listener_.max_message_size = small ? 2000 : 10485760;
    listener_.max_header_size = small ? 500 : 65536;
    listener_.max_recipients = small ? 3 : 200;
    listener_.max_hop_count = small ? 2 : 60;
    listener_.max_local_hop_count = small ? 1 : 12;
    listener_.message_rate_limit = small ? 2 : 0;
    listener_.acknowledgement_delay = small ? Duration(std::chrono::seconds(30)) : Duration(0);
    listener_.max_protocol_errors = (switches & 2) ? 0 : 5;
    listener_.tarpit_interval = (switches & 4) ? std::chrono::seconds(5) : Duration(0);
    listener_.advertise_chunking = !(switches & 8);
    listener_.advertise_enhancedstatuscodes = !(switches & 16);
    listener_.advertise_pipelining = !(switches & 16);
    listener_.require_tls = switches & 32;
    listener_.tls_cert_file = "cert.pem";
    listener_.auth_mechanisms = {"NTLM", "LOGIN"};
    ClientInfo client;
    client.address = (switches & 64) ? "2001:db8::1" : "192.0.2.1";
    client.trusted = switches & 128;
    session_ = std::make_unique<ServerSession>(config_, listener_, client, clock_,
                                               [] { return int64_t{1700000000}; });
  }

  void Start() {
    session_->Start();
    Drain();
  }
  void Feed(std::string_view bytes) {
    session_->Receive(bytes);
    Drain();
  }
  // What a driver does between reads; like a driver, it carries out the
  // session's actions after every call.
  void Tick(uint8_t choice) {
    if ((choice & 1) && awaiting_queue_) {
      awaiting_queue_ = false;
      session_->QueueResult(static_cast<ipc::QueueOutcome>((choice >> 1) % 3));
    } else if ((choice & 2) && !awaiting_queue_) {
      session_->QueueResult(ipc::QueueOutcome::kQueued);  // stray: must be ignored
    }
    Drain();
    // The first attempt's report, awaited or stray.
    if (choice & 32) {
      session_->FirstAttemptEnded(static_cast<ipc::AttemptSummary>((choice >> 1) % 4));
      Drain();
    }
    // MAIL check answers, stray ones included, must be ignored unless awaited.
    if ((choice & 1) || awaiting_mail_) {
      awaiting_mail_ = false;
      session_->MailCheckResult(static_cast<ipc::MailVerdict>((choice >> 1) % 3));
      Drain();
    }
    // Recipient check answers, stray ones included, must be ignored unless awaited.
    if ((choice & 64) || awaiting_recipient_) {
      awaiting_recipient_ = false;
      session_->RecipientCheckResult(static_cast<ipc::RecipientVerdict>((choice >> 1) % 3),
                                     (choice & 128) ? "known@example.test" : "");
      Drain();
    }
    if ((choice & 8) && awaiting_tls_) {
      awaiting_tls_ = false;
      session_->TlsStarted({"TLS1.3", "TLS_AES_128_GCM_SHA256"});
      Drain();
    }
    // authd answers only a start or step it was sent; a stray answer (while
    // the client owes its response) must be ignored.
    if ((choice & 1) && auth_open_) {
      auto outcome = static_cast<ipc::AuthOutcome>((choice >> 1) % 5);
      bool awaited = std::exchange(awaiting_auth_, false);
      if (awaited && outcome != ipc::AuthOutcome::kContinue) auth_open_ = false;
      session_->AuthResult(outcome, outcome == ipc::AuthOutcome::kSuccess ? "alice" : "chal");
      Drain();
    }
    if (choice & 4) clock_.Advance(std::chrono::seconds(choice >> 3));
    if (clock_.Now() >= session_->NextDeadline()) session_->OnTimer();
    Drain();
    // The client read what was sent (not every tick: replies pile up too).
    if (choice & 16) {
      session_->OutputWritten();
      Drain();
    }
  }
  void Finish() {
    session_->ReceiveEof();
    Drain();
    Check(session_->closed() && closed_ && !stream_open_);
  }

 private:
  void Drain() {
    for (Action& action : session_->TakeActions()) {
      Check(!closed_);
      std::visit([this](auto& a) { Record(a); }, action);
    }
    Check(session_->closed() == closed_);
  }
  void Record(action::Send& a) { CheckReplyLines(a.bytes); }
  void Record(action::Close&) { closed_ = true; }
  void Record(action::BeginMessage& a) {
    Check(!stream_open_ && !awaiting_queue_ && !a.envelope.recipients.empty());
    stream_open_ = true;
  }
  void Record(action::MessageData& a) { Check(stream_open_ && a.bytes.size() <= 65536); }
  void Record(action::EndMessage& a) {
    Check(stream_open_ && a.report_first_attempt == (listener_.acknowledgement_delay.count() > 0));
    stream_open_ = false;
    awaiting_queue_ = true;
  }
  void Record(action::AbortMessage&) {
    Check(stream_open_);
    stream_open_ = false;
  }
  void Record(action::StartTls&) {
    Check(!tls_started_);
    tls_started_ = awaiting_tls_ = true;
  }
  void Record(action::AuthStart& a) {
    Check(!auth_open_ && (a.mechanism == "NTLM" || a.mechanism == "LOGIN"));
    auth_open_ = awaiting_auth_ = true;
  }
  void Record(action::AuthStep&) {
    Check(auth_open_ && !awaiting_auth_);
    awaiting_auth_ = true;
  }
  void Record(action::AuthCancel&) {
    Check(auth_open_);
    auth_open_ = awaiting_auth_ = false;
  }
  void Record(action::Acknowledged& a) {
    Check(listener_.acknowledgement_delay.count() > 0 && !a.queue_id.empty() && !a.why.empty());
  }
  void Record(action::RecipientCheck& a) {
    Check(!awaiting_recipient_ && !a.address.empty());
    awaiting_recipient_ = true;
  }
  void Record(action::MailCheck& a) {
    Check(!awaiting_mail_ && !stream_open_ && a.listener == "fuzz" && !a.rate_key.empty());
    awaiting_mail_ = true;
  }
  // One line each, whatever the client sent (the logger adds the newline).
  void Record(action::Log& a) {
    Check(!a.text.empty() && a.text.find_first_of("\r\n") == std::string::npos);
  }

  Config config_;
  ListenerConfig listener_;
  FakeClock clock_;
  std::unique_ptr<ServerSession> session_;
  bool closed_ = false;
  bool stream_open_ = false;
  bool awaiting_queue_ = false;
  bool awaiting_mail_ = false;
  bool awaiting_recipient_ = false;
  bool awaiting_tls_ = false;
  bool tls_started_ = false;
  bool auth_open_ = false;
  bool awaiting_auth_ = false;  // an AuthStart or AuthStep waits for its answer
};

}  // namespace
}  // namespace postern

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  postern::Driver driver(data[0]);
  uint32_t state = data[1] * 2654435761u + 1;
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  driver.Start();
  while (!rest.empty()) {
    state = state * 1103515245u + 12345u;
    size_t piece = 1 + (state >> 16) % 64;
    driver.Feed(rest.substr(0, piece));
    rest.remove_prefix(std::min(piece, rest.size()));
    driver.Tick(static_cast<uint8_t>(state >> 8));
  }
  driver.Tick(1);  // answer a message still waiting
  driver.Finish();
  return 0;
}
