// sipdex query [--index DIR] 'QUERY' [--format table|jsonl|csv|raw|flow] [--tz ZONE] [--explain]
//              [--timeout DURATION]
//
// Runs one query of the language in query/README.md. Rows go to stdout; a
// query error (with its caret) or a usage error goes to stderr with exit
// status 2; a query that matches nothing exits 0 and says so on stderr.
// Exit 1 for a damaged index or a stage that outgrew its memory bound; exit 2
// for a query stopped by --timeout.

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/index_access.h"
#include "indexer/ingest.h"
#include "query/binder.h"
#include "query/executor.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

struct QueryArgs {
  std::string index;
  std::string query;
  std::string format = "table";
  std::string tz = "UTC";
  bool explain = false;
  bool text = false;  // --text: read the records' text even where facts would do
  std::size_t memory_mb = 64;
  std::string timeout;  // "" = no limit
};

int RunQueryCommand(const QueryArgs& args) {
  Result<query::OutputFormat> format = query::ParseOutputFormat(args.format);
  if (!format.ok()) {
    fmt::print(stderr, "error: {}\n", format.status().message());
    return kExitUsage;
  }
  Result<DurationMs> tz = query::ParseTimeZone(args.tz);
  if (!tz.ok()) {
    fmt::print(stderr, "error: {}\n", tz.status().message());
    return kExitUsage;
  }
  std::optional<DurationMs> timeout;
  if (!args.timeout.empty()) {
    timeout = ParseDuration(args.timeout);
    if (!timeout || *timeout <= 0) {
      fmt::print(stderr, "error: --timeout takes a duration such as 500ms, 30s or 5m, got \"{}\"\n", args.timeout);
      return kExitUsage;
    }
  }
  auto start = std::chrono::steady_clock::now();
  int open_exit = kExitOk;
  std::optional<ReadableIndex> open = OpenForReading(args.index, &open_exit);
  if (!open) return open_exit;
  const storage::IndexSnapshot& snap = *open->snapshot;
  query::QueryOptions options;
  if (timeout) {
    options.timeout = *timeout;
    options.deadline = start + std::chrono::milliseconds(*timeout);
  }
  options.format = *format;
  options.explain = args.explain;
  options.facts = !args.text;
  options.tz_offset_ms = *tz;
  options.memory_limit = args.memory_mb << 20;
  query::QueryStats stats;
  std::ios::sync_with_stdio(false);
  Status s = query::RunQuery(snap, args.query, options, &std::cout, &stats);
  std::cout.flush();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!s.ok()) {
    std::string msg = s.message();
    if (!msg.starts_with("error: ")) msg = "error: " + msg;
    fmt::print(stderr, "{}\n", msg);
    bool usage = s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kAborted;
    return usage ? kExitUsage : kExitDamage;
  }
  if (args.explain) return kExitOk;
  if (stats.records_matched == 0) {
    fmt::print(stderr, "no records matched\n");
  } else if (isatty(STDERR_FILENO)) {
    fmt::print(stderr, "{} rows; {} records matched of {} read in {:.1f} ms\n", stats.rows_written,
               stats.records_matched, stats.records_read, ms);
  }
  return kExitOk;
}

}  // namespace

void RegisterQueryCommand(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<QueryArgs>();
  CLI::App* sub = app.add_subcommand("query", "Run a query (see query/README.md for the language)");
  AddIndexOption(sub, &args->index);
  sub->add_option("query", args->query, "the query, e.g. 'status = 403 and diag = 2157 | count by day'")->required();
  sub->add_option("--format", args->format, "table (default), jsonl, csv, raw or flow");
  sub->add_option("--tz", args->tz, "zone of the times typed in the query: UTC (default) or an offset like +02:00");
  sub->add_flag("--explain", args->explain, "print the plan (postings, time pruning, scan) instead of running");
  sub->add_flag("--text", args->text, "read every record's text, even where its facts would do (to compare)");
  sub->add_option("--memory-mb", args->memory_mb, "memory bound of sort/count/distinct/top/flow in MiB (default 64)");
  sub->add_option("--timeout", args->timeout,
                  "stop the query after this long (500ms, 30s, 5m) with a message and exit status 2");
  registry.Add(sub, [args] { return RunQueryCommand(*args); });
}

}  // namespace sipdex::cli
