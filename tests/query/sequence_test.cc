#include "query/sequence.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/query/fixture_records.h"

using namespace sipdex;
using namespace sipdex::query;

namespace {

// Bound step conditions, kept alive for the engine (which does not own them).
class Steps {
 public:
  const BoundQuery& Add(const std::string& text) {
    auto q = ParseAndBind(text, BindOptions{});
    INFO(text << ": " << (q.ok() ? std::string() : q.status().message()));
    REQUIRE(q.ok());
    queries_.push_back(std::make_unique<BoundQuery>(std::move(*q)));
    return *queries_.back();
  }
  SequenceStep Must(const std::string& text) {
    const BoundQuery& q = Add(text);
    SequenceStep s;
    s.expr = q.where.get();
    s.per_resource = q.per_resource;
    return s;
  }
  SequenceStep MustNot(const std::string& text) {
    SequenceStep s = Must(text);
    s.kind = SequenceStep::Kind::kMustNot;
    return s;
  }

 private:
  std::vector<std::unique_ptr<BoundQuery>> queries_;
};

// SIP messages built by hand: only the fields the steps read.
Record Msg(TimeMs t, std::string_view call_id, std::string_view method, int status = -1) {
  Record r;
  r.kind = RecordKind::kProtocol;
  r.type = status < 0 ? MessageType::kRequest : MessageType::kResponse;
  r.method = method;
  r.cseq_method = method;
  r.cseq = 1;
  r.status = status;
  r.call_id = call_id;
  r.time = t;
  r.has_time = true;
  return r;
}

std::vector<BoundField> ByCallId() { return {CatalogueField(FieldId::kCallId)}; }

// Pushes records in the given order (handle = index) and finishes.
std::vector<SequenceMatch> Run(SequenceSpec spec, const std::vector<Record>& records, SequenceStats* stats = nullptr) {
  auto engine = SequenceEngine::Create(std::move(spec));
  REQUIRE(engine.ok());
  for (std::size_t i = 0; i < records.size(); ++i) {
    REQUIRE((*engine)->Push(RowInput{&records[i], "f.log", "FE01"}, i).ok());
  }
  REQUIRE((*engine)->Finish().ok());
  std::vector<SequenceMatch> out;
  (*engine)->TakeMatches(&out);
  if (stats != nullptr) *stats = (*engine)->stats();
  return out;
}

// The handles of each match's events: {{0, 2}, {3, 4}}.
std::vector<std::vector<std::uint64_t>> Handles(const std::vector<SequenceMatch>& matches) {
  std::vector<std::vector<std::uint64_t>> out;
  for (const SequenceMatch& m : matches) {
    out.emplace_back();
    for (const SequenceEvent& e : m.events) out.back().push_back(e.handle);
  }
  return out;
}

using H = std::vector<std::vector<std::uint64_t>>;

}  // namespace

TEST_CASE("A two-step sequence matches events with equal keys in order", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 10000;
  spec.steps = {st.Must("method = REGISTER and status = 401"), st.Must("method = REGISTER and status = 200")};
  std::vector<Record> r = {
      Msg(1000, "a", "REGISTER", 200),  // a 200 before any 401: no sequence
      Msg(1001, "a", "REGISTER", 401),  // starts a
      Msg(1002, "b", "REGISTER", 401),  // starts b
      Msg(1003, "c", "REGISTER", 200),  // another key: ignored
      Msg(1050, "a", "REGISTER", 200),  // completes a
  };
  auto m = Run(std::move(spec), r);
  CHECK(Handles(m) == H{{1, 4}});
  REQUIRE(m.size() == 1);
  CHECK(m[0].key == "a");
  CHECK(m[0].events[0].step == 0);
  CHECK(m[0].events[1].step == 1);
  CHECK(m[0].events[1].time == 1050);
}

TEST_CASE("Every event of a sequence is at most the window after its first, inclusive", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 32000;
  spec.steps = {st.Must("method = INVITE and type = request"), st.Must("method = INVITE and status >= 200")};
  std::vector<Record> r = {
      Msg(0, "in", "INVITE"),       Msg(0, "out", "INVITE"),
      Msg(32000, "in", "INVITE", 200),  // exactly W later: inside
      Msg(32001, "out", "INVITE", 200),  // 1 ms too late
  };
  SequenceStats stats;
  CHECK(Handles(Run(std::move(spec), r, &stats)) == H{{0, 2}});
  CHECK(stats.expired == 1);
}

