#include "query/executor.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <unordered_map>

#include "query/binder.h"
#include "query/evaluator.h"
#include "query/planner.h"
#include "query/sequence_exec.h"
#include "query/stages.h"

namespace sipdex::query {
namespace {

using storage::IndexSnapshot;
using storage::RecordId;
using storage::StoredRecord;

constexpr std::size_t kReadChunk = 1024;  // ids per ReadRecords call (so a limit can stop early)

bool IsProjecting(Stage::Kind k) {
  return k == Stage::Kind::kCount || k == Stage::Kind::kTop || k == Stage::Kind::kDistinct || k == Stage::Kind::kFields;
}

bool IsStoredField(const BoundField& f) {
  if (f.source == FieldSource::kBucket) return true;
  if (f.source != FieldSource::kRecord) return false;
  switch (f.info->id) {
    case FieldId::kTime:
    case FieldId::kServer:
    case FieldId::kFile:
    case FieldId::kLine:
    case FieldId::kKind:
    case FieldId::kMalformed:
    case FieldId::kText:
      return true;
    default:
      return false;
  }
}

// Fills the fields a stored record carries without parsing.
void Shallow(const StoredRecord& sr, Record* r) {
  r->Clear();
  r->kind = sr.kind;
  r->malformed = sr.malformed;
  r->time = sr.time;
  r->has_time = sr.has_time;
  r->offset = sr.offset;
  r->line = sr.line;
  r->text = sr.text;
}

// Pairs requests with their final responses through the call_id postings.
// A request's dialog is found by postings; the segments holding it are
// decoded once and all their responses kept (a few segments, least recently
// used first out), since neighbouring requests mostly live in the same ones.
class ResponseCache : public ResponseLookup {
 public:
  explicit ResponseCache(const IndexSnapshot& snapshot) : snapshot_(snapshot) {}

  const Record* FinalResponse(const Record& request) override {
    if (request.type != MessageType::kRequest || request.call_id.empty()) return nullptr;
    Result<std::vector<RecordId>> ids = snapshot_.Lookup(FieldId::kCallId, request.call_id);
    if (!ids.ok()) {
      status_ = ids.status();
      return nullptr;
    }
    std::string_view method = request.cseq_method.empty() ? request.method : request.cseq_method;
    const Record* best = nullptr;
    RecordId best_id = 0;
    bool best_has_status = false;
    const auto& map = snapshot_.time_map();
    std::size_t seg = map.size();
    for (RecordId id : *ids) {
      if (seg < map.size() && id >= map[seg].first_id && id < map[seg].first_id + map[seg].count) continue;
      seg = SegmentOf(id);
      if (seg >= map.size()) continue;
      const Segment* s = Load(seg);
      if (s == nullptr) return nullptr;
      auto range = s->by_call_id.equal_range(request.call_id);
      for (auto it = range.first; it != range.second; ++it) {
        const Owned& o = *it->second;
        const Record& r = o.record;
        if (r.cseq != request.cseq || !EqualsIgnoreCase(r.cseq_method.empty() ? r.method : r.cseq_method, method)) {
          continue;
        }
        bool has_status = r.status >= 200;
        bool candidate = has_status || (r.status < 0 && !best_has_status);  // no status line: legacy answer
        if (!candidate) continue;
        if (best == nullptr || (has_status && !best_has_status) || o.id > best_id) {
          best = &r;
          best_id = o.id;
          best_has_status = has_status;
        }
      }
    }
    return best;
  }

  Status status() const { return status_; }

 private:
  static constexpr std::size_t kMaxSegments = 6;
  struct Owned {
    RecordId id = 0;
    std::string text;
    Record record;
  };
  struct Segment {
    std::size_t index = 0;
    std::deque<Owned> items;
    std::unordered_multimap<std::string_view, const Owned*> by_call_id;
  };

  std::size_t SegmentOf(RecordId id) const {
    const auto& map = snapshot_.time_map();
    auto it = std::upper_bound(map.begin(), map.end(), id,
                               [](RecordId v, const storage::SegmentInfo& s) { return v < s.first_id; });
    if (it == map.begin()) return map.size();
    --it;
    return id < it->first_id + it->count ? static_cast<std::size_t>(it - map.begin()) : map.size();
  }

