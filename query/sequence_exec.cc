#include "query/sequence_exec.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <queue>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "query/binder.h"
#include "query/evaluator.h"
#include "query/pipeline.h"
#include "query/planner.h"
#include "query/sequence.h"

namespace sipdex::query {
namespace {

using storage::IndexSnapshot;
using storage::RecordId;
using storage::StoredRecord;

// Events of pending matches re-read at once (each segment decoded once per batch).
constexpr std::size_t kFlushEvents = 4096;
// A segment with more than 1 / kDenseSegment of its records among the
// candidates is decoded whole rather than read record by record.
constexpr std::size_t kDenseSegment = 16;
// Parts read ahead of the engine, per reader thread.
constexpr std::size_t kReadAhead = 3;
constexpr TimeMs kMinTime = std::numeric_limits<TimeMs>::min();
constexpr TimeMs kMaxTime = std::numeric_limits<TimeMs>::max();

bool MethodIs(std::string_view method, std::string_view want) {
  return EqualsIgnoreCase(method, want);
}

// The value of a subscription role (binder.h, BoundSequence) as logged, or "".
std::string_view RoleValue(BoundField::Role role, const Record& r, int resource) {
  std::string_view method = r.method.empty() ? r.cseq_method : r.method;
  bool subscribe = MethodIs(method, "SUBSCRIBE");
  bool notify = MethodIs(method, "NOTIFY") || MethodIs(method, "BENOTIFY");
  if (role == BoundField::Role::kSubscriber) {
    if (subscribe) return r.from.uri;
    if (notify) return r.to.uri;
    return {};
  }
  if (resource >= 0 && static_cast<std::size_t>(resource) < r.resources.size()) {
    return r.resources[static_cast<std::size_t>(resource)].uri;
  }
  if (subscribe) return r.to.uri;
  if (notify) return r.from.uri;
  return {};
}

// The join key of `row` (see query/sequence.h: first value of each key field,
// URIs normalised, case-insensitive fields lower-cased, parts joined by 0x1f).
bool MatchKey(const std::vector<BoundField>& keys, const RowInput& row, int resource, std::string* key) {
  key->clear();
  std::vector<CellValue> values;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const BoundField& f = keys[i];
    if (i > 0) key->push_back('\x1f');
    if (f.role != BoundField::Role::kNone) {
      std::string_view v = RoleValue(f.role, *row.record, resource);
      if (v.empty()) return false;
      key->append(NormalizeUri(v));
      continue;
    }
    values.clear();
    CollectValues(f, row, resource, nullptr, &values);
    if (values.empty()) return false;
    const CellValue& v = values.front();
    if (v.is_number) {
      key->append(std::to_string(v.number));
    } else if (f.type == FieldType::kUri) {
      key->append(NormalizeUri(v.text));
    } else if (f.case_insensitive) {
      for (char c : v.text) key->push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
    } else {
      key->append(v.text);
    }
  }
  return true;
}

OutCell ToCell(const BoundField& f, const CellValue& v) {
  if (!v.is_number) return OutCell::Text(std::string(v.text));
  if (f.source == FieldSource::kBucket) {
    if (f.bucket == TimeBucket::kDay) return OutCell::Text(FormatDate(v.number));
    if (f.bucket == TimeBucket::kWeek) return OutCell::Text(FormatIsoWeek(IsoWeekOf(v.number)));
    return OutCell::Text(FormatTime(v.number));
  }
  if (f.type == FieldType::kTime) return OutCell::Text(FormatTime(v.number));
  if (f.type == FieldType::kBool) return OutCell::Text(v.number ? "true" : "false");
  return OutCell::Number(v.number);
}

// Computes produce(k) for k = 0, 1, ... n - 1 on `threads` threads (each
// with its own State from make_state), at most `depth` items ahead of the
// consumer, which takes them in order with Take. With threads == 0, Take
// computes each item on the calling thread. The destructor stops the threads
// (items not taken are dropped).
template <typename State, typename T>
class OrderedPrefetch {
 public:
  using MakeState = std::function<std::unique_ptr<State>()>;
  using Produce = std::function<void(std::size_t k, State* state, T* out)>;

