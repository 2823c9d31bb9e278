#include "query/parser.h"

#include <cctype>
#include <charconv>
#include <exception>
#include <type_traits>
#include <utility>
#include <vector>

#include "query/grammar.h"

namespace sipdex::query {
namespace {

namespace pg = tao::pegtl;
namespace gr = grammar;

// What the actions build while the grammar matches. The grammar never
// backtracks over a rule whose action has run (every such rule is followed by
// must<>), so plain stacks are enough.
struct ParseState {
  const char* base = nullptr;  // first byte of the query text
  std::size_t depth = 0;       // current nesting of `unary`
  std::vector<Value> values;   // values of the predicate or scope being read
  std::vector<FieldRef> fields;
  std::vector<std::unique_ptr<Expr>> exprs;
  std::vector<Stage> stages;
  Op op = Op::kEq;
  bool has_distinct = false;
  FieldRef distinct;
  std::int64_t number = 0;
  SourceSpan number_span;
  bool descending = false;
  std::unique_ptr<Sequence> sequence;  // set once `sequence` matched
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// The span of the matched text without its trailing white space.
template <typename ActionInput>
SourceSpan SpanOf(const ActionInput& in, const ParseState& s) {
  std::size_t n = in.size();
  while (n > 0 && IsSpace(in.begin()[n - 1])) --n;
  return SourceSpan{static_cast<std::size_t>(in.begin() - s.base), n};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\')) ++i;
    out += s[i];
  }
  return out;
}

std::unique_ptr<Expr> Pop(ParseState& s) {
  std::unique_ptr<Expr> e = std::move(s.exprs.back());
  s.exprs.pop_back();
  return e;
}

// Joins the two top expressions into an n-ary and/or node.
void Combine(ParseState& s, Expr::Kind kind) {
  std::unique_ptr<Expr> right = Pop(s);
  std::unique_ptr<Expr> left = Pop(s);
  SourceSpan span{left->span.offset, right->span.offset + right->span.length - left->span.offset};
  if (left->kind != kind) {
    auto node = std::make_unique<Expr>();
    node->kind = kind;
    node->children.push_back(std::move(left));
    left = std::move(node);
  }
  left->span = span;
  left->children.push_back(std::move(right));
  s.exprs.push_back(std::move(left));
}

// ---- actions ---------------------------------------------------------------

template <typename Rule>
struct action : pg::nothing<Rule> {};

template <>
struct action<gr::closed_string> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    std::string_view raw(in.begin(), in.size());
    s.values.push_back(Value{Value::Kind::kQuoted, Unescape(raw.substr(1, raw.size() - 2)), SpanOf(in, s)});
  }
};

template <>
struct action<gr::bare_word> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    s.values.push_back(Value{Value::Kind::kBare, in.string(), SpanOf(in, s)});
  }
};

template <>
struct action<gr::number> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    SourceSpan span = SpanOf(in, s);
    const char* first = in.begin();
    auto [ptr, ec] = std::from_chars(first, first + span.length, s.number);
    if (ec != std::errc() || ptr != first + span.length) throw pg::parse_error("number is too large", in);
    s.number_span = span;
  }
};

template <>
struct action<gr::plain_field> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    FieldRef f;
    f.name = Lower(in.string_view());
    f.span = SpanOf(in, s);
    s.fields.push_back(std::move(f));
  }
};

template <>
struct action<gr::header_field> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    FieldRef f;
    f.name = "header";
    f.header_form = true;
    f.span = SpanOf(in, s);
    std::string_view text = in.string_view().substr(7);  // after "header."
    if (!text.empty() && text.front() == '"') {
      f.header = std::move(s.values.back().text);
      f.header_quoted = true;
      s.values.pop_back();
    } else {
      f.header = std::string(text);
    }
    s.fields.push_back(std::move(f));
  }
};

template <>
struct action<gr::step_field> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    std::string_view text = in.string_view();
    std::size_t dot = text.find('.');
    int step = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + dot, step);
    if (ec != std::errc() || ptr != text.data() + dot) throw pg::parse_error("step number is too large", in);
    FieldRef& f = s.fields.back();
    f.step = step;
    f.span = SpanOf(in, s);
  }
};

