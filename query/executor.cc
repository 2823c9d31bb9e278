#include "query/executor.h"

#include <algorithm>
#include <cctype>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "query/binder.h"
#include "query/evaluator.h"
#include "query/pipeline.h"
#include "query/planner.h"
#include "query/sequence_exec.h"

namespace sipdex::query {
namespace {

using storage::IndexSnapshot;
using storage::RecordId;
using storage::StoredRecord;

// Small most-recently-used lists of decoded segments (entries have an `index`).
// FindRecent moves the entry for segment `index` to the front and returns it,
// or nullptr; KeepRecent puts `entry` first and drops the oldest beyond `max`.
template <class T>
T* FindRecent(std::vector<std::unique_ptr<T>>& recent, std::size_t index) {
  for (auto it = recent.begin(); it != recent.end(); ++it) {
    if ((*it)->index == index) {
      std::rotate(recent.begin(), it, it + 1);
      return recent.front().get();
    }
  }
  return nullptr;
}
template <class T>
T* KeepRecent(std::vector<std::unique_ptr<T>>& recent, std::unique_ptr<T> entry, std::size_t max) {
  recent.insert(recent.begin(), std::move(entry));
  if (recent.size() > max) recent.pop_back();
  return recent.front().get();
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

// Copies every field the evaluator reads (query/evaluator.cc) of `in` into
// *out, which then owns its values (views into out->scratch): records read
// from the index are only valid during their callback.
void OwnRecord(const Record& in, Record* out) {
  out->Clear();
  auto keep = [&](std::string_view v) -> std::string_view {
    if (v.empty()) return {};
    return out->scratch.emplace_back(v);
  };
  auto keep_name = [&](const NameAddr& a, NameAddr* b) {
    b->display = keep(a.display);
    b->uri = keep(a.uri);
    b->user = keep(a.user);
    b->host = keep(a.host);
    b->tag = keep(a.tag);
    b->epid = keep(a.epid);
    b->present = a.present;
  };
  out->kind = in.kind;
  out->malformed = in.malformed;
  out->offset = in.offset;
  out->line = in.line;
  out->text = keep(in.text);
  out->level = keep(in.level);
  out->flag = keep(in.flag);
  out->time = in.time;
  out->has_time = in.has_time;
  out->component = keep(in.component);
  out->correlation_id = in.correlation_id;
  out->instance_id = keep(in.instance_id);
  out->direction = keep(in.direction);
  out->peer = keep(in.peer);
  out->type = in.type;
  out->method = keep(in.method);
  out->ruri = keep(in.ruri);
  out->status = in.status;
  out->reason_phrase = keep(in.reason_phrase);
  keep_name(in.from, &out->from);
  keep_name(in.to, &out->to);
  out->call_id = keep(in.call_id);
  out->sip_call_id = keep(in.sip_call_id);
  out->cseq = in.cseq;
  out->cseq_method = keep(in.cseq_method);
  out->event = keep(in.event);
  out->expires = in.expires;
  out->content_type = keep(in.content_type);
  out->user_agent = keep(in.user_agent);
  out->server_hdr = keep(in.server_hdr);
  for (std::string_view v : in.record_route) out->record_route.push_back(keep(v));
  for (const Diagnostic& d : in.diagnostics) {
    Diagnostic& c = out->diagnostics.emplace_back(d);
    c.reason = keep(d.reason);
    c.source = keep(d.source);
  }
  for (const ResourceInstance& i : in.resources) {
    ResourceInstance& c = out->resources.emplace_back(i);
    c.uri = keep(i.uri);
    c.state = keep(i.state);
    c.reason = keep(i.reason);
  }
  out->body = keep(in.body);
  out->severity = keep(in.severity);
  out->result_code = keep(in.result_code);
  out->result_text = keep(in.result_text);
}

}  // namespace

// The final-response keys of segments (ResponseCache::LoadKeys), by segment
// index, shared by threads. Keys are the same whether read from facts or text.
class ResponseKeyCache {
 public:
  using Keys = std::shared_ptr<const std::unordered_set<std::string>>;
  Keys Find(std::size_t index) {
    std::lock_guard lock(mu_);
    auto it = keys_.find(index);
    return it == keys_.end() ? nullptr : it->second;
  }
  void Keep(std::size_t index, Keys keys) {
    std::lock_guard lock(mu_);
    keys_.emplace(index, std::move(keys));
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::size_t, Keys> keys_;
};

std::shared_ptr<ResponseKeyCache> NewResponseKeyCache() { return std::make_shared<ResponseKeyCache>(); }

namespace {

// Pairs requests with their final responses through the call_id postings.
// A request's dialog is found by postings; the segments holding it are
// decoded once and all their responses kept (a few segments, least recently
// used first out), since neighbouring requests mostly live in the same ones.
class ResponseCache : public ResponseLookup {
 public:
  // `facts`: read the responses' facts (storage/facts.h) instead of parsing
  // their text (the queries read fact fields of responses only).
  // `shared_keys` (may be null) keeps the final-response keys of segments
  // for every thread and run that shares it.
  ResponseCache(const IndexSnapshot& snapshot, bool facts, ResponseKeyCache* shared_keys)
      : snapshot_(snapshot), facts_(facts), shared_keys_(shared_keys) {}

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

