#include "query/sequence.h"

#include <algorithm>
#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>

namespace sipdex::query {

namespace {

constexpr int kMaxSteps = 62;
constexpr std::uint64_t kUntilBit = 1ull << 63;

// A row that matched at least one step (or until), waiting in the reorder
// buffer or being processed.
struct Event {
  TimeMs time = 0;
  std::uint64_t ordinal = 0;  // push order: breaks ties between equal times
  std::uint64_t handle = 0;
  int resource = -1;
  std::uint64_t mask = 0;  // bit s: matches steps[s]; kUntilBit: matches until
  std::string key;
};

struct LaterEvent {
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.ordinal > b.ordinal;
  }
};

struct Partial {
  TimeMs first = 0;
  std::vector<SequenceEvent> events;  // the positive steps matched so far
};

// The open state of one key: partials by stage (index = positive steps
// matched; index 0 unused) and completed sequences waiting for the window of
// their trailing absence step to close.
struct KeyState {
  std::vector<std::optional<Partial>> stages;
  std::vector<Partial> waiting;
  bool Empty() const {
    if (!waiting.empty()) return false;
    for (const auto& p : stages) {
      if (p) return false;
    }
    return true;
  }
};

struct Deadline {
  TimeMs at = 0;
  std::string key;
  bool operator>(const Deadline& o) const { return at > o.at; }
};

std::size_t PartialBytes(const Partial& p) {
  return sizeof(Partial) + p.events.capacity() * sizeof(SequenceEvent);
}

}  // namespace

bool SequenceKeyFromFields(const std::vector<BoundField>& fields, const RowInput& row, int resource, std::string* key) {
  key->clear();
  std::vector<CellValue> values;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    values.clear();
    CollectValues(fields[i], row, resource, nullptr, &values);
    if (values.empty()) return false;
    if (i > 0) key->push_back('\x1f');
    const CellValue& v = values.front();
    if (v.is_number) {
      key->append(std::to_string(v.number));
    } else if (fields[i].type == FieldType::kUri) {
      key->append(NormalizeUri(v.text));
    } else if (fields[i].case_insensitive) {
      for (char c : v.text) key->push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
    } else {
      key->append(v.text);
    }
  }
  return true;
}

SequenceStepMatcher::SequenceStepMatcher(const SequenceSpec& spec, ResponseLookup* responses)
    : spec_(spec), evaluator_(responses) {}

void SequenceStepMatcher::Match(const RowInput& row, SequenceRowMatch* out) {
  out->time = row.record->time;
  out->entries.clear();
  for (std::size_t s = 0; s < spec_.steps.size(); ++s) EvalStep(spec_.steps[s], row, 1ull << s, out);
  if (spec_.has_until) EvalStep(spec_.until, row, kUntilBit, out);
}

void SequenceStepMatcher::EvalStep(const SequenceStep& step, const RowInput& row, std::uint64_t bit,
                                   SequenceRowMatch* out) {
  auto add = [&](int resource) {
    bool keyed = step.key ? step.key(row, resource, &key_) : SequenceKeyFromFields(spec_.keys, row, resource, &key_);
    if (!keyed) return;
    for (SequenceRowMatch::Entry& e : out->entries) {
      if (e.resource == resource && e.key == key_) {
        e.mask |= bit;
        return;
      }
    }
    out->entries.push_back({resource, key_, bit});
  };
  const Record& r = *row.record;
  if (step.per_resource && !r.resources.empty()) {
    for (int i = 0; i < static_cast<int>(r.resources.size()); ++i) {
      if (evaluator_.Eval(*step.expr, row, i)) add(i);
    }
  } else if (evaluator_.Eval(*step.expr, row, -1)) {
    add(-1);
  }
}

struct SequenceEngine::Impl {
  SequenceSpec spec;
  SequenceStepMatcher matcher;
  std::vector<int> positive;               // step indexes of the positive steps, in order
  std::vector<std::uint64_t> absent_mask;  // [c]: absence steps watched by a partial at stage c (1..P)
  int stages = 0;                          // P = positive.size()

