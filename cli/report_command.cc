// sipdex report [--index DIR] --week 2014-W29|last [--format html|md|json] [-o FILE] [--apps FILE]
//               [--timeout DURATION]
//
// Writes the weekly hybrid-readiness report (report/README.md). Every figure
// in it is the result of a query of the language, printed beside it.

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/index_access.h"
#include "indexer/ingest.h"
#include "report/builder.h"
#include "report/render.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

struct ReportArgs {
  std::string index;
  std::string week;
  std::string format = "html";
  std::string output;
  std::string apps;
  std::string timeout;  // "" = no limit
  bool text = false;    // --text: run the queries on the records' text, not their facts
};

int RunReportCommand(const ReportArgs& args) {
  if (args.format != "html" && args.format != "md" && args.format != "json") {
    fmt::print(stderr, "error: --format takes html, md or json, got \"{}\"\n", args.format);
    return kExitUsage;
  }
  report::ReportOptions options;
  options.facts = !args.text;
  options.generated_by = "sipdex 0.1.0";
  if (!args.apps.empty()) {
    Result<std::vector<std::string>> apps = report::ReadAppsFile(args.apps);
    if (!apps.ok()) {
      fmt::print(stderr, "error: {}\n", apps.status().message());
      return kExitUsage;
    }
    options.apps = std::move(*apps);
  }
  if (!args.timeout.empty()) {
    std::optional<DurationMs> timeout = ParseDuration(args.timeout);
    if (!timeout || *timeout <= 0) {
      fmt::print(stderr, "error: --timeout takes a duration such as 500ms, 30s or 5m, got \"{}\"\n", args.timeout);
      return kExitUsage;
    }
    options.timeout = *timeout;
    options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*timeout);
  }
  int open_exit = kExitOk;
  std::optional<ReadableIndex> open = OpenForReading(args.index, &open_exit);
  if (!open) return open_exit;
  const storage::IndexSnapshot& snap = *open->snapshot;
  if (args.week == "last") {
    Result<IsoWeek> w = report::LastFullWeek(snap);
    if (!w.ok()) {
      fmt::print(stderr, "error: {}\n", w.status().message());
      return kExitUsage;
    }
    options.week = *w;
  } else if (std::optional<IsoWeek> w = ParseIsoWeek(args.week)) {
    options.week = *w;
  } else {
    fmt::print(stderr, "error: --week takes an ISO week such as 2014-W29, or last; got \"{}\"\n", args.week);
    return kExitUsage;
  }
  Result<report::Report> r = report::BuildReport(snap, options);
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.status().message());
    bool usage = r.status().code() == Status::Code::kInvalidArgument || r.status().code() == Status::Code::kAborted;
    return usage ? kExitUsage : kExitDamage;
  }
  std::string text = args.format == "html" ? report::RenderHtml(*r)
                     : args.format == "md" ? report::RenderMarkdown(*r)
                                           : report::RenderJson(*r);
  if (args.output.empty() || args.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  // Write beside the target and rename, so a reader never sees half a report.
  std::string tmp = args.output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out.good()) {
      fmt::print(stderr, "error: cannot write {}\n", tmp);
      std::remove(tmp.c_str());
      return kExitDamage;
    }
  }
  if (std::rename(tmp.c_str(), args.output.c_str()) != 0) {
    fmt::print(stderr, "error: cannot rename {} to {}\n", tmp, args.output);
    return kExitDamage;
  }
  fmt::print(stderr, "report for {} ({} to {}) written to {}\n", r->week, r->start, r->end, args.output);
  return kExitOk;
}

}  // namespace

void RegisterReportCommand(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand("report", "write the weekly hybrid-readiness report");
  AddIndexOption(sub, &args->index);
  sub->add_option("--week", args->week, "ISO week (2014-W29), or last: the newest full week in the index")
      ->required();
  sub->add_option("--format", args->format, "html, md or json")->capture_default_str();
  sub->add_option("-o,--output", args->output, "write to FILE instead of stdout");
  sub->add_option("--apps", args->apps, "file of trusted application URIs, one per line (default: recognised)");
  sub->add_flag("--text", args->text, "run the queries on the records' text, not their facts (to compare)");
  sub->add_option("--timeout", args->timeout,
                  "stop after this long (500ms, 30s, 5m) with a message and exit status 2");
  registry.Add(sub, [args] { return RunReportCommand(*args); });
}

}  // namespace sipdex::cli