  // Existence only: per segment, the keys (Call-ID, CSeq number, CSeq
  // method) of its final responses, a few bytes each, so many segments stay
  // cached and no response record is kept.
  bool HasFinalResponse(const Record& request) override {
    if (request.type != MessageType::kRequest || request.call_id.empty()) return false;
    // Responses are mostly logged right after their request: its own
    // segment first, which spares the postings lookup when it holds one.
    const std::string home_key = FinalKey(request.call_id, request.cseq,
                                          request.cseq_method.empty() ? request.method : request.cseq_method);
    std::size_t home = has_current_ ? SegmentOf(current_) : snapshot_.time_map().size();
    if (home < snapshot_.time_map().size()) {
      const KeySegment* k = LoadKeys(home);
      if (k == nullptr) return false;
      if (k->keys->count(home_key) != 0) return true;
    }
    Result<std::vector<RecordId>> ids = snapshot_.Lookup(FieldId::kCallId, request.call_id);
    if (!ids.ok()) {
      status_ = ids.status();
      return false;
    }
    const std::string& key = home_key;
    const auto& map = snapshot_.time_map();
    std::size_t seg = map.size();
    for (RecordId id : *ids) {
      if (seg < map.size() && id >= map[seg].first_id && id < map[seg].first_id + map[seg].count) continue;
      seg = SegmentOf(id);
      if (seg >= map.size() || seg == home) continue;
      const KeySegment* k = LoadKeys(seg);
      if (k == nullptr) return false;
      if (k->keys->count(key) != 0) return true;
    }
    return false;
  }

  Status status() const { return status_; }
  // The record being evaluated (`response exists` looks in its segment first).
  void SetCurrent(RecordId id) {
    current_ = id;
    has_current_ = true;
  }

 private:
  static constexpr std::size_t kMaxSegments = 6;
  static constexpr std::size_t kMaxKeySegments = 64;
  struct KeySegment {
    std::size_t index = 0;
    std::shared_ptr<const std::unordered_set<std::string>> keys;  // shared with other threads and runs
  };

  static std::string FinalKey(std::string_view call_id, std::int64_t cseq, std::string_view method) {
    std::string key(call_id);
    key += '\n';
    key += std::to_string(cseq);
    key += '\n';
    for (char c : method) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return key;
  }

  // Calls fn for the protocol records of segment `index` that may be
  // responses: their facts, or their parsed text (after a cheap test on the
  // raw bytes). The record is valid during the call only.
  Status ForEachResponse(std::size_t index, const std::function<void(const StoredRecord&, const Record&)>& fn) {
    const RecordId first = snapshot_.time_map()[index].first_id;
    if (facts_) {
      return snapshot_.ReadSegmentFacts(first, [&](const StoredRecord& sr, const Record& r) {
        if (sr.kind == RecordKind::kProtocol && r.type == MessageType::kResponse) fn(sr, r);
      });
    }
    return snapshot_.ReadSegment(first, [&](const StoredRecord& sr) {
      if (sr.kind != RecordKind::kProtocol || !status_.ok()) return;
      if (sr.text.find("response") == std::string_view::npos && sr.text.find("SIP/2.0 ") == std::string_view::npos) {
        return;
      }
      Status ps = snapshot_.Parse(sr, &scratch_);
      if (!ps.ok()) {
        status_ = ps;
        return;
      }
      if (scratch_.type == MessageType::kResponse) fn(sr, scratch_);
    });
  }

  const KeySegment* LoadKeys(std::size_t index) {
    if (auto* hit = FindRecent(key_segments_, index)) return hit;
    auto seg = std::make_unique<KeySegment>();
    seg->index = index;
    if (shared_keys_ != nullptr) seg->keys = shared_keys_->Find(index);
    if (seg->keys == nullptr) {
      auto keys = std::make_shared<std::unordered_set<std::string>>();
      Status s = ForEachResponse(index, [&](const StoredRecord&, const Record& r) {
        if (r.call_id.empty() || (r.status >= 0 && r.status < 200)) return;
        keys->insert(FinalKey(r.call_id, r.cseq, r.cseq_method.empty() ? r.method : r.cseq_method));
      });
      if (!s.ok()) status_ = s;
      if (!status_.ok()) return nullptr;
      seg->keys = std::move(keys);
      if (shared_keys_ != nullptr) shared_keys_->Keep(index, seg->keys);
    }
    return KeepRecent(key_segments_, std::move(seg), kMaxKeySegments);
  }

  struct Owned {
    RecordId id = 0;
    Record record;  // owns its values (OwnRecord)
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
    if (auto* hit = FindRecent(segments_, index)) return hit;
    auto seg = std::make_unique<Segment>();
    seg->index = index;
    Status s = ForEachResponse(index, [&](const StoredRecord& sr, const Record& r) {
      if (r.call_id.empty()) return;
      Owned& o = seg->items.emplace_back();
      o.id = sr.id;
      OwnRecord(r, &o.record);
      seg->by_call_id.emplace(o.record.call_id, &o);
    });
    if (!s.ok()) status_ = s;
    if (!status_.ok()) return nullptr;
    return KeepRecent(segments_, std::move(seg), kMaxSegments);
  }

