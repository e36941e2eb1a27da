// tests/lib/queue/maildir_test.cc — Maildir delivery (lib/queue/maildir.h).
//
// Delivers into temporary directories through the real PosixFileSystem, or
// through FaultyFileSystem (tests/lib/base/faulty_file_system.h), which
// fails one chosen write or sync the way a full or broken disk would.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/maildir.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "tests/lib/base/faulty_file_system.h"
#include "tests/lib/base/temp_dir.h"

namespace postern {
namespace {

namespace fs = std::filesystem;

ContentSource FromPieces(std::vector<std::string> pieces) {
  return [pieces = std::move(pieces)](const ByteSink& sink) {
    for (const std::string& piece : pieces)
      if (Status s = sink(piece); !s.ok()) return s;
    return Status::Ok();
  };
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> Entries(const std::string& directory) {
  std::vector<std::string> names;
  if (!fs::exists(directory)) return names;
  for (const auto& entry : fs::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  return names;
}

mode_t Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

const DeliveryKey kKey{1732960000, "Q5F3A9C2B1D4E.1A2B.3R0"};

BOOST_AUTO_TEST_SUITE(maildir)

BOOST_AUTO_TEST_CASE(maps_addresses_to_safe_directories) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bob@example.test", "example.test/bob"},
      {"Bob.Smith@Example.TEST", "example.test/Bob.Smith"},
      {"a/b@x.test", "x.test/a%2Fb"},
      {"a%b@x.test", "x.test/a%25b"},
      {".hidden@x.test", "x.test/%2Ehidden"},
      {"..@x.test", "x.test/%2E."},
      {"\"john doe\"@x.test", "x.test/john doe"},
      {"\"a\\\"b\"@x.test", "x.test/a\"b"},
      {std::string("a\x01z@x.test"), "x.test/a%01z"},
      {std::string("a\0z@x.test", 10), "x.test/a%00z"},
      {"a\x7f@x.test", "x.test/a%7F"},
      {"weird@name@x.test", "x.test/weird@name"},
  };
  for (const auto& [address, expected] : cases) {
    Result<std::string> path = MailboxPath(address);
    BOOST_TEST_REQUIRE(path.ok(), address << ": " << path.status().message());
    BOOST_TEST(*path == expected);
  }
}

BOOST_AUTO_TEST_CASE(refuses_addresses_that_cannot_name_a_mailbox) {
  for (const char* address : {"nodomain", "@x.test", "\"\"@x.test", "a@", "a@../etc", "a@.x",
                              "a@x/y", "a@x y", "a@x\ty"}) {
    Result<std::string> path = MailboxPath(address);
    BOOST_TEST(!path.ok(), address << " was mapped to " << (path.ok() ? *path : ""));
    BOOST_TEST(path.status().is_permanent(), address);
  }
}

BOOST_AUTO_TEST_CASE(delivers_byte_for_byte_into_new) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "mail.example.test");
  const std::string content = std::string("Subject: t\r\n\r\nline\r\n\0\xff.\r\n", 25);
  Result<MaildirDelivery> d = maildir.Deliver(
      "Bob@Example.TEST", kKey, FromPieces({content.substr(0, 9), content.substr(9)}));
  BOOST_TEST_REQUIRE(d.ok(), d.status().message());
  BOOST_TEST(!d->already_present);
  const std::string mailbox = dir.Join("mail") + "/example.test/Bob";
  BOOST_TEST(d->path == mailbox + "/new/1732960000.Q5F3A9C2B1D4E.1A2B.3R0.mail.example.test");
  BOOST_TEST((ReadFile(d->path) == content));
  BOOST_TEST(Entries(mailbox + "/tmp").empty());
  BOOST_TEST(Entries(mailbox + "/cur").empty());
  BOOST_TEST(Mode(d->path) == 0600u);
  for (const char* sub : {"", "/tmp", "/new", "/cur"}) BOOST_TEST(Mode(mailbox + sub) == 0700u);
}

BOOST_AUTO_TEST_CASE(empty_message_gives_empty_file) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "h");
  Result<MaildirDelivery> d = maildir.Deliver("bob@example.test", kKey, FromPieces({}));
  BOOST_TEST_REQUIRE(d.ok(), d.status().message());
  BOOST_TEST(fs::file_size(d->path) == 0u);
}

BOOST_AUTO_TEST_CASE(two_deliveries_get_distinct_names) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "h");
  Result<MaildirDelivery> first =
      maildir.Deliver("bob@example.test", DeliveryKey{100, "A1"}, FromPieces({"one\r\n"}));
  Result<MaildirDelivery> second =
      maildir.Deliver("bob@example.test", DeliveryKey{100, "A2"}, FromPieces({"two\r\n"}));
  BOOST_TEST_REQUIRE(first.ok());
  BOOST_TEST_REQUIRE(second.ok());
  BOOST_TEST(first->path != second->path);
  BOOST_TEST(Entries(dir.Join("mail") + "/example.test/bob/new").size() == 2u);
  BOOST_TEST(ReadFile(first->path) == "one\r\n");
  BOOST_TEST(ReadFile(second->path) == "two\r\n");
}

