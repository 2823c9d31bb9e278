// sipdex export [--index DIR] [--file NAME] [-o DIR]
//
// Gives ingested files back byte for byte (for .gz/.zst inputs and zip
// entries, their decompressed content). With --file and no -o, the file goes
// to stdout. With -o, files are written under DIR at their stored names
// (".." and absolute parts removed; a .gz/.zst suffix dropped since the content
// is decompressed). Exit status: 0 ok, 1 damage or a write failed, 2 usage.

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/index_access.h"
#include "storage/index.h"

namespace sipdex::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  std::string index;
  std::string file;
  std::string out_dir;
};

// A relative path built from the stored name that cannot leave the output dir.
fs::path SafeRelativePath(const std::string& name) {
  fs::path out;
  std::size_t pos = 0;
  while (pos <= name.size()) {
    std::size_t slash = name.find_first_of("/\\", pos);
    if (slash == std::string::npos) slash = name.size();
    std::string part = name.substr(pos, slash - pos);
    if (!part.empty() && part != "." && part != ".." && part.find(':') == std::string::npos) out /= part;
    pos = slash + 1;
  }
  std::string leaf = out.filename().string();
  for (const char* ext : {".gz", ".zst"}) {
    std::string e(ext);
    if (leaf.size() > e.size() && leaf.ends_with(e)) out.replace_filename(leaf.substr(0, leaf.size() - e.size()));
  }
  if (out.empty()) out = "unnamed";
  return out;
}

Status WriteOne(const storage::IndexSnapshot& snap, const storage::FileInfo& f, std::FILE* fp) {
  return snap.ExportFile(f.file_id, [&](std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), fp) != bytes.size()) {
      return Status::IoError(f.name + ": write failed");
    }
    return Status::Ok();
  });
}

int RunExport(const ExportArgs& args) {
  if (args.file.empty() && args.out_dir.empty()) {
    fmt::print(stderr, "error: export needs --file NAME (to stdout) or -o DIR (every file)\n");
    return kExitUsage;
  }
  int open_exit = kExitOk;
  std::optional<ReadableIndex> open = OpenForReading(args.index, &open_exit);
  if (!open) return open_exit;
  const storage::IndexSnapshot& snap = *open->snapshot;
  std::vector<const storage::FileInfo*> files;
  for (const storage::FileInfo& f : snap.manifest().files) {
    if (args.file.empty() || f.name == args.file) files.push_back(&f);
  }
  if (files.empty() && !args.file.empty()) {
    fmt::print(stderr, "error: no file named '{}' in {} (see sipdex stats)\n", args.file, open->dir);
    return kExitUsage;
  }
  int exit = kExitOk;
  for (const storage::FileInfo* f : files) {
    Status s;
    if (args.out_dir.empty()) {
      s = WriteOne(snap, *f, stdout);
      if (s.ok() && std::fflush(stdout) != 0) s = Status::IoError("stdout: write failed");
    } else {
      fs::path target = fs::path(args.out_dir) / SafeRelativePath(f->name);
      std::error_code ec;
      fs::create_directories(target.parent_path(), ec);
      std::unique_ptr<std::FILE, int (*)(std::FILE*)> fp(std::fopen(target.c_str(), "wb"), &std::fclose);
      if (fp == nullptr) {
        s = Status::IoError(target.string() + ": cannot create");
      } else {
        s = WriteOne(snap, *f, fp.get());
        if (s.ok() && std::fclose(fp.release()) != 0) s = Status::IoError(target.string() + ": write failed");
      }
      if (s.ok()) fmt::print(stderr, "{} -> {} ({} bytes)\n", f->name, target.string(), f->size);
    }
    if (!s.ok()) {
      fmt::print(stderr, "error: {}\n", s.message());
      exit = kExitDamage;
    }
  }
  return exit;
}

}  // namespace

void RegisterExportCommand(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* sub = app.add_subcommand("export", "Give the original files back, byte-exact");
  AddIndexOption(sub, &args->index);
  sub->add_option("--file", args->file, "one file, by its stored name (default: all)");
  sub->add_option("-o,--output", args->out_dir, "write files under this directory");
  registry.Add(sub, [args] { return RunExport(*args); });
}

}  // namespace sipdex::cli