  const IndexSnapshot& snapshot_;
  const bool facts_;
  ResponseKeyCache* const shared_keys_;
  std::vector<std::unique_ptr<Segment>> segments_;  // most recently used first
  std::vector<std::unique_ptr<KeySegment>> key_segments_;  // most recently used first
  RecordId current_ = 0;
  bool has_current_ = false;
  Record scratch_;
  Status status_;
};

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

// True when `e` is a time scope, or an `and` of time scopes only.
bool IsTimeOnly(const BoundExpr& e) {
  if (e.kind == BoundExpr::Kind::kTimeRange) return true;
  if (e.kind != BoundExpr::Kind::kAnd) return false;
  for (const auto& c : e.children) {
    if (c->kind != BoundExpr::Kind::kTimeRange) return false;
  }
  return true;
}

// The name of file `file_id` in the manifest ("" when out of range).
std::string_view FileName(const storage::Manifest& m, std::uint32_t file_id) {
  return file_id < m.files.size() ? std::string_view(m.files[file_id].name) : std::string_view();
}

// Byte strings of which a record `e` matches must contain at least one
// (a cheap test on the unparsed text before parsing), or false when `e` gives
// no such guarantee.
bool RequiredLiterals(const BoundExpr& e, std::vector<std::string>* out) {
  switch (e.kind) {
    case BoundExpr::Kind::kCompare: {
      if (e.field.source == FieldSource::kRecord && e.field.info != nullptr &&
          (e.field.info->id == FieldId::kText || e.field.info->id == FieldId::kBody) && e.op == Op::kContains &&
          !e.field.case_insensitive && e.values.size() == 1) {
        // `text contains X`: the record's bytes hold X; `body contains X`
        // too (the body is a part of the record's text).
        out->push_back(e.values[0].text);
        return true;
      }
      if (e.field.source != FieldSource::kRecord || e.field.info == nullptr || !IsCodeField(e.field.info->id) ||
          (e.op != Op::kEq && e.op != Op::kIn) || e.values.empty()) {
        return false;
      }
      for (const BoundValue& v : e.values) {
        if (v.number < 0) return false;
        out->push_back(std::to_string(v.number));
      }
      return true;
    }
    case BoundExpr::Kind::kAnd:
      for (const auto& c : e.children) {
        std::vector<std::string> lits;
        if (RequiredLiterals(*c, &lits)) {
          out->insert(out->end(), lits.begin(), lits.end());
          return true;
        }
      }
      return false;
    case BoundExpr::Kind::kOr: {
      std::vector<std::string> all;
      for (const auto& c : e.children) {
        if (!RequiredLiterals(*c, &all)) return false;
      }
      std::sort(all.begin(), all.end());
      all.erase(std::unique(all.begin(), all.end()), all.end());
      out->insert(out->end(), all.begin(), all.end());
      return true;
    }
    case BoundExpr::Kind::kNot:
    case BoundExpr::Kind::kTimeRange:
      return false;
  }
  return false;
}

// What one thread keeps while it evaluates records: its own response cache
// and evaluator, and the record parsed once for every query of a batch.
struct Worker {
  // `facts`: every query of the pass runs on facts, so responses are read as facts too.
  Worker(const IndexSnapshot& snap, bool facts, ResponseKeyCache* keys)
      : responses(snap, facts, keys), evaluator(&responses) {}
  ResponseCache responses;
  Evaluator evaluator;
  Record shallow;  // stored columns only
  Record parsed;   // the full parse of `parsed_id`
  RecordId parsed_id = 0;
  bool has_parsed = false;
  Status parse_status;
  std::vector<int> instances;
  std::vector<CellValue> values;
  std::uint32_t visits = 0;  // for cheap deadline checks

  // The parsed record of `sr` (parsed at most once); nullptr on a parse error.
  const Record* Parse(const IndexSnapshot& snap, const StoredRecord& sr) {
    if (has_parsed && parsed_id == sr.id) return parse_status.ok() ? &parsed : nullptr;
    has_parsed = true;
    parsed_id = sr.id;
    parse_status = snap.Parse(sr, &parsed);
    return parse_status.ok() ? &parsed : nullptr;
  }
};

// The rows and counters one query got from one unit of work.
struct UnitOut {
  std::vector<Row> rows;
  std::uint64_t read = 0;
  std::uint64_t parsed = 0;
  std::uint64_t facts = 0;
  std::uint64_t matched = 0;
  Status status;
};

class Execution {
 public:
  Execution(const IndexSnapshot& snap, const QueryOptions& options, std::ostream* out)
      : snap_(snap), options_(options), out_(out) {}