  OrderedPrefetch(std::size_t n, std::size_t threads, std::size_t depth, MakeState make_state, Produce produce)
      : n_(n), depth_(std::max<std::size_t>(depth, 1)), make_state_(std::move(make_state)),
        produce_(std::move(produce)), slots_(n) {
    threads = std::min(threads, n);
    for (std::size_t t = 0; t < threads; ++t) pool_.emplace_back([this] { Work(); });
  }
  ~OrderedPrefetch() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : pool_) t.join();
  }
  OrderedPrefetch(const OrderedPrefetch&) = delete;
  OrderedPrefetch& operator=(const OrderedPrefetch&) = delete;

  // Item k. REQUIRES: k == number of items taken so far, k < n.
  T Take(std::size_t k) {
    T out;
    if (pool_.empty()) {
      if (!inline_state_) inline_state_ = make_state_();
      produce_(k, inline_state_.get(), &out);
      return out;
    }
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return slots_[k].ready; });
      out = std::move(slots_[k].value);
      slots_[k] = Slot();
      taken_ = k + 1;
    }
    cv_.notify_all();
    return out;
  }

 private:
  struct Slot {
    bool ready = false;
    T value;
  };

  void Work() {
    std::unique_ptr<State> state = make_state_();
    for (;;) {
      std::size_t k;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || next_ >= n_ || next_ < taken_ + depth_; });
        if (stop_ || next_ >= n_) return;
        k = next_++;
      }
      T value;
      produce_(k, state.get(), &value);
      {
        std::lock_guard lock(mu_);
        slots_[k].ready = true;
        slots_[k].value = std::move(value);
      }
      cv_.notify_all();
    }
  }

  const std::size_t n_;
  const std::size_t depth_;
  MakeState make_state_;
  Produce produce_;
  std::unique_ptr<State> inline_state_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;  // guarded by mu_
  std::size_t next_ = 0;     // next item to produce; guarded by mu_
  std::size_t taken_ = 0;    // items taken; guarded by mu_
  bool stop_ = false;        // guarded by mu_
  std::vector<std::thread> pool_;
};

class SequenceExecution {
 public:
  SequenceExecution(const IndexSnapshot& snap, const QueryOptions& options, std::ostream* out)
      : snap_(snap), options_(options), out_(out) {}

