// The RL loop's commands: `crucible run` (the local cluster, cli/launcher.h), `crucible
// actor` and `crucible learner` (one process of the loop each). Actor and learner take the
// run's YAML (the resolved config.yaml of a run directory, or any run config) plus the
// flags that place this one process: its index, ports and peers.
#ifndef CRUCIBLE_CLI_RL_COMMANDS_H_
#define CRUCIBLE_CLI_RL_COMMANDS_H_

#include <vector>

#include "cli/command.h"

namespace crucible::cli {

std::vector<Command> RlCommands();

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_RL_COMMANDS_H_
