// lib/smtp/client_session.cc — one SMTP client session to one next hop.
//
// Every command written registers the reply it waits for (an Expect) in
// pending_, in order; each reply read is matched with the first. The
// transaction of the current message keeps what its replies decided until
// its last reply is in, and only then are its recipients' outcomes settled
// (EndTransaction), so pipelined and one-at-a-time sessions share one path.
#include "lib/smtp/client_session.h"

#include <algorithm>
#include <deque>
#include <map>

#include "lib/base/ascii.h"
#include "lib/base/printable.h"
#include "lib/smtp/base64.h"
#include "lib/smtp/line_breaks.h"
#include "lib/smtp/peer_extensions.h"
#include "lib/smtp/reply_parser.h"
#include "lib/smtp/smtp_address.h"
#include "lib/smtp/xtext.h"

namespace postern {

std::string Diagnostic::ToString() const {
  std::string out = code != 0 ? std::to_string(code) : "";
  for (const std::string* part : {&enhanced, &text}) {
    if (part->empty()) continue;
    if (!out.empty()) out += ' ';
    out += *part;
  }
  return out;
}

namespace {

// The reply a command waits for.
enum class Await {
  kGreeting,
  kEhlo,
  kHelo,
  kStartTls,
  kAuth,
  kRset,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kBdatLast,
  kDataEnd,
  kQuit,
};

struct Expect {
  Await what = Await::kGreeting;
  size_t recipient = 0;  // for kRcpt: the envelope's index
};

// For timeout and lost-connection reasons: "waiting for <this>".
const char* AwaitName(Await what) {
  switch (what) {
    case Await::kGreeting:
      return "the server's greeting";
    case Await::kEhlo:
      return "the reply to EHLO";
    case Await::kHelo:
      return "the reply to HELO";
    case Await::kStartTls:
      return "the reply to STARTTLS";
    case Await::kAuth:
      return "the reply to AUTH";
    case Await::kRset:
      return "the reply to RSET";
    case Await::kMail:
      return "the reply to MAIL FROM";
    case Await::kRcpt:
      return "the reply to RCPT TO";
    case Await::kData:
      return "the reply to DATA";
    case Await::kBdat:
      return "the reply to a BDAT chunk";
    case Await::kBdatLast:
      return "the reply to the last BDAT chunk";
    case Await::kDataEnd:
      return "the reply to the end of the message";
    case Await::kQuit:
      return "the reply to QUIT";
  }
  return "a reply";
}

Diagnostic FromReply(const SmtpReply& reply) {
  return Diagnostic{reply.code, reply.enhanced, reply.Text()};
}

Diagnostic Own(std::string enhanced, std::string text) {
  return Diagnostic{0, std::move(enhanced), std::move(text)};
}

// RFC 5321 4.5.3.1.10, MS-OXSMTP 3.2.5: the recipient is fine, this
// transaction has no room for it.
bool TooManyRecipients(const SmtpReply& reply) {
  return (reply.code == 452 && reply.enhanced == "4.5.3") ||
         (reply.code == 552 && reply.enhanced == "5.5.3");
}

// content with a '.' doubled at the start of every line (RFC 5321 4.5.2);
// *at_line_start carries whether the previous piece ended a line.
std::string DotStuff(std::string_view content, bool* at_line_start) {
  std::string out;
  out.reserve(content.size() + content.size() / 64);
  size_t begin = 0;
  while (begin < content.size()) {
    if (*at_line_start && content[begin] == '.') out += '.';
    size_t lf = FindLineFeed(content, begin);
    size_t end = lf == std::string_view::npos ? content.size() : lf + 1;
    out.append(content, begin, end - begin);
    *at_line_start = lf != std::string_view::npos;
    begin = end;
  }
  return out;
}

std::string NotifyValue(uint8_t notify) {
  if (notify & kNotifyNever) return "NEVER";
  std::string value;
  for (auto [bit, name] :
       {std::pair{kNotifySuccess, "SUCCESS"}, std::pair{kNotifyFailure, "FAILURE"},
        std::pair{kNotifyDelay, "DELAY"}}) {
    if (!(notify & bit)) continue;
    if (!value.empty()) value += ',';
    value += name;
  }
  return value;
}

}  // namespace

class ClientSession::Impl {
 public:
  Impl(ClientSettings settings, const Clock& clock)
      : settings_(std::move(settings)), clock_(clock) {}

