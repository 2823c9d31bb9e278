#pragma once
// The chain of stage sinks of a bound query (`| count by ...`, `| sort ...`),
// shared by the record executor and the sequence executor.

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "common/status.h"
#include "query/binder.h"
#include "query/output.h"

namespace sipdex::query {

// True for the stages that replace the rows' columns with their own (count,
// top, distinct, fields): stages after the first of them see its columns.
bool IsProjecting(Stage::Kind k);

// Builds one sink per stage of `stages` (flow stages have none: the writer
// draws them), in front of `writer`, and returns the first sink in *head
// (`writer` when there is no stage). column_of(field, k) is the input column of
// `field` for stage k. The sinks are appended to *owned, which must outlive
// them. InvalidArgument when a stage's column was not produced (negative).
Status BuildStageChain(const std::vector<BoundStage>& stages,
                       const std::function<int(const BoundField& field, std::size_t k)>& column_of,
                       std::size_t memory_limit, RowSink* writer,
                       std::vector<std::unique_ptr<RowSink>>* owned, RowSink** head);

}  // namespace sipdex::query