  Status Run(std::string_view text, QueryStats* stats) {
    BindOptions bo;
    bo.tz_offset_ms = options_.tz_offset_ms;
    const storage::Manifest& m = snap_.manifest();
    if (m.record_count > 0 && m.max_time >= m.min_time) bo.newest_time = m.max_time;
    Result<BoundQuery> bound = ParseAndBind(text, bo);
    if (!bound.ok()) return bound.status();
    q_ = std::move(*bound);
    if (!q_.sequence) return Status::InvalidArgument("error: internal: not a sequence query");
    const BoundSequence& seq = *q_.sequence;

    format_ = options_.format;
    int first_projecting = -1;
    for (std::size_t i = 0; i < q_.stages.size(); ++i) {
      if (q_.stages[i].kind == Stage::Kind::kFlow) format_ = OutputFormat::kFlow;
      if (first_projecting < 0 && IsProjecting(q_.stages[i].kind)) first_projecting = static_cast<int>(i);
    }
    if (first_projecting >= 0 && (format_ == OutputFormat::kRaw || format_ == OutputFormat::kFlow)) {
      return Status::InvalidArgument("error: --format " + std::string(OutputFormatName(format_)) +
                                     " prints records, but this query ends in '" +
                                     q_.stages[static_cast<std::size_t>(first_projecting)].ToString() + "'");
    }
    ChooseColumns(first_projecting);
    SIPDEX_RETURN_IF_ERROR(BuildPipeline(first_projecting));

    // Time hull of the steps and drivers: records outside every step's range
    // or postings can be no event.
    TimeMs from = kMaxTime, to = kMinTime;
    bool driven = true;
    std::vector<PostingsNode> drivers;
    auto consider = [&](const BoundSequenceStep& st) {
      TimeMs f = kMinTime, t = kMaxTime;
      TimeBounds(*st.expr, &f, &t);
      from = std::min(from, f);
      to = std::max(to, t);
      std::optional<PostingsNode> d = ChooseDriver(*st.expr);
      if (d) {
        bool seen = false;
        for (const PostingsNode& o : drivers) seen = seen || o.ToString() == d->ToString();
        if (!seen) drivers.push_back(std::move(*d));
      } else {
        driven = false;
      }
    };
    for (const BoundSequenceStep& st : seq.steps) consider(st);
    if (seq.has_until) consider(seq.until);

    std::vector<RecordId> candidates;
    if (driven) {
      for (const PostingsNode& d : drivers) {
        Result<std::vector<RecordId>> ids = EvalPostings(d, snap_);
        if (!ids.ok()) return ids.status();
        std::vector<RecordId> merged;
        std::set_union(candidates.begin(), candidates.end(), ids->begin(), ids->end(), std::back_inserter(merged));
        candidates = std::move(merged);
      }
      stats_.candidates = candidates.size();
    }
    if (options_.explain) {
      *out_ << "search: " << seq.ToString() << "\n";
      *out_ << "time: [" << (from == kMinTime ? std::string("-inf") : FormatTime(from)) << ", "
            << (to == kMaxTime ? std::string("+inf") : FormatTime(to)) << ")\n";
      if (driven) {
        *out_ << "driven by postings: ";
        for (std::size_t i = 0; i < drivers.size(); ++i) *out_ << (i ? " | " : "") << drivers[i].ToString();
        *out_ << "\nreads: records in time order; only the " << candidates.size() << " candidates are parsed\n";
      } else {
        *out_ << "reads: every record in time order, each parsed (a step has no postings driver)\n";
      }
      *out_ << "memory: open partial matches up to " << (options_.memory_limit >> 20) << " MiB\n";
      for (const BoundStage& s : q_.stages) *out_ << "stage: " << s.ToString() << "\n";
      if (stats != nullptr) *stats = stats_;
      return Status::Ok();
    }

    SequenceSpec spec;
    spec.keys = seq.keys;
    spec.within = seq.within;
    spec.max_state_bytes = options_.memory_limit;
    const std::vector<BoundField>* keys = &q_.sequence->keys;
    KeyFunction key = [keys](const RowInput& row, int resource, std::string* out) {
      return MatchKey(*keys, row, resource, out);
    };
    auto step_of = [&](const BoundSequenceStep& st) {
      SequenceStep s;
      s.kind = st.absent ? SequenceStep::Kind::kMustNot : SequenceStep::Kind::kMust;
      s.expr = st.expr.get();
      s.per_resource = st.per_resource;
      s.key = key;
      return s;
    };
    for (const BoundSequenceStep& st : seq.steps) spec.steps.push_back(step_of(st));
    if (seq.has_until) {
      spec.has_until = true;
      spec.until = step_of(seq.until);
    }
    Result<std::unique_ptr<SequenceEngine>> engine = SequenceEngine::Create(std::move(spec));
    if (!engine.ok()) return Status::InvalidArgument("error: " + engine.status().message());
    engine_ = std::move(*engine);
    within_ = seq.within;
    reorder_ms_ = engine_->spec().reorder_ms;
    keep_events_ = NeedsEvents();
    for (std::size_t i = 0; i < seq.steps.size(); ++i) {
      if (!seq.steps[i].absent) positive_mask_ |= 1ull << i;
    }

    Status s = Status::Ok();
    if (driven && from < to) {
      s = ReadInTimeOrder(&candidates, from, to);
    } else if (from < to) {
      s = ReadInTimeOrder(nullptr, from, to);
    }
    if (s.ok() && !head_->Done()) {
      s = engine_->Finish();
      if (s.ok()) s = Drain(/*all=*/true);
    }
    if (s.code() == Status::Code::kResourceExhausted && s.message().starts_with("sequence:")) {
      s = Status::InvalidArgument("error: " + s.message());  // the query's fault: exit 2
    }
    if (s.ok()) s = head_->Finish();
    stats_.records_matched = matches_;
    stats_.rows_written = writer_->rows_written();
    if (stats != nullptr) *stats = stats_;
    return s;
  }

 private:
  // One output column of a match row.
  struct Column {
    BoundField field;
  };

  // A match whose row is being built: from kept records at once (Drain), or
  // by re-reading its events' records in a batch (Flush).
  struct Pending {
    SequenceMatch match;
    std::vector<OutCell> cells;
    std::vector<std::string> raw;  // per event: record text (raw) or ladder line (flow)
    std::vector<char> filled;      // per event: cells and raw done
  };

  // A copy of a record that matched a positive step, kept while a match may
  // still use it, so its row needs no re-read.
  struct Kept {
    StoredRecord Stored() const {
      StoredRecord sr = record;
      sr.text = text;
      sr.server = server;
      return sr;
    }
    StoredRecord record;  // its views are not used (see Stored)
    std::string text;
    std::string server;
  };

