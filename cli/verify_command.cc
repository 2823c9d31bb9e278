// sipdex verify [--index DIR]
//
// Checks every segment (checksum, decoding, counts, coverage of each file's
// bytes) and every posting (points at a committed record). Prints one line
// per problem. Exit status: 0 intact, 1 damaged (each damage named), 2 no index.

#include <fmt/format.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/index_access.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

int RunVerify(const std::string& index_arg) {
  int open_exit = kExitOk;
  std::optional<ReadableIndex> open = OpenForReading(index_arg, &open_exit);
  if (!open) return open_exit;
  const storage::IndexSnapshot& snap = *open->snapshot;
  std::vector<std::string> problems;
  Status s = snap.Verify(&problems);
  if (!s.ok()) problems.push_back(s.message());
  for (const std::string& p : problems) fmt::print("damaged: {}\n", p);
  const storage::Manifest& m = snap.manifest();
  if (!problems.empty()) {
    fmt::print("verify: {} problem(s) in {}\n", problems.size(), open->dir);
    return kExitDamage;
  }
  fmt::print("verify: ok: {} files, {} records, {} segments\n", m.files.size(), m.record_count,
             snap.time_map().size());
  return kExitOk;
}

}  // namespace

void RegisterVerifyCommand(CLI::App& app, CommandRegistry& registry) {
  auto index = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("verify", "Check every block and index entry; exit 1 on damage");
  AddIndexOption(sub, index.get());
  registry.Add(sub, [index] { return RunVerify(*index); });
}

}  // namespace sipdex::cli
