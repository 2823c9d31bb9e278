#pragma once
// Rows and the writers that print them. Stable, documented schemas (see
// query/README.md, "Output formats"):
//   table  aligned columns with a header line; "-" for no value.
//   jsonl  one JSON object per row, keys in column order; numbers as numbers,
//          no value as null; invalid UTF-8 replaced by U+FFFD.
//   csv    RFC 4180, a header line; a text cell starting with = + - @ (or
//          TAB / CR) is prefixed with ' so spreadsheets do not run it.
//   raw    the original record text, byte-exact, records back to back.
//   flow   a text ladder per dialog (Call-ID), like Snooper's call flow.

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sipdex::query {

enum class OutputFormat : std::uint8_t { kTable, kJsonl, kCsv, kRaw, kFlow };
// "table", "jsonl", "csv", "raw", "flow"; InvalidArgument otherwise.
Result<OutputFormat> ParseOutputFormat(std::string_view name);
std::string_view OutputFormatName(OutputFormat f);

// One cell of a row: no value, a number, or text.
struct OutCell {
  enum class Kind : std::uint8_t { kNull, kNumber, kText };
  Kind kind = Kind::kNull;
  std::int64_t number = 0;
  std::string text;

  static OutCell Null() { return OutCell(); }
  static OutCell Number(std::int64_t n) { return OutCell{Kind::kNumber, n, {}}; }
  static OutCell Text(std::string s) { return OutCell{Kind::kText, 0, std::move(s)}; }
  // The cell as text ("" for no value).
  std::string ToString() const;
};

// Orders cells: no value first, then numbers (numerically), then text (bytes).
int CompareCells(const OutCell& a, const OutCell& b);

struct Row {
  std::vector<OutCell> cells;  // one per column of the stage that made the row
  std::string raw;             // the record's exact text (raw and flow formats only)
};

// A consumer of rows: a pipeline stage or an output writer.
class RowSink {
 public:
  virtual ~RowSink() = default;
  // Takes the next row. An error stops the query.
  virtual Status Push(Row&& row) = 0;
  // Takes `n` rows equal to `row` (counts answered from postings). The
  // default pushes n copies; counting stages add n at once.
  virtual Status PushMany(Row&& row, std::uint64_t n);
  // True once the sink needs no more rows (limit reached): producers stop.
  virtual bool Done() const { return false; }
  // No more rows: flush buffered state downstream.
  virtual Status Finish() = 0;
  // Rows this sink (if it writes output) has written.
  virtual std::uint64_t rows_written() const { return 0; }
};

// A writer of `format` for rows with `columns`, printing to `out`.
// REQUIRES: format != kFlow (see NewFlowWriter).
std::unique_ptr<RowSink> NewOutputWriter(OutputFormat format, std::vector<std::string> columns, std::ostream* out);

// `s` with control characters as spaces, so text from a hostile log can
// neither break a table's layout nor steer the terminal.
std::string Printable(std::string_view s);

// The ladder writer: rows must carry the columns time, server, direction,
// peer, type, method, ruri, status, reason, cseq, call_id, diag (by name; a
// missing one prints as empty). Holds one line per row until Finish, at most
// `memory_limit` bytes (ResourceExhausted beyond).
std::unique_ptr<RowSink> NewFlowWriter(std::vector<std::string> columns, std::ostream* out, std::size_t memory_limit);

// A CSV cell: quoted when needed, and neutralised when it starts with = + - @
// TAB or CR (formula injection).
std::string CsvCell(const OutCell& cell);

}  // namespace sipdex::query
