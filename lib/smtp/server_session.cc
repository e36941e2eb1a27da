// lib/smtp/server_session.cc — see lib/smtp/server_session.h.
//
// One Impl per client connection. Input is appended to input_ and consumed
// by Process(), which dispatches on the phase: command lines, DATA content,
// BDAT chunk data, answers to AUTH challenges, or nothing while waiting for
// qmgr, authd, master's answer to a MAIL, a TLS handshake or a tarpit. Every
// answer to a command goes through Respond() (or RefuseMail()), which applies
// the tarpit and counts protocol errors, then ReplyProduced(), which looks
// for input the client sent too early; every end of the session goes through
// EndSession(), which discards the transaction and any AUTH exchange.
#include "lib/smtp/server_session.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/base/ascii.h"
#include "lib/queue/queue_id.h"
#include "lib/smtp/base64.h"
#include "lib/smtp/message_reader.h"
#include "lib/smtp/received_header.h"
#include "lib/smtp/reply_catalogue.h"
#include "lib/smtp/smtp_address.h"
#include "lib/smtp/smtp_command.h"

namespace postern {
namespace {

// Content is handed to qmgr in pieces of this size (fewer, fuller IPC
// frames, each well under ipc::kMaxPayload); the last piece may be smaller.
// Input beyond kMaxBacklog unprocessed pauses reading.
constexpr size_t kDataBatch = 64 * 1024;
constexpr size_t kMaxBacklog = 64 * 1024;
// Replies produced and not yet taken past which the session reads no further
// command until OutputWritten(): a client that pipelines commands without
// reading the replies (EHLO answers are 30 times the size of the command)
// holds this much of the worker's memory, not gigabytes.
constexpr size_t kMaxReplyBacklog = 16 * 1024;

bool IsProtocolError(const Reply& reply) {
  if (&reply == &reply::kAuthCancelled) return false;  // the client's right (RFC 4954 4)
  return reply.code == 500 || reply.code == 501 || reply.code == 503;
}

bool IsError(const Reply& reply) { return reply.code >= 400; }

// Mechanisms whose exchange carries the password itself.
bool SendsPasswordInTheClear(std::string_view mechanism) {
  return AsciiEqualsIgnoreCase(mechanism, "LOGIN") || AsciiEqualsIgnoreCase(mechanism, "PLAIN");
}

std::string Upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return upper;
}

int64_t SystemWallClock() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

class ServerSession::Impl {
 public:
  Impl(const Config& config, const ListenerConfig& listener, ClientInfo client, const Clock& clock,
       WallClock wall_clock)
      : config_(config),
        listener_(listener),
        client_(std::move(client)),
        clock_(clock),
        wall_clock_(wall_clock ? std::move(wall_clock) : SystemWallClock) {}

  void UseSenderLoginMap(const SenderLoginMap* map) { sender_logins_ = map; }
  void Start(std::optional<TlsInfo> implicit_tls);
  void Receive(std::string_view bytes);
  void ReceiveEof();
  void QueueResult(ipc::QueueOutcome outcome);
  void MailCheckResult(ipc::MailVerdict verdict);
  void TlsStarted(const TlsInfo& tls);
  void AuthResult(ipc::AuthOutcome outcome, const std::string& data);
  const std::string& authenticated_user() const { return authenticated_user_; }
  void OnTimer();
  TimePoint NextDeadline() const;
  std::vector<Action> TakeActions() {
    untaken_reply_bytes_ = 0;
    return std::exchange(actions_, {});
  }
  void OutputWritten();
  bool closed() const { return phase_ == Phase::kClosed; }
  bool input_paused() const {
    return phase_ == Phase::kClosed || Waiting() || phase_ == Phase::kAwaitingTls ||
           reply_backlog_full_ || input_.size() - consumed_ > kMaxBacklog;
  }

 private:
  enum class Phase {
    kCommand,        // reading command lines
    kData,           // reading DATA content up to CRLF.CRLF
    kChunk,          // reading the octets of a BDAT chunk
    kAwaitingQueue,  // EndMessage sent; waiting for QueueResult()
    kAwaitingMail,   // MailCheck sent for a MAIL; waiting for MailCheckResult()
    kTarpit,         // holding an error reply until tarpit_deadline_
    kAwaitingTls,    // StartTls sent; waiting for TlsStarted()
    kAuthResponse,   // a challenge was sent; reading the client's answer line
    kAwaitingAuth,   // AuthStart/AuthStep sent; waiting for AuthResult()
    kClosed,
  };
  enum class Hello { kNone, kHelo, kEhlo };

  // The mail transaction (RFC 5321 3.3), from MAIL to the end of the data.
  struct Transaction {
    bool has_sender = false;
    MailArguments mail;
    std::vector<Recipient> recipients;
    bool xexch50_seen = false;
    bool bdat_started = false;  // a BDAT chunk of this transaction was accepted
    bool stream_open = false;   // BeginMessage sent, neither End nor Abort yet
    std::string queue_id;
    std::optional<MessageReader> reader;
    std::string pending_data;  // content not yet handed out as MessageData
  };

  // An AUTH exchange in progress.
  struct AuthExchange {
    std::string mechanism;  // upper-case
    bool started = false;   // AuthStart sent (not yet while NTLM waits for NEGOTIATE)
  };

  // An error reply held back by the tarpit.
  struct HeldReply {
    const Reply* reply = nullptr;
    std::string text;
    bool end_session = false;
  };

  // The BDAT command whose chunk is being read.
  struct Chunk {
    uint64_t size = 0;
    uint64_t remaining = 0;
    bool last = false;
    const Reply* refusal = nullptr;  // sent once the chunk's octets are consumed
  };

  // Input processing.
  void Process();
  // Command lines, and in kAuthResponse the client's answers to challenges.
  bool ProcessLineInput(std::string_view input);
  bool ProcessDataInput(std::string_view input);
  bool ProcessChunkInput(std::string_view input);
  void HandleCommand(std::string_view line);

