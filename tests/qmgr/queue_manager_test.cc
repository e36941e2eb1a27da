// tests/qmgr/queue_manager_test.cc — qmgr's queue decisions (qmgr/queue_manager.h)
// against a store that fails on demand and a FakeClock.
//
// A real QueueStore in a temporary directory, whose commits the test fails
// with ENOSPC or EIO through QueueStore::SetCommitFault(), and a
// FaultyFileSystem under the Maildir deliveries. The test plays qmgr's
// stream side (Reserve, BeginContent, AppendContent, QueueMessage) and runs
// the event loop itself; time moves only when the FakeClock is advanced and
// RunDueTimers() is called, as the manager's timer would.
#define BOOST_TEST_DYN_LINK
#include "qmgr/queue_manager.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/smtp/next_hop.h"
#include "tests/lib/base/faulty_file_system.h"

namespace postern {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kLocal[] = "bob@example.test";    // delivered into a Maildir
constexpr char kRemote[] = "carol@remote.test";  // in delivery to a relay that never answers
constexpr int64_t kArrival = 1764979200;         // the messages' arrival; the clock starts there

// A loopback TCP port that takes connections into its backlog and never
// accepts or answers them: relayhost there keeps remote recipients in
// delivery (waiting for a greeting) for as long as a test runs.
struct SilentRelay {
  SilentRelay() : fd(socket(AF_INET, SOCK_STREAM, 0)) {
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0);
    BOOST_REQUIRE(listen(fd, 64) == 0);
    BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port = ntohs(address.sin_port);
  }
  ~SilentRelay() { close(fd); }
  int fd;
  uint16_t port = 0;
};

struct Fixture {
  Fixture() : base(event_base_new()) {
    char pattern[] = "/tmp/queue_manager_test.XXXXXX";
    BOOST_REQUIRE(mkdtemp(pattern) != nullptr);
    directory = pattern;
    auto c = std::make_shared<Config>();
    c->state_directory = directory;
    c->myhostname = "mx.example.test";
    c->local_domains = {"example.test", "blocked.test"};
    c->relayhost = {*NextHop::Parse("[127.0.0.1]:" + std::to_string(relay.port))};
    // Not the default 5m: the retries below prove the key is what counts.
    c->minimal_backoff_time = minutes(1);
    config = c;
    Result<std::unique_ptr<QueueStore>> opened =
        QueueStore::Open(directory + "/queue", uint64_t{64} << 20);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    store = std::move(*opened);
    store->SetCommitFault([this] {
      ++commits;
      if (faults.empty()) return 0;
      int fault = faults.front();
      faults.pop_front();
      return fault;
    });
    manager = std::make_unique<QueueManager>(base.get(), &clock, store.get(), &fs, config);
    manager->SetBatchFailedCallback(
        [this](uint64_t generation, const Status& why) { failed_batches[generation] = why; });
    manager->SetAttemptEndedCallback([this](const std::string& id, ipc::AttemptSummary summary) {
      attempts_ended.emplace_back(id, summary);
      delivered_when_announced.push_back(Delivered());
    });
    Status started = manager->Start();
    BOOST_REQUIRE_MESSAGE(started.ok(), started.message());
    commits = 0;
  }
  ~Fixture() {
    manager->Shutdown();
    manager.reset();
    store.reset();
    std::filesystem::remove_all(directory);
  }

  // A stream of queue_id begins and sends content.
  ContentChunker* Stream(const std::string& queue_id, const std::string& content) {
    BOOST_REQUIRE(manager->Reserve(queue_id));
    auto& chunker = chunkers[queue_id];
    chunker = std::make_unique<ContentChunker>(queue_id);
    manager->BeginContent(chunker.get());
    Status appended = manager->AppendContent(chunker.get(), content);
    BOOST_REQUIRE_MESSAGE(appended.ok(), appended.message());
    return chunker.get();
  }

