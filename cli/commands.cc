#include "cli/commands.h"

namespace sipdex::cli {

// Subcommands add themselves here as they land (one line each).
void RegisterAllCommands(CLI::App& app, CommandRegistry& registry) {
  (void)app;
  (void)registry;
}

}  // namespace sipdex::cli