  // Commands.
  void HandleHello(std::string_view argument, Hello kind);
  void HandleMail(std::string_view argument);
  void HandleRcpt(std::string_view argument);
  void HandleData(std::string_view argument);
  void HandleBdat(std::string_view argument);
  void HandleRset(std::string_view argument);
  void HandleQuit(std::string_view argument);
  void HandleVrfy(std::string_view argument);
  void HandleXexch50();
  void HandleStarttls(std::string_view argument);
  void HandleAuth(std::string_view argument);
  void HandleAuthResponse(std::string_view line);
  void StartAuthExchange(std::optional<std::string> initial_response);
  // An exchange that ended without success, answered with reply (535 or
  // 454): one more logon failure.
  void AuthFailed(const Reply& reply);
  // Back to reading commands; cancels the exchange with authd if it began.
  void EndAuthExchange();
  const Reply* CheckAuth(std::string_view mechanism) const;
  // Whether the mechanism must wait for TLS here (auth_require_tls,
  // allow_plaintext_auth).
  bool NeedsTls(std::string_view mechanism) const;
  const Reply* CheckMail() const;
  // sender_login_check: whether the login may use address ("" for <>);
  // always true when the check is off.
  bool LoginMayUse(std::string_view address) const;
  const Reply* CheckSenderLogin(const MailArguments& mail) const;
  // Envelope::auth_mailbox for the MAIL's AUTH= parameter.
  std::string KeptAuthMailbox(const MailParameters& parameters) const;
  const Reply* CheckRcptSequence() const;
  const Reply* CheckBdat() const;
  std::string RateKey() const;
  void AcceptSender();
  // Answers a MAIL with an error, tarpit_interval late; end_session for an
  // error after which the server ends the session.
  void RefuseMail(const Reply& reply, bool end_session = false);

  // The message stream.
  void BeginMessage();
  void AfterContent();
  void FinishContent();
  void EndOfChunk();
  void FailMessage(ContentVerdict verdict);

  // Extensions in force for this client.
  bool extended() const { return hello_ == Hello::kEhlo; }
  OfferedExtensions Offered() const;
  bool ChunkingOffered() const { return extended() && listener_.advertise_chunking; }
  bool StarttlsOffered() const;
  // The mechanisms the AUTH line lists now, in the configured order.
  std::vector<std::string> AuthMechanismsOffered() const;
  std::string EhloReplyText() const;
  std::string ReceivedProtocol() const;
  ContentLimits Limits() const;
  bool RelayAllowed(const Mailbox& recipient) const;

  // Output and the end of the session. Respond() answers commands: it holds
  // error replies in the tarpit and counts protocol errors; RespondAndEnd()
  // ends the session once its reply is out. SendReply() is for what the
  // server says on its own (banner, timeouts, 421).
  void Respond(const Reply& reply, std::initializer_list<std::string_view> args = {});
  void RespondAndEnd(const Reply& reply);
  void Answer(const Reply& reply, std::string text, bool end_session, bool mail_error);
  void Deliver(const Reply& reply, const std::string& text, bool end_session);
  void Send(int code, const char* enhanced, std::string_view text);
  void SendReply(const Reply& reply, std::initializer_list<std::string_view> args = {});
  // Constructs the alternative in place: moving a whole Action trips g++ 12's
  // -Wmaybe-uninitialized at -O2 (a false positive on std::variant).
  template <typename T>
  void Emit(T action) {
    actions_.emplace_back(std::in_place_type<T>, std::move(action));
  }
  void DiscardTransaction();
  void EndSession();
  void ResumeReading();
  // The reply to the last command (or end of DATA, or BDAT chunk) is out:
  // with advertise_pipelining = no, input already waiting behind it came
  // early and is discarded; Process() then answers 554 5.5.0 and ends.
  void ReplyProduced();

  bool InactivityTimerRuns() const;
  // Waiting for an answer from outside the session (qmgr, master, authd) or
  // for the tarpit: nothing is read, the inactivity timer is suspended.
  bool Waiting() const {
    return phase_ == Phase::kAwaitingQueue || phase_ == Phase::kAwaitingMail ||
           phase_ == Phase::kAwaitingAuth || phase_ == Phase::kTarpit;
  }

  const Config& config_;
  const ListenerConfig& listener_;
  const ClientInfo client_;
  const Clock& clock_;
  const WallClock wall_clock_;

  Phase phase_ = Phase::kCommand;
  Hello hello_ = Hello::kNone;
  std::string helo_name_;
  Transaction transaction_;
  Chunk chunk_;
  CommandLineSplitter splitter_;
  uint32_t protocol_errors_ = 0;
  uint32_t logon_failures_ = 0;
  // A command line, the end of DATA content or a BDAT chunk was read and
  // its reply is not produced yet.
  bool reply_owed_ = false;
  // Early input was found and dropped: Process() ends the session.
  bool improper_pipelining_ = false;
  HeldReply held_;  // the error reply in a tarpit
  std::optional<TlsInfo> tls_;
  std::optional<AuthExchange> auth_;
  // The user that AUTH authenticated, empty before: relay listeners count
  // messages per user once it is set, per client address before.
  std::string authenticated_user_;
  const SenderLoginMap* sender_logins_ = nullptr;

  std::string input_;
  size_t consumed_ = 0;  // bytes of input_ already processed
  std::vector<Action> actions_;
  size_t untaken_reply_bytes_ = 0;  // reply bytes in actions_
  // kMaxReplyBacklog was reached: no command is read until OutputWritten().
  bool reply_backlog_full_ = false;

