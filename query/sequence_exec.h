#pragma once
// Runs a `sequence` query against an index snapshot: bind, choose how to read
// (postings or a full scan, always in time order), feed the sequence engine
// (query/sequence.h), and turn every match into one row for the stages and
// output writers the other queries use.
//
// Reading: records come from IndexSnapshot::ScanTimeOrder over the time hull
// of the steps. When every step and `until` is driven by postings (see
// query/planner.h), the union of their candidates is a superset of every
// record that can be an event: only those are parsed and pushed; the others
// are skipped unparsed. Otherwise every record is parsed and pushed.
//
// Rows: one per match. Columns without a projecting stage: the keys (named as
// typed: `call_id`, `sub.target`), then for each positive step N
//   table        N.time N.server N.type N.method N.status N.call_id
//   jsonl, csv   N.<every record column of query/executor.h RecordColumns>
// (N.call_id is left out when call_id is a key). Stages name `N.field` (any
// field of step N's event), a key, or a time bucket (of step 1's event).
// `raw` prints the events' record texts back to back, match by match; `flow`
// (or `| flow`) draws each match as a ladder of its events.
//
// Errors: InvalidArgument for a bad query and for a sequence whose open
// partial matches outgrow the memory bound (QueryOptions::memory_limit): both
// are the query's fault and exit 2; Aborted (TimeoutMessage) once
// QueryOptions::deadline passes; storage errors as they come.

#include <ostream>
#include <string_view>

#include "common/status.h"
#include "query/executor.h"
#include "storage/index.h"

namespace sipdex::query {

// True when `text` starts (after white space) with the keyword `sequence`.
bool IsSequenceQuery(std::string_view text);

// Runs the sequence query `text` on `snapshot` (see above). `stats` may be
// null; stats->records_matched counts matches.
Status RunSequenceQuery(const storage::IndexSnapshot& snapshot, std::string_view text, const QueryOptions& options,
                        std::ostream* out, QueryStats* stats);

}  // namespace sipdex::query
