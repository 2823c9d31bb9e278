// sipdex: batch indexer and query tool for Lync / Skype for Business SIP traces.
//
// Exit codes: 0 ok, 1 damage or partial failure, 2 usage or query error.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string_view>

#include "cli/commands.h"

namespace {
constexpr const char* kVersion = "sipdex 0.1.0";
}  // namespace

int main(int argc, char** argv) {
  // CLI11 answers --version by throwing, and the first exception of a static
  // binary sorts the whole unwind table (milliseconds): answer it directly.
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("%s\n", kVersion);
    return 0;
  }
  CLI::App app{"sipdex: index and query Lync / Skype for Business Server SIP trace logs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);

  sipdex::cli::CommandRegistry registry;
  sipdex::cli::RegisterAllCommands(app, registry);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : sipdex::cli::kExitUsage;
  }
  return registry.Run();
}