  void Start() {
    if (phase_ != Phase::kNew) return;
    phase_ = Phase::kGreeting;
    ExpectReply({Await::kGreeting});
  }

  void Received(std::string_view bytes) {
    while (!bytes.empty() && ReadsReplies()) {
      ReplyParser::Item item = parser_.Next(bytes);
      bytes.remove_prefix(item.consumed);
      if (item.kind == ReplyParser::Kind::kError) {
        EndSession(Own("4.5.0", "protocol error: the server sent " + parser_.error()), false);
        return;
      }
      if (item.kind == ReplyParser::Kind::kNeedMore) return;
      OnReply(parser_.reply());
    }
  }

  void PeerClosed() {
    if (phase_ == Phase::kClosed) return;
    if (phase_ == Phase::kQuitting) return CloseNow();
    EndSession(Own("4.4.2", "lost connection with the server while waiting for " + Waiting()),
               false);
  }

  void TlsStarted() {
    if (phase_ != Phase::kHandshake) return;
    tls_ = true;
    parser_ = ReplyParser();
    ext_ = PeerExtensions();
    SendEhlo();
  }

  void TlsFailed(const std::string& reason) {
    if (phase_ != Phase::kHandshake) return;
    EndSession(Own("4.7.5", "TLS handshake failed: " + reason), false);
  }

  void AuthResponse(std::optional<std::string> response) {
    if (phase_ != Phase::kAuthClient) return;
    phase_ = Phase::kAuthServer;
    if (!auth_started_) {
      auth_started_ = true;
      std::string line = "AUTH " + auth_mechanism_;
      if (auth_mechanism_ == "NTLM") {
        ntlm_initial_ = std::move(response);
        ntlm_greeting_due_ = true;
      } else if (response) {
        line += " " + (response->empty() ? std::string("=") : Base64Encode(*response));
      }
      SendCommand(line + "\r\n", {Await::kAuth});
      return;
    }
    SendCommand(Base64Encode(response.value_or("")) + "\r\n", {Await::kAuth});
  }

  void AuthFailed(const std::string& reason) {
    if (phase_ != Phase::kAuthClient) return;
    Diagnostic why = Own("4.7.0", "the SASL client failed for AUTH " + auth_mechanism_ + ": " +
                                      Printable(reason, 200));
    if (!auth_started_) return EndSession(why, true);
    CancelAuth(why);
  }

  void ContentPiece(std::string_view bytes, bool last) {
    if (!txn_ || !txn_->wants_content) return;
    Transaction& t = *txn_;
    t.wants_content = false;
    t.offset += bytes.size();
    if (t.chunking) {
      std::string out = std::move(t.held);
      t.held.clear();
      for (const Expect& e : t.held_expects) ExpectReply(e);
      t.held_expects.clear();
      out += "BDAT " + std::to_string(bytes.size()) + (last ? " LAST" : "") + "\r\n";
      out.append(bytes);
      ExpectReply({last ? Await::kBdatLast : Await::kBdat});
      Send(std::move(out));
      if (!last && ext_.pipelining && !t.stopped) RequestContent();
      return;
    }
    std::string out = DotStuff(bytes, &t.at_line_start);
    if (last) {
      if (!t.at_line_start) out += "\r\n";
      out += ".\r\n";
      ExpectReply({Await::kDataEnd});
    }
    Send(std::move(out));
    if (!last) RequestContent();
  }

  void Deliver(Envelope envelope) {
    if (phase_ == Phase::kClosed || phase_ == Phase::kQuitting) {
      Message m = NewMessage(std::move(envelope));
      return FinishMessage(
          &m, end_.completed ? Own("4.4.2", "the session had already ended") : end_.reason);
    }
    queue_.push_back(std::move(envelope));
    ready_sent_ = false;
    if (phase_ == Phase::kReady && !message_) Proceed();
  }

  void Quit() {
    quit_requested_ = true;
    if (phase_ == Phase::kReady && !message_) Proceed();
  }