TEST_CASE("A trailing absence step matches when the window closes without the event", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 32000;
  spec.steps = {st.Must("method = INVITE and type = request"),
                st.MustNot("method = INVITE and type = response and status >= 200")};
  std::vector<Record> r = {
      Msg(0, "answered", "INVITE"),      Msg(10, "unanswered", "INVITE"),      Msg(20, "late", "INVITE"),
      Msg(30, "unanswered", "INVITE", 180),  // provisional: not a final answer
      Msg(5000, "answered", "INVITE", 200),   Msg(32021, "late", "INVITE", 200),  // after the window of "late"
      Msg(40000, "other", "OPTIONS"),  // time passes: the windows close before Finish
  };
  auto engine = SequenceEngine::Create(std::move(spec));
  REQUIRE(engine.ok());
  for (std::size_t i = 0; i < r.size(); ++i) REQUIRE((*engine)->Push(RowInput{&r[i], "", ""}, i).ok());
  std::vector<SequenceMatch> before_finish;
  (*engine)->TakeMatches(&before_finish);
  CHECK(Handles(before_finish) == H{{1}, {2}});
  CHECK(before_finish[0].key == "unanswered");
  REQUIRE((*engine)->Finish().ok());
  std::vector<SequenceMatch> after;
  (*engine)->TakeMatches(&after);
  CHECK(after.empty());
  CHECK((*engine)->state_bytes() == 0);
}

TEST_CASE("End of input closes the windows still waiting for an absence", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 32000;
  spec.steps = {st.Must("method = INVITE and type = request"), st.MustNot("type = response and status >= 200")};
  std::vector<Record> r = {Msg(100, "z", "INVITE"), Msg(50, "y", "INVITE"), Msg(200, "x", "INVITE"),
                           Msg(300, "x", "INVITE", 486)};
  // Emitted at Finish, in the time order of their first event.
  CHECK(Handles(Run(std::move(spec), r)) == H{{1}, {0}});
}

TEST_CASE("An absence step between two events kills the partial match", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 60000;
  spec.steps = {st.Must("method = REGISTER and status = 401"), st.MustNot("method = REGISTER and status = 403"),
                st.Must("method = REGISTER and status = 200")};
  std::vector<Record> r = {
      Msg(0, "a", "REGISTER", 401), Msg(1, "b", "REGISTER", 401), Msg(2, "a", "REGISTER", 403),
      Msg(3, "a", "REGISTER", 200),  // a was killed by the 403
      Msg(4, "b", "REGISTER", 200),
  };
  SequenceStats stats;
  CHECK(Handles(Run(std::move(spec), r, &stats)) == H{{1, 4}});
  CHECK(stats.cancelled == 1);
}

TEST_CASE("Until drops the open partial matches of its key", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.steps = {st.Must("method = INVITE and type = request"), st.Must("method = BYE and type = request")};
  spec.has_until = true;
  spec.until = st.Must("method = CANCEL");
  std::vector<Record> r = {
      Msg(0, "a", "INVITE"), Msg(1, "b", "INVITE"), Msg(2, "a", "CANCEL"),
      Msg(3, "a", "BYE"),  // a was cancelled
      Msg(4, "b", "BYE"),
  };
  CHECK(Handles(Run(std::move(spec), r)) == H{{1, 4}});
}

TEST_CASE("A repeated step matches every consecutive pair within the window", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 3600000;
  spec.steps = {st.Must("status = 403"), st.Must("status = 403")};
  std::vector<Record> r = {
      Msg(0, "k", "SUBSCRIBE", 403),       Msg(600000, "k", "SUBSCRIBE", 403),
      Msg(1200000, "k", "SUBSCRIBE", 403), Msg(1200000 + 3600001, "k", "SUBSCRIBE", 403),  // gap > 1 h
      Msg(1200000 + 3600001 + 3600000, "k", "SUBSCRIBE", 403),                              // gap = 1 h
  };
  CHECK(Handles(Run(std::move(spec), r)) == H{{0, 1}, {1, 2}, {3, 4}});
}

TEST_CASE("A newer first event replaces the open partial match of its key", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 10000;
  spec.steps = {st.Must("method = INVITE and type = request"), st.Must("method = INVITE and status = 200")};
  std::vector<Record> r = {Msg(0, "a", "INVITE"), Msg(5, "a", "INVITE"), Msg(9, "a", "INVITE", 200),
                           Msg(12, "a", "INVITE", 200)};
  CHECK(Handles(Run(std::move(spec), r)) == H{{1, 2}});
}

