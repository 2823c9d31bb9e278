// End to end: generated corpora (three seeds) -> Ingest -> queries, whose
// answers must equal the generator's ground truth. The queries are the worked
// examples of query/README.md; the test only parses their CSV output (and
// unions the answers of two queries where users sit in two different fields).

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "indexer/ingest.h"
#include "query/executor.h"
#include "storage/index.h"
#include "tests/end_to_end/ingest_test_util.h"

using namespace sipdex;
using namespace sipdex::testing;

namespace {

using Rows = std::vector<std::vector<std::string>>;

// Runs a query; returns its CSV rows without the header line. The query
// runs twice: on records' facts where it allows them (the default), and on
// their text (forced); both must print the same bytes.
Rows Query(const storage::IndexSnapshot& snap, const std::string& q) {
  query::QueryOptions options;
  options.format = query::OutputFormat::kCsv;
  std::ostringstream out;
  Status s = query::RunQuery(snap, q, options, &out, nullptr);
  INFO(q << "\n" << s.message());
  REQUIRE(s.ok());
  query::QueryOptions text_options = options;
  text_options.facts = false;
  std::ostringstream text_out;
  REQUIRE(query::RunQuery(snap, q, text_options, &text_out, nullptr).ok());
  CHECK(out.str() == text_out.str());
  Rows rows;
  std::istringstream in(out.str());
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

std::int64_t Count(const storage::IndexSnapshot& snap, const std::string& q) {
  Rows r = Query(snap, q + " | count");
  REQUIRE(r.size() == 1);
  return std::stoll(r[0][0]);
}

// `... | count by KEY` as a map (no value -> `none`).
std::map<std::string, std::int64_t> CountBy(const storage::IndexSnapshot& snap, const std::string& q) {
  std::map<std::string, std::int64_t> m;
  for (const auto& row : Query(snap, q)) {
    REQUIRE(row.size() == 2);
    m[row[0].empty() ? "none" : row[0]] = std::stoll(row[1]);
  }
  return m;
}

std::map<std::string, std::int64_t> JsonCounts(const nlohmann::json& j) {
  std::map<std::string, std::int64_t> m;
  for (const auto& [k, v] : j.items()) m[k] = v.get<std::int64_t>();
  return m;
}

std::map<std::string, std::int64_t> JsonCounts(const nlohmann::json& j, const char* field) {
  std::map<std::string, std::int64_t> m;
  for (const auto& [k, v] : j.items()) {
    if (v[field].get<std::int64_t>() > 0) m[k] = v[field].get<std::int64_t>();
  }
  return m;
}

// The three refusal shapes as queries (query/README.md, "Worked examples").
const std::string kSingle = "type = response and method = SUBSCRIBE and diag = 2157";
const std::string kBatch = "type = response and method = SUBSCRIBE and resource.diag = 2157";
const std::string kNotify = "type = request and method = NOTIFY and resource.diag = 2157";

void CheckSeed(int seed) {
  std::string root = TestDir("query-gt-" + std::to_string(seed));
  std::string corpus = root + "/gen";
  Generate(corpus, "6MB", seed);
  nlohmann::json truth = GroundTruth(corpus);
  IngestedCorpus ingested = IngestCorpus(corpus, root + "/idx");
  const storage::IndexSnapshot& snap = *ingested.snapshot;
  INFO("seed " << seed);

  // Records by kind, requests by method, responses by method and status, header diag codes.
  // Unflagged junk spans (a BOM, blank lines) are stored but are not records of the ground truth.
  CHECK(CountBy(snap, "kind != junk or malformed = true | count by kind") == JsonCounts(truth["records"]["by_kind"]));
  CHECK(CountBy(snap, "kind = protocol and type = request | count by method") ==
        JsonCounts(truth["requests_by_method"]));
  CHECK(CountBy(snap, "kind = protocol and type = response | count by method") ==
        JsonCounts(truth["responses_by_method"]));
  CHECK(CountBy(snap, "kind = protocol and type = response | count by status") ==
        JsonCounts(truth["responses_by_status"]));
  auto codes = CountBy(snap, "kind = protocol and diag exists | count by diag");
  CHECK(codes == JsonCounts(truth["diag_codes"]));
  auto resources = Query(snap,
                         "kind = protocol and resource exists | count by resource.state, resource.status, "
                         "resource.diag");
  std::map<std::string, std::int64_t> by_key;
  for (const auto& r : resources) {
    REQUIRE(r.size() == 4);
    by_key[r[0] + "/" + (r[1].empty() ? "-" : r[1]) + "/" + (r[2].empty() ? "-" : r[2])] = std::stoll(r[3]);
  }
  CHECK(by_key == JsonCounts(truth["resources_by_state_status_diag"]));

  // Counting from postings (exact fields, whole segments) agrees with reading every record
  // (`text exists` is not on postings, so it forces the record-by-record path).
  for (const char* q : {"diag = 2157", "type = response and method = SUBSCRIBE and diag in (2157, 1003)",
                        "status = 403 or status = 404", "kind = diagnostic", "malformed = true"}) {
    for (const char* tail : {" | count", " | count by day", " | count by hour"}) {
      INFO(q << tail);
      CHECK(Query(snap, std::string(q) + tail) == Query(snap, "text exists and (" + std::string(q) + ")" + tail));
    }
  }
  std::string day2 = truth["time"]["first"].get<std::string>().substr(0, 10);
  CHECK(Query(snap, "diag = 2157 and on " + day2 + " | count") ==
        Query(snap, "text exists and diag = 2157 and on " + day2 + " | count"));

  // Refusals: single, batched in responses, batched in NOTIFYs; totals, by day, by application.
  const nlohmann::json& ref = truth["refusals"];
  CHECK(Count(snap, kSingle) == ref["total"]["single"].get<std::int64_t>());
  CHECK(Count(snap, kBatch) == ref["total"]["batch"].get<std::int64_t>());
  CHECK(Count(snap, kNotify) == ref["total"]["notify"].get<std::int64_t>());
  CHECK(CountBy(snap, kSingle + " | count by day") == JsonCounts(ref["by_day"], "single"));
  CHECK(CountBy(snap, kBatch + " | count by day") == JsonCounts(ref["by_day"], "batch"));
  CHECK(CountBy(snap, kNotify + " | count by day") == JsonCounts(ref["by_day"], "notify"));
  CHECK(CountBy(snap, kSingle + " | count by from.uri") == JsonCounts(ref["by_application"], "single"));
  CHECK(CountBy(snap, kBatch + " | count by from.uri") == JsonCounts(ref["by_application"], "batch"));
  CHECK(CountBy(snap, kNotify + " | count by to.uri") == JsonCounts(ref["by_application"], "notify"));

  // Refused users: the single refusal's To, the instance's resource URI.
  std::map<std::string, std::int64_t> by_user;
  for (const auto& [u, n] : CountBy(snap, kSingle + " | count by to.uri")) by_user[u] += n;
  for (const auto& [u, n] :
       CountBy(snap, "resource.diag = 2157 and (" + kBatch + " or " + kNotify + ") | count by resource.uri")) {
    by_user[u] += n;
  }
  CHECK(by_user == JsonCounts(ref["by_user"], "total"));

  // Distinct (application, user) pairs.
  std::set<std::pair<std::string, std::string>> pairs;
  for (const auto& r : Query(snap, kSingle + " | distinct from.uri, to.uri")) pairs.insert({r.at(0), r.at(1)});
  for (const auto& r : Query(snap, kBatch + " | distinct from.uri, resource.uri")) pairs.insert({r.at(0), r.at(1)});
  for (const auto& r : Query(snap, kNotify + " | distinct to.uri, resource.uri")) pairs.insert({r.at(0), r.at(1)});
  CHECK(static_cast<std::int64_t>(pairs.size()) == ref["distinct_pair_count"].get<std::int64_t>());
  std::set<std::pair<std::string, std::string>> truth_pairs;
  for (const auto& p : ref["distinct_pairs"]) {
    truth_pairs.insert({p.at(0).get<std::string>(), p.at(1).get<std::string>()});
  }
  CHECK(pairs == truth_pairs);

  // Distinct refused users per day (from the per-day answers of two queries).
  std::map<std::string, std::set<std::string>> users_by_day;
  for (const auto& r : Query(snap, kSingle + " | distinct day, to.uri")) users_by_day[r.at(0)].insert(r.at(1));
  for (const auto& r :
       Query(snap, "resource.diag = 2157 and (" + kBatch + " or " + kNotify + ") | distinct day, resource.uri")) {
    users_by_day[r.at(0)].insert(r.at(1));
  }
  CHECK(users_by_day.size() == ref["by_day"].size());

  // Decoys and user endpoints never count: every 2157 refusal comes from a trusted application.
  std::string apps;
  for (const auto& a : truth["deployment"]["trusted_applications"]) {
    apps += (apps.empty() ? "" : ", ") + a["uri"].get<std::string>();
  }
  CHECK(Count(snap, "(" + kSingle + " or " + kBatch + ") and not from.uri in (" + apps + ")") == 0);
  CHECK(Count(snap, kNotify + " and not to.uri in (" + apps + ")") == 0);
  CHECK(Count(snap, "text contains 2157 and not (diag = 2157 or resource.diag = 2157)") > 0);  // decoys exist

  // Stuck subscriptions: trusted-application SUBSCRIBEs with no final response logged.
  std::set<std::string> stuck;
  for (const auto& r : Query(snap, "type = request and method = SUBSCRIBE and from.uri in (" + apps +
                                       ") and not response exists | distinct call_id")) {
    stuck.insert(r.at(0));
  }
  std::set<std::string> truth_stuck;
  for (const auto& c : truth["stuck_subscriptions"]["call_ids"]) truth_stuck.insert(c.get<std::string>());
  CHECK(stuck == truth_stuck);
}

}  // namespace

TEST_CASE("Queries answer every count of the ground truth for seed 1", "[end_to_end][query]") {
  CheckSeed(1);
}
TEST_CASE("Queries answer every count of the ground truth for seed 2", "[end_to_end][query]") {
  CheckSeed(2);
}
TEST_CASE("Queries answer every count of the ground truth for seed 3", "[end_to_end][query]") {
  CheckSeed(3);
}

namespace {

// A query's output and stats in one format, on facts (when it allows them) or on text.
struct Printed {
  std::string out;
  query::QueryStats stats;
};
Printed Print(const storage::IndexSnapshot& snap, const std::string& q, query::OutputFormat format, bool facts) {
  query::QueryOptions options;
  options.format = format;
  options.facts = facts;
  Printed p;
  std::ostringstream out;
  Status s = query::RunQuery(snap, q, options, &out, &p.stats);
  INFO(q << "\n" << s.message());
  REQUIRE(s.ok());
  p.out = out.str();
  return p;
}

}  // namespace

TEST_CASE("On facts, every output format prints exactly what the text path prints", "[end_to_end][query][facts]") {
  std::string root = TestDir("query-facts");
  std::string corpus = root + "/gen";
  Generate(corpus, "4MB", 4);
  IngestedCorpus ingested = IngestCorpus(corpus, root + "/idx");
  const storage::IndexSnapshot& snap = *ingested.snapshot;
  // Record rows (table's default columns are facts), projections, per-resource rows, responses, scans.
  const std::vector<std::string> queries = {
      kSingle,
      kSingle + " | fields time, server, file, from.uri, to.uri, diag, diag.reason",
      kBatch + " | fields time, from.uri, resource.uri, resource.state, resource.status",
      kNotify + " | sort time desc | limit 7 | fields time, to.uri, resource.uri",
      "method in (SUBSCRIBE, NOTIFY) and (diag = 2157 or resource.diag = 2157) | count by day",
      "type = request and method = SUBSCRIBE and not response exists | count by from.uri",
      "type = request and method = SUBSCRIBE | fields call_id, response.status, response.diag, response.reason",
      "kind = diagnostic | fields time, severity, result_code, result_text",
      "status >= 400 | top 5 reason",
      "user_agent ~ \"RTCC/*\" | distinct from.uri",
      "type = response and method = SUBSCRIBE and ((status >= 200 and status < 300 and not resource exists) or "
      "resource.state = active) | count by from.uri, day",
  };
  for (const std::string& q : queries) {
    for (query::OutputFormat format :
         {query::OutputFormat::kTable, query::OutputFormat::kJsonl, query::OutputFormat::kCsv}) {
      INFO(q << " as " << query::OutputFormatName(format));
      Printed facts = Print(snap, q, format, true);
      Printed text = Print(snap, q, format, false);
      CHECK(facts.out == text.out);
      CHECK(text.stats.records_facts_read == 0);
      CHECK(facts.stats.records_matched == text.stats.records_matched);
      if (q == kSingle && format != query::OutputFormat::kTable) {
        // jsonl and csv print line and peer by default: not facts, so the text path.
        CHECK(facts.stats.records_facts_read == 0);
      } else {
        CHECK(facts.stats.records_facts_read > 0);
        CHECK(facts.stats.records_parsed == 0);
      }
    }
  }
  // raw prints the text; fields outside the facts (body, header.NAME, peer) read the text.
  for (const std::string& q : {kSingle + " | fields body", kSingle + " | fields header.Via", kSingle + " | fields peer"}) {
    Printed facts = Print(snap, q, query::OutputFormat::kCsv, true);
    CHECK(facts.stats.records_facts_read == 0);
    CHECK(facts.out == Print(snap, q, query::OutputFormat::kCsv, false).out);
  }
  Printed raw = Print(snap, kSingle, query::OutputFormat::kRaw, true);
  CHECK(raw.stats.records_facts_read == 0);
  CHECK(raw.out == Print(snap, kSingle, query::OutputFormat::kRaw, false).out);
  CHECK_FALSE(raw.out.empty());
}

TEST_CASE("Explain tells whether a query runs on facts, and what makes it read text", "[end_to_end][query][facts]") {
  std::string root = TestDir("query-facts-explain");
  std::string corpus = root + "/gen";
  Generate(corpus, "2MB", 5);
  IngestedCorpus ingested = IngestCorpus(corpus, root + "/idx");
  const storage::IndexSnapshot& snap = *ingested.snapshot;
  auto plan = [&](const std::string& q, query::OutputFormat format) {
    query::QueryOptions options;
    options.format = format;
    options.explain = true;
    std::ostringstream out;
    REQUIRE(query::RunQuery(snap, q, options, &out, nullptr).ok());
    return out.str();
  };
  using query::OutputFormat;
  CHECK(plan(kSingle + " | count by day", OutputFormat::kTable).find("records: facts") != std::string::npos);
  CHECK(plan("body contains rlmi | count", OutputFormat::kTable).find("reads text: field body") != std::string::npos);
  CHECK(plan(kSingle, OutputFormat::kCsv).find("reads text: field line") != std::string::npos);
  CHECK(plan(kSingle, OutputFormat::kRaw).find("reads text: --format raw") != std::string::npos);
  CHECK(plan(kSingle + " | fields header.Via", OutputFormat::kCsv).find("reads text: field header.Via") !=
        std::string::npos);
  CHECK(plan("type = request and response.peer exists | count", OutputFormat::kCsv)
            .find("reads text: field response.peer") != std::string::npos);
}
