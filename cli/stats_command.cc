// sipdex stats [--index DIR] [--postings]
//
// Records, time span, servers, files, sizes per part and the compression
// ratio of the index. Exit status: 0 ok, 1 the index cannot be read, 2 no index.

#include <fmt/format.h>

#include <string>

#include "cli/commands.h"
#include "cli/index_access.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

std::string Mb(std::uint64_t b) { return fmt::format("{:.1f} MB", static_cast<double>(b) / 1e6); }

int RunStats(const std::string& index_arg, bool by_field) {
  int open_exit = kExitOk;
  std::optional<ReadableIndex> open = OpenForReading(index_arg, &open_exit);
  if (!open) return open_exit;
  const storage::IndexSnapshot& snap = *open->snapshot;
  const storage::Manifest& m = snap.manifest();
  fmt::print("index:     {}\n", open->dir);
  fmt::print("records:   {}", m.counts.records);
  std::string kinds;
  for (int k = 0; k < kRecordKindCount; ++k) {
    std::uint64_t n = m.counts.by_kind[static_cast<std::size_t>(k)];
    if (n > 0) kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, RecordKindName(static_cast<RecordKind>(k)));
  }
  fmt::print("{}\n", kinds.empty() ? "" : " (" + kinds + ")");
  fmt::print("malformed: {} records\n", m.counts.malformed_records);
  for (int b = 0; b < kMalformedBitCount; ++b) {
    std::uint64_t n = m.counts.by_malformed_bit[static_cast<std::size_t>(b)];
    if (n > 0) fmt::print("  {}: {}\n", MalformedBitName(1u << b), n);
  }
  if (m.min_time <= m.max_time) {
    fmt::print("time span: {} .. {}\n", FormatTime(m.min_time), FormatTime(m.max_time));
  } else {
    fmt::print("time span: none\n");
  }
  std::string servers;
  for (const std::string& s : m.servers) servers += (servers.empty() ? "" : ", ") + s;
  fmt::print("servers:   {} ({})\n", m.servers.size(), servers);
  fmt::print("files:     {} ({} segments)\n", m.files.size(), snap.time_map().size());
  auto space = snap.Space(by_field);
  fmt::print("raw:       {}\n", Mb(m.raw_bytes));
  if (space.ok()) {
    fmt::print("stored:    {} on disk: segments {} (of which facts {}), postings {}, other {}\n",
               Mb(space->directory_bytes), Mb(space->segment_bytes), Mb(space->facts_bytes),
               Mb(space->postings_bytes), Mb(space->other_bytes));
    if (space->directory_bytes > 0) {
      fmt::print("ratio:     {:.2f}x (raw / index directory)\n",
                 static_cast<double>(m.raw_bytes) / static_cast<double>(space->directory_bytes));
    }
    for (const auto& f : space->postings_by_field) {
      fmt::print("  postings {:<16} {:>9} keys {:>12} bytes before compression\n", f.field, f.keys, f.bytes);
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterStatsCommand(CLI::App& app, CommandRegistry& registry) {
  auto index = std::make_shared<std::string>();
  auto by_field = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("stats", "Records, time span, servers, files, sizes and compression ratio");
  AddIndexOption(sub, index.get());
  sub->add_flag("--postings", *by_field, "also the postings' size per field (reads them all)");
  registry.Add(sub, [index, by_field] { return RunStats(*index, *by_field); });
}

}  // namespace sipdex::cli