  TimePoint connection_deadline_ = TimePoint::max();
  TimePoint last_input_{};
  TimePoint tarpit_deadline_ = TimePoint::max();
};

// ---- Session life ----------------------------------------------------------

void ServerSession::Impl::Start(std::optional<TlsInfo> implicit_tls) {
  tls_ = std::move(implicit_tls);
  TimePoint now = clock_.Now();
  last_input_ = now;
  if (listener_.connection_timeout.count() > 0)
    connection_deadline_ = client_.connected_at.value_or(now) + listener_.connection_timeout;
  if (listener_.tarpit_at_connect && listener_.tarpit_interval.count() > 0) {
    // MS-OXSMTP 3.2.7 to the letter: the greeting waits in the tarpit.
    std::string banner = ExpandReply(reply::kServiceReady, {config_.myhostname});
    held_ = HeldReply{&reply::kServiceReady, std::move(banner), false};
    tarpit_deadline_ = now + listener_.tarpit_interval;
    phase_ = Phase::kTarpit;
    return;
  }
  SendReply(reply::kServiceReady, {config_.myhostname});
}

void ServerSession::Impl::Receive(std::string_view bytes) {
  // Cleartext that races the TLS handshake is never read (CVE-2011-0411).
  if (phase_ == Phase::kClosed || phase_ == Phase::kAwaitingTls || bytes.empty()) return;
  last_input_ = clock_.Now();
  input_.append(bytes);
  Process();
}

void ServerSession::Impl::ReceiveEof() {
  if (phase_ == Phase::kClosed) return;
  EndSession();
}

void ServerSession::Impl::QueueResult(ipc::QueueOutcome outcome) {
  if (phase_ != Phase::kAwaitingQueue) return;
  phase_ = Phase::kCommand;
  if (outcome == ipc::QueueOutcome::kQueued) {
    Respond(reply::kQueued, {transaction_.queue_id});
  } else if (outcome == ipc::QueueOutcome::kInsufficientResources) {
    Respond(reply::kInsufficientSystemResources);
  } else {
    Respond(reply::kLocalErrorInProcessing);
  }
  DiscardTransaction();
  ResumeReading();
}

void ServerSession::Impl::MailCheckResult(ipc::MailVerdict verdict) {
  if (phase_ != Phase::kAwaitingMail) return;
  phase_ = Phase::kCommand;
  switch (verdict) {
    case ipc::MailVerdict::kAllowed:
      AcceptSender();
      break;
    case ipc::MailVerdict::kInsufficientResources:
      // 3.2.5 MAIL: System resources are not available; the session goes on.
      transaction_.mail = MailArguments();
      RefuseMail(reply::kInsufficientSystemResources);
      break;
    case ipc::MailVerdict::kRateLimitExceeded:
      // MessageRateLimitExceeded (3.2.7): the server ends the session.
      DiscardTransaction();
      RefuseMail(reply::kRateLimitExceeded, true);
      break;
  }
  ResumeReading();
}

void ServerSession::Impl::TlsStarted(const TlsInfo& tls) {
  if (phase_ != Phase::kAwaitingTls) return;
  // RFC 3207 4.2: forget everything learnt from the client in cleartext.
  tls_ = tls;
  hello_ = Hello::kNone;
  helo_name_.clear();
  authenticated_user_.clear();
  DiscardTransaction();
  phase_ = Phase::kCommand;
  ResumeReading();
}

bool ServerSession::Impl::InactivityTimerRuns() const {
  return listener_.inactivity_timeout.count() > 0 && phase_ != Phase::kClosed && !Waiting();
}

TimePoint ServerSession::Impl::NextDeadline() const {
  if (phase_ == Phase::kClosed) return TimePoint::max();
  TimePoint deadline = connection_deadline_;
  if (InactivityTimerRuns())
    deadline = std::min(deadline, last_input_ + listener_.inactivity_timeout);
  if (phase_ == Phase::kTarpit) deadline = std::min(deadline, tarpit_deadline_);
  return deadline;
}

void ServerSession::Impl::OnTimer() {
  if (phase_ == Phase::kClosed) return;
  TimePoint now = clock_.Now();
  TimePoint inactivity_deadline =
      InactivityTimerRuns() ? last_input_ + listener_.inactivity_timeout : TimePoint::max();
  bool timed_out = now >= connection_deadline_ || now >= inactivity_deadline;
  // A reply now would go out in cleartext into the handshake: just close.
  if (timed_out && phase_ == Phase::kAwaitingTls) return EndSession();
  if (now >= connection_deadline_ && connection_deadline_ <= inactivity_deadline) {
    SendReply(reply::kConnectionTimedOut);
    EndSession();
  } else if (now >= inactivity_deadline) {
    SendReply(reply::kTimeoutWaitingForInput);
    EndSession();
  } else if (phase_ == Phase::kTarpit && now >= tarpit_deadline_) {
    phase_ = Phase::kCommand;
    tarpit_deadline_ = TimePoint::max();
    HeldReply held = std::exchange(held_, {});
    Deliver(*held.reply, held.text, held.end_session);
    ResumeReading();
  }
}

void ServerSession::Impl::ResumeReading() {
  if (phase_ == Phase::kClosed) return;
  last_input_ = clock_.Now();
  Process();
}

void ServerSession::Impl::DiscardTransaction() {
  if (transaction_.stream_open) Emit(action::AbortMessage{});
  transaction_ = Transaction();
}

void ServerSession::Impl::EndSession() {
  if (auth_ && auth_->started) Emit(action::AuthCancel{});
  auth_.reset();
  DiscardTransaction();
  Emit(action::Close{});
  phase_ = Phase::kClosed;
}

// ---- Output ----------------------------------------------------------------

void ServerSession::Impl::Send(int code, const char* enhanced, std::string_view text) {
  bool with_enhanced = enhanced != nullptr && listener_.advertise_enhancedstatuscodes;
  std::string bytes = FormatReply(code, with_enhanced ? enhanced : "", text);
  untaken_reply_bytes_ += bytes.size();
  // Replies to a pipelined batch leave together (RFC 2920 section 3).
  if (!actions_.empty()) {
    if (auto* send = std::get_if<action::Send>(&actions_.back())) {
      send->bytes.append(bytes);
      return;
    }
  }
  Emit(action::Send{std::move(bytes)});
}

void ServerSession::Impl::SendReply(const Reply& reply,
                                    std::initializer_list<std::string_view> args) {
  Send(reply.code, reply.enhanced, ExpandReply(reply, args));
}

void ServerSession::Impl::Respond(const Reply& reply,
                                  std::initializer_list<std::string_view> args) {
  Answer(reply, ExpandReply(reply, args), false, false);
}

void ServerSession::Impl::RespondAndEnd(const Reply& reply) {
  Answer(reply, ExpandReply(reply), true, false);
}

void ServerSession::Impl::Answer(const Reply& reply, std::string text, bool end_session,
                                 bool mail_error) {
  bool tarpit = IsError(reply) && listener_.tarpit_interval.count() > 0 &&
                (mail_error || authenticated_user_.empty());
  if (!tarpit) return Deliver(reply, text, end_session);
  held_ = HeldReply{&reply, std::move(text), end_session};
  tarpit_deadline_ = clock_.Now() + listener_.tarpit_interval;
  phase_ = Phase::kTarpit;
}

void ServerSession::Impl::Deliver(const Reply& reply, const std::string& text, bool end_session) {
  if (IsProtocolError(reply)) ++protocol_errors_;
  if (listener_.max_protocol_errors != 0 && protocol_errors_ > listener_.max_protocol_errors) {
    SendReply(reply::kTooManyErrors);
    return EndSession();
  }
  Send(reply.code, reply.enhanced, text);
  if (end_session) return EndSession();
  ReplyProduced();
}

void ServerSession::Impl::ReplyProduced() {
  if (!std::exchange(reply_owed_, false) || listener_.advertise_pipelining) return;
  if (phase_ == Phase::kClosed || consumed_ >= input_.size()) return;
  improper_pipelining_ = true;
  consumed_ = input_.size();
}

// ---- Input -----------------------------------------------------------------

void ServerSession::Impl::OutputWritten() {
  if (!std::exchange(reply_backlog_full_, false) || phase_ == Phase::kClosed) return;
  Process();
}

void ServerSession::Impl::Process() {
  bool progress = true;
  while (progress) {
    if (improper_pipelining_ && phase_ != Phase::kClosed) {
      SendReply(reply::kImproperPipelining);
      EndSession();
    }
    std::string_view input = std::string_view(input_).substr(consumed_);
    switch (phase_) {
      case Phase::kCommand:
      case Phase::kAuthResponse:
        if (untaken_reply_bytes_ >= kMaxReplyBacklog) reply_backlog_full_ = true;
        progress = !reply_backlog_full_ && ProcessLineInput(input);
        break;
      case Phase::kData:
        progress = ProcessDataInput(input);
        break;
      case Phase::kChunk:
        progress = ProcessChunkInput(input);
        break;
      case Phase::kAwaitingQueue:
      case Phase::kAwaitingMail:
      case Phase::kAwaitingAuth:
      case Phase::kAwaitingTls:
      case Phase::kTarpit:
      case Phase::kClosed:
        progress = false;
        break;
    }
  }
  if (phase_ == Phase::kClosed || phase_ == Phase::kAwaitingTls) {
    input_.clear();  // nothing more is read (in cleartext); free it now
  } else {
    input_.erase(0, consumed_);
  }
  consumed_ = 0;
}

bool ServerSession::Impl::ProcessLineInput(std::string_view input) {
  bool auth_response = phase_ == Phase::kAuthResponse;
  splitter_.set_max_line(auth_response ? kMaxAuthLine : kMaxCommandLine);
  CommandLineSplitter::Item item = splitter_.Next(input);
  consumed_ += item.consumed;
  switch (item.kind) {
    case CommandLineSplitter::Kind::kNeedMore:
      return false;
    case CommandLineSplitter::Kind::kTooLong:
      // The rest of the over-long line is dropped as it arrives; an AUTH
      // exchange it answered is over.
      if (auth_response) EndAuthExchange();
      Respond(reply::kLineTooLong);
      return true;
    case CommandLineSplitter::Kind::kLine:
      reply_owed_ = true;
      if (auth_response) {
        HandleAuthResponse(item.line);
      } else {
        HandleCommand(item.line);
      }
      return true;
  }
  return false;
}

bool ServerSession::Impl::ProcessDataInput(std::string_view input) {
  if (input.empty()) return false;
  bool complete = false;
  consumed_ += transaction_.reader->ReadData(input, &transaction_.pending_data, &complete);
  AfterContent();
  if (!complete) return false;
  phase_ = Phase::kCommand;
  reply_owed_ = true;
  FinishContent();
  return true;
}

bool ServerSession::Impl::ProcessChunkInput(std::string_view input) {
  if (chunk_.remaining > 0 && input.empty()) return false;
  size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_.remaining, input.size()));
  if (chunk_.refusal == nullptr) {
    transaction_.reader->ReadChunk(input.substr(0, take), &transaction_.pending_data);
    AfterContent();
  }
  consumed_ += take;
  chunk_.remaining -= take;
  if (chunk_.remaining > 0) return false;
  phase_ = Phase::kCommand;
  EndOfChunk();
  return true;
}

