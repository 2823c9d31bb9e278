#pragma once
// What every command that reads the index shares: the --index option with its
// default, opening read-only with the record parser, taking a snapshot, and
// turning failures into a message on stderr and an exit code.

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "storage/index.h"

namespace sipdex::cli {

// Adds `--index DIR` to `sub`, storing into *dir ("" means the default).
void AddIndexOption(CLI::App* sub, std::string* dir);

struct ReadableIndex {
  std::string dir;                                   // the directory actually opened
  std::unique_ptr<storage::Index> index;
  std::unique_ptr<storage::IndexSnapshot> snapshot;  // a consistent view of the committed files
};

// Opens `index_arg` (or $SIPDEX_INDEX, else ./sipdex-index when empty)
// read-only and takes a snapshot. On failure prints "error: ..." to stderr
// and returns nullopt with *exit_code set: kExitUsage when there is no index
// there, kExitDamage when it cannot be read.
std::optional<ReadableIndex> OpenForReading(const std::string& index_arg, int* exit_code);

}  // namespace sipdex::cli
