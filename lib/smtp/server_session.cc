// lib/smtp/server_session.cc — see lib/smtp/server_session.h.
//
// One Impl per client connection: the state machine of RFC 5321 and
// MS-OXSMTP. Input is appended to input_ and consumed by Process(), which
// dispatches on the phase: command lines, DATA content, BDAT chunk data,
// answers to AUTH challenges, or nothing while waiting for qmgr (the commit,
// then with acknowledgement_delay the first delivery attempt), authd (an
// AUTH step or a RCPT's recipient check), master's answer to a MAIL, a TLS
// handshake or a tarpit. Every answer to a
// command goes through Answer() (by way of Respond(), RespondAndEnd() or
// RefuseMail()), which applies the tarpit and counts protocol errors, then
// ReplyProduced(), which looks for input the client sent too early; every
// end of the session goes through EndSession(), which discards the
// transaction and any AUTH exchange.
//
// Three parts are the session's own but live apart: what EHLO offers
// (lib/smtp/ehlo_offer.h), the AUTH exchange (lib/smtp/auth_dialog.h) and
// the content of a message on its way to qmgr (lib/smtp/message_stream.h).
#include "lib/smtp/server_session.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/queue/queue_id.h"
#include "lib/smtp/auth_dialog.h"
#include "lib/smtp/ehlo_offer.h"
#include "lib/smtp/local_recipients.h"
#include "lib/smtp/message_reader.h"
#include "lib/smtp/message_stream.h"
#include "lib/smtp/received_header.h"
#include "lib/smtp/reply_catalogue.h"
#include "lib/smtp/session_log.h"
#include "lib/smtp/smtp_address.h"
#include "lib/smtp/smtp_command.h"
#include "lib/smtp/xtext.h"

namespace postern {
namespace {

// Input beyond kMaxBacklog unprocessed pauses reading.
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

// The commands whose refusals the tally counts, by name; nullptr for others.
const char* TalliedCommand(Verb verb) {
  switch (verb) {
    case Verb::kMail:
      return "MAIL";
    case Verb::kRcpt:
      return "RCPT";
    case Verb::kData:
      return "DATA";
    case Verb::kBdat:
      return "BDAT";
    default:
      return nullptr;
  }
}

// A refusal on policy or resources, logged as Postfix's "reject:"; 500 to
// 504 answer the syntax or the order of commands, which Postfix does not
// log as rejects either.
bool IsRejection(const Reply& reply) {
  return IsError(reply) && (reply.code < 500 || reply.code > 504);
}

// The reverse path as the log shows it: "" for <>.
std::string SenderOf(const MailArguments& mail) {
  return mail.reverse_path.null ? "" : mail.reverse_path.mailbox.ToString();
}

int64_t SystemWallClock() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The recipient is delivered to address; DSNs still name what the client
// wrote (RFC 3461 4.2 ORCPT), unless the client gave an ORCPT itself.
void Readdress(Recipient& recipient, std::string address) {
  if (recipient.orcpt.empty()) recipient.orcpt = "rfc822;" + EncodeXtext(recipient.address);
  recipient.address = std::move(address);
}

}  // namespace

class ServerSession::Impl {
 public:
  Impl(const Config& config, const ListenerConfig& listener, ClientInfo client, const Clock& clock,
       WallClock wall_clock)
      : config_(config),
        listener_(listener),
        client_(std::move(client)),
        client_name_(ClientLogName(client_.hostname, client_.address)),
        clock_(clock),
        wall_clock_(wall_clock ? std::move(wall_clock) : SystemWallClock),
        auth_(listener, &actions_) {}