  void OnTimer() {
    if (phase_ == Phase::kClosed || clock_.Now() < NextDeadline()) return;
    if (phase_ == Phase::kQuitting) return CloseNow();
    std::string what = txn_ && txn_->wants_content ? "message content to send" : Waiting();
    EndSession(Own("4.4.2", "timed out waiting for " + what), false);
  }

  TimePoint NextDeadline() const {
    TimePoint deadline = TimePoint::max();
    if (phase_ == Phase::kClosed) return deadline;
    if (!pending_.empty())
      deadline = std::min(deadline, reply_since_ + Timeout(pending_.front().what));
    if (txn_ && txn_->wants_content)
      deadline = std::min(deadline, content_since_ + settings_.data_block_timeout);
    if (phase_ == Phase::kHandshake)
      deadline = std::min(deadline, handshake_since_ + settings_.command_timeout);
    return deadline;
  }

  std::vector<ClientAction> TakeActions() { return std::exchange(actions_, {}); }
  bool closed() const { return phase_ == Phase::kClosed; }

 private:
  enum class Phase {
    kNew,
    kGreeting,
    kHello,       // EHLO or HELO sent
    kStartTls,    // STARTTLS sent
    kHandshake,   // StartTls asked for; reading nothing
    kAuthClient,  // waiting for the SASL client
    kAuthServer,  // waiting for the server's answer in an AUTH exchange
    kReady,       // idle, or carrying messages
    kQuitting,    // QUIT sent, or about to be
    kClosed,
  };

  // One message from Deliver() until its MessageDone.
  struct Message {
    Envelope envelope;
    std::vector<size_t> attempted;  // recipients in kPending state
    std::vector<size_t> todo;       // for the next transaction
    std::map<size_t, RecipientOutcome> results;
    bool dsn_passed_on = false;
    bool retried = false;  // a repair after a MAIL refusal was made
  };

  // One MAIL transaction of the current message.
  struct Transaction {
    std::vector<size_t> batch;
    std::vector<size_t> accepted;
    std::vector<size_t> too_many;
    std::optional<SmtpReply> too_many_reply;
    bool mail_accepted = false;
    std::optional<SmtpReply> mail_refusal;
    std::optional<SmtpReply> refusal;      // of DATA or a BDAT chunk
    std::optional<SmtpReply> final_reply;  // to the end of the content
    // Without pipelining: the commands, sent one per reply.
    std::vector<std::pair<std::string, Expect>> commands;
    size_t next_command = 0;
    bool chunking = false;
    // Pipelined BDAT: commands that go out with the first chunk.
    std::string held;
    std::vector<Expect> held_expects;
    bool wants_content = false;
    bool stopped = false;  // no more content: a refusal was read
    uint64_t offset = 0;
    bool at_line_start = true;
  };

  bool ReadsReplies() const {
    return phase_ != Phase::kNew && phase_ != Phase::kHandshake && phase_ != Phase::kClosed;
  }

  bool TlsRequired() const {
    return settings_.tls == RelayTls::kEncrypt || settings_.tls == RelayTls::kVerify;
  }

  bool CanTryStartTls() const {
    return !tls_ && settings_.tls != RelayTls::kNone && !starttls_tried_;
  }

  Duration Timeout(Await what) const {
    switch (what) {
      case Await::kGreeting:
        return settings_.greeting_timeout;
      case Await::kMail:
        return settings_.mail_timeout;
      case Await::kRcpt:
        return settings_.rcpt_timeout;
      case Await::kData:
        return settings_.data_init_timeout;
      case Await::kBdat:
        return settings_.data_block_timeout;
      case Await::kBdatLast:
      case Await::kDataEnd:
        return settings_.data_done_timeout;
      default:
        return settings_.command_timeout;
    }
  }

  std::string Waiting() const {
    if (phase_ == Phase::kHandshake) return "the TLS handshake";
    if (!pending_.empty()) return AwaitName(pending_.front().what);
    return "a command to send";
  }

  template <typename T>
  void Emit(T action) {
    actions_.emplace_back(std::in_place_type<T>, std::move(action));
  }

  void Send(std::string bytes) { Emit(client_action::Send{std::move(bytes)}); }