void ServerSession::Impl::HandleCommand(std::string_view line) {
  Command command = ParseCommand(line);
  switch (command.verb) {
    case Verb::kEhlo:
      return HandleHello(command.argument, Hello::kEhlo);
    case Verb::kHelo:
      return HandleHello(command.argument, Hello::kHelo);
    case Verb::kMail:
      return HandleMail(command.argument);
    case Verb::kRcpt:
      return HandleRcpt(command.argument);
    case Verb::kData:
      return HandleData(command.argument);
    case Verb::kBdat:
      return HandleBdat(command.argument);
    case Verb::kRset:
      return HandleRset(command.argument);
    case Verb::kNoop:
      return Respond(reply::kOk);
    case Verb::kQuit:
      return HandleQuit(command.argument);
    case Verb::kVrfy:
      return HandleVrfy(command.argument);
    case Verb::kExpn:
      return Respond(reply::kCommandNotImplemented);
    case Verb::kHelp:
      return Respond(reply::kHelp);
    case Verb::kXexch50:
      return HandleXexch50();
    case Verb::kStarttls:
      return HandleStarttls(command.argument);
    case Verb::kAuth:
      return HandleAuth(command.argument);
    case Verb::kInvalidCharacters:
      return Respond(reply::kInvalidCommandCharacters);
    case Verb::kUnknown:
      return Respond(reply::kCommandUnrecognized);
  }
}