  void UseSenderLoginMap(const SenderLoginMap* map) { sender_logins_ = map; }
  void Start(std::optional<TlsInfo> implicit_tls);
  void Receive(std::string_view bytes);
  void ReceiveEof();
  void QueueResult(ipc::QueueOutcome outcome);
  void FirstAttemptEnded(ipc::AttemptSummary summary);
  void MailCheckResult(ipc::MailVerdict verdict);
  void RecipientCheckResult(ipc::RecipientVerdict verdict, const std::string& known_as);
  void TlsStarted(const TlsInfo& tls);
  void AuthResult(ipc::AuthOutcome outcome, const std::string& data);
  const std::string& authenticated_user() const { return authenticated_user_; }
  const CommandCounts& command_counts() const { return counts_; }
  const ServerSession::Tally& tally() const { return tally_; }
  void OnTimer();
  void ShutDown();
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
    // Queued; the 250 waits for FirstAttemptEnded() or ack_deadline_.
    kAwaitingAttempt,
    kAwaitingMail,       // MailCheck sent for a MAIL; waiting for MailCheckResult()
    kAwaitingRecipient,  // RecipientCheck sent for a RCPT; waiting for RecipientCheckResult()
    kTarpit,             // holding an error reply until tarpit_deadline_
    kAwaitingTls,        // StartTls sent; waiting for TlsStarted()
    kAuthResponse,       // a challenge was sent; reading the client's answer line
    kAwaitingAuth,       // AuthStart/AuthStep sent; waiting for AuthResult()
    kClosed,
  };
  // Whether the session goes on once a reply is out.
  enum class AfterReply { kGoOn, kEndSession };
  // Which error replies the tarpit holds back: those to a client that has
  // not authenticated, or (MAIL) every one.
  enum class ErrorDelay { kUnlessAuthenticated, kAlways };

  // The mail transaction (RFC 5321 3.3), from MAIL to the end of the data.
  struct Transaction {
    bool has_sender = false;
    MailArguments mail;
    std::vector<Recipient> recipients;
    // The RCPT whose RecipientCheck awaits its answer.
    std::optional<Recipient> pending_recipient;
    bool xexch50_seen = false;
    bool bdat_started = false;  // a BDAT chunk of this transaction was accepted
    // From DATA's 354 or the first accepted BDAT chunk to the queue's answer.
    std::optional<MessageStream> message;
  };

  // What the log line of a refusal names, noted by the command before it
  // answers: the queue id once content was read, the sender, the recipient.
  struct RejectSubject {
    std::string queue_id;
    std::optional<std::string> from;
    std::optional<std::string> to;
  };

  // An error reply held back by the tarpit.
  struct HeldReply {
    const Reply* reply = nullptr;
    std::string text;
    AfterReply after = AfterReply::kGoOn;
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
  const Reply* CheckAuthSequence() const;
  // Carries out what the AUTH dialog decided: the reply and the next phase.
  void FollowAuth(AuthDialog::Step step);
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
  // Answers a MAIL with an error, tarpit_interval late even to a client
  // that has authenticated.
  void RefuseMail(const Reply& reply, AfterReply after = AfterReply::kGoOn);

  // The message: its stream opens at DATA or the first BDAT chunk.
  void OpenMessage();
  std::string ReceivedProtocol() const;
  void FinishContent();
  // acknowledgement_delay: the held 250 goes out, and why is logged.
  void Acknowledge(std::string why);
  void EndOfChunk();
  void FailMessage(ContentVerdict verdict);
  // The open message is refused: its refusal's log line names it.
  void NoteMessageSubject();

  // Extensions in force for this client.
  bool extended() const { return hello_ == Hello::kEhlo; }
  Transport transport() const { return tls_ ? Transport::kTls : Transport::kCleartext; }
  EhloOffer Offer() const { return EhloOffer(listener_, hello_, transport()); }
  bool RelayAllowed(const Mailbox& recipient) const;

  // Output and the end of the session. Respond(), RespondAndEnd() and
  // RefuseMail() answer commands through Answer(), which holds error
  // replies in the tarpit; Deliver() then counts protocol errors and, for
  // AfterReply::kEndSession, ends the session once the reply is out.
  // SendReply() is for what the server says on its own (banner, timeouts,
  // 421).
  void Respond(const Reply& reply, std::initializer_list<std::string_view> args = {});
  void RespondAndEnd(const Reply& reply);
  void Answer(const Reply& reply, std::string text, AfterReply after, ErrorDelay delay);
  void Deliver(const Reply& reply, const std::string& text, AfterReply after);
  void Send(int code, const char* enhanced, std::string_view text);
  void SendReply(const Reply& reply, std::initializer_list<std::string_view> args = {});
  template <typename T>
  void Emit(T action) {
    AppendAction(&actions_, std::move(action));
  }
  void DiscardTransaction();
  // The transaction's message was acknowledged with 250.
  void CountMessage();
  void EndSession();
  // The final reply (not 3xx) to the command being answered counts it.
  void SettleCommand(int code);
  void LogRejection(const Reply& reply, const std::string& text);
  void LogLine(LogLevel level, std::string text) { Emit(action::Log{level, std::move(text)}); }
  void ResumeReading();
  // The reply to the last command (or end of DATA, or BDAT chunk) is out:
  // with advertise_pipelining = no, input already waiting behind it came
  // early and is discarded; Process() then answers 554 5.5.0 and ends.
  void ReplyProduced();

