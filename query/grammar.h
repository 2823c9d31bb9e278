#pragma once
// The query language grammar (PEGTL 3.2). The only header that includes PEGTL;
// parser.cc is the only file that includes this one (plus the grammar test).
//
// Conventions: one lower_case struct per rule, each with a comment. Every
// token rule swallows the white space after it, so when a rule fails the input
// sits at the start of the next token and the caret of an error points at what
// was found. Keywords and field names are case-insensitive. Rules that must
// match once their prefix matched are wrapped in must<>; each such rule has a
// message in `error_message` below. Actions live in parser.cc, not here.
//
// `sequence` (issue 6): `search` = sor<sequence_search, expr>, so `sequence`
// followed by white space is a keyword at the start of a query.

#include <tao/pegtl.hpp>

namespace sipdex::query::grammar {

namespace pg = tao::pegtl;

// ---- lexical ---------------------------------------------------------------

// White space between tokens.
struct ws : pg::star<pg::space> {};
// The end of a keyword: not followed by a letter, digit or underscore.
struct keyword_end : pg::not_at<pg::identifier_other> {};

// Keywords (case-insensitive), each followed by white space.
struct kw_and : pg::seq<TAO_PEGTL_ISTRING("and"), keyword_end, ws> {};
struct kw_or : pg::seq<TAO_PEGTL_ISTRING("or"), keyword_end, ws> {};
struct kw_not : pg::seq<TAO_PEGTL_ISTRING("not"), keyword_end, ws> {};
struct kw_in : pg::seq<TAO_PEGTL_ISTRING("in"), keyword_end, ws> {};
struct kw_exists : pg::seq<TAO_PEGTL_ISTRING("exists"), keyword_end, ws> {};
struct kw_contains : pg::seq<TAO_PEGTL_ISTRING("contains"), keyword_end, ws> {};
struct kw_since : pg::seq<TAO_PEGTL_ISTRING("since"), keyword_end, ws> {};
struct kw_until : pg::seq<TAO_PEGTL_ISTRING("until"), keyword_end, ws> {};
struct kw_between : pg::seq<TAO_PEGTL_ISTRING("between"), keyword_end, ws> {};
struct kw_last : pg::seq<TAO_PEGTL_ISTRING("last"), keyword_end, ws> {};
struct kw_on : pg::seq<TAO_PEGTL_ISTRING("on"), keyword_end, ws> {};
struct kw_week : pg::seq<TAO_PEGTL_ISTRING("week"), keyword_end, ws> {};
struct kw_count : pg::seq<TAO_PEGTL_ISTRING("count"), keyword_end, ws> {};
struct kw_distinct : pg::seq<TAO_PEGTL_ISTRING("distinct"), keyword_end, ws> {};
struct kw_by : pg::seq<TAO_PEGTL_ISTRING("by"), keyword_end, ws> {};
struct kw_top : pg::seq<TAO_PEGTL_ISTRING("top"), keyword_end, ws> {};
struct kw_fields : pg::seq<TAO_PEGTL_ISTRING("fields"), keyword_end, ws> {};
struct kw_sort : pg::seq<TAO_PEGTL_ISTRING("sort"), keyword_end, ws> {};
struct kw_desc : pg::seq<TAO_PEGTL_ISTRING("desc"), keyword_end, ws> {};
struct kw_asc : pg::seq<TAO_PEGTL_ISTRING("asc"), keyword_end, ws> {};
struct kw_limit : pg::seq<TAO_PEGTL_ISTRING("limit"), keyword_end, ws> {};
struct kw_flow : pg::seq<TAO_PEGTL_ISTRING("flow"), keyword_end, ws> {};
struct kw_sequence : pg::seq<TAO_PEGTL_ISTRING("sequence"), keyword_end, ws> {};
struct kw_within : pg::seq<TAO_PEGTL_ISTRING("within"), keyword_end, ws> {};

// Punctuation, each followed by white space.
struct open_paren : pg::seq<pg::one<'('>, ws> {};
struct close_paren : pg::seq<pg::one<')'>, ws> {};
struct comma : pg::seq<pg::one<','>, ws> {};
struct pipe : pg::seq<pg::one<'|'>, ws> {};

// ---- values ----------------------------------------------------------------

// Inside quotes: a backslash escapes the next character (\" and \\).
struct escaped_char : pg::seq<pg::one<'\\'>, pg::any> {};
// Any character of a quoted string but the closing quote.
struct string_char : pg::sor<escaped_char, pg::not_one<'"'>> {};
// The text between the quotes (unescaped by the action).
struct string_body : pg::star<string_char> {};
// "..." complete with its closing quote.
struct closed_string : pg::seq<pg::one<'"'>, string_body, pg::one<'"'>> {};
// Raised at the opening quote of a string that never closes.
struct unterminated_string : pg::failure {};
// A quoted string; an opening quote without a closing one is an error.
struct quoted_string : pg::seq<pg::at<pg::one<'"'>>, pg::sor<closed_string, pg::raise<unterminated_string>>> {};
// The first character of a bare word: not a separator, quote or operator.
struct bare_first
    : pg::not_one<' ', '\t', '\r', '\n', '\v', '\f', '(', ')', '|', ',', '"', '[', ']', '=', '!', '<', '>', '~'> {};
// Later characters of a bare word: anything but white space and separators.
struct bare_char : pg::not_one<' ', '\t', '\r', '\n', '\v', '\f', '(', ')', '|', ',', '"', '[', ']'> {};
// A bare word: SUBSCRIBE, contoso.com, 2157, 32s, 2014-07-16T10:17:57.003Z, *.lync.com.
struct bare_word : pg::seq<bare_first, pg::star<bare_char>> {};
// A value: quoted string or bare word. Its type is decided by the binder.
struct value : pg::seq<pg::sor<quoted_string, bare_word>, ws> {};
// A value where a time is needed (since, until, between).
struct time_value : value {};
// A value where a date is needed (on).
struct date_value : value {};
// A value where a duration is needed (last).
struct duration_value : value {};
// A value where an ISO week is needed (week).
struct week_value : value {};
// A non-negative integer (top N, limit N).
struct number : pg::seq<pg::plus<pg::digit>, pg::not_at<bare_char>, ws> {};

// ---- fields ----------------------------------------------------------------

// One part of a dotted field name.
struct name_part : pg::identifier {};
// Words that can never be field names, so `a = 1 and and b = 2`,
// `count distinct by day` and `sequence by a, within 1h` point at the
// misplaced keyword.
struct reserved_word
    : pg::seq<pg::sor<TAO_PEGTL_ISTRING("and"), TAO_PEGTL_ISTRING("or"), TAO_PEGTL_ISTRING("not"),
                      TAO_PEGTL_ISTRING("in"), TAO_PEGTL_ISTRING("exists"), TAO_PEGTL_ISTRING("contains"),
                      TAO_PEGTL_ISTRING("by"), TAO_PEGTL_ISTRING("within")>,
              keyword_end> {};
// A field name: status, from.uri, response.status, day.
struct plain_field : pg::seq<pg::not_at<reserved_word>, name_part, pg::star<pg::one<'.'>, name_part>> {};
// An unquoted header name: letters, digits, '-' and '_'.
struct header_token : pg::plus<pg::sor<pg::alnum, pg::one<'-', '_'>>> {};
// The NAME of header.NAME, bare or quoted.
struct header_name : pg::sor<quoted_string, header_token> {};
// header.NAME or header."NAME".
struct header_field : pg::seq<TAO_PEGTL_ISTRING("header"), pg::one<'.'>, pg::must<header_name>> {};
// A field of one step of a sequence's match: 1.time, 2.from.uri, 1.header.Via.
struct step_field : pg::seq<pg::plus<pg::digit>, pg::one<'.'>, pg::sor<header_field, plain_field>> {};
// Any field reference.
struct field : pg::seq<pg::sor<header_field, step_field, plain_field>, ws> {};

// ---- expressions -----------------------------------------------------------

// A comparison operator (longest first).
struct op_regex : pg::string<'=', '~'> {};
struct op_ne : pg::string<'!', '='> {};
struct op_le : pg::string<'<', '='> {};
struct op_ge : pg::string<'>', '='> {};
struct op_eq : pg::one<'='> {};
struct op_lt : pg::one<'<'> {};
struct op_gt : pg::one<'>'> {};
struct op_glob : pg::one<'~'> {};
struct op_contains : kw_contains {};
struct compare_op : pg::seq<pg::sor<op_regex, op_ne, op_le, op_ge, op_eq, op_lt, op_gt, op_glob>, ws> {};
// `op value`.
struct compare_clause : pg::seq<pg::sor<compare_op, op_contains>, pg::must<value>> {};
// The closing parenthesis of an `in` list.
struct close_list : close_paren {};
// The opening parenthesis of an `in` list.
struct open_list : open_paren {};
// `in (v, ...)`.
struct in_clause
    : pg::seq<kw_in, pg::must<open_list>, pg::must<value>, pg::star<comma, pg::must<value>>, pg::must<close_list>> {};
// `exists`.
struct exists_clause : kw_exists {};
// What follows the field of a predicate.
struct predicate_rest : pg::sor<in_clause, exists_clause, compare_clause> {};
// field op value | field in (...) | field exists.
struct predicate : pg::seq<field, pg::must<predicate_rest>> {};

// Time scopes.
struct since_scope : pg::seq<kw_since, pg::must<time_value>> {};
struct until_scope : pg::seq<kw_until, pg::must<time_value>> {};
// The `and` between the two times of `between`.
struct between_and : kw_and {};
struct between_scope : pg::seq<kw_between, pg::must<time_value>, pg::must<between_and>, pg::must<time_value>> {};
struct last_scope : pg::seq<kw_last, pg::must<duration_value>> {};
struct on_scope : pg::seq<kw_on, pg::must<date_value>> {};
struct week_scope : pg::seq<kw_week, pg::must<week_value>> {};
struct time_scope : pg::sor<since_scope, until_scope, between_scope, last_scope, on_scope, week_scope> {};

struct expr;
// The closing parenthesis of a group.
struct close_group : close_paren {};
// ( expr )
struct group : pg::seq<open_paren, pg::must<expr>, pg::must<close_group>> {};
// A condition: group, time scope or predicate.
struct primary : pg::sor<group, time_scope, predicate> {};
struct unary;
// not X
struct not_expr : pg::seq<kw_not, pg::must<unary>> {};
// [not]* primary. The parser bounds how deeply this recurses.
struct unary : pg::sor<not_expr, primary> {};
// and X (one step of a left-associative chain). A time scope may also follow a
// condition without `and`: `method = SUBSCRIBE since 2014-07-14 until 2014-07-21`.
struct and_tail : pg::sor<pg::seq<kw_and, pg::must<unary>>, time_scope> {};
// X and Y and ...
struct and_expr : pg::seq<unary, pg::star<and_tail>> {};
// or X
struct or_tail : pg::seq<kw_or, pg::must<and_expr>> {};
// X or Y or ... (or binds weaker than and).
struct expr : pg::seq<and_expr, pg::star<or_tail>> {};

// ---- stages ----------------------------------------------------------------

// `distinct FIELD` of a count stage.
struct count_distinct : pg::seq<kw_distinct, pg::must<field>> {};
// `by KEY, ...` of a count stage.
struct count_by : pg::seq<kw_by, pg::must<field>, pg::star<comma, pg::must<field>>> {};
struct count_stage : pg::seq<kw_count, pg::opt<count_distinct>, pg::opt<count_by>> {};
struct top_stage : pg::seq<kw_top, pg::must<number>, pg::must<field>> {};
struct distinct_stage : pg::seq<kw_distinct, pg::must<field>, pg::star<comma, pg::must<field>>> {};
struct fields_stage : pg::seq<kw_fields, pg::must<field>, pg::star<comma, pg::must<field>>> {};
// `desc` or `asc` after sort.
struct sort_order : pg::sor<kw_desc, kw_asc> {};
struct sort_stage : pg::seq<kw_sort, pg::must<field>, pg::opt<sort_order>> {};
struct limit_stage : pg::seq<kw_limit, pg::must<number>> {};
struct flow_stage : kw_flow {};
// Any stage.
struct stage : pg::sor<count_stage, top_stage, distinct_stage, fields_stage, sort_stage, limit_stage, flow_stage> {};
// | stage
struct pipe_stage : pg::seq<pipe, pg::must<stage>> {};

// ---- sequences -------------------------------------------------------------

// `by` after `sequence`.
struct sequence_by : kw_by {};
// The join keys: FIELD, ...
struct sequence_keys : pg::seq<pg::must<field>, pg::star<comma, pg::must<field>>> {};
// `within DURATION`: the window of a sequence.
struct within_clause : pg::seq<kw_within, pg::must<duration_value>> {};
// '[' opening a step.
struct open_step : pg::seq<pg::one<'['>, ws> {};
// '![' opening an absence step.
struct open_absent_step : pg::seq<pg::one<'!'>, pg::one<'['>, ws> {};
// ']' closing a step.
struct close_step : pg::seq<pg::one<']'>, ws> {};
// [expr]: an event that must occur.
struct present_step : pg::seq<open_step, pg::must<expr>, pg::must<close_step>> {};
// ![expr]: an event that must not occur within the window.
struct absent_step : pg::seq<open_absent_step, pg::must<expr>, pg::must<close_step>> {};
// One step of a sequence.
struct sequence_step : pg::sor<absent_step, present_step> {};
// The [expr] after `until`.
struct until_step : pg::seq<pg::one<'['>, ws, pg::must<expr>, pg::must<close_step>> {};
// `until [expr]`: cancels the open partial matches of its key.
struct until_clause : pg::seq<kw_until, pg::must<until_step>> {};
// After the steps: another step, `until`, the first pipe or the end.
struct after_steps : pg::sor<pg::eof, pg::at<pg::one<'|'>>> {};
// After `until [...]`: the first pipe or the end.
struct after_until : pg::sor<pg::eof, pg::at<pg::one<'|'>>> {};
// sequence by K, ... [within D] step step ... [until step]
struct sequence_search : pg::seq<kw_sequence, pg::must<sequence_by>, pg::must<sequence_keys>, pg::opt<within_clause>,
                                 pg::must<sequence_step>, pg::star<sequence_step>,
                                 pg::sor<pg::seq<until_clause, pg::must<after_until>>, pg::must<after_steps>>> {};

// ---- query -----------------------------------------------------------------

// What a query searches for: a sequence or an expression.
struct search : pg::sor<sequence_search, expr> {};
// After the search: end of query or the first pipe.
struct after_search : pg::sor<pg::eof, pg::at<pg::one<'|'>>> {};
// After the last stage: end of query.
struct after_stage : pg::eof {};
// The whole query.
struct query : pg::seq<ws, pg::must<search>, pg::must<after_search>, pg::star<pipe_stage>, pg::must<after_stage>> {};

// ---- error messages --------------------------------------------------------

// The message raised when a must<> rule fails, keyed by rule. Rules outside
// must<> fail quietly so sor<> can try the next alternative.
struct error_message {
  template <typename Rule>
  static constexpr const char* message = nullptr;
  template <typename Rule>
  static constexpr bool raise_on_failure = false;
};

// clang-format off
#define SIPDEX_QUERY_ERROR(rule, text) \
  template <> inline constexpr const char* error_message::message<rule> = text
SIPDEX_QUERY_ERROR(search, "expected a condition: a field, 'not', '(' or a time scope");
SIPDEX_QUERY_ERROR(expr, "expected a condition: a field, 'not', '(' or a time scope");
SIPDEX_QUERY_ERROR(unary, "expected a condition: a field, 'not', '(' or a time scope");
SIPDEX_QUERY_ERROR(and_expr, "expected a condition: a field, 'not', '(' or a time scope");
SIPDEX_QUERY_ERROR(after_search, "expected 'and', 'or', '|' or end of query");
SIPDEX_QUERY_ERROR(after_stage, "expected '|' or end of query");
SIPDEX_QUERY_ERROR(close_group, "expected 'and', 'or' or ')'");
SIPDEX_QUERY_ERROR(predicate_rest, "expected an operator (= != < <= > >= ~ =~ contains), 'in' or 'exists'");
SIPDEX_QUERY_ERROR(value, "expected a value");
SIPDEX_QUERY_ERROR(open_list, "expected '(' after 'in'");
SIPDEX_QUERY_ERROR(close_list, "expected ',' or ')'");
SIPDEX_QUERY_ERROR(unterminated_string, "unterminated string: missing closing '\"'");
SIPDEX_QUERY_ERROR(header_name, "expected a header name after 'header.'");
SIPDEX_QUERY_ERROR(time_value, "expected a time (2014-07-16 or 2014-07-16T10:17:57)");
SIPDEX_QUERY_ERROR(date_value, "expected a date (2014-07-16)");
SIPDEX_QUERY_ERROR(duration_value, "expected a duration (250ms, 32s, 5m, 2h, 7d)");
SIPDEX_QUERY_ERROR(week_value, "expected an ISO week (2014-W29)");
SIPDEX_QUERY_ERROR(between_and, "expected 'and' between the two times");
SIPDEX_QUERY_ERROR(field, "expected a field name");
SIPDEX_QUERY_ERROR(number, "expected a number");
SIPDEX_QUERY_ERROR(stage, "expected a stage: count, top, distinct, fields, sort, limit or flow");
SIPDEX_QUERY_ERROR(sequence_by, "expected 'by' after 'sequence'");
SIPDEX_QUERY_ERROR(sequence_keys, "expected a field name");
SIPDEX_QUERY_ERROR(sequence_step, "expected a step: [condition] or ![condition]");
SIPDEX_QUERY_ERROR(close_step, "expected 'and', 'or' or ']'");
SIPDEX_QUERY_ERROR(until_step, "expected '[' after 'until'");
SIPDEX_QUERY_ERROR(after_steps, "expected a step ('[' or '!['), 'until', '|' or end of query");
SIPDEX_QUERY_ERROR(after_until, "expected '|' or end of query");
#undef SIPDEX_QUERY_ERROR
// clang-format on

}  // namespace sipdex::query::grammar
