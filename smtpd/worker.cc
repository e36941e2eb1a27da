// smtpd/worker.cc — see smtpd/worker.h.
#include "smtpd/worker.h"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "lib/base/log.h"
#include "lib/ipc/messages_worker.h"
#include "lib/net/client_refusal.h"
#include "lib/net/network.h"
#include "lib/net/unix_socket.h"
#include "lib/policy/ip_blocks.h"
#include "lib/policy/resource_check.h"
#include "lib/smtp/reply_catalogue.h"
#include "lib/smtp/session_log.h"
#include "lib/smtp/tally_frames.h"

namespace postern {
Worker::Worker(event_base* base, Config config, int channel_fd)
    : config_(std::move(config)), base_(base) {
  // Made while still root, so the channel may enlarge its socket buffer.
  if (channel_fd >= 0)
    channel_ = std::make_unique<DatagramChannel>(
        base_, channel_fd, "master",
        DatagramChannel::Handlers{
            .frame = [this](ipc::Datagram& datagram) { HandleChannelFrame(datagram); },
            .failed = [this](const std::string& why,
                             bool master_closed) { MasterGone(why, master_closed); }});
  lookups_ = std::make_unique<ClientLookups>(base_);
  queue_ = std::make_unique<QueueClient>(base_, [this] { RequestQueueConnection(); });
  auth_ = std::make_unique<AuthClient>(base_, [this] { RequestAuthConnection(); });
  context_.base = base_;
  context_.config = &config_;
  context_.queue = queue_.get();
  context_.auth = auth_.get();
  context_.tls_credentials = [this](const std::string& listener) {
    return TlsCredentials(listener);
  };
  context_.tls_ticket_key = [this]() -> const std::string& { return tls_ticket_key_; };
  context_.sender_login_map = [this](const std::string& listener) {
    return SenderLogins(listener);
  };
  context_.clock = &clock_;
  context_.on_session_end = [this](SessionDriver* d) { SessionEnded(d); };
  context_.mail_check = [this](SessionDriver* d, const action::MailCheck& c) {
    SendMailCheck(d, c);
  };
  context_.tally = [this](const std::string& listener, const ServerSession::Tally& added) {
    unsent_tallies_[listener].Add(added);
    if (!evtimer_pending(tally_timer_.get(), nullptr)) {
      timeval tv = ToTimeval(kTallyInterval);
      evtimer_add(tally_timer_.get(), &tv);
    }
  };
  reap_event_.reset(event_new(base_, -1, 0, OnReapFinished, this));
  tally_timer_.reset(evtimer_new(base_, OnTallyTimer, this));
}

Worker::~Worker() {
  LogOnSyslogLost(nullptr);
  sessions_.clear();
  channel_.reset();
  finished_.clear();
  queue_.reset();
  auth_.reset();
  lookups_.reset();
}

Status Worker::Prepare() {
  if (Status s = LoadListenerFiles(); !s.ok()) return s;
  if (Status s = lookups_->Configure(config_); !s.ok()) return s;
  return Status::Ok();
}

// Every worker loads its own copy as root: the key file may be readable by
// root alone, and the worker can no longer open it once chrooted.
Status Worker::LoadListenerFiles() {
  Result<std::map<std::string, ListenerFiles>> files = postern::LoadListenerFiles(config_);
  if (!files.ok()) return files.status();
  listener_files_ = std::move(*files);
  return Status::Ok();
}

const TlsServerCredentials* Worker::TlsCredentials(const std::string& listener_name) const {
  auto it = listener_files_.find(listener_name);
  return it == listener_files_.end() ? nullptr : it->second.tls.get();
}

const SenderLoginMap* Worker::SenderLogins(const std::string& listener_name) const {
  auto it = listener_files_.find(listener_name);
  return it == listener_files_.end() ? nullptr : &it->second.sender_logins;
}

void Worker::Start() {
  // Chrooted, a worker cannot reach syslog's path again after a syslogd
  // restart: master connects for it.
  if (has_master())
    LogOnSyslogLost([this] { SendToMaster(ipc::ServiceConnect{ipc::Service::kSyslog}); });
  RequestQueueConnection();
}

Status Worker::StartStandalone(const std::string& listener_name,
                               const std::string& client_address) {
  const ListenerConfig* listener =
      listener_name.empty() ? &config_.listeners.front() : config_.FindListener(listener_name);
  if (listener == nullptr) return Status::Error("no listener named \"" + listener_name + "\"");
  std::optional<IpAddress> address = IpAddress::Parse(client_address);
  if (!address) return Status::Error("not an IP address: " + client_address);
  standalone_ = true;
  Result<int> fd = ConnectUnixStream(config_.run_directory + "/qmgr.sock", "qmgr");
  if (fd.ok()) {
    queue_->Attach(*fd);
  } else {
    LOG_WARNING("%s: messages will be refused with a temporary error",
                fd.status().message().c_str());
  }
  ClientInfo client;
  client.address = address->ToString();
  client.trusted = AnyContains(config_.trusted_networks, *address);
  draining_ = true;  // the loop ends with the one session
  StartSession(*listener, dup(STDIN_FILENO), dup(STDOUT_FILENO), std::move(client), 0);
  return Status::Ok();
}

void Worker::Stop() {
  LOG_INFO("ending %zu session(s) now", sessions_.size());
  std::vector<SessionDriver*> open;
  for (const auto& entry : sessions_) open.push_back(entry.first);
  for (SessionDriver* driver : open) driver->ShutDown();  // each leaves sessions_
}

void Worker::MasterGone(const std::string& why, bool master_closed) {
  if (master_closed) {
    LOG_WARNING("master went away; finishing %zu session(s), then exiting", sessions_.size());
  } else {
    LOG_ERROR("%s; finishing %zu session(s), then exiting", why.c_str(), sessions_.size());
  }
  draining_ = true;
  RefuseUnansweredMailChecks();
  MaybeExit();
}

void Worker::HandleChannelFrame(ipc::Datagram& datagram) {
  int fd = std::exchange(datagram.fd, -1);
  Status served = ServeMaster(datagram.frame, fd, datagram.descriptor_lost);
  if (fd >= 0) close(fd);  // a descriptor no handler took
  if (!served.ok()) channel_->Fail("master sent " + served.message());
}

Status Worker::ServeMaster(const ipc::Frame& frame, int& fd, bool descriptor_lost) {
  switch (frame.type) {
    case ipc::MsgType::kHandoff:
      return ipc::DecodeThen<ipc::Handoff>(
          frame, [&](const ipc::Handoff& m) { return HandleHandoff(m, fd, descriptor_lost); });
    case ipc::MsgType::kServiceSocket:
      return ipc::DecodeThen<ipc::ServiceSocket>(
          frame, [&](const ipc::ServiceSocket& m) { AttachService(m, fd); });
    case ipc::MsgType::kTlsTicketKey:
      return ipc::DecodeThen<ipc::TlsTicketKey>(
          frame, [&](ipc::TlsTicketKey& m) { HandleTicketKey(std::move(m.key)); });
    case ipc::MsgType::kDrain:
      return ipc::DecodeThen<ipc::Drain>(frame, [&](const ipc::Drain&) {
        draining_ = true;
        MaybeExit();
      });
    case ipc::MsgType::kMailCheckReply:
      return ipc::DecodeThen<ipc::MailCheckReply>(
          frame, [&](const ipc::MailCheckReply& m) { HandleMailVerdict(m); });
    case ipc::MsgType::kMailCheckPolicy:
      return ipc::DecodeThen<ipc::MailCheckPolicy>(
          frame, [&](ipc::MailCheckPolicy& m) { mail_policy_ = std::move(m); });
    default:
      return Status::Error(ipc::MsgTypeName(frame.type) + ", which smtpd does not serve");
  }
}

void Worker::AttachService(const ipc::ServiceSocket& answer, int& fd) {
  bool connected = answer.connected && fd >= 0;
  if (answer.service == ipc::Service::kSyslog) {
    // Not connected: the lines go on to standard error, and the next one
    // that syslog does not take asks again.
    if (connected) LogAdoptSyslogSocket(std::exchange(fd, -1));
    return;
  }
  if (answer.service == ipc::Service::kQueue) {
    if (connected) {
      queue_->Attach(std::exchange(fd, -1));
    } else {
      queue_->AttachFailed();
    }
    return;
  }
  if (connected) {
    auth_->Attach(std::exchange(fd, -1));
  } else {
    auth_->AttachFailed();
  }
}

void Worker::HandleTicketKey(std::string key) {
  if (key.empty()) {
    LOG_ERROR("master sent an empty TLS session ticket key; sessions issue no tickets");
    return;
  }
  tls_ticket_key_ = std::move(key);
}

Status Worker::HandleHandoff(const ipc::Handoff& handoff, int& fd, bool descriptor_lost) {
  const uint64_t conn_id = handoff.conn_id;
  if (descriptor_lost) {
    // Out of descriptors: this one connection goes elsewhere, the worker
    // and its sessions go on.
    LOG_WARNING("no descriptor left for connection %llu; master hands it to another worker",
                static_cast<unsigned long long>(conn_id));
    SendToMaster(ipc::HandoffRefused{conn_id});
    return Status::Ok();
  }
  if (fd < 0) return Status::Error("kHandoff without the client's descriptor");
  SendToMaster(ipc::HandoffAck{conn_id});
  const ListenerConfig* listener = config_.FindListener(handoff.listener);
  std::optional<IpAddress> address = IpAddress::Parse(handoff.peer_address);
  if (listener == nullptr || !address) {
    LOG_ERROR("hand-off for unknown listener \"%s\" or bad address \"%s\"",
              handoff.listener.c_str(), handoff.peer_address.c_str());
    SendToMaster(ipc::ConnClosed{conn_id});
    return Status::Ok();
  }
  const int client_fd = std::exchange(fd, -1);
  ClientInfo client;
  client.connected_at = clock_.Now();
  client.address = address->ToString();
  client.port = handoff.peer_port;
  client.trusted = AnyContains(config_.trusted_networks, *address);
  lookups_->Begin(*listener, *address,
                  [this, listener, client_fd, client_ip = *address, client,
                   conn_id](const ClientLookups::Outcome& outcome) {
                    LookedUp(*listener, client_fd, client_ip, client, conn_id, outcome);
                  });
  return Status::Ok();
}

void Worker::LookedUp(const ListenerConfig& listener, int fd, const IpAddress& peer,
                      ClientInfo client, uint64_t conn_id, const ClientLookups::Outcome& outcome) {
  // Once the name is known, as Postfix logs it.
  const std::string name = ClientLogName(outcome.hostname, client.address);
  LOG_INFO("%s", ConnectLogLine(name, client.port, listener.name).c_str());
  if (outcome.listed) {
    // IPAddressNotAllowed: the block-list reply instead of the banner, as
    // master would have refused at accept; master frees the connection's
    // counts on kConnClosed, as for any session.
    RefuseClient(fd, peer, client.port, BlockListReply());
    const Reply& refusal = reply::kIpAddressOnBlockList;
    SendToMaster(ipc::SessionTally{
        .listener = listener.name,
        .messages = 0,
        .rejections = 1,
        .bytes = 0,
        .refused = {{"CONNECT", static_cast<uint16_t>(refusal.code), refusal.enhanced, 1}}});
    SendToMaster(ipc::ConnClosed{conn_id});
    MaybeExit();
    return;
  }
  client.hostname = outcome.hostname;
  StartSession(listener, fd, fd, std::move(client), conn_id);
}

void Worker::StartSession(const ListenerConfig& listener, int in_fd, int out_fd, ClientInfo client,
                          uint64_t conn_id) {
  auto driver = std::make_unique<SessionDriver>(&context_, listener, in_fd, out_fd,
                                                std::move(client), conn_id);
  SessionDriver* raw = driver.get();
  sessions_.emplace(raw, std::move(driver));
  raw->Start();
}

void Worker::SessionEnded(SessionDriver* driver) {
  auto it = sessions_.find(driver);
  if (it == sessions_.end()) return;
  SendToMaster(ipc::ConnClosed{driver->conn_id()});
  std::erase_if(mail_requests_,
                [driver](const auto& entry) { return entry.second.driver == driver; });
  // Destroyed from the loop, not from inside the driver's own callback.
  finished_.push_back(std::move(it->second));
  sessions_.erase(it);
  event_active(reap_event_.get(), 0, 0);
}

void Worker::SendMailCheck(SessionDriver* driver, const action::MailCheck& check) {
  if (standalone_) {
    DeliverMailVerdict(driver, check, DecideStandalone(check));
    return;
  }
  if (has_master()) {
    // master would only say yes: no round trip.
    if (AllowedWithoutAsking(mail_policy_, check.listener))
      return DeliverMailVerdict(driver, check, ipc::MailVerdict::kAllowed);
    uint64_t id = next_mail_request_++;
    if (SendToMaster(ipc::MailCheck{id, check.listener, check.rate_key})) {
      mail_requests_.emplace(id, MailRequest{driver, check});
      return;
    }
  }
  LOG_WARNING("MAIL for %s refused for now: master cannot be asked", check.rate_key.c_str());
  DeliverMailVerdict(driver, check, ipc::MailVerdict::kInsufficientResources);
}

void Worker::HandleMailVerdict(const ipc::MailCheckReply& reply) {
  auto it = mail_requests_.find(reply.request_id);
  if (it == mail_requests_.end()) return;  // the session ended meanwhile
  MailRequest request = std::move(it->second);
  mail_requests_.erase(it);
  DeliverMailVerdict(request.driver, request.check, reply.verdict);
}

// master went away with checks unanswered: nobody else counts messages, so
// rather than leave their sessions waiting for the connection timeout they
// are refused for now (452 4.3.1, the session goes on).
void Worker::RefuseUnansweredMailChecks() {
  auto pending = std::exchange(mail_requests_, {});
  for (auto& [id, request] : pending) {
    LOG_WARNING("MAIL for %s refused for now: master went away", request.check.rate_key.c_str());
    DeliverMailVerdict(request.driver, request.check, ipc::MailVerdict::kInsufficientResources);
  }
}

// smtpd -S has no master: its one session is checked by master's own rule.
ipc::MailVerdict Worker::DecideStandalone(const action::MailCheck& check) {
  std::string shortage;
  ipc::MailVerdict verdict =
      AnswerMailCheck(standalone_resources_, standalone_rates_, config_, check.listener,
                      check.rate_key, clock_.Now(), &shortage);
  if (verdict == ipc::MailVerdict::kInsufficientResources)
    LOG_WARNING("OutOfResources at MAIL FROM (%s, listener %s): %s", check.rate_key.c_str(),
                check.listener.c_str(), shortage.c_str());
  return verdict;
}

void Worker::DeliverMailVerdict(SessionDriver* driver, const action::MailCheck& check,
                                ipc::MailVerdict verdict) {
  if (verdict == ipc::MailVerdict::kRateLimitExceeded)
    LOG_INFO("message rate limit of listener %s exceeded by %s: session ended",
             check.listener.c_str(), check.rate_key.c_str());
  driver->MailCheckResult(verdict);
}

void Worker::OnTallyTimer(evutil_socket_t, short, void* self_ptr) {
  static_cast<Worker*>(self_ptr)->SendTallies();
}

void Worker::SendTallies() {
  evtimer_del(tally_timer_.get());
  auto tallies = std::exchange(unsent_tallies_, {});
  if (!has_master()) return;
  for (const auto& [listener, tally] : tallies)
    for (const ipc::SessionTally& frame : TallyFrames(listener, tally)) SendToMaster(frame);
}

void Worker::OnReapFinished(evutil_socket_t, short, void* self_ptr) {
  auto* self = static_cast<Worker*>(self_ptr);
  self->finished_.clear();
  self->MaybeExit();
}

void Worker::MaybeExit() {
  if (!draining_ || !sessions_.empty() || lookups_->size() != 0) return;
  SendTallies();
  event_base_loopexit(base_, nullptr);
}

void Worker::RequestQueueConnection() {
  if (!has_master()) {
    queue_->AttachFailed();
    return;
  }
  SendToMaster(ipc::ServiceConnect{ipc::Service::kQueue});
}

// In stand-alone mode authd is reached directly; a chrooted worker whose
// master has gone cannot reach it at all.
void Worker::RequestAuthConnection() {
  if (has_master()) {
    if (SendToMaster(ipc::ServiceConnect{ipc::Service::kAuth})) return;
  } else if (standalone_) {
    Result<int> fd = ConnectUnixStream(config_.run_directory + "/authd.sock", "authd");
    if (fd.ok()) {
      auth_->Attach(*fd);
      return;
    }
    LOG_WARNING("%s", fd.status().message().c_str());
  }
  auth_->AttachFailed();
}

bool Worker::SentToMaster(const Status& sent) {
  if (!sent.ok()) LOG_ERROR("cannot write to master: %s", sent.message().c_str());
  return sent.ok();
}

}  // namespace postern