  bool InactivityTimerRuns() const;
  // Waiting for an answer from outside the session (qmgr, master, authd) or
  // for the tarpit: nothing is read, the inactivity timer is suspended.
  // The transaction, to read: an empty one when none is open.
  const Transaction& transaction() const {
    static const Transaction kNone;
    return transaction_ ? *transaction_ : kNone;
  }
  // The transaction, to change: opened when none is.
  Transaction& open_transaction() {
    if (!transaction_) transaction_ = std::make_unique<Transaction>();
    return *transaction_;
  }
  bool Waiting() const {
    return phase_ == Phase::kAwaitingQueue || phase_ == Phase::kAwaitingAttempt ||
           phase_ == Phase::kAwaitingMail || phase_ == Phase::kAwaitingRecipient ||
           phase_ == Phase::kAwaitingAuth || phase_ == Phase::kTarpit;
  }

  const Config& config_;
  const ListenerConfig& listener_;
  const ClientInfo client_;
  const std::string client_name_;  // "host[address]" for the log
  const Clock& clock_;
  const WallClock wall_clock_;

  Phase phase_ = Phase::kCommand;
  Hello hello_ = Hello::kNone;
  std::string helo_name_;
  // From the MAIL FROM that opens it to its end; an idle session holds none.
  std::unique_ptr<Transaction> transaction_;
  Chunk chunk_;
  CommandLineSplitter splitter_;
  uint32_t protocol_errors_ = 0;
  ServerSession::Tally tally_;  // counted with pending_verb_
  // A command line, the end of DATA content or a BDAT chunk was read and
  // its reply is not produced yet.
  bool reply_owed_ = false;
  // Early input was found and dropped: Process() ends the session.
  bool improper_pipelining_ = false;
  HeldReply held_;  // the error reply in a tarpit
  std::optional<TlsInfo> tls_;
  AuthDialog auth_;  // appends its requests to authd to actions_
  // The user that AUTH authenticated, empty before: relay listeners count
  // messages per user once it is set, per client address before.
  std::string authenticated_user_;
  std::string auth_mechanism_;  // of the AUTH that authenticated
  const SenderLoginMap* sender_logins_ = nullptr;
  CommandCounts counts_;
  std::optional<Verb> pending_verb_;  // the command whose final reply is owed
  RejectSubject subject_;

  std::string input_;
  size_t consumed_ = 0;  // bytes of input_ already processed
  std::vector<Action> actions_;
  size_t untaken_reply_bytes_ = 0;  // reply bytes in actions_
  // kMaxReplyBacklog was reached: no command is read until OutputWritten().
  bool reply_backlog_full_ = false;

