#include "query/binder.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "storage/record.h"

namespace sipdex::query {
namespace {

// An error at a span of the query, carried up to Bind().
struct BindError {
  std::string message;
  std::size_t offset = 0;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Fields whose values are compared ignoring ASCII case.
bool IsCaseInsensitive(FieldId id) {
  switch (id) {
    case FieldId::kServer:
    case FieldId::kKind:
    case FieldId::kLevel:
    case FieldId::kFlag:
    case FieldId::kComponent:
    case FieldId::kInstanceId:
    case FieldId::kDirection:
    case FieldId::kPeer:
    case FieldId::kType:
    case FieldId::kMethod:
    case FieldId::kFromHost:
    case FieldId::kToHost:
    case FieldId::kCseqMethod:
    case FieldId::kEvent:
    case FieldId::kContentType:
    case FieldId::kResourceState:
    case FieldId::kResourceReason:
    case FieldId::kSeverity:
    case FieldId::kResultCode:
    case FieldId::kResultText:
      return true;
    default:
      return false;
  }
}

std::optional<std::int64_t> ParseInt(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// A glob (* any run, ? one character) as an anchored RE2 pattern.
std::string GlobToRegex(std::string_view glob) {
  std::string re;
  for (char c : glob) {
    if (c == '*') {
      re += ".*";
    } else if (c == '?') {
      re += '.';
    } else {
      re += RE2::QuoteMeta(std::string_view(&c, 1));
    }
  }
  return re;
}

class Binder {
 public:
  Binder(const Query& query, const BindOptions& options) : query_(query), options_(options) {}

  Result<BoundQuery> Run(QueryError* error) {
    BoundQuery out;
    if (query_.sequence) {
      BindSequence(*query_.sequence, out);
    } else {
      out.where = BindExpr(*query_.where, out);
    }
    if (error_.message.empty()) BindStages(out);
    if (!error_.message.empty()) {
      QueryError e{error_.message, error_.offset};
      if (error != nullptr) *error = e;
      return Status::InvalidArgument(e.Format(query_.text));
    }
    return out;
  }

 private:
  void Fail(std::string message, SourceSpan span) {
    if (!error_.message.empty()) return;  // keep the first error
    error_ = BindError{std::move(message), span.offset};
  }
  bool failed() const { return !error_.message.empty(); }

  // Resolves a field of the search (or of a stage while rows are records).
  std::optional<BoundField> ResolveRecordField(const FieldRef& ref, bool allow_buckets) {
    BoundField f;
    f.span = ref.span;
    if (ref.step > 0) {
      Fail("'" + ref.ToString() + "' names a field of a sequence step; only the stages after a sequence can read it",
           ref.span);
      return std::nullopt;
    }
    if (ref.IsHeader()) {
      if (ref.header.empty()) {
        Fail("expected a header name after 'header.'", ref.span);
        return std::nullopt;
      }
      f.source = FieldSource::kHeader;
      f.header = ref.header;
      f.type = FieldType::kString;
      f.multi = true;
      f.name = ref.ToString();
      return f;
    }
    if (allow_buckets) {
      static constexpr std::pair<std::string_view, TimeBucket> kBuckets[] = {{"minute", TimeBucket::kMinute},
                                                                             {"hour", TimeBucket::kHour},
                                                                             {"day", TimeBucket::kDay},
                                                                             {"week", TimeBucket::kWeek}};
      for (const auto& [name, bucket] : kBuckets) {
        if (ref.name == name) {
          f.source = FieldSource::kBucket;
          f.bucket = bucket;
          f.type = FieldType::kString;
          f.name = std::string(name);
          return f;
        }
      }
    }
    std::string_view name = ref.name;
    bool response = false;
    if (name == "response") {
      f.source = FieldSource::kResponseExists;
      f.type = FieldType::kBool;
      f.name = "response";
      return f;
    }
    if (name.starts_with("response.")) {
      response = true;
      name.remove_prefix(9);
    }
    const FieldInfo* info = FindField(name);
    if (info == nullptr) {
      std::string msg = "unknown field '" + ref.name + "'";
      std::string near = sequence_names_ ? NearestSequenceFieldName(ref.name) : NearestFieldName(ref.name);
      if (!near.empty()) msg += ", did you mean '" + near + "'?";
      Fail(msg, ref.span);
      return std::nullopt;
    }
    if (response && info->per_resource) {
      Fail("response." + std::string(info->name) +
               " is not supported: resource fields of a response are read "
               "from the response itself (type = response and " +
               std::string(info->name) + " ...)",
           ref.span);
      return std::nullopt;
    }
    f.source = response ? FieldSource::kResponse : FieldSource::kRecord;
    f.info = info;
    f.type = info->type;
    f.multi = info->multi;
    f.per_resource = info->per_resource && !response;
    f.case_insensitive = IsCaseInsensitive(info->id);
    f.name = response ? "response." + std::string(info->name) : std::string(info->name);
    return f;
  }

  std::optional<BoundValue> ConvertValue(const BoundField& f, const Value& v) {
    BoundValue out;
    out.typed = v.text;
    auto type_error = [&]() {
      Fail(f.name + " takes " + std::string(FieldTypeName(f.type)) + ", got " + Quoted(v.text), v.span);
      return std::nullopt;
    };
    switch (f.type) {
      case FieldType::kInteger: {
        std::optional<std::int64_t> n = ParseInt(v.text);
        if (!n) return type_error();
        out.number = *n;
        out.text = std::to_string(*n);
        return out;
      }
      case FieldType::kTime: {
        std::optional<TimeMs> t = ParseIsoTime(v.text, options_.tz_offset_ms);
        if (!t) return type_error();
        out.number = *t;
        out.text = FormatTime(*t);
        return out;
      }
      case FieldType::kBool: {
        std::string l = Lower(v.text);
        if (l == "true" || l == "yes" || l == "1") {
          out.number = 1;
        } else if (l == "false" || l == "no" || l == "0") {
          out.number = 0;
        } else {
          return type_error();
        }
        out.text = out.number ? "true" : "false";
        return out;
      }
      case FieldType::kUri:
        out.text = NormalizeUri(v.text);
        return out;
      case FieldType::kString:
        out.text = f.case_insensitive ? Lower(v.text) : v.text;
        return out;
    }
    return type_error();
  }

  std::unique_ptr<BoundExpr> BindPredicate(const Expr& e, BoundQuery& q) {
    std::optional<BoundField> field = ResolveRecordField(e.field, /*allow_buckets=*/false);
    if (!field) return nullptr;
    auto b = std::make_unique<BoundExpr>();
    b->kind = BoundExpr::Kind::kCompare;
    b->span = e.span;
    b->op = e.op;
    if (field->source == FieldSource::kResponseExists && e.op != Op::kExists) {
      Fail("response needs a field (response.status, response.diag, ...) or 'exists'", e.field.span);
      return nullptr;
    }
    switch (e.op) {
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        if (field->type != FieldType::kInteger && field->type != FieldType::kTime) {
          Fail("'" + std::string(OpName(e.op)) + "' compares numbers and times; " + field->name + " takes " +
                   std::string(FieldTypeName(field->type)),
               e.values.empty() ? e.span : e.values[0].span);
          return nullptr;
        }
        break;
      case Op::kGlob:
      case Op::kRegex:
      case Op::kContains: {
        const Value& v = e.values.at(0);
        BoundValue bv;
        bv.typed = v.text;
        // contains compares text directly; globs and regexes use the compiled pattern.
        bv.text = e.op == Op::kContains && field->case_insensitive ? Lower(v.text) : v.text;
        if (e.op != Op::kContains) {
          RE2::Options opts;
          opts.set_log_errors(false);
          opts.set_max_mem(8 << 20);
          if (e.op == Op::kGlob) opts.set_case_sensitive(false);
          if (e.op == Op::kRegex && field->case_insensitive) opts.set_case_sensitive(false);
          std::string pattern = e.op == Op::kGlob ? GlobToRegex(v.text) : v.text;
          auto re = std::make_shared<const RE2>(pattern, opts);
          if (!re->ok()) {
            Fail("invalid regular expression: " + re->error(), v.span);
            return nullptr;
          }
          b->pattern = std::move(re);
        }
        b->field = std::move(*field);
        b->values.push_back(std::move(bv));
        (void)q;
        return b;
      }
      default:
        break;
    }
    for (const Value& v : e.values) {
      std::optional<BoundValue> bv = ConvertValue(*field, v);
      if (!bv) return nullptr;
      b->values.push_back(std::move(*bv));
    }
    b->field = std::move(*field);
    return b;
  }

  std::unique_ptr<BoundExpr> BindScope(const Expr& e, BoundQuery& q) {
    auto b = std::make_unique<BoundExpr>();
    b->kind = BoundExpr::Kind::kTimeRange;
    b->span = e.span;
    auto time_at = [&](const Value& v) -> std::optional<TimeMs> {
      std::optional<TimeMs> t = ParseIsoTime(v.text, options_.tz_offset_ms);
      if (!t) Fail("expected a time (2014-07-16 or 2014-07-16T10:17:57), got " + Quoted(v.text), v.span);
      return t;
    };
    constexpr TimeMs kMin = std::numeric_limits<TimeMs>::min();
    constexpr TimeMs kMax = std::numeric_limits<TimeMs>::max();
    switch (e.scope) {
      case TimeScopeKind::kSince: {
        auto t = time_at(e.values.at(0));
        if (!t) return nullptr;
        b->from = *t;
        b->to = kMax;
        break;
      }
      case TimeScopeKind::kUntil: {
        auto t = time_at(e.values.at(0));
        if (!t) return nullptr;
        b->from = kMin;
        b->to = *t;
        break;
      }
      case TimeScopeKind::kBetween: {
        auto a = time_at(e.values.at(0));
        if (!a) return nullptr;
        auto z = time_at(e.values.at(1));
        if (!z) return nullptr;
        if (*z < *a) {
          Fail("the second time of 'between' is before the first", e.values.at(1).span);
          return nullptr;
        }
        b->from = *a;
        b->to = *z;
        break;
      }
      case TimeScopeKind::kLast: {
        const Value& v = e.values.at(0);
        std::optional<DurationMs> d = ParseDuration(v.text);
        if (!d || *d <= 0) {
          Fail("expected a duration (250ms, 32s, 5m, 2h, 7d), got " + Quoted(v.text), v.span);
          return nullptr;
        }
        q.uses_last = true;
        if (options_.newest_time) {
          b->to = *options_.newest_time + 1;
          b->from = b->to - *d;
        }  // else from == to == 0: matches nothing (an empty index)
        break;
      }
      case TimeScopeKind::kOn: {
        const Value& v = e.values.at(0);
        std::optional<TimeMs> t;
        if (v.text.size() == 10) t = ParseIsoTime(v.text, options_.tz_offset_ms);
        if (!t) {
          Fail("expected a date (2014-07-16), got " + Quoted(v.text), v.span);
          return nullptr;
        }
        b->from = *t;
        b->to = *t + kMsPerDay;
        break;
      }
      case TimeScopeKind::kWeek: {
        const Value& v = e.values.at(0);
        std::optional<IsoWeek> w = ParseIsoWeek(v.text);
        std::optional<TimeMs> start = w ? IsoWeekStart(*w) : std::nullopt;
        if (!start) {
          Fail("expected an ISO week (2014-W29), got " + Quoted(v.text), v.span);
          return nullptr;
        }
        b->from = *start - options_.tz_offset_ms;
        b->to = b->from + kMsPerWeek;
        break;
      }
    }
    return b;
  }

  std::unique_ptr<BoundExpr> BindExpr(const Expr& e, BoundQuery& q) {
    if (failed()) return nullptr;
    switch (e.kind) {
      case Expr::Kind::kPredicate:
        return BindPredicate(e, q);
      case Expr::Kind::kTimeScope:
        return BindScope(e, q);
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr:
      case Expr::Kind::kNot: {
        auto b = std::make_unique<BoundExpr>();
        b->kind = e.kind == Expr::Kind::kAnd  ? BoundExpr::Kind::kAnd
                  : e.kind == Expr::Kind::kOr ? BoundExpr::Kind::kOr
                                              : BoundExpr::Kind::kNot;
        b->span = e.span;
        for (const auto& c : e.children) {
          auto bc = BindExpr(*c, q);
          if (!bc) return nullptr;
          b->children.push_back(std::move(bc));
        }
        return b;
      }
    }
    return nullptr;
  }

  // The first response.* / `response` comparison under `e`, or null.
  static const BoundExpr* FindResponse(const BoundExpr& e) {
    if (e.kind == BoundExpr::Kind::kCompare) return e.UsesResponse() ? &e : nullptr;
    for (const auto& c : e.children) {
      if (const BoundExpr* r = FindResponse(*c)) return r;
    }
    return nullptr;
  }

  // sub.subscriber, sub.target, or a record field (not response.*, not a bucket).
  std::optional<BoundField> ResolveSequenceField(const FieldRef& ref, bool allow_buckets) {
    if (!ref.IsHeader() && (ref.name == "sub.subscriber" || ref.name == "sub.target")) {
      BoundField f;
      f.source = FieldSource::kRecord;
      f.role = ref.name == "sub.subscriber" ? BoundField::Role::kSubscriber : BoundField::Role::kTarget;
      f.type = FieldType::kUri;
      f.per_resource = f.role == BoundField::Role::kTarget;
      f.name = ref.name;
      f.span = ref.span;
      return f;
    }
    sequence_names_ = true;
    std::optional<BoundField> f = ResolveRecordField(ref, allow_buckets);
    sequence_names_ = false;
    if (f && (f->source == FieldSource::kResponse || f->source == FieldSource::kResponseExists)) {
      Fail("response fields are not available in a sequence; add a step for the response", ref.span);
      return std::nullopt;
    }
    return f;
  }

  BoundSequenceStep BindStep(const SequenceStepNode& node, BoundQuery& q) {
    BoundSequenceStep out;
    out.absent = node.absent;
    out.span = node.span;
    if (failed()) return out;
    out.expr = BindExpr(*node.expr, q);
    if (!out.expr) return out;
    if (const BoundExpr* r = FindResponse(*out.expr)) {
      Fail("response fields are not available in a sequence; add a step for the response", r->field.span);
      return out;
    }
    out.per_resource = out.expr->UsesResources();
    for (const BoundField& k : q.sequence->keys) out.per_resource = out.per_resource || k.per_resource;
    return out;
  }

  void BindSequence(const Sequence& seq, BoundQuery& q) {
    q.sequence = std::make_unique<BoundSequence>();
    BoundSequence& b = *q.sequence;
    for (const FieldRef& ref : seq.keys) {
      std::optional<BoundField> f = ResolveSequenceField(ref, /*allow_buckets=*/false);
      if (!f) return;
      b.keys.push_back(std::move(*f));
    }
    if (seq.has_within) {
      std::optional<DurationMs> d = ParseDuration(seq.within.text);
      if (!d || *d <= 0) {
        Fail("expected a duration (250ms, 32s, 5m, 2h, 7d), got " + Quoted(seq.within.text), seq.within.span);
        return;
      }
      b.within = *d;
    }
    if (seq.steps.empty()) {
      Fail("a sequence needs at least one step: [condition]", SourceSpan{seq.span.offset + seq.span.length, 0});
      return;
    }
    if (seq.steps.size() > kMaxSequenceSteps) {
      Fail("a sequence has at most " + std::to_string(kMaxSequenceSteps) + " steps", seq.steps[kMaxSequenceSteps].span);
      return;
    }
    if (seq.steps.front().absent) {
      Fail("the first step must be an event that occurs: [condition], not ![condition]", seq.steps.front().span);
      return;
    }
    for (const SequenceStepNode& node : seq.steps) {
      if (node.absent && !seq.has_within) {
        Fail("an absence step ![...] needs 'within': the window in which its event must not occur", node.span);
        return;
      }
    }
    for (const SequenceStepNode& node : seq.steps) {
      b.steps.push_back(BindStep(node, q));
      if (failed()) return;
    }
    if (seq.has_until) {
      b.has_until = true;
      b.until = BindStep(seq.until, q);
    }
  }

  // A stage field of a sequence query while rows are matches: `N.field` (a
  // field of step N's event), a key (`call_id`, `sub.target`), or a time bucket
  // (of step 1's event).
  std::optional<BoundField> ResolveMatchField(const FieldRef& ref, bool allow_buckets) {
    const BoundSequence& seq = *current_sequence_;
    if (ref.step > 0) {
      std::size_t n = static_cast<std::size_t>(ref.step);
      if (n > seq.steps.size()) {
        Fail("'" + ref.ToString() + "': the sequence has " + std::to_string(seq.steps.size()) +
                 (seq.steps.size() == 1 ? " step" : " steps"),
             ref.span);
        return std::nullopt;
      }
      if (seq.steps[n - 1].absent) {
        Fail("'" + ref.ToString() + "': step " + std::to_string(n) + " is an absence step ![...] and has no event",
             ref.span);
        return std::nullopt;
      }
      FieldRef inner = ref;
      inner.step = 0;
      std::optional<BoundField> f = ResolveSequenceField(inner, allow_buckets);
      if (!f) return std::nullopt;
      f->step = static_cast<int>(n - 1);
      f->name = std::to_string(n) + "." + f->name;
      f->span = ref.span;
      return f;
    }
    std::string name = ref.ToString();
    for (std::size_t i = 0; i < seq.keys.size(); ++i) {
      if (EqualsIgnoreCase(seq.keys[i].name, name)) {
        BoundField f = seq.keys[i];
        f.key = static_cast<int>(i);
        f.span = ref.span;
        return f;
      }
    }
    if (allow_buckets && !ref.IsHeader()) {
      for (std::string_view b : {"minute", "hour", "day", "week"}) {
        if (ref.name == b) {
          std::optional<BoundField> f = ResolveRecordField(ref, true);
          if (f) f->step = 0;
          return f;
        }
      }
    }
    std::string keys;
    for (const BoundField& k : seq.keys) keys += (keys.empty() ? "" : ", ") + k.name;
    Fail("'" + name + "' is not a column of a sequence's matches; name a step's field as N.field (1." + name +
             ") or a key (" + keys + ")",
         ref.span);
    return std::nullopt;
  }

  // Resolves a stage field against the incoming columns (or record fields).
  std::optional<BoundField> ResolveStageField(const FieldRef& ref, const std::vector<std::string>* columns,
                                              bool allow_buckets) {
    if (columns == nullptr && current_sequence_ != nullptr) return ResolveMatchField(ref, allow_buckets);
    if (columns == nullptr) return ResolveRecordField(ref, allow_buckets);
    std::string name = ref.ToString();
    for (std::size_t i = 0; i < columns->size(); ++i) {
      if (EqualsIgnoreCase((*columns)[i], name)) {
        BoundField f;
        f.source = name == "count" ? FieldSource::kCount : FieldSource::kColumn;
        f.column = static_cast<int>(i);
        f.name = (*columns)[i];
        f.span = ref.span;
        f.type = f.source == FieldSource::kCount ? FieldType::kInteger : FieldType::kString;
        return f;
      }
    }
    std::string list;
    for (const std::string& c : *columns) list += (list.empty() ? "" : ", ") + c;
    Fail("'" + name + "' is not a column here; the previous stage gives: " + list, ref.span);
    return std::nullopt;
  }

  void BindStages(BoundQuery& q) {
    q.per_resource = q.where && q.where->UsesResources();
    current_sequence_ = q.sequence.get();
    std::optional<std::vector<std::string>> columns;  // nullopt: rows are records
    for (const Stage& s : query_.stages) {
      BoundStage b;
      b.kind = s.kind;
      b.number = s.number;
      b.descending = s.descending;
      const std::vector<std::string>* cols = columns ? &*columns : nullptr;
      bool buckets = true;  // minute/hour/day/week are columns of any stage that reads records
      for (const FieldRef& ref : s.fields) {
        std::optional<BoundField> f = ResolveStageField(ref, cols, buckets);
        if (!f) return;
        if (f->source == FieldSource::kResponseExists) {
          Fail("response needs a field here (response.status, response.diag, ...)", ref.span);
          return;
        }
        if (cols == nullptr && f->per_resource && !q.sequence) q.per_resource = true;
        b.fields.push_back(std::move(*f));
      }
      if (s.has_distinct) {
        std::optional<BoundField> f = ResolveStageField(s.distinct, cols, false);
        if (!f) return;
        if (cols == nullptr && f->per_resource && !q.sequence) q.per_resource = true;
        b.has_distinct = true;
        b.distinct = std::move(*f);
      }
      switch (s.kind) {
        case Stage::Kind::kCount:
          for (const BoundField& f : b.fields) b.columns.push_back(f.name);
          b.columns.push_back("count");
          break;
        case Stage::Kind::kTop:
          if (s.number <= 0) {
            Fail("top needs a number above 0", s.number_span);
            return;
          }
          b.columns = {b.fields.at(0).name, "count"};
          break;
        case Stage::Kind::kDistinct:
        case Stage::Kind::kFields:
          for (const BoundField& f : b.fields) b.columns.push_back(f.name);
          break;
        case Stage::Kind::kFlow:
          if (columns) {
            Fail("flow draws records; it cannot follow count, top, distinct or fields", s.span);
            return;
          }
          break;
        case Stage::Kind::kSort:
        case Stage::Kind::kLimit:
          break;
      }
      if (!b.columns.empty()) columns = b.columns;
      q.stages.push_back(std::move(b));
    }
  }

  const Query& query_;
  const BindOptions& options_;
  BindError error_;
  bool sequence_names_ = false;                      // unknown names also suggest sub.subscriber / sub.target
  const BoundSequence* current_sequence_ = nullptr;  // while binding the stages of a sequence query
};

std::string FieldString(const BoundField& f) {
  return f.name;
}

}  // namespace

bool BoundExpr::UsesResources() const {
  if (kind == Kind::kCompare) return field.per_resource;
  for (const auto& c : children) {
    if (c->UsesResources()) return true;
  }
  return false;
}

bool BoundExpr::UsesResponse() const {
  if (kind == Kind::kCompare) {
    return field.source == FieldSource::kResponse || field.source == FieldSource::kResponseExists;
  }
  for (const auto& c : children) {
    if (c->UsesResponse()) return true;
  }
  return false;
}

std::string BoundExpr::ToString() const {
  switch (kind) {
    case Kind::kAnd:
    case Kind::kOr: {
      std::string out = "(";
      for (std::size_t i = 0; i < children.size(); ++i) {
        if (i > 0) out += kind == Kind::kAnd ? " and " : " or ";
        out += children[i]->ToString();
      }
      return out + ")";
    }
    case Kind::kNot:
      return "not " + children.at(0)->ToString();
    case Kind::kTimeRange: {
      std::string a = from == std::numeric_limits<TimeMs>::min() ? "-inf" : FormatTime(from);
      std::string b = to == std::numeric_limits<TimeMs>::max() ? "+inf" : FormatTime(to);
      return "time in [" + a + ", " + b + ")";
    }
    case Kind::kCompare: {
      std::string out = FieldString(field) + " " + std::string(OpName(op));
      if (op == Op::kExists) return out;
      auto value = [&](const BoundValue& v) {
        if (field.type == FieldType::kInteger || field.type == FieldType::kBool || field.type == FieldType::kTime) {
          return v.text;
        }
        return Quoted(v.text);
      };
      if (op == Op::kIn) {
        out += " (";
        for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + value(values[i]);
        return out + ")";
      }
      if (op == Op::kGlob || op == Op::kRegex || op == Op::kContains) return out + " " + Quoted(values.at(0).typed);
      return out + " " + value(values.at(0));
    }
  }
  return "?";
}

std::string BoundStage::ToString() const {
  auto list = [](const std::vector<BoundField>& fs) {
    std::string out;
    for (std::size_t i = 0; i < fs.size(); ++i) out += (i ? ", " : "") + fs[i].name;
    return out;
  };
  switch (kind) {
    case Stage::Kind::kCount: {
      std::string out = "count";
      if (has_distinct) out += " distinct " + distinct.name;
      if (!fields.empty()) out += " by " + list(fields);
      return out;
    }
    case Stage::Kind::kTop:
      return "top " + std::to_string(number) + " " + list(fields);
    case Stage::Kind::kDistinct:
      return "distinct " + list(fields);
    case Stage::Kind::kFields:
      return "fields " + list(fields);
    case Stage::Kind::kSort:
      return "sort " + list(fields) + (descending ? " desc" : "");
    case Stage::Kind::kLimit:
      return "limit " + std::to_string(number);
    case Stage::Kind::kFlow:
      return "flow";
  }
  return "?";
}

std::string BoundSequence::ToString() const {
  std::string out = "sequence by ";
  for (std::size_t i = 0; i < keys.size(); ++i) out += (i ? ", " : "") + keys[i].name;
  if (within > 0) out += " within " + std::to_string(within) + "ms";
  auto step = [](const BoundSequenceStep& s) {
    return (s.absent ? "![" : "[") + (s.expr ? s.expr->ToString() : std::string()) + "]" +
           (s.per_resource ? "/resource" : "");
  };
  for (const BoundSequenceStep& s : steps) out += " " + step(s);
  if (has_until) out += " until " + step(until);
  return out;
}

std::string BoundQuery::ToString() const {
  std::string out = where ? where->ToString() : sequence ? sequence->ToString() : std::string();
  for (const BoundStage& s : stages) out += " | " + s.ToString();
  return out;
}

Result<DurationMs> ParseTimeZone(std::string_view zone) {
  std::string z = Lower(zone);
  if (z == "utc" || z == "z" || z == "gmt" || z == "+00:00" || z == "0") return DurationMs{0};
  if (z.starts_with("utc") || z.starts_with("gmt")) z = z.substr(3);
  if (z.size() >= 2 && (z[0] == '+' || z[0] == '-')) {
    int sign = z[0] == '-' ? -1 : 1;
    std::string digits;
    for (char c : z.substr(1)) {
      if (c != ':') digits += c;
    }
    std::optional<std::int64_t> hh, mm = 0;
    if (digits.size() <= 2) {
      hh = ParseInt(digits);
    } else if (digits.size() == 4) {
      hh = ParseInt(digits.substr(0, 2));
      mm = ParseInt(digits.substr(2));
    }
    if (hh && mm && *hh <= 14 && *mm < 60 && digits.find_first_not_of("0123456789") == std::string::npos) {
      return DurationMs{sign * (*hh * kMsPerHour + *mm * kMsPerMinute)};
    }
  }
  return Status::InvalidArgument("--tz takes UTC or an offset such as +02:00 or -0500, got \"" + std::string(zone) +
                                 "\"");
}

Result<BoundQuery> Bind(const Query& query, const BindOptions& options, QueryError* error) {
  return Binder(query, options).Run(error);
}

Result<BoundQuery> ParseAndBind(std::string_view text, const BindOptions& options, QueryError* error) {
  Result<Query> q = Parse(text, error);
  if (!q.ok()) return q.status();
  return Bind(*q, options, error);
}

BoundField CatalogueField(FieldId id) {
  const FieldInfo& info = GetField(id);
  BoundField f;
  f.source = FieldSource::kRecord;
  f.info = &info;
  f.type = info.type;
  f.multi = info.multi;
  f.per_resource = info.per_resource;
  f.case_insensitive = IsCaseInsensitive(id);
  f.name = std::string(info.name);
  return f;
}

std::string NearestSequenceFieldName(std::string_view name) {
  return NearestName(name, {"sub.subscriber", "sub.target"});
}

std::string NearestFieldName(std::string_view name) {
  return NearestName(name, {});
}

std::string NearestName(std::string_view name, std::initializer_list<std::string_view> extra) {
  std::string target = Lower(name);
  std::size_t best = 3;
  std::string best_name;
  auto consider = [&](std::string_view candidate) {
    // Optimal string alignment distance.
    const std::size_t n = target.size(), m = candidate.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
    for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
      for (std::size_t j = 1; j <= m; ++j) {
        std::size_t cost = target[i - 1] == candidate[j - 1] ? 0 : 1;
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && target[i - 1] == candidate[j - 2] && target[i - 2] == candidate[j - 1]) {
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    std::size_t dist = d[n][m];
    if (dist < best && dist < target.size()) {
      best = dist;
      best_name = std::string(candidate);
    }
  };
  if (target.size() > 64) return "";
  for (const FieldInfo& f : AllFields()) consider(f.name);
  for (const FieldInfo& f : AllFields()) {
    if (!f.per_resource) consider("response." + std::string(f.name));
  }
  consider("response");
  for (std::string_view e : extra) consider(e);
  return best_name;
}

std::string NormalizeUri(std::string_view uri) {
  while (!uri.empty() && (uri.front() == '<' || uri.front() == ' ')) uri.remove_prefix(1);
  while (!uri.empty() && (uri.back() == '>' || uri.back() == ' ')) uri.remove_suffix(1);
  std::string out;
  std::size_t colon = uri.find(':');
  std::size_t at = uri.find('@');
  std::string_view rest = uri;
  if (colon != std::string_view::npos && (at == std::string_view::npos || colon < at) &&
      uri.substr(0, colon).find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-.") ==
          std::string_view::npos &&
      colon > 0) {
    out = Lower(uri.substr(0, colon + 1));
    rest = uri.substr(colon + 1);
  } else {
    out = "sip:";
  }
  std::size_t host_start = 0;
  std::size_t at2 = rest.find('@');
  if (at2 != std::string_view::npos) {
    out += rest.substr(0, at2 + 1);
    host_start = at2 + 1;
  }
  std::size_t host_end = rest.find_first_of(";?>", host_start);
  if (host_end == std::string_view::npos) host_end = rest.size();
  out += Lower(rest.substr(host_start, host_end - host_start));
  out += rest.substr(host_end);
  return out;
}

}  // namespace sipdex::query
