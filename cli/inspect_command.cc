// sipdex inspect FILE|DIR... [--format jsonl|table|summary|summary-json] [--threads N]
//
// Reads, frames and parses trace files without indexing them, and prints the
// parsed records and/or a summary. Output formats:
//   table         one compact aligned line per record (default); summary on stderr
//   jsonl         one JSON object per record (keys documented in indexer/README.md,
//                 always present, always in the same order); summary on stderr
//   summary       the summary only, as text on stdout (benchmarks)
//   summary-json  the summary only, as one JSON object on stdout (tests)
// Exit status: 0 ok, 1 when a file could not be read completely (its error is
// printed and counted), 2 usage.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "indexer/framer.h"
#include "indexer/parser.h"
#include "indexer/reader.h"
#include "storage/record.h"

namespace sipdex::cli {
namespace {

using Json = nlohmann::ordered_json;
using Counts = std::map<std::string, std::uint64_t, std::less<>>;

enum class Format { kTable, kJsonl, kSummary, kSummaryJson };

constexpr std::size_t kMaxMalformedListed = 10000;

struct MalformedEntry {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t bits = 0;
};

// What `inspect` counts. Merged from per-batch partial summaries, in order.
struct Summary {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  std::array<std::uint64_t, kRecordKindCount> by_kind{};
  Counts requests_by_method;
  Counts responses_by_status;
  Counts responses_by_cseq_method;
  std::map<std::string, Counts, std::less<>> responses_by_method_status;
  Counts diag_messages_by_code;  // messages carrying the code (once per message)
  Counts resources_by_state_status_diag;
  std::array<std::uint64_t, kMalformedBitCount> malformed_by_reason{};
  std::uint64_t malformed_records = 0;
  std::vector<MalformedEntry> malformed;  // first kMaxMalformedListed, in file order
  std::uint64_t malformed_unlisted = 0;
  std::vector<std::string> errors;    // input that could not be read: exit 1
  std::vector<std::string> warnings;  // nothing lost (files skipped in folders, ...)

  void Add(const Record& r, const std::string& file) {
    ++records;
    ++by_kind[static_cast<int>(r.kind)];
    if (r.kind == RecordKind::kProtocol) {
      if (r.type == MessageType::kRequest && !r.method.empty()) {
        Bump(requests_by_method, r.method);
      } else if (r.type == MessageType::kResponse) {
        std::string status = r.status >= 0 ? std::to_string(r.status) : std::string("none");
        Bump(responses_by_status, status);
        std::string_view m = r.cseq_method.empty() ? std::string_view("none") : r.cseq_method;
        Bump(responses_by_cseq_method, m);
        auto it = responses_by_method_status.find(m);
        if (it == responses_by_method_status.end()) it = responses_by_method_status.emplace(std::string(m), Counts()).first;
        Bump(it->second, status);
      }
      for (std::size_t i = 0; i < r.diagnostics.size(); ++i) {
        std::int32_t code = r.diagnostics[i].code;
        bool seen = false;
        for (std::size_t j = 0; j < i; ++j) seen = seen || r.diagnostics[j].code == code;
        if (!seen) Bump(diag_messages_by_code, code >= 0 ? std::to_string(code) : std::string("none"));
      }
      for (const ResourceInstance& ri : r.resources) {
        Bump(resources_by_state_status_diag,
             fmt::format("{}/{}/{}", ri.state.empty() ? "-" : ri.state, ri.status >= 0 ? std::to_string(ri.status) : "-",
                         ri.diag >= 0 ? std::to_string(ri.diag) : "-"));
      }
    }
    if (r.malformed != kMalformedNone) AddMalformed(file, r.line, r.malformed);
  }
  void AddMalformed(const std::string& file, std::uint32_t line, std::uint32_t bits) {
    ++malformed_records;
    for (int i = 0; i < kMalformedBitCount; ++i) {
      if (bits & (1u << i)) ++malformed_by_reason[i];
    }
    if (malformed.size() < kMaxMalformedListed) {
      malformed.push_back({file, line, bits});
    } else {
      ++malformed_unlisted;
    }
  }
  void Merge(const Summary& o) {
    files += o.files;
    bytes += o.bytes;
    records += o.records;
    for (int i = 0; i < kRecordKindCount; ++i) by_kind[i] += o.by_kind[i];
    MergeCounts(requests_by_method, o.requests_by_method);
    MergeCounts(responses_by_status, o.responses_by_status);
    MergeCounts(responses_by_cseq_method, o.responses_by_cseq_method);
    for (const auto& [m, c] : o.responses_by_method_status) MergeCounts(responses_by_method_status[m], c);
    MergeCounts(diag_messages_by_code, o.diag_messages_by_code);
    MergeCounts(resources_by_state_status_diag, o.resources_by_state_status_diag);
    for (int i = 0; i < kMalformedBitCount; ++i) malformed_by_reason[i] += o.malformed_by_reason[i];
    malformed_records += o.malformed_records;
    for (const MalformedEntry& e : o.malformed) {
      if (malformed.size() < kMaxMalformedListed) {
        malformed.push_back(e);
      } else {
        ++malformed_unlisted;
      }
    }
    malformed_unlisted += o.malformed_unlisted;
    errors.insert(errors.end(), o.errors.begin(), o.errors.end());
    warnings.insert(warnings.end(), o.warnings.begin(), o.warnings.end());
  }

