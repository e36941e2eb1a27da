// qmgr/delivery.h — the local delivery threads of qmgr.
//
// Takes queue ids from the loop thread, each with the recipients due, and
// hands each to one of local_delivery_concurrency threads, which reads the
// message in its own LMDB read transaction and delivers those of its
// recipients that are pending and of a local domain into their Maildirs
// (lib/queue/maildir.h). Outcomes go back to the loop thread as
// DeliveryReports, announced through a pipe that the loop watches. The
// worker never writes the queue: the loop records outcomes in its next
// group transaction and removes a message once every recipient is final.
// Recipients of other domains are left alone: qmgr/relay_delivery.h relays
// them.
//
// Exactly once. A message is acknowledged only after its commit, so every
// acknowledged message is in the queue with its recipients pending until a
// delivery is recorded there. A crash (kill -9, power cut) can fall between
// a Maildir delivery and the commit that records it; after the restart the
// recipient is still pending and is delivered again. That repetition
// writes nothing: the Maildir file name is derived from the arrival time,
// the queue id and the recipient's index (DeliveryKey), so the second
// attempt finds the first copy in new/ (or cur/) and only records it.
// Recording the delivery before writing the file was rejected: a crash in
// between would lose the message. The one way to get two copies is a mail
// reader that deletes or moves the first copy out of the Maildir between
// the crash and the restart.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/clock.h"
#include "lib/base/file_system.h"
#include "lib/base/status.h"
#include "lib/config/config.h"
#include "lib/queue/delivery_log.h"
#include "lib/queue/delivery_schedule.h"
#include "lib/queue/envelope.h"
#include "lib/queue/maildir.h"
#include "lib/queue/queue_store.h"

namespace postern {

// One recipient's attempt: what the schedule records (lib/queue/
// delivery_schedule.h), and for the log the Maildir file or the reason.
struct RecipientReport {
  AttemptOutcome attempt;
  std::string detail;
};

struct DeliveryReport {
  std::string queue_id;
  std::string relay = "maildir";  // where it went, for the log: "maildir" or host[address]:port
  Status failure;                 // the message could not be read at all; recipients is empty
  std::vector<RecipientReport> recipients;  // one per recipient attempted
  AttemptDelays delays;  // waiting, setup and transmission; the manager adds queued
};

// What a Maildir delivery's result means for its recipient: delivered
// (2.0.0); failed for a permanent failure (5.1.3 for an address that names
// no mailbox, 5.2.0 for a mailbox that cannot be created or written);
// deferred for a full disk or quota (4.3.1) or any other failure (4.2.0).
AttemptOutcome MaildirAttempt(size_t index, std::string_view address,
                              const Result<MaildirDelivery>& delivered);

// A pending recipient that this host delivers itself.
bool IsLocalPending(const Recipient& recipient, const Config& config);
bool HasLocalPending(const Envelope& envelope, const Config& config);

class DeliveryWorker {
 public:
  // store, fs and clock must outlive the worker.
  DeliveryWorker(const QueueStore* store, FileSystem* fs, const Clock* clock);
  ~DeliveryWorker();
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  // Creates the notification pipe and `threads` delivery threads (at least
  // one). Each message goes to one thread; messages run side by side.
  Status Start(uint32_t threads);
  // Queues the delivery of the given recipients of one message (indices
  // into its envelope; those no longer pending or not local are skipped)
  // with the configuration in force now. first_attempt: no earlier attempt
  // can have delivered any of them (lib/queue/maildir.h DeliveryKey).
  void Submit(std::string queue_id, std::vector<size_t> recipients,
              std::shared_ptr<const Config> config, bool first_attempt);
  // Readable when reports wait; TakeReports() drains it.
  int ready_fd() const { return pipe_read_; }
  std::vector<DeliveryReport> TakeReports();
  // Finishes the messages in hand, drops the rest (they stay pending in the
  // queue) and joins the threads. Idempotent.
  void Stop();

 private:
  struct Job {
    std::string queue_id;
    std::vector<size_t> recipients;
    std::shared_ptr<const Config> config;
    TimePoint submitted;
    bool first_attempt = false;
  };

  void Run();
  // DeliverNow, timed.
  DeliveryReport Deliver(const Job& job);
  DeliveryReport DeliverNow(const Job& job);

  const QueueStore* store_;
  FileSystem* fs_;
  const Clock* clock_;
  int pipe_read_ = -1;
  int pipe_write_ = -1;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::vector<DeliveryReport> reports_;
  bool stopping_ = false;
};

}  // namespace postern