template <Op kOp>
struct set_op {
  static void apply0(ParseState& s) { s.op = kOp; }
};
template <>
struct action<gr::op_regex> : set_op<Op::kRegex> {};
template <>
struct action<gr::op_ne> : set_op<Op::kNe> {};
template <>
struct action<gr::op_le> : set_op<Op::kLe> {};
template <>
struct action<gr::op_ge> : set_op<Op::kGe> {};
template <>
struct action<gr::op_eq> : set_op<Op::kEq> {};
template <>
struct action<gr::op_lt> : set_op<Op::kLt> {};
template <>
struct action<gr::op_gt> : set_op<Op::kGt> {};
template <>
struct action<gr::op_glob> : set_op<Op::kGlob> {};
template <>
struct action<gr::op_contains> : set_op<Op::kContains> {};
template <>
struct action<gr::in_clause> : set_op<Op::kIn> {};
template <>
struct action<gr::exists_clause> : set_op<Op::kExists> {};

template <>
struct action<gr::predicate> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kPredicate;
    e->span = SpanOf(in, s);
    e->field = std::move(s.fields.back());
    s.fields.pop_back();
    e->op = s.op;
    e->values = std::move(s.values);
    s.values.clear();
    s.exprs.push_back(std::move(e));
  }
};

template <TimeScopeKind kScope>
struct scope_action {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kTimeScope;
    e->scope = kScope;
    e->span = SpanOf(in, s);
    e->values = std::move(s.values);
    s.values.clear();
    s.exprs.push_back(std::move(e));
  }
};
template <>
struct action<gr::since_scope> : scope_action<TimeScopeKind::kSince> {};
template <>
struct action<gr::until_scope> : scope_action<TimeScopeKind::kUntil> {};
template <>
struct action<gr::between_scope> : scope_action<TimeScopeKind::kBetween> {};
template <>
struct action<gr::last_scope> : scope_action<TimeScopeKind::kLast> {};
template <>
struct action<gr::on_scope> : scope_action<TimeScopeKind::kOn> {};
template <>
struct action<gr::week_scope> : scope_action<TimeScopeKind::kWeek> {};

template <>
struct action<gr::not_expr> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::kNot;
    e->span = SpanOf(in, s);
    e->children.push_back(Pop(s));
    s.exprs.push_back(std::move(e));
  }
};

template <>
struct action<gr::and_tail> {
  static void apply0(ParseState& s) { Combine(s, Expr::Kind::kAnd); }
};

template <>
struct action<gr::or_tail> {
  static void apply0(ParseState& s) { Combine(s, Expr::Kind::kOr); }
};

template <>
struct action<gr::count_distinct> {
  static void apply0(ParseState& s) {
    s.has_distinct = true;
    s.distinct = std::move(s.fields.back());
    s.fields.pop_back();
  }
};

template <>
struct action<gr::sort_order> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    s.descending = in.size() > 0 && (in.begin()[0] == 'd' || in.begin()[0] == 'D');
  }
};

template <Stage::Kind kKind>
struct stage_action {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    Stage st;
    st.kind = kKind;
    st.span = SpanOf(in, s);
    st.fields = std::move(s.fields);
    s.fields.clear();
    st.has_distinct = std::exchange(s.has_distinct, false);
    st.distinct = std::move(s.distinct);
    s.distinct = FieldRef();
    st.number = std::exchange(s.number, 0);
    st.number_span = s.number_span;
    st.descending = std::exchange(s.descending, false);
    s.stages.push_back(std::move(st));
  }
};
template <>
struct action<gr::count_stage> : stage_action<Stage::Kind::kCount> {};
template <>
struct action<gr::top_stage> : stage_action<Stage::Kind::kTop> {};
template <>
struct action<gr::distinct_stage> : stage_action<Stage::Kind::kDistinct> {};
template <>
struct action<gr::fields_stage> : stage_action<Stage::Kind::kFields> {};
template <>
struct action<gr::sort_stage> : stage_action<Stage::Kind::kSort> {};
template <>
struct action<gr::limit_stage> : stage_action<Stage::Kind::kLimit> {};
template <>
struct action<gr::flow_stage> : stage_action<Stage::Kind::kFlow> {};

