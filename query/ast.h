#pragma once
// The syntax tree of a query, as typed: names are not resolved and values are
// not converted yet (that is the binder's job). Every node keeps the byte
// offset and length of the text it came from, so later stages (binder,
// planner) can point a caret at the exact place of an error.
//
// Every node prints itself with ToString() in a canonical form (keywords lower
// case, single spaces, and/or groups in parentheses) that parses back to the
// same tree; tests compare that text.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sipdex::query {

// A span of the query text.
struct SourceSpan {
  std::size_t offset = 0;  // byte offset of the first character
  std::size_t length = 0;  // bytes
};

// A field as typed: `status`, `from.uri`, `header.ms-diagnostics`,
// `header."x-ms-foo"`, `response.status`, `response`, `day`.
struct FieldRef {
  std::string name;            // lower case path before any header part ("from.uri", "header", "response")
  std::string header;          // for header.NAME: NAME as typed (quotes removed); empty otherwise
  bool header_quoted = false;  // header."NAME" form
  bool header_form = false;    // typed as header.NAME (a plain `header` is not)
  int step = 0;                // N of a sequence step field `N.field` (1-based); 0 otherwise
  SourceSpan span;             // the whole reference, `N.` included

  bool IsHeader() const { return header_form; }
  std::string ToString() const;
};

// A value as typed. Quoted strings are unescaped (\" -> ", \\ -> \).
struct Value {
  enum class Kind : std::uint8_t { kBare, kQuoted };
  Kind kind = Kind::kBare;
  std::string text;
  SourceSpan span;

  // Bare words print as typed; quoted strings print quoted and escaped.
  std::string ToString() const;
};

enum class Op : std::uint8_t {
  kEq,        // =
  kNe,        // !=
  kLt,        // <
  kLe,        // <=
  kGt,        // >
  kGe,        // >=
  kGlob,      // ~   (glob, case-insensitive)
  kRegex,     // =~  (RE2, unanchored)
  kContains,  // contains
  kIn,        // in (v, ...)
  kExists,    // exists
};
std::string_view OpName(Op op);  // "=", "!=", ..., "contains", "in", "exists"

enum class TimeScopeKind : std::uint8_t { kSince, kUntil, kBetween, kLast, kOn, kWeek };
std::string_view TimeScopeName(TimeScopeKind k);  // "since", ..., "week"

// A boolean expression node. One struct for every kind keeps the tree easy to
// walk; which members are meaningful depends on `kind`.
struct Expr {
  enum class Kind : std::uint8_t { kAnd, kOr, kNot, kPredicate, kTimeScope };
  Kind kind = Kind::kPredicate;
  SourceSpan span;

  // kAnd, kOr: two or more children; kNot: one child.
  std::vector<std::unique_ptr<Expr>> children;

  // kPredicate: field op value / field in (values) / field exists.
  FieldRef field;
  Op op = Op::kEq;
  std::vector<Value> values;  // one for comparisons, one or more for `in`, none for `exists`

  // kTimeScope: values holds one time/duration/week (two for `between`).
  TimeScopeKind scope = TimeScopeKind::kSince;

  std::string ToString() const;
};

// One `| stage` of the pipeline.
struct Stage {
  enum class Kind : std::uint8_t { kCount, kTop, kDistinct, kFields, kSort, kLimit, kFlow };
  Kind kind = Kind::kCount;
  SourceSpan span;

  std::vector<FieldRef> fields;  // count: the `by` keys; distinct/fields: the list; top/sort: one field
  bool has_distinct = false;     // count distinct FIELD
  FieldRef distinct;             // count distinct: the counted field
  std::int64_t number = 0;       // top N, limit N
  SourceSpan number_span;
  bool descending = false;  // sort ... desc

  std::string ToString() const;
};

// One step of a sequence: `[expr]` (an event that must occur) or `![expr]`
// (an event that must not occur in the window).
struct SequenceStepNode {
  bool absent = false;
  std::unique_ptr<Expr> expr;
  SourceSpan span;  // from '[' or '![' to ']'

  std::string ToString() const;
};

// `sequence by K, ... [within D] step step ... [until step]`.
struct Sequence {
  SourceSpan span;
  std::vector<FieldRef> keys;  // the `by` fields, in order
  bool has_within = false;
  Value within;  // the duration as typed
  std::vector<SequenceStepNode> steps;
  bool has_until = false;
  SequenceStepNode until;

  std::string ToString() const;
};

// A whole query: `search | stage | stage ...`, where the search is either an
// expression (`where`) or a sequence (`sequence`); exactly one is set.
struct Query {
  std::string text;                    // the query as typed (positions point into it)
  std::unique_ptr<Expr> where;         // the search expression
  std::unique_ptr<Sequence> sequence;  // or the sequence
  std::vector<Stage> stages;

  std::string ToString() const;
};

}  // namespace sipdex::query
