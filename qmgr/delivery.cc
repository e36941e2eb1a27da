// qmgr/delivery.cc — the local delivery worker of qmgr/delivery.h.
#include "qmgr/delivery.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace postern {

bool IsLocalPending(const Recipient& recipient, const Config& config) {
  return recipient.state == RecipientState::kPending &&
         config.IsLocalDomain(AddressDomain(recipient.address));
}

bool HasLocalPending(const Envelope& envelope, const Config& config) {
  for (const Recipient& r : envelope.recipients)
    if (IsLocalPending(r, config)) return true;
  return false;
}

AttemptOutcome MaildirAttempt(size_t index, std::string_view address,
                              const Result<MaildirDelivery>& delivered) {
  AttemptOutcome attempt;
  attempt.index = index;
  if (delivered.ok()) {
    attempt.verdict = Verdict::kDelivered;
    attempt.status = "2.0.0";
    attempt.reply = "delivered to maildir";
    return attempt;
  }
  const Status& failure = delivered.status();
  attempt.reply = failure.message();
  if (failure.is_permanent()) {
    attempt.verdict = Verdict::kFailed;
    attempt.status = MailboxPath(address).ok() ? "5.2.0" : "5.1.3";
  } else {
    attempt.verdict = Verdict::kDeferred;
    attempt.status = failure.is_resource_exhausted() ? "4.3.1" : "4.2.0";
  }
  return attempt;
}

DeliveryWorker::DeliveryWorker(const QueueStore* store, FileSystem* fs, const Clock* clock)
    : store_(store), fs_(fs), clock_(clock) {}

DeliveryWorker::~DeliveryWorker() {
  Stop();
  if (pipe_read_ >= 0) close(pipe_read_);
  if (pipe_write_ >= 0) close(pipe_write_);
}

Status DeliveryWorker::Start(uint32_t threads) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return Status::FromErrno("delivery worker: pipe", errno);
  pipe_read_ = fds[0];
  pipe_write_ = fds[1];
  for (uint32_t i = 0; i < std::max<uint32_t>(threads, 1); ++i)
    threads_.emplace_back(&DeliveryWorker::Run, this);
  return Status::Ok();
}

void DeliveryWorker::Submit(std::string queue_id, std::vector<size_t> recipients,
                            std::shared_ptr<const Config> config, bool first_attempt) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(Job{std::move(queue_id), std::move(recipients), std::move(config),
                        clock_->Now(), first_attempt});
  }
  wake_.notify_one();
}

std::vector<DeliveryReport> DeliveryWorker::TakeReports() {
  char drain[256];
  while (read(pipe_read_, drain, sizeof drain) > 0) {
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return std::move(reports_);
}

void DeliveryWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  for (std::thread& thread : threads_)
    if (thread.joinable()) thread.join();
  threads_.clear();
}

void DeliveryWorker::Run() {
  // `ps -L` and /proc/PID/task/*/comm show the delivery threads by name.
  pthread_setname_np(pthread_self(), "delivery");
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    DeliveryReport report = Deliver(job);
    lock.lock();
    reports_.push_back(std::move(report));
    // A full pipe already holds a wake-up for these reports too.
    ssize_t ignored = write(pipe_write_, "r", 1);
    (void)ignored;
  }
}

DeliveryReport DeliveryWorker::Deliver(const Job& job) {
  const TimePoint started = clock_->Now();
  DeliveryReport report = DeliverNow(job);
  report.delays.waiting = std::chrono::duration_cast<Duration>(started - job.submitted);
  report.delays.transmission = std::chrono::duration_cast<Duration>(clock_->Now() - started);
  return report;
}

DeliveryReport DeliveryWorker::DeliverNow(const Job& job) {
  DeliveryReport report;
  report.queue_id = job.queue_id;
  Result<std::optional<StoredMessage>> message = store_->GetMessage(job.queue_id);
  if (!message.ok() || !message->has_value()) {
    report.failure =
        message.ok() ? Status::Error("message " + job.queue_id + " is gone") : message.status();
    return report;
  }
  const Envelope& envelope = (*message)->envelope;
  const Config& config = *job.config;
  Maildir maildir(fs_, config.MailDirectory(), config.myhostname);
  ContentSource content = [this, &job](const ByteSink& sink) {
    return store_->ReadContent(job.queue_id, sink);
  };
  for (size_t i : job.recipients) {
    if (i >= envelope.recipients.size() || !IsLocalPending(envelope.recipients[i], config))
      continue;
    DeliveryKey key{envelope.arrival_time, "Q" + envelope.queue_id + "R" + std::to_string(i),
                    job.first_attempt};
    const std::string& address = envelope.recipients[i].address;
    Result<MaildirDelivery> delivered = maildir.Deliver(address, key, content);
    RecipientReport r{MaildirAttempt(i, address, delivered), ""};
    r.detail = !delivered.ok()              ? delivered.status().message()
               : delivered->already_present ? delivered->path + ", by an earlier attempt"
                                            : delivered->path;
    report.recipients.push_back(std::move(r));
  }
  return report;
}

}  // namespace postern