  // The stream of queue_id ends; results[queue_id] is set when qmgr answers.
  void End(const std::string& queue_id, const std::string& recipient) {
    Envelope envelope;
    envelope.queue_id = queue_id;
    envelope.sender = "alice@example.test";
    envelope.recipients.push_back(Recipient{recipient, "", 0, RecipientState::kPending, ""});
    envelope.arrival_time = kArrival;
    manager->QueueMessage(envelope, chunkers.at(queue_id).get(),
                          [this, queue_id](const Status& s) { results[queue_id] = s; });
  }

  void Queue(const std::string& queue_id, const std::string& recipient) {
    Stream(queue_id, "Subject: " + queue_id + "\r\n\r\nhello\r\n");
    End(queue_id, recipient);
  }

  // One turn of the loop: what is readable or active now, no waiting.
  void Turn() { event_base_loop(base.get(), EVLOOP_NONBLOCK); }

  // Runs the loop (the delivery worker reports through it) until done()
  // holds, for at most five seconds.
  bool RunUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + seconds(5);
    do {
      Turn();
      if (done()) return true;
      usleep(1000);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

  bool Stored(const std::string& queue_id) {
    Result<std::optional<StoredMessage>> message = store->GetMessage(queue_id);
    BOOST_REQUIRE(message.ok());
    return message->has_value();
  }

  // The files in user@example.test's Maildir, oldest name first.
  std::vector<std::string> Mailbox(const std::string& user) {
    const std::string new_dir = directory + "/mail/example.test/" + user + "/new";
    std::vector<std::string> files;
    if (!std::filesystem::exists(new_dir)) return files;
    for (const auto& entry : std::filesystem::directory_iterator(new_dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      files.push_back(std::string(std::istreambuf_iterator<char>(in), {}));
    }
    return files;
  }
  size_t Delivered() { return Mailbox("bob").size(); }

  // Lets the lazy commit run, and what it makes due.
  void CommitLazily() {
    clock.Advance(kLazyCommitDelay);
    manager->RunDueTimers();
  }

  SilentRelay relay;
  std::string directory;
  FakeClock clock{FromEpochSeconds(kArrival)};
  FaultyFileSystem fs;
  EventBasePtr base;
  std::shared_ptr<const Config> config;
  std::unique_ptr<QueueStore> store;
  std::unique_ptr<QueueManager> manager;
  int commits = 0;         // commits attempted since Start()
  std::deque<int> faults;  // errnos for the next commits; 0 lets one run
  std::map<std::string, std::unique_ptr<ContentChunker>> chunkers;
  std::map<std::string, Status> results;
  std::map<uint64_t, Status> failed_batches;
  // AttemptEnded announcements, and the Maildir files there were at each.
  std::vector<std::pair<std::string, ipc::AttemptSummary>> attempts_ended;
  std::vector<size_t> delivered_when_announced;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(queue_manager)

// Group commit: every message ended before the loop gets to the commit is
// synced by one commit, and none is answered before it.
BOOST_FIXTURE_TEST_CASE(messages_ended_together_share_one_commit_and_wait_for_it, Fixture) {
  Queue("5F3A9C2B1D4E.1A2B.1", kRemote);
  Queue("5F3A9C2B1D4E.1A2B.2", kRemote);
  Queue("5F3A9C2B1D4E.1A2B.3", kRemote);
  BOOST_TEST(results.empty());
  BOOST_TEST(commits == 0);

  Turn();
  BOOST_TEST(commits == 1);
  BOOST_TEST_REQUIRE(results.size() == 3u);
  for (const auto& [id, result] : results) {
    BOOST_TEST(result.ok(), id << ": " << result.message());
    BOOST_TEST(Stored(id));
  }
}

// Changes nobody waits for (here the content of an aborted stream) are
// committed kLazyCommitDelay after the first of them, by the clock.
BOOST_FIXTURE_TEST_CASE(a_change_nobody_waits_for_is_committed_after_the_lazy_delay, Fixture) {
  ContentChunker* aborted = Stream("5F3A9C2B1D4E.1A2B.4", std::string(300 * 1024, 'x'));
  manager->ForgetContent(aborted);
  manager->DiscardContent("5F3A9C2B1D4E.1A2B.4");
  manager->Release("5F3A9C2B1D4E.1A2B.4");
  Turn();
  BOOST_TEST(commits == 0);

  clock.Advance(milliseconds(199));
  manager->RunDueTimers();
  BOOST_TEST(commits == 0);
  clock.Advance(milliseconds(1));
  manager->RunDueTimers();
  BOOST_TEST(commits == 1);
}

// A change nobody waits for rides along with the next message's commit,
// and then no second commit follows.
BOOST_FIXTURE_TEST_CASE(a_lazy_change_rides_along_with_a_message, Fixture) {
  ContentChunker* aborted = Stream("5F3A9C2B1D4E.1A2B.5", "partial");
  manager->ForgetContent(aborted);
  manager->DiscardContent("5F3A9C2B1D4E.1A2B.5");
  manager->Release("5F3A9C2B1D4E.1A2B.5");
  Queue("5F3A9C2B1D4E.1A2B.6", kRemote);
  Turn();
  BOOST_TEST(commits == 1);
  clock.Advance(seconds(1));
  manager->RunDueTimers();
  BOOST_TEST(commits == 1);
}

// Out of space: the commit that fails refuses the messages it carried
// (452 4.3.1 from a resource-exhausted Status) and the streams that wrote
// into it; what was committed before stays, and the next batch goes on.
BOOST_FIXTURE_TEST_CASE(a_failed_commit_refuses_only_the_messages_in_its_batch, Fixture) {
  const std::string before = "5F3A9C2B1D4E.1A2B.7", lost = "5F3A9C2B1D4E.1A2B.8",
                    after = "5F3A9C2B1D4E.1A2B.9";
  Queue(before, kRemote);
  Turn();
  BOOST_TEST_REQUIRE(results.at(before).ok());

  const uint64_t generation = manager->generation();
  // An open stream whose first chunk (128 KB) went into the failing batch.
  ContentChunker* open = Stream("5F3A9C2B1D4E.1A2B.A", std::string(200 * 1024, 'y'));
  Queue(lost, kRemote);
  faults = {ENOSPC};
  Turn();
  BOOST_TEST_REQUIRE(results.count(lost) == 1u);
  const Status& refused = results.at(lost);
  BOOST_TEST(refused.is_resource_exhausted());
  BOOST_TEST(refused.message() ==
             "queue store " + directory + "/queue: commit (sync to disk): No space left on device");
  BOOST_TEST_REQUIRE(failed_batches.count(generation) == 1u);
  BOOST_TEST(failed_batches.at(generation).is_resource_exhausted());
  BOOST_TEST(!Stored(lost));
  BOOST_TEST(Stored(before));
  manager->ForgetContent(open);  // the stream side gives it up
  manager->Release("5F3A9C2B1D4E.1A2B.A");

  Queue(after, kRemote);
  Turn();
  BOOST_TEST(results.at(after).ok(), results.at(after).message());
  BOOST_TEST(Stored(after));
  BOOST_TEST(failed_batches.size() == 1u);
}

// LMDB reports the short write of a file system filling during a commit
// as EIO: that is out of space too, with the reason kept for the log.
BOOST_FIXTURE_TEST_CASE(an_eio_commit_is_out_of_space, Fixture) {
  const std::string id = "5F3A9C2B1D4E.1A2B.B";
  Queue(id, kRemote);
  faults = {EIO};
  Turn();
  BOOST_TEST_REQUIRE(results.count(id) == 1u);
  BOOST_TEST(results.at(id).is_resource_exhausted());
  BOOST_TEST(results.at(id).message() ==
             "queue store " + directory +
                 "/queue: commit (sync to disk): Input/output error (LMDB reports a short write "
                 "so: is the file system full?)");
  BOOST_TEST(!Stored(id));
}

// `postern status`: each committed message in one state, held first, then
// in delivery, then deferred (an attempt failed), counted from the index.
BOOST_FIXTURE_TEST_CASE(depth_counts_each_message_in_one_state, Fixture) {
  const std::string local = "5F3A9C2B1D4E.1A2B.F", remote = "5F3A9C2B1D4E.1A2B.10";
  BOOST_TEST((manager->Depth() == QueueDepth{0, 0, 0, 0}));
  fs.fail_appends = true;
  Queue(local, kLocal);
  BOOST_TEST_REQUIRE(RunUntil([&] { return manager->NextRetry().has_value(); }));
  BOOST_TEST((manager->Depth() == QueueDepth{0, 1, 0, 0}));
  Queue(remote, kRemote);  // the relay never answers: its attempt goes on
  BOOST_TEST_REQUIRE(RunUntil([&] { return manager->Depth().in_delivery == 1; }));
  BOOST_TEST((manager->Depth() == QueueDepth{0, 1, 0, 1}));
  BOOST_TEST_REQUIRE(manager->SetHold(local, true).ok());
  BOOST_TEST((manager->Depth() == QueueDepth{0, 0, 1, 1}));
}

// A local delivery that fails (the Maildir's disk is full) is deferred and
// tried again after the back-off, by the clock: 1 minute, then 2.
BOOST_FIXTURE_TEST_CASE(a_deferred_delivery_is_retried_after_the_back_off, Fixture) {
  const std::string id = "5F3A9C2B1D4E.1A2B.C";
  fs.fail_appends = true;
  const TimePoint start = clock.Now();
  Queue(id, kLocal);
  BOOST_TEST_REQUIRE(RunUntil([&] { return manager->NextRetry().has_value(); }));
  BOOST_TEST((*manager->NextRetry() == start + minutes(1)));
  const int attempts = fs.files_created();
  BOOST_TEST(attempts == 1);

  clock.Advance(seconds(59));
  manager->RunDueTimers();
  BOOST_TEST((*manager->NextRetry() == start + minutes(1)));
  clock.Advance(seconds(1));
  manager->RunDueTimers();
  BOOST_TEST(!manager->NextRetry().has_value());
  // Fails again: the next wait is twice as long.
  BOOST_TEST_REQUIRE(RunUntil([&] { return manager->NextRetry().has_value(); }));
  BOOST_TEST(fs.files_created() == 2);
  BOOST_TEST((*manager->NextRetry() == start + minutes(1) + minutes(2)));
  BOOST_TEST(Delivered() == 0u);

  fs.fail_appends = false;
  clock.Advance(minutes(2) - milliseconds(1));
  manager->RunDueTimers();
  BOOST_TEST(manager->NextRetry().has_value());
  clock.Advance(milliseconds(1));
  manager->RunDueTimers();
  BOOST_TEST_REQUIRE(RunUntil([&] { return !manager->Contains(id); }));
  BOOST_TEST(Delivered() == 1u);
  clock.Advance(kLazyCommitDelay);
  manager->RunDueTimers();  // the lazy commit records the delivery
  BOOST_TEST(!Stored(id));
}

// After a commit failed for want of space, a delivery outcome (which frees
// space) gets a commit of its own: content that does not fit fails alone
// and cannot take the outcome down with it.
BOOST_FIXTURE_TEST_CASE(when_space_is_short_delivery_outcomes_commit_apart_from_content, Fixture) {
  const std::string delivered = "5F3A9C2B1D4E.1A2B.D", refused = "5F3A9C2B1D4E.1A2B.E";
  fs.fail_appends = true;
  Queue(delivered, kLocal);
  BOOST_TEST_REQUIRE(RunUntil([&] { return manager->NextRetry().has_value(); }));
  clock.Advance(kLazyCommitDelay);
  manager->RunDueTimers();  // the deferral is on disk
  Queue(refused, kRemote);
  faults = {ENOSPC};
  Turn();
  BOOST_TEST_REQUIRE(results.at(refused).is_resource_exhausted());

  // Content streams in while the delivery is retried; its commit will fail.
  ContentChunker* open = Stream("5F3A9C2B1D4E.1A2B.F", std::string(200 * 1024, 'z'));
  const uint64_t content_generation = manager->generation();
  faults = {ENOSPC};
  fs.fail_appends = false;
  clock.Advance(minutes(1));
  manager->RunDueTimers();
  BOOST_TEST_REQUIRE(RunUntil([&] { return !manager->Contains(delivered); }));
  BOOST_TEST(failed_batches.count(content_generation) == 1u);
  BOOST_TEST(Delivered() == 1u);
  // Recorded at once, without waiting for the lazy commit.
  BOOST_TEST(!Stored(delivered));
  manager->ForgetContent(open);
  manager->Release("5F3A9C2B1D4E.1A2B.F");
}

// A recipient whose Maildir cannot be created (a file stands where its
// directory must be) fails at once with 5.2.0, and its sender gets a
// failure DSN, queued in the transaction that records the failure and
// removes the message: when that commit fails, neither exists.
BOOST_FIXTURE_TEST_CASE(a_mailbox_that_cannot_be_created_fails_with_a_dsn_in_one_commit, Fixture) {
  const std::string id = "5F3A9C2B1D4E.1A2B.10";
  std::filesystem::create_directories(directory + "/mail/example.test");
  std::ofstream(directory + "/mail/example.test/bob") << "not a directory\n";
  Queue(id, kLocal);
  BOOST_TEST_REQUIRE(RunUntil([&] { return !manager->Contains(id); }));
  faults = {EIO};
  CommitLazily();
  BOOST_TEST(Stored(id));  // the failed commit took the failure and the DSN with it
  BOOST_TEST(manager->QueuedIds() == std::vector<std::string>{id});

  clock.Advance(minutes(1));  // the store's trouble: looked at again after the back-off
  manager->RunDueTimers();
  BOOST_TEST_REQUIRE(RunUntil([&] { return !manager->Contains(id); }));
  CommitLazily();
  BOOST_TEST(!Stored(id));
  BOOST_TEST_REQUIRE(RunUntil([&] { return Mailbox("alice").size() == 1u; }));
  const std::string dsn = Mailbox("alice")[0];
  BOOST_TEST(dsn.find("Subject: Undelivered Mail Returned to Sender\r\n") != std::string::npos);
  BOOST_TEST(dsn.find("Final-Recipient: rfc822;bob@example.test\r\n"
                      "Action: failed\r\n"
                      "Status: 5.2.0\r\n") != std::string::npos);
  BOOST_TEST(dsn.find("Diagnostic-Code: x-postern; create directory " + directory +
                      "/mail/example.test/bob: Not a directory\r\n") != std::string::npos);
  BOOST_TEST(dsn.find("Subject: " + id + "\r\n") != std::string::npos);  // returned whole
}

// A recipient that cannot be delivered (a file stands where its domain's
// mail directory must be: the system's trouble, which defers), tried again
// and again with back-off, gets one "delayed" DSN at delay_warning_time
// (4h), and fails with 4.4.7 and a failure DSN at maximal_queue_lifetime
// (5d), when the message goes.
BOOST_FIXTURE_TEST_CASE(a_waiting_recipient_is_warned_about_once_then_expires, Fixture) {
  const std::string id = "5F3A9C2B1D4E.1A2B.11";
  const TimePoint start = clock.Now();
  std::filesystem::create_directories(directory + "/mail");
  std::ofstream(directory + "/mail/blocked.test") << "not a directory\n";
  Queue(id, "dave@blocked.test");
  Turn();
  BOOST_TEST_REQUIRE(results.at(id).ok());
  std::optional<TimePoint> warned;
  int attempts = 0;
  while (manager->Contains(id)) {
    BOOST_TEST_REQUIRE(RunUntil([&] { return manager->NextRetry().has_value(); }));
    BOOST_TEST_REQUIRE(++attempts < 1000);
    const TimePoint due = std::max(*manager->NextRetry(), clock.Now());
    clock.Advance(std::chrono::duration_cast<Duration>(due - clock.Now()));
    manager->RunDueTimers();
    CommitLazily();
    // The warning is queued beside the message (its report comes from
    // the loop, after this).
    if (!warned && manager->QueuedIds().size() == 2u) warned = clock.Now() - kLazyCommitDelay;
  }
  BOOST_TEST(attempts > 100);  // back-off from 1 min, doubling to 1 h, for 5 days
  BOOST_TEST_REQUIRE(warned.has_value());
  BOOST_TEST((*warned == start + std::chrono::hours(4)));
  BOOST_TEST((clock.Now() - kLazyCommitDelay == start + std::chrono::hours(5 * 24)));
  CommitLazily();
  BOOST_TEST(!Stored(id));
  BOOST_TEST_REQUIRE(RunUntil([&] { return Mailbox("alice").size() == 2u; }));
  std::vector<std::string> dsns = Mailbox("alice");
  const bool first_failed = dsns[0].find("Action: failed\r\n") != std::string::npos;
  const std::string& failed = first_failed ? dsns[0] : dsns[1];
  const std::string& delayed = first_failed ? dsns[1] : dsns[0];
  BOOST_TEST(delayed.find("Action: delayed\r\n") != std::string::npos);
  BOOST_TEST(failed.find("Final-Recipient: rfc822;dave@blocked.test\r\n"
                         "Action: failed\r\n"
                         "Status: 4.4.7\r\n") != std::string::npos);
  BOOST_TEST(failed.find("blocked.test: Not a directory") != std::string::npos);
}

// acknowledgement_delay hears of a message's first attempt: a local
// delivery is announced once its file is in new/, after the commit.
BOOST_FIXTURE_TEST_CASE(the_end_of_a_delivery_attempt_is_announced_after_the_file, Fixture) {
  const std::string id = "5F3A9C2B1D4E.1A2B.12";
  Queue(id, kLocal);
  Turn();
  BOOST_TEST_REQUIRE(results.at(id).ok());
  BOOST_TEST_REQUIRE(RunUntil([&] { return !attempts_ended.empty(); }));
  BOOST_TEST(attempts_ended[0].first == id);
  BOOST_TEST((attempts_ended[0].second == ipc::AttemptSummary::kDelivered));
  BOOST_TEST(delivered_when_announced[0] == 1u);
  CommitLazily();
  BOOST_TEST(attempts_ended.size() == 1u);
}

// A deferred attempt ends the attempt too: nothing changes before the retry.
BOOST_FIXTURE_TEST_CASE(a_deferred_attempt_is_announced_as_deferred, Fixture) {
  const std::string id = "5F3A9C2B1D4E.1A2B.13";
  fs.fail_appends = true;
  Queue(id, kLocal);
  BOOST_TEST_REQUIRE(RunUntil([&] { return !attempts_ended.empty(); }));
  BOOST_TEST(attempts_ended[0].first == id);
  BOOST_TEST((attempts_ended[0].second == ipc::AttemptSummary::kDeferred));
  BOOST_TEST(manager->NextRetry().has_value());
}

// A message deleted by the administrator is announced: no attempt will come.
BOOST_FIXTURE_TEST_CASE(a_deleted_message_is_announced, Fixture) {
  const std::string id = "5F3A9C2B1D4E.1A2B.15";
  Queue(id, kRemote);
  Turn();
  attempts_ended.clear();
  BOOST_TEST_REQUIRE(manager->Delete({id}).ok());
  BOOST_TEST_REQUIRE(attempts_ended.size() == 1u);
  BOOST_TEST((attempts_ended[0].second == ipc::AttemptSummary::kNotAttempted));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace postern
