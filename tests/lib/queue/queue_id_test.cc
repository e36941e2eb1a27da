// tests/lib/queue/queue_id_test.cc — queue id shape and uniqueness.
#define BOOST_TEST_DYN_LINK
#include "lib/queue/queue_id.h"

#include <boost/test/unit_test.hpp>
#include <set>

using namespace postern;

BOOST_AUTO_TEST_SUITE(queue_id)

BOOST_AUTO_TEST_CASE(new_ids_are_valid_and_distinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewQueueId();
    BOOST_TEST_REQUIRE(IsValidQueueId(id), id);
    BOOST_TEST_REQUIRE(seen.insert(id).second, id);
  }
}

// One word, as pflogsumm's \w+ takes a queue id to be.
BOOST_AUTO_TEST_CASE(new_ids_are_one_word) {
  const std::string id = NewQueueId();
  BOOST_TEST(id.find_first_not_of("0123456789ABCDEFz") == std::string::npos, id);
  BOOST_TEST(id[12] == 'z', id);
}

BOOST_AUTO_TEST_CASE(rejects_what_could_escape_a_key_or_path) {
  BOOST_TEST(IsValidQueueId("5F3A9C2B1D4Ez1A2Bz3"));
  BOOST_TEST(IsValidQueueId("5F3A9C2B1D4E.1A2B.3"));   // made by earlier versions
  BOOST_TEST(!IsValidQueueId("5F3A9C2B1D4Ez1A2B.3"));  // two kinds of separator
  BOOST_TEST(!IsValidQueueId("5F3A9C2B1D4Ez1A2Bz3z4"));
  BOOST_TEST(!IsValidQueueId(""));
  BOOST_TEST(!IsValidQueueId("5F3A9C2B1D4E.1A2B"));      // two fields
  BOOST_TEST(!IsValidQueueId("5F3A9C2B1D4E.1A2B.3.4"));  // four fields
  BOOST_TEST(!IsValidQueueId("5f3a9c2b1d4e.1a2b.3"));    // lower case
  BOOST_TEST(!IsValidQueueId("../../etc/passwd.1.2"));
  BOOST_TEST(!IsValidQueueId("5F3A9C2B1D4E..3"));  // empty field
  BOOST_TEST(!IsValidQueueId("5F3A9C2B1D4E.1A2B.3/"));
  BOOST_TEST(!IsValidQueueId(std::string("5F3A9C2B1D4E.1A2B.3\0", 20)));
}

BOOST_AUTO_TEST_SUITE_END()