  void ExpectReply(Expect expect) {
    if (pending_.empty()) reply_since_ = clock_.Now();
    pending_.push_back(expect);
  }

  void SendCommand(std::string line, Expect expect) {
    ExpectReply(expect);
    Send(std::move(line));
  }

  // ---- replies -----------------------------------------------------------
  void OnReply(const SmtpReply& reply) {
    if (phase_ == Phase::kQuitting) {
      Await what = pending_.empty() ? Await::kQuit : pending_.front().what;
      if (!pending_.empty()) pending_.pop_front();
      if (what == Await::kQuit || reply.code == 421) CloseNow();
      return;
    }
    if (reply.code == 421) return EndSession(FromReply(reply), false);
    if (pending_.empty()) {
      return EndSession(Own("4.5.0", "protocol error: the server sent a reply nothing asked for: " +
                                         Printable(reply.ToString(), 200)),
                        false);
    }
    Expect expect = pending_.front();
    pending_.pop_front();
    reply_since_ = clock_.Now();
    switch (expect.what) {
      case Await::kGreeting:
        return reply.code == 220 ? SendEhlo() : EndSession(FromReply(reply), true);
      case Await::kEhlo:
        return OnEhloReply(reply);
      case Await::kHelo:
        if (!reply.positive()) return EndSession(FromReply(reply), true);
        ext_ = PeerExtensions();
        parser_.set_enhanced_status_codes(false);
        return AfterHello();
      case Await::kStartTls:
        return OnStartTlsReply(reply);
      case Await::kAuth:
        return OnAuthReply(reply);
      case Await::kQuit:
        return CloseNow();
      default:
        return OnTransactionReply(expect, reply);
    }
  }

  void OnEhloReply(const SmtpReply& reply) {
    if (reply.code == 500 || reply.code == 502) {
      phase_ = Phase::kHello;
      return SendCommand("HELO " + settings_.helo_name + "\r\n", {Await::kHelo});
    }
    if (!reply.positive()) return EndSession(FromReply(reply), true);
    ext_ = ParseEhloReply(reply);
    parser_.set_enhanced_status_codes(ext_.enhanced_status_codes);
    AfterHello();
  }

  void OnStartTlsReply(const SmtpReply& reply) {
    if (reply.code == 220) {
      phase_ = Phase::kHandshake;
      handshake_since_ = clock_.Now();
      Emit(client_action::StartTls{});
      return;
    }
    if (TlsRequired()) return EndSession(FromReply(reply), true);
    AfterHello();
  }

  // ---- hello, TLS, AUTH --------------------------------------------------
  void SendEhlo() {
    phase_ = Phase::kHello;
    SendCommand("EHLO " + settings_.helo_name + "\r\n", {Await::kEhlo});
  }

  void SendStartTls() {
    starttls_tried_ = true;
    phase_ = Phase::kStartTls;
    SendCommand("STARTTLS\r\n", {Await::kStartTls});
  }

  // What a fresh hello leads to: TLS, then AUTH, then mail.
  void AfterHello() {
    if (CanTryStartTls() && ext_.starttls) return SendStartTls();
    if (!tls_ && TlsRequired())
      return EndSession(Own("4.7.4", "TLS is required, but the server did not offer STARTTLS"),
                        true);
    if (settings_.credentials && !authenticated_ && !auth_tried_ && !ext_.auth_mechanisms.empty()) {
      if (!tls_ && !settings_.allow_plaintext_auth)
        return EndSession(Own("4.7.0",
                              "the server offers AUTH without TLS, and AUTH over a cleartext "
                              "connection is not allowed"),
                          true);
      for (const std::string& mechanism : settings_.auth_mechanisms)
        if (ext_.OffersAuth(mechanism)) return BeginAuth(AsciiUpperCase(mechanism));
      std::string offered;
      for (const std::string& m : ext_.auth_mechanisms) offered += " " + m;
      return EndSession(
          Own("4.7.0", "no common AUTH mechanism: the server offers" + Printable(offered, 200)),
          true);
    }
    Proceed();
  }

