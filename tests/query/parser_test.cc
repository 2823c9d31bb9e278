#include "query/parser.h"

#include <catch2/catch.hpp>
#include <tao/pegtl/contrib/analyze.hpp>

#include "query/grammar.h"

using namespace sipdex;
using namespace sipdex::query;

namespace {

// The canonical text of a query, or "ERROR: <message>@<offset>".
std::string Canon(std::string_view text) {
  QueryError error;
  Result<Query> q = Parse(text, &error);
  if (!q.ok()) return "ERROR: " + error.message + "@" + std::to_string(error.offset);
  return q->ToString();
}

}  // namespace

TEST_CASE("The grammar has no problems according to PEGTL's analyzer", "[query][parser]") {
  REQUIRE(tao::pegtl::analyze<grammar::query>(1) == 0);
}

TEST_CASE("Parse reads the examples of the spec except sequence", "[query][parser]") {
  CHECK(Canon("status = 403 and diag = 2157") == "(status = 403 and diag = 2157)");
  CHECK(Canon("method = SUBSCRIBE and to.host = contoso.com since 2014-07-14 until 2014-07-21 | count by day, "
              "from.uri") ==
        "(method = SUBSCRIBE and to.host = contoso.com and since 2014-07-14 and until 2014-07-21) | count by day, "
        "from.uri");
  CHECK(Canon("resource.diag = 2157 | count distinct resource.uri by from.uri") ==
        "resource.diag = 2157 | count distinct resource.uri by from.uri");
  CHECK(Canon("diag in (2157, 1003) and last 7d | top 10 to.uri") ==
        "(diag in (2157, 1003) and last 7d) | top 10 to.uri");
  CHECK(Canon("header.\"ms-edge-proxy-message-trust\" exists") == "header.\"ms-edge-proxy-message-trust\" exists");
}

TEST_CASE("Parse reads a sequence with keys, window, steps, until and step fields", "[query][parser]") {
  CHECK(Canon("sequence by call_id within 32s [method = SUBSCRIBE and type = request] ![type = response and "
              "status >= 200]") ==
        "sequence by call_id within 32s [(method = SUBSCRIBE and type = request)] ![(type = response and status >= "
        "200)]");
  CHECK(Canon("SEQUENCE BY sub.subscriber,sub.target WITHIN 1h [diag = 2157][diag = 2157] UNTIL [status = 200] | "
              "count by 1.from.uri, 2.header.\"ms-diagnostics\"") ==
        "sequence by sub.subscriber, sub.target within 1h [diag = 2157] [diag = 2157] until [status = 200] | count by "
        "1.from.uri, 2.header.\"ms-diagnostics\"");
  CHECK(Canon("sequence by call_id [method = INVITE]") == "sequence by call_id [method = INVITE]");
  // `sequence` is a keyword only at the start of a query followed by a space.
  CHECK(Canon("sequence_x = 1") == "sequence_x = 1");

  Result<Query> q = Parse("sequence by call_id, cseq within 5m [status = 401] ![status = 200] until [method = BYE]");
  REQUIRE(q.ok());
  REQUIRE(q->sequence);
  CHECK(q->where == nullptr);
  const Sequence& s = *q->sequence;
  REQUIRE(s.keys.size() == 2);
  CHECK(s.keys[1].name == "cseq");
  CHECK(s.keys[1].span.offset == 21);
  CHECK(s.has_within);
  CHECK(s.within.text == "5m");
  REQUIRE(s.steps.size() == 2);
  CHECK_FALSE(s.steps[0].absent);
  CHECK(s.steps[0].span.offset == 36);
  CHECK(s.steps[0].span.length == 14);
  CHECK(s.steps[1].absent);
  CHECK(s.steps[1].span.offset == 51);
  CHECK(s.steps[1].expr->span.offset == 53);
  CHECK(s.has_until);
  CHECK(s.until.expr->ToString() == "method = BYE");
  CHECK(s.span.offset == 0);
  CHECK(s.span.length == q->text.size());

  Result<Query> f = Parse("sequence by call_id [status = 1] | fields 12.from.uri");
  REQUIRE(f.ok());
  CHECK(f->stages[0].fields[0].step == 12);
  CHECK(f->stages[0].fields[0].name == "from.uri");
  CHECK(f->stages[0].fields[0].span.offset == 42);
  CHECK(f->stages[0].fields[0].span.length == 11);
}

