// tests/lib/ipc/status_report_test.cc — unit tests of lib/ipc/status_report.h:
// master's and qmgr's parts of `postern status` on the wire, and the text
// and JSON the CLI prints. Expected texts are typed out here.
#define BOOST_TEST_DYN_LINK
#include "lib/ipc/status_report.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

StatusReport Sample() {
  StatusReport report;
  report.version = "1.2.3";
  report.uptime_seconds = 3723;
  report.processes = {{"master", 100, std::nullopt, false},
                      {"qmgr", 101, std::nullopt, false},
                      {"authd", 102, std::nullopt, false},
                      {"smtpd", 103, 1, false},
                      {"smtpd", 104, 0, true}};
  report.listeners = {{"smtp", {"127.0.0.1:2525", "[::1]:2525"}, 1},
                      {"submission", {"127.0.0.1:5587"}, 0}};
  report.connections = 1;
  report.messages_last_minute = 1;
  report.rejections_last_minute = 2;
  report.log = "syslog at /dev/log";
  return report;
}

BOOST_AUTO_TEST_SUITE(status_report)

BOOST_AUTO_TEST_CASE(master_part_round_trips_without_the_queue) {
  const std::string wire = EncodeStatusReport(Sample());
  BOOST_TEST(wire ==
             "version 1.2.3\nuptime 3723\nconnections 1\nmessages 1\nrejections 2\n"
             "log syslog at /dev/log\nprocess master 100\nprocess qmgr 101\nprocess authd "
             "102\nprocess smtpd 103 1\n"
             "process smtpd 104 0 draining\n"
             "listener smtp 1 127.0.0.1:2525 [::1]:2525\nlistener submission 0 127.0.0.1:5587\n");
  Result<StatusReport> decoded = DecodeStatusReport(wire);
  BOOST_REQUIRE_MESSAGE(decoded.ok(), decoded.status().message());
  BOOST_TEST((*decoded == Sample()));
}

BOOST_AUTO_TEST_CASE(malformed_master_parts_are_refused_saying_which_line) {
  BOOST_TEST(DecodeStatusReport("uptime 5\n").status().message() ==
             "malformed status: no version line");
  BOOST_TEST(DecodeStatusReport("version 1\nuptime five\n").status().message() ==
             "malformed status line \"uptime five\"");
  BOOST_TEST(!DecodeStatusReport("version 1\nprocess smtpd\n").ok());
  BOOST_TEST(!DecodeStatusReport("version 1\nprocess smtpd 5 1 asleep\n").ok());
  BOOST_TEST(!DecodeStatusReport("version 1\nlistener smtp x\n").ok());
  BOOST_TEST(!DecodeStatusReport("version 1\nweather fine\n").ok());
}

BOOST_AUTO_TEST_CASE(queue_depth_round_trips) {
  QueueDepth depth{4, 3, 2, 1};
  BOOST_TEST(FormatQueueDepth(depth) == "pending 4\ndeferred 3\nheld 2\nin_delivery 1\n");
  Result<QueueDepth> parsed = ParseQueueDepth("pending 4\ndeferred 3\nheld 2\nin_delivery 1\n");
  BOOST_REQUIRE(parsed.ok());
  BOOST_TEST((*parsed == depth));
  BOOST_TEST(!ParseQueueDepth("pending 4\n").ok());
  BOOST_TEST(!ParseQueueDepth("deferred 3\npending 4\nheld 2\nin_delivery 1\n").ok());
  BOOST_TEST(!ParseQueueDepth("pending -1\ndeferred 3\nheld 2\nin_delivery 1\n").ok());
}

BOOST_AUTO_TEST_CASE(uptime_leaves_out_leading_zero_units) {
  BOOST_TEST(FormatUptime(0) == "up 0s");
  BOOST_TEST(FormatUptime(42) == "up 42s");
  BOOST_TEST(FormatUptime(3601) == "up 1h 0m 1s");
  BOOST_TEST(FormatUptime(2 * 86400 + 5) == "up 2d 0h 0m 5s");
}

BOOST_AUTO_TEST_CASE(text_for_a_terminal) {
  StatusReport report = Sample();
  report.queue = QueueDepth{0, 1, 1, 0};
  BOOST_TEST(RenderStatusText(report, "") ==
             "postern 1.2.3 is running, master pid 100, up 1h 2m 3s\n"
             "listener smtp on 127.0.0.1:2525 [::1]:2525: 1 session\n"
             "listener submission on 127.0.0.1:5587: 0 sessions\n"
             "connections: 1\n"
             "master pid 100\nqmgr pid 101\nauthd pid 102\n"
             "smtpd pid 103: 1 session\nsmtpd pid 104: 0 sessions, draining\n"
             "queue: 0 pending, 1 deferred, 1 held, 0 in delivery\n"
             "last minute: 1 message accepted, 2 rejections\n"
             "log: syslog at /dev/log\n");
  report.queue.reset();
  BOOST_TEST(RenderStatusText(report, "qmgr did not answer")
                 .find("\nqueue: unknown (qmgr did not answer)\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_is_one_object_with_the_documented_fields) {
  StatusReport report = Sample();
  report.queue = QueueDepth{4, 3, 2, 1};
  BOOST_TEST(RenderStatusJson(report) ==
             "{\"version\": \"1.2.3\", \"uptime_seconds\": 3723, \"processes\": ["
             "{\"name\": \"master\", \"pid\": 100}, {\"name\": \"qmgr\", \"pid\": 101}, "
             "{\"name\": \"authd\", \"pid\": 102}, "
             "{\"name\": \"smtpd\", \"pid\": 103, \"sessions\": 1, \"draining\": false}, "
             "{\"name\": \"smtpd\", \"pid\": 104, \"sessions\": 0, \"draining\": true}], "
             "\"listeners\": [{\"name\": \"smtp\", \"bind\": [\"127.0.0.1:2525\", \"[::1]:2525\"], "
             "\"sessions\": 1}, {\"name\": \"submission\", \"bind\": [\"127.0.0.1:5587\"], "
             "\"sessions\": 0}], \"connections\": 1, "
             "\"queue\": {\"pending\": 4, \"deferred\": 3, \"held\": 2, \"in_delivery\": 1}, "
             "\"last_minute\": {\"messages\": 1, \"rejections\": 2}, "
             "\"log\": \"syslog at /dev/log\"}\n");
  report.queue.reset();
  BOOST_TEST(RenderStatusJson(report).find("\"queue\": null,") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