TEST_CASE("Records a few ms out of order give the same matches as sorted records", "[query][sequence]") {
  Steps st;
  auto make = [&] {
    SequenceSpec spec;
    spec.keys = ByCallId();
    spec.within = 100;
    spec.reorder_ms = 10;
    spec.steps = {st.Must("method = REGISTER and status = 401"), st.MustNot("method = REGISTER and status = 200")};
    return spec;
  };
  // Sorted: a gets its 200 97 ms after the 401 (inside the window), b none.
  std::vector<Record> sorted = {Msg(1000, "a", "REGISTER", 401), Msg(1003, "b", "REGISTER", 401),
                                Msg(1097, "a", "REGISTER", 200), Msg(1300, "c", "OPTIONS")};
  // Another thread's records logged up to 8 ms late (less than reorder_ms).
  std::vector<Record> shuffled = {Msg(1003, "b", "REGISTER", 401), Msg(1000, "a", "REGISTER", 401),
                                  Msg(1105, "x", "OPTIONS"), Msg(1097, "a", "REGISTER", 200),
                                  Msg(1300, "c", "OPTIONS")};
  // The 200 of a logged 203 ms late: past the tolerance, a's window was
  // already judged when it came, so a matches too (and the event is counted).
  std::vector<Record> too_late = {Msg(1003, "b", "REGISTER", 401), Msg(1000, "a", "REGISTER", 401),
                                  Msg(1300, "c", "OPTIONS"), Msg(1097, "a", "REGISTER", 200)};
  SequenceStats stats;
  CHECK(Handles(Run(make(), sorted)) == H{{1}});
  CHECK(Handles(Run(make(), shuffled, &stats)) == H{{0}});
  CHECK(stats.late_events == 0);
  auto late = Run(make(), too_late, &stats);
  REQUIRE(late.size() == 2);
  CHECK(late[0].key == "a");
  CHECK(late[1].key == "b");
  CHECK(stats.late_events == 1);
}

TEST_CASE("The state stops at the memory cap with a clear error", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 3600000;
  spec.max_state_bytes = 1u << 20;
  spec.steps = {st.Must("method = SUBSCRIBE and type = request"), st.Must("method = NOTIFY")};
  auto engine = SequenceEngine::Create(std::move(spec));
  REQUIRE(engine.ok());
  std::deque<std::string> ids;
  Status s = Status::Ok();
  int pushed = 0;
  for (; pushed < 100000 && s.ok(); ++pushed) {
    ids.push_back("call-" + std::to_string(pushed));
    Record r = Msg(pushed, ids.back(), "SUBSCRIBE");
    s = (*engine)->Push(RowInput{&r, "", ""}, static_cast<std::uint64_t>(pushed));
  }
  REQUIRE(s.code() == Status::Code::kResourceExhausted);
  CHECK(pushed < 100000);
  CHECK(s.message().rfind("sequence: open partial matches need more than 1 MiB (", 0) == 0);
  CHECK(s.message().find(" keys open); make the first step more selective or the window shorter") !=
        std::string::npos);
  Record again = Msg(pushed + 1, "x", "SUBSCRIBE");
  CHECK((*engine)->Push(RowInput{&again, "", ""}, 0).code() == Status::Code::kResourceExhausted);
  CHECK((*engine)->stats().peak_state_bytes > (1u << 20));
}

TEST_CASE("Expired windows release their state as records go by", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 1000;
  spec.max_state_bytes = 1u << 20;  // far less than 100 000 open partial matches would need
  spec.steps = {st.Must("method = SUBSCRIBE and type = request"), st.Must("method = NOTIFY")};
  auto engine = SequenceEngine::Create(std::move(spec));
  REQUIRE(engine.ok());
  std::deque<std::string> ids;
  for (int i = 0; i < 100000; ++i) {
    ids.push_back("call-" + std::to_string(i));
    Record r = Msg(static_cast<TimeMs>(i) * 100, ids.back(), "SUBSCRIBE");
    REQUIRE((*engine)->Push(RowInput{&r, "", ""}, static_cast<std::uint64_t>(i)).ok());
    if (ids.size() > 100) ids.pop_front();  // the engine keeps no view into the records
  }
  CHECK((*engine)->stats().expired > 99000);
  CHECK((*engine)->state_bytes() < 16384);
  REQUIRE((*engine)->Finish().ok());
}

