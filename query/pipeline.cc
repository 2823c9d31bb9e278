#include "query/pipeline.h"

#include "query/stages.h"

namespace sipdex::query {

bool IsProjecting(Stage::Kind k) {
  return k == Stage::Kind::kCount || k == Stage::Kind::kTop || k == Stage::Kind::kDistinct || k == Stage::Kind::kFields;
}

Status BuildStageChain(const std::vector<BoundStage>& stages,
                       const std::function<int(const BoundField& field, std::size_t k)>& column_of,
                       std::size_t memory_limit, RowSink* writer,
                       std::vector<std::unique_ptr<RowSink>>* owned, RowSink** head) {
  RowSink* next = writer;
  for (std::size_t k = stages.size(); k-- > 0;) {
    const BoundStage& s = stages[k];
    std::vector<int> idx;
    for (const BoundField& f : s.fields) idx.push_back(column_of(f, k));
    for (int i : idx) {
      if (i < 0) return Status::InvalidArgument("error: internal: a stage column was not produced");
    }
    std::unique_ptr<RowSink> sink;
    switch (s.kind) {
      case Stage::Kind::kCount:
        sink = NewCountStage(idx, s.has_distinct ? column_of(s.distinct, k) : -1, 0, memory_limit, next);
        break;
      case Stage::Kind::kTop:
        sink = NewCountStage(idx, -1, s.number, memory_limit, next);
        break;
      case Stage::Kind::kDistinct:
        sink = NewDistinctStage(idx, memory_limit, next);
        break;
      case Stage::Kind::kFields:
        sink = NewFieldsStage(idx, next);
        break;
      case Stage::Kind::kSort:
        sink = NewSortStage(idx.at(0), s.descending, memory_limit, next);
        break;
      case Stage::Kind::kLimit:
        sink = NewLimitStage(s.number, next);
        break;
      case Stage::Kind::kFlow:
        continue;  // the writer draws it
    }
    next = sink.get();
    owned->push_back(std::move(sink));
  }
  *head = next;
  return Status::Ok();
}

}  // namespace sipdex::query
