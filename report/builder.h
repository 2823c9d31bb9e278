#pragma once
// Builds the weekly hybrid-readiness report model from an index, by running
// the queries of report/queries/*.q (compiled into the binary) through the
// query engine. Every figure of the model carries the query text that
// produced it; nothing is computed by rescanning records outside the query
// engine.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "report/model.h"
#include "storage/index.h"

namespace sipdex::report {

struct ReportOptions {
  IsoWeek week;
  // Trusted application URIs (--apps FILE). When absent, the default rule
  // recognises them (see kDefaultAppsRule).
  std::optional<std::vector<std::string>> apps;
  std::string generated_by = "sipdex";
  // Stop with Aborted once this instant passes (--timeout); `timeout` is the
  // limit as given, for the message. Default: no limit.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  DurationMs timeout = 0;
  // Run the queries on records' facts where they allow it (query::QueryOptions::facts);
  // false forces the text path (tests compare both). Default true.
  bool facts = true;
};

// How trusted applications are recognised when --apps is not given.
inline constexpr const char* kDefaultAppsRule =
    "senders of SUBSCRIBE requests with a UCMA user agent (RTCC/...), and subscribers refused with "
    "ms-diagnostics 2157 (single, batched or in a NOTIFY); override with --apps FILE";

// The query texts by name (file name without .q), with their comment lines
// removed and `{week}` still in place.
const std::map<std::string, std::string>& ReportQueries();

// Known ms-diagnostics reasons by code (the shipped ms-diagnostics.tsv; the
// first reason listed for a code wins).
const std::map<int, std::string>& KnownDiagnostics();

// Reads an --apps file: one SIP URI per line; blank lines and lines starting
// with '#' are skipped; "bob@contoso.com" gets "sip:". InvalidArgument names
// the file and line of anything that is not a URI.
Result<std::vector<std::string>> ReadAppsFile(const std::string& path);

// The newest ISO week whose seven days all lie within the index's time span,
// or, when the index spans less than a full week, the week of its newest
// record. NotFound for an empty index.
Result<IsoWeek> LastFullWeek(const storage::IndexSnapshot& snapshot);

// Builds the report. Errors come from the query engine or storage; Aborted
// when options.deadline passes. The queries are run in a few batches (one
// pass over the week's segments each, query::RunQueries): those that depend
// on nothing, then those that need the week's applications or codes.
Result<Report> BuildReport(const storage::IndexSnapshot& snapshot, const ReportOptions& options);

}  // namespace sipdex::report