TEST_CASE("Parse gives and precedence over or and keeps not on its operand", "[query][parser]") {
  CHECK(Canon("a = 1 or b = 2 and c = 3") == "(a = 1 or (b = 2 and c = 3))");
  CHECK(Canon("(a = 1 or b = 2) and c = 3") == "((a = 1 or b = 2) and c = 3)");
  CHECK(Canon("not a = 1 and b = 2") == "(not a = 1 and b = 2)");
  CHECK(Canon("not (a = 1 and b = 2)") == "not (a = 1 and b = 2)");
  CHECK(Canon("not not a exists") == "not not a exists");
  CHECK(Canon("a = 1 and b = 2 and c = 3 or d = 4 or e = 5") == "((a = 1 and b = 2 and c = 3) or d = 4 or e = 5)");
}

TEST_CASE("Parse accepts keywords and field names in any case", "[query][parser]") {
  CHECK(Canon("Status = 403 AND Diag = 2157 OR NOT Method Exists") ==
        "((status = 403 and diag = 2157) or not method exists)");
  CHECK(Canon("METHOD = subscribe | COUNT BY Day | SORT count DESC | LIMIT 5") ==
        "method = subscribe | count by day | sort count desc | limit 5");
  CHECK(Canon("x = 1 SINCE 2014-07-14 Until 2014-07-15") == "(x = 1 and since 2014-07-14 and until 2014-07-15)");
}

TEST_CASE("Parse reads every operator", "[query][parser]") {
  CHECK(Canon("a=1") == "a = 1");
  CHECK(Canon("a!=1") == "a != 1");
  CHECK(Canon("a<1") == "a < 1");
  CHECK(Canon("a<=1") == "a <= 1");
  CHECK(Canon("a>1") == "a > 1");
  CHECK(Canon("a>=1") == "a >= 1");
  CHECK(Canon("a~*.lync.com") == "a ~ *.lync.com");
  CHECK(Canon("a=~\"^sip:.*@contoso\\\\.com$\"") == "a =~ \"^sip:.*@contoso\\\\.com$\"");
  CHECK(Canon("text contains \"Source network\"") == "text contains \"Source network\"");
  CHECK(Canon("a in(1,2 , 3)") == "a in (1, 2, 3)");
  CHECK(Canon("a exists") == "a exists");
}

TEST_CASE("Parse unescapes quoted strings and keeps other backslashes", "[query][parser]") {
  Result<Query> q = Parse(R"(body contains "say \"hi\" \\ a\.b")");
  REQUIRE(q.ok());
  REQUIRE(q->where->values.at(0).text == R"(say "hi" \ a\.b)");
  REQUIRE(q->where->values.at(0).kind == Value::Kind::kQuoted);
}

TEST_CASE("Parse reads header and response fields", "[query][parser]") {
  Result<Query> q = Parse("header.Ms-Diagnostics-Public exists and header.\"x y\" = 1 and response.status = 403");
  REQUIRE(q.ok());
  const Expr& e = *q->where;
  REQUIRE(e.children.size() == 3);
  CHECK(e.children[0]->field.name == "header");
  CHECK(e.children[0]->field.header == "Ms-Diagnostics-Public");
  CHECK_FALSE(e.children[0]->field.header_quoted);
  CHECK(e.children[1]->field.header == "x y");
  CHECK(e.children[1]->field.header_quoted);
  CHECK(e.children[2]->field.name == "response.status");
  CHECK(Canon("response exists") == "response exists");
  // Regression (fuzz_query): a plain field named `header` printed as "header.".
  CHECK(Canon("a = 1 | fields time, header, call_id") == "a = 1 | fields time, header, call_id");
}

TEST_CASE("Parse reads every time scope", "[query][parser]") {
  CHECK(Canon("since 2014-07-16T10:17:57.003Z") == "since 2014-07-16T10:17:57.003Z");
  CHECK(Canon("until 2014-07-16") == "until 2014-07-16");
  CHECK(Canon("between 2014-07-14 and 2014-07-21 and a = 1") == "(between 2014-07-14 and 2014-07-21 and a = 1)");
  CHECK(Canon("last 250ms") == "last 250ms");
  CHECK(Canon("on 2014-07-16") == "on 2014-07-16");
  CHECK(Canon("week 2014-W29") == "week 2014-W29");
}

