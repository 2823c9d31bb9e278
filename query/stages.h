#pragma once
// The pipeline stages as row sinks. Each takes rows with known columns and
// pushes its own rows to the next sink. Memory: every stage that must hold
// state is given a byte bound. sort spills sorted runs to temporary files and
// merges them; count, top and distinct hold one entry per distinct key and
// fail with ResourceExhausted (a clear message, exit 1) beyond the bound.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "query/output.h"

namespace sipdex::query {

// Passes the first `n` rows.
std::unique_ptr<RowSink> NewLimitStage(std::int64_t n, RowSink* next);

// Keeps the cells at `indexes`, in that order.
std::unique_ptr<RowSink> NewFieldsStage(std::vector<int> indexes, RowSink* next);

// The first row of each distinct combination of the cells at `indexes`,
// projected to those cells, in order of first appearance.
std::unique_ptr<RowSink> NewDistinctStage(std::vector<int> indexes, std::size_t memory_limit, RowSink* next);

// Groups by the cells at `keys` (none: one group) and counts rows, or distinct
// values of the cell at `distinct` when it is >= 0. Emits [keys..., count]
// sorted by the keys at Finish; with no keys and no rows, one row [0].
// With top_n > 0: only the top_n groups by count (descending, then key), and
// rows without a value in the (single) key are skipped.
std::unique_ptr<RowSink> NewCountStage(std::vector<int> keys, int distinct, std::int64_t top_n,
                                       std::size_t memory_limit, RowSink* next);

// Sorts rows by the cell at `index` (no value first; numbers numerically),
// stable. Beyond `memory_limit` bytes, spills sorted runs to temporary files.
std::unique_ptr<RowSink> NewSortStage(int index, bool descending, std::size_t memory_limit, RowSink* next);

}  // namespace sipdex::query
