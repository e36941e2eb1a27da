// tests/lib/base/log_format_test.cc — lib/base/log_format.h: a line as
// syslog (RFC 3164, glibc's form) and as a file (rsyslog's RFC 3339 form) get it.
#include "lib/base/log_format.h"

#include <boost/test/unit_test.hpp>

namespace postern {
namespace {

LogTime December7(int day, long gmtoff) {
  LogTime time;
  time.local.tm_year = 2026 - 1900;
  time.local.tm_mon = 11;
  time.local.tm_mday = day;
  time.local.tm_hour = 2;
  time.local.tm_min = 6;
  time.local.tm_sec = 5;
  time.local.tm_gmtoff = gmtoff;
  time.microseconds = 42;
  return time;
}

BOOST_AUTO_TEST_SUITE(log_format)

BOOST_AUTO_TEST_CASE(syslog_records_carry_priority_stamp_and_tag) {
  // mail.info is 2 * 8 + 6.
  BOOST_TEST(SyslogRecord(FacilityCode(LogFacility::kMail), LogLevel::kInfo, December7(7, 0),
                          "postern/smtpd", 123, "connect from unknown[127.0.0.1]") ==
             "<22>Dec  7 02:06:05 postern/smtpd[123]: connect from unknown[127.0.0.1]");
  // local3.warning is 19 * 8 + 4.
  BOOST_TEST(SyslogRecord(FacilityCode(LogFacility::kLocal3), LogLevel::kWarning, December7(17, 0),
                          "postern/qmgr", 9,
                          "x") == "<156>Dec 17 02:06:05 postern/qmgr[9]: warning: x");
  BOOST_TEST(SyslogPriority(FacilityCode(LogFacility::kDaemon), LogLevel::kError) == 27);
  BOOST_TEST(SyslogPriority(FacilityCode(LogFacility::kLocal7), LogLevel::kDebug) == 191);
}

BOOST_AUTO_TEST_CASE(file_records_have_an_rfc3339_stamp_and_the_host) {
  BOOST_TEST(
      FileRecord(LogLevel::kInfo, December7(7, 3600), "mail", "postern/master", 1, "ready") ==
      "2026-12-07T02:06:05.000042+01:00 mail postern/master[1]: ready");
  BOOST_TEST(FileRecord(LogLevel::kError, December7(7, -16200), "h", "postern/authd", 2, "x") ==
             "2026-12-07T02:06:05.000042-04:30 h postern/authd[2]: error: x");
}

BOOST_AUTO_TEST_CASE(only_info_has_no_prefix) {
  BOOST_TEST(LevelPrefix(LogLevel::kInfo) == "");
  BOOST_TEST(LevelPrefix(LogLevel::kWarning) == "warning: ");
  BOOST_TEST(LevelPrefix(LogLevel::kError) == "error: ");
  BOOST_TEST(LevelPrefix(LogLevel::kDebug) == "debug: ");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace postern