  const Segment* Load(std::size_t index) {
    for (auto it = segments_.begin(); it != segments_.end(); ++it) {
      if ((*it)->index == index) {
        if (it != segments_.begin()) std::rotate(segments_.begin(), it, it + 1);
        return segments_.front().get();
      }
    }
    auto seg = std::make_unique<Segment>();
    seg->index = index;
    Status s = snapshot_.ReadSegment(snapshot_.time_map()[index].first_id, [&](const StoredRecord& sr) {
      if (sr.kind != RecordKind::kProtocol || !status_.ok()) return;
      // Cheap pre-check on the raw text: only responses are kept.
      if (sr.text.find("response") == std::string_view::npos && sr.text.find("SIP/2.0 ") == std::string_view::npos) {
        return;
      }
      Owned& o = seg->items.emplace_back();
      o.id = sr.id;
      o.text = std::string(sr.text);
      StoredRecord copy = sr;
      copy.text = o.text;
      Status ps = snapshot_.Parse(copy, &o.record);
      if (!ps.ok()) {
        status_ = ps;
        return;
      }
      if (o.record.type != MessageType::kResponse || o.record.call_id.empty()) {
        seg->items.pop_back();
        return;
      }
      seg->by_call_id.emplace(o.record.call_id, &o);
    });
    if (!s.ok()) status_ = s;
    if (!status_.ok()) return nullptr;
    segments_.insert(segments_.begin(), std::move(seg));
    if (segments_.size() > kMaxSegments) segments_.pop_back();
    return segments_.front().get();
  }

  const IndexSnapshot& snapshot_;
  std::vector<std::unique_ptr<Segment>> segments_;  // most recently used first
  Status status_;
};

Result<std::vector<RecordId>> EvalPostings(const PostingsNode& n, const IndexSnapshot& snap) {
  if (n.kind == PostingsNode::Kind::kLookup) return snap.Lookup(n.field, n.value);
  std::vector<RecordId> acc;
  for (std::size_t i = 0; i < n.children.size(); ++i) {
    Result<std::vector<RecordId>> ids = EvalPostings(n.children[i], snap);
    if (!ids.ok()) return ids.status();
    if (i == 0) {
      acc = std::move(*ids);
      continue;
    }
    std::vector<RecordId> merged;
    if (n.kind == PostingsNode::Kind::kUnion) {
      std::set_union(acc.begin(), acc.end(), ids->begin(), ids->end(), std::back_inserter(merged));
    } else {
      std::set_intersection(acc.begin(), acc.end(), ids->begin(), ids->end(), std::back_inserter(merged));
    }
    acc = std::move(merged);
  }
  return acc;
}

std::string FormatTimeCell(std::int64_t ms, const BoundField& f) {
  switch (f.bucket) {
    case TimeBucket::kDay:
      return FormatDate(ms);
    case TimeBucket::kWeek:
      return FormatIsoWeek(IsoWeekOf(ms));
    case TimeBucket::kMinute:
    case TimeBucket::kHour:
    case TimeBucket::kNone:
      break;
  }
  return FormatTime(ms);
}

OutCell ToCell(const BoundField& f, const CellValue& v) {
  if (!v.is_number) return OutCell::Text(std::string(v.text));
  if (f.source == FieldSource::kBucket || f.type == FieldType::kTime) return OutCell::Text(FormatTimeCell(v.number, f));
  if (f.type == FieldType::kBool) return OutCell::Text(v.number ? "true" : "false");
  return OutCell::Number(v.number);
}

// Fields whose postings hold exactly the records an equality matches (same
// normalisation as the evaluator, no hashing, no per-user-part case rules).
bool IsExactPostingField(FieldId id) {
  switch (id) {
    case FieldId::kStatus:
    case FieldId::kDiag:
    case FieldId::kType:
    case FieldId::kMethod:
    case FieldId::kCseqMethod:
    case FieldId::kKind:
    case FieldId::kDirection:
    case FieldId::kLevel:
    case FieldId::kFlag:
    case FieldId::kMalformed:
      return true;
    default:
      return false;
  }
}

// The postings that match exactly the records `e` matches (ignoring time
// ranges directly under the top `and`, which the caller checks per segment),
// or nullopt.
std::optional<PostingsNode> ExactPostings(const BoundExpr& e, bool top) {
  switch (e.kind) {
    case BoundExpr::Kind::kCompare: {
      if (e.field.source != FieldSource::kRecord || !e.field.info->indexed || e.field.per_resource ||
          !IsExactPostingField(e.field.info->id) || (e.op != Op::kEq && e.op != Op::kIn)) {
        return std::nullopt;
      }
      PostingsNode u;
      u.kind = PostingsNode::Kind::kUnion;
      for (const BoundValue& v : e.values) {
        PostingsNode n;
        n.field = e.field.info->id;
        n.value = v.text;
        u.children.push_back(std::move(n));
      }
      if (u.children.size() == 1) return std::move(u.children[0]);
      return u;
    }
    case BoundExpr::Kind::kAnd:
    case BoundExpr::Kind::kOr: {
      PostingsNode n;
      n.kind = e.kind == BoundExpr::Kind::kAnd ? PostingsNode::Kind::kIntersect : PostingsNode::Kind::kUnion;
      for (const auto& c : e.children) {
        if (top && e.kind == BoundExpr::Kind::kAnd && c->kind == BoundExpr::Kind::kTimeRange) continue;
        std::optional<PostingsNode> x = ExactPostings(*c, false);
        if (!x) return std::nullopt;
        n.children.push_back(std::move(*x));
      }
      if (n.children.empty()) return std::nullopt;
      if (n.children.size() == 1) return std::move(n.children[0]);
      return n;
    }
    case BoundExpr::Kind::kNot:
    case BoundExpr::Kind::kTimeRange:
      return std::nullopt;
  }
  return std::nullopt;
}

TimeMs BucketStart(TimeBucket b, TimeMs t) {
  switch (b) {
    case TimeBucket::kMinute:
      return FloorMinute(t);
    case TimeBucket::kHour:
      return FloorHour(t);
    case TimeBucket::kDay:
      return FloorDay(t);
    case TimeBucket::kWeek:
      return FloorIsoWeek(t);
    case TimeBucket::kNone:
      break;
  }
  return 0;
}

class Execution {
 public:
  Execution(const IndexSnapshot& snap, const QueryOptions& options, std::ostream* out)
      : snap_(snap), options_(options), out_(out), responses_(snap), evaluator_(&responses_) {}

