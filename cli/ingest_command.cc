// sipdex ingest [--index DIR] [--threads N] PATH...
//
// Ingests files and folders into the index (created when missing). A progress
// line is drawn on stderr only when stderr is a terminal; the summary goes to
// stdout. Exit status: 0 ok, 1 when a file was refused (its earlier part
// changed) or could not be read completely, 2 usage (no such path, index busy).

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/index_access.h"
#include "indexer/ingest.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

struct IngestArgs {
  std::string index;
  std::vector<std::string> paths;
  int threads = 0;
  std::uint64_t commit_mb = 0;
};

int RunIngest(const IngestArgs& args) {
  std::string dir = args.index.empty() ? storage::DefaultIndexDir() : args.index;
  auto index = storage::Index::Open(dir, storage::IndexOptions{});
  if (!index.ok()) {
    std::fprintf(stderr, "error: %s\n", index.status().message().c_str());
    return index.status().code() == Status::Code::kBusy ? kExitUsage : kExitDamage;
  }
  IngestOptions options;
  options.threads = args.threads;
  if (args.commit_mb > 0) options.commit_bytes = args.commit_mb << 20;
  options.progress = isatty(STDERR_FILENO) != 0;
  Result<IngestSummary> summary = Ingest(index->get(), args.paths, options);
  if (!summary.ok()) {
    std::fprintf(stderr, "error: %s\n", summary.status().message().c_str());
    Status::Code c = summary.status().code();
    bool usage = c == Status::Code::kInvalidArgument || c == Status::Code::kNotFound || c == Status::Code::kBusy;
    return usage ? kExitUsage : kExitDamage;
  }
  std::fputs(FormatIngestSummary(*summary).c_str(), stdout);
  return summary->files_refused + summary->files_failed > 0 ? kExitDamage : kExitOk;
}

}  // namespace

void RegisterIngestCommand(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<IngestArgs>();
  CLI::App* sub = app.add_subcommand("ingest", "Ingest trace files and folders (.log .txt .gz .zst .zip)");
  AddIndexOption(sub, &args->index);
  sub->add_option("--threads", args->threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  sub->add_option("--commit-mb", args->commit_mb,
                  "commit files in groups of about this many MB (default 512; also bounds memory)")
      ->check(CLI::PositiveNumber);
  sub->add_option("paths", args->paths, "files or folders")->required();
  registry.Add(sub, [args] { return RunIngest(*args); });
}

}  // namespace sipdex::cli
