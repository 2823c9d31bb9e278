// sipdex verify [--index DIR]
//
// Checks every segment (checksum, decoding, counts, coverage of each file's
// bytes) and every posting (points at a committed record). Prints one line
// per problem. Exit status: 0 intact, 1 damaged (each damage named), 2 no index.

#include <fmt/format.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

int RunVerify(const std::string& index_arg) {
  std::string dir = index_arg.empty() ? storage::DefaultIndexDir() : index_arg;
  auto index = storage::Index::Open(dir, storage::IndexOptions{.read_only = true, .parser = {}});
  if (!index.ok()) {
    fmt::print(stderr, "error: {}\n", index.status().message());
    return index.status().code() == Status::Code::kNotFound ? kExitUsage : kExitDamage;
  }
  auto snap = (*index)->Snapshot();
  if (!snap.ok()) {
    fmt::print("damaged: {}\n", snap.status().message());
    return kExitDamage;
  }
  std::vector<std::string> problems;
  Status s = (*snap)->Verify(&problems);
  if (!s.ok()) problems.push_back(s.message());
  for (const std::string& p : problems) fmt::print("damaged: {}\n", p);
  const storage::Manifest& m = (*snap)->manifest();
  if (!problems.empty()) {
    fmt::print("verify: {} problem(s) in {}\n", problems.size(), dir);
    return kExitDamage;
  }
  fmt::print("verify: ok: {} files, {} records, {} segments\n", m.files.size(), m.record_count,
             (*snap)->time_map().size());
  return kExitOk;
}

}  // namespace

void RegisterVerifyCommand(CLI::App& app, CommandRegistry& registry) {
  auto index = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("verify", "Check every block and index entry; exit 1 on damage");
  sub->add_option("--index", *index, "index directory (default $SIPDEX_INDEX, else ./sipdex-index)");
  registry.Add(sub, [index] { return RunVerify(*index); });
}

}  // namespace sipdex::cli
