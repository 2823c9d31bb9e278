#pragma once
// Each subcommand lives in its own cli/<name>_command.cc and registers itself
// here: it adds a CLI11 subcommand and a callback that returns an exit code.

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace sipdex::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDamage = 1;  // damage or partial failure
inline constexpr int kExitUsage = 2;   // usage or query error

class CommandRegistry {
 public:
  // `run` is called when `sub` was the subcommand given.
  void Add(CLI::App* sub, std::function<int()> run) { entries_.push_back({sub, std::move(run)}); }
  int Run() const {
    for (const auto& e : entries_) {
      if (e.sub->parsed()) return e.run();
    }
    return kExitUsage;
  }

 private:
  struct Entry {
    CLI::App* sub;
    std::function<int()> run;
  };
  std::vector<Entry> entries_;
};

// One per subcommand, defined in cli/<name>_command.cc.
void RegisterAllCommands(CLI::App& app, CommandRegistry& registry);

}  // namespace sipdex::cli