  void BeginAuth(std::string mechanism) {
    auth_tried_ = true;
    auth_started_ = false;
    auth_mechanism_ = std::move(mechanism);
    auth_failure_.reset();
    ntlm_initial_.reset();
    ntlm_greeting_due_ = false;
    phase_ = Phase::kAuthClient;
    Emit(client_action::AuthStart{auth_mechanism_});
  }

  void CancelAuth(Diagnostic why) {
    auth_failure_ = std::move(why);
    phase_ = Phase::kAuthServer;
    SendCommand("*\r\n", {Await::kAuth});
  }

  void OnAuthReply(const SmtpReply& reply) {
    if (auth_failure_) return EndSession(*auth_failure_, true);
    if (reply.code == 235) {
      authenticated_ = true;
      return Proceed();
    }
    if (reply.code != 334) return EndSession(FromReply(reply), true);
    if (ntlm_greeting_due_) {
      // [MS-SMTP] 3.1.5.2: "334 NTLM supported" is no challenge.
      ntlm_greeting_due_ = false;
      if (ntlm_initial_) {
        std::string negotiate = Base64Encode(*ntlm_initial_);
        ntlm_initial_.reset();
        return SendCommand(negotiate + "\r\n", {Await::kAuth});
      }
      phase_ = Phase::kAuthClient;
      return Emit(client_action::AuthContinue{""});
    }
    std::optional<std::string> challenge = Base64Decode(reply.Text());
    if (!challenge)
      return CancelAuth(
          Own("4.7.0", "the server's AUTH " + auth_mechanism_ +
                           " challenge is not base64: " + Printable(reply.Text(), 100)));
    phase_ = Phase::kAuthClient;
    Emit(client_action::AuthContinue{std::move(*challenge)});
  }

  // ---- messages ----------------------------------------------------------
  // The session is ready for mail: go on with the current message, start
  // the next, QUIT, or say it is idle.
  void Proceed() {
    phase_ = Phase::kReady;
    if (message_) return StartTransaction();
    while (!message_ && !queue_.empty()) {
      Envelope envelope = std::move(queue_.front());
      queue_.pop_front();
      StartMessage(std::move(envelope));
    }
    if (message_) return;
    if (quit_requested_) {
      end_ = SessionEnd{true, {}};
      phase_ = Phase::kQuitting;
      return SendCommand("QUIT\r\n", {Await::kQuit});
    }
    if (!ready_sent_) {
      ready_sent_ = true;
      Emit(client_action::Ready{});
    }
  }

  Message NewMessage(Envelope envelope) {
    Message m;
    m.envelope = std::move(envelope);
    for (size_t i = 0; i < m.envelope.recipients.size(); ++i)
      if (m.envelope.recipients[i].state == RecipientState::kPending) m.attempted.push_back(i);
    return m;
  }

  // Starts a transaction for the message, or finishes it at once when it
  // cannot be sent to this peer.
  void StartMessage(Envelope envelope) {
    Message m = NewMessage(std::move(envelope));
    m.dsn_passed_on = ext_.dsn;
    const Envelope& e = m.envelope;
    std::optional<Diagnostic> refusal;
    if (e.body == BodyType::k8BitMime && !ext_.eightbitmime) {
      refusal =
          Own("5.6.3", "the message has an 8-bit body and the server does not offer 8BITMIME");
    } else if (e.body == BodyType::kBinaryMime && !ext_.binarymime) {
      refusal = Own("5.6.3",
                    "the message has a binary body and the server does not offer BINARYMIME "
                    "with CHUNKING");
    } else if (ext_.size && ext_.size_limit != 0 && e.size > ext_.size_limit) {
      refusal =
          Own("5.3.4", "message size " + std::to_string(e.size) +
                           " exceeds the server's limit of " + std::to_string(ext_.size_limit));
    }
    if (refusal) {
      for (size_t i : m.attempted) m.results[i] = {i, DeliveryStatus::kFailed, *refusal};
    } else {
      m.todo = m.attempted;
    }
    if (m.todo.empty()) return FinishMessage(&m, Own("4.5.0", "not attempted"));
    message_ = std::move(m);
    StartTransaction();
  }