  static void Bump(Counts& c, std::string_view key) {
    auto it = c.find(key);
    if (it == c.end()) {
      c.emplace(std::string(key), 1);
    } else {
      ++it->second;
    }
  }
  static void MergeCounts(Counts& into, const Counts& from) {
    for (const auto& [k, v] : from) into[k] += v;
  }
};

// Status codes and diag codes sort numerically in text output.
std::vector<std::pair<std::string, std::uint64_t>> Sorted(const Counts& c, bool numeric) {
  std::vector<std::pair<std::string, std::uint64_t>> v(c.begin(), c.end());
  if (numeric) {
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
    });
  }
  return v;
}

std::string JoinCounts(const Counts& c, bool numeric) {
  std::string out;
  for (const auto& [k, v] : Sorted(c, numeric)) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", k, v);
  }
  return out.empty() ? "-" : out;
}

void PrintSummaryText(const Summary& s, double seconds, std::FILE* out) {
  fmt::print(out, "files {}, bytes {}, records {}", s.files, s.bytes, s.records);
  std::string kinds;
  for (int i = 0; i < kRecordKindCount; ++i) {
    if (!kinds.empty()) kinds += ", ";
    kinds += fmt::format("{} {}", RecordKindName(static_cast<RecordKind>(i)), s.by_kind[i]);
  }
  fmt::print(out, " ({})\n", kinds);
  fmt::print(out, "requests by method: {}\n", JoinCounts(s.requests_by_method, false));
  fmt::print(out, "responses by status: {}\n", JoinCounts(s.responses_by_status, true));
  fmt::print(out, "responses by CSeq method: {}\n", JoinCounts(s.responses_by_cseq_method, false));
  fmt::print(out, "ms-diagnostics codes (messages): {}\n", JoinCounts(s.diag_messages_by_code, true));
  fmt::print(out, "resource instances (state/status/diag): {}\n", JoinCounts(s.resources_by_state_status_diag, false));
  fmt::print(out, "malformed records: {}\n", s.malformed_records);
  for (int i = 0; i < kMalformedBitCount; ++i) {
    if (s.malformed_by_reason[i] == 0) continue;
    std::string examples;
    int shown = 0;
    for (const MalformedEntry& e : s.malformed) {
      if (!(e.bits & (1u << i))) continue;
      if (shown == 3) {
        examples += ", ...";
        break;
      }
      examples += fmt::format("{}{}:{}", shown ? ", " : "", e.file, e.line);
      ++shown;
    }
    fmt::print(out, "  {:<12} {:>8}  e.g. {}\n", MalformedBitName(1u << i), s.malformed_by_reason[i], examples);
  }
  for (const std::string& w : s.warnings) fmt::print(out, "warning: {}\n", w);
  for (const std::string& e : s.errors) fmt::print(out, "error: {}\n", e);
  double mb = static_cast<double>(s.bytes) / 1e6;
  fmt::print(out, "throughput: {:.1f} MB in {:.3f} s = {:.1f} MB/s\n", mb, seconds,
             seconds > 0 ? mb / seconds : 0.0);
}

Json CountsJson(const Counts& c) {
  Json j = Json::object();
  for (const auto& [k, v] : c) j[k] = v;
  return j;
}

