#pragma once
// The sequence engine: `sequence by K within W [e1] [e2] ![e3] until [eU]`,
// in the spirit of Elastic EQL's `sequence by ... with maxspan`, missing
// events `![...]` and `until`.
//
// The engine consumes rows (records, or rlmi resource instances of records)
// in time order and emits one SequenceMatch per completed sequence. It never
// keeps a Record: when a row is pushed, every step predicate and the join key
// are evaluated at once, and only rows that match some step become compact
// events (time, key, caller's handle, resource index). The caller gets the
// handles of a match's events back and re-reads the records it needs (the
// executor by storage locator, tests by index).
//
// Semantics (query/README.md will document them for users):
//   * Steps are in order. A positive step `[e]` must occur; an absence step
//     `![e]` must not occur between the positive step before it and the one
//     after it, or, after the last positive step, before the window closes.
//     The first step must be positive; a trailing absence step needs a window.
//   * Join key: every event of a sequence has the same key. The key of a row is
//     the values of the `by` fields (first value of a multi-valued field; URIs
//     in NormalizeUri form; case-insensitive fields lower-cased), or what the
//     step's own KeyFunction returns (EQL's per-step `by`). A row with no value
//     for a key field has no key and takes part in no sequence.
//   * Window (`within W`, EQL's maxspan): every event of a sequence is at most
//     W after its first event (inclusive: t - t_first <= W). An absence step
//     after the last positive step holds when no matching row with the key
//     occurs in [t_last, t_first + W]. W = 0 means no window.
//   * One open partial match per key and per stage (number of positive steps
//     matched), as in EQL: a newer first-step event replaces an older partial
//     at stage 1; an event that advances stage s replaces the partial at stage
//     s + 1. An event is offered to the later stages first, so one event can
//     complete a sequence and start the next one (consecutive pairs of a
//     `[e] [e]` sequence each match). Completed sequences that wait for their
//     trailing absence step are all kept (never replaced).
//   * `until [eU]`: a row with the key that matches eU drops every open partial
//     match of that key (including those waiting for a trailing absence) and
//     is not used by any step.
//   * Absence steps are checked before positive steps: a row matching both an
//     absence step and the next positive step kills the partial match.
//   * Ties: rows with equal times are taken in push order.
//   * End of input (Finish) closes every window: sequences waiting for a
//     trailing absence step are emitted, other partial matches dropped.
//
// Time order and the reorder buffer: records of different threads and servers
// may be a few ms out of order. Events wait in a buffer (a heap ordered by
// time, then push order) until the newest time pushed so far is more than
// `reorder_ms` later; they are then processed in time order. A row more than
// reorder_ms older than the newest row pushed before it ("late": its windows
// may already have been judged) is processed at once, in push order, and
// counted in SequenceStats::late_events.
// Every pushed row advances the clock (even one matching no step), so windows
// close and memory is released as the input goes by.
//
// Memory: the state is the open partial matches, the completed sequences
// waiting for a trailing absence, and the reorder buffer; each is dropped when
// its window closes. An estimate of its bytes is kept; when it would pass
// `max_state_bytes`, Push returns ResourceExhausted and the engine stops.
//
// Thread safety: none; one engine per query.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "query/binder.h"
#include "query/evaluator.h"