  std::string MailCommand() const {
    const Envelope& e = message_->envelope;
    std::string cmd = "MAIL FROM:<" + e.sender + ">";
    if (ext_.size) cmd += " SIZE=" + std::to_string(e.size);
    if (e.body == BodyType::k8BitMime) cmd += " BODY=8BITMIME";
    if (e.body == BodyType::kBinaryMime) cmd += " BODY=BINARYMIME";
    if (ext_.dsn) {
      if (e.ret == DsnRet::kFull) cmd += " RET=FULL";
      if (e.ret == DsnRet::kHeaders) cmd += " RET=HDRS";
      if (!e.envid.empty()) cmd += " ENVID=" + e.envid;
    }
    if (authenticated_) {
      bool mailbox = !e.auth_mailbox.empty() && e.auth_mailbox != "<>";
      cmd += " AUTH=" + (mailbox ? EncodeXtext(e.auth_mailbox) : std::string("<>"));
    }
    return cmd + "\r\n";
  }

  std::string RcptCommand(size_t index) const {
    const Recipient& r = message_->envelope.recipients[index];
    std::string cmd = "RCPT TO:<" + r.address + ">";
    if (ext_.dsn) {
      if (r.notify != 0) cmd += " NOTIFY=" + NotifyValue(r.notify);
      if (!r.orcpt.empty()) cmd += " ORCPT=" + r.orcpt;
    }
    return cmd + "\r\n";
  }

  void StartTransaction() {
    txn_.emplace();
    Transaction& t = *txn_;
    t.batch = std::exchange(message_->todo, {});
    t.chunking = ext_.chunking;
    if (need_rset_) t.commands.push_back({"RSET\r\n", {Await::kRset}});
    t.commands.push_back({MailCommand(), {Await::kMail}});
    for (size_t i : t.batch) t.commands.push_back({RcptCommand(i), {Await::kRcpt, i}});
    if (!t.chunking) t.commands.push_back({"DATA\r\n", {Await::kData}});
    if (!ext_.pipelining) return ContinueUnpipelined();
    std::string all;
    for (auto& [line, expect] : t.commands) {
      all += line;
      if (t.chunking) {
        t.held_expects.push_back(expect);
      } else {
        ExpectReply(expect);
      }
    }
    t.commands.clear();
    if (!t.chunking) return Send(std::move(all));
    t.held = std::move(all);
    RequestContent();
  }

  // Without PIPELINING: sends the next command when the replies so far
  // leave a point in it, or asks for the first BDAT chunk.
  void ContinueUnpipelined() {
    Transaction& t = *txn_;
    if (t.next_command < t.commands.size()) {
      auto& [line, expect] = t.commands[t.next_command];
      bool worth_it = expect.what == Await::kRset || expect.what == Await::kMail ||
                      (expect.what == Await::kRcpt && t.mail_accepted) ||
                      (expect.what == Await::kData && !t.accepted.empty());
      if (!worth_it) return;
      ++t.next_command;
      return SendCommand(std::move(line), expect);
    }
    if (t.chunking && !t.accepted.empty() && t.offset == 0 && !t.wants_content) RequestContent();
  }

  void RequestContent() {
    Transaction& t = *txn_;
    t.wants_content = true;
    content_since_ = clock_.Now();
    Emit(client_action::NeedContent{message_->envelope.queue_id, t.offset});
  }

  void StopContent() {
    txn_->stopped = true;
    txn_->wants_content = false;
  }

  void OnTransactionReply(const Expect& expect, const SmtpReply& reply) {
    Transaction& t = *txn_;
    switch (expect.what) {
      case Await::kRset:
        if (!reply.positive()) return EndSession(FromReply(reply), true);
        need_rset_ = false;
        break;
      case Await::kMail:
        if (reply.positive()) {
          t.mail_accepted = true;
        } else {
          t.mail_refusal = reply;
          if (t.chunking) StopContent();
        }
        break;
      case Await::kRcpt:
        OnRcptReply(expect.recipient, reply);
        break;
      case Await::kData:
        if (reply.code != 354) {
          if (!t.refusal) t.refusal = reply;
        } else if (t.accepted.empty()) {
          // RFC 2920 3.1: DATA went ahead of the refusals; end it empty.
          SendCommand(".\r\n", {Await::kDataEnd});
        } else {
          RequestContent();
        }
        break;
      case Await::kBdat:
        if (!reply.positive()) {
          if (!t.refusal) t.refusal = reply;
          StopContent();
        } else if (!ext_.pipelining && !t.stopped) {
          RequestContent();
        }
        break;
      default:  // the end of the content
        t.final_reply = reply;
        break;
    }
    bool command_reply =
        expect.what == Await::kRset || expect.what == Await::kMail || expect.what == Await::kRcpt;
    if (!ext_.pipelining && command_reply) ContinueUnpipelined();
    if (pending_.empty() && !t.wants_content && t.held.empty()) EndTransaction();
  }