  std::priority_queue<Event, std::vector<Event>, LaterEvent> buffer;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines;
  std::unordered_map<std::string, KeyState> keys;
  std::vector<SequenceMatch> matches;
  SequenceStats stats;
  std::size_t bytes = 0;
  bool has_time = false;
  TimeMs newest = 0;  // newest record time pushed
  TimeMs judged = 0;  // windows ending before this were closed: older events are late
  bool any_judged = false;
  std::uint64_t ordinal = 0;
  Status failed = Status::Ok();
  bool finished = false;
  SequenceRowMatch scratch;  // Push's matched row

  explicit Impl(SequenceSpec s) : spec(std::move(s)), matcher(spec, spec.responses) {}

  KeyState& State(const std::string& key) {
    auto it = keys.find(key);
    if (it != keys.end()) return it->second;
    KeyState& st = keys[key];
    st.stages.resize(static_cast<std::size_t>(stages));
    bytes += sizeof(KeyState) + key.size() + 64 + st.stages.capacity() * sizeof(std::optional<Partial>);
    return st;
  }

  void EraseIfEmpty(std::unordered_map<std::string, KeyState>::iterator it) {
    if (!it->second.Empty()) return;
    bytes -= sizeof(KeyState) + it->first.size() + 64 + it->second.stages.capacity() * sizeof(std::optional<Partial>);
    keys.erase(it);
  }

  void Emit(const std::string& key, Partial&& p) {
    SequenceMatch m;
    m.key = key;
    m.events = std::move(p.events);
    matches.push_back(std::move(m));
    stats.matches++;
  }

  // A sequence whose positive steps are all matched.
  void Complete(const std::string& key, KeyState& st, Partial&& p) {
    if (absent_mask[static_cast<std::size_t>(stages)] != 0) {
      bytes += PartialBytes(p);
      st.waiting.push_back(std::move(p));
    } else {
      Emit(key, std::move(p));
    }
  }

  // Closes the windows of `key` that ended before `now`.
  void ExpireKey(const std::string& key, TimeMs now) {
    auto it = keys.find(key);
    if (it == keys.end() || spec.within <= 0) return;
    KeyState& st = it->second;
    for (auto& p : st.stages) {
      if (p && p->first + spec.within < now) {
        bytes -= PartialBytes(*p);
        p.reset();
        stats.expired++;
      }
    }
    if (!st.waiting.empty()) {
      std::vector<Partial> keep;
      for (Partial& p : st.waiting) {
        if (p.first + spec.within < now) {
          bytes -= PartialBytes(p);
          Emit(key, std::move(p));
        } else {
          keep.push_back(std::move(p));
        }
      }
      st.waiting = std::move(keep);
    }
    EraseIfEmpty(it);
  }

  void ExpireUpTo(TimeMs now) {
    while (!deadlines.empty() && deadlines.top().at < now) {
      Deadline d = deadlines.top();
      deadlines.pop();
      bytes -= sizeof(Deadline) + d.key.size();
      ExpireKey(d.key, now);
    }
  }

  void AddDeadline(const std::string& key, TimeMs at) {
    if (spec.within <= 0) return;
    bytes += sizeof(Deadline) + key.size();
    deadlines.push({at, key});
  }