// ---- Commands --------------------------------------------------------------

OfferedExtensions ServerSession::Impl::Offered() const {
  OfferedExtensions offered;
  if (!extended()) return offered;  // HELO: no extension was negotiated
  offered.size = listener_.advertise_size;
  offered.dsn = listener_.advertise_dsn;
  offered.eightbitmime = listener_.advertise_8bitmime;
  offered.binarymime = listener_.advertise_binarymime && listener_.advertise_chunking;
  // RFC 4954 5: AUTH= is accepted wherever AUTH is offered, also from a
  // client that has not authenticated.
  offered.auth = !AuthMechanismsOffered().empty();
  return offered;
}

std::string ServerSession::Impl::EhloReplyText() const {
  std::string text = ExpandReply(reply::kHelloGreeting, {config_.myhostname, client_.address});
  auto keyword = [&text](std::string_view word) {
    text.push_back('\n');
    text.append(word);
  };
  OfferedExtensions offered = Offered();
  if (offered.size) {
    // RFC 1870: a bare SIZE announces no fixed limit.
    keyword(listener_.max_message_size == 0 ? std::string("SIZE")
                                            : "SIZE " + std::to_string(listener_.max_message_size));
  }
  if (offered.dsn) keyword("DSN");
  if (listener_.advertise_enhancedstatuscodes) keyword("ENHANCEDSTATUSCODES");
  if (listener_.advertise_pipelining) keyword("PIPELINING");
  if (StarttlsOffered()) keyword("STARTTLS");
  std::vector<std::string> mechanisms = AuthMechanismsOffered();
  if (!mechanisms.empty()) {
    std::string line = "AUTH";
    for (const std::string& mechanism : mechanisms) line += " " + mechanism;
    keyword(line);
  }
  if (offered.eightbitmime) keyword("8BITMIME");
  if (offered.binarymime) keyword("BINARYMIME");
  if (ChunkingOffered()) keyword("CHUNKING");
  return text;
}

bool ServerSession::Impl::StarttlsOffered() const {
  return extended() && listener_.advertise_starttls && !listener_.tls_cert_file.empty() &&
         !listener_.tls_wrapper && !tls_;
}

std::vector<std::string> ServerSession::Impl::AuthMechanismsOffered() const {
  std::vector<std::string> offered;
  if (!extended() || !listener_.advertise_auth) return offered;
  if (listener_.require_tls && !tls_) return offered;
  for (const std::string& mechanism : listener_.auth_mechanisms) {
    if (NeedsTls(mechanism) && !tls_) continue;
    offered.push_back(Upper(mechanism));
  }
  return offered;
}

void ServerSession::Impl::HandleHello(std::string_view argument, Hello kind) {
  // RFC 5321 4.1.4: a refused EHLO leaves the session as it was.
  if (argument.empty()) return Respond(reply::kSyntaxError);
  if (!IsValidHeloName(argument)) return Respond(reply::kInvalidDomainName);
  DiscardTransaction();
  hello_ = kind;
  helo_name_ = std::string(argument);
  if (kind == Hello::kEhlo) {
    Send(250, nullptr, EhloReplyText());
    ReplyProduced();
  } else {
    Respond(reply::kHelloGreeting, {config_.myhostname, client_.address});
  }
}

// The MS-OXSMTP 3.2.5 MAIL rows that do not depend on the argument, in the
// table's order.
const Reply* ServerSession::Impl::CheckMail() const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (transaction_.bdat_started) return &reply::kBadSequence;
  if (listener_.require_tls && !tls_) return &reply::kMustIssueStarttlsFirst;
  if (transaction_.has_sender) return &reply::kSenderAlreadySpecified;
  if (listener_.require_auth && authenticated_user_.empty()) return &reply::kNotAuthenticated;
  return nullptr;
}

bool ServerSession::Impl::LoginMayUse(std::string_view address) const {
  if (!listener_.sender_login_check) return true;
  static const SenderLoginMap kNoMap;
  const SenderLoginMap& map = sender_logins_ ? *sender_logins_ : kNoMap;
  return map.Allows(authenticated_user_, address, config_.local_domains);
}

// MS-OXSMTP 4.3 (RFC 6409 table): an authenticated client sends only from
// the addresses of its login.
const Reply* ServerSession::Impl::CheckSenderLogin(const MailArguments& mail) const {
  if (authenticated_user_.empty()) return nullptr;
  std::string sender = mail.reverse_path.null ? "" : mail.reverse_path.mailbox.ToString();
  return LoginMayUse(sender) ? nullptr : &reply::kClientNotPermitted;
}

// RFC 4954 5: the submitter that AUTH= names is kept only when the client
// has authenticated and its login may use that address; otherwise the
// message is treated as if AUTH=<> had been given.
std::string ServerSession::Impl::KeptAuthMailbox(const MailParameters& parameters) const {
  if (!parameters.auth) return "";
  const Path& auth = *parameters.auth;
  if (auth.null || authenticated_user_.empty()) return "<>";
  std::string mailbox = auth.mailbox.ToString();
  return LoginMayUse(mailbox) ? mailbox : "<>";
}

void ServerSession::Impl::RefuseMail(const Reply& reply, bool end_session) {
  Answer(reply, ExpandReply(reply), end_session, true);
}

void ServerSession::Impl::HandleMail(std::string_view argument) {
  if (const Reply* refusal = CheckMail()) return RefuseMail(*refusal);
  MailArguments mail;
  switch (ParseMailArguments(argument, Offered(), &mail)) {
    case ArgumentError::kNone:
      break;
    case ArgumentError::kMissingColon:
      return RefuseMail(reply::kUnrecognizedParameter);
    case ArgumentError::kInvalidAddress:
      return RefuseMail(reply::kInvalidSenderAddress);
    case ArgumentError::kInvalidParameter:
      return RefuseMail(reply::kInvalidArguments);
  }
  if (mail.parameters.size && listener_.max_message_size != 0 &&
      *mail.parameters.size > listener_.max_message_size) {
    return RefuseMail(reply::kMessageSizeExceeded);
  }
  if (const Reply* refusal = CheckSenderLogin(mail)) return RefuseMail(*refusal);
  transaction_.mail = std::move(mail);
  Emit(action::MailCheck{listener_.name, RateKey()});
  phase_ = Phase::kAwaitingMail;
}

