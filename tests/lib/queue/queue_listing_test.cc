// tests/lib/queue/queue_listing_test.cc — what `postern queue list [--json]`
// and `queue show` print (lib/queue/queue_listing.h): JSON escaping, times,
// states, next tries by the delivery schedule on a FakeClock, and pages.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/queue_listing.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace postern {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr int64_t kArrival = 1732960000;  // 2024-11-30T09:46:40Z
const WallTime kArrivalTime{seconds(kArrival)};

Recipient Pending(const std::string& address) {
  Recipient r;
  r.address = address;
  return r;
}

// Tried twice, last at 09:51:40: with the default back-off (5m, 10m, ...)
// due at 10:01:40.
Recipient Deferred(const std::string& address) {
  Recipient r = Pending(address);
  r.attempts = 2;
  r.last_attempt = kArrival + 300;
  r.status = "4.2.0";
  r.last_error = "cannot write \"new\": Permission denied";
  return r;
}

Recipient Delivered(const std::string& address) {
  Recipient r = Pending(address);
  r.state = RecipientState::kDelivered;
  r.last_attempt = kArrival + 60;
  r.status = "2.0.0";
  r.remote_mta = "mx.remote.test";
  r.last_error = "250 2.0.0 Ok";
  return r;
}

StoredMessage Message(const std::string& id, std::vector<Recipient> recipients, bool held = false) {
  StoredMessage m;
  m.envelope.queue_id = id;
  m.envelope.sender = "ann@example.test";
  m.envelope.arrival_time = kArrival;
  m.envelope.size = 1234;
  m.envelope.recipients = std::move(recipients);
  m.held = held;
  return m;
}

const std::string kIdA = "5F3A9C2B1D4E.1A2B.1";
const std::string kIdB = "5F3A9C2B1D4E.1A2B.2";
const std::string kIdC = "5F3A9C2B1D4E.1A2B.3";

struct Listing {
  // Six minutes after arrival: 09:52:40.
  FakeClock clock{kArrivalTime + minutes(6)};
  DeliverySchedule schedule{&clock, DeliverySettings{}};

  Result<ListingPage> Page(const std::vector<StoredMessage>& messages, ListingFormat format,
                           const std::string& after = "", size_t max_bytes = 1 << 20) {
    return ListQueuePage(messages, format, after, max_bytes, schedule, clock.WallNow());
  }
  // Every page in turn, joined.
  std::string All(const std::vector<StoredMessage>& messages, ListingFormat format,
                  size_t max_bytes, size_t* pages) {
    std::string text, after;
    *pages = 0;
    for (;;) {
      Result<ListingPage> page = Page(messages, format, after, max_bytes);
      BOOST_REQUIRE(page.ok());
      BOOST_REQUIRE(page->text.size() <= max_bytes);
      ++*pages;
      text += page->text;
      if (page->more.empty()) return text;
      after = page->more;
    }
  }
};

BOOST_AUTO_TEST_SUITE(queue_listing)

BOOST_AUTO_TEST_CASE(json_strings_escape_quotes_backslashes_and_controls) {
  BOOST_TEST(JsonString("") == "\"\"");
  BOOST_TEST(JsonString("a\"b\\c/d") == "\"a\\\"b\\\\c/d\"");
  BOOST_TEST(JsonString("\b\f\n\r\t") == "\"\\b\\f\\n\\r\\t\"");
  BOOST_TEST(JsonString(std::string("\0\x01\x1b[31m\x1f\x7f", 9)) ==
             "\"\\u0000\\u0001\\u001b[31m\\u001f\\u007f\"");
}

