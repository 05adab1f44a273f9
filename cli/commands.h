// The tables of `crucible` subcommands, one function per family; cli/main.cc concatenates
// them into the command's table (cli/command.h). Each command keeps its flag names stable:
// scripts and tests call them.
#ifndef CRUCIBLE_CLI_COMMANDS_H_
#define CRUCIBLE_CLI_COMMANDS_H_

#include <vector>

#include "cli/command.h"

namespace crucible::cli {

// model init|logits|tokenize|detokenize|generate (common/model/model_cli.h).
std::vector<Command> ModelCommands();

// learner offline (learner/learner_cli.h): stops with a checkpoint on SIGTERM/SIGINT.
std::vector<Command> LearnerOfflineCommands();

// problems verify: judge every reference and known-wrong solution of a problem set.
std::vector<Command> ProblemsCommands();

// data import: APPS, CodeContests, MBPP and HumanEval files to problems (common/datasets.h).
std::vector<Command> DataCommands();

// config defaults|show: the run configuration's default file and a resolved config.
std::vector<Command> ConfigCommands();

// eval: sample, judge and report pass@k, n@k and compile rate (cli/eval.h).
std::vector<Command> EvalCommands();

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_COMMANDS_H_