  Status Run(std::string_view text, QueryStats* stats) {
    BindOptions bo;
    bo.tz_offset_ms = options_.tz_offset_ms;
    const storage::Manifest& m = snap_.manifest();
    if (m.record_count > 0 && m.max_time >= m.min_time) bo.newest_time = m.max_time;
    Result<BoundQuery> bound = ParseAndBind(text, bo);
    if (!bound.ok()) return bound.status();
    q_ = std::move(*bound);

    OutputFormat format = options_.format;
    int first_projecting = -1;
    for (std::size_t i = 0; i < q_.stages.size(); ++i) {
      if (q_.stages[i].kind == Stage::Kind::kFlow) format = OutputFormat::kFlow;
      if (first_projecting < 0 && IsProjecting(q_.stages[i].kind)) first_projecting = static_cast<int>(i);
    }
    if (first_projecting >= 0 && (format == OutputFormat::kRaw || format == OutputFormat::kFlow)) {
      return Status::InvalidArgument("error: --format " + std::string(OutputFormatName(format)) +
                                     " prints records, but this query ends in '" +
                                     q_.stages[static_cast<std::size_t>(first_projecting)].ToString() + "'");
    }
    format_ = format;
    SIPDEX_RETURN_IF_ERROR(ChooseColumns(first_projecting));
    SIPDEX_RETURN_IF_ERROR(BuildPipeline(first_projecting));

    search_needs_parse_ = q_.where && !ReadsOnlyStoredFields(*q_.where);
    output_needs_parse_ = false;
    for (const BoundField& f : column_fields_) output_needs_parse_ = output_needs_parse_ || !IsStoredField(f);
    if (q_.per_resource) search_needs_parse_ = true;
    Plan plan = MakePlan(q_, snap_, search_needs_parse_ || output_needs_parse_);

    std::vector<RecordId> ids;
    if (plan.driver) {
      Result<std::vector<RecordId>> r = EvalPostings(*plan.driver, snap_);
      if (!r.ok()) return r.status();
      ids = FilterBySegments(std::move(*r), plan);
      stats_.candidates = ids.size();
    }
    if (options_.explain) {
      *out_ << plan.ToString();
      if (plan.driver) *out_ << "candidates: " << ids.size() << " records after postings and time pruning\n";
      if (stats != nullptr) *stats = stats_;
      return Status::Ok();
    }

    Status s;
    if (!options_.explain && CountFromPostings(plan, &s)) {
      if (s.ok()) s = head_->Finish();
      stats_.rows_written = writer_->rows_written();
      if (stats != nullptr) *stats = stats_;
      return s;
    }
    if (plan.driver) {
      for (std::size_t i = 0; i < ids.size() && s.ok() && !head_->Done(); i += kReadChunk) {
        std::size_t n = std::min(kReadChunk, ids.size() - i);
        s = snap_.ReadRecords(std::span<const RecordId>(ids.data() + i, n), [&](const StoredRecord& sr) { Visit(sr); });
        if (s.ok()) s = status_;
      }
    } else {
      const auto& map = snap_.time_map();
      for (std::size_t idx : plan.segments) {
        if (!s.ok() || head_->Done()) break;
        s = snap_.ReadSegment(map[idx].first_id, [&](const StoredRecord& sr) { Visit(sr); });
        if (s.ok()) s = status_;
      }
    }
    if (s.ok()) s = responses_.status();
    if (s.ok()) s = head_->Finish();
    stats_.rows_written = writer_->rows_written();
    if (stats != nullptr) *stats = stats_;
    return s;
  }