  // Parses, binds and plans `text`, and answers what postings alone can (the
  // exact part of a count). Afterwards either finished() (explain, or
  // nothing left to read), or the pass reads scan_segments() whole and
  // ids() one by one and hands each record to Visit.
  Status Prepare(std::string_view text) {
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
    FactsVerdict facts = DecideFacts(q_, column_fields_, format_);
    on_facts_ = facts.on_facts && options_.facts;
    on_tables_ = facts.on_tables && options_.facts;
    plan.on_facts = on_facts_;
    plan.on_tables = on_tables_;
    plan.facts_note = facts.on_facts && !options_.facts ? "facts turned off by the caller" : facts.why_not;
    if (q_.where && search_needs_parse_) {
      // Conjuncts that read stored columns only are checked before parsing.
      auto stored_only = [&](const BoundExpr& e) {
        if (ReadsOnlyStoredFields(e)) cheap_.push_back(&e);
      };
      if (q_.where->kind == BoundExpr::Kind::kAnd) {
        for (const auto& c : q_.where->children) stored_only(*c);
      }
    }
    if (q_.where) {
      std::vector<std::string> literals;
      if (RequiredLiterals(*q_.where, &literals)) literals_ = std::move(literals);
      if (q_.where->kind == BoundExpr::Kind::kAnd) {
        for (const auto& c : q_.where->children) {
          if (ReadsOnlyTableFields(*c)) table_only_.push_back(c.get());
        }
      } else if (ReadsOnlyTableFields(*q_.where)) {
        table_only_.push_back(q_.where.get());
      }
    }

    if (plan.driver) {
      Result<std::vector<RecordId>> r = EvalPostings(*plan.driver, snap_);
      if (!r.ok()) return r.status();
      ids_ = FilterBySegments(std::move(*r), plan);
      stats_.candidates = ids_.size();
    } else {
      scan_segments_ = plan.segments;
    }
    if (options_.explain) {
      *out_ << plan.ToString();
      if (plan.driver) *out_ << "candidates: " << ids_.size() << " records after postings and time pruning\n";
      if (CountShape()) {
        *out_ << "count: from " << (IsTimeOnly(*q_.where) ? "the time map" : "exact postings")
              << " and, for segments straddling the time range or a bucket, their record tables (no text decoded)\n";
      }
      finished_ = true;
      return Status::Ok();
    }
    Status s;
    if (CountFromPostings(plan, &s)) SIPDEX_RETURN_IF_ERROR(s);
    if (ids_.empty() && scan_segments_.empty()) finished_ = true;
    return Status::Ok();
  }

  bool finished() const { return finished_; }
  // True when the search requires literals, so a whole segment can be
  // searched for them chunk by chunk (ReadCandidates) instead of read.
  bool SearchesText() const { return !literals_.empty(); }
  // Calls fn for the records of the segment starting at `first_id` whose text
  // holds a required literal and whose table columns pass the conjuncts that
  // read only those (IndexSnapshot::SearchSegment): the records Visit could
  // match, without making the others into records. REQUIRES: SearchesText().
  Status ReadCandidates(RecordId first_id, Worker* w, const std::function<void(const StoredRecord&)>& fn) const {
    std::function<bool(const StoredRecord&)> want;
    if (!table_only_.empty()) {
      want = [&](const StoredRecord& sr) {
        Shallow(sr, &w->shallow);
        const storage::Manifest& m = snap_.manifest();
        std::string_view file = FileName(m, sr.file_id);
        RowInput row{&w->shallow, file, sr.server};
        for (const BoundExpr* e : table_only_) {
          if (!w->evaluator.Eval(*e, row, -1)) return false;
        }
        return true;
      };
    }
    return snap_.SearchSegment(first_id, literals_, want, fn);
  }
  const std::vector<std::size_t>& scan_segments() const { return scan_segments_; }
  const std::vector<RecordId>& ids() const { return ids_; }
  // True once the stages need no more rows (a limit was reached).
  bool Done() const { return head_->Done(); }
  // True when the records are read as facts (query/planner.h, DecideFacts).
  bool on_facts() const { return on_facts_; }
  // True when the records' tables alone answer (no text, no facts): then on_facts() too.
  bool on_tables() const { return on_tables_; }

  // Evaluates one record on `w`'s thread; its rows go to *out. `facts` is
  // the record's facts when the pass read facts, else null (the pass read
  // text: `sr.text`). Thread-safe: reads only the bound query and the snapshot.
  void Visit(const StoredRecord& sr, const Record* facts, Worker* w, UnitOut* out) const {
    if (!out->status.ok()) return;
    ++out->read;
    if (on_facts_ && !on_tables_) {
      VisitFacts(sr, facts, w, out);
      return;
    }
    // Below: the text path, and the tables path (which reads the stored columns only).
    // The text must hold a required literal: the cheapest test, first.
    if (!literals_.empty()) {
      bool any = false;
      for (const std::string& lit : literals_) {
        any = any || memmem(sr.text.data(), sr.text.size(), lit.data(), lit.size()) != nullptr;
      }
      if (!any) return;
    }
    Shallow(sr, &w->shallow);
    const storage::Manifest& m = snap_.manifest();
    std::string_view file = FileName(m, sr.file_id);
    RowInput row{&w->shallow, file, sr.server};
    for (const BoundExpr* e : cheap_) {
      if (!w->evaluator.Eval(*e, row, -1)) return;
    }
    bool parsed = false;
    if (search_needs_parse_) {
      const Record* r = w->Parse(snap_, sr);
      if (r == nullptr) {
        out->status = w->parse_status;
        return;
      }
      row.record = r;
      parsed = true;
      ++out->parsed;
    }
    w->responses.SetCurrent(sr.id);
    if (!w->evaluator.Match(q_, row, &w->instances)) return;
    ++out->matched;
    if (!parsed && output_needs_parse_) {
      const Record* r = w->Parse(snap_, sr);
      if (r == nullptr) {
        out->status = w->parse_status;
        return;
      }
      row.record = r;
      ++out->parsed;
    }
    Emit(row, sr, w, out);
  }

  // Take's counterpart for a unit: the matched record's rows.
  void Emit(const RowInput& row, const StoredRecord& sr, Worker* w, UnitOut* out) const {
    for (int inst : w->instances) EmitRows(row, inst, sr, w, out);
    if (!w->responses.status().ok()) out->status = w->responses.status();
  }

