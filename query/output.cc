#include "query/output.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace sipdex::query {

Status RowSink::PushMany(Row&& row, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n && !Done(); ++i) {
    Row copy = i + 1 == n ? std::move(row) : row;
    SIPDEX_RETURN_IF_ERROR(Push(std::move(copy)));
  }
  return Status::Ok();
}

std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

namespace {

// Display width in UTF-8 characters.
std::size_t Width(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

class TableWriter : public RowSink {
 public:
  static constexpr std::size_t kLayoutRows = 1000;  // rows read before the widths are fixed
  static constexpr std::size_t kMaxWidth = 60;      // longer cells overflow their column

  TableWriter(std::vector<std::string> columns, std::ostream* out) : columns_(std::move(columns)), out_(out) {}

  Status Push(Row&& row) override {
    ++written_;
    if (widths_.empty()) {
      pending_.push_back(std::move(row));
      if (pending_.size() >= kLayoutRows) Layout();
      return Status::Ok();
    }
    Print(row);
    return Status::Ok();
  }

  Status Finish() override {
    if (widths_.empty()) Layout();
    out_->flush();
    return out_->good() ? Status::Ok() : Status::IoError("cannot write the output");
  }

  std::uint64_t rows_written() const override { return written_; }

 private:
  std::string CellText(const OutCell& c) const {
    return c.kind == OutCell::Kind::kNull ? "-" : Printable(c.ToString());
  }

  void Layout() {
    if (pending_.empty()) return;  // no rows: no header either
    widths_.assign(columns_.size(), 0);
    for (std::size_t i = 0; i < columns_.size(); ++i) widths_[i] = Width(columns_[i]);
    for (const Row& r : pending_) {
      for (std::size_t i = 0; i < columns_.size() && i < r.cells.size(); ++i) {
        widths_[i] = std::min(kMaxWidth, std::max(widths_[i], Width(CellText(r.cells[i]))));
      }
    }
    std::vector<std::string> header(columns_.begin(), columns_.end());
    PrintLine(header);
    for (const Row& r : pending_) Print(r);
    pending_.clear();
  }

  void Print(const Row& r) {
    std::vector<std::string> cells;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      cells.push_back(i < r.cells.size() ? CellText(r.cells[i]) : "-");
    }
    PrintLine(cells);
  }

  void PrintLine(const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line += "  ";
      line += cells[i];
      if (i + 1 < cells.size()) {
        std::size_t w = Width(cells[i]);
        if (w < widths_[i]) line.append(widths_[i] - w, ' ');
      }
    }
    *out_ << line << '\n';
  }

  std::vector<std::string> columns_;
  std::ostream* out_;
  std::vector<std::size_t> widths_;
  std::vector<Row> pending_;
  std::uint64_t written_ = 0;
};

// A writer that prints each row as it comes: what finishing and counting
// mean is the same for all of them.
class StreamWriter : public RowSink {
 public:
  explicit StreamWriter(std::ostream* out) : out_(out) {}
  Status Finish() override {
    out_->flush();
    return out_->good() ? Status::Ok() : Status::IoError("cannot write the output");
  }
  std::uint64_t rows_written() const override { return written_; }

 protected:
  std::ostream* out_;
  std::uint64_t written_ = 0;
};

class JsonlWriter : public StreamWriter {
 public:
  JsonlWriter(std::vector<std::string> columns, std::ostream* out)
      : StreamWriter(out), columns_(std::move(columns)) {}
  Status Push(Row&& row) override {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const OutCell* c = i < row.cells.size() ? &row.cells[i] : nullptr;
      if (c == nullptr || c->kind == OutCell::Kind::kNull) {
        j[columns_[i]] = nullptr;
      } else if (c->kind == OutCell::Kind::kNumber) {
        j[columns_[i]] = c->number;
      } else {
        j[columns_[i]] = c->text;
      }
    }
    *out_ << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
    ++written_;
    return Status::Ok();
  }

 private:
  std::vector<std::string> columns_;
};

class CsvWriter : public StreamWriter {
 public:
  CsvWriter(std::vector<std::string> columns, std::ostream* out) : StreamWriter(out), columns_(std::move(columns)) {
    std::string line;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      line += (i ? "," : "") + CsvCell(OutCell::Text(columns_[i]));
    }
    *out_ << line << "\r\n";
  }
  Status Push(Row&& row) override {
    std::string line;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (i) line += ',';
      if (i < row.cells.size()) line += CsvCell(row.cells[i]);
    }
    *out_ << line << "\r\n";
    ++written_;
    return Status::Ok();
  }

 private:
  std::vector<std::string> columns_;
};

class RawWriter : public StreamWriter {
 public:
  explicit RawWriter(std::ostream* out) : StreamWriter(out) {}
  Status Push(Row&& row) override {
    out_->write(row.raw.data(), static_cast<std::streamsize>(row.raw.size()));
    ++written_;
    return Status::Ok();
  }
};

class FlowWriter : public RowSink {
 public:
  FlowWriter(std::vector<std::string> columns, std::ostream* out, std::size_t limit)
      : columns_(std::move(columns)), out_(out), limit_(limit) {}