  void Process(Event& e) {
    ExpireUpTo(e.time);
    if (e.mask & kUntilBit) {
      auto it = keys.find(e.key);
      if (it == keys.end()) return;
      KeyState& st = it->second;
      for (auto& p : st.stages) {
        if (p) {
          bytes -= PartialBytes(*p);
          p.reset();
          stats.cancelled++;
        }
      }
      for (Partial& p : st.waiting) bytes -= PartialBytes(p);
      stats.cancelled += st.waiting.size();
      st.waiting.clear();
      EraseIfEmpty(it);
      return;
    }
    auto it = keys.find(e.key);
    if (it != keys.end()) {
      KeyState& st = it->second;
      // Absence steps first: a watched event kills the partial match.
      for (int c = 1; c < stages; ++c) {
        auto& p = st.stages[static_cast<std::size_t>(c)];
        if (p && (e.mask & absent_mask[static_cast<std::size_t>(c)]) != 0) {
          bytes -= PartialBytes(*p);
          p.reset();
          stats.cancelled++;
        }
      }
      if (!st.waiting.empty() && (e.mask & absent_mask[static_cast<std::size_t>(stages)]) != 0) {
        for (Partial& p : st.waiting) bytes -= PartialBytes(p);
        stats.cancelled += st.waiting.size();
        st.waiting.clear();
      }
      // Later stages first, so one event can complete a sequence and start the next.
      for (int c = stages - 1; c >= 1; --c) {
        auto& slot = st.stages[static_cast<std::size_t>(c)];
        int step = positive[static_cast<std::size_t>(c)];
        if (!slot || (e.mask & (1ull << step)) == 0) continue;
        if (spec.within > 0 && e.time - slot->first > spec.within) continue;
        Partial p = std::move(*slot);
        slot.reset();
        bytes -= PartialBytes(p);
        p.events.push_back({step, e.time, e.handle, e.resource});
        if (c + 1 == stages) {
          Complete(e.key, st, std::move(p));
        } else {
          auto& next = st.stages[static_cast<std::size_t>(c + 1)];
          if (next) bytes -= PartialBytes(*next);
          bytes += PartialBytes(p);
          next = std::move(p);
        }
      }
      if ((e.mask & (1ull << positive[0])) == 0) {
        EraseIfEmpty(it);
        return;
      }
    } else if ((e.mask & (1ull << positive[0])) == 0) {
      return;
    }
    KeyState& st = State(e.key);
    Partial p;
    p.first = e.time;
    p.events.reserve(static_cast<std::size_t>(stages));
    p.events.push_back({positive[0], e.time, e.handle, e.resource});
    AddDeadline(e.key, e.time + spec.within);
    if (stages == 1) {
      Complete(e.key, st, std::move(p));
    } else {
      auto& slot = st.stages[1];
      if (slot) bytes -= PartialBytes(*slot);
      bytes += PartialBytes(p);
      slot = std::move(p);
    }
    auto again = keys.find(e.key);
    if (again != keys.end()) EraseIfEmpty(again);
  }

  void Release(TimeMs watermark, bool all) {
    while (!buffer.empty() && (all || buffer.top().time < watermark)) {
      Event e = buffer.top();
      buffer.pop();
      bytes -= sizeof(Event) + e.key.size();
      Process(e);
    }
    if (!all) {
      ExpireUpTo(watermark);
      judged = any_judged ? std::max(judged, watermark) : watermark;
      any_judged = true;
    }
  }

  Status CheckCap() {
    stats.peak_state_bytes = std::max(stats.peak_state_bytes, bytes);
    if (bytes <= spec.max_state_bytes) return Status::Ok();
    failed = Status::ResourceExhausted(
        "sequence: open partial matches need more than " +
        (spec.max_state_bytes >= (1u << 20) ? std::to_string(spec.max_state_bytes >> 20) + " MiB"
                                            : std::to_string(spec.max_state_bytes >> 10) + " KiB") +
        " (" + std::to_string(keys.size()) + " keys open); make the first step more selective or the window shorter");
    return failed;
  }
};

Result<std::unique_ptr<SequenceEngine>> SequenceEngine::Create(SequenceSpec spec) {
  if (spec.steps.empty()) return Status::InvalidArgument("sequence: a sequence needs at least one step");
  if (spec.steps.size() > static_cast<std::size_t>(kMaxSteps)) {
    return Status::InvalidArgument("sequence: at most 62 steps");
  }
  if (spec.steps.front().kind != SequenceStep::Kind::kMust) {
    return Status::InvalidArgument("sequence: the first step must be an event that occurs, not ![...]");
  }
  if (spec.steps.back().kind == SequenceStep::Kind::kMustNot && spec.within <= 0) {
    return Status::InvalidArgument("sequence: an absence step ![...] at the end needs 'within'");
  }
  if (spec.reorder_ms < 0) return Status::InvalidArgument("sequence: reorder_ms must be >= 0");
  bool all_keyed = true;
  for (const SequenceStep& s : spec.steps) {
    if (s.expr == nullptr) return Status::InvalidArgument("sequence: a step has no expression");
    if (!s.key && spec.keys.empty()) all_keyed = false;
  }
  if (spec.has_until) {
    if (spec.until.expr == nullptr) return Status::InvalidArgument("sequence: 'until' has no expression");
    if (!spec.until.key && spec.keys.empty()) all_keyed = false;
  }
  if (!all_keyed) return Status::InvalidArgument("sequence: every step needs a key ('by' fields)");

  auto impl = std::make_unique<Impl>(std::move(spec));
  const auto& steps = impl->spec.steps;
  for (int i = 0; i < static_cast<int>(steps.size()); ++i) {
    if (steps[static_cast<std::size_t>(i)].kind == SequenceStep::Kind::kMust) impl->positive.push_back(i);
  }
  impl->stages = static_cast<int>(impl->positive.size());
  impl->absent_mask.assign(static_cast<std::size_t>(impl->stages) + 1, 0);
  for (int c = 1; c <= impl->stages; ++c) {
    int from = impl->positive[static_cast<std::size_t>(c - 1)] + 1;
    int to = c < impl->stages ? impl->positive[static_cast<std::size_t>(c)] : static_cast<int>(steps.size());
    for (int i = from; i < to; ++i) impl->absent_mask[static_cast<std::size_t>(c)] |= 1ull << i;
  }
  return std::unique_ptr<SequenceEngine>(new SequenceEngine(std::move(impl)));
}