std::string ServerSession::Impl::RateKey() const {
  if (listener_.role == Role::kRelay && !authenticated_user_.empty())
    return "user:" + authenticated_user_;
  return "ip:" + client_.address;
}

void ServerSession::Impl::AcceptSender() {
  transaction_.has_sender = true;
  Respond(reply::kSenderOk);
}

const Reply* ServerSession::Impl::CheckRcptSequence() const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (transaction_.bdat_started || transaction_.xexch50_seen) return &reply::kBadSequence;
  if (!transaction_.has_sender) return &reply::kNeedMailCommand;
  return nullptr;
}

bool ServerSession::Impl::RelayAllowed(const Mailbox& recipient) const {
  // <Postmaster> without a domain is always local (RFC 5321 4.5.1).
  return recipient.domain.empty() || config_.IsLocalDomain(recipient.domain) || client_.trusted ||
         !authenticated_user_.empty();
}

void ServerSession::Impl::HandleRcpt(std::string_view argument) {
  if (const Reply* refusal = CheckRcptSequence()) return Respond(*refusal);
  RcptArguments rcpt;
  switch (ParseRcptArguments(argument, Offered(), &rcpt)) {
    case ArgumentError::kNone:
      break;
    case ArgumentError::kMissingColon:
      return Respond(reply::kUnrecognizedParameter);
    case ArgumentError::kInvalidAddress:
      return Respond(reply::kInvalidRecipientAddress);
    case ArgumentError::kInvalidParameter:
      return Respond(reply::kInvalidArguments);
  }
  const Mailbox& mailbox = rcpt.forward_path.mailbox;
  if (!RelayAllowed(mailbox)) return Respond(reply::kUnableToRelay);
  if (listener_.max_recipients != 0 && transaction_.recipients.size() >= listener_.max_recipients) {
    // TooManyRecipients (3.2.7): the session ends.
    return RespondAndEnd(reply::kTooManyRecipients);
  }
  Recipient recipient;
  recipient.address = mailbox.ToString();
  recipient.notify = rcpt.parameters.notify;
  recipient.orcpt = std::move(rcpt.parameters.orcpt);
  if (mailbox.domain.empty()) {
    // <Postmaster> (RFC 5321 4.5.1) goes to a real mailbox, and qmgr
    // delivers it like any other; DSNs still name what the client wrote.
    if (recipient.orcpt.empty()) recipient.orcpt = "rfc822;" + recipient.address;
    recipient.address = config_.PostmasterAddress();
  }
  transaction_.recipients.push_back(std::move(recipient));
  Respond(reply::kRecipientOk);
}

void ServerSession::Impl::HandleData(std::string_view argument) {
  if (hello_ == Hello::kNone) return Respond(reply::kSendHelloFirst);
  if (!argument.empty()) return Respond(reply::kSyntaxError);
  if (transaction_.bdat_started) return Respond(reply::kBadSequence);
  if (!transaction_.has_sender) return Respond(reply::kNeedMailCommand);
  if (transaction_.recipients.empty()) return Respond(reply::kNeedRcptCommand);
  // RFC 3030 3: BINARYMIME content can only travel in BDAT chunks.
  if (transaction_.mail.parameters.body == BodyType::kBinaryMime)
    return Respond(reply::kBadSequence);
  BeginMessage();
  Respond(reply::kStartMailInput);
  phase_ = Phase::kData;
}

const Reply* ServerSession::Impl::CheckBdat() const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (!ChunkingOffered()) return &reply::kCommandNotImplemented;
  if (!transaction_.has_sender) return &reply::kNeedMailCommand;
  if (transaction_.recipients.empty()) return &reply::kNeedRcptCommand;
  return nullptr;
}

void ServerSession::Impl::HandleBdat(std::string_view argument) {
  Chunk chunk;
  // Without a size there is no telling where the chunk ends: the bytes that
  // follow are read as commands.
  if (!ParseBdatArgument(argument, &chunk.size, &chunk.last)) return Respond(reply::kSyntaxError);
  chunk.remaining = chunk.size;
  // RFC 3030 2: a refused chunk is still read, and refused after.
  chunk.refusal = CheckBdat();
  if (chunk.refusal == nullptr && !transaction_.bdat_started) {
    transaction_.bdat_started = true;
    BeginMessage();
  }
  chunk_ = chunk;
  phase_ = Phase::kChunk;
}

void ServerSession::Impl::HandleRset(std::string_view argument) {
  if (!argument.empty()) return Respond(reply::kSyntaxError);
  DiscardTransaction();
  Respond(reply::kOk);
}

void ServerSession::Impl::HandleQuit(std::string_view argument) {
  if (!argument.empty()) return Respond(reply::kSyntaxError);
  Respond(reply::kClosingChannel, {config_.myhostname});
  EndSession();
}

void ServerSession::Impl::HandleVrfy(std::string_view argument) {
  if (argument.empty()) return Respond(reply::kSyntaxError);
  Respond(reply::kCannotVerify);
}

void ServerSession::Impl::HandleXexch50() {
  if (transaction_.has_sender) transaction_.xexch50_seen = true;
  Respond(reply::kXexch50NotAuthorized);
}

void ServerSession::Impl::HandleStarttls(std::string_view argument) {
  if (hello_ == Hello::kNone) return Respond(reply::kSendHelloFirst);
  if (tls_) return Respond(reply::kOnlyOneStarttls);
  if (!StarttlsOffered()) return Respond(reply::kCommandNotImplemented);
  if (!argument.empty()) return Respond(reply::kSyntaxError);
  if (transaction_.has_sender) return Respond(reply::kBadSequence);
  consumed_ = input_.size();  // pipelined cleartext is dropped unread
  Respond(reply::kReadyToStartTls);
  Emit(action::StartTls{});
  phase_ = Phase::kAwaitingTls;
}

