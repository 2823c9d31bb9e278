#include "cli/commands.h"

namespace sipdex::cli {

void RegisterInspectCommand(CLI::App& app, CommandRegistry& registry);  // cli/inspect_command.cc
void RegisterIngestCommand(CLI::App& app, CommandRegistry& registry);   // cli/ingest_command.cc
void RegisterStatsCommand(CLI::App& app, CommandRegistry& registry);    // cli/stats_command.cc
void RegisterVerifyCommand(CLI::App& app, CommandRegistry& registry);   // cli/verify_command.cc
void RegisterExportCommand(CLI::App& app, CommandRegistry& registry);   // cli/export_command.cc
void RegisterShowCommand(CLI::App& app, CommandRegistry& registry);     // cli/show_command.cc
void RegisterQueryCommand(CLI::App& app, CommandRegistry& registry);    // cli/query_command.cc
void RegisterReportCommand(CLI::App& app, CommandRegistry& registry);   // cli/report_command.cc

// Subcommands add themselves here as they land (one line each).
void RegisterAllCommands(CLI::App& app, CommandRegistry& registry) {
  RegisterInspectCommand(app, registry);
  RegisterIngestCommand(app, registry);
  RegisterStatsCommand(app, registry);
  RegisterVerifyCommand(app, registry);
  RegisterExportCommand(app, registry);
  RegisterShowCommand(app, registry);
  RegisterQueryCommand(app, registry);
  RegisterReportCommand(app, registry);
  (void)app;
  (void)registry;
}

}  // namespace sipdex::cli