 private:
  // `SEARCH | count [by minute|hour|day|week]` where the search is exact on
  // postings: records of segments that lie inside the time range (and inside
  // one bucket) are counted from postings without decoding; the others are
  // read and evaluated as usual. Returns false when the shape does not apply.
  bool CountFromPostings(const Plan& plan, Status* s) {
    if (!q_.where || q_.per_resource || q_.stages.size() != 1) return false;
    const BoundStage& st = q_.stages[0];
    if (st.kind != Stage::Kind::kCount || st.has_distinct || st.fields.size() > 1) return false;
    TimeBucket bucket = TimeBucket::kNone;
    if (!st.fields.empty()) {
      if (st.fields[0].source != FieldSource::kBucket) return false;
      bucket = st.fields[0].bucket;
    }
    std::optional<PostingsNode> exact = ExactPostings(*q_.where, true);
    if (!exact) return false;
    Result<std::vector<RecordId>> ids = EvalPostings(*exact, snap_);
    if (!ids.ok()) {
      *s = ids.status();
      return true;
    }
    const auto& map = snap_.time_map();
    std::vector<RecordId> slow;
    std::size_t i = 0;
    for (std::size_t idx : plan.segments) {
      const storage::SegmentInfo& seg = map[idx];
      while (i < ids->size() && (*ids)[i] < seg.first_id) ++i;
      std::size_t j = i;
      while (j < ids->size() && (*ids)[j] < seg.first_id + seg.count) ++j;
      if (j == i) continue;
      bool inside =
          seg.min_time <= seg.max_time && seg.min_time >= plan.from && seg.max_time < plan.to &&
          (bucket == TimeBucket::kNone || BucketStart(bucket, seg.min_time) == BucketStart(bucket, seg.max_time));
      if (!inside) {
        slow.insert(slow.end(), ids->begin() + static_cast<std::ptrdiff_t>(i),
                    ids->begin() + static_cast<std::ptrdiff_t>(j));
        i = j;
        continue;
      }
      Row row;
      if (bucket != TimeBucket::kNone) row.cells.push_back(ToCell(st.fields[0], CellValue{true, seg.min_time, {}}));
      for (; i < j; ++i) {
        Row r = row;
        ++stats_.records_matched;
        ++stats_.rows;
        Status ps = head_->Push(std::move(r));
        if (!ps.ok()) {
          *s = ps;
          return true;
        }
      }
    }
    stats_.candidates = ids->size();
    for (std::size_t k = 0; k < slow.size() && s->ok(); k += kReadChunk) {
      std::size_t n = std::min(kReadChunk, slow.size() - k);
      *s = snap_.ReadRecords(std::span<const RecordId>(slow.data() + k, n), [&](const StoredRecord& sr) { Visit(sr); });
      if (s->ok()) *s = status_;
    }
    return true;
  }

