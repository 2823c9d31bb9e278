#include "query/planner.h"

#include <algorithm>

#include "storage/facts.h"

namespace sipdex::query {
namespace {

constexpr TimeMs kMinTime = std::numeric_limits<TimeMs>::min();
constexpr TimeMs kMaxTime = std::numeric_limits<TimeMs>::max();

// Values shared by a large part of any corpus: postings on them cost more than
// they prune when a rarer equality is there.
bool IsWeakField(FieldId id) {
  switch (id) {
    case FieldId::kType:
    case FieldId::kDirection:
    case FieldId::kKind:
    case FieldId::kLevel:
    case FieldId::kFlag:
    case FieldId::kComponent:
    case FieldId::kMalformed:
      return true;
    default:
      return false;
  }
}


struct Driver {
  PostingsNode node;
  bool weak = false;
};

std::optional<Driver> DriverOf(const BoundExpr& e) {
  switch (e.kind) {
    case BoundExpr::Kind::kCompare: {
      if (e.field.source != FieldSource::kRecord || e.field.info == nullptr || !e.field.info->indexed) {
        return std::nullopt;
      }
      if (e.op == Op::kExists && IsCodeField(e.field.info->id) && !storage::IsHashedField(e.field.info->id)) {
        Driver d;
        d.node.kind = PostingsNode::Kind::kExists;
        d.node.field = e.field.info->id;
        return d;
      }
      if (e.op != Op::kEq && e.op != Op::kIn) return std::nullopt;
      Driver d;
      d.weak = IsWeakField(e.field.info->id);
      std::vector<PostingsNode> lookups;
      for (const BoundValue& v : e.values) {
        PostingsNode n;
        n.kind = PostingsNode::Kind::kLookup;
        n.field = e.field.info->id;
        n.value = v.text;
        lookups.push_back(std::move(n));
      }
      if (lookups.size() == 1) {
        d.node = std::move(lookups[0]);
      } else {
        d.node.kind = PostingsNode::Kind::kUnion;
        d.node.children = std::move(lookups);
      }
      return d;
    }
    case BoundExpr::Kind::kAnd: {
      std::vector<Driver> strong, weak;
      for (const auto& c : e.children) {
        std::optional<Driver> d = DriverOf(*c);
        if (!d) continue;
        (d->weak ? weak : strong).push_back(std::move(*d));
      }
      std::vector<Driver>& use = strong.empty() ? weak : strong;
      if (use.empty()) return std::nullopt;
      if (use.size() == 1) return std::move(use[0]);
      Driver d;
      d.weak = strong.empty();
      d.node.kind = PostingsNode::Kind::kIntersect;
      for (Driver& x : use) d.node.children.push_back(std::move(x.node));
      return d;
    }
    case BoundExpr::Kind::kOr: {
      Driver d;
      d.node.kind = PostingsNode::Kind::kUnion;
      for (const auto& c : e.children) {
        std::optional<Driver> x = DriverOf(*c);
        if (!x) return std::nullopt;
        d.weak = d.weak || x->weak;
        d.node.children.push_back(std::move(x->node));
      }
      return d;
    }
    case BoundExpr::Kind::kNot:
    case BoundExpr::Kind::kTimeRange:
      return std::nullopt;
  }
  return std::nullopt;
}

// The name of a field `f` reads that facts do not hold, or "" when facts do.
std::string NonFactField(const BoundField& f) {
  switch (f.source) {
    case FieldSource::kRecord:
    case FieldSource::kResponse:
      if (f.info == nullptr) return f.name;
      return storage::IsFactField(f.info->id) ? "" : f.name;
    case FieldSource::kHeader:
      return f.name;
    case FieldSource::kResponseExists:  // pairs on call_id, cseq, cseq method, status, type: facts
    case FieldSource::kBucket:          // the record time
    case FieldSource::kCount:           // columns of earlier stages
    case FieldSource::kColumn:
      return "";
  }
  return f.name;
}

std::string NonFactField(const BoundExpr& e) {
  if (e.kind == BoundExpr::Kind::kTimeRange) return "";
  if (e.kind == BoundExpr::Kind::kCompare) return NonFactField(e.field);
  for (const auto& c : e.children) {
    std::string n = NonFactField(*c);
    if (!n.empty()) return n;
  }
  return "";
}

}  // namespace

bool IsCodeField(FieldId id) {
  switch (id) {
    case FieldId::kStatus:
    case FieldId::kDiag:
    case FieldId::kResourceStatus:
    case FieldId::kResourceDiag:
      return true;
    default:
      return false;
  }
}

bool IsTableField(const BoundField& f) {
  if (f.source == FieldSource::kBucket || f.source == FieldSource::kCount || f.source == FieldSource::kColumn) {
    return true;
  }
  if (f.source != FieldSource::kRecord || f.info == nullptr) return false;
  switch (f.info->id) {
    case FieldId::kTime:
    case FieldId::kServer:
    case FieldId::kFile:
    case FieldId::kKind:
    case FieldId::kMalformed:
      return true;
    default:
      return false;
  }
}

bool ReadsOnlyTableFields(const BoundExpr& e) {
  if (e.kind == BoundExpr::Kind::kTimeRange) return true;
  if (e.kind == BoundExpr::Kind::kCompare) return IsTableField(e.field);
  for (const auto& c : e.children) {
    if (!ReadsOnlyTableFields(*c)) return false;
  }
  return true;
}

FactsVerdict DecideFacts(const BoundQuery& q, const std::vector<BoundField>& columns, OutputFormat format) {
  FactsVerdict v;
  if (q.sequence) {
    v.why_not = "reads text: a sequence";
    return v;
  }
  if (format == OutputFormat::kRaw) {
    v.why_not = "reads text: --format raw prints the record text";
    return v;
  }
  std::string field;
  if (q.where) field = NonFactField(*q.where);
  for (const BoundStage& s : q.stages) {
    for (const BoundField& f : s.fields) {
      if (field.empty()) field = NonFactField(f);
    }
    if (s.has_distinct && field.empty()) field = NonFactField(s.distinct);
  }
  for (const BoundField& f : columns) {
    if (field.empty()) field = NonFactField(f);
  }
  if (!field.empty()) {
    v.why_not = "reads text: field " + field;
    return v;
  }
  v.on_facts = true;
  v.on_tables = !q.per_resource && (!q.where || ReadsOnlyTableFields(*q.where));
  for (const BoundStage& s : q.stages) {
    for (const BoundField& f : s.fields) v.on_tables = v.on_tables && IsTableField(f);
    if (s.has_distinct) v.on_tables = v.on_tables && IsTableField(s.distinct);
  }
  for (const BoundField& f : columns) v.on_tables = v.on_tables && IsTableField(f);
  return v;
}

std::string PostingsNode::ToString() const {
  switch (kind) {
    case Kind::kLookup:
      return std::string(GetField(field).name) + " = \"" + value + "\"";
    case Kind::kExists:
      return std::string(GetField(field).name) + " exists";
    case Kind::kUnion:
    case Kind::kIntersect: {
      std::string out = kind == Kind::kUnion ? "union(" : "intersect(";
      for (std::size_t i = 0; i < children.size(); ++i) out += (i ? ", " : "") + children[i].ToString();
      return out + ")";
    }
  }
  return "?";
}

void TimeBounds(const BoundExpr& e, TimeMs* from, TimeMs* to) {
  *from = kMinTime;
  *to = kMaxTime;
  switch (e.kind) {
    case BoundExpr::Kind::kTimeRange:
      *from = e.from;
      *to = e.to;
      return;
    case BoundExpr::Kind::kCompare: {
      if (e.field.source != FieldSource::kRecord || e.field.info == nullptr || e.field.info->id != FieldId::kTime ||
          e.values.empty()) {
        return;
      }
      TimeMs v = e.values[0].number;
      switch (e.op) {
        case Op::kEq:
          *from = v;
          *to = v + 1;
          return;
        case Op::kGe:
          *from = v;
          return;
        case Op::kGt:
          *from = v + 1;
          return;
        case Op::kLe:
          *to = v + 1;
          return;
        case Op::kLt:
          *to = v;
          return;
        default:
          return;
      }
    }
    case BoundExpr::Kind::kAnd:
      for (const auto& c : e.children) {
        TimeMs f, t;
        TimeBounds(*c, &f, &t);
        *from = std::max(*from, f);
        *to = std::min(*to, t);
      }
      return;
    case BoundExpr::Kind::kOr: {
      TimeMs lo = kMaxTime, hi = kMinTime;
      for (const auto& c : e.children) {
        TimeMs f, t;
        TimeBounds(*c, &f, &t);
        lo = std::min(lo, f);
        hi = std::max(hi, t);
      }
      *from = lo;
      *to = hi;
      return;
    }
    case BoundExpr::Kind::kNot:
      return;
  }
}

Result<std::vector<storage::RecordId>> EvalPostings(const PostingsNode& n, const storage::IndexSnapshot& snap) {
  using storage::RecordId;
  if (n.kind == PostingsNode::Kind::kLookup) return snap.Lookup(n.field, n.value);
  if (n.kind == PostingsNode::Kind::kExists) {
    std::vector<std::string> values;
    SIPDEX_RETURN_IF_ERROR(
        snap.ListValues(n.field, [&](std::string_view v, std::uint64_t) { values.emplace_back(v); }));
    PostingsNode u;
    u.kind = PostingsNode::Kind::kUnion;
    for (std::string& v : values) {
      PostingsNode l;
      l.field = n.field;
      l.value = std::move(v);
      u.children.push_back(std::move(l));
    }
    return EvalPostings(u, snap);
  }
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

std::optional<PostingsNode> ChooseDriver(const BoundExpr& e) {
  std::optional<Driver> d = DriverOf(e);
  if (!d) return std::nullopt;
  return std::move(d->node);
}

bool ReadsOnlyStoredFields(const BoundExpr& e) {
  if (e.kind == BoundExpr::Kind::kTimeRange) return true;
  if (e.kind == BoundExpr::Kind::kCompare) {
    if (e.field.source != FieldSource::kRecord) return false;
    switch (e.field.info->id) {
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
  for (const auto& c : e.children) {
    if (!ReadsOnlyStoredFields(*c)) return false;
  }
  return true;
}

Plan MakePlan(const BoundQuery& q, const storage::IndexSnapshot& snapshot, bool needs_parse) {
  Plan plan;
  plan.needs_parse = needs_parse;
  if (q.where) {
    plan.search = q.where->ToString();
    plan.driver = ChooseDriver(*q.where);
    TimeBounds(*q.where, &plan.from, &plan.to);
    plan.uses_response = q.where->UsesResponse();
  }
  for (const BoundStage& s : q.stages) plan.stages.push_back(s.ToString());
  const std::vector<storage::SegmentInfo>& map = snapshot.time_map();
  plan.total_segments = map.size();
  for (std::size_t i = 0; i < map.size(); ++i) {
    const storage::SegmentInfo& s = map[i];
    plan.total_records += s.count;
    // Segments whose records have no time keep the previous record's time, so
    // min > max (no time at all) segments are kept unless the range is empty.
    bool overlaps =
        plan.from < plan.to && (s.min_time > s.max_time || (s.max_time >= plan.from && s.min_time < plan.to));
    if (overlaps) {
      plan.segments.push_back(i);
      plan.segment_records += s.count;
    }
  }
  return plan;
}

std::string Plan::ToString() const {
  std::string out = "search: " + (search.empty() ? std::string("(everything)") : search) + "\n";
  if (driver) {
    out += "driven by postings: " + driver->ToString() + "\n";
  } else {
    out += "no postings apply: scanning segments\n";
  }
  if (from == kMinTime && to == kMaxTime) {
    out += "time: not restricted\n";
  } else {
    out += "time: [" + (from == kMinTime ? std::string("-inf") : FormatTime(from)) + ", " +
           (to == kMaxTime ? std::string("+inf") : FormatTime(to)) + ")\n";
  }
  out += "segments: " + std::to_string(segments.size()) + " of " + std::to_string(total_segments) + " overlap (" +
         std::to_string(segment_records) + " of " + std::to_string(total_records) + " records); " +
         std::to_string(total_segments - segments.size()) + " pruned by time\n";
  out += driver ? "reads: only the candidate records of those segments\n" : "reads: every record of those segments\n";
  if (on_tables) {
    out += "records: record tables only (time, server, file, kind, malformed: no text or facts decoded)\n";
  } else if (on_facts) {
    out += "records: facts (typed columns, no text decoded, nothing parsed)\n";
  } else {
    out += "records: text (" + (facts_note.empty() ? std::string("facts not used") : facts_note) + ")\n";
    out += needs_parse ? "parse: each candidate record is parsed\n"
                       : "parse: not needed (the search reads stored columns only)\n";
  }
  if (uses_response) out += "responses: paired by call_id postings (Call-ID + CSeq number + method)\n";
  for (const std::string& s : stages) out += "stage: " + s + "\n";
  return out;
}

}  // namespace sipdex::query