SequenceEngine::SequenceEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SequenceEngine::~SequenceEngine() = default;

Status SequenceEngine::Push(const RowInput& row, std::uint64_t handle) {
  Impl& m = *impl_;
  if (!m.failed.ok()) return m.failed;
  if (m.finished) return Status::InvalidArgument("sequence: Push after Finish");
  m.matcher.Match(row, &m.scratch);
  return PushMatched(m.scratch, handle);
}

Status SequenceEngine::PushMatched(const SequenceRowMatch& row, std::uint64_t handle) {
  Impl& m = *impl_;
  if (!m.failed.ok()) return m.failed;
  if (m.finished) return Status::InvalidArgument("sequence: Push after Finish");
  m.stats.rows++;
  for (const SequenceRowMatch::Entry& en : row.entries) {
    Event e;
    e.time = row.time;
    e.ordinal = m.ordinal++;
    e.handle = handle;
    e.resource = en.resource;
    e.mask = en.mask;
    e.key = en.key;
    m.stats.events++;
    if (m.any_judged && e.time < m.judged) {
      m.stats.late_events++;
      m.Process(e);
    } else {
      m.bytes += sizeof(Event) + e.key.size();
      m.buffer.push(std::move(e));
    }
  }
  if (!m.has_time || row.time > m.newest) m.newest = row.time;
  m.has_time = true;
  m.Release(m.newest - m.spec.reorder_ms, false);
  return m.CheckCap();
}

const SequenceSpec& SequenceEngine::spec() const {
  return impl_->spec;
}

Status SequenceEngine::Finish() {
  Impl& m = *impl_;
  if (!m.failed.ok()) return m.failed;
  if (m.finished) return Status::InvalidArgument("sequence: Finish called twice");
  m.finished = true;
  m.Release(0, true);
  // End of input closes every window; what waits for a trailing absence step
  // is emitted in the time order of its first event (not in hash order).
  std::size_t first_new = m.matches.size();
  for (auto& [key, st] : m.keys) {
    for (auto& p : st.stages) {
      if (p) m.stats.expired++;
    }
    for (Partial& p : st.waiting) m.Emit(key, std::move(p));
  }
  std::sort(m.matches.begin() + static_cast<std::ptrdiff_t>(first_new), m.matches.end(),
            [](const SequenceMatch& a, const SequenceMatch& b) {
              const SequenceEvent& x = a.events.front();
              const SequenceEvent& y = b.events.front();
              return x.time != y.time ? x.time < y.time : (x.handle != y.handle ? x.handle < y.handle : a.key < b.key);
            });
  m.keys.clear();
  m.deadlines = {};
  m.bytes = 0;
  return Status::Ok();
}

void SequenceEngine::TakeMatches(std::vector<SequenceMatch>* out) {
  for (SequenceMatch& mt : impl_->matches) out->push_back(std::move(mt));
  impl_->matches.clear();
}

const SequenceStats& SequenceEngine::stats() const {
  return impl_->stats;
}
std::size_t SequenceEngine::state_bytes() const {
  return impl_->bytes;
}

}  // namespace sipdex::query