Json SummaryJson(const Summary& s, double seconds) {
  Json j;
  j["files"] = s.files;
  j["bytes"] = s.bytes;
  j["records"] = s.records;
  Json kinds = Json::object();
  for (int i = 0; i < kRecordKindCount; ++i) kinds[std::string(RecordKindName(static_cast<RecordKind>(i)))] = s.by_kind[i];
  j["records_by_kind"] = kinds;
  j["requests_by_method"] = CountsJson(s.requests_by_method);
  j["responses_by_status"] = CountsJson(s.responses_by_status);
  j["responses_by_cseq_method"] = CountsJson(s.responses_by_cseq_method);
  Json ms = Json::object();
  for (const auto& [m, c] : s.responses_by_method_status) ms[m] = CountsJson(c);
  j["responses_by_cseq_method_and_status"] = ms;
  j["diag_messages_by_code"] = CountsJson(s.diag_messages_by_code);
  j["resources_by_state_status_diag"] = CountsJson(s.resources_by_state_status_diag);
  j["malformed_records"] = s.malformed_records;
  Json reasons = Json::object();
  for (int i = 0; i < kMalformedBitCount; ++i) {
    if (s.malformed_by_reason[i]) reasons[std::string(MalformedBitName(1u << i))] = s.malformed_by_reason[i];
  }
  j["malformed_by_reason"] = reasons;
  Json list = Json::array();
  for (const MalformedEntry& e : s.malformed) {
    Json m;
    m["file"] = e.file;
    m["line"] = e.line;
    Json rs = Json::array();
    for (int i = 0; i < kMalformedBitCount; ++i) {
      if (e.bits & (1u << i)) rs.push_back(std::string(MalformedBitName(1u << i)));
    }
    m["reasons"] = rs;
    list.push_back(m);
  }
  j["malformed"] = list;
  j["malformed_unlisted"] = s.malformed_unlisted;
  j["errors"] = s.errors;
  j["warnings"] = s.warnings;
  j["seconds"] = seconds;
  return j;
}

std::string Str(std::string_view v) { return std::string(v); }

Json NameAddrJson(const NameAddr& n) {
  Json j;
  j["display"] = Str(n.display);
  j["uri"] = Str(n.uri);
  j["user"] = Str(n.user);
  j["host"] = Str(n.host);
  j["tag"] = Str(n.tag);
  j["epid"] = Str(n.epid);
  return j;
}

std::string_view TypeName(MessageType t) {
  switch (t) {
    case MessageType::kRequest: return "request";
    case MessageType::kResponse: return "response";
    case MessageType::kUnknown: break;
  }
  return "";
}

// One record as a JSON line. Keys are always present, in this order.
std::string RecordJson(const Record& r, const std::string& file) {
  Json j;
  j["file"] = file;
  j["line"] = r.line;
  j["offset"] = r.offset;
  j["size"] = r.text.size();
  j["kind"] = Str(RecordKindName(r.kind));
  Json reasons = Json::array();
  for (int i = 0; i < kMalformedBitCount; ++i) {
    if (r.malformed & (1u << i)) reasons.push_back(Str(MalformedBitName(1u << i)));
  }
  j["malformed"] = reasons;
  j["server"] = Str(ServerName(file, r));
  j["level"] = Str(r.level);
  j["flag"] = Str(r.flag);
  j["machine"] = Str(r.machine);
  j["pid"] = r.pid;
  j["tid"] = r.tid;
  j["time"] = r.has_time ? Json(FormatTime(r.time)) : Json(nullptr);
  j["seq"] = r.seq;
  j["component"] = Str(r.component);
  j["function"] = Str(r.function);
  j["tail"] = Str(r.tail);
  j["correlation_id"] = r.correlation_id;
  j["instance_id"] = Str(r.instance_id);
  j["direction"] = Str(r.direction);
  j["direction_params"] = Str(r.direction_params);
  j["peer"] = Str(r.peer);
  j["type"] = Str(TypeName(r.type));
  j["start_line"] = Str(r.start_line);
  j["method"] = Str(r.method);
  j["ruri"] = Str(r.ruri);
  j["status"] = r.status;
  j["reason"] = Str(r.reason_phrase);
  j["from"] = NameAddrJson(r.from);
  j["to"] = NameAddrJson(r.to);
  j["call_id"] = Str(r.call_id);
  j["cseq"] = r.cseq;
  j["cseq_method"] = Str(r.cseq_method);
  j["event"] = Str(r.event);
  j["expires"] = r.expires;
  j["content_type"] = Str(r.content_type);
  j["user_agent"] = Str(r.user_agent);
  j["server_hdr"] = Str(r.server_hdr);
  Json rr = Json::array();
  for (std::string_view v : r.record_route) rr.push_back(Str(v));
  j["record_route"] = rr;
  Json diags = Json::array();
  for (const Diagnostic& d : r.diagnostics) {
    Json dj;
    dj["variant"] = Str(DiagHeaderName(d.variant));
    dj["code"] = d.code;
    dj["subcode"] = d.subcode;
    dj["reason"] = Str(d.reason);
    dj["source"] = Str(d.source);
    diags.push_back(dj);
  }
  j["diagnostics"] = diags;
  Json res = Json::array();
  for (const ResourceInstance& ri : r.resources) {
    Json rj;
    rj["uri"] = Str(ri.uri);
    rj["state"] = Str(ri.state);
    rj["reason"] = Str(ri.reason);
    rj["status"] = ri.status;
    rj["diag"] = ri.diag;
    res.push_back(rj);
  }
  j["resources"] = res;
  j["headers"] = r.headers.size();
  j["body_bytes"] = r.body.size();
  j["severity"] = Str(r.severity);
  j["text"] = Str(r.diag_text);
  j["result_code"] = Str(r.result_code);
  j["result_text"] = Str(r.result_text);
  j["sip_start_line"] = Str(r.sip_start_line);
  j["sip_call_id"] = Str(r.sip_call_id);
  j["sip_cseq"] = Str(r.sip_cseq);
  std::string out = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  out += '\n';
  return out;
}