  // The record columns: what the output shows when no stage projects, plus
  // every field a stage reads while rows are still records.
  Status ChooseColumns(int first_projecting) {
    std::vector<std::string> names;
    if (first_projecting < 0) names = RecordColumns(format_, q_.per_resource);
    for (const std::string& n : names) {
      const FieldInfo* info = FindField(n);
      column_fields_.push_back(CatalogueField(info->id));
    }
    std::size_t record_stages =
        first_projecting < 0 ? q_.stages.size() : static_cast<std::size_t>(first_projecting) + 1;
    for (std::size_t i = 0; i < record_stages; ++i) {
      BoundStage& st = q_.stages[i];
      auto add = [&](const BoundField& f) {
        for (const BoundField& c : column_fields_) {
          if (c.name == f.name) return;
        }
        column_fields_.push_back(f);
      };
      for (const BoundField& f : st.fields) add(f);
      if (st.has_distinct) add(st.distinct);
    }
    // Multi-valued keys of the first projecting stage give one row per value.
    expand_.assign(column_fields_.size(), false);
    if (first_projecting >= 0) {
      const BoundStage& st = q_.stages[static_cast<std::size_t>(first_projecting)];
      if (st.kind != Stage::Kind::kFields) {
        auto mark = [&](const BoundField& f) {
          if (!f.multi || f.per_resource) return;
          for (std::size_t i = 0; i < column_fields_.size(); ++i) {
            if (column_fields_[i].name == f.name) expand_[i] = true;
          }
        };
        for (const BoundField& f : st.fields) mark(f);
        if (st.has_distinct) mark(st.distinct);
      }
    }
    for (const BoundField& f : column_fields_) record_columns_.push_back(f.name);
    return Status::Ok();
  }

  int RecordIndex(const BoundField& f) const {
    for (std::size_t i = 0; i < record_columns_.size(); ++i) {
      if (record_columns_[i] == f.name) return static_cast<int>(i);
    }
    return -1;
  }

  Status BuildPipeline(int first_projecting) {
    // Final columns.
    std::vector<std::string> columns = record_columns_;
    for (const BoundStage& s : q_.stages) {
      if (!s.columns.empty()) columns = s.columns;
    }
    if (format_ == OutputFormat::kFlow) {
      writer_ = NewFlowWriter(columns, out_, options_.memory_limit);
    } else {
      writer_ = NewOutputWriter(format_, columns, out_);
    }
    RowSink* next = writer_.get();
    for (std::size_t k = q_.stages.size(); k-- > 0;) {
      const BoundStage& s = q_.stages[k];
      bool on_records = first_projecting < 0 || static_cast<int>(k) <= first_projecting;
      auto index = [&](const BoundField& f) { return on_records ? RecordIndex(f) : f.column; };
      std::vector<int> idx;
      for (const BoundField& f : s.fields) idx.push_back(index(f));
      for (int i : idx) {
        if (i < 0) return Status::InvalidArgument("error: internal: a stage column was not produced");
      }
      std::unique_ptr<RowSink> sink;
      switch (s.kind) {
        case Stage::Kind::kCount:
          sink = NewCountStage(idx, s.has_distinct ? index(s.distinct) : -1, 0, options_.memory_limit, next);
          break;
        case Stage::Kind::kTop:
          sink = NewCountStage(idx, -1, s.number, options_.memory_limit, next);
          break;
        case Stage::Kind::kDistinct:
          sink = NewDistinctStage(idx, options_.memory_limit, next);
          break;
        case Stage::Kind::kFields:
          sink = NewFieldsStage(idx, next);
          break;
        case Stage::Kind::kSort:
          sink = NewSortStage(idx.at(0), s.descending, options_.memory_limit, next);
          break;
        case Stage::Kind::kLimit:
          sink = NewLimitStage(s.number, next);
          break;
        case Stage::Kind::kFlow:
          continue;  // the writer draws it
      }
      next = sink.get();
      stages_.push_back(std::move(sink));
    }
    head_ = next;
    return Status::Ok();
  }

  std::vector<RecordId> FilterBySegments(std::vector<RecordId> ids, const Plan& plan) const {
    const auto& map = snap_.time_map();
    if (plan.segments.size() == map.size()) return ids;
    std::vector<RecordId> out;
    std::size_t s = 0;
    for (RecordId id : ids) {
      while (s < plan.segments.size() && map[plan.segments[s]].first_id + map[plan.segments[s]].count <= id) {
        ++s;
      }
      if (s == plan.segments.size()) break;
      if (id >= map[plan.segments[s]].first_id) out.push_back(id);
    }
    return out;
  }

