#include "query/executor.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "indexer/ingest.h"
#include "query/stages.h"

using namespace sipdex;
using namespace sipdex::query;

namespace {

const char* const kFixtures[] = {"seed_records.log", "batch_subscribe.log", "multipart_rlmi.log",
                                 "tail_marker_glued.log", "diagnostic_record.log"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An index of five fixture files, built once per test binary run.
class FixtureIndex {
 public:
  static FixtureIndex& Get() {
    static FixtureIndex instance;
    return instance;
  }
  const storage::IndexSnapshot& snapshot() const { return ***snapshot_; }

 private:
  FixtureIndex() {
    namespace fs = std::filesystem;
    // One directory per process: ctest -j runs test cases of this binary in parallel.
    fs::path root = fs::path(SIPDEX_BINARY_DIR) / "test-tmp" / ("query_executor-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "logs");
    for (const char* f : kFixtures) {
      fs::copy_file(fs::path(SIPDEX_SOURCE_DIR) / "corpus" / "fixtures" / f, root / "logs" / f);
    }
    storage::IndexOptions opts;
    opts.parser = MakeRecordParser();
    auto index = storage::Index::Open((root / "index").string(), opts);
    REQUIRE(index.ok());
    IngestOptions io;
    io.threads = 1;
    auto summary = Ingest(index->get(), {(root / "logs").string()}, io);
    REQUIRE(summary.ok());
    REQUIRE(summary->files_new == 5);
    root_ = root.string();
    index_ = std::move(*index);
    snapshot_.emplace(index_->Snapshot());
    REQUIRE(snapshot_->ok());
  }
  ~FixtureIndex() {
    snapshot_.reset();
    index_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string root_;
  std::unique_ptr<storage::Index> index_;
  std::optional<Result<std::unique_ptr<storage::IndexSnapshot>>> snapshot_;
};

struct Answer {
  Status status;
  std::string out;
  QueryStats stats;
};

Answer Run(std::string_view query, OutputFormat format = OutputFormat::kCsv, std::size_t memory = 64u << 20,
           bool explain = false) {
  QueryOptions options;
  options.format = format;
  options.memory_limit = memory;
  options.explain = explain;
  std::ostringstream out;
  Answer a;
  a.status = RunQuery(FixtureIndex::Get().snapshot(), query, options, &out, &a.stats);
  a.out = out.str();
  return a;
}

}  // namespace

TEST_CASE("Counting single and batched 2157 refusals over indexed fixtures", "[query][executor]") {
  Answer single = Run("status = 403 and diag = 2157 | count");
  REQUIRE(single.status.ok());
  CHECK(single.out == "count\r\n1\r\n");
  CHECK(single.stats.candidates == 1);

  Answer users = Run("resource.diag = 2157 | count distinct resource.uri");
  REQUIRE(users.status.ok());
  CHECK(users.out == "count\r\n3\r\n");

  Answer list = Run("resource.diag = 2157 | fields resource.uri, method, type | sort resource.uri");
  REQUIRE(list.status.ok());
  CHECK(list.out ==
        "resource.uri,method,type\r\n"
        "sip:O365User@thoughtstuff.co.uk,SUBSCRIBE,response\r\n"
        "sip:mallory@contoso.com,SUBSCRIBE,response\r\n"
        "sip:oscar@contoso.com,NOTIFY,request\r\n");
}

TEST_CASE("response.FIELD pairs a request with its final response", "[query][executor]") {
  Answer a = Run("method = SUBSCRIBE and type = request and response.status = 403 | fields call_id, cseq");
  REQUIRE(a.status.ok());
  CHECK(a.out == "call_id,cseq\r\n3f2a9c81d0e64b1f9a7c55e0b2d4e6f1,12\r\n");

  Answer b = Run("type = request and method = SUBSCRIBE and response exists | count by call_id");
  REQUIRE(b.status.ok());
  CHECK(b.out ==
        "call_id,count\r\n3f2a9c81d0e64b1f9a7c55e0b2d4e6f1,1\r\n55e99a32b7f940efa49ca37e876645d6,1\r\n"
        "batch-1,1\r\n");

  Answer c = Run("type = request and not response exists | fields method, call_id");
  REQUIRE(c.status.ok());
  CHECK(c.out == "method,call_id\r\nNOTIFY,batch-1\r\n");
}

TEST_CASE("Stages count by day, top, distinct, sort and limit", "[query][executor]") {
  Answer days = Run("kind = protocol | count by day", OutputFormat::kTable);
  REQUIRE(days.status.ok());
  CHECK(days.out ==
        "day         count\n"
        "2014-07-16  5\n"
        "2017-03-02  2\n");

  // top skips rows without a value (the diagnostic record has no method).
  Answer top = Run("kind exists | top 2 method");
  REQUIRE(top.status.ok());
  CHECK(top.out == "method,count\r\nSUBSCRIBE,6\r\nNOTIFY,1\r\n");

  Answer distinct = Run("type = request | distinct method");
  REQUIRE(distinct.status.ok());
  CHECK(distinct.out == "method\r\nSUBSCRIBE\r\nNOTIFY\r\n");

  Answer sorted = Run("kind exists | sort time desc | limit 2 | fields time, kind");
  REQUIRE(sorted.status.ok());
  CHECK(sorted.out == "time,kind\r\n2017-03-02T07:10:46.230Z,diagnostic\r\n2017-03-02T07:10:45.180Z,protocol\r\n");

  Answer counted = Run("kind exists | count by kind | sort count desc");
  REQUIRE(counted.status.ok());
  CHECK(counted.out == "kind,count\r\nprotocol,7\r\ndiagnostic,1\r\n");
}

TEST_CASE("Sort spills to temporary files beyond its memory bound with the same answer", "[query][executor]") {
  Answer in_memory = Run("kind exists | sort time desc | fields time, call_id");
  Answer spilled = Run("kind exists | sort time desc | fields time, call_id", OutputFormat::kCsv, 1);
  REQUIRE(in_memory.status.ok());
  REQUIRE(spilled.status.ok());
  CHECK(spilled.out == in_memory.out);
  CHECK(std::count(spilled.out.begin(), spilled.out.end(), '\n') == 9);
}

TEST_CASE("Count beyond its memory bound fails clearly", "[query][executor]") {
  Answer a = Run("kind exists | count by time", OutputFormat::kCsv, 10);
  REQUIRE(a.status.code() == Status::Code::kResourceExhausted);
  CHECK(a.status.message() ==
        "count: more distinct values than fit in 0 MiB; narrow the query or group by fewer fields");
}

TEST_CASE("Raw output is the original record text byte for byte", "[query][executor]") {
  Answer a = Run("call_id = batch-1 and method = NOTIFY", OutputFormat::kRaw);
  REQUIRE(a.status.ok());
  std::string file = ReadFile(std::string(SIPDEX_SOURCE_DIR) + "/corpus/fixtures/multipart_rlmi.log");
  std::size_t start = file.find("TL_INFO(TF_PROTOCOL) [4]2078.4C38::07/16/2014-10:18:06.000");
  REQUIRE(start != std::string::npos);
  CHECK(a.out == file.substr(start));
  Answer bad = Run("kind exists | count", OutputFormat::kRaw);
  CHECK(bad.status.code() == Status::Code::kInvalidArgument);
  CHECK(bad.status.message() == "error: --format raw prints records, but this query ends in 'count'");
}

TEST_CASE("Record rows in jsonl keep the documented column order", "[query][executor]") {
  Answer a = Run("call_id = 3f2a9c81d0e64b1f9a7c55e0b2d4e6f1 and type = response", OutputFormat::kJsonl);
  REQUIRE(a.status.ok());
  // The file name is storage's business (the path given to ingest); keep its last component.
  std::size_t f = a.out.find("\"file\":\"");
  std::size_t e = a.out.find("tail_marker_glued.log\"");
  REQUIRE(f != std::string::npos);
  REQUIRE(e != std::string::npos);
  a.out.erase(f + 8, e - f - 8);
  CHECK(a.out ==
        "{\"time\":\"2017-03-02T07:10:45.180Z\",\"server\":null,\"file\":\"tail_marker_glued.log\",\"line\":23,"
        "\"kind\":\"protocol\",\"type\":\"response\",\"direction\":\"outgoing\",\"peer\":\"10.0.0.21:49152\","
        "\"method\":\"SUBSCRIBE\",\"ruri\":null,\"status\":403,\"reason\":\"Forbidden\","
        "\"from\":\"sip:presence-bot@contoso.com\",\"to\":\"sip:bob@contoso.com\","
        "\"call_id\":\"3f2a9c81d0e64b1f9a7c55e0b2d4e6f1\",\"cseq\":12,\"diag\":2157,\"malformed\":\"false\"}\n");
}

TEST_CASE("Flow draws one ladder per dialog", "[query][executor]") {
  Answer a = Run("call_id = batch-1 | flow", OutputFormat::kTable);
  REQUIRE(a.status.ok());
  CHECK(a.out ==
        "Call-ID batch-1  (3 messages)\n"
        "  10:18:04.900   <--   SUBSCRIBE sip:ucma-app@contoso.com\n"
        "  10:18:05.000   <--   200 OK (10 SUBSCRIBE)\n"
        "  10:18:06.000   <--   NOTIFY sip:ucma-app@contoso.com\n");
}

TEST_CASE("Explain names the postings, the time pruning and the scan", "[query][executor]") {
  Answer a = Run("call_id = batch-1 and on 2014-07-16", OutputFormat::kTable, 64u << 20, true);
  REQUIRE(a.status.ok());
  CHECK(a.out.find("driven by postings: call_id = \"batch-1\"\n") != std::string::npos);
  CHECK(a.out.find("time: [2014-07-16T00:00:00.000Z, 2014-07-17T00:00:00.000Z)\n") != std::string::npos);
  CHECK(a.out.find(" pruned by time\n") != std::string::npos);
  CHECK(a.out.find("candidates: 3 records") != std::string::npos);
  Answer scan = Run("text contains forbidden | count", OutputFormat::kTable, 64u << 20, true);
  CHECK(scan.out.find("no postings apply: scanning segments\n") != std::string::npos);
  CHECK(scan.out.find("parse: not needed") != std::string::npos);
}

TEST_CASE("An unindexed text search reads every record without parsing", "[query][executor]") {
  Answer a = Run("text contains \"msDiagCode=\\\"2157\\\"\" | count");
  REQUIRE(a.status.ok());
  CHECK(a.out == "count\r\n3\r\n");
  CHECK(a.stats.records_parsed == 0);
  CHECK(a.stats.records_read == 8);
}

TEST_CASE("A text search tests its needle on the raw bytes first and answers as the evaluator does",
          "[query][executor]") {
  // `or method = NOSUCH` leaves no required literal: every record reaches the evaluator.
  for (const char* needle : {"SUBSCRIBE", "msDiagCode=\\\"2157\\\"", "forbidden", "Forbidden", "no such bytes"}) {
    INFO(needle);
    Answer fast = Run(std::string("text contains \"") + needle + "\" | count");
    Answer slow = Run(std::string("text contains \"") + needle + "\" or method = NOSUCH | count");
    REQUIRE(fast.status.ok());
    REQUIRE(slow.status.ok());
    CHECK(fast.out == slow.out);
    CHECK(fast.stats.records_read == slow.stats.records_read);
  }
  CHECK(Run("text contains \"Forbidden\" | count").out != Run("text contains \"forbidden\" | count").out);
  CHECK(Run("text contains SUBSCRIBE and text contains \"no such bytes\" | count").out == "count\r\n0\r\n");
}

TEST_CASE("A bad query is an InvalidArgument with the caret text", "[query][executor]") {
  Answer a = Run("status = 403 adn diag = 2157");
  REQUIRE(a.status.code() == Status::Code::kInvalidArgument);
  CHECK(a.status.message() ==
        "error: expected 'and', 'or', '|' or end of query\n"
        "  status = 403 adn diag = 2157\n"
        "               ^");
}

TEST_CASE("CSV neutralises cells that spreadsheets would run", "[query][output]") {
  CHECK(CsvCell(OutCell::Text("=cmd|' /C calc'!A0")) == "'=cmd|' /C calc'!A0");
  CHECK(CsvCell(OutCell::Text("+1")) == "'+1");
  CHECK(CsvCell(OutCell::Text("-1")) == "'-1");
  CHECK(CsvCell(OutCell::Text("@SUM(A1)")) == "'@SUM(A1)");
  CHECK(CsvCell(OutCell::Text("a,\"b\"")) == "\"a,\"\"b\"\"\"");
  CHECK(CsvCell(OutCell::Number(-1)) == "-1");
  CHECK(CsvCell(OutCell::Null()).empty());
}

namespace {

// The queries the batch and thread tests compare: postings-driven, scanning,
// per-resource, response pairing, counts from postings and from the time map.
const char* const kShapes[] = {
    "status = 403 and diag = 2157 | count",
    "resource.diag = 2157 | count distinct resource.uri",
    "resource.diag = 2157 | fields resource.uri, method, type | sort resource.uri",
    "(diag = 2157 or resource.diag = 2157) | count by day",
    "type = request and method = SUBSCRIBE and response exists | count by call_id",
    "type = request and not response exists | fields method, call_id",
    "text contains forbidden | count",
    "text contains forbidden and method = SUBSCRIBE | fields time, call_id",
    "kind = protocol | count by day",
    "since 2000-01-01 | count",
    "since 2000-01-01 | count by day",
    "method exists | limit 2",
    "line > 0",
};

std::string RunWith(std::string_view query, int threads, QueryStats* stats = nullptr) {
  QueryOptions options;
  options.format = OutputFormat::kJsonl;
  options.threads = threads;
  std::ostringstream out;
  Status s = RunQuery(FixtureIndex::Get().snapshot(), query, options, &out, stats);
  REQUIRE(s.ok());
  return out.str();
}

}  // namespace

TEST_CASE("Two threads answer every query shape exactly as one thread", "[query][executor]") {
  for (const char* q : kShapes) {
    INFO(q);
    std::string one = RunWith(q, 1);
    CHECK(RunWith(q, 2) == one);
    CHECK(RunWith(q, 4) == one);
  }
}

TEST_CASE("A batch answers each query exactly as the query alone", "[query][executor]") {
  std::vector<BatchQuery> batch;
  for (const char* q : kShapes) batch.push_back(BatchQuery{q, {}, {}});
  batch.push_back(BatchQuery{"status = 403 and diag = 2157 | count", {}, {}});  // twice in one batch
  QueryOptions options;
  options.format = OutputFormat::kJsonl;
  REQUIRE(RunQueries(FixtureIndex::Get().snapshot(), batch, options).ok());
  for (const BatchQuery& b : batch) {
    INFO(b.text);
    QueryStats alone;
    CHECK(b.output == RunWith(b.text, 1, &alone));
    CHECK(b.stats.records_matched == alone.records_matched);
    CHECK(b.stats.rows_written == alone.rows_written);
  }
}

TEST_CASE("A batch returns the error of a bad query in it", "[query][executor]") {
  std::vector<BatchQuery> batch = {{"status = 403 | count", {}, {}}, {"status = forbidden", {}, {}}};
  Status s = RunQueries(FixtureIndex::Get().snapshot(), batch, QueryOptions{});
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK(s.message().find("status takes a number") != std::string::npos);
}

TEST_CASE("A time scope alone is counted from the time map without reading records", "[query][executor]") {
  QueryStats stats;
  std::string all = RunWith("since 2000-01-01 | count", 2, &stats);
  CHECK(all == "{\"count\":8}\n");
  CHECK(stats.records_read == 0);
  // The same count by reading every record.
  CHECK(RunWith("since 2000-01-01 and line > 0 | count", 2) == all);
}

TEST_CASE("A query past its deadline stops with Aborted and names the timeout (issue 8)", "[query][executor]") {
  QueryOptions options;
  options.timeout = 5000;
  options.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  std::ostringstream out;
  Status s = RunQuery(FixtureIndex::Get().snapshot(), "text contains forbidden | count", options, &out, nullptr);
  CHECK(s.code() == Status::Code::kAborted);
  CHECK(s.message() == "query stopped: it ran longer than --timeout 5s");
  CHECK(out.str().empty());  // no partial count
  CHECK(TimeoutMessage(250) == "query stopped: it ran longer than --timeout 250ms");

  std::vector<BatchQuery> batch = {{"line > 0 | count", {}, {}}};
  CHECK(RunQueries(FixtureIndex::Get().snapshot(), batch, options).code() == Status::Code::kAborted);
}