  TimePoint connection_deadline_ = TimePoint::max();
  TimePoint last_input_{};
  TimePoint tarpit_deadline_ = TimePoint::max();
  TimePoint data_ended_at_{};  // the last octet of the message was read
  // acknowledgement_delay after data_ended_at_: the held 250 goes out.
  TimePoint ack_deadline_ = TimePoint::max();
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
    held_ = HeldReply{&reply::kServiceReady, std::move(banner), AfterReply::kGoOn};
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
  if (outcome == ipc::QueueOutcome::kQueued && listener_.acknowledgement_delay.count() > 0) {
    // Durable now; the 250 waits for the first attempt (AcknowledgementDelay).
    phase_ = Phase::kAwaitingAttempt;
    ack_deadline_ = data_ended_at_ + listener_.acknowledgement_delay;
    if (clock_.Now() < ack_deadline_) return;
    return OnTimer();
  }
  phase_ = Phase::kCommand;
  if (outcome != ipc::QueueOutcome::kQueued) NoteMessageSubject();
  if (outcome == ipc::QueueOutcome::kQueued) {
    CountMessage();
    Respond(reply::kQueued, {transaction().message->queue_id()});
  } else if (outcome == ipc::QueueOutcome::kInsufficientResources) {
    Respond(reply::kInsufficientSystemResources);
  } else {
    Respond(reply::kLocalErrorInProcessing);
  }
  DiscardTransaction();
  ResumeReading();
}

void ServerSession::Impl::CountMessage() {
  ++tally_.messages;
  tally_.bytes += transaction().message->size();
}

void ServerSession::Impl::FirstAttemptEnded(ipc::AttemptSummary summary) {
  if (phase_ != Phase::kAwaitingAttempt) return;
  Acknowledge(ipc::AttemptSummaryName(summary));
  ResumeReading();
}

void ServerSession::Impl::Acknowledge(std::string why) {
  phase_ = Phase::kCommand;
  ack_deadline_ = TimePoint::max();
  const std::string queue_id = transaction().message->queue_id();
  CountMessage();
  Respond(reply::kQueued, {queue_id});
  Emit(action::Acknowledged{queue_id,
                            std::chrono::duration_cast<Duration>(clock_.Now() - data_ended_at_),
                            std::move(why)});
  DiscardTransaction();
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
      // The MAIL opened the transaction; it ends unaccepted.
      DiscardTransaction();
      RefuseMail(reply::kInsufficientSystemResources);
      break;
    case ipc::MailVerdict::kRateLimitExceeded:
      // MessageRateLimitExceeded (3.2.7): the server ends the session.
      DiscardTransaction();
      RefuseMail(reply::kRateLimitExceeded, AfterReply::kEndSession);
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
  auth_mechanism_.clear();
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
  if (phase_ == Phase::kAwaitingAttempt) deadline = std::min(deadline, ack_deadline_);
  return deadline;
}

void ServerSession::Impl::OnTimer() {
  if (phase_ == Phase::kClosed) return;
  TimePoint now = clock_.Now();
  if (phase_ == Phase::kAwaitingAttempt && (now >= ack_deadline_ || now >= connection_deadline_)) {
    // The message is queued: the client hears so even when the session
    // ends now, or it would send the message again.
    const bool session_over = now >= connection_deadline_;
    const auto delay =
        std::chrono::duration_cast<std::chrono::seconds>(listener_.acknowledgement_delay);
    Acknowledge(session_over
                    ? "connection_timeout ran out"
                    : "acknowledgement_delay " + std::to_string(delay.count()) + " s ran out");
    last_input_ = now;
    if (!session_over) return ResumeReading();
  }
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
    Deliver(*held.reply, held.text, held.after);
    ResumeReading();
  }
}

void ServerSession::Impl::ShutDown() {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kAwaitingTls) return EndSession();
  if (phase_ == Phase::kAwaitingAttempt) Acknowledge("the server is stopping");
  SendReply(reply::kShuttingDown);
  EndSession();
}

void ServerSession::Impl::ResumeReading() {
  if (phase_ == Phase::kClosed) return;
  last_input_ = clock_.Now();
  Process();
}

void ServerSession::Impl::DiscardTransaction() {
  if (transaction_ && transaction_->message) transaction_->message->Abandon();
  transaction_.reset();
}

void ServerSession::Impl::EndSession() {
  if (pending_verb_) counts_.Count(*std::exchange(pending_verb_, std::nullopt), false);
  auth_.Abandon();
  DiscardTransaction();
  Emit(action::Close{});
  phase_ = Phase::kClosed;
}

// ---- Output ----------------------------------------------------------------

void ServerSession::Impl::Send(int code, const char* enhanced, std::string_view text) {
  SettleCommand(code);
  bool with_enhanced = enhanced != nullptr && listener_.advertise_enhancedstatuscodes;
  std::string bytes = FormatReply(code, with_enhanced ? enhanced : "", text);
  untaken_reply_bytes_ += bytes.size();
  // Replies to a pipelined batch leave together (RFC 2920 section 3); a
  // log line between them does not split the write.
  for (auto it = actions_.rbegin(); it != actions_.rend(); ++it) {
    if (auto* send = std::get_if<action::Send>(&*it)) {
      send->bytes.append(bytes);
      return;
    }
    if (!std::holds_alternative<action::Log>(*it)) break;
  }
  Emit(action::Send{std::move(bytes)});
}

void ServerSession::Impl::SettleCommand(int code) {
  if (!pending_verb_ || code / 100 == 3) return;
  counts_.Count(*pending_verb_, code < 400);
  pending_verb_.reset();
}

void ServerSession::Impl::LogRejection(const Reply& reply, const std::string& text) {
  if (!pending_verb_) return;
  std::string_view stage;
  switch (*pending_verb_) {
    case Verb::kMail:
      stage = "MAIL";
      break;
    case Verb::kRcpt:
      stage = "RCPT";
      break;
    case Verb::kData:
    case Verb::kBdat:
      stage = subject_.queue_id.empty() ? "DATA" : "END-OF-MESSAGE";
      break;
    default:
      return;
  }
  const bool with_enhanced = reply.enhanced != nullptr && listener_.advertise_enhancedstatuscodes;
  const std::string sent =
      ReplyLogText(FormatReply(reply.code, with_enhanced ? reply.enhanced : "", text));
  RejectLogFields fields{.queue_id = subject_.queue_id,
                         .stage = stage,
                         .client = client_name_,
                         .reply = sent,
                         .from = subject_.from,
                         .to = subject_.to,
                         .extended = extended(),
                         .helo = helo_name_};
  LogLine(LogLevel::kInfo, RejectLogLine(fields));
}

