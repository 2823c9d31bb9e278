#pragma once
// Runs a query against an index snapshot: parse, bind, plan, then read the
// candidate records (postings first, then the time map), evaluate the search,
// and stream rows through the stages into an output writer.
//
// Rows: without stages, one row per matching record (or per matching rlmi
// resource instance, see query/evaluator.h) with the record columns below;
// count/top/distinct/fields change the columns. Records come in index order
// (file by file, time order within a file); `| sort time` orders globally.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "query/output.h"
#include "storage/index.h"

namespace sipdex::query {

// The final-response keys of segments (for `response exists`), kept for
// every thread of a run and, when a caller keeps one in
// QueryOptions::response_keys, for several runs on one snapshot. Thread-safe.
class ResponseKeyCache;
std::shared_ptr<ResponseKeyCache> NewResponseKeyCache();

struct QueryOptions {
  OutputFormat format = OutputFormat::kTable;
  // Print the plan instead of running the query.
  bool explain = false;
  // --tz as an offset from UTC (see ParseTimeZone); applies to times typed in the query.
  std::int64_t tz_offset_ms = 0;
  // Bytes a stateful stage (sort, count, top, distinct, flow) may hold.
  // Sort spills beyond it; the others fail with ResourceExhausted. Default 64 MiB.
  std::size_t memory_limit = 64u << 20;
  // The instant after which a query stops with Aborted (--timeout); `timeout`
  // is the limit as given, for the message. Default: no limit.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  DurationMs timeout = 0;
  // Threads that decode, parse and evaluate segments (segments are
  // independent; rows still reach the stages in id order). 1 runs everything
  // on the calling thread. Default 2 (the machines this runs on have 2+ cores).
  int threads = 2;
  // Read records' facts (storage/facts.h: typed fields, no text decoded,
  // nothing parsed) when the plan allows it (query/planner.h, DecideFacts).
  // false forces the text path (tests compare both). Default true.
  bool facts = true;
  // Shared final-response keys (NewResponseKeyCache) of runs on the same
  // snapshot (the report's batches); null: each run keeps its own.
  std::shared_ptr<ResponseKeyCache> response_keys;
};

// The message of a query stopped by QueryOptions::deadline:
// "query stopped: it ran longer than --timeout 5s".
std::string TimeoutMessage(DurationMs timeout);

struct QueryStats {
  std::uint64_t candidates = 0;    // ids from postings (0 when scanning)
  std::uint64_t records_read = 0;  // records decoded from segments
  std::uint64_t records_tables_read = 0;  // records whose time alone was read (segment tables, no text)
  std::uint64_t records_parsed = 0;
  std::uint64_t records_facts_read = 0;  // records read as facts (no text decoded, nothing parsed)
  std::uint64_t records_matched = 0;  // records the search matched
  std::uint64_t rows = 0;             // rows the search produced (instances count separately)
  std::uint64_t rows_written = 0;     // rows the output printed
};

// The columns of a record row for `format`: raw uses none (it prints the
// record text), table uses
//   time server type method status from to call_id diag
// jsonl, csv and flow use
//   time server file line kind type direction peer method ruri status reason
//   from to call_id cseq diag malformed
// and rows of per-resource queries add resource.uri resource.state
// resource.status resource.diag.
std::vector<std::string> RecordColumns(OutputFormat format, bool per_resource);

// Runs `text` on `snapshot`, writing rows (or the plan, with explain) to
// `out`. Errors: InvalidArgument for a bad query (message = the formatted
// error with caret) or an impossible format (raw after count); ResourceExhausted
// when a stage exceeds the memory bound; storage errors as they come. `stats`
// may be null. Aborted (TimeoutMessage) when options.deadline passes.
Status RunQuery(const storage::IndexSnapshot& snapshot, std::string_view text, const QueryOptions& options,
                std::ostream* out, QueryStats* stats);

// One query of a batch (RunQueries): its text in, its output and stats out.
struct BatchQuery {
  std::string text;
  std::string output;  // what RunQuery would have written to its stream
  QueryStats stats;
};

// Runs every query of `queries` on `snapshot` as RunQuery would (each one's
// output and stats are the same), but in one pass: each segment any of them
// needs is decoded once, each record parsed at most once, and handed to every
// query that wants it, in id order. For the report, whose queries all read
// the same week. `sequence` queries and --explain run on their own. Returns
// the first error of any query (the outputs are then incomplete).
Status RunQueries(const storage::IndexSnapshot& snapshot, std::span<BatchQuery> queries, const QueryOptions& options);

}  // namespace sipdex::query
