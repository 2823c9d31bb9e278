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

TEST_CASE("Bind resolves a sequence's keys, window and steps", "[query][binder][sequence]") {
  CHECK(BindText("sequence by call_id within 32s [method = SUBSCRIBE and type = request] ![type = response]") ==
        "sequence by call_id within 32000ms [(method = \"subscribe\" and type = \"request\")] ![type = \"response\"]");
  // A step reading resource.* is evaluated per rlmi instance, and so is every
  // step when a key (sub.target, resource.uri) is per instance.
  CHECK(BindText("sequence by call_id within 1h [resource.diag = 2157] [status = 200]") ==
        "sequence by call_id within 3600000ms [resource.diag = 2157]/resource [status = 200]");
  CHECK(
      BindText("sequence by sub.subscriber, sub.target within 1h [diag = 2157] [status = 200] until [status = 403]") ==
      "sequence by sub.subscriber, sub.target within 3600000ms [diag = 2157]/resource [status = 200]/resource until "
      "[status = 403]/resource");
  CHECK(BindText("sequence by call_id [status = 401] [status = 200] | count by 1.server, day | sort count desc") ==
        "sequence by call_id [status = 401] [status = 200] | count by 1.server, day | sort count desc");
  Result<BoundQuery> q = ParseAndBind(
      "sequence by call_id, header.X-Y within 2m [status = 401] ![status = 200] | "
      "fields call_id, 1.time, 1.sub.target",
      BindOptions{});
  REQUIRE(q.ok());
  REQUIRE(q->sequence);
  CHECK(q->where == nullptr);
  CHECK(q->sequence->within == 2 * kMsPerMinute);
  REQUIRE(q->sequence->keys.size() == 2);
  CHECK(q->sequence->keys[1].source == FieldSource::kHeader);
  REQUIRE(q->stages.size() == 1);
  const auto& f = q->stages[0].fields;
  REQUIRE(f.size() == 3);
  CHECK(f[0].key == 0);
  CHECK(f[1].step == 0);
  CHECK(f[1].name == "1.time");
  CHECK(f[2].role == BoundField::Role::kTarget);
  CHECK(q->stages[0].columns == std::vector<std::string>{"call_id", "1.time", "1.sub.target"});
}

namespace {

struct Meaningless {
  const char* query;
  const char* message;
  std::size_t column;
};

// clang-format off
const Meaningless kMeaningless[] = {
  {"sequence by call_id ![status = 1] [status = 2]",
   "the first step must be an event that occurs: [condition], not ![condition]", 20},
  {"sequence by call_id within 1h ![status = 1]",
   "the first step must be an event that occurs: [condition], not ![condition]", 30},
  {"sequence by call_id [status = 1] ![status = 2]",
   "an absence step ![...] needs 'within': the window in which its event must not occur", 33},
  {"sequence by call_id [status = 1] ![status = 2] [status = 3]",
   "an absence step ![...] needs 'within': the window in which its event must not occur", 33},
  {"sequence by calid within 1h [status = 1]", "unknown field 'calid', did you mean 'call_id'?", 12},
  {"sequence by call_id, sub.targt within 1h [status = 1]", "unknown field 'sub.targt', did you mean 'sub.target'?", 21},
  {"sequence by zzzzzz [status = 1]", "unknown field 'zzzzzz'", 12},
  {"sequence by response.status [status = 1]",
   "response fields are not available in a sequence; add a step for the response", 12},
  {"sequence by call_id within soon [status = 1]", "expected a duration (250ms, 32s, 5m, 2h, 7d), got \"soon\"", 27},
  {"sequence by call_id within 0s [status = 1]", "expected a duration (250ms, 32s, 5m, 2h, 7d), got \"0s\"", 27},
  {"sequence by call_id within 1h [stauts = 1]", "unknown field 'stauts', did you mean 'status'?", 31},
  {"sequence by call_id within 1h [status = forbidden]", "status takes a number, got \"forbidden\"", 40},
  {"sequence by call_id within 1h [status = 1] until [response exists]",
   "response fields are not available in a sequence; add a step for the response", 50},
  {"sequence by call_id within 1h [status = 1] [status = 2] | fields 3.time", "'3.time': the sequence has 2 steps", 65},
  {"sequence by call_id within 1h [status = 1] ![status = 2] | fields 2.time",
   "'2.time': step 2 is an absence step ![...] and has no event", 66},
  {"sequence by call_id within 1h [status = 1] | fields time",
   "'time' is not a column of a sequence's matches; name a step's field as N.field (1.time) or a key (call_id)", 52},
  {"sequence by call_id within 1h [status = 1] | count by 1.stauts", "unknown field 'stauts', did you mean 'status'?", 54},
  {"sequence by call_id within 1h [status = 1] | count | fields 1.time",
   "'1.time' is not a column here; the previous stage gives: count", 60},
  {"1.time = 3", "'1.time' names a field of a sequence step; only the stages after a sequence can read it", 0},
  {"status = 1 | fields 2.status", "'2.status' names a field of a sequence step; only the stages after a sequence can read it", 20},
  {"sub.target = x", "unknown field 'sub.target'", 0},
};
// clang-format on

}  // namespace

TEST_CASE("Bind reports the message and column of each meaningless sequence", "[query][binder][sequence]") {
  for (const Meaningless& m : kMeaningless) {
    INFO("query: " << m.query);
    QueryError error;
    Result<BoundQuery> q = ParseAndBind(m.query, BindOptions{}, &error);
    REQUIRE_FALSE(q.ok());
    CHECK(error.message == m.message);
    CHECK(error.offset == m.column);
    CHECK(q.status().message() == error.Format(m.query));
  }
}