void ServerSession::Impl::SendReply(const Reply& reply,
                                    std::initializer_list<std::string_view> args) {
  Send(reply.code, reply.enhanced, ExpandReply(reply, args));
}

void ServerSession::Impl::Respond(const Reply& reply,
                                  std::initializer_list<std::string_view> args) {
  Answer(reply, ExpandReply(reply, args), AfterReply::kGoOn, ErrorDelay::kUnlessAuthenticated);
}

void ServerSession::Impl::RespondAndEnd(const Reply& reply) {
  Answer(reply, ExpandReply(reply), AfterReply::kEndSession, ErrorDelay::kUnlessAuthenticated);
}

void ServerSession::Impl::Answer(const Reply& reply, std::string text, AfterReply after,
                                 ErrorDelay delay) {
  bool tarpit = IsError(reply) && listener_.tarpit_interval.count() > 0 &&
                (delay == ErrorDelay::kAlways || authenticated_user_.empty());
  if (!tarpit) return Deliver(reply, text, after);
  held_ = HeldReply{&reply, std::move(text), after};
  tarpit_deadline_ = clock_.Now() + listener_.tarpit_interval;
  phase_ = Phase::kTarpit;
}

void ServerSession::Impl::Deliver(const Reply& reply, const std::string& text, AfterReply after) {
  if (IsError(reply) && pending_verb_)
    if (const char* command = TalliedCommand(*pending_verb_)) {
      ++tally_.rejections;
      ++tally_.refused[{command, reply.code, reply.enhanced ? reply.enhanced : ""}];
    }
  if (IsProtocolError(reply)) ++protocol_errors_;
  if (listener_.max_protocol_errors != 0 && protocol_errors_ > listener_.max_protocol_errors) {
    SendReply(reply::kTooManyErrors);
    return EndSession();
  }
  if (IsRejection(reply)) LogRejection(reply, text);
  Send(reply.code, reply.enhanced, text);
  if (after == AfterReply::kEndSession) return EndSession();
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
      case Phase::kAwaitingAttempt:
      case Phase::kAwaitingMail:
      case Phase::kAwaitingRecipient:
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
      if (auth_response) {
        auth_.Abandon();
        phase_ = Phase::kCommand;
      }
      Respond(reply::kLineTooLong);
      return true;
    case CommandLineSplitter::Kind::kLine:
      reply_owed_ = true;
      if (auth_response) {
        FollowAuth(auth_.Answer(item.line));
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
  consumed_ += open_transaction().message->ReadData(input, &complete);
  if (!complete) return false;
  phase_ = Phase::kCommand;
  reply_owed_ = true;
  FinishContent();
  return true;
}

bool ServerSession::Impl::ProcessChunkInput(std::string_view input) {
  if (chunk_.remaining > 0 && input.empty()) return false;
  size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_.remaining, input.size()));
  if (chunk_.refusal == nullptr) open_transaction().message->ReadChunk(input.substr(0, take));
  consumed_ += take;
  chunk_.remaining -= take;
  if (chunk_.remaining > 0) return false;
  phase_ = Phase::kCommand;
  EndOfChunk();
  return true;
}