  void OnRcptReply(size_t index, const SmtpReply& reply) {
    Transaction& t = *txn_;
    if (!t.mail_accepted) return;  // MAIL's refusal decides
    if (reply.positive()) {
      t.accepted.push_back(index);
    } else if (TooManyRecipients(reply)) {
      t.too_many.push_back(index);
      if (!t.too_many_reply) t.too_many_reply = reply;
    } else {
      Record(index, reply.permanent() ? DeliveryStatus::kFailed : DeliveryStatus::kDeferred,
             FromReply(reply));
    }
    if (index == t.batch.back() && t.accepted.empty() && t.chunking) StopContent();
  }

  void Record(size_t index, DeliveryStatus status, Diagnostic diagnostic) {
    message_->results[index] = RecipientOutcome{index, status, std::move(diagnostic)};
  }

  // Every reply of the transaction is in: settle its recipients, then go on
  // with the rest of the message, a repair, or the next message.
  void EndTransaction() {
    Transaction t = std::move(*txn_);
    txn_.reset();
    need_rset_ = t.mail_accepted && !t.final_reply;
    Message& m = *message_;
    if (t.mail_refusal) {
      const SmtpReply& refusal = *t.mail_refusal;
      if (!m.retried && TryRepair(refusal)) {
        m.retried = true;
        m.todo = t.batch;
        return;
      }
      bool ours = refusal.code == 530 && settings_.credentials;
      DeliveryStatus status =
          refusal.permanent() && !ours ? DeliveryStatus::kFailed : DeliveryStatus::kDeferred;
      for (size_t i : t.batch) Record(i, status, FromReply(refusal));
    } else {
      if (!t.accepted.empty()) {
        // Content was asked for only with a recipient accepted, and is
        // answered by a refusal or by the final reply.
        const SmtpReply& decided = t.refusal ? *t.refusal : *t.final_reply;
        DeliveryStatus status = decided.positive()    ? DeliveryStatus::kDelivered
                                : decided.permanent() ? DeliveryStatus::kFailed
                                                      : DeliveryStatus::kDeferred;
        for (size_t i : t.accepted) Record(i, status, FromReply(decided));
        m.todo = t.too_many;
      } else {
        for (size_t i : t.too_many)
          Record(i, DeliveryStatus::kDeferred, FromReply(*t.too_many_reply));
      }
    }
    if (!m.todo.empty()) return StartTransaction();
    FinishMessage(&m, Own("4.5.0", "no reply decided this recipient"));
    message_.reset();
    Proceed();
  }

  // MS-OXSMTP 3.2.5 rows whose cause the session can remove; true when a
  // repair began (the transaction is retried once it is done).
  bool TryRepair(const SmtpReply& refusal) {
    if (refusal.code == 503 && (refusal.enhanced == "5.5.2" || refusal.enhanced.empty()) &&
        !hello_repaired_) {
      hello_repaired_ = true;
      SendEhlo();
      return true;
    }
    if (refusal.code == 451 && refusal.enhanced == "5.7.3" && CanTryStartTls()) {
      SendStartTls();
      return true;
    }
    bool auth_required =
        refusal.code == 530 &&
        (refusal.enhanced.empty() || refusal.enhanced == "5.7.0" || refusal.enhanced == "5.7.1");
    if (!auth_required || !settings_.credentials || authenticated_) return false;
    if (CanTryStartTls()) {
      SendStartTls();
      return true;
    }
    if (auth_tried_ || settings_.auth_mechanisms.empty() ||
        (!tls_ && !settings_.allow_plaintext_auth))
      return false;
    std::string mechanism = AsciiUpperCase(settings_.auth_mechanisms.front());
    for (const std::string& m : settings_.auth_mechanisms) {
      if (ext_.OffersAuth(m)) {
        mechanism = AsciiUpperCase(m);
        break;
      }
    }
    BeginAuth(mechanism);
    return true;
  }