TEST_CASE("Create rejects sequences that cannot be evaluated", "[query][sequence]") {
  Steps st;
  auto error = [](SequenceSpec spec) {
    auto e = SequenceEngine::Create(std::move(spec));
    REQUIRE_FALSE(e.ok());
    CHECK(e.status().code() == Status::Code::kInvalidArgument);
    return e.status().message();
  };
  SequenceSpec empty;
  empty.keys = ByCallId();
  CHECK(error(empty) == "sequence: a sequence needs at least one step");

  SequenceSpec leading;
  leading.keys = ByCallId();
  leading.within = 1000;
  leading.steps = {st.MustNot("status = 200"), st.Must("status = 401")};
  CHECK(error(std::move(leading)) == "sequence: the first step must be an event that occurs, not ![...]");

  SequenceSpec no_window;
  no_window.keys = ByCallId();
  no_window.steps = {st.Must("status = 401"), st.MustNot("status = 200")};
  CHECK(error(std::move(no_window)) == "sequence: an absence step ![...] at the end needs 'within'");

  SequenceSpec no_key;
  no_key.steps = {st.Must("status = 401")};
  CHECK(error(std::move(no_key)) == "sequence: every step needs a key ('by' fields)");
}

TEST_CASE("Per-resource steps make one event per rlmi instance with its own key", "[query][sequence]") {
  Steps st;
  SequenceSpec spec;
  spec.within = 3600000;
  // Key: the refused user (resource uri) or the To of a single SUBSCRIBE.
  KeyFunction user = [](const RowInput& row, int resource, std::string* key) {
    const Record& r = *row.record;
    *key = NormalizeUri(resource >= 0 ? r.resources[static_cast<std::size_t>(resource)].uri : r.to.uri);
    return !key->empty();
  };
  spec.steps = {st.Must("resource.diag = 2157 or diag = 2157"), st.Must("resource.diag = 2157 or diag = 2157")};
  spec.steps[0].key = user;
  spec.steps[1].key = user;
  REQUIRE(spec.steps[0].per_resource);
  Record batch = Msg(0, "b1", "SUBSCRIBE", 200);
  batch.resources = {{"sip:a@contoso.com", "terminated", "forbidden", 403, 2157},
                     {"sip:b@contoso.com", "active", "", -1, -1},
                     {"sip:c@CONTOSO.com", "terminated", "forbidden", 403, 2157}};
  Record single = Msg(5000, "s1", "SUBSCRIBE", 403);
  single.to.uri = "sip:c@contoso.com";
  single.diagnostics = {{DiagVariant::kMsDiagnostics, 2157, -1, "", ""}};
  auto m = Run(std::move(spec), {batch, single});
  REQUIRE(m.size() == 1);
  CHECK(m[0].key == "sip:c@contoso.com");
  CHECK(m[0].events[0].resource == 2);
  CHECK(m[0].events[1].resource == -1);
  CHECK(m[0].events[1].handle == 1);
}

TEST_CASE("Keys from fields read header values and normalise URIs", "[query][sequence]") {
  Record r = Msg(0, "K1", "SUBSCRIBE");
  r.from.uri = "sip:App@Contoso.COM";
  r.from.present = true;
  std::string key;
  RowInput row{&r, "", ""};
  REQUIRE(SequenceKeyFromFields({CatalogueField(FieldId::kFromUri), CatalogueField(FieldId::kMethod)}, row, -1, &key));
  CHECK(key == "sip:App@contoso.com\x1fsubscribe");
  CHECK_FALSE(SequenceKeyFromFields({CatalogueField(FieldId::kEvent)}, row, -1, &key));
}

TEST_CASE("A sequence over the seed's fixture records pairs the batch SUBSCRIBE with its answer",
          "[query][sequence][fixture]") {
  testing::FixtureRecords fx;
  testing::LoadFixture("seed_records.log", &fx);
  REQUIRE(fx.records.size() >= 2);
  Steps st;
  SequenceSpec spec;
  spec.keys = ByCallId();
  spec.within = 32000;
  spec.steps = {st.Must("method = SUBSCRIBE and type = request"), st.Must("method = SUBSCRIBE and type = response")};
  auto engine = SequenceEngine::Create(std::move(spec));
  REQUIRE(engine.ok());
  std::uint64_t i = 0;
  for (const Record& r : fx.records) REQUIRE((*engine)->Push(RowInput{&r, "seed_records.log", ""}, i++).ok());
  REQUIRE((*engine)->Finish().ok());
  std::vector<SequenceMatch> m;
  (*engine)->TakeMatches(&m);
  REQUIRE(m.size() == 1);
  const Record& req = fx.records[m[0].events[0].handle];
  const Record& resp = fx.records[m[0].events[1].handle];
  CHECK(req.type == MessageType::kRequest);
  CHECK(resp.type == MessageType::kResponse);
  CHECK(req.call_id == resp.call_id);
  CHECK(resp.time >= req.time);
}