  // A slice of the input: the records of one segment, all of them or the
  // candidates[begin, end) that lie in it.
  struct Part {
    std::size_t segment = 0;
    bool all = false;
    std::size_t begin = 0, end = 0;
  };
  // A record read ahead of the engine: what the step matcher found in it.
  struct Matched {
    RecordId id = 0;
    TimeMs time = 0;  // stored time: the order key
    SequenceRowMatch row;
    std::unique_ptr<Kept> kept;  // when it matched a positive step and rows show events
  };
  // What a reader made of one part.
  struct PartOut {
    Status status;
    std::vector<Matched> rows;  // the part's records in [from, to), in id order
    std::uint64_t read = 0;
    std::uint64_t parsed = 0;
  };
  // What each reader thread keeps.
  struct Reader {
    explicit Reader(const SequenceSpec& spec) : matcher(spec, nullptr) {}
    SequenceStepMatcher matcher;
    Record record;
    std::uint32_t visits = 0;  // for cheap deadline checks
  };

  // The parts to read, in order of their segments' first time: every segment
  // of the time hull [from, to) when `candidates` is null, else the segments
  // holding candidates.
  std::vector<Part> MakeParts(const std::vector<RecordId>* candidates, TimeMs from, TimeMs to) const {
    const auto& map = snap_.time_map();
    std::vector<Part> parts;
    auto overlaps = [&](const storage::SegmentInfo& info) {
      return !(info.min_time <= info.max_time && (info.max_time < from || info.min_time >= to));
    };
    std::size_t i = 0;
    for (std::size_t seg = 0; seg < map.size(); ++seg) {
      const storage::SegmentInfo& info = map[seg];
      if (candidates == nullptr) {
        if (info.count > 0 && overlaps(info)) parts.push_back({seg, true, 0, 0});
        continue;
      }
      if (i >= candidates->size()) break;
      while (i < candidates->size() && (*candidates)[i] < info.first_id) ++i;
      std::size_t j = i;
      while (j < candidates->size() && (*candidates)[j] < info.first_id + info.count) ++j;
      if (j > i && overlaps(info)) parts.push_back({seg, false, i, j});
      i = j;
    }
    std::stable_sort(parts.begin(), parts.end(),
                     [&](const Part& a, const Part& b) { return map[a.segment].min_time < map[b.segment].min_time; });
    return parts;
  }

  // Reads one part on any thread: decodes its records (whole segment, or
  // point reads when few candidates), and parses and step-matches those in
  // [from, to). Reads only the snapshot, the bound query and `candidates`.
  void ReadPart(const Part& p, const std::vector<RecordId>* candidates, TimeMs from, TimeMs to, Reader* rd,
                PartOut* out) const {
    const storage::Manifest& m = snap_.manifest();
    Status inner = Status::Ok();
    auto keep = [&](const StoredRecord& sr) {
      ++out->read;
      if (!inner.ok() || sr.time < from || sr.time >= to) return;
      if ((++rd->visits & 255) == 0 && std::chrono::steady_clock::now() > options_.deadline) {
        inner = Status::Aborted(TimeoutMessage(options_.timeout));
        return;
      }
      inner = snap_.Parse(sr, &rd->record);
      if (!inner.ok()) return;
      ++out->parsed;
      std::string_view file = sr.file_id < m.files.size() ? std::string_view(m.files[sr.file_id].name) : "";
      Matched& mt = out->rows.emplace_back();
      mt.id = sr.id;
      mt.time = sr.time;
      rd->matcher.Match(RowInput{&rd->record, file, sr.server}, &mt.row);
      bool positive = false;
      for (const SequenceRowMatch::Entry& e : mt.row.entries) positive = positive || (e.mask & positive_mask_) != 0;
      if (positive && keep_events_) {
        mt.kept = std::make_unique<Kept>();
        mt.kept->record = sr;
        mt.kept->text = std::string(sr.text);
        mt.kept->server = std::string(sr.server);
      }
    };
    const storage::SegmentInfo& info = snap_.time_map()[p.segment];
    Status s;
    if (p.all) {
      s = snap_.ReadSegment(info.first_id, keep);
    } else if ((p.end - p.begin) * kDenseSegment < info.count) {
      // Few candidates: point reads.
      s = snap_.ReadRecords(std::span<const RecordId>(candidates->data() + p.begin, p.end - p.begin), keep);
    } else {
      // Many: one whole decode, skipping the others.
      std::size_t c = p.begin;
      s = snap_.ReadSegment(info.first_id, [&](const StoredRecord& sr) {
        while (c < p.end && (*candidates)[c] < sr.id) ++c;
        if (c < p.end && (*candidates)[c] == sr.id) keep(sr);
      });
    }
    out->status = s.ok() ? inner : s;
  }

