// Selective queries on a generated corpus: counts answered from exact postings
// and segment tables equal the same counts read record by record, without
// decoding any record text; point reads (call_id) read only their records.

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "indexer/ingest.h"
#include "query/executor.h"
#include "storage/index.h"
#include "tests/end_to_end/ingest_test_util.h"

using namespace sipdex;
using namespace sipdex::testing;

namespace {

struct Answer {
  std::string out;
  query::QueryStats stats;
};

Answer Run(const storage::IndexSnapshot& snap, const std::string& q, bool explain = false) {
  query::QueryOptions options;
  options.format = query::OutputFormat::kCsv;
  options.explain = explain;
  std::ostringstream out;
  Answer a;
  Status s = query::RunQuery(snap, q, options, &out, &a.stats);
  INFO(q << "\n" << s.message());
  REQUIRE(s.ok());
  a.out = out.str();
  return a;
}

}  // namespace

TEST_CASE("Counts from exact postings and segment tables equal counts read record by record, with no text decoded",
          "[end_to_end][query][point]") {
  std::string root = TestDir("point-query");
  std::string corpus = root + "/gen";
  Generate(corpus, "6MB", 5);
  nlohmann::json truth = GroundTruth(corpus);
  IngestedCorpus ingested = IngestCorpus(corpus, root + "/idx");  // 1 MB segments straddle hours and days
  const storage::IndexSnapshot& snap = *ingested.snapshot;

  std::string day = truth["time"]["first"].get<std::string>().substr(0, 10);
  std::uint64_t tables = 0;
  const std::vector<std::string> searches = {
      "diag = 2157", "status = 403 and method = SUBSCRIBE", "kind = diagnostic", "diag = 2157 and on " + day,
      "type = request and method in (SUBSCRIBE, NOTIFY)", "on " + day,
      "between " + day + "T06:30:00 and " + day + "T13:15:00"};
  for (const std::string& q : searches) {
    for (const char* tail : {" | count", " | count by day", " | count by hour", " | count by minute"}) {
      INFO(q << tail);
      Answer fast = Run(snap, q + tail);
      Answer slow = Run(snap, "text exists and (" + q + ")" + tail);
      CHECK(fast.out == slow.out);
      CHECK(fast.stats.records_read == 0);
      CHECK(slow.stats.records_read > 0);
      CHECK(fast.stats.records_matched == slow.stats.records_matched);
      tables += fast.stats.records_tables_read;
    }
  }
  CHECK(tables > 0);  // some segments straddled a bucket: their tables were read

  Answer explain = Run(snap, "diag = 2157 | count by day", true);
  CHECK(explain.out.find("count: from exact postings") != std::string::npos);
  CHECK(Run(snap, "text exists and diag = 2157 | count", true).out.find("count: from") == std::string::npos);

  // Segments small enough to lie within one hour (or minute): their counts are
  // labelled with the bucket's start, not the segment's first time.
  {
    IngestedCorpus small = IngestCorpus(corpus, root + "/idx-small", 16u << 10);
    for (const char* q : {"kind = protocol | count by hour", "kind = protocol | count by minute"}) {
      INFO(q);
      Answer fast = Run(*small.snapshot, q);
      Answer slow = Run(*small.snapshot, std::string("text exists and ") + q);
      CHECK(fast.stats.records_read == 0);
      CHECK(fast.out == slow.out);
    }
  }

  // A point read reads only the dialog's records.
  std::string call_id = truth["stuck_subscriptions"]["call_ids"][0].get<std::string>();
  Answer point = Run(snap, "call_id = " + call_id);
  CHECK(point.stats.records_matched >= 1);
  CHECK(point.stats.records_read == point.stats.candidates);
  CHECK(point.stats.records_read < 10);
  CHECK(point.out.find(call_id) != std::string::npos);
}
