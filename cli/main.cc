// crucible: the command users run. A thin main over the subcommand table (cli/command.h):
// each family of commands declares its own flags in cli/*_commands.cc, and `crucible
// --help` lists them all, `crucible <command> --help` one command's flags.
#include <vector>

#include "cli/command.h"
#include "cli/commands.h"
#include "cli/rl_commands.h"

int main(int argc, char** argv) {
  std::vector<crucible::cli::Command> table;
  for (std::vector<crucible::cli::Command> family :
       {crucible::cli::RlCommands(), crucible::cli::ModelCommands(), crucible::cli::LearnerOfflineCommands(),
        crucible::cli::ProblemsCommands(), crucible::cli::DataCommands(),
        crucible::cli::ConfigCommands(),
        crucible::cli::EvalCommands()}) {
    table.insert(table.end(), family.begin(), family.end());
  }
  return crucible::cli::RunCommandLine(table, argc, argv);
}
