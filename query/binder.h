#pragma once
// Syntax tree -> bound query: field names resolved against storage/schema.h,
// values converted to the field's type (numbers, times with --tz, durations,
// normalised SIP URIs, compiled RE2 patterns), time scopes turned into time
// ranges, and each stage checked against the columns it receives.
//
// Semantics fixed here (query/README.md documents them for users):
//   * `a != v` is `not (a = v)`: for multi-valued fields (diag, header.X,
//     record_route) it means "no value equals v".
//   * a comparison on a field the record does not have is false.
//   * time scopes are half-open: since T = time >= T, until T = time < T,
//     between A and B = [A, B), on D = the day [D, D+1d), week W = Monday 00:00
//     to the next Monday, last D = (newest - D, newest] where newest is the
//     newest record time in the index.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "query/ast.h"
#include "query/parser.h"
#include "storage/schema.h"

namespace re2 {
class RE2;
}

namespace sipdex::query {

// Where a bound field's values come from.
enum class FieldSource : std::uint8_t {
  kRecord,          // a catalogue field of the record itself
  kHeader,          // header.NAME: every header line with that name
  kResponse,        // response.FIELD: the field of the request's final response
  kResponseExists,  // `response` (only with `exists`)
  kBucket,          // minute/hour/day/week of the record time (count by keys only)
  kCount,           // the `count` column an aggregation stage produced
  kColumn,          // a column produced by an earlier fields/distinct/count stage
};

enum class TimeBucket : std::uint8_t { kNone, kMinute, kHour, kDay, kWeek };

struct BoundField {
  FieldSource source = FieldSource::kRecord;
  const FieldInfo* info = nullptr;  // kRecord, kResponse
  std::string header;               // kHeader: the name as typed
  TimeBucket bucket = TimeBucket::kNone;
  int column = -1;  // kColumn, kCount: index into the incoming columns
  FieldType type = FieldType::kString;
  bool multi = false;
  bool per_resource = false;
  bool case_insensitive = false;  // values compare ignoring ASCII case (methods, hosts, states, ...)
  std::string name;               // canonical name, also the output column name ("from.uri", "header.Via")
  SourceSpan span;
  // Sequence queries only (never seen by the evaluator):
  int step = -1;  // the step (0-based index into BoundSequence::steps) of an `N.field`; -1 otherwise
  // A subscription role (sub.subscriber / sub.target, see BoundSequence); kNone for catalogue fields.
  enum class Role : std::uint8_t { kNone, kSubscriber, kTarget } role = Role::kNone;
  int key = -1;  // the sequence key column this field names (by position); -1 otherwise
};

struct BoundValue {
  std::int64_t number = 0;  // kInteger, kTime (ms), kBool (0/1)
  std::string text;         // kString (lower-cased when case-insensitive), kUri (normalised)
  std::string typed;        // the value as typed (for postings lookups and printing)
};

struct BoundExpr {
  enum class Kind : std::uint8_t { kAnd, kOr, kNot, kCompare, kTimeRange };
  Kind kind = Kind::kCompare;
  SourceSpan span;
  std::vector<std::unique_ptr<BoundExpr>> children;  // kAnd, kOr (2+), kNot (1)

  // kCompare
  BoundField field;
  Op op = Op::kEq;
  std::vector<BoundValue> values;
  std::shared_ptr<const re2::RE2> pattern;  // kGlob (anchored, case-insensitive) and kRegex

  // kTimeRange: time in [from, to)
  TimeMs from = 0;
  TimeMs to = 0;

  // True when this node or a child reads a per-resource field.
  bool UsesResources() const;
  // True when this node or a child reads response.* or `response exists`.
  bool UsesResponse() const;
  std::string ToString() const;
};

struct BoundStage {
  Stage::Kind kind = Stage::Kind::kCount;
  std::vector<BoundField> fields;  // count keys; top field; distinct/fields/sort fields
  bool has_distinct = false;
  BoundField distinct;
  std::int64_t number = 0;
  bool descending = false;
  // The columns this stage outputs (empty: it passes records through).
  std::vector<std::string> columns;
  std::string ToString() const;
};

// A bound `sequence` (query/sequence.h runs it). Keys are catalogue fields,
// header.NAME, or the two subscription roles, which are computed per event:
//   sub.subscriber  who subscribes: From of a SUBSCRIBE request or response,
//                   To of a NOTIFY/BENOTIFY request or response;
//   sub.target      whom it is about: the rlmi resource instance (resource.uri)
//                   when the event is one, else To of a SUBSCRIBE request or
//                   response, From of a NOTIFY/BENOTIFY.
// A step is evaluated per rlmi instance when its condition or a key reads
// resource.* or sub.target.
struct BoundSequenceStep {
  bool absent = false;
  std::unique_ptr<BoundExpr> expr;
  bool per_resource = false;
  SourceSpan span;
};

struct BoundSequence {
  std::vector<BoundField> keys;  // role != kNone for sub.subscriber / sub.target
  DurationMs within = 0;         // 0: no window
  std::vector<BoundSequenceStep> steps;
  bool has_until = false;
  BoundSequenceStep until;
  std::string ToString() const;
};

struct BoundQuery {
  std::unique_ptr<BoundExpr> where;
  std::unique_ptr<BoundSequence> sequence;  // set for sequence queries (then `where` is null)
  std::vector<BoundStage> stages;
  // Rows are resource instances rather than records: the search reads a
  // resource.* field, or a stage reads one while rows are still records.
  bool per_resource = false;
  // The search uses `last`; `newest` is the time it counted back from.
  bool uses_last = false;
  std::string ToString() const;
};

struct BindOptions {
  // Added to times typed without a zone ('Z' wins): --tz as an offset from UTC.
  DurationMs tz_offset_ms = 0;
  // The newest record time in the index (for `last D`); nullopt for an empty
  // index, where `last D` matches nothing.
  std::optional<TimeMs> newest_time;
};

// Parses a --tz value: "UTC", "Z", "+02:00", "-0500", "+2". InvalidArgument otherwise.
Result<DurationMs> ParseTimeZone(std::string_view zone);

// Binds `query`. On failure returns InvalidArgument whose message is the
// formatted error (QueryError::Format against query.text) and fills *error.
Result<BoundQuery> Bind(const Query& query, const BindOptions& options, QueryError* error = nullptr);

// Parse + Bind.
Result<BoundQuery> ParseAndBind(std::string_view text, const BindOptions& options, QueryError* error = nullptr);

// A bound record field for a catalogue entry (used for output columns).
BoundField CatalogueField(FieldId id);

// The catalogue name nearest to `name` (Damerau-Levenshtein distance at most
// 2 and less than the name's length), or "" when none is that close.
std::string NearestFieldName(std::string_view name);
// The same over the catalogue and `extra` names.
std::string NearestName(std::string_view name, std::initializer_list<std::string_view> extra);
// The same with the names only a sequence knows (sub.subscriber, sub.target).
std::string NearestSequenceFieldName(std::string_view name);

// The most steps a sequence may have.
inline constexpr std::size_t kMaxSequenceSteps = 62;

// "sip:Bob@Contoso.COM;transport=tls" -> "sip:Bob@contoso.com;transport=tls":
// scheme and host lower case, user part kept; "bob@contoso.com" gets "sip:".
std::string NormalizeUri(std::string_view uri);

}  // namespace sipdex::query