  // Feeds the records of `parts` (candidates only, unless null) with time in
  // [from, to) to the engine in time order across files and servers (ties by
  // id). Parts are taken in order of their first time, and a record is pushed
  // once no part still to be taken can hold an earlier one. Reader threads
  // (QueryOptions::threads) decode, parse and step-match the next parts while
  // this thread runs the engine; at most kReadAhead parts wait ahead of it.
  // Memory: the matched rows of the parts that overlap the current instant,
  // plus the read-ahead.
  Status ReadInTimeOrder(const std::vector<RecordId>* candidates, TimeMs from, TimeMs to) {
    const auto& map = snap_.time_map();
    std::vector<Part> parts = MakeParts(candidates, from, to);
    const SequenceSpec& spec = engine_->spec();
    auto produce = [&](std::size_t k, Reader* rd, PartOut* out) { ReadPart(parts[k], candidates, from, to, rd, out); };
    std::size_t threads = static_cast<std::size_t>(std::max(options_.threads, 1));
    if (threads == 1) threads = 0;  // read on this thread
    OrderedPrefetch<Reader, PartOut> prefetch(parts.size(), threads, kReadAhead * std::max<std::size_t>(threads, 1),
                                              [&] { return std::make_unique<Reader>(spec); }, produce);
    struct Item {
      TimeMs time;
      RecordId id;
      std::size_t slot;
      std::size_t row;
    };
    auto later = [](const Item& a, const Item& b) { return a.time != b.time ? a.time > b.time : a.id > b.id; };
    std::priority_queue<Item, std::vector<Item>, decltype(later)> heap(later);
    std::unordered_map<std::size_t, std::pair<PartOut, std::size_t>> live;  // slot -> (part, rows left)
    std::size_t next = 0;
    while (true) {
      while (next < parts.size() && (heap.empty() || map[parts[next].segment].min_time <= heap.top().time)) {
        PartOut out = prefetch.Take(next);
        SIPDEX_RETURN_IF_ERROR(out.status);
        stats_.records_read += out.read;
        stats_.records_parsed += out.parsed;
        for (std::size_t r = 0; r < out.rows.size(); ++r) heap.push(Item{out.rows[r].time, out.rows[r].id, next, r});
        if (!out.rows.empty()) {
          std::size_t n = out.rows.size();
          live.emplace(next, std::make_pair(std::move(out), n));
        }
        ++next;
      }
      if (heap.empty()) return Status::Ok();
      Item top = heap.top();
      heap.pop();
      auto it = live.find(top.slot);
      Matched& mt = it->second.first.rows[top.row];
      if ((++visits_ & 255) == 0 && std::chrono::steady_clock::now() > options_.deadline) {
        return Status::Aborted(TimeoutMessage(options_.timeout));
      }
      if (mt.kept) Keep(mt.id, std::move(mt.kept));
      SIPDEX_RETURN_IF_ERROR(engine_->PushMatched(mt.row, mt.id));
      SIPDEX_RETURN_IF_ERROR(Drain(/*all=*/false));
      Forget(mt.time);
      if (head_->Done()) return Status::Ok();
      if (--it->second.second == 0) live.erase(it);
    }
  }

  // Keeps the copy of record `id` for the rows of matches to come.
  void Keep(RecordId id, std::unique_ptr<Kept> k) {
    kept_bytes_ += sizeof(Kept) + k->text.size() + k->server.size() + 64;
    kept_order_.push_back({k->record.time, id});
    kept_[id] = std::move(k);
  }

  // Drops the kept records no match can use any more once records up to
  // `newest` were pushed: a match's events lie within the window of its first,
  // and the engine has closed the windows older than newest - reorder (a
  // match of events dropped here, possible only with late records, re-reads
  // them). Also drops the oldest while they take more than a quarter of the
  // memory bound.
  void Forget(TimeMs newest) {
    const TimeMs horizon =
        within_ > 0 ? newest - reorder_ms_ - within_ : std::numeric_limits<TimeMs>::min();
    while (!kept_order_.empty() &&
           (kept_order_.front().first < horizon || kept_bytes_ > options_.memory_limit / 4)) {
      auto it = kept_.find(kept_order_.front().second);
      if (it != kept_.end() && it->second->record.time == kept_order_.front().first) {
        kept_bytes_ -= sizeof(Kept) + it->second->text.size() + it->second->server.size() + 64;
        kept_.erase(it);
      }
      kept_order_.pop_front();
    }
  }

