#include "cli/index_access.h"

#include <fmt/format.h>

#include "cli/commands.h"
#include "indexer/ingest.h"

namespace sipdex::cli {

void AddIndexOption(CLI::App* sub, std::string* dir) {
  sub->add_option("--index", *dir, "index directory (default $SIPDEX_INDEX, else ./sipdex-index)");
}

std::optional<ReadableIndex> OpenForReading(const std::string& index_arg, int* exit_code) {
  ReadableIndex r;
  r.dir = index_arg.empty() ? storage::DefaultIndexDir() : index_arg;
  auto index = storage::Index::Open(r.dir, storage::IndexOptions{.read_only = true, .parser = MakeRecordParser()});
  if (!index.ok()) {
    fmt::print(stderr, "error: {}\n", index.status().message());
    *exit_code = index.status().code() == Status::Code::kNotFound ? kExitUsage : kExitDamage;
    return std::nullopt;
  }
  auto snapshot = (*index)->Snapshot();
  if (!snapshot.ok()) {
    fmt::print(stderr, "error: {}\n", snapshot.status().message());
    *exit_code = kExitDamage;
    return std::nullopt;
  }
  r.index = std::move(*index);
  r.snapshot = std::move(*snapshot);
  return r;
}

}  // namespace sipdex::cli