  // Visit for a query on facts: `facts`, or, when another query of the batch
  // made the pass read text, the parsed record (a superset of the facts).
  void VisitFacts(const StoredRecord& sr, const Record* facts, Worker* w, UnitOut* out) const {
    if (facts == nullptr) {
      facts = w->Parse(snap_, sr);
      if (facts == nullptr) {
        out->status = w->parse_status;
        return;
      }
      ++out->parsed;
    } else {
      ++out->facts;
    }
    const storage::Manifest& m = snap_.manifest();
    std::string_view file = FileName(m, sr.file_id);
    RowInput row{facts, file, sr.server};
    w->responses.SetCurrent(sr.id);
    if (!w->evaluator.Match(q_, row, &w->instances)) return;
    ++out->matched;
    Emit(row, sr, w, out);
  }

  // Pushes one unit's rows into the stages (calling thread only).
  Status Take(UnitOut&& u) {
    SIPDEX_RETURN_IF_ERROR(u.status);
    stats_.records_read += u.read;
    stats_.records_parsed += u.parsed;
    stats_.records_facts_read += u.facts;
    stats_.records_matched += u.matched;
    for (Row& r : u.rows) {
      if (head_->Done()) break;
      ++stats_.rows;
      SIPDEX_RETURN_IF_ERROR(head_->Push(std::move(r)));
    }
    return Status::Ok();
  }

  // Flushes the stages (unless `failed`: a count of what was read so far
  // would be a wrong answer) and reports the stats.
  Status Finish(QueryStats* stats, bool failed = false) {
    Status s;
    if (!options_.explain && !failed && head_ != nullptr) s = head_->Finish();
    if (writer_) stats_.rows_written = writer_->rows_written();
    if (stats != nullptr) *stats = stats_;
    return s;
  }

 private:
  // `SEARCH | count [by minute|hour|day|week]` where the search is exact on
  // postings (or only a time scope): records of segments that lie inside the
  // time range (and inside one bucket) are counted from postings (or the time
  // map) without decoding; the others are left to the pass. Returns false
  // when the shape does not apply.
  // True when CountFromPostings answers the query.
  bool CountShape() const {
    if (!q_.where || q_.per_resource || q_.stages.size() != 1) return false;
    const BoundStage& st = q_.stages[0];
    if (st.kind != Stage::Kind::kCount || st.has_distinct || st.fields.size() > 1) return false;
    if (!st.fields.empty() && st.fields[0].source != FieldSource::kBucket) return false;
    return IsTimeOnly(*q_.where) || ExactPostings(*q_.where, true).has_value();
  }