  // Takes the engine's new matches, fills what the kept records can, and
  // hands the rows on in order once no row waits for a re-read (or enough
  // events wait: then Flush re-reads them in one batch).
  Status Drain(bool all) {
    taken_.clear();
    engine_->TakeMatches(&taken_);
    const bool needs_events = NeedsEvents();
    for (SequenceMatch& mt : taken_) {
      Pending& p = pending_.emplace_back();
      p.match = std::move(mt);
      p.cells.assign(columns_.size(), OutCell::Null());
      p.raw.assign(p.match.events.size(), std::string());
      p.filled.assign(p.match.events.size(), needs_events ? 0 : 1);
      FillKeyCells(&p);
      if (!needs_events) continue;
      for (std::size_t e = 0; e < p.match.events.size(); ++e) {
        auto it = kept_.find(p.match.events[e].handle);
        if (it == kept_.end()) {
          ++unfilled_events_;
          continue;
        }
        StoredRecord sr = it->second->Stored();
        SIPDEX_RETURN_IF_ERROR(snap_.Parse(sr, &event_record_));
        const storage::Manifest& m = snap_.manifest();
        std::string_view file = sr.file_id < m.files.size() ? std::string_view(m.files[sr.file_id].name) : "";
        FillEventCells(RowInput{&event_record_, file, sr.server}, sr, e, &p);
        p.filled[e] = 1;
      }
    }
    if (pending_.empty() || (!all && unfilled_events_ > 0 && unfilled_events_ < kFlushEvents)) return Status::Ok();
    return Flush();
  }

  // Re-reads the records of the events not filled yet, then pushes every
  // pending row into the stages.
  Status Flush() {
    // Which (match, event) uses each record.
    std::unordered_map<RecordId, std::vector<std::pair<std::size_t, std::size_t>>> uses;
    std::vector<RecordId> ids;
    for (std::size_t i = 0; i < pending_.size() && unfilled_events_ > 0; ++i) {
      Pending& p = pending_[i];
      for (std::size_t e = 0; e < p.match.events.size(); ++e) {
        if (p.filled[e]) continue;
        RecordId id = p.match.events[e].handle;
        auto& u = uses[id];
        if (u.empty()) ids.push_back(id);
        u.emplace_back(i, e);
      }
    }
    std::sort(ids.begin(), ids.end());
    Record r;
    Status inner = Status::Ok();
    Status s = snap_.ReadRecords(ids, [&](const StoredRecord& sr) {
      if (!inner.ok()) return;
      inner = snap_.Parse(sr, &r);
      if (!inner.ok()) return;
      const storage::Manifest& m = snap_.manifest();
      std::string_view file = sr.file_id < m.files.size() ? std::string_view(m.files[sr.file_id].name) : "";
      RowInput row{&r, file, sr.server};
      for (const auto& [mi, ei] : uses[sr.id]) FillEventCells(row, sr, ei, &pending_[mi]);
    });
    if (s.ok()) s = inner;
    if (!s.ok()) return s;
    for (Pending& p : pending_) {
      ++matches_;
      Row row;
      row.cells = std::move(p.cells);
      if (format_ == OutputFormat::kRaw) {
        for (const std::string& t : p.raw) row.raw += t;
      } else if (format_ == OutputFormat::kFlow) {
        row.raw = "Match " + std::to_string(matches_) + "  " + KeyText(p.match) + "  (" +
                  std::to_string(p.match.events.size()) + (p.match.events.size() == 1 ? " event)\n" : " events)\n");
        for (const std::string& l : p.raw) row.raw += l;
      }
      ++stats_.rows;
      SIPDEX_RETURN_IF_ERROR(head_->Push(std::move(row)));
      if (head_->Done()) break;
    }
    pending_.clear();
    unfilled_events_ = 0;
    return Status::Ok();
  }

  // Whether rows show anything of their events' records (else the key parts suffice).
  bool NeedsEvents() const {
    if (format_ == OutputFormat::kRaw || format_ == OutputFormat::kFlow) return true;
    for (const Column& c : columns_) {
      if (c.field.key < 0) return true;
    }
    return false;
  }

  std::vector<std::string> KeyParts(const SequenceMatch& m) const {
    std::vector<std::string> parts(1);
    for (char c : m.key) {
      if (c == '\x1f') {
        parts.emplace_back();
      } else {
        parts.back() += c;
      }
    }
    return parts;
  }

