// smtpd/worker.h — one smtpd worker process: many sessions on one event loop.
//
// Receives client connections from master over the SOCK_SEQPACKET channel
// (fd hand-off with SCM_RIGHTS), asks DNS about each before its banner
// (smtpd/client_lookups: DNSBL zones, then the PTR; a listed client gets the
// block-list reply and is closed), runs a SessionDriver for each other one,
// reports each hand-off and each close back to master, and keeps the shared connections to
// qmgr and authd (master makes them: the worker is chrooted). It owns the TLS
// credentials of its listeners, loaded as root before the chroot, and the
// session ticket key master sends before the first hand-off; a session of a
// listener without credentials offers no TLS, and one that starts before the
// key has arrived (stand-alone mode) issues no tickets. Each acceptable MAIL
// FROM is checked by master for every worker (kMailCheck: resources, then
// the message rate), so a client cannot escape its limit by landing on
// another worker; the answer is routed to the session by request id, and
// dropped when that session has ended meanwhile. A worker never counts
// messages itself: when master cannot be asked (it went away), the MAIL is
// refused for now with 452 4.3.1 (3.2.5 "System resources are not
// available") and the session goes on. In stand-alone mode (smtpd -S) it
// runs one session on stdin/stdout, without DNS lookups, talks to the qmgr
// and authd sockets directly and, having no master, checks each MAIL with
// master's own rule (lib/policy/resource_check AnswerMailCheck) for that session.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "lib/base/clock.h"
#include "lib/config/config.h"
#include "lib/config/listener_files.h"
#include "lib/ipc/datagram_channel.h"
#include "lib/net/event_handles.h"
#include "lib/policy/rate_limiter.h"
#include "lib/policy/resource_check.h"
#include "smtpd/auth_client.h"
#include "smtpd/client_lookups.h"
#include "smtpd/queue_client.h"
#include "smtpd/session_driver.h"

namespace postern {

class Worker {
 public:
  // channel_fd: the SOCK_SEQPACKET socket to master, or -1 in stand-alone
  // mode. base (lib/base/daemon_main's loop) outlives the worker.
  Worker(event_base* base, Config config, int channel_fd);
  ~Worker();

  // Must be called before privileges are dropped: loads every listener's
  // files (lib/config/listener_files: TLS certificate and key, sender_login_map; an
  // error names the listener and the file) and makes the resolvers (which
  // read resolv.conf when dns_nameservers is empty).
  Status Prepare();
  // Serves from the loop until master says drain and the last session
  // ends, or master goes; the loop then ends.
  void Start();
  // Stand-alone: one session on stdin/stdout for listener_name; the loop
  // ends with it.
  Status StartStandalone(const std::string& listener_name, const std::string& client_address);
  // SIGTERM: ends every session now, each with a 421 (RFC 5321 3.8).
  void Stop();

  // The credentials of the listener named so; nullptr when it has no
  // certificate (ListenerConfig::has_tls). They live as long as the worker.
  const TlsServerCredentials* TlsCredentials(const std::string& listener_name) const;
  // The sender_login_map of the listener named so (empty when it has none).
  const SenderLoginMap* SenderLogins(const std::string& listener_name) const;
  // master's session ticket key; empty until it arrives. The reference stays
  // valid; the contents change once, when the key arrives.
  const std::string& tls_ticket_key() const { return tls_ticket_key_; }

 private:
  static void OnReapFinished(evutil_socket_t, short, void* self);
  static void OnTallyTimer(evutil_socket_t, short, void* self);
  // Sends master what the sessions counted since the last time
  // (kSessionTally, lib/smtp/tally_frames).
  void SendTallies();
  // A frame that does not decode, or of a type smtpd does not serve, is
  // master's failure: the channel fails and MasterGone() drains the worker.
  void HandleChannelFrame(ipc::Datagram& datagram);
  // The handlers that keep the attached descriptor set fd to -1.
  Status ServeMaster(const ipc::Frame& frame, int& fd, bool descriptor_lost);
  void MasterGone(const std::string& why, bool master_closed);
  bool has_master() const { return channel_ && channel_->open(); }
  Status HandleHandoff(const ipc::Handoff& handoff, int& fd, bool descriptor_lost);
  void AttachService(const ipc::ServiceSocket& answer, int& fd);
  void HandleTicketKey(std::string key);
  Status LoadListenerFiles();
  // The lookups of a handed-off client are done: refuse it or serve it.
  void LookedUp(const ListenerConfig& listener, int fd, const IpAddress& peer, ClientInfo client,
                uint64_t conn_id, const ClientLookups::Outcome& outcome);
  void StartSession(const ListenerConfig& listener, int in_fd, int out_fd, ClientInfo client,
                    uint64_t conn_id);
  void RequestQueueConnection();
  void RequestAuthConnection();
  void SessionEnded(SessionDriver* driver);
  void SendMailCheck(SessionDriver* driver, const action::MailCheck& check);
  void HandleMailVerdict(const ipc::MailCheckReply& reply);
  void RefuseUnansweredMailChecks();
  ipc::MailVerdict DecideStandalone(const action::MailCheck& check);
  void DeliverMailVerdict(SessionDriver* driver, const action::MailCheck& check,
                          ipc::MailVerdict verdict);
  // False (logged) when the message cannot reach master.
  template <typename Message>
  bool SendToMaster(const Message& message) {
    return has_master() && SentToMaster(channel_->Send(message));
  }
  bool SentToMaster(const Status& sent);
  void MaybeExit();

  Config config_;
  SystemClock clock_;
  event_base* base_;
  std::unique_ptr<DatagramChannel> channel_;  // to master; null in stand-alone mode
  std::unique_ptr<ClientLookups> lookups_;
  std::unique_ptr<QueueClient> queue_;
  std::unique_ptr<AuthClient> auth_;
  std::map<std::string, ListenerFiles> listener_files_;
  std::string tls_ticket_key_;
  bool standalone_ = false;
  WorkerContext context_;
  EventPtr reap_event_;
  // What the sessions counted, by listener, not yet sent: summed and sent
  // every kTallyInterval rather than one datagram per message.
  std::map<std::string, ServerSession::Tally> unsent_tallies_;
  EventPtr tally_timer_;
  static constexpr Duration kTallyInterval = std::chrono::milliseconds(100);
  std::map<SessionDriver*, std::unique_ptr<SessionDriver>> sessions_;
  std::vector<std::unique_ptr<SessionDriver>> finished_;
  bool draining_ = false;

  // A MAIL check sent to master, by request id; erased when its session ends.
  struct MailRequest {
    SessionDriver* driver;
    action::MailCheck check;
  };
  std::unordered_map<uint64_t, MailRequest> mail_requests_;
  // Which MAIL checks master lets this worker answer itself; until master
  // says, none.
  ipc::MailCheckPolicy mail_policy_;
  uint64_t next_mail_request_ = 1;
  // Stand-alone mode only, in master's stead.
  RateLimiter standalone_rates_;
  ResourceMonitor standalone_resources_{&clock_, std::chrono::seconds(1)};
};

}  // namespace postern