  bool CountFromPostings(const Plan& plan, Status* s) {
    if (!CountShape()) return false;
    const BoundStage& st = q_.stages[0];
    TimeBucket bucket = st.fields.empty() ? TimeBucket::kNone : st.fields[0].bucket;
    const bool time_only = IsTimeOnly(*q_.where);
    std::vector<RecordId> exact_ids;
    if (!time_only) {
      std::optional<PostingsNode> exact = ExactPostings(*q_.where, true);
      if (!exact) return false;
      Result<std::vector<RecordId>> ids = EvalPostings(*exact, snap_);
      if (!ids.ok()) {
        *s = ids.status();
        return true;
      }
      exact_ids = std::move(*ids);
      stats_.candidates = exact_ids.size();
    }
    const auto& map = snap_.time_map();
    std::vector<RecordId> slow;
    std::size_t i = 0;
    for (std::size_t idx : plan.segments) {
      const storage::SegmentInfo& seg = map[idx];
      std::size_t j = i;
      std::uint64_t n = seg.count;
      if (!time_only) {
        while (i < exact_ids.size() && exact_ids[i] < seg.first_id) ++i;
        j = i;
        while (j < exact_ids.size() && exact_ids[j] < seg.first_id + seg.count) ++j;
        n = j - i;
      }
      if (n == 0) continue;
      bool inside =
          seg.min_time <= seg.max_time && seg.min_time >= plan.from && seg.max_time < plan.to &&
          (bucket == TimeBucket::kNone || BucketStart(bucket, seg.min_time) == BucketStart(bucket, seg.max_time));
      if (!inside) {
        if (time_only) {
          for (RecordId id = seg.first_id; id < seg.first_id + seg.count; ++id) slow.push_back(id);
        } else {
          slow.insert(slow.end(), exact_ids.begin() + static_cast<std::ptrdiff_t>(i),
                      exact_ids.begin() + static_cast<std::ptrdiff_t>(j));
        }
        i = j;
        continue;
      }
      Row row;
      if (bucket != TimeBucket::kNone) {
        row.cells.push_back(ToCell(st.fields[0], CellValue{true, BucketStart(bucket, seg.min_time), {}}));
      }
      stats_.records_matched += n;
      stats_.rows += n;
      Status ps = head_->PushMany(std::move(row), n);
      if (!ps.ok()) {
        *s = ps;
        return true;
      }
      i = j;
    }
    if (!slow.empty()) {
      // The records of segments that straddle the range or a bucket: their
      // times come from the segments' record tables (no text is decoded).
      // The postings are exact (or there are none: a time scope only), so
      // only the time scope is left to check;
      // [plan.from, plan.to) is exactly the intersection of the top-level
      // time scopes (ExactPostings admits no other time condition).
      std::map<TimeMs, std::uint64_t> buckets;
      Status rs = snap_.ReadRecordTables(slow, [&](const StoredRecord& r) {
        if (r.time < plan.from || r.time >= plan.to) return;
        ++buckets[bucket == TimeBucket::kNone ? 0 : BucketStart(bucket, r.time)];
      });
      if (!rs.ok()) {
        *s = rs;
        return true;
      }
      stats_.records_tables_read += slow.size();
      for (const auto& [start, n] : buckets) {
        Row row;
        if (bucket != TimeBucket::kNone) row.cells.push_back(ToCell(st.fields[0], CellValue{true, start, {}}));
        stats_.records_matched += n;
        stats_.rows += n;
        Status ps = head_->PushMany(std::move(row), n);
        if (!ps.ok()) {
          *s = ps;
          return true;
        }
      }
      slow.clear();
    }
    ids_ = std::move(slow);
    scan_segments_.clear();
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
    return BuildStageChain(
        q_.stages,
        [&](const BoundField& f, std::size_t k) {
          bool on_records = first_projecting < 0 || static_cast<int>(k) <= first_projecting;
          return on_records ? RecordIndex(f) : f.column;
        },
        options_.memory_limit, writer_.get(), &stages_, &head_);
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

  // Builds the row(s) of one record instance into out->rows.
  void EmitRows(const RowInput& row, int inst, const StoredRecord& sr, Worker* w, UnitOut* out) const {
    std::vector<std::vector<OutCell>> choices(column_fields_.size());
    std::size_t combos = 1;
    for (std::size_t i = 0; i < column_fields_.size(); ++i) {
      const BoundField& f = column_fields_[i];
      w->values.clear();
      CollectValues(f, row, inst, &w->responses, &w->values);
      if (w->values.empty()) {
        choices[i].push_back(OutCell::Null());
      } else if (w->values.size() == 1) {
        choices[i].push_back(ToCell(f, w->values[0]));
      } else if (expand_[i]) {
        // One row per distinct value: a code in two ms-diagnostics headers counts once.
        for (const CellValue& v : w->values) {
          OutCell c = ToCell(f, v);
          bool seen = false;
          for (const OutCell& o : choices[i]) seen = seen || CompareCells(o, c) == 0;
          if (!seen) choices[i].push_back(std::move(c));
        }
        combos *= choices[i].size();
      } else {
        std::string joined;
        for (const CellValue& v : w->values) joined += (joined.empty() ? "" : ",") + ToCell(f, v).ToString();
        choices[i].push_back(OutCell::Text(std::move(joined)));
      }
    }
    combos = std::min<std::size_t>(combos, 4096);
    for (std::size_t c = 0; c < combos; ++c) {
      Row& r = out->rows.emplace_back();
      std::size_t rest = c;
      for (auto& ch : choices) {
        r.cells.push_back(ch[rest % ch.size()]);
        rest /= ch.size();
      }
      if (format_ == OutputFormat::kRaw) r.raw = std::string(sr.text);
    }
  }

  const IndexSnapshot& snap_;
  const QueryOptions& options_;
  std::ostream* out_;
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
  bool on_facts_ = false;
  bool on_tables_ = false;
  std::vector<const BoundExpr*> cheap_;  // stored-only conjuncts, tried before parsing
  std::vector<std::string> literals_;    // the text must hold one of these (empty: no test), tried first
  std::vector<const BoundExpr*> table_only_;  // conjuncts on table columns only, decided before decoding
  bool finished_ = false;
  std::vector<std::size_t> scan_segments_;  // read whole
  std::vector<RecordId> ids_;               // read one by one (ascending)
  QueryStats stats_;
};

// One unit of a pass: a segment, read whole when a query scans it, else only
// the candidate records of the queries that want some of it.
struct Unit {
  std::size_t segment = 0;
  bool whole = false;
  std::vector<RecordId> ids;  // the union of the wanted ids (when !whole)
  struct Part {
    std::size_t query = 0;
    bool whole = false;        // every record of the segment
    std::size_t begin = 0;     // else ids()[begin, end) of that query
    std::size_t end = 0;
  };
  std::vector<Part> parts;
};

std::vector<Unit> MakeUnits(const IndexSnapshot& snap, const std::vector<Execution*>& queries) {
  const auto& map = snap.time_map();
  std::vector<std::size_t> seg_cursor(queries.size(), 0), id_cursor(queries.size(), 0);
  std::vector<Unit> units;
  for (std::size_t idx = 0; idx < map.size(); ++idx) {
    const storage::SegmentInfo& seg = map[idx];
    const RecordId end_id = seg.first_id + seg.count;
    Unit u;
    u.segment = idx;
    for (std::size_t q = 0; q < queries.size(); ++q) {
      const Execution& e = *queries[q];
      if (e.finished()) continue;
      const auto& segs = e.scan_segments();
      std::size_t& sc = seg_cursor[q];
      while (sc < segs.size() && segs[sc] < idx) ++sc;
      if (sc < segs.size() && segs[sc] == idx) {
        u.whole = true;
        u.parts.push_back({q, true, 0, 0});
        continue;
      }
      const auto& ids = e.ids();
      std::size_t& ic = id_cursor[q];
      while (ic < ids.size() && ids[ic] < seg.first_id) ++ic;
      std::size_t b = ic;
      while (ic < ids.size() && ids[ic] < end_id) ++ic;
      if (ic > b) u.parts.push_back({q, false, b, ic});
    }
    if (u.parts.empty()) continue;
    if (!u.whole) {
      for (const Unit::Part& p : u.parts) {
        const auto& ids = queries[p.query]->ids();
        std::size_t mid = u.ids.size();
        u.ids.insert(u.ids.end(), ids.begin() + static_cast<std::ptrdiff_t>(p.begin),
                     ids.begin() + static_cast<std::ptrdiff_t>(p.end));
        std::inplace_merge(u.ids.begin(), u.ids.begin() + static_cast<std::ptrdiff_t>(mid), u.ids.end());
      }
      u.ids.erase(std::unique(u.ids.begin(), u.ids.end()), u.ids.end());
    }
    units.push_back(std::move(u));
  }
  return units;
}

// Reads one unit and evaluates its records for every query that wants them.
// `done[q]` tells which queries need no more rows.
std::vector<UnitOut> RunUnit(const IndexSnapshot& snap, const Unit& u, const std::vector<Execution*>& queries,
                             const std::vector<char>& done, const QueryOptions& options, Worker* w,
                             Status* status) {
  std::vector<UnitOut> outs(queries.size());
  const storage::SegmentInfo& seg = snap.time_map()[u.segment];
  Status s;
  // Queries answered by the record tables read them on their own; the others
  // share one read: of facts when all of them run on facts, else of text.
  for (bool tables : {true, false}) {
    std::vector<std::size_t> parts;  // indexes into u.parts
    bool whole = false, facts = true;
    for (std::size_t i = 0; i < u.parts.size(); ++i) {
      const Execution& e = *queries[u.parts[i].query];
      if (e.on_tables() != tables) continue;
      parts.push_back(i);
      whole = whole || u.parts[i].whole;
      facts = facts && e.on_facts();
    }
    if (parts.empty()) continue;
    std::vector<RecordId> ids;  // what to read when not the whole segment
    if (whole && tables) {
      ids.resize(seg.count);
      for (std::uint32_t i = 0; i < seg.count; ++i) ids[i] = seg.first_id + i;
    } else if (!whole) {
      if (parts.size() == u.parts.size()) {
        ids = u.ids;
      } else {
        for (std::size_t i : parts) {
          const auto& qids = queries[u.parts[i].query]->ids();
          std::size_t mid = ids.size();
          ids.insert(ids.end(), qids.begin() + static_cast<std::ptrdiff_t>(u.parts[i].begin),
                     qids.begin() + static_cast<std::ptrdiff_t>(u.parts[i].end));
          std::inplace_merge(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(mid), ids.end());
        }
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      }
    }
    std::vector<std::size_t> cursor(parts.size());
    for (std::size_t k = 0; k < parts.size(); ++k) cursor[k] = u.parts[parts[k]].begin;
    Status stop;
    auto visit = [&](const StoredRecord& sr, const Record* record) {
      if (!stop.ok()) return;
      if ((++w->visits & 255) == 0 && std::chrono::steady_clock::now() > options.deadline) {
        stop = Status::Aborted(TimeoutMessage(options.timeout));
        return;
      }
      for (std::size_t k = 0; k < parts.size(); ++k) {
        const Unit::Part& p = u.parts[parts[k]];
        if (!p.whole) {
          const auto& qids = queries[p.query]->ids();
          if (cursor[k] >= p.end || qids[cursor[k]] != sr.id) continue;
          ++cursor[k];
        }
        if (done[p.query]) continue;
        queries[p.query]->Visit(sr, record, w, &outs[p.query]);
      }
    };
    // A segment read whole for a single query that requires literals is
    // searched for them chunk by chunk: records without one are never built.
    const Execution* search = whole && parts.size() == 1 && queries[u.parts[parts[0]].query]->SearchesText()
                                  ? queries[u.parts[parts[0]].query]
                                  : nullptr;
    if (tables) {
      s = snap.ReadRecordTables(ids, [&](const StoredRecord& sr) { visit(sr, nullptr); });
    } else if (facts) {
      auto fn = [&](const StoredRecord& sr, const Record& r) { visit(sr, &r); };
      s = whole ? snap.ReadSegmentFacts(seg.first_id, fn) : snap.ReadFacts(ids, fn);
    } else {
      auto fn = [&](const StoredRecord& sr) { visit(sr, nullptr); };
      s = search != nullptr ? search->ReadCandidates(seg.first_id, w, fn)
          : whole           ? snap.ReadSegment(seg.first_id, fn)
                            : snap.ReadRecords(ids, fn);
      // Every record of the segment was decoded (QueryStats::records_read),
      // though only those holding a literal were visited.
      if (search != nullptr) outs[u.parts[parts[0]].query].read = seg.count;
    }
    if (s.ok()) s = stop;
    if (!s.ok()) break;
  }
  *status = s;
  w->has_parsed = false;  // the parsed record points into text that is gone
  return outs;
}

// Feeds every unit to the queries, `options.threads` units at a time, and
// hands the rows to each query in unit (id) order on the calling thread.
Status RunPass(const IndexSnapshot& snap, const std::vector<Execution*>& queries, const QueryOptions& options) {
  if (std::chrono::steady_clock::now() > options.deadline) return Status::Aborted(TimeoutMessage(options.timeout));
  std::vector<Unit> units = MakeUnits(snap, queries);
  std::vector<char> done(queries.size(), 0);
  const bool facts = std::all_of(queries.begin(), queries.end(), [](const Execution* e) { return e->on_facts(); });
  // Final-response keys: the caller's cache, else one for this pass's threads.
  std::shared_ptr<ResponseKeyCache> own_keys = options.response_keys ? nullptr : NewResponseKeyCache();
  ResponseKeyCache* keys = options.response_keys ? options.response_keys.get() : own_keys.get();
  auto take = [&](std::vector<UnitOut>& outs) -> Status {
    for (std::size_t q = 0; q < queries.size(); ++q) {
      if (done[q]) continue;
      SIPDEX_RETURN_IF_ERROR(queries[q]->Take(std::move(outs[q])));
      if (queries[q]->Done()) done[q] = 1;
    }
    return Status::Ok();
  };
  const std::size_t threads =
      std::min<std::size_t>(static_cast<std::size_t>(std::max(options.threads, 1)), units.size());
  if (threads <= 1) {
    Worker w(snap, facts, keys);
    for (const Unit& u : units) {
      if (std::all_of(done.begin(), done.end(), [](char d) { return d != 0; })) break;
      if (std::chrono::steady_clock::now() > options.deadline) return Status::Aborted(TimeoutMessage(options.timeout));
      Status s;
      std::vector<UnitOut> outs = RunUnit(snap, u, queries, done, options, &w, &s);
      SIPDEX_RETURN_IF_ERROR(s);
      SIPDEX_RETURN_IF_ERROR(take(outs));
    }
    return Status::Ok();
  }

  // Workers take units in order; the calling thread consumes them in order.
  // At most `window` units are evaluated ahead of the consumer (memory bound).
  const std::size_t window = 2 * threads;
  struct Slot {
    bool ready = false;
    Status status;
    std::vector<UnitOut> outs;
  };
  std::vector<Slot> slots(units.size());
  std::mutex mu;
  std::condition_variable cv;
  std::size_t next = 0, consumed = 0;
  bool stop = false;
  std::vector<char> done_shared = done;  // guarded by mu; copied by workers per unit
  auto work = [&] {
    Worker w(snap, facts, keys);
    for (;;) {
      std::size_t k;
      std::vector<char> done_now;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || next >= units.size() || next < consumed + window; });
        if (stop || next >= units.size()) return;
        k = next++;
        done_now = done_shared;
      }
      Status s;
      std::vector<UnitOut> outs = RunUnit(snap, units[k], queries, done_now, options, &w, &s);
      {
        std::lock_guard lock(mu);
        slots[k].ready = true;
        slots[k].status = std::move(s);
        slots[k].outs = std::move(outs);
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(work);
  Status result;
  for (std::size_t k = 0; k < units.size() && result.ok(); ++k) {
    Slot slot;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return slots[k].ready; });
      slot = std::move(slots[k]);
    }
    result = slot.status;
    if (result.ok()) result = take(slot.outs);
    if (result.ok() && std::chrono::steady_clock::now() > options.deadline) {
      result = Status::Aborted(TimeoutMessage(options.timeout));
    }
    bool all_done = std::all_of(done.begin(), done.end(), [](char d) { return d != 0; });
    {
      std::lock_guard lock(mu);
      consumed = k + 1;
      done_shared = done;
      if (!result.ok() || all_done) stop = true;
    }
    cv.notify_all();
    if (all_done) break;
  }
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  for (std::thread& t : pool) t.join();
  return result;
}

}  // namespace

std::string TimeoutMessage(DurationMs timeout) {
  return "query stopped: it ran longer than --timeout " + FormatDuration(timeout);
}

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
  Status s = e.Prepare(text);
  if (!s.ok()) return s;
  if (!e.finished()) s = RunPass(snapshot, {&e}, options);
  Status f = e.Finish(stats, !s.ok());
  return s.ok() ? f : s;
}