  void Visit(const StoredRecord& sr) {
    if (!status_.ok() || head_->Done()) return;
    ++stats_.records_read;
    bool parsed = false;
    if (search_needs_parse_) {
      Status s = snap_.Parse(sr, &record_);
      if (!s.ok()) {
        status_ = s;
        return;
      }
      parsed = true;
      ++stats_.records_parsed;
    } else {
      Shallow(sr, &record_);
    }
    const storage::Manifest& m = snap_.manifest();
    std::string_view file = sr.file_id < m.files.size() ? std::string_view(m.files[sr.file_id].name) : "";
    RowInput row{&record_, file, sr.server};
    if (!evaluator_.Match(q_, row, &instances_)) return;
    ++stats_.records_matched;
    if (!parsed && output_needs_parse_) {
      Status s = snap_.Parse(sr, &record_);
      if (!s.ok()) {
        status_ = s;
        return;
      }
      ++stats_.records_parsed;
    }
    for (int inst : instances_) {
      if (!EmitRows(row, inst, sr)) return;
    }
  }

  // Builds the row(s) of one record instance and pushes them. False to stop.
  bool EmitRows(const RowInput& row, int inst, const StoredRecord& sr) {
    std::vector<std::vector<OutCell>> choices(column_fields_.size());
    std::size_t combos = 1;
    for (std::size_t i = 0; i < column_fields_.size(); ++i) {
      const BoundField& f = column_fields_[i];
      values_.clear();
      CollectValues(f, row, inst, &responses_, &values_);
      if (values_.empty()) {
        choices[i].push_back(OutCell::Null());
      } else if (values_.size() == 1) {
        choices[i].push_back(ToCell(f, values_[0]));
      } else if (expand_[i]) {
        // One row per distinct value: a code in two ms-diagnostics headers counts once.
        for (const CellValue& v : values_) {
          OutCell c = ToCell(f, v);
          bool seen = false;
          for (const OutCell& o : choices[i]) seen = seen || CompareCells(o, c) == 0;
          if (!seen) choices[i].push_back(std::move(c));
        }
        combos *= choices[i].size();
      } else {
        std::string joined;
        for (const CellValue& v : values_) joined += (joined.empty() ? "" : ",") + ToCell(f, v).ToString();
        choices[i].push_back(OutCell::Text(std::move(joined)));
      }
    }
    combos = std::min<std::size_t>(combos, 4096);
    for (std::size_t c = 0; c < combos; ++c) {
      Row r;
      std::size_t rest = c;
      for (auto& ch : choices) {
        r.cells.push_back(ch[rest % ch.size()]);
        rest /= ch.size();
      }
      if (format_ == OutputFormat::kRaw) r.raw = std::string(sr.text);
      ++stats_.rows;
      Status s = head_->Push(std::move(r));
      if (!s.ok()) {
        status_ = s;
        return false;
      }
      if (head_->Done()) return false;
    }
    return true;
  }

  const IndexSnapshot& snap_;
  const QueryOptions& options_;
  std::ostream* out_;
  ResponseCache responses_;
  Evaluator evaluator_;
  BoundQuery q_;
  OutputFormat format_ = OutputFormat::kTable;
  std::vector<BoundField> column_fields_;
  std::vector<std::string> record_columns_;
  std::vector<bool> expand_;
  std::unique_ptr<RowSink> writer_;
  std::vector<std::unique_ptr<RowSink>> stages_;
  RowSink* head_ = nullptr;
  bool search_needs_parse_ = true;
  bool output_needs_parse_ = true;
  Record record_;
  std::vector<int> instances_;
  std::vector<CellValue> values_;
  Status status_;
  QueryStats stats_;
};

}  // namespace

std::vector<std::string> RecordColumns(OutputFormat format, bool per_resource) {
  std::vector<std::string> cols;
  if (format == OutputFormat::kRaw) return cols;  // raw prints the record text only
  if (format == OutputFormat::kTable) {
    cols = {"time", "server", "type", "method", "status", "from", "to", "call_id", "diag"};
  } else {
    cols = {"time", "server", "file",   "line", "kind", "type",    "direction", "peer", "method",
            "ruri", "status", "reason", "from", "to",   "call_id", "cseq",      "diag", "malformed"};
  }
  if (per_resource) {
    for (const char* c : {"resource.uri", "resource.state", "resource.status", "resource.diag"}) cols.push_back(c);
  }
  return cols;
}

Status RunQuery(const storage::IndexSnapshot& snapshot, std::string_view text, const QueryOptions& options,
                std::ostream* out, QueryStats* stats) {
  if (IsSequenceQuery(text)) return RunSequenceQuery(snapshot, text, options, out, stats);  // query/sequence_exec.h
  Execution e(snapshot, options, out);
  return e.Run(text, stats);
}

}  // namespace sipdex::query
