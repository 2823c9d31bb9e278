#include "query/sequence.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "corpus/generator.h"
#include "indexer/reader.h"
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

// ---------------------------------------------------------------------------
// The worked examples of issue 6 against the generator's ground truth: small
// generated corpora (three seeds, with the injected sequence patterns), parsed
// by the indexer and fed to the engine in time order, and again with records
// shuffled a few ms out of order.

namespace {

struct Corpus {
  corpus::GenResult gen;
  std::deque<RecordBatch> batches;  // own the bytes the records point into
  std::deque<Record> records;
  std::deque<std::string> files;
  std::vector<std::size_t> file_of;  // record -> index into files
};

// Generates the corpus of `seed` into a folder named by `test` too: ctest runs
// test cases as parallel processes, which must not share a folder.
void LoadCorpus(const std::string& test, std::uint64_t seed, Corpus* c) {
  std::string dir = std::string(SIPDEX_BINARY_DIR) + "/test-tmp/sequence-" + test + "-seed" + std::to_string(seed);
  std::filesystem::remove_all(dir);
  corpus::GenOptions o;
  o.size_bytes = 8u << 20;
  o.days = 3;
  o.seed = seed;
  o.sequence_rate = 1.0;
  o.threads = 2;
  o.start = *ParseIsoTime("2014-07-14T00:00:00Z");
  o.out_dir = dir;
  auto gen = corpus::GenerateCorpus(o);
  REQUIRE(gen.ok());
  c->gen = std::move(*gen);
  std::vector<std::string> paths;
  for (const corpus::FileTruth& f : c->gen.truth.files) paths.push_back(dir + "/" + f.name);
  auto files = ExpandInputs(paths);
  REQUIRE(files.ok());
  for (const LogicalFile& file : *files) {
    auto reader = OpenLogicalFile(file);
    REQUIRE(reader.ok());
    std::string data;
    REQUIRE(ReadAll(reader->get(), &data).ok());
    c->files.push_back(file.name);
    RecordFramer framer;
    framer.Feed(data);
    framer.Finish();
    RecordBatch batch;
    TimeMs carry = 0;
    while (framer.NextBatch(&batch)) {
      c->batches.push_back(std::move(batch));
      batch = RecordBatch();
      const RecordBatch& b = c->batches.back();
      for (std::size_t i = 0; i < b.spans.size(); ++i) {
        c->records.emplace_back();
        Record& r = c->records.back();
        ParseRecord(b.Text(i), b.spans[i], &r);
        if (!r.has_time) r.time = carry;
        carry = r.time;
        c->file_of.push_back(c->files.size() - 1);
      }
    }
  }
  std::filesystem::remove_all(dir);
}

std::string AppList(const corpus::Deployment& d) {
  std::string s = "(";
  for (std::size_t i = 0; i < d.apps.size(); ++i) s += (i ? ", \"" : "\"") + d.apps[i].uri + "\"";
  return s + ")";
}

// Runs `spec` over the corpus in time order (stable), or with every record's
// position jittered by up to 8 ms (as threads and servers interleave).
std::vector<SequenceMatch> RunCorpus(SequenceSpec spec, const Corpus& c, bool shuffle, SequenceStats* stats) {
  std::vector<std::pair<TimeMs, std::size_t>> order;
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < c.records.size(); ++i) {
    TimeMs at = c.records[i].time;
    if (shuffle) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      at += static_cast<TimeMs>(x % 9);
    }
    order.emplace_back(at, i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  spec.reorder_ms = 50;
  auto engine = SequenceEngine::Create(std::move(spec));
  REQUIRE(engine.ok());
  for (const auto& [at, i] : order) {
    const Record& r = c.records[i];
    std::string_view file = c.files[c.file_of[i]];
    REQUIRE((*engine)->Push(RowInput{&r, file, ServerName(file, r)}, i).ok());
  }
  REQUIRE((*engine)->Finish().ok());
  std::vector<SequenceMatch> out;
  (*engine)->TakeMatches(&out);
  *stats = (*engine)->stats();
  return out;
}

std::set<std::string> Keys(const std::vector<SequenceMatch>& m) {
  std::set<std::string> out;
  for (const SequenceMatch& s : m) out.insert(s.key);
  return out;
}

// (application, user) of a refusal row: a response's From or a NOTIFY's To;
// the rlmi resource or the To of a single SUBSCRIBE.
bool AppUserKey(const RowInput& row, int resource, std::string* key) {
  const Record& r = *row.record;
  std::string_view app = r.type == MessageType::kResponse ? r.from.uri : r.to.uri;
  std::string_view user = resource >= 0 ? r.resources[static_cast<std::size_t>(resource)].uri : r.to.uri;
  if (app.empty() || user.empty()) return false;
  *key = NormalizeUri(app) + '\x1f' + NormalizeUri(user);
  return true;
}

bool UserKey(const RowInput& row, int resource, std::string* key) {
  const Record& r = *row.record;
  std::string_view user = resource >= 0 ? r.resources[static_cast<std::size_t>(resource)].uri : r.to.uri;
  if (user.empty()) return false;
  *key = NormalizeUri(user);
  return true;
}

const char* kRefusal =
    "(method = SUBSCRIBE and type = response and diag = 2157) or (resource.diag = 2157 and "
    "((method = SUBSCRIBE and type = response) or (method = NOTIFY and type = request)))";

}  // namespace