  // Reports the message; recipients without an outcome get rest (deferred).
  void FinishMessage(Message* m, const Diagnostic& rest) {
    MessageOutcome outcome;
    outcome.queue_id = m->envelope.queue_id;
    outcome.dsn_passed_on = m->dsn_passed_on;
    for (size_t i : m->attempted) {
      auto found = m->results.find(i);
      outcome.recipients.push_back(found != m->results.end()
                                       ? found->second
                                       : RecipientOutcome{i, DeliveryStatus::kDeferred, rest});
    }
    Emit(client_action::MessageDone{std::move(outcome)});
  }

  // ---- the end -----------------------------------------------------------
  // The session cannot go on: every recipient not final is deferred with
  // why; QUIT when the channel is still in order.
  void EndSession(Diagnostic why, bool quit) {
    if (phase_ == Phase::kClosed || phase_ == Phase::kQuitting) return;
    end_ = SessionEnd{false, why};
    txn_.reset();
    if (message_) {
      FinishMessage(&*message_, why);
      message_.reset();
    }
    while (!queue_.empty()) {
      Message m = NewMessage(std::move(queue_.front()));
      queue_.pop_front();
      FinishMessage(&m, why);
    }
    if (!quit) return CloseNow();
    phase_ = Phase::kQuitting;
    SendCommand("QUIT\r\n", {Await::kQuit});
  }

  void CloseNow() {
    phase_ = Phase::kClosed;
    pending_.clear();
    Emit(client_action::Close{end_});
  }

  ClientSettings settings_;
  const Clock& clock_;
  std::vector<ClientAction> actions_;
  Phase phase_ = Phase::kNew;
  ReplyParser parser_;
  std::deque<Expect> pending_;
  TimePoint reply_since_{};
  TimePoint content_since_{};
  TimePoint handshake_since_{};
  PeerExtensions ext_;
  bool tls_ = false;
  bool starttls_tried_ = false;
  bool hello_repaired_ = false;
  // AUTH
  bool authenticated_ = false;
  bool auth_tried_ = false;
  bool auth_started_ = false;  // the AUTH line went out
  std::string auth_mechanism_;
  std::optional<Diagnostic> auth_failure_;  // "*" sent; the session ends with this
  std::optional<std::string> ntlm_initial_;
  bool ntlm_greeting_due_ = false;
  // Messages
  std::deque<Envelope> queue_;
  std::optional<Message> message_;
  std::optional<Transaction> txn_;
  bool need_rset_ = false;
  bool quit_requested_ = false;
  bool ready_sent_ = false;
  SessionEnd end_;
};

ClientSession::ClientSession(ClientSettings settings, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(settings), clock)) {}
ClientSession::~ClientSession() = default;
void ClientSession::Start() { impl_->Start(); }
void ClientSession::Received(std::string_view bytes) { impl_->Received(bytes); }
void ClientSession::PeerClosed() { impl_->PeerClosed(); }
void ClientSession::TlsStarted() { impl_->TlsStarted(); }
void ClientSession::TlsFailed(const std::string& reason) { impl_->TlsFailed(reason); }
void ClientSession::AuthResponse(std::optional<std::string> response) {
  impl_->AuthResponse(std::move(response));
}
void ClientSession::AuthFailed(const std::string& reason) { impl_->AuthFailed(reason); }
void ClientSession::ContentPiece(std::string_view bytes, bool last) {
  impl_->ContentPiece(bytes, last);
}
void ClientSession::Deliver(Envelope envelope) { impl_->Deliver(std::move(envelope)); }
void ClientSession::Quit() { impl_->Quit(); }
void ClientSession::OnTimer() { impl_->OnTimer(); }
TimePoint ClientSession::NextDeadline() const { return impl_->NextDeadline(); }
std::vector<ClientAction> ClientSession::TakeActions() { return impl_->TakeActions(); }
bool ClientSession::closed() const { return impl_->closed(); }

}  // namespace postern
