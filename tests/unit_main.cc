// tests/unit_main.cc — the entry point of the Boost.Test unit test runner.
//
// Every tests/lib/*_test.cc adds its suites to this one binary.
#define BOOST_TEST_MODULE postern_unit
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