  Status Push(Row&& row) override {
    auto get = [&](std::string_view name) -> std::string {
      for (std::size_t i = 0; i < columns_.size() && i < row.cells.size(); ++i) {
        if (columns_[i] == name) return Printable(row.cells[i].ToString());
      }
      return {};
    };
    std::string call_id = get("call_id");
    std::string time = get("time");
    std::string arrow = get("direction") == "incoming" ? "<--" : get("direction") == "outgoing" ? "-->" : "---";
    std::string what;
    if (get("type") == "response") {
      what = get("status").empty() ? "response" : get("status") + " " + get("reason");
      what += " (" + get("cseq") + " " + get("method") + ")";
    } else {
      what = get("method") + " " + get("ruri");
    }
    std::string diag = get("diag");
    if (!diag.empty()) what += "  diag " + diag;
    std::string line = "  " + (time.size() > 11 ? time.substr(11, 12) : time) + "  " + get("server") + " " + arrow +
                       " " + get("peer") + "  " + what;
    auto it = index_.find(call_id);
    if (it == index_.end()) {
      it = index_.emplace(call_id, dialogs_.size()).first;
      dialogs_.push_back({call_id, {}});
    }
    bytes_ += line.size() + 32;
    if (bytes_ > limit_) {
      return Status::ResourceExhausted("flow: the dialogs exceed " + std::to_string(limit_ >> 20) +
                                       " MiB; narrow the query (for example by call_id)");
    }
    dialogs_[it->second].lines.push_back(std::move(line));
    ++written_;
    return Status::Ok();
  }

  Status Finish() override {
    for (const Dialog& d : dialogs_) {
      *out_ << "Call-ID " << (d.call_id.empty() ? "(none)" : d.call_id) << "  (" << d.lines.size()
            << (d.lines.size() == 1 ? " message)\n" : " messages)\n");
      for (const std::string& l : d.lines) *out_ << l << '\n';
    }
    out_->flush();
    return out_->good() ? Status::Ok() : Status::IoError("cannot write the output");
  }
  std::uint64_t rows_written() const override { return written_; }

 private:
  struct Dialog {
    std::string call_id;
    std::vector<std::string> lines;
  };
  std::vector<std::string> columns_;
  std::ostream* out_;
  std::size_t limit_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<Dialog> dialogs_;
  std::uint64_t written_ = 0;
};

}  // namespace

Result<OutputFormat> ParseOutputFormat(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "jsonl") return OutputFormat::kJsonl;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "raw") return OutputFormat::kRaw;
  if (name == "flow") return OutputFormat::kFlow;
  return Status::InvalidArgument("--format takes table, jsonl, csv, raw or flow, got \"" + std::string(name) + "\"");
}

std::string_view OutputFormatName(OutputFormat f) {
  switch (f) {
    case OutputFormat::kTable:
      return "table";
    case OutputFormat::kJsonl:
      return "jsonl";
    case OutputFormat::kCsv:
      return "csv";
    case OutputFormat::kRaw:
      return "raw";
    case OutputFormat::kFlow:
      return "flow";
  }
  return "?";
}

std::string OutCell::ToString() const {
  switch (kind) {
    case Kind::kNull:
      return {};
    case Kind::kNumber:
      return std::to_string(number);
    case Kind::kText:
      return text;
  }
  return {};
}

int CompareCells(const OutCell& a, const OutCell& b) {
  if (a.kind != b.kind) return a.kind < b.kind ? -1 : 1;
  switch (a.kind) {
    case OutCell::Kind::kNull:
      return 0;
    case OutCell::Kind::kNumber:
      return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
    case OutCell::Kind::kText:
      return a.text.compare(b.text) < 0 ? -1 : a.text == b.text ? 0 : 1;
  }
  return 0;
}

std::string CsvCell(const OutCell& cell) {
  std::string s = cell.ToString();
  if (cell.kind == OutCell::Kind::kText && !s.empty() &&
      (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r')) {
    s.insert(s.begin(), '\'');
  }
  if (s.find_first_of(",\"\r\n") == std::string::npos && (s.empty() || (s.front() != ' ' && s.back() != ' '))) {
    return s;
  }
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::unique_ptr<RowSink> NewOutputWriter(OutputFormat format, std::vector<std::string> columns, std::ostream* out) {
  switch (format) {
    case OutputFormat::kTable:
      return std::make_unique<TableWriter>(std::move(columns), out);
    case OutputFormat::kJsonl:
      return std::make_unique<JsonlWriter>(std::move(columns), out);
    case OutputFormat::kCsv:
      return std::make_unique<CsvWriter>(std::move(columns), out);
    case OutputFormat::kRaw:
      return std::make_unique<RawWriter>(out);
    case OutputFormat::kFlow:
      break;
  }
  return nullptr;
}

std::unique_ptr<RowSink> NewFlowWriter(std::vector<std::string> columns, std::ostream* out, std::size_t memory_limit) {
  return std::make_unique<FlowWriter>(std::move(columns), out, memory_limit);
}

}  // namespace sipdex::query
