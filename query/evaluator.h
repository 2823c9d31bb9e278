#pragma once
// Evaluates a bound expression over one record (storage/record.h).
//
// Per-resource semantics: a query that reads resource.* fields is evaluated
// once per rlmi resource instance of the record (other fields read the same
// record each time); the record matches when one instance does, and each
// matching instance becomes a row. A record without instances is evaluated
// once with "no instance", where every resource.* comparison is false.
//
// Multi-valued fields (diag, diag.*, header.NAME, record_route): a comparison
// holds when any value satisfies it; `!=` is `not =` (no value equals).

#include <cstdint>
#include <string_view>
#include <vector>

#include "query/binder.h"
#include "storage/record.h"

namespace sipdex::query {

// One value of a field of a row.
struct CellValue {
  bool is_number = false;
  std::int64_t number = 0;  // when is_number (integers, times in ms, booleans 0/1)
  std::string_view text;    // otherwise
};

// Finds the final response of a request (pairing by Call-ID, CSeq number and
// CSeq method; the last response with status >= 200, or without a status
// line). Implemented by the executor against the index, and by tests.
class ResponseLookup {
 public:
  virtual ~ResponseLookup() = default;
  // nullptr when `request` is not a request or no final response was logged.
  // The pointer stays valid until the next call.
  virtual const Record* FinalResponse(const Record& request) = 0;
  // Whether FinalResponse(request) would find one (`response exists`); may
  // be cheaper, as it needs no response record.
  virtual bool HasFinalResponse(const Record& request) { return FinalResponse(request) != nullptr; }
};

// What the evaluator reads for one record.
struct RowInput {
  const Record* record = nullptr;
  std::string_view file;    // source file name (the `file` field)
  std::string_view server;  // source server (the `server` field)
};

// Appends every value `field` has in `row` at resource instance `resource`
// (-1: none) to *out. `responses` may be null (response.* then has no value).
// Views point into the record (or its response) and live as long as they do.
void CollectValues(const BoundField& field, const RowInput& row, int resource, ResponseLookup* responses,
                   std::vector<CellValue>* out);

// True when `uri` (as logged) equals `normalized` (NormalizeUri form):
// scheme and host compare case-insensitively, the rest exactly.
bool UriEquals(std::string_view uri, std::string_view normalized);

class Evaluator {
 public:
  // `responses` may be null when the query does not read response.*.
  explicit Evaluator(ResponseLookup* responses = nullptr) : responses_(responses) {}

  // Whether `e` holds for `row` at resource instance `resource` (-1: none).
  bool Eval(const BoundExpr& e, const RowInput& row, int resource);

  // Whether the search of `q` matches `row`. On a match, *instances holds the
  // rows it yields: the matching resource instance indexes when q.per_resource
  // and the record has instances, else {-1}.
  bool Match(const BoundQuery& q, const RowInput& row, std::vector<int>* instances);

 private:
  bool Compare(const BoundExpr& e, const RowInput& row, int resource);
  ResponseLookup* responses_;
  std::vector<CellValue> scratch_;
};

}  // namespace sipdex::query
