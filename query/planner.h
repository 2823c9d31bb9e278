#pragma once
// Bound query -> plan: which postings drive the search, which time range
// prunes segments, which segments must be decoded. `sipdex query --explain`
// prints Plan::ToString().
//
// Postings drive a search when its top level is an `and` with at least one
// equality / `in` on an indexed field (storage/schema.h), or an `or` whose
// every branch is driven. Postings are a superset filter (storage/index.h),
// so every candidate is still checked by the evaluator. Equalities on very
// common values (type, direction, kind, level, flag, component, malformed)
// only drive when nothing better is there. Without postings, the plan scans
// the segments whose time span overlaps the search's time range.

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "query/binder.h"
#include "query/output.h"
#include "storage/index.h"

namespace sipdex::query {

// A set of record ids built from postings.
struct PostingsNode {
  // kExists: every record with a value in `field` (the union of the
  // postings of every value ListValues gives; for integer codes, which have few).
  enum class Kind : std::uint8_t { kLookup, kUnion, kIntersect, kExists };
  Kind kind = Kind::kLookup;
  FieldId field = FieldId::kTime;  // kLookup, kExists
  std::string value;               // kLookup: the value as the binder normalised it
  std::vector<PostingsNode> children;

  // `call_id = "abc"`, `union(a, b)`, `intersect(a, b)`, `diag exists`.
  std::string ToString() const;
};

struct Plan {
  std::optional<PostingsNode> driver;                // nullopt: scan segments
  TimeMs from = std::numeric_limits<TimeMs>::min();  // the search only matches time in [from, to)
  TimeMs to = std::numeric_limits<TimeMs>::max();
  std::vector<std::size_t> segments;  // time_map indexes that overlap [from, to), ascending
  std::size_t total_segments = 0;
  std::uint64_t total_records = 0;
  std::uint64_t segment_records = 0;  // records in `segments`
  bool needs_parse = true;            // the search or the output reads more than the stored columns
  bool uses_response = false;         // response.* lookups by call_id
  bool on_facts = false;              // records are read as facts (storage/facts.h), not text
  bool on_tables = false;             // ... or from the record tables only (IndexSnapshot::ReadRecordTables)
  std::string facts_note;             // why not facts ("reads text: field body"); empty when on_facts
  std::string search;                 // the bound search, printed
  std::vector<std::string> stages;    // the bound stages, printed

  // Several lines for --explain.
  std::string ToString() const;
};

// Builds the plan of `q` over `snapshot`. `needs_parse` is decided by the
// executor (it knows the output format) and passed in.
Plan MakePlan(const BoundQuery& q, const storage::IndexSnapshot& snapshot, bool needs_parse);

// Whether a query runs on records' facts (storage/facts.h) rather than their
// text, and when not, why.
struct FactsVerdict {
  bool on_facts = false;
  // Fewer still: every field is kept in the segments' record tables (time,
  // server, file, kind, malformed), so neither text nor facts are decoded.
  bool on_tables = false;
  std::string why_not;  // "reads text: field body", "reads text: --format raw", ...
};

// Integer code fields (status, diag, resource.status, resource.diag): few
// distinct values, so `FIELD exists` drives on their postings; the parser
// reads them from decimal digits, so a record where one equals N holds N's
// digits in its text.
bool IsCodeField(FieldId id);
// Whether the segments' record tables hold `f` (time, server, file, kind,
// malformed, and the stages' bucket, count and column values).
bool IsTableField(const BoundField& f);
// Whether `e` reads only table fields and time ranges: it can be decided on a
// segment's record table, before the record's text or facts are decoded
// (IndexSnapshot::SearchSegment's `want`, table-only queries).
bool ReadsOnlyTableFields(const BoundExpr& e);

// Decides whether `q` runs on facts: every field its search and its stages
// read (response.FIELD and `response exists` included: they pair on call_id,
// cseq, cseq method, status and type, all facts) and every record column it
// prints (`columns`, as the executor chose them for `format`) is a fact field
// (storage::IsFactField), and `format` is not raw (which prints the text).
// Sequence queries are never on facts here.
FactsVerdict DecideFacts(const BoundQuery& q, const std::vector<BoundField>& columns, OutputFormat format);

// The [from, to) time range a search can match (the hull over `or`).
void TimeBounds(const BoundExpr& e, TimeMs* from, TimeMs* to);

// The postings that drive `e`, or nullopt. `FIELD exists` drives for the
// integer code fields (status, diag, resource.status, resource.diag): few
// distinct values, so the union of their postings is cheap.
std::optional<PostingsNode> ChooseDriver(const BoundExpr& e);

// The sorted record ids of `n` (a superset of the records its search matches).
Result<std::vector<storage::RecordId>> EvalPostings(const PostingsNode& n, const storage::IndexSnapshot& snap);

// True when every field `e` reads is kept by storage without parsing the
// record text: time, server, file, line, kind, malformed and text.
bool ReadsOnlyStoredFields(const BoundExpr& e);

}  // namespace sipdex::query