// Why AUTH with this mechanism cannot start now, in RFC 4954's order.
const Reply* ServerSession::Impl::CheckAuth(std::string_view mechanism) const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (!extended() || !listener_.advertise_auth || listener_.auth_mechanisms.empty())
    return &reply::kCommandNotImplemented;
  if (!authenticated_user_.empty()) return &reply::kAuthAlreadySpecified;
  if (transaction_.has_sender) return &reply::kBadSequence;
  if (listener_.require_tls && !tls_) return &reply::kStarttlsBeforeAuth;
  if (mechanism.empty()) return &reply::kSyntaxError;
  bool configured = std::any_of(
      listener_.auth_mechanisms.begin(), listener_.auth_mechanisms.end(),
      [mechanism](const std::string& m) { return AsciiEqualsIgnoreCase(m, mechanism); });
  if (!configured) return &reply::kUnrecognizedAuthType;
  if (NeedsTls(mechanism) && !tls_) return &reply::kEncryptionRequired;
  return nullptr;
}

bool ServerSession::Impl::NeedsTls(std::string_view mechanism) const {
  if (listener_.auth_require_tls == AuthRequireTls::kAll) return true;
  return SendsPasswordInTheClear(mechanism) && !listener_.allow_plaintext_auth;
}

void ServerSession::Impl::HandleAuth(std::string_view argument) {
  std::string_view mechanism = argument.substr(0, argument.find(' '));
  std::string_view initial;
  bool has_initial = mechanism.size() < argument.size();
  if (has_initial) {
    initial = argument.substr(mechanism.size());
    initial.remove_prefix(std::min(initial.find_first_not_of(' '), initial.size()));
  }
  if (const Reply* refusal = CheckAuth(mechanism)) return Respond(*refusal);
  if (initial.find(' ') != std::string_view::npos) return Respond(reply::kSyntaxError);
  auth_ = AuthExchange{Upper(mechanism), false};
  std::optional<std::string> initial_response;
  if (has_initial) {
    // RFC 4954 4: "=" is an initial response of zero length.
    initial_response = initial == "=" ? std::optional<std::string>("") : Base64Decode(initial);
    if (!initial_response) {
      auth_.reset();
      return Respond(reply::kCannotDecodeResponse);
    }
  }
  if (auth_->mechanism == "NTLM" && !has_initial) {
    // [MS-SMTP] 3.1.5.2: the NEGOTIATE message comes as the next line.
    Respond(reply::kNtlmSupported);
    phase_ = Phase::kAuthResponse;
    return;
  }
  StartAuthExchange(std::move(initial_response));
}

void ServerSession::Impl::StartAuthExchange(std::optional<std::string> initial_response) {
  Emit(action::AuthStart{auth_->mechanism, std::move(initial_response)});
  auth_->started = true;
  phase_ = Phase::kAwaitingAuth;
}

void ServerSession::Impl::HandleAuthResponse(std::string_view line) {
  if (line == "*") {
    EndAuthExchange();
    return Respond(reply::kAuthCancelled);
  }
  std::optional<std::string> response = Base64Decode(line);
  if (!response) {
    EndAuthExchange();
    return Respond(reply::kCannotDecodeResponse);
  }
  if (!auth_->started) return StartAuthExchange(std::move(response));
  Emit(action::AuthStep{std::move(*response)});
  phase_ = Phase::kAwaitingAuth;
}

void ServerSession::Impl::EndAuthExchange() {
  if (auth_ && auth_->started) Emit(action::AuthCancel{});
  auth_.reset();
  phase_ = Phase::kCommand;
}

void ServerSession::Impl::AuthResult(ipc::AuthOutcome outcome, const std::string& data) {
  if (phase_ != Phase::kAwaitingAuth) return;
  if (outcome == ipc::AuthOutcome::kContinue) {
    Send(reply::kAuthChallenge.code, nullptr, Base64Encode(data));
    ReplyProduced();
    phase_ = Phase::kAuthResponse;
    return ResumeReading();
  }
  auth_.reset();  // authd ended the exchange itself: nothing to cancel
  phase_ = Phase::kCommand;
  switch (outcome) {
    case ipc::AuthOutcome::kSuccess:
      authenticated_user_ = data;
      Respond(reply::kAuthSuccessful);
      break;
    case ipc::AuthOutcome::kFailure:
      AuthFailed(reply::kAuthUnsuccessful);
      break;
    case ipc::AuthOutcome::kUnknownMechanism:
      Respond(reply::kUnrecognizedAuthType);
      break;
    case ipc::AuthOutcome::kTemporaryFailure:
    case ipc::AuthOutcome::kContinue:
      AuthFailed(reply::kTemporaryAuthFailure);
      break;
  }
  ResumeReading();
}

void ServerSession::Impl::AuthFailed(const Reply& reply) {
  ++logon_failures_;
  if (listener_.max_logon_failures != 0 && logon_failures_ > listener_.max_logon_failures) {
    // ProtocolViolationCount (3.2.7): the server ends the session.
    SendReply(reply::kTooManyErrors);
    return EndSession();
  }
  Respond(reply);
}

// ---- The message stream ----------------------------------------------------

ContentLimits ServerSession::Impl::Limits() const {
  ContentLimits limits;
  limits.max_message_size = listener_.max_message_size;
  limits.max_header_size = listener_.max_header_size;
  limits.max_hop_count = listener_.max_hop_count;
  limits.max_local_hop_count = listener_.max_local_hop_count;
  return limits;
}

