#include "query/binder.h"

#include <catch2/catch.hpp>

using namespace sipdex;
using namespace sipdex::query;

namespace {

// The canonical bound text, or "ERROR: <message>@<offset>".
std::string BindText(std::string_view text, const BindOptions& options = BindOptions()) {
  QueryError error;
  Result<BoundQuery> q = ParseAndBind(text, options, &error);
  if (!q.ok()) return "ERROR: " + error.message + "@" + std::to_string(error.offset);
  return q->ToString();
}

}  // namespace

TEST_CASE("Bind suggests the nearest field for an unknown one", "[query][binder]") {
  CHECK(BindText("dig = 2157") == "ERROR: unknown field 'dig', did you mean 'diag'?@0");
  CHECK(BindText("status = 403 and stauts = 1") == "ERROR: unknown field 'stauts', did you mean 'status'?@17");
  CHECK(BindText("from.urі = x").starts_with("ERROR: "));
  CHECK(BindText("respons.status = 403") == "ERROR: unknown field 'respons.status', did you mean 'response.status'?@0");
  CHECK(BindText("zzzzzz = 1") == "ERROR: unknown field 'zzzzzz'@0");
  CHECK(NearestFieldName("calid") == "call_id");
}

TEST_CASE("Bind reports type errors naming what the field takes", "[query][binder]") {
  CHECK(BindText("status = forbidden") == "ERROR: status takes a number, got \"forbidden\"@9");
  CHECK(BindText("diag in (2157, x)") == "ERROR: diag takes a number, got \"x\"@15");
  CHECK(BindText("time >= yesterday") == "ERROR: time takes a time, got \"yesterday\"@8");
  CHECK(BindText("malformed = maybe") == "ERROR: malformed takes true or false, got \"maybe\"@12");
  CHECK(BindText("method < INVITE") == "ERROR: '<' compares numbers and times; method takes text@9");
  CHECK(BindText("response = 1") ==
        "ERROR: response needs a field (response.status, response.diag, ...) or 'exists'@0");
  CHECK(BindText("body =~ \"(\"") == "ERROR: invalid regular expression: missing ): (@8");
}

TEST_CASE("Bind checks time scopes", "[query][binder]") {
  CHECK(BindText("since yesterday") ==
        "ERROR: expected a time (2014-07-16 or 2014-07-16T10:17:57), got \"yesterday\"@6");
  CHECK(BindText("last 7") == "ERROR: expected a duration (250ms, 32s, 5m, 2h, 7d), got \"7\"@5");
  CHECK(BindText("on 2014-07-16T10:00") == "ERROR: expected a date (2014-07-16), got \"2014-07-16T10:00\"@3");
  CHECK(BindText("week 2014-W60") == "ERROR: expected an ISO week (2014-W29), got \"2014-W60\"@5");
  CHECK(BindText("between 2014-07-21 and 2014-07-14") == "ERROR: the second time of 'between' is before the first@23");
  CHECK(BindText("on 2014-07-16") == "time in [2014-07-16T00:00:00.000Z, 2014-07-17T00:00:00.000Z)");
  CHECK(BindText("week 2014-W29") == "time in [2014-07-14T00:00:00.000Z, 2014-07-21T00:00:00.000Z)");
  CHECK(BindText("since 2014-07-16T10:17:57.003Z") == "time in [2014-07-16T10:17:57.003Z, +inf)");
  CHECK(BindText("until 2014-07-16") == "time in [-inf, 2014-07-16T00:00:00.000Z)");
  BindOptions opts;
  opts.newest_time = *ParseIsoTime("2014-07-20T12:00:00Z");
  CHECK(BindText("last 1d", opts) == "time in [2014-07-19T12:00:00.001Z, 2014-07-20T12:00:00.001Z)");
}

TEST_CASE("Bind reads times in the --tz zone unless they say Z", "[query][binder]") {
  BindOptions opts;
  opts.tz_offset_ms = *ParseTimeZone("+02:00");
  REQUIRE(opts.tz_offset_ms == 2 * kMsPerHour);
  CHECK(BindText("on 2014-07-16", opts) == "time in [2014-07-15T22:00:00.000Z, 2014-07-16T22:00:00.000Z)");
  CHECK(BindText("since 2014-07-16T10:00:00Z", opts) == "time in [2014-07-16T10:00:00.000Z, +inf)");
  CHECK(*ParseTimeZone("UTC") == 0);
  CHECK(*ParseTimeZone("-0500") == -5 * kMsPerHour);
  CHECK_FALSE(ParseTimeZone("Mars/Olympus").ok());
}