Status RunQueries(const storage::IndexSnapshot& snapshot, std::span<BatchQuery> queries,
                  const QueryOptions& options) {
  std::vector<std::unique_ptr<std::ostringstream>> outs;
  std::vector<std::unique_ptr<Execution>> execs;
  std::vector<Execution*> pass;
  std::vector<std::size_t> index;  // queries[index[i]] is pass[i]
  for (std::size_t i = 0; i < queries.size(); ++i) {
    BatchQuery& b = queries[i];
    if (options.explain || IsSequenceQuery(b.text)) {
      std::ostringstream o;
      SIPDEX_RETURN_IF_ERROR(RunQuery(snapshot, b.text, options, &o, &b.stats));
      b.output = o.str();
      continue;
    }
    outs.push_back(std::make_unique<std::ostringstream>());
    execs.push_back(std::make_unique<Execution>(snapshot, options, outs.back().get()));
    SIPDEX_RETURN_IF_ERROR(execs.back()->Prepare(b.text));
    pass.push_back(execs.back().get());
    index.push_back(i);
  }
  SIPDEX_RETURN_IF_ERROR(RunPass(snapshot, pass, options));
  for (std::size_t i = 0; i < pass.size(); ++i) {
    SIPDEX_RETURN_IF_ERROR(pass[i]->Finish(&queries[index[i]].stats));
    queries[index[i]].output = outs[i]->str();
  }
  return Status::Ok();
}

}  // namespace sipdex::query