TEST_CASE("Parse reads every stage", "[query][parser]") {
  CHECK(Canon("a = 1 | count") == "a = 1 | count");
  CHECK(Canon("a = 1 | count distinct to.uri") == "a = 1 | count distinct to.uri");
  CHECK(Canon("a = 1 | count by hour,method") == "a = 1 | count by hour, method");
  CHECK(Canon("a = 1 | top 3 from.uri") == "a = 1 | top 3 from.uri");
  CHECK(Canon("a = 1 | distinct from.uri, to.uri") == "a = 1 | distinct from.uri, to.uri");
  CHECK(Canon("a = 1 | fields time, header.Via") == "a = 1 | fields time, header.Via");
  CHECK(Canon("a = 1 | sort time") == "a = 1 | sort time");
  CHECK(Canon("a = 1 | sort time asc") == "a = 1 | sort time");
  CHECK(Canon("a = 1 | limit 0 | flow") == "a = 1 | limit 0 | flow");
}

TEST_CASE("Parse keeps the source position of every node", "[query][parser]") {
  Result<Query> q = Parse("  status = 403  and  diag in (2157) | top 10 to.uri ");
  REQUIRE(q.ok());
  const Expr& e = *q->where;
  CHECK(e.span.offset == 2);
  CHECK(e.span.length == 33);
  const Expr& status = *e.children[0];
  CHECK(status.span.offset == 2);
  CHECK(status.span.length == 12);
  CHECK(status.field.span.offset == 2);
  CHECK(status.field.span.length == 6);
  CHECK(status.values[0].span.offset == 11);
  CHECK(status.values[0].span.length == 3);
  const Expr& diag = *e.children[1];
  CHECK(diag.values[0].span.offset == 30);
  REQUIRE(q->stages.size() == 1);
  CHECK(q->stages[0].number == 10);
  CHECK(q->stages[0].number_span.offset == 42);
  CHECK(q->stages[0].fields[0].span.offset == 45);
}

TEST_CASE("An error shows the message, the query and a caret under the column", "[query][parser]") {
  QueryError error;
  Result<Query> q = Parse("status = 403 adn diag = 2157", &error);
  REQUIRE_FALSE(q.ok());
  REQUIRE(q.status().code() == Status::Code::kInvalidArgument);
  REQUIRE(q.status().message() ==
          "error: expected 'and', 'or', '|' or end of query\n"
          "  status = 403 adn diag = 2157\n"
          "               ^");
  REQUIRE(error.offset == 13);
}

TEST_CASE("The caret counts characters, not bytes, and tabs print as spaces", "[query][parser]") {
  QueryError error;
  Result<Query> q = Parse("from.name = Müller\tx", &error);
  REQUIRE_FALSE(q.ok());
  REQUIRE(q.status().message() ==
          "error: expected 'and', 'or', '|' or end of query\n"
          "  from.name = Müller x\n"
          "                     ^");
}

TEST_CASE("Parse rejects nesting deeper than the bound without exhausting the stack", "[query][parser]") {
  std::string deep(5000, '(');
  deep += "a = 1";
  QueryError error;
  REQUIRE_FALSE(Parse(deep, &error).ok());
  REQUIRE(error.message == "the query nests 'not' and parentheses too deeply");
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "not ";
  REQUIRE_FALSE(Parse(nots + "a = 1", &error).ok());
  REQUIRE(error.message == "the query nests 'not' and parentheses too deeply");
  std::string ok(50, '(');
  ok += "a = 1";
  ok += std::string(50, ')');
  REQUIRE(Parse(ok).ok());
}

TEST_CASE("Parse rejects a query longer than the bound", "[query][parser]") {
  std::string q = "a = 1";
  while (q.size() <= kMaxQueryBytes) q += " or a = 1";
  QueryError error;
  REQUIRE_FALSE(Parse(q, &error).ok());
  REQUIRE(error.message == "the query is longer than 65536 bytes");
}

struct Malformed {
  const char* query;
  const char* message;
  std::size_t column;
};

