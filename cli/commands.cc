#include "cli/commands.h"

namespace sipdex::cli {

void RegisterInspectCommand(CLI::App& app, CommandRegistry& registry);  // cli/inspect_command.cc

// Subcommands add themselves here as they land (one line each).
void RegisterAllCommands(CLI::App& app, CommandRegistry& registry) {
  RegisterInspectCommand(app, registry);
  (void)app;
  (void)registry;
}

}  // namespace sipdex::cli