namespace sipdex::query {

// Computes the join key of `row` at resource instance `resource` (-1: none)
// into *key. Returns false when the row has no key (it then takes part in no
// sequence through this step).
using KeyFunction = std::function<bool(const RowInput& row, int resource, std::string* key)>;

struct SequenceStep {
  enum class Kind : std::uint8_t { kMust, kMustNot };
  Kind kind = Kind::kMust;
  // The step's condition. Not owned; must outlive the engine.
  const BoundExpr* expr = nullptr;
  // Evaluate once per rlmi resource instance (as BoundQuery::per_resource):
  // each matching instance is its own event; a record without instances is
  // evaluated once with resource -1.
  bool per_resource = false;
  // The key of this step's events; empty: the sequence's `by` fields.
  KeyFunction key;
};

struct SequenceSpec {
  std::vector<SequenceStep> steps;         // in order; 1..62 steps, the first positive
  bool has_until = false;
  SequenceStep until;                      // when has_until (its kind is ignored)
  std::vector<BoundField> keys;            // `by` fields (record fields, header.NAME, ...)
  DurationMs within = 0;                   // window; 0 = none
  DurationMs reorder_ms = 50;              // reorder tolerance (>= 0)
  std::size_t max_state_bytes = 64u << 20; // hard cap on the estimated state
  ResponseLookup* responses = nullptr;     // for response.* in steps; may be null
};

// One event of a match: the row that satisfied a positive step.
struct SequenceEvent {
  int step = 0;               // index into SequenceSpec::steps
  TimeMs time = 0;
  std::uint64_t handle = 0;   // what the caller passed to Push for the record
  int resource = -1;          // rlmi instance index, -1 for the record itself
};

struct SequenceMatch {
  std::string key;                    // the join key (fields joined by '\x1f')
  std::vector<SequenceEvent> events;  // one per positive step, in step order
};

struct SequenceStats {
  std::uint64_t rows = 0;            // rows pushed
  std::uint64_t events = 0;          // (row, resource, key) events that matched a step or until
  std::uint64_t late_events = 0;     // events processed out of time order (see above)
  std::uint64_t matches = 0;         // sequences emitted
  std::uint64_t expired = 0;         // partial matches dropped because their window closed
  std::uint64_t cancelled = 0;       // partial matches dropped by an absence step or until
  std::size_t peak_state_bytes = 0;  // highest estimate of the state's size
};

// The steps one row matched, found without the engine's state (so on any
// thread, ahead of the engine): one entry per (resource instance, key) with
// the steps it matched. Opaque to callers: made by SequenceStepMatcher::Match,
// consumed by SequenceEngine::PushMatched.
struct SequenceRowMatch {
  struct Entry {
    int resource = -1;
    std::string key;
    std::uint64_t mask = 0;  // bit s: steps[s]; bit 63: until
  };
  TimeMs time = 0;  // the record's time
  std::vector<Entry> entries;
};

// Evaluates the steps and `until` of a spec and computes the join keys of one
// row: the stateless half of SequenceEngine::Push. Not thread-safe; make one
// per thread (several may share one spec).
class SequenceStepMatcher {
 public:
  // `spec` (normally SequenceEngine::spec()) must outlive the matcher.
  // `responses` answers response.* in steps (may be null; it is used on the
  // matcher's thread only).
  SequenceStepMatcher(const SequenceSpec& spec, ResponseLookup* responses);

  // Fills *out for `row` (its previous content is replaced). The record is
  // only read during the call; out->entries own their keys.
  // REQUIRES: row.record != nullptr.
  void Match(const RowInput& row, SequenceRowMatch* out);

 private:
  void EvalStep(const SequenceStep& step, const RowInput& row, std::uint64_t bit, SequenceRowMatch* out);
  const SequenceSpec& spec_;
  Evaluator evaluator_;
  std::string key_;
};

class SequenceEngine {
 public:
  // Checks `spec` and builds an engine. InvalidArgument when: there is no
  // step, more than 62 steps, the first step is an absence step, a step has no
  // expression, an absence step is last while within == 0, no step has a key
  // (no `by` fields and a step without KeyFunction), or reorder_ms < 0.
  static Result<std::unique_ptr<SequenceEngine>> Create(SequenceSpec spec);

  ~SequenceEngine();
  SequenceEngine(const SequenceEngine&) = delete;
  SequenceEngine& operator=(const SequenceEngine&) = delete;

  // Offers one record. `handle` is returned in the events of matches that use
  // it. The record is only read during the call.
  // Returns ResourceExhausted (and then refuses every further call with the
  // same status) when the state would pass max_state_bytes.
  // REQUIRES: row.record != nullptr; Finish() not called yet.
  Status Push(const RowInput& row, std::uint64_t handle);

  // Push in two halves: `row` is what a SequenceStepMatcher of spec() found
  // for a record (possibly on another thread); the result is exactly that of
  // Push(record, handle). Every record must be pushed, also one that matched
  // no step: it advances the clock.
  Status PushMatched(const SequenceRowMatch& row, std::uint64_t handle);

  // The spec the engine was created with.
  const SequenceSpec& spec() const;

  // End of input: processes the reorder buffer and closes every window.
  // REQUIRES: not called before.
  Status Finish();

  // Moves the matches emitted so far into *out (appended, in emission order)
  // and forgets them.
  void TakeMatches(std::vector<SequenceMatch>* out);

  const SequenceStats& stats() const;
  // Current estimate of the state's bytes.
  std::size_t state_bytes() const;

 private:
  struct Impl;
  explicit SequenceEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The key of `row` from `fields` (see above); false when a field has no value.
bool SequenceKeyFromFields(const std::vector<BoundField>& fields, const RowInput& row, int resource,
                           std::string* key);

}  // namespace sipdex::query