void ServerSession::Impl::BeginMessage() {
  Transaction& t = transaction_;
  t.queue_id = NewQueueId();
  int64_t now = wall_clock_();

  Envelope envelope;
  envelope.queue_id = t.queue_id;
  envelope.sender = t.mail.reverse_path.mailbox.ToString();
  envelope.recipients = t.recipients;
  envelope.body = t.mail.parameters.body;
  envelope.ret = t.mail.parameters.ret;
  envelope.envid = t.mail.parameters.envid;
  envelope.arrival_time = now;
  envelope.client_address = client_.address;
  envelope.client_helo = helo_name_;
  envelope.listener = listener_.name;
  envelope.auth_user = authenticated_user_;
  envelope.auth_mailbox = KeptAuthMailbox(t.mail.parameters);
  Emit(action::BeginMessage{std::move(envelope)});
  t.stream_open = true;

  ReceivedFields received;
  received.helo = helo_name_;
  received.client_hostname = client_.hostname;
  received.client_address = client_.address;
  received.myhostname = config_.myhostname;
  received.protocol = ReceivedProtocol();
  if (tls_) {
    received.tls_version = tls_->version;
    received.tls_cipher = tls_->cipher;
  }
  received.queue_id = t.queue_id;
  if (t.recipients.size() == 1) received.recipient = t.recipients.front().address;
  received.time = now;
  t.pending_data = BuildReceivedHeader(received);

  t.reader.emplace(Limits(), config_.myhostname, t.mail.parameters.body == BodyType::kBinaryMime,
                   listener_.bare_newline);
}

// RFC 3848: ESMTP, then S for TLS and A for AUTH; plain SMTP after HELO.
std::string ServerSession::Impl::ReceivedProtocol() const {
  if (!extended()) return "SMTP";
  std::string protocol = "ESMTP";
  if (tls_) protocol += "S";
  if (!authenticated_user_.empty()) protocol += "A";
  return protocol;
}

// Hands out full batches, or gives up the stream once a limit is crossed.
void ServerSession::Impl::AfterContent() {
  Transaction& t = transaction_;
  if (!t.stream_open) return;
  if (t.reader->verdict() != ContentVerdict::kAccepted) {
    Emit(action::AbortMessage{});
    t.stream_open = false;
    t.pending_data.clear();
    return;
  }
  size_t handed_out = 0;
  while (t.pending_data.size() - handed_out >= kDataBatch) {
    Emit(action::MessageData{t.pending_data.substr(handed_out, kDataBatch)});
    handed_out += kDataBatch;
  }
  t.pending_data.erase(0, handed_out);
}

// The last octet of the message was read (end of DATA, or BDAT LAST).
void ServerSession::Impl::FinishContent() {
  Transaction& t = transaction_;
  t.reader->Finish();
  AfterContent();
  ContentVerdict verdict = t.reader->verdict();
  if (verdict != ContentVerdict::kAccepted) return FailMessage(verdict);
  if (!t.pending_data.empty()) Emit(action::MessageData{std::exchange(t.pending_data, {})});
  Emit(action::EndMessage{});
  t.stream_open = false;
  phase_ = Phase::kAwaitingQueue;
}

void ServerSession::Impl::EndOfChunk() {
  if (chunk_.refusal != nullptr) return Respond(*chunk_.refusal);
  ContentVerdict verdict = transaction_.reader->verdict();
  // Size and hop limits are answered at the end of the chunk that crossed
  // them; a bare line ending only at the end of the message.
  if (verdict != ContentVerdict::kAccepted && verdict != ContentVerdict::kBareLineEnding)
    return FailMessage(verdict);
  if (chunk_.last) return FinishContent();
  Respond(reply::kChunkReceived, {std::to_string(chunk_.size)});
}

void ServerSession::Impl::FailMessage(ContentVerdict verdict) {
  DiscardTransaction();
  // MS-OXSMTP 3.2.7: after a size or hop limit the server ends the session.
  switch (verdict) {
    case ContentVerdict::kBareLineEnding:
      return Respond(reply::kBareLineEnding);
    case ContentVerdict::kMessageSizeExceeded:
      return RespondAndEnd(reply::kMessageSizeExceeded);
    case ContentVerdict::kHeaderSizeExceeded:
      return RespondAndEnd(reply::kHeaderSizeExceeded);
    case ContentVerdict::kHopCountExceeded:
    case ContentVerdict::kLocalHopCountExceeded:
      return RespondAndEnd(reply::kHopCountExceeded);
    case ContentVerdict::kAccepted:
      return;
  }
}

// ---- ServerSession ---------------------------------------------------------

ServerSession::ServerSession(const Config& config, const ListenerConfig& listener,
                             ClientInfo client, const Clock& clock, WallClock wall_clock)
    : impl_(std::make_unique<Impl>(config, listener, std::move(client), clock,
                                   std::move(wall_clock))) {}
ServerSession::~ServerSession() = default;

void ServerSession::UseSenderLoginMap(const SenderLoginMap* map) { impl_->UseSenderLoginMap(map); }
void ServerSession::Start(std::optional<TlsInfo> implicit_tls) {
  impl_->Start(std::move(implicit_tls));
}
void ServerSession::Receive(std::string_view bytes) { impl_->Receive(bytes); }
void ServerSession::ReceiveEof() { impl_->ReceiveEof(); }
void ServerSession::QueueResult(ipc::QueueOutcome outcome, const std::string&) {
  // The id in a kQueued answer is the one this session made; a failure's
  // reason is for the driver's log, not for the client.
  impl_->QueueResult(outcome);
}
void ServerSession::MailCheckResult(ipc::MailVerdict verdict) { impl_->MailCheckResult(verdict); }
void ServerSession::TlsStarted(const TlsInfo& tls) { impl_->TlsStarted(tls); }
void ServerSession::AuthResult(ipc::AuthOutcome outcome, const std::string& data) {
  impl_->AuthResult(outcome, data);
}
const std::string& ServerSession::authenticated_user() const { return impl_->authenticated_user(); }
void ServerSession::OnTimer() { impl_->OnTimer(); }
TimePoint ServerSession::NextDeadline() const { return impl_->NextDeadline(); }
std::vector<Action> ServerSession::TakeActions() { return impl_->TakeActions(); }
bool ServerSession::closed() const { return impl_->closed(); }
bool ServerSession::input_paused() const { return impl_->input_paused(); }
void ServerSession::OutputWritten() { impl_->OutputWritten(); }

}  // namespace postern