TEST_CASE("Issue 6: the worked sequences return exactly the generator's ground truth for three seeds",
          "[query][sequence][ground-truth]") {
  for (std::uint64_t seed : {11u, 12u, 13u}) {
    Corpus c;
    LoadCorpus("worked", seed, &c);
    const corpus::GroundTruth& gt = c.gen.truth;
    const corpus::Deployment& d = c.gen.deployment;
    for (bool shuffle : {false, true}) {
      INFO("seed " << seed << (shuffle ? ", shuffled" : ", in time order"));
      Steps st;
      SequenceStats stats;

      // Stuck subscriptions: a trusted application's SUBSCRIBE with no response.
      {
        SequenceSpec spec;
        spec.keys = ByCallId();
        spec.within = 32000;
        spec.steps = {st.Must("method = SUBSCRIBE and type = request and from.uri in " + AppList(d)),
                      st.MustNot("type = response")};
        auto m = RunCorpus(std::move(spec), c, shuffle, &stats);
        std::set<std::string> want(gt.stuck_call_ids.begin(), gt.stuck_call_ids.end());
        CHECK(!want.empty());
        CHECK(Keys(m) == want);
        CHECK(m.size() == want.size());
      }
      // An INVITE with no final response within 32 s.
      {
        SequenceSpec spec;
        spec.keys = ByCallId();
        spec.within = 32000;
        spec.steps = {st.Must("method = INVITE and type = request and malformed = false"),
                      // Legacy-shape responses have no status line: any of them may be the final one.
                      st.MustNot("method = INVITE and type = response and (status >= 200 or not status exists)")};
        auto m = RunCorpus(std::move(spec), c, shuffle, &stats);
        std::set<std::string> want(gt.invite_unanswered_call_ids.begin(), gt.invite_unanswered_call_ids.end());
        CHECK(!want.empty());
        CHECK(Keys(m) == want);
      }
      // A REGISTER 401 never followed by a 200.
      {
        SequenceSpec spec;
        spec.keys = ByCallId();
        spec.within = 5 * kMsPerMinute;
        spec.steps = {st.Must("method = REGISTER and status = 401"), st.MustNot("method = REGISTER and status = 200")};
        auto m = RunCorpus(std::move(spec), c, shuffle, &stats);
        std::set<std::string> want(gt.register_401_only_call_ids.begin(), gt.register_401_only_call_ids.end());
        CHECK(!want.empty());
        CHECK(Keys(m) == want);
      }
      // The same application refused for the same user again within 1 hour.
      {
        SequenceSpec spec;
        spec.within = kMsPerHour;
        spec.steps = {st.Must(kRefusal), st.Must(kRefusal)};
        spec.steps[0].key = AppUserKey;
        spec.steps[1].key = AppUserKey;
        auto m = RunCorpus(std::move(spec), c, shuffle, &stats);
        std::multiset<std::tuple<std::string, TimeMs, TimeMs>> got, want;
        for (const SequenceMatch& s : m) got.emplace(s.key, s.events[0].time, s.events[1].time);
        for (const corpus::RefusalRepeat& r : gt.RefusedAgainWithin(kMsPerHour)) {
          want.emplace(NormalizeUri(d.apps[r.app].uri) + '\x1f' + NormalizeUri(d.users[r.user].uri), r.first,
                       r.second);
        }
        CHECK(want.size() > 10);
        CHECK(got == want);
      }
      // A user refused to an application but subscribed by a user endpoint within a day.
      {
        SequenceSpec spec;
        spec.within = kMsPerDay;
        spec.steps = {st.Must(kRefusal),
                      st.Must("method = SUBSCRIBE and type = response and not diag exists and not from.uri in " +
                              AppList(d) + " and (resource.state = active or not resource.uri exists)")};
        spec.steps[0].key = UserKey;
        spec.steps[1].key = UserKey;
        auto m = RunCorpus(std::move(spec), c, shuffle, &stats);
        std::map<std::string, std::pair<TimeMs, TimeMs>> got, want;
        for (const SequenceMatch& s : m) got.emplace(s.key, std::make_pair(s.events[0].time, s.events[1].time));
        for (const corpus::WorkaroundUser& w : gt.WorkaroundUsers(kMsPerDay)) {
          want.emplace(NormalizeUri(d.users[w.user].uri), std::make_pair(w.refusal, w.success));
        }
        CHECK(want.size() > 5);
        CHECK(got == want);
      }
    }
  }
}