  std::string KeyText(const SequenceMatch& m) const {
    std::vector<std::string> parts = KeyParts(m);
    std::string out;
    const auto& keys = q_.sequence->keys;
    for (std::size_t i = 0; i < keys.size() && i < parts.size(); ++i) {
      out += (i ? "  " : "") + keys[i].name + " " + Printable(parts[i]);
    }
    return out;
  }

  void FillKeyCells(Pending* p) const {
    std::vector<std::string> parts = KeyParts(p->match);
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const BoundField& f = columns_[c].field;
      if (f.key < 0 || static_cast<std::size_t>(f.key) >= parts.size()) continue;
      std::string& v = parts[static_cast<std::size_t>(f.key)];
      if (f.type == FieldType::kInteger && !v.empty() && v.find_first_not_of("-0123456789") == std::string::npos) {
        p->cells[c] = OutCell::Number(std::stoll(v));
      } else {
        p->cells[c] = OutCell::Text(v);
      }
    }
  }

  void FillEventCells(const RowInput& row, const StoredRecord& sr, std::size_t event, Pending* p) {
    const SequenceEvent& ev = p->match.events[event];
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const BoundField& f = columns_[c].field;
      if (f.key >= 0 || f.step != ev.step) continue;
      if (f.role != BoundField::Role::kNone) {
        std::string_view v = RoleValue(f.role, *row.record, ev.resource);
        if (!v.empty()) p->cells[c] = OutCell::Text(std::string(v));
        continue;
      }
      values_.clear();
      CollectValues(f, row, ev.resource, nullptr, &values_);
      if (values_.size() == 1) {
        p->cells[c] = ToCell(f, values_[0]);
      } else if (values_.size() > 1) {
        std::string joined;
        for (const CellValue& v : values_) joined += (joined.empty() ? "" : ",") + ToCell(f, v).ToString();
        p->cells[c] = OutCell::Text(std::move(joined));
      }
    }
    if (format_ == OutputFormat::kRaw) {
      p->raw[event] = std::string(sr.text);
    } else if (format_ == OutputFormat::kFlow) {
      p->raw[event] = LadderLine(*row.record, row.server, ev);
    }
  }

  // One line of a match's ladder, like the flow writer's (query/output.h),
  // with the step number and the Call-ID (a match may span dialogs).
  static std::string LadderLine(const Record& r, std::string_view server, const SequenceEvent& ev) {
    std::string time = FormatTime(r.time);
    std::string arrow = r.direction == "incoming" ? "<--" : r.direction == "outgoing" ? "-->" : "---";
    std::string what;
    if (r.type == MessageType::kResponse) {
      what = r.status < 0 ? std::string("response") : std::to_string(r.status) + " " + std::string(r.reason_phrase);
      what += " (" + (r.cseq >= 0 ? std::to_string(r.cseq) : std::string()) + " " + std::string(r.method) + ")";
    } else {
      what = std::string(r.method) + " " + std::string(r.ruri);
    }
    std::string diag;
    for (const Diagnostic& d : r.diagnostics) {
      if (d.code >= 0) diag += (diag.empty() ? "" : ",") + std::to_string(d.code);
    }
    if (ev.resource >= 0 && static_cast<std::size_t>(ev.resource) < r.resources.size()) {
      const ResourceInstance& inst = r.resources[static_cast<std::size_t>(ev.resource)];
      what += "  resource " + std::string(inst.uri) + " " + std::string(inst.state);
      if (inst.diag >= 0) diag += (diag.empty() ? "" : ",") + std::to_string(inst.diag);
    }
    if (!diag.empty()) what += "  diag " + diag;
    return Printable("  [" + std::to_string(ev.step + 1) + "] " + (time.size() > 11 ? time.substr(11, 12) : time) +
                     "  " + std::string(server) + " " + arrow + " " + std::string(r.peer) + "  " + what + "  Call-ID " +
                     std::string(r.call_id)) +
           "\n";
  }

  void AddColumn(const BoundField& f) {
    for (const Column& c : columns_) {
      if (c.field.name == f.name) return;
    }
    columns_.push_back(Column{f});
  }

  void ChooseColumns(int first_projecting) {
    const BoundSequence& seq = *q_.sequence;
    if (first_projecting < 0 && format_ != OutputFormat::kRaw && format_ != OutputFormat::kFlow) {
      bool call_id_key = false;
      for (std::size_t i = 0; i < seq.keys.size(); ++i) {
        BoundField k = seq.keys[i];
        k.key = static_cast<int>(i);
        call_id_key = call_id_key || k.name == "call_id";
        AddColumn(k);
      }
      for (std::size_t s = 0; s < seq.steps.size(); ++s) {
        if (seq.steps[s].absent) continue;
        std::vector<std::string> names;
        if (format_ == OutputFormat::kTable) {
          names = {"time", "server", "type", "method", "status", "call_id"};
        } else {
          names = RecordColumns(format_, seq.steps[s].per_resource);
        }
        for (const std::string& n : names) {
          if (n == "call_id" && call_id_key) continue;
          BoundField f = CatalogueField(FindField(n)->id);
          f.step = static_cast<int>(s);
          f.name = std::to_string(s + 1) + "." + f.name;
          AddColumn(f);
        }
      }
    }
    std::size_t match_stages = first_projecting < 0 ? q_.stages.size() : static_cast<std::size_t>(first_projecting) + 1;
    for (std::size_t i = 0; i < match_stages; ++i) {
      const BoundStage& st = q_.stages[i];
      for (const BoundField& f : st.fields) AddColumn(f);
      if (st.has_distinct) AddColumn(st.distinct);
    }
    for (const Column& c : columns_) column_names_.push_back(c.field.name);
  }

  int ColumnIndex(const BoundField& f) const {
    for (std::size_t i = 0; i < column_names_.size(); ++i) {
      if (column_names_[i] == f.name) return static_cast<int>(i);
    }
    return -1;
  }

  Status BuildPipeline(int first_projecting) {
    std::vector<std::string> columns = column_names_;
    for (const BoundStage& s : q_.stages) {
      if (!s.columns.empty()) columns = s.columns;
    }
    // raw and flow print each match's prepared text (Row::raw).
    OutputFormat writer_format = format_ == OutputFormat::kFlow ? OutputFormat::kRaw : format_;
    writer_ = NewOutputWriter(writer_format, columns, out_);
    return BuildStageChain(
        q_.stages,
        [&](const BoundField& f, std::size_t k) {
          bool on_matches = first_projecting < 0 || static_cast<int>(k) <= first_projecting;
          return on_matches ? ColumnIndex(f) : f.column;
        },
        options_.memory_limit, writer_.get(), &stages_, &head_);
  }

  const IndexSnapshot& snap_;
  const QueryOptions& options_;
  std::ostream* out_;
  BoundQuery q_;
  OutputFormat format_ = OutputFormat::kTable;
  std::vector<Column> columns_;
  std::vector<std::string> column_names_;
  std::unique_ptr<RowSink> writer_;
  std::vector<std::unique_ptr<RowSink>> stages_;
  RowSink* head_ = nullptr;
  std::unique_ptr<SequenceEngine> engine_;
  std::vector<SequenceMatch> taken_;
  std::deque<Pending> pending_;
  std::size_t unfilled_events_ = 0;  // events of pending_ waiting for a re-read
  // Kept records (see Keep, Forget), by id, and (time, id) in push order.
  std::unordered_map<RecordId, std::unique_ptr<Kept>> kept_;
  std::deque<std::pair<TimeMs, RecordId>> kept_order_;
  std::size_t kept_bytes_ = 0;
  bool keep_events_ = false;        // rows show events: readers keep positive steps' records
  std::uint64_t positive_mask_ = 0;  // SequenceRowMatch::Entry::mask bits of the positive steps
  DurationMs within_ = 0;
  DurationMs reorder_ms_ = 0;
  Record event_record_;
  std::uint64_t matches_ = 0;
  std::uint32_t visits_ = 0;  // for cheap deadline checks
  std::vector<CellValue> values_;
  QueryStats stats_;
};

}  // namespace

bool IsSequenceQuery(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n' ||
                             text[i] == '\v' || text[i] == '\f')) {
    ++i;
  }
  std::string_view rest = text.substr(i);
  if (rest.size() < 8 || !EqualsIgnoreCase(rest.substr(0, 8), "sequence")) return false;
  if (rest.size() == 8) return true;
  unsigned char c = static_cast<unsigned char>(rest[8]);
  return !(std::isalnum(c) || c == '_');
}

Status RunSequenceQuery(const storage::IndexSnapshot& snapshot, std::string_view text, const QueryOptions& options,
                        std::ostream* out, QueryStats* stats) {
  SequenceExecution e(snapshot, options, out);
  return e.Run(text, stats);
}

}  // namespace sipdex::query