// clang-format off
const Malformed kMalformed[] = {
  {"status = 403 adn diag = 2157", "expected 'and', 'or', '|' or end of query", 13},
  {"", "expected a condition: a field, 'not', '(' or a time scope", 0},
  {"   ", "expected a condition: a field, 'not', '(' or a time scope", 3},
  {"403", "expected a condition: a field, 'not', '(' or a time scope", 0},
  {"\"status\" = 403", "expected a condition: a field, 'not', '(' or a time scope", 0},
  {"| count", "expected a condition: a field, 'not', '(' or a time scope", 0},
  {"status", "expected an operator (= != < <= > >= ~ =~ contains), 'in' or 'exists'", 6},
  {"status 403", "expected an operator (= != < <= > >= ~ =~ contains), 'in' or 'exists'", 7},
  {"status == 403", "expected a value", 8},
  {"status =", "expected a value", 8},
  {"status = ", "expected a value", 9},
  {"status = )", "expected a value", 9},
  {"status => 403", "expected a value", 8},
  {"status <> 403", "expected a value", 8},
  {"status = 403 and", "expected a condition: a field, 'not', '(' or a time scope", 16},
  {"status = 403 and and diag = 1", "expected a condition: a field, 'not', '(' or a time scope", 17},
  {"status = 403 or", "expected a condition: a field, 'not', '(' or a time scope", 15},
  {"status = 403 or | count", "expected a condition: a field, 'not', '(' or a time scope", 16},
  {"not", "expected a condition: a field, 'not', '(' or a time scope", 3},
  {"not = 3", "expected a condition: a field, 'not', '(' or a time scope", 4},
  {"(status = 403", "expected 'and', 'or' or ')'", 13},
  {"(status = 403 diag = 1)", "expected 'and', 'or' or ')'", 14},
  {"()", "expected a condition: a field, 'not', '(' or a time scope", 1},
  {"status = 403)", "expected 'and', 'or', '|' or end of query", 12},
  {"status = 403 diag = 2157", "expected 'and', 'or', '|' or end of query", 13},
  {"status = 403 ,", "expected 'and', 'or', '|' or end of query", 13},
  {"diag in 2157", "expected '(' after 'in'", 8},
  {"diag in", "expected '(' after 'in'", 7},
  {"diag in ()", "expected a value", 9},
  {"diag in (2157", "expected ',' or ')'", 13},
  {"diag in (2157 1003)", "expected ',' or ')'", 14},
  {"diag in (2157,)", "expected a value", 14},
  {"diag in (2157,,1)", "expected a value", 14},
  {"body contains \"abc", "unterminated string: missing closing '\"'", 14},
  {"body contains \"abc\\\"", "unterminated string: missing closing '\"'", 14},
  {"header.\"abc = 1", "unterminated string: missing closing '\"'", 7},
  {"header. = 1", "expected a header name after 'header.'", 7},
  {"header.", "expected a header name after 'header.'", 7},
  {"since", "expected a time (2014-07-16 or 2014-07-16T10:17:57)", 5},
  {"since | count", "expected a time (2014-07-16 or 2014-07-16T10:17:57)", 6},
  {"until (2014-07-16)", "expected a time (2014-07-16 or 2014-07-16T10:17:57)", 6},
  {"between 2014-07-14", "expected 'and' between the two times", 18},
  {"between 2014-07-14 or 2014-07-15", "expected 'and' between the two times", 19},
  {"between 2014-07-14 and", "expected a time (2014-07-16 or 2014-07-16T10:17:57)", 22},
  {"last", "expected a duration (250ms, 32s, 5m, 2h, 7d)", 4},
  {"on", "expected a date (2014-07-16)", 2},
  {"week", "expected an ISO week (2014-W29)", 4},
  {"status = 403 since", "expected a time (2014-07-16 or 2014-07-16T10:17:57)", 18},
  {"status = 403 |", "expected a stage: count, top, distinct, fields, sort, limit or flow", 14},
  {"status = 403 | ", "expected a stage: count, top, distinct, fields, sort, limit or flow", 15},
  {"status = 403 | cnt", "expected a stage: count, top, distinct, fields, sort, limit or flow", 15},
  {"status = 403 || count", "expected a stage: count, top, distinct, fields, sort, limit or flow", 14},
  {"status = 403 | count by", "expected a field name", 23},
  {"status = 403 | count by day,", "expected a field name", 28},
  {"status = 403 | count by day from.uri", "expected '|' or end of query", 28},
  {"status = 403 | count distinct", "expected a field name", 29},
  {"status = 403 | count distinct by day", "expected a field name", 30},
  {"status = 403 | count day", "expected '|' or end of query", 21},
  {"status = 403 | top to.uri", "expected a number", 19},
  {"status = 403 | top 10", "expected a field name", 21},
  {"status = 403 | top -1 to.uri", "expected a number", 19},
  {"status = 403 | top 10x to.uri", "expected a number", 19},
  {"status = 403 | top 99999999999999999999 to.uri", "number is too large", 19},
  {"status = 403 | limit", "expected a number", 20},
  {"status = 403 | limit ten", "expected a number", 21},
  {"status = 403 | limit 10 20", "expected '|' or end of query", 24},
  {"status = 403 | sort", "expected a field name", 19},
  {"status = 403 | sort time up", "expected '|' or end of query", 25},
  {"status = 403 | fields", "expected a field name", 21},
  {"status = 403 | fields a,,b", "expected a field name", 24},
  {"status = 403 | distinct", "expected a field name", 23},
  {"status = 403 | flow now", "expected '|' or end of query", 20},
  {"status = 403 | count | ", "expected a stage: count, top, distinct, fields, sort, limit or flow", 23},
  {"status = 403 | count and diag = 1", "expected '|' or end of query", 21},
  {"sequence", "expected 'by' after 'sequence'", 8},
  {"sequence call_id [status = 1]", "expected 'by' after 'sequence'", 9},
  {"sequence by", "expected a field name", 11},
  {"sequence by call_id,", "expected a field name", 20},
  {"sequence by call_id, within 32s [status = 1]", "expected a field name", 21},
  {"sequence by call_id", "expected a step: [condition] or ![condition]", 19},
  {"sequence by call_id within 32s", "expected a step: [condition] or ![condition]", 30},
  {"sequence by call_id within 32s | count", "expected a step: [condition] or ![condition]", 31},
  {"sequence by call_id within", "expected a duration (250ms, 32s, 5m, 2h, 7d)", 26},
  {"sequence by call_id within 32s [", "expected a condition: a field, 'not', '(' or a time scope", 32},
  {"sequence by call_id within 32s []", "expected a condition: a field, 'not', '(' or a time scope", 32},
  {"sequence by call_id within 32s ![]", "expected a condition: a field, 'not', '(' or a time scope", 33},
  {"sequence by call_id within 32s [status = 1", "expected 'and', 'or' or ']'", 42},
  {"sequence by call_id within 32s [status = 1 diag = 2]", "expected 'and', 'or' or ']'", 43},
  {"sequence by call_id within 32s [status = 1] status = 2", "expected a step ('[' or '!['), 'until', '|' or end of query", 44},
  {"sequence by call_id within 32s [status = 1] ! [status = 2]", "expected a step ('[' or '!['), 'until', '|' or end of query", 44},
  {"sequence by call_id within 32s [status = 1] until", "expected '[' after 'until'", 49},
  {"sequence by call_id within 32s [status = 1] until ![status = 2]", "expected '[' after 'until'", 50},
  {"sequence by call_id within 32s [status = 1] until [status = 2] [status = 3]", "expected '|' or end of query", 63},
  {"sequence by call_id [status = 1] | count by 1.", "expected a field name", 44},
  {"sequence by call_id [status = 1] | fields 1.header.", "expected a header name after 'header.'", 51},
  {"sequence by call_id [status = 1] | fields 99999999999.time", "step number is too large", 42},
  {"a.=1", "expected an operator (= != < <= > >= ~ =~ contains), 'in' or 'exists'", 1},
  {"status = [403]", "expected a value", 9},
  {"status ! = 403", "expected an operator (= != < <= > >= ~ =~ contains), 'in' or 'exists'", 7},
};
// clang-format on

TEST_CASE("Parse reports the message and column of each malformed query", "[query][parser]") {
  STATIC_REQUIRE(sizeof(kMalformed) / sizeof(kMalformed[0]) >= 50);
  for (const Malformed& m : kMalformed) {
    INFO("query: " << m.query);
    QueryError error;
    Result<Query> q = Parse(m.query, &error);
    REQUIRE_FALSE(q.ok());
    CHECK(error.message == m.message);
    CHECK(error.offset == m.column);
    CHECK(q.status().message() == error.Format(m.query));
  }
}