TEST_CASE("Rows step-matched on another thread and pushed with PushMatched give the matches of Push",
          "[query][sequence]") {
  Corpus c;
  LoadCorpus("threads", 12, &c);
  Steps st;
  auto make = [&] {
    SequenceSpec spec;
    spec.within = kMsPerHour;
    spec.steps = {st.Must(kRefusal), st.Must(kRefusal), st.MustNot("method = SUBSCRIBE and status = 200")};
    spec.steps[0].key = AppUserKey;
    spec.steps[1].key = AppUserKey;
    spec.steps[2].key = AppUserKey;
    spec.has_until = true;
    spec.until = st.Must("method = NOTIFY and header.Subscription-State ~ \"terminated*\"");
    spec.until.key = AppUserKey;
    return spec;
  };
  SequenceStats push_stats;
  std::vector<SequenceMatch> want = RunCorpus(make(), c, /*shuffle=*/true, &push_stats);
  REQUIRE(want.size() > 10);

  // The same order as RunCorpus; the matcher runs on its own thread.
  std::vector<std::pair<TimeMs, std::size_t>> order;
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < c.records.size(); ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    order.emplace_back(c.records[i].time + static_cast<TimeMs>(x % 9), i);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  SequenceSpec spec = make();
  spec.reorder_ms = 50;
  auto engine = SequenceEngine::Create(std::move(spec));
  REQUIRE(engine.ok());
  std::vector<SequenceRowMatch> rows(order.size());
  std::thread matcher_thread([&] {
    SequenceStepMatcher matcher((*engine)->spec(), nullptr);
    for (std::size_t k = 0; k < order.size(); ++k) {
      std::size_t i = order[k].second;
      std::string_view file = c.files[c.file_of[i]];
      matcher.Match(RowInput{&c.records[i], file, ServerName(file, c.records[i])}, &rows[k]);
    }
  });
  matcher_thread.join();
  std::size_t with_entries = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    with_entries += rows[k].entries.empty() ? 0 : 1;
    REQUIRE((*engine)->PushMatched(rows[k], order[k].second).ok());
  }
  REQUIRE((*engine)->Finish().ok());
  std::vector<SequenceMatch> got;
  (*engine)->TakeMatches(&got);
  CHECK(with_entries > 0);
  CHECK(with_entries < order.size());
  CHECK((*engine)->stats().rows == push_stats.rows);
  CHECK((*engine)->stats().events == push_stats.events);
  CHECK((*engine)->stats().cancelled == push_stats.cancelled);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].key == want[i].key);
    CHECK(Handles({got[i]}) == Handles({want[i]}));
  }
}