BOOST_AUTO_TEST_CASE(repeated_delivery_finds_the_earlier_copy_in_new_and_cur) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "h");
  Result<MaildirDelivery> first = maildir.Deliver("bob@example.test", kKey, FromPieces({"m"}));
  BOOST_TEST_REQUIRE(first.ok());
  Result<MaildirDelivery> again = maildir.Deliver("bob@example.test", kKey, FromPieces({"m"}));
  BOOST_TEST_REQUIRE(again.ok(), again.status().message());
  BOOST_TEST(again->already_present);
  BOOST_TEST(again->path == first->path);
  const std::string mailbox = dir.Join("mail") + "/example.test/bob";
  BOOST_TEST(Entries(mailbox + "/new").size() == 1u);
  // A mail reader moves the message to cur/ and marks it seen.
  const std::string seen = mailbox + "/cur/" + fs::path(first->path).filename().string() + ":2,S";
  fs::rename(first->path, seen);
  Result<MaildirDelivery> third = maildir.Deliver("bob@example.test", kKey, FromPieces({"m"}));
  BOOST_TEST_REQUIRE(third.ok(), third.status().message());
  BOOST_TEST(third->already_present);
  BOOST_TEST(third->path == seen);
  BOOST_TEST(Entries(mailbox + "/new").empty());
  BOOST_TEST(Entries(mailbox + "/tmp").empty());
}

// A first attempt (qmgr queued the message itself and never tried it)
// cannot have an earlier copy: it makes a missing mailbox when tmp/ cannot
// take the file, and does not look in new/ or cur/.
BOOST_AUTO_TEST_CASE(a_first_attempt_makes_the_mailbox_on_demand_and_does_not_look_for_copies) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "h");
  DeliveryKey first = kKey;
  first.first_attempt = true;
  Result<MaildirDelivery> d = maildir.Deliver("bob@example.test", first, FromPieces({"one\r\n"}));
  BOOST_TEST_REQUIRE(d.ok(), d.status().message());
  BOOST_TEST(!d->already_present);
  const std::string mailbox = dir.Join("mail") + "/example.test/bob";
  BOOST_TEST(ReadFile(d->path) == "one\r\n");
  for (const char* sub : {"", "/tmp", "/new", "/cur"}) BOOST_TEST(Mode(mailbox + sub) == 0700u);

  // Into the mailbox that now exists.
  DeliveryKey second{kKey.time, "Q5F3A9C2B1D4E.1A2B.3R1", true};
  Result<MaildirDelivery> d2 = maildir.Deliver("bob@example.test", second, FromPieces({"two"}));
  BOOST_TEST_REQUIRE(d2.ok(), d2.status().message());
  BOOST_TEST(Entries(mailbox + "/new").size() == 2u);
  BOOST_TEST(Entries(mailbox + "/tmp").empty());

  // A copy under the same name in cur/ is not searched for: the caller
  // vouches that there can be none.
  const std::string seen = mailbox + "/cur/" + fs::path(d->path).filename().string() + ":2,S";
  fs::rename(d->path, seen);
  Result<MaildirDelivery> again = maildir.Deliver("bob@example.test", first, FromPieces({"one"}));
  BOOST_TEST_REQUIRE(again.ok(), again.status().message());
  BOOST_TEST(!again->already_present);
  BOOST_TEST(again->path == d->path);

  // A mailbox that is a file still fails for good.
  std::ofstream(dir.Join("mail") + "/example.test/carol") << "a file\n";
  Result<MaildirDelivery> file = maildir.Deliver("carol@example.test", first, FromPieces({"x"}));
  BOOST_TEST_REQUIRE(!file.ok());
  BOOST_TEST(file.status().is_permanent(), file.status().message());
}

