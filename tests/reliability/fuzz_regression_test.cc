// Regression tests of the findings of the fuzz targets in tests/fuzz/ (one
// TEST_CASE per finding, named after the target that found it). The inputs
// are also in the targets' seed corpora, so the fuzzers re-check them.

#include <catch2/catch.hpp>
#include <string_view>

#include "indexer/parser.h"
#include "storage/record.h"

using namespace sipdex;

TEST_CASE("ParseDiagnosticValue into a reused Diagnostic forgets the previous reason and source (fuzz_diagnostics)",
          "[reliability][fuzz][parser]") {
  Diagnostic d;
  REQUIRE(ParseDiagnosticValue("2157;reason=\"Source network is not set\";source=\"sip.contoso.com\"", &d));
  CHECK(d.reason == "Source network is not set");
  // A value without reason= or source= must not keep the first value's.
  REQUIRE(ParseDiagnosticValue("1005;", &d));
  CHECK(d.code == 1005);
  CHECK(d.subcode == -1);
  CHECK(d.reason.empty());
  CHECK(d.source.empty());
  CHECK_FALSE(ParseDiagnosticValue("reason=\"no code\"", &d));
  CHECK(d.code == -1);
  CHECK(d.reason.empty());
}
