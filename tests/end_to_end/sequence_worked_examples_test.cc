// End to end: the worked `sequence` examples of query/README.md (issue 6) on
// generated corpora (three seeds, with the injected sequence patterns of
// --sequence-rate 1) -> Ingest -> sipdex query, whose answers must equal the
// generator's ground truth (`sequences` in ground-truth.json). Each corpus is
// ingested twice: as generated, and with its records shuffled a few ms out of
// order inside every file (as threads and servers interleave in real logs).
// The test only reads the queries' CSV output.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "indexer/framer.h"
#include "indexer/ingest.h"
#include "indexer/parser.h"
#include "query/binder.h"
#include "query/executor.h"
#include "storage/index.h"
#include "tests/end_to_end/ingest_test_util.h"

using namespace sipdex;
using namespace sipdex::testing;

namespace {

using Rows = std::vector<std::vector<std::string>>;

Status RunText(const storage::IndexSnapshot& snap, const std::string& q, query::OutputFormat format, std::string* out,
               std::size_t memory_limit = 64u << 20, int threads = 2) {
  query::QueryOptions options;
  options.format = format;
  options.memory_limit = memory_limit;
  options.threads = threads;
  std::ostringstream os;
  Status s = query::RunQuery(snap, q, options, &os, nullptr);
  *out = os.str();
  return s;
}

// Runs a query; returns its CSV rows without the header line.
Rows Query(const storage::IndexSnapshot& snap, const std::string& q) {
  std::string text;
  Status s = RunText(snap, q, query::OutputFormat::kCsv, &text);
  INFO(q << "\n" << s.message());
  REQUIRE(s.ok());
  Rows rows;
  std::istringstream in(text);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls(line);
    while (std::getline(ls, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

std::set<std::string> FirstColumn(const Rows& rows) {
  std::set<std::string> out;
  for (const auto& r : rows) out.insert(r.at(0));
  return out;
}

std::set<std::string> JsonSet(const nlohmann::json& list) {
  std::set<std::string> out;
  for (const auto& v : list) out.insert(v.get<std::string>());
  return out;
}

// Writes the log files of `from` into `to` (decompressed), each with its
// records shuffled: a record is swapped with the one before it, half the
// time, when both carry times at most 8 ms apart.
void ShuffleCorpus(const std::string& from, const std::string& to) {
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::directory_iterator(from)) {
    if (e.path().filename() != "ground-truth.json") paths.push_back(e.path().string());
  }
  auto files = ExpandInputs(paths);
  REQUIRE(files.ok());
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  std::size_t swapped = 0;
  for (const LogicalFile& f : *files) {
    std::string data = Content(f);
    RecordFramer framer;
    framer.Feed(data);
    framer.Finish();
    std::vector<std::string> texts;
    std::vector<std::optional<TimeMs>> times;
    RecordBatch batch;
    while (framer.NextBatch(&batch)) {
      for (std::size_t i = 0; i < batch.spans.size(); ++i) {
        Record r;
        ParseRecord(batch.Text(i), batch.spans[i], &r);
        texts.emplace_back(batch.Text(i));
        times.push_back(r.has_time && r.kind != RecordKind::kJunk ? std::optional<TimeMs>(r.time) : std::nullopt);
      }
    }
    for (std::size_t i = 2; i < texts.size(); ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      if ((x & 1) == 0 || !times[i] || !times[i - 1] || *times[i] - *times[i - 1] > 8) continue;
      std::swap(texts[i], texts[i - 1]);
      std::swap(times[i], times[i - 1]);
      ++swapped;
      ++i;  // never move one record twice
    }
    std::string name = std::filesystem::path(f.name).filename().string();
    if (name.ends_with(".gz")) name.resize(name.size() - 3);
    std::ofstream out(to + "/" + name, std::ios::binary);
    for (const std::string& t : texts) out << t;
    REQUIRE(out.good());
  }
  CHECK(swapped > 100);
}

// A refusal of a trusted application's subscription with 2157: a single
// SUBSCRIBE's 403, a batched one's rlmi instance in the 200 or in a NOTIFY.
const std::string kRefusal =
    "(method = SUBSCRIBE and type = response and diag = 2157) or (resource.diag = 2157 and "
    "(method = SUBSCRIBE and type = response or method = NOTIFY and type = request))";

void CheckWorkedExamples(const storage::IndexSnapshot& snap, const nlohmann::json& truth) {
  const nlohmann::json& seqs = truth["sequences"];
  std::string apps;
  for (const auto& a : truth["deployment"]["trusted_applications"]) {
    apps += (apps.empty() ? "" : ", ") + a["uri"].get<std::string>();
  }

  // 1. Subscriptions stuck in Subscribing: a trusted application's SUBSCRIBE
  //    without any response within 32 s (SIP Timer F).
  Rows stuck = Query(snap, "sequence by call_id within 32s [method = SUBSCRIBE and type = request and from.uri in (" +
                               apps + ")] ![method = SUBSCRIBE and type = response] | fields call_id");
  std::set<std::string> want_stuck = JsonSet(seqs["stuck_subscriptions"]["call_ids"]);
  CHECK(!want_stuck.empty());
  CHECK(FirstColumn(stuck) == want_stuck);
  CHECK(stuck.size() == want_stuck.size());

  // 2. The same application refused for the same user again within 1 hour.
  Rows again = Query(snap, "sequence by sub.subscriber, sub.target within 1h [" + kRefusal + "] [" + kRefusal +
                               "] | fields sub.subscriber, sub.target, 1.time, 2.time");
  std::multiset<std::tuple<std::string, std::string, std::string, std::string>> got_again, want_again;
  for (const auto& r : again) got_again.emplace(r.at(0), r.at(1), r.at(2), r.at(3));
  for (const auto& p : seqs["refused_again_within_1h"]["pairs"]) {
    want_again.emplace(query::NormalizeUri(p["application"].get<std::string>()),
                       query::NormalizeUri(p["user"].get<std::string>()), p["first"].get<std::string>(),
                       p["second"].get<std::string>());
  }
  CHECK(!want_again.empty());
  CHECK(got_again == want_again);

  // 3. A user refused to an application, then subscribed successfully by a
  //    user endpoint within a day (the documented workaround): the first such
  //    match of each user.
  Rows work =
      Query(snap, "sequence by sub.target within 1d [" + kRefusal +
                      "] [method = SUBSCRIBE and type = response and not diag exists and not from.uri in (" + apps +
                      ") and (resource.state = active or not resource exists)] | fields sub.target, "
                      "1.time, 2.time");
  std::map<std::string, std::pair<std::string, std::string>> got_work, want_work;
  for (const auto& r : work) got_work.emplace(r.at(0), std::make_pair(r.at(1), r.at(2)));
  for (const auto& u : seqs["workaround_within_1d"]["users"]) {
    want_work.emplace(query::NormalizeUri(u["user"].get<std::string>()),
                      std::make_pair(u["refusal"].get<std::string>(), u["success"].get<std::string>()));
  }
  CHECK(!want_work.empty());
  CHECK(got_work == want_work);

  // 4. An INVITE with no final response within 32 s (SIP Timer B). Legacy
  //    responses have no status line: any of them may be the final one.
  Rows invites = Query(snap,
                       "sequence by call_id within 32s [method = INVITE and type = request and malformed = false] "
                       "![method = INVITE and type = response and (status >= 200 or not status exists)] | distinct "
                       "call_id");
  std::set<std::string> want_invites = JsonSet(seqs["invite_no_final_within_32s"]["call_ids"]);
  CHECK(!want_invites.empty());
  CHECK(FirstColumn(invites) == want_invites);

  // 5. A REGISTER challenged with 401 and never followed by a 200.
  Rows registers = Query(snap,
                         "sequence by call_id within 5m [method = REGISTER and status = 401] ![method = REGISTER and "
                         "status = 200] | distinct call_id");
  std::set<std::string> want_registers = JsonSet(seqs["register_401_without_200"]["call_ids"]);
  CHECK(!want_registers.empty());
  CHECK(FirstColumn(registers) == want_registers);
}

std::string Generate(int seed) {
  std::string dir = TestDir("sequence-gen-" + std::to_string(seed));
  std::string cmd = std::string(SIPDEX_BINARY_DIR) + "/corpus/sipdex-gen -q --size 6MB --seed " + std::to_string(seed) +
                    " --days 3 --roll-size 2MB --sequence-rate 1 --out " + dir;
  REQUIRE(std::system(cmd.c_str()) == 0);
  return dir;
}

}  // namespace

TEST_CASE("Issue 6: the worked sequences of the README give the ground truth for three seeds, in order and shuffled",
          "[end_to_end][sequence]") {
  for (int seed : {21, 22, 23}) {
    std::string gen = Generate(seed);
    nlohmann::json truth = GroundTruth(gen);
    {
      INFO("seed " << seed << ", as generated");
      IngestedCorpus c = IngestCorpus(gen, TestDir("sequence-idx-" + std::to_string(seed)));
      CheckWorkedExamples(*c.snapshot, truth);
    }
    {
      INFO("seed " << seed << ", records shuffled within 8 ms");
      std::string shuffled = TestDir("sequence-shuffled-" + std::to_string(seed));
      ShuffleCorpus(gen, shuffled);
      IngestedCorpus c = IngestCorpus(shuffled, TestDir("sequence-idx-shuffled-" + std::to_string(seed)));
      CheckWorkedExamples(*c.snapshot, truth);
      std::filesystem::remove_all(shuffled);
    }
    std::filesystem::remove_all(gen);
  }
}

TEST_CASE("A sequence prints in every format, feeds count, and stops at the memory bound", "[end_to_end][sequence]") {
  std::string gen = Generate(24);
  nlohmann::json truth = GroundTruth(gen);
  IngestedCorpus c = IngestCorpus(gen, TestDir("sequence-idx-24"));
  const storage::IndexSnapshot& snap = *c.snapshot;
  const std::string registers =
      "sequence by call_id within 5m [method = REGISTER and status = 401] ![method = REGISTER and status = 200]";
  std::set<std::string> want = JsonSet(truth["sequences"]["register_401_without_200"]["call_ids"]);
  REQUIRE(!want.empty());
  std::string out;

  // table: the key, then step 1's time server type method status (call_id is the key).
  REQUIRE(RunText(snap, registers, query::OutputFormat::kTable, &out).ok());
  CHECK(out.starts_with("call_id"));
  CHECK(out.find("1.time") != std::string::npos);
  CHECK(out.find("1.status") != std::string::npos);
  CHECK(out.find("1.call_id") == std::string::npos);
  CHECK(out.find("2.time") == std::string::npos);  // the absence step has no event
  for (const std::string& id : want) CHECK(out.find(id) != std::string::npos);

  // jsonl: one object per match with every record column of the event.
  REQUIRE(RunText(snap, registers, query::OutputFormat::kJsonl, &out).ok());
  std::set<std::string> ids;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    CHECK(j["1.status"] == 401);
    CHECK(j["1.method"] == "REGISTER");
    CHECK(j.contains("1.file"));
    ids.insert(j["call_id"].get<std::string>());
  }
  CHECK(ids == want);

  // raw: the events' records, byte-exact; flow: one ladder per match.
  REQUIRE(RunText(snap, registers, query::OutputFormat::kRaw, &out).ok());
  for (const std::string& id : want) CHECK(out.find("Call-ID: " + id) != std::string::npos);
  CHECK(out.find("$$end_record") != std::string::npos);
  REQUIRE(RunText(snap, registers + " | flow", query::OutputFormat::kTable, &out).ok());
  CHECK(out.starts_with("Match 1  call_id "));
  CHECK(out.find("Match " + std::to_string(want.size()) + "  call_id ") != std::string::npos);
  CHECK(out.find("  [1] ") != std::string::npos);
  CHECK(out.find("401 ") != std::string::npos);

  // Stages over matches.
  Rows n = Query(snap, registers + " | count");
  REQUIRE(n.size() == 1);
  CHECK(n[0][0] == std::to_string(want.size()));
  Rows by_server = Query(snap, registers + " | count by 1.server | sort count desc | limit 1");
  REQUIRE(by_server.size() == 1);
  CHECK(std::stoul(by_server[0][1]) <= want.size());
  CHECK(Query(snap, registers + " | limit 1").size() == 1);
  CHECK(!RunText(snap, registers + " | count", query::OutputFormat::kRaw, &out).ok());

  // A sequence that matches nothing prints nothing and is not an error.
  CHECK(Query(snap, "sequence by call_id within 1s [method = REGISTER and status = 499] [status = 200]").empty());

  // --explain: the postings that drive it.
  query::QueryOptions explain;
  explain.explain = true;
  std::ostringstream plan;
  REQUIRE(query::RunQuery(snap, registers, explain, &plan, nullptr).ok());
  CHECK(plan.str().find("driven by postings") != std::string::npos);

  // Steps without postings (text contains, ranges): every record is read in time order.
  const std::string scanned =
      "sequence by call_id within 5m [text contains REGISTER and status > 400 and status < 402] ![text contains "
      "REGISTER and status > 199 and status < 201]";
  std::ostringstream scan_plan;
  REQUIRE(query::RunQuery(snap, scanned, explain, &scan_plan, nullptr).ok());
  CHECK(scan_plan.str().find("reads: every record in time order") != std::string::npos);
  CHECK(FirstColumn(Query(snap, scanned + " | distinct call_id")) == want);

  // Reader threads change nothing: every format prints the same bytes on one
  // thread (reading inline) as on two and three (reading ahead).
  const std::string refused_again = "sequence by sub.subscriber, sub.target within 1h [" + kRefusal + "] [" +
                                    kRefusal + "]";
  CHECK(Query(snap, refused_again).size() > 3);
  for (const std::string& q : {registers, scanned, refused_again}) {
    for (query::OutputFormat format : {query::OutputFormat::kCsv, query::OutputFormat::kRaw,
                                       query::OutputFormat::kFlow, query::OutputFormat::kJsonl}) {
      std::string one;
      REQUIRE(RunText(snap, q, format, &one, 64u << 20, 1).ok());
      CHECK(!one.empty());
      for (int threads : {2, 3}) {
        INFO(q << "\nformat " << query::OutputFormatName(format) << ", " << threads << " threads");
        REQUIRE(RunText(snap, q, format, &out, 64u << 20, threads).ok());
        CHECK(out == one);
      }
      // A small memory bound keeps few of the events' records: rows re-read the others.
      INFO(q << "\nformat " << query::OutputFormatName(format) << ", 16 KiB");
      REQUIRE(RunText(snap, q, format, &out, 16u << 10, 2).ok());
      CHECK(out == one);
    }
  }

  // --timeout: a deadline already passed stops the scan.
  query::QueryOptions late;
  late.deadline = std::chrono::steady_clock::now();
  late.timeout = 1;
  std::ostringstream ignored;
  Status timed_out = query::RunQuery(snap, scanned, late, &ignored, nullptr);
  CHECK(timed_out.code() == Status::Code::kAborted);
  CHECK(timed_out.message() == query::TimeoutMessage(1));

  // Without a window and with a first step matching every request, the open
  // partial matches outgrow a small bound: a clear error (exit 2), not a crash.
  Status s = RunText(snap, "sequence by call_id [type = request] [method = NOSUCHMETHOD]", query::OutputFormat::kCsv,
                     &out, 64u << 10);
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK(s.message().starts_with("error: sequence: open partial matches need more than 64 KiB ("));
  std::filesystem::remove_all(gen);
}