template <>
struct action<gr::kw_sequence> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    s.sequence = std::make_unique<Sequence>();
    s.sequence->span.offset = static_cast<std::size_t>(in.begin() - s.base);
  }
};

template <>
struct action<gr::sequence_keys> {
  static void apply0(ParseState& s) {
    s.sequence->keys = std::move(s.fields);
    s.fields.clear();
  }
};

template <>
struct action<gr::within_clause> {
  static void apply0(ParseState& s) {
    s.sequence->has_within = true;
    s.sequence->within = std::move(s.values.back());
    s.values.clear();
  }
};

template <bool kAbsent>
struct step_action {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    SequenceStepNode step;
    step.absent = kAbsent;
    step.expr = Pop(s);
    step.span = SpanOf(in, s);
    s.sequence->steps.push_back(std::move(step));
  }
};
template <>
struct action<gr::present_step> : step_action<false> {};
template <>
struct action<gr::absent_step> : step_action<true> {};

template <>
struct action<gr::until_step> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    s.sequence->has_until = true;
    s.sequence->until.expr = Pop(s);
    s.sequence->until.span = SpanOf(in, s);
  }
};

template <>
struct action<gr::sequence_search> {
  template <typename ActionInput>
  static void apply(const ActionInput& in, ParseState& s) {
    s.sequence->span = SpanOf(in, s);
  }
};

// ---- control: error messages and a nesting bound ---------------------------

template <typename Rule>
struct control : pg::must_if<gr::error_message>::control<Rule> {};

// `unary` is where every level of nesting passes (`not`, parentheses), so it
// is where the depth is bounded.
template <>
struct control<gr::unary> : pg::must_if<gr::error_message>::control<gr::unary> {
  using Base = pg::must_if<gr::error_message>::control<gr::unary>;
  template <typename ParseInput>
  static void start(const ParseInput& in, ParseState& s) {
    if (++s.depth > kMaxQueryDepth) throw pg::parse_error("the query nests 'not' and parentheses too deeply", in);
  }
  template <typename ParseInput>
  static void success(const ParseInput& /*in*/, ParseState& s) {
    --s.depth;
  }
  template <typename ParseInput>
  static void failure(const ParseInput& in, ParseState& s) {
    --s.depth;
    Base::failure(in, s);
  }
};

std::size_t DisplayColumn(std::string_view text, std::size_t offset) {
  std::size_t column = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

}  // namespace

std::string QueryError::Format(std::string_view query) const {
  std::string out = "error: " + message + "\n  ";
  for (char c : query) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  out += "\n  ";
  out.append(DisplayColumn(query, offset), ' ');
  out += '^';
  return out;
}

Result<Query> Parse(std::string_view text, QueryError* error) {
  QueryError err;
  if (text.size() > kMaxQueryBytes) {
    err = QueryError{"the query is longer than " + std::to_string(kMaxQueryBytes) + " bytes", kMaxQueryBytes};
    if (error != nullptr) *error = err;
    return Status::InvalidArgument(err.Format(text.substr(0, 80)));
  }
  ParseState state;
  state.base = text.data();
  try {
    pg::memory_input<> in(text.data(), text.size(), "query");
    bool ok = pg::parse<gr::query, action, control>(in, state);
    if (!ok || (state.sequence ? !state.exprs.empty() : state.exprs.size() != 1)) {
      err = QueryError{"cannot parse the query", 0};
    }
  } catch (const pg::parse_error& e) {
    err.message = std::string(e.message());
    err.offset = e.positions().empty() ? 0 : e.positions().front().byte;
  } catch (const std::exception& e) {
    err.message = std::string("cannot parse the query: ") + e.what();
    err.offset = 0;
  }
  if (!err.message.empty()) {
    if (error != nullptr) *error = err;
    return Status::InvalidArgument(err.Format(text));
  }
  Query q;
  q.text = std::string(text);
  if (state.sequence) {
    q.sequence = std::move(state.sequence);
  } else {
    q.where = std::move(state.exprs.back());
  }
  q.stages = std::move(state.stages);
  return q;
}

}  // namespace sipdex::query