// Two first attempts into a new mailbox at once: the one that finds tmp/
// made by the other renames into new/ at once, so new/ (and cur/) must be
// made, and synced, before tmp/. Made in the order tmp/, new/, cur/, a
// rename raced the making of new/ and the message was deferred.
BOOST_AUTO_TEST_CASE(a_new_mailbox_gets_tmp_last) {
  TempDir dir("maildir_test");
  FaultyFileSystem recording;
  Maildir maildir(&recording, dir.Join("mail"), "h");
  DeliveryKey first = kKey;
  first.first_attempt = true;
  Result<MaildirDelivery> d = maildir.Deliver("bob@example.test", first, FromPieces({"one\r\n"}));
  BOOST_TEST_REQUIRE(d.ok(), d.status().message());
  const std::string mailbox = dir.Join("mail") + "/example.test/bob";
  const std::vector<std::string> made = recording.made_directories();
  BOOST_REQUIRE(made.size() >= 3u);
  std::vector<std::string> last(made.end() - 3, made.end());
  std::vector<std::string> expected = {mailbox + "/new", mailbox + "/cur", mailbox + "/tmp"};
  BOOST_TEST(last == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(failed_write_leaves_nothing_and_says_why) {
  TempDir dir("maildir_test");
  FaultyFileSystem faulty;
  faulty.fail_append_number = 2;
  Maildir maildir(&faulty, dir.Join("mail"), "h");
  Result<MaildirDelivery> d =
      maildir.Deliver("bob@example.test", kKey, FromPieces({"a", "b", "c"}));
  BOOST_TEST_REQUIRE(!d.ok());
  BOOST_TEST(d.status().is_resource_exhausted());
  BOOST_TEST(d.status().message().find("No space left") != std::string::npos);
  const std::string mailbox = dir.Join("mail") + "/example.test/bob";
  BOOST_TEST(Entries(mailbox + "/new").empty());
  BOOST_TEST(Entries(mailbox + "/tmp").empty());
  // The disk recovers: the retry delivers the whole message once.
  faulty.fail_append_number = 0;
  Result<MaildirDelivery> retry =
      maildir.Deliver("bob@example.test", kKey, FromPieces({"a", "b", "c"}));
  BOOST_TEST_REQUIRE(retry.ok(), retry.status().message());
  BOOST_TEST(!retry->already_present);
  BOOST_TEST(ReadFile(retry->path) == "abc");
}

BOOST_AUTO_TEST_CASE(failed_sync_leaves_nothing_in_new) {
  TempDir dir("maildir_test");
  FaultyFileSystem faulty;
  faulty.fail_file_sync = true;
  Maildir maildir(&faulty, dir.Join("mail"), "h");
  Result<MaildirDelivery> d = maildir.Deliver("bob@example.test", kKey, FromPieces({"abc"}));
  BOOST_TEST_REQUIRE(!d.ok());
  BOOST_TEST(d.status().message().find("fsync") != std::string::npos);
  BOOST_TEST(Entries(dir.Join("mail") + "/example.test/bob/new").empty());
  BOOST_TEST(Entries(dir.Join("mail") + "/example.test/bob/tmp").empty());
}

BOOST_AUTO_TEST_CASE(failed_content_source_is_reported) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "h");
  Result<MaildirDelivery> d = maildir.Deliver("bob@example.test", kKey, [](const ByteSink& sink) {
    if (Status s = sink("partial"); !s.ok()) return s;
    return Status::Error("queue store: chunk 1 is missing");
  });
  BOOST_TEST_REQUIRE(!d.ok());
  BOOST_TEST(d.status().message() == "queue store: chunk 1 is missing");
  BOOST_TEST(Entries(dir.Join("mail") + "/example.test/bob/new").empty());
  BOOST_TEST(Entries(dir.Join("mail") + "/example.test/bob/tmp").empty());
}

BOOST_AUTO_TEST_CASE(unwritable_root_names_the_path) {
  PosixFileSystem posix;
  Maildir maildir(&posix, "/proc/postern-no-such/mail", "h");
  Result<MaildirDelivery> d = maildir.Deliver("bob@example.test", kKey, FromPieces({"x"}));
  BOOST_TEST_REQUIRE(!d.ok());
  BOOST_TEST(d.status().message().find("/proc/postern-no-such/mail") != std::string::npos,
             d.status().message());
}

// A recipient's own mailbox that cannot be made fails for good; a domain
// directory that cannot be made is the system's trouble and may pass.
BOOST_AUTO_TEST_CASE(only_the_recipients_own_mailbox_fails_permanently) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "h");
  std::filesystem::create_directories(dir.Join("mail") + "/example.test");
  std::ofstream(dir.Join("mail") + "/example.test/bob") << "a file\n";
  Result<MaildirDelivery> mailbox = maildir.Deliver("bob@example.test", kKey, FromPieces({"x"}));
  BOOST_TEST_REQUIRE(!mailbox.ok());
  BOOST_TEST(mailbox.status().is_permanent(), mailbox.status().message());
  BOOST_TEST(mailbox.status().message() ==
             "create directory " + dir.Join("mail") + "/example.test/bob: Not a directory");

  std::ofstream(dir.Join("mail") + "/other.test") << "a file\n";
  Result<MaildirDelivery> domain = maildir.Deliver("bob@other.test", kKey, FromPieces({"x"}));
  BOOST_TEST_REQUIRE(!domain.ok());
  BOOST_TEST(!domain.status().is_permanent(), domain.status().message());
  BOOST_TEST(!domain.status().is_resource_exhausted());
}

BOOST_AUTO_TEST_CASE(hostname_separators_are_encoded) {
  TempDir dir("maildir_test");
  PosixFileSystem posix;
  Maildir maildir(&posix, dir.Join("mail"), "a/b:c");
  Result<MaildirDelivery> d =
      maildir.Deliver("bob@example.test", DeliveryKey{7, "K"}, FromPieces({"x"}));
  BOOST_TEST_REQUIRE(d.ok(), d.status().message());
  BOOST_TEST(fs::path(d->path).filename().string() == "7.K.a\\057b\\072c");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