BOOST_AUTO_TEST_CASE(json_strings_keep_utf8_and_read_stray_bytes_as_latin1) {
  // ü (C3 BC), € (E2 82 AC), 📬 (F0 9F 93 AC) stay as they are.
  BOOST_TEST(JsonString("Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x93\xac") ==
             "\"Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x93\xac\"");
  // A Latin-1 é (E9) alone, a cut sequence, an overlong '/', a surrogate and
  // a code point past U+10FFFF: byte by byte.
  BOOST_TEST(JsonString("caf\xe9") == "\"caf\\u00e9\"");
  BOOST_TEST(JsonString("\xe2\x82") == "\"\\u00e2\\u0082\"");
  BOOST_TEST(JsonString("\xc0\xaf") == "\"\\u00c0\\u00af\"");
  BOOST_TEST(JsonString("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");
  BOOST_TEST(JsonString("\xf4\x90\x80\x80") == "\"\\u00f4\\u0090\\u0080\\u0080\"");
  // C1 controls (U+009B is a terminal's CSI) go by number even when well formed.
  BOOST_TEST(JsonString("\xc2\x9b"
                        "2J \xc2\xa0") == "\"\\u009b2J \xc2\xa0\"");
}

BOOST_AUTO_TEST_CASE(times_are_rfc3339_utc) {
  BOOST_TEST(Rfc3339(kArrival) == "2024-11-30T09:46:40Z");
  BOOST_TEST(Rfc3339(kArrivalTime + minutes(15)) == "2024-11-30T10:01:40Z");
  BOOST_TEST(Rfc3339(int64_t{0}) == "1970-01-01T00:00:00Z");
}

BOOST_AUTO_TEST_CASE(states_tell_pending_from_deferred) {
  Recipient failed = Pending("f@x.test");
  failed.state = RecipientState::kFailed;
  Recipient with_reply_only = Pending("p@x.test");
  with_reply_only.last_error = "no such directory";
  BOOST_TEST(RecipientStateName(Pending("p@x.test")) == "pending");
  BOOST_TEST(RecipientStateName(Deferred("d@x.test")) == "deferred");
  BOOST_TEST(RecipientStateName(with_reply_only) == "deferred");
  BOOST_TEST(RecipientStateName(Delivered("d@x.test")) == "delivered");
  BOOST_TEST(RecipientStateName(failed) == "failed");
}

BOOST_AUTO_TEST_CASE(next_try_follows_the_back_off_and_is_never_in_the_past) {
  Listing l;
  const WallTime now = l.clock.WallNow();
  // Two attempts: 10 minutes after the last one.
  BOOST_TEST(
      (NextTryOf(Deferred("d@x.test"), false, l.schedule, now) == kArrivalTime + minutes(15)));
  // Never tried: due now, not at the epoch.
  BOOST_TEST((NextTryOf(Pending("p@x.test"), false, l.schedule, now) == now));
  // Overdue: now.
  l.clock.Advance(minutes(60));
  BOOST_TEST(
      (NextTryOf(Deferred("d@x.test"), false, l.schedule, l.clock.WallNow()) == l.clock.WallNow()));
  // Held or final: none.
  BOOST_TEST(!NextTryOf(Deferred("d@x.test"), true, l.schedule, now).has_value());
  BOOST_TEST(!NextTryOf(Delivered("d@x.test"), false, l.schedule, now).has_value());
}

BOOST_AUTO_TEST_CASE(json_listing_typed_out) {
  Listing l;
  std::vector<StoredMessage> messages = {
      Message(kIdA, {Deferred("bob@example.test"), Delivered("zoe@remote.test")}),
      Message(kIdB, {Pending("carol@example.test")}, true)};
  messages[1].envelope.sender = "";
  Result<ListingPage> page = l.Page(messages, ListingFormat::kJson);
  BOOST_REQUIRE(page.ok());
  BOOST_TEST(page->more == "");
  BOOST_TEST(page->text ==
             "[\n"
             "{\"id\": \"5F3A9C2B1D4E.1A2B.1\", \"size\": 1234, \"arrival\": "
             "\"2024-11-30T09:46:40Z\", \"sender\": \"ann@example.test\", \"held\": false, "
             "\"recipients\": ["
             "{\"address\": \"bob@example.test\", \"state\": \"deferred\", \"attempts\": 2, "
             "\"last_attempt\": \"2024-11-30T09:51:40Z\", \"next_try\": \"2024-11-30T10:01:40Z\", "
             "\"status\": \"4.2.0\", \"last_reply\": \"cannot write \\\"new\\\": Permission "
             "denied\", \"remote_mta\": null}, "
             "{\"address\": \"zoe@remote.test\", \"state\": \"delivered\", \"attempts\": 0, "
             "\"last_attempt\": \"2024-11-30T09:47:40Z\", \"next_try\": null, "
             "\"status\": \"2.0.0\", \"last_reply\": \"250 2.0.0 Ok\", "
             "\"remote_mta\": \"mx.remote.test\"}]},\n"
             "{\"id\": \"5F3A9C2B1D4E.1A2B.2\", \"size\": 1234, \"arrival\": "
             "\"2024-11-30T09:46:40Z\", \"sender\": \"\", \"held\": true, \"recipients\": ["
             "{\"address\": \"carol@example.test\", \"state\": \"pending\", \"attempts\": 0, "
             "\"last_attempt\": null, \"next_try\": null, \"status\": null, "
             "\"last_reply\": null, \"remote_mta\": null}]}\n"
             "]\n");
}

BOOST_AUTO_TEST_CASE(text_listing_typed_out) {
  Listing l;
  Recipient odd = Deferred("eve@example.test");
  odd.last_error = "bad\r\nline";
  odd.remote_mta = "mx.remote.test";
  std::vector<StoredMessage> messages = {
      Message(kIdA, {Deferred("bob@example.test"), Delivered("zoe@remote.test")}),
      Message(kIdB, {Pending("carol@example.test"), odd}, true)};
  Result<ListingPage> page = l.Page(messages, ListingFormat::kText);
  BOOST_REQUIRE(page.ok());
  BOOST_TEST(page->more == "");
  BOOST_TEST(page->text ==
             "5F3A9C2B1D4E.1A2B.1 active 1234 2024-11-30T09:46:40Z <ann@example.test>\n"
             "  <bob@example.test> deferred, 2 attempts, last try 2024-11-30T09:51:40Z, "
             "next try 2024-11-30T10:01:40Z\n"
             "      (4.2.0 cannot write \"new\": Permission denied)\n"
             "  <zoe@remote.test> delivered, last try 2024-11-30T09:47:40Z\n"
             "      (2.0.0 mx.remote.test said: 250 2.0.0 Ok)\n"
             "\n"
             "5F3A9C2B1D4E.1A2B.2 held 1234 2024-11-30T09:46:40Z <ann@example.test>\n"
             "  <carol@example.test> pending\n"
             "  <eve@example.test> deferred, 2 attempts, last try 2024-11-30T09:51:40Z\n"
             "      (4.2.0 mx.remote.test said: bad\\x0d\\x0aline)\n"
             "\n"
             "-- 2 message(s), 2468 bytes\n");
}

BOOST_AUTO_TEST_CASE(an_empty_queue) {
  Listing l;
  BOOST_TEST(l.Page({}, ListingFormat::kJson)->text == "[]\n");
  BOOST_TEST(l.Page({}, ListingFormat::kText)->text == "Mail queue is empty\n");
}

BOOST_AUTO_TEST_CASE(pages_of_whole_messages_join_into_the_whole_listing) {
  Listing l;
  std::vector<StoredMessage> messages;
  for (const std::string& id : {kIdA, kIdB, kIdC})
    messages.push_back(Message(id, {Deferred("a@example.test"), Deferred("b@example.test")}));
  for (ListingFormat format : {ListingFormat::kJson, ListingFormat::kText}) {
    const std::string whole = l.Page(messages, format)->text;
    const size_t per_message = whole.size() / 3;
    // Room for two messages but not three.
    Result<ListingPage> first = l.Page(messages, format, "", whole.size() - per_message / 2);
    BOOST_REQUIRE(first.ok());
    BOOST_TEST(first->more == kIdB);
    size_t pages = 0;
    BOOST_TEST(l.All(messages, format, whole.size() - per_message / 2, &pages) == whole);
    BOOST_TEST(pages == 2u);
    // One message a page.
    BOOST_TEST(l.All(messages, format, per_message + per_message / 2, &pages) == whole);
    BOOST_TEST(pages == 3u);
  }
}

BOOST_AUTO_TEST_CASE(a_page_after_messages_gone_still_closes_the_listing) {
  Listing l;
  std::vector<StoredMessage> rest = {Message(kIdA, {Pending("a@example.test")})};
  // The page after kIdB: nothing left after it.
  BOOST_TEST(l.Page(rest, ListingFormat::kJson, kIdB)->text == "\n]\n");
  BOOST_TEST(l.Page(rest, ListingFormat::kText, kIdB)->text == "-- 1 message(s), 1234 bytes\n");
  // The cursor need not be queued any more: the page goes on after it.
  std::vector<StoredMessage> two = {Message(kIdA, {Pending("a@example.test")}),
                                    Message(kIdC, {Pending("c@example.test")})};
  Result<ListingPage> page = l.Page(two, ListingFormat::kJson, kIdB);
  BOOST_REQUIRE(page.ok());
  BOOST_TEST(page->text.substr(0, 13) == ",\n{\"id\": \"5F3");
  BOOST_TEST(page->text.find(kIdA) == std::string::npos);
  BOOST_TEST(page->text.find(kIdC) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_a_page_is_an_error) {
  Listing l;
  Result<ListingPage> page =
      l.Page({Message(kIdA, {Deferred("a@example.test")})}, ListingFormat::kJson, "", 200);
  BOOST_REQUIRE(!page.ok());
  BOOST_TEST(page.status().message().find("postern queue show " + kIdA) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(show_describes_each_recipients_attempts) {
  Listing l;
  StoredMessage m = Message(kIdA, {Deferred("bob@example.test"), Delivered("zoe@remote.test")});
  m.envelope.client_address = "192.0.2.7";
  m.envelope.client_helo = "client.example.test";
  m.envelope.listener = "smtp";
  BOOST_TEST(DescribeMessage(m, l.schedule, l.clock.WallNow()) ==
             "queue_id: 5F3A9C2B1D4E.1A2B.1\n"
             "status: active\n"
             "arrival_time: 2024-11-30T09:46:40Z\n"
             "size: 1234\n"
             "sender: <ann@example.test>\n"
             "recipient: <bob@example.test> deferred\n"
             "  attempts: 2\n"
             "  last_attempt: 2024-11-30T09:51:40Z\n"
             "  next_try: 2024-11-30T10:01:40Z\n"
             "  dsn: 4.2.0\n"
             "  last_reply: cannot write \"new\": Permission denied\n"
             "recipient: <zoe@remote.test> delivered\n"
             "  attempts: 0\n"
             "  last_attempt: 2024-11-30T09:47:40Z\n"
             "  dsn: 2.0.0\n"
             "  remote_mta: mx.remote.test\n"
             "  last_reply: 250 2.0.0 Ok\n"
             "body: 7BIT\n"
             "ret: unspecified\n"
             "envid: \n"
             "client: 192.0.2.7 [client.example.test]\n"
             "auth_user: \n"
             "auth_mailbox: \n"
             "listener: smtp\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