void ServerSession::Impl::HandleCommand(std::string_view line) {
  Command command = ParseCommand(line);
  pending_verb_ = command.verb;
  subject_ = RejectSubject();
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

void ServerSession::Impl::HandleHello(std::string_view argument, Hello kind) {
  // RFC 5321 4.1.4: a refused EHLO leaves the session as it was.
  if (argument.empty()) return Respond(reply::kSyntaxError);
  if (!IsValidHeloName(argument)) return Respond(reply::kInvalidDomainName);
  DiscardTransaction();
  hello_ = kind;
  helo_name_ = std::string(argument);
  if (kind == Hello::kEhlo) {
    std::string text = ExpandReply(reply::kHelloGreeting, {config_.myhostname, client_.address});
    for (const std::string& keyword : Offer().keywords()) text += "\n" + keyword;
    Send(250, nullptr, text);
    ReplyProduced();
  } else {
    Respond(reply::kHelloGreeting, {config_.myhostname, client_.address});
  }
}

// The MS-OXSMTP 3.2.5 MAIL rows that do not depend on the argument, in the
// table's order.
const Reply* ServerSession::Impl::CheckMail() const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (transaction().bdat_started) return &reply::kBadSequence;
  if (listener_.require_tls && !tls_) return &reply::kMustIssueStarttlsFirst;
  if (transaction().has_sender) return &reply::kSenderAlreadySpecified;
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

void ServerSession::Impl::RefuseMail(const Reply& reply, AfterReply after) {
  Answer(reply, ExpandReply(reply), after, ErrorDelay::kAlways);
}

void ServerSession::Impl::HandleMail(std::string_view argument) {
  MailArguments mail;
  const ArgumentError parsed = ParseMailArguments(argument, Offer().parameters(), &mail);
  if (parsed == ArgumentError::kNone) subject_.from = SenderOf(mail);
  if (const Reply* refusal = CheckMail()) return RefuseMail(*refusal);
  switch (parsed) {
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
  open_transaction().mail = std::move(mail);
  Emit(action::MailCheck{listener_.name, RateKey()});
  phase_ = Phase::kAwaitingMail;
}

std::string ServerSession::Impl::RateKey() const {
  if (listener_.role == Role::kRelay && !authenticated_user_.empty())
    return "user:" + authenticated_user_;
  return "ip:" + client_.address;
}

void ServerSession::Impl::AcceptSender() {
  open_transaction().has_sender = true;
  Respond(reply::kSenderOk);
}

const Reply* ServerSession::Impl::CheckRcptSequence() const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (transaction().bdat_started || transaction().xexch50_seen) return &reply::kBadSequence;
  if (!transaction().has_sender) return &reply::kNeedMailCommand;
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
  switch (ParseRcptArguments(argument, Offer().parameters(), &rcpt)) {
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
  subject_.from = SenderOf(transaction().mail);
  subject_.to = mailbox.ToString();
  if (!RelayAllowed(mailbox)) return Respond(reply::kUnableToRelay);
  if (listener_.max_recipients != 0 &&
      transaction().recipients.size() >= listener_.max_recipients) {
    // TooManyRecipients (3.2.7): the session ends.
    return RespondAndEnd(reply::kTooManyRecipients);
  }
  Recipient recipient;
  recipient.address = mailbox.ToString();
  recipient.notify = rcpt.parameters.notify;
  recipient.orcpt = std::move(rcpt.parameters.orcpt);
  if (mailbox.domain.empty()) {
    // <Postmaster> (RFC 5321 4.5.1) goes to a real mailbox, and qmgr
    // delivers it like any other.
    Readdress(recipient, config_.PostmasterAddress());
  }
  if (NeedsRecipientCheck(config_, mailbox)) {
    Emit(action::RecipientCheck{recipient.address});
    open_transaction().pending_recipient = std::move(recipient);
    phase_ = Phase::kAwaitingRecipient;
    return;
  }
  open_transaction().recipients.push_back(std::move(recipient));
  Respond(reply::kRecipientOk);
}

void ServerSession::Impl::RecipientCheckResult(ipc::RecipientVerdict verdict,
                                               const std::string& known_as) {
  if (phase_ != Phase::kAwaitingRecipient) return;
  phase_ = Phase::kCommand;
  Transaction& transaction = open_transaction();
  Recipient recipient = std::move(*transaction.pending_recipient);
  transaction.pending_recipient.reset();
  switch (verdict) {
    case ipc::RecipientVerdict::kKnown:
      if (!known_as.empty() && known_as != recipient.address) Readdress(recipient, known_as);
      transaction.recipients.push_back(std::move(recipient));
      Respond(reply::kRecipientOk);
      break;
    case ipc::RecipientVerdict::kUnknown:
      Respond(reply::kUserUnknown, {recipient.address});
      break;
    case ipc::RecipientVerdict::kUnavailable:
      Respond(reply::kTemporaryLookupFailure, {recipient.address});
      break;
  }
  ResumeReading();
}

void ServerSession::Impl::HandleData(std::string_view argument) {
  if (hello_ == Hello::kNone) return Respond(reply::kSendHelloFirst);
  if (!argument.empty()) return Respond(reply::kSyntaxError);
  if (transaction().bdat_started) return Respond(reply::kBadSequence);
  if (!transaction().has_sender) return Respond(reply::kNeedMailCommand);
  if (transaction().recipients.empty()) return Respond(reply::kNeedRcptCommand);
  // RFC 3030 3: BINARYMIME content can only travel in BDAT chunks.
  if (transaction().mail.parameters.body == BodyType::kBinaryMime)
    return Respond(reply::kBadSequence);
  OpenMessage();
  Respond(reply::kStartMailInput);
  phase_ = Phase::kData;
}

const Reply* ServerSession::Impl::CheckBdat() const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (!Offer().chunking()) return &reply::kCommandNotImplemented;
  if (!transaction().has_sender) return &reply::kNeedMailCommand;
  if (transaction().recipients.empty()) return &reply::kNeedRcptCommand;
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
  if (chunk.refusal == nullptr && !transaction().bdat_started) {
    open_transaction().bdat_started = true;
    OpenMessage();
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
  if (transaction().has_sender) open_transaction().xexch50_seen = true;
  Respond(reply::kXexch50NotAuthorized);
}

void ServerSession::Impl::HandleStarttls(std::string_view argument) {
  if (hello_ == Hello::kNone) return Respond(reply::kSendHelloFirst);
  if (tls_) return Respond(reply::kOnlyOneStarttls);
  if (!Offer().starttls()) return Respond(reply::kCommandNotImplemented);
  if (!argument.empty()) return Respond(reply::kSyntaxError);
  if (transaction().has_sender) return Respond(reply::kBadSequence);
  consumed_ = input_.size();  // pipelined cleartext is dropped unread
  Respond(reply::kReadyToStartTls);
  Emit(action::StartTls{});
  phase_ = Phase::kAwaitingTls;
}

// Why AUTH cannot start at this point of the session, in RFC 4954's order;
// the dialog then checks the mechanism.
const Reply* ServerSession::Impl::CheckAuthSequence() const {
  if (hello_ == Hello::kNone) return &reply::kSendHelloFirst;
  if (!extended() || !auth_.enabled()) return &reply::kCommandNotImplemented;
  if (!authenticated_user_.empty()) return &reply::kAuthAlreadySpecified;
  if (transaction().has_sender) return &reply::kBadSequence;
  return nullptr;
}

void ServerSession::Impl::HandleAuth(std::string_view argument) {
  if (const Reply* refusal = CheckAuthSequence()) return Respond(*refusal);
  FollowAuth(auth_.Begin(argument, transport()));
}

void ServerSession::Impl::AuthResult(ipc::AuthOutcome outcome, const std::string& data) {
  if (phase_ != Phase::kAwaitingAuth) return;
  AuthDialog::Step step = auth_.Result(outcome, data);
  if (outcome == ipc::AuthOutcome::kFailure || outcome == ipc::AuthOutcome::kTemporaryFailure) {
    // Cyrus SASL's words for the two, as Postfix logs them; data is the user.
    const char* reason =
        outcome == ipc::AuthOutcome::kFailure ? "authentication failure" : "temporary failure";
    LogLine(LogLevel::kWarning, SaslFailureLogLine(client_name_, step.mechanism, reason, data));
  }
  if (step.next == AuthDialog::Next::kAuthenticated) auth_mechanism_ = step.mechanism;
  FollowAuth(std::move(step));
  ResumeReading();
}

void ServerSession::Impl::FollowAuth(AuthDialog::Step step) {
  switch (step.next) {
    case AuthDialog::Next::kAwaitAuthd:
      phase_ = Phase::kAwaitingAuth;
      return;
    case AuthDialog::Next::kTooManyFailures:
      // ProtocolViolationCount (3.2.7): the server ends the session.
      SendReply(reply::kTooManyErrors);
      return EndSession();
    case AuthDialog::Next::kReadAnswer:
      phase_ = Phase::kAuthResponse;
      break;
    case AuthDialog::Next::kAuthenticated:
      authenticated_user_ = std::move(step.user);
      phase_ = Phase::kCommand;
      break;
    case AuthDialog::Next::kReadCommands:
      phase_ = Phase::kCommand;
      break;
  }
  Answer(*step.reply, std::move(step.text), AfterReply::kGoOn, ErrorDelay::kUnlessAuthenticated);
}

// ---- The message -----------------------------------------------------------

void ServerSession::Impl::OpenMessage() {
  const Transaction& t = transaction();
  int64_t now = wall_clock_();

  Envelope envelope;
  envelope.queue_id = NewQueueId();
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
  received.queue_id = envelope.queue_id;
  if (t.recipients.size() == 1) received.recipient = t.recipients.front().address;
  received.time = now;

  LogLine(LogLevel::kInfo,
          ClientLogLine(envelope.queue_id, client_name_, auth_mechanism_, authenticated_user_));
  open_transaction().message.emplace(listener_, config_.myhostname, std::move(envelope),
                                     BuildReceivedHeader(received), &actions_);
}

// RFC 3848: ESMTP, then S for TLS and A for AUTH; plain SMTP after HELO.
std::string ServerSession::Impl::ReceivedProtocol() const {
  if (!extended()) return "SMTP";
  std::string protocol = "ESMTP";
  if (tls_) protocol += "S";
  if (!authenticated_user_.empty()) protocol += "A";
  return protocol;
}

// The last octet of the message was read (end of DATA, or BDAT LAST).
void ServerSession::Impl::FinishContent() {
  ContentVerdict verdict = open_transaction().message->Finish();
  if (verdict != ContentVerdict::kAccepted) return FailMessage(verdict);
  const MessageStream& message = *transaction().message;
  if (!message.message_id().empty())
    LogLine(LogLevel::kInfo, MessageIdLogLine(message.queue_id(), message.message_id()));
  data_ended_at_ = clock_.Now();
  phase_ = Phase::kAwaitingQueue;
}

void ServerSession::Impl::EndOfChunk() {
  if (chunk_.refusal != nullptr) return Respond(*chunk_.refusal);
  ContentVerdict verdict = transaction().message->verdict();
  // Size and hop limits are answered at the end of the chunk that crossed
  // them; a bare line ending only at the end of the message.
  if (verdict != ContentVerdict::kAccepted && verdict != ContentVerdict::kBareLineEnding)
    return FailMessage(verdict);
  if (chunk_.last) return FinishContent();
  Respond(reply::kChunkReceived, {std::to_string(chunk_.size)});
}

void ServerSession::Impl::NoteMessageSubject() {
  const Transaction& t = transaction();
  subject_.queue_id = t.message ? t.message->queue_id() : "";
  subject_.from = SenderOf(t.mail);
  if (!t.recipients.empty()) subject_.to = t.recipients.back().address;
}

void ServerSession::Impl::FailMessage(ContentVerdict verdict) {
  NoteMessageSubject();
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
void ServerSession::QueueResult(ipc::QueueOutcome outcome) { impl_->QueueResult(outcome); }
void ServerSession::FirstAttemptEnded(ipc::AttemptSummary summary) {
  impl_->FirstAttemptEnded(summary);
}
void ServerSession::MailCheckResult(ipc::MailVerdict verdict) { impl_->MailCheckResult(verdict); }
void ServerSession::RecipientCheckResult(ipc::RecipientVerdict verdict,
                                         const std::string& known_as) {
  impl_->RecipientCheckResult(verdict, known_as);
}
void ServerSession::TlsStarted(const TlsInfo& tls) { impl_->TlsStarted(tls); }
void ServerSession::AuthResult(ipc::AuthOutcome outcome, const std::string& data) {
  impl_->AuthResult(outcome, data);
}
const std::string& ServerSession::authenticated_user() const { return impl_->authenticated_user(); }
const CommandCounts& ServerSession::command_counts() const { return impl_->command_counts(); }
const ServerSession::Tally& ServerSession::tally() const { return impl_->tally(); }

ServerSession::Tally ServerSession::Tally::Since(const Tally& earlier) const {
  Tally added{.messages = messages - earlier.messages,
              .rejections = rejections - earlier.rejections,
              .bytes = bytes - earlier.bytes,
              .refused = {}};
  for (const auto& [refusal, count] : refused) {
    auto before = earlier.refused.find(refusal);
    uint32_t was = before == earlier.refused.end() ? 0 : before->second;
    if (count > was) added.refused[refusal] = count - was;
  }
  return added;
}
void ServerSession::Tally::Add(const Tally& more) {
  messages += more.messages;
  rejections += more.rejections;
  bytes += more.bytes;
  for (const auto& [refusal, count] : more.refused) refused[refusal] += count;
}
void ServerSession::OnTimer() { impl_->OnTimer(); }
void ServerSession::ShutDown() { impl_->ShutDown(); }
TimePoint ServerSession::NextDeadline() const { return impl_->NextDeadline(); }
std::vector<Action> ServerSession::TakeActions() { return impl_->TakeActions(); }
bool ServerSession::closed() const { return impl_->closed(); }
bool ServerSession::input_paused() const { return impl_->input_paused(); }
void ServerSession::OutputWritten() { impl_->OutputWritten(); }

}  // namespace postern