std::string Clip(std::string_view s, std::size_t n) {
  std::string out;
  for (char c : s.substr(0, n)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  return out;
}

std::string RecordTable(const Record& r, const std::string& file) {
  std::string what;
  if (r.kind == RecordKind::kProtocol) {
    what = r.type == MessageType::kResponse
               ? fmt::format("{} {}", r.status >= 0 ? std::to_string(r.status) : "---", Clip(r.method, 12))
               : fmt::format("{}", Clip(r.method, 16));
  } else if (r.kind == RecordKind::kDiagnostic) {
    what = Clip(r.result_text.empty() ? r.severity : r.result_text, 40);
  }
  std::string diag;
  for (const Diagnostic& d : r.diagnostics) diag += fmt::format("{}{}", diag.empty() ? "" : ",", d.code);
  return fmt::format("{}:{:<7} {:<10} {:<24} {:<8} {:<20} {:<34} {:<28} {:<10} {}\n", file, r.line,
                     RecordKindName(r.kind), r.has_time ? FormatTime(r.time) : "-", Clip(r.flag, 8), what,
                     Clip(r.call_id, 34), Clip(r.from.uri, 28), diag, MalformedReasons(r.malformed));
}

// Parses one batch: per-batch summary and rendered output.
struct BatchResult {
  Summary summary;
  std::string output;
};

void ParseOne(const RecordBatch& batch, const std::string& file, Format format, Record* record, BatchResult* out) {
  for (std::size_t i = 0; i < batch.spans.size(); ++i) {
    ParseRecord(batch.Text(i), batch.spans[i], record);
    // Whitespace-only junk (a trailing blank line) is kept but not shown.
    if (record->kind == RecordKind::kJunk && record->malformed == kMalformedNone) continue;
    out->summary.Add(*record, file);
    if (format == Format::kJsonl) {
      out->output += RecordJson(*record, file);
    } else if (format == Format::kTable) {
      out->output += RecordTable(*record, file);
    }
  }
}

class Inspector {
 public:
  Inspector(Format format, int threads) : format_(format), threads_(std::max(1, threads)) {
    records_.resize(static_cast<std::size_t>(threads_));
    for (auto& r : records_) r = std::make_unique<Record>();
  }

  void InspectFile(const LogicalFile& file) {
    Result<std::unique_ptr<LogReader>> reader = OpenLogicalFile(file);
    ++summary_.files;
    if (!reader.ok()) {
      summary_.errors.push_back(reader.status().message());
      return;
    }
    RecordFramer framer;
    std::vector<char> chunk(1u << 20);
    std::vector<RecordBatch> wave;
    RecordBatch batch;
    for (;;) {
      Result<std::size_t> got = (*reader)->Read(chunk.data(), chunk.size());
      if (!got.ok()) {
        summary_.errors.push_back(got.status().message());
        break;
      }
      if (*got == 0) break;
      framer.Feed(std::string_view(chunk.data(), *got));
      while (framer.NextBatch(&batch)) {
        wave.push_back(std::move(batch));
        if (wave.size() >= static_cast<std::size_t>(threads_) * 2) RunWave(&wave, file.name, &framer);
      }
    }
    framer.Finish();
    while (framer.NextBatch(&batch)) wave.push_back(std::move(batch));
    RunWave(&wave, file.name, &framer);
    summary_.bytes += framer.bytes_fed();
    if (framer.bytes_fed() == 0) summary_.AddMalformed(file.name, 0, kMalformedEmptyFile);
  }

  const Summary& summary() const { return summary_; }
  Summary& mutable_summary() { return summary_; }

 private:
  // Parses the batches of `wave` on up to threads_ threads, then prints and
  // merges their results in order.
  void RunWave(std::vector<RecordBatch>* wave, const std::string& file, RecordFramer* framer) {
    if (wave->empty()) return;
    std::vector<BatchResult> results(wave->size());
    if (threads_ == 1 || wave->size() == 1) {
      for (std::size_t i = 0; i < wave->size(); ++i) ParseOne((*wave)[i], file, format_, records_[0].get(), &results[i]);
    } else {
      std::atomic<std::size_t> next{0};
      auto work = [&](Record* record) {
        for (std::size_t i = next++; i < wave->size(); i = next++) ParseOne((*wave)[i], file, format_, record, &results[i]);
      };
      std::vector<std::thread> pool;
      std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(threads_), wave->size());
      for (std::size_t t = 1; t < n; ++t) pool.emplace_back(work, records_[t].get());
      work(records_[0].get());
      for (std::thread& t : pool) t.join();
    }
    for (BatchResult& r : results) {
      if (!r.output.empty()) std::fwrite(r.output.data(), 1, r.output.size(), stdout);
      summary_.Merge(r.summary);
    }
    for (RecordBatch& b : *wave) framer->Recycle(std::move(b));
    wave->clear();
  }

  Format format_;
  int threads_;
  std::vector<std::unique_ptr<Record>> records_;
  Summary summary_;
};

