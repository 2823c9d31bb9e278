#include "query/ast.h"

namespace sipdex::query {
namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string FieldRef::ToString() const {
  std::string prefix = step > 0 ? std::to_string(step) + "." : std::string();
  if (!IsHeader()) return prefix + name;
  return prefix + (header_quoted ? "header." + Quote(header) : "header." + header);
}

std::string Value::ToString() const {
  return kind == Kind::kQuoted ? Quote(text) : text;
}

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kGlob:
      return "~";
    case Op::kRegex:
      return "=~";
    case Op::kContains:
      return "contains";
    case Op::kIn:
      return "in";
    case Op::kExists:
      return "exists";
  }
  return "?";
}

std::string_view TimeScopeName(TimeScopeKind k) {
  switch (k) {
    case TimeScopeKind::kSince:
      return "since";
    case TimeScopeKind::kUntil:
      return "until";
    case TimeScopeKind::kBetween:
      return "between";
    case TimeScopeKind::kLast:
      return "last";
    case TimeScopeKind::kOn:
      return "on";
    case TimeScopeKind::kWeek:
      return "week";
  }
  return "?";
}

std::string Expr::ToString() const {
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
    case Kind::kPredicate: {
      std::string out = field.ToString();
      out += ' ';
      out += OpName(op);
      if (op == Op::kExists) return out;
      if (op == Op::kIn) {
        out += " (";
        for (std::size_t i = 0; i < values.size(); ++i) {
          if (i > 0) out += ", ";
          out += values[i].ToString();
        }
        return out + ")";
      }
      return out + " " + (values.empty() ? std::string() : values[0].ToString());
    }
    case Kind::kTimeScope: {
      std::string out(TimeScopeName(scope));
      for (std::size_t i = 0; i < values.size(); ++i) {
        out += i == 0 ? " " : " and ";
        out += values[i].ToString();
      }
      return out;
    }
  }
  return "?";
}

std::string Stage::ToString() const {
  auto list = [](const std::vector<FieldRef>& fs) {
    std::string out;
    for (std::size_t i = 0; i < fs.size(); ++i) {
      if (i > 0) out += ", ";
      out += fs[i].ToString();
    }
    return out;
  };
  switch (kind) {
    case Kind::kCount: {
      std::string out = "count";
      if (has_distinct) out += " distinct " + distinct.ToString();
      if (!fields.empty()) out += " by " + list(fields);
      return out;
    }
    case Kind::kTop:
      return "top " + std::to_string(number) + " " + list(fields);
    case Kind::kDistinct:
      return "distinct " + list(fields);
    case Kind::kFields:
      return "fields " + list(fields);
    case Kind::kSort:
      return "sort " + list(fields) + (descending ? " desc" : "");
    case Kind::kLimit:
      return "limit " + std::to_string(number);
    case Kind::kFlow:
      return "flow";
  }
  return "?";
}

std::string SequenceStepNode::ToString() const {
  return (absent ? "![" : "[") + (expr ? expr->ToString() : std::string()) + "]";
}

std::string Sequence::ToString() const {
  std::string out = "sequence by ";
  for (std::size_t i = 0; i < keys.size(); ++i) out += (i > 0 ? ", " : "") + keys[i].ToString();
  if (has_within) out += " within " + within.ToString();
  for (const SequenceStepNode& s : steps) out += " " + s.ToString();
  if (has_until) out += " until " + until.ToString();
  return out;
}

std::string Query::ToString() const {
  std::string out = where ? where->ToString() : sequence ? sequence->ToString() : std::string();
  for (const Stage& s : stages) out += " | " + s.ToString();
  return out;
}

}  // namespace sipdex::query
