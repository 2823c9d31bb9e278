// Unindexed text searches (issue 5): `text contains` and `body contains`,
// alone, with a count, with conditions on table columns (time, kind) and with
// an indexed predicate, on a generated corpus, must find exactly the records a
// record-by-record memmem finds (the executor searches whole decoded chunks,
// IndexSnapshot::SearchSegment), on 1 and 2 threads.

#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "indexer/ingest.h"
#include "query/executor.h"
#include "storage/index.h"
#include "tests/end_to_end/ingest_test_util.h"

using namespace sipdex;
using namespace sipdex::testing;

namespace {

std::string Run(const storage::IndexSnapshot& snap, const std::string& q, int threads,
                query::QueryStats* stats = nullptr) {
  query::QueryOptions options;
  options.format = query::OutputFormat::kJsonl;
  options.threads = threads;
  std::ostringstream out;
  Status s = query::RunQuery(snap, q, options, &out, stats);
  INFO(q << "\n" << s.message());
  REQUIRE(s.ok());
  return out.str();
}

// (file, line) of each row of a jsonl answer.
std::set<std::pair<std::string, std::int64_t>> Rows(const std::string& jsonl) {
  std::set<std::pair<std::string, std::int64_t>> rows;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    rows.emplace(j["file"].get<std::string>(), j["line"].get<std::int64_t>());
  }
  return rows;
}

std::int64_t Count(const std::string& jsonl) {
  nlohmann::json j = nlohmann::json::parse(jsonl);
  return j["count"].get<std::int64_t>();
}

}  // namespace

TEST_CASE("Text searches find exactly the records that hold the literal, one record at a time",
          "[end_to_end][query][search]") {
  std::string root = TestDir("text-search");
  std::string corpus = root + "/gen";
  Generate(corpus, "4MB", 8);
  IngestedCorpus ingested = IngestCorpus(corpus, root + "/idx", 512u << 10);
  const storage::IndexSnapshot& snap = *ingested.snapshot;
  const storage::Manifest& m = snap.manifest();

  // Every record once, as the reference.
  struct Ref {
    std::string file;
    std::int64_t line = 0;
    std::string text;
    std::string body;
    RecordKind kind = RecordKind::kOther;
    bool subscribe = false;
  };
  std::vector<Ref> refs;
  Record parsed;
  REQUIRE(snap.ScanAll([&](const storage::StoredRecord& r) {
                Ref ref;
                ref.file = m.files[r.file_id].name;
                ref.line = r.line;
                ref.text = std::string(r.text);
                ref.kind = r.kind;
                REQUIRE(snap.Parse(r, &parsed).ok());
                ref.body = std::string(parsed.body);
                ref.subscribe = parsed.method == "SUBSCRIBE";
                refs.push_back(std::move(ref));
                return true;
              }).ok());
  REQUIRE(refs.size() > 3000);

  // Literals: common, rare, a number, a header, and absent (literals across
  // line ends and record boundaries: tests/storage/segment_search_test.cc).
  const std::vector<std::string> literals = {"SIPPROXY_E_ROUTING", "SUBSCRIBE", "2157", "CSeq: 1 ", "no such text"};
  std::size_t nonzero = 0;
  for (const std::string& lit : literals) {
    std::set<std::pair<std::string, std::int64_t>> expected, expected_protocol, expected_body, expected_sub;
    for (const Ref& r : refs) {
      if (r.text.find(lit) == std::string::npos) continue;
      expected.emplace(r.file, r.line);
      if (r.kind == RecordKind::kProtocol) expected_protocol.emplace(r.file, r.line);
      if (r.subscribe) expected_sub.emplace(r.file, r.line);
    }
    for (const Ref& r : refs) {
      if (r.body.find(lit) != std::string::npos) expected_body.emplace(r.file, r.line);
    }
    nonzero += expected.empty() ? 0 : 1;
    std::string quoted = "\"" + lit + "\"";
    for (int threads : {1, 2}) {
      INFO("literal " << quoted << " threads " << threads);
      query::QueryStats stats;
      CHECK(Rows(Run(snap, "text contains " + quoted, threads, &stats)) == expected);
      CHECK(stats.records_read == refs.size());       // every record decoded ...
      CHECK(stats.records_parsed == expected.size());  // ... only those holding the literal parsed
      CHECK(Count(Run(snap, "text contains " + quoted + " | count", threads)) ==
            static_cast<std::int64_t>(expected.size()));
      CHECK(Rows(Run(snap, "text contains " + quoted + " and kind = protocol", threads)) == expected_protocol);
      CHECK(Rows(Run(snap, "body contains " + quoted, threads)) == expected_body);
      CHECK(Rows(Run(snap, "method = SUBSCRIBE and text contains " + quoted, threads)) == expected_sub);
      CHECK(Rows(Run(snap, "text contains " + quoted + " or text contains \"no such text either\"", threads)) ==
            expected);
    }
  }
  CHECK(nonzero >= 4);
}
