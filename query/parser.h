#pragma once
// Query text -> syntax tree (query/ast.h). No names are resolved here; see
// query/binder.h for that.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"
#include "query/ast.h"

namespace sipdex::query {

// The longest query accepted, in bytes, and the deepest nesting of `not` and
// parentheses: bounds that keep parsing fast and the stack small on any input.
inline constexpr std::size_t kMaxQueryBytes = 64 * 1024;
inline constexpr std::size_t kMaxQueryDepth = 100;

// What went wrong in a query and where: `message` is one line without the
// "error: " prefix ("expected a value"); `offset` is the byte offset in the
// query text the caret points at (the query's size when the query ended early).
struct QueryError {
  std::string message;
  std::size_t offset = 0;

  // The three lines a person sees (no trailing newline):
  //   error: expected 'and', 'or', '|' or end of query
  //     status = 403 adn diag = 2157
  //                  ^
  // The caret column counts UTF-8 characters, and tabs/control characters in
  // the echoed query are shown as spaces so the caret lines up.
  std::string Format(std::string_view query) const;
};

// Parses `text` into a Query. On failure returns an InvalidArgument Status
// whose message is QueryError::Format() of the error, and fills `*error`
// (when not null) with the message and offset. Never throws; accepts any bytes.
Result<Query> Parse(std::string_view text, QueryError* error = nullptr);

}  // namespace sipdex::query