struct InspectOptions {
  std::vector<std::string> paths;
  std::string format = "table";
  int threads = 1;
};

int RunInspect(const InspectOptions& opt) {
  Format format = Format::kTable;
  if (opt.format == "jsonl") {
    format = Format::kJsonl;
  } else if (opt.format == "summary") {
    format = Format::kSummary;
  } else if (opt.format == "summary-json") {
    format = Format::kSummaryJson;
  } else if (opt.format != "table") {
    fmt::print(stderr, "error: unknown format '{}' (expected jsonl, table, summary or summary-json)\n", opt.format);
    return kExitUsage;
  }
  std::vector<std::string> warnings;
  Result<std::vector<LogicalFile>> files = ExpandInputs(opt.paths, &warnings);
  if (!files.ok()) {
    fmt::print(stderr, "error: {}\n", files.status().message());
    return kExitDamage;
  }
  auto start = std::chrono::steady_clock::now();
  Inspector inspector(format, opt.threads);
  inspector.mutable_summary().warnings = warnings;
  for (const LogicalFile& f : *files) inspector.InspectFile(f);
  std::fflush(stdout);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Summary& s = inspector.summary();
  switch (format) {
    case Format::kSummary: PrintSummaryText(s, seconds, stdout); break;
    case Format::kSummaryJson: fmt::print("{}\n", SummaryJson(s, seconds).dump(-1, ' ', false, Json::error_handler_t::replace)); break;
    case Format::kJsonl:
    case Format::kTable: PrintSummaryText(s, seconds, stderr); break;
  }
  return s.errors.empty() ? kExitOk : kExitDamage;
}

}  // namespace

void RegisterInspectCommand(CLI::App& app, CommandRegistry& registry) {
  auto opt = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand("inspect", "Parse trace files (no index) and print records and a summary");
  sub->add_option("paths", opt->paths, "files (.log .txt .gz .zst .zip) or folders")->required();
  sub->add_option("--format", opt->format, "table (default), jsonl, summary, summary-json");
  sub->add_option("--threads", opt->threads, "parser threads (default 1)")->check(CLI::Range(1, 256));
  registry.Add(sub, [opt]() { return RunInspect(*opt); });
}

}  // namespace sipdex::cli
