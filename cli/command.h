// The subcommand table of the `crucible` command. Each Command names itself by the words
// users type after `crucible` ("model generate", "learner offline") and declares its own
// flags on a FlagSet, bound to an options struct its closure owns, returning the runner
// that later reads those options. No flag is shared between commands: a flag of another
// command is an error that names the command it belongs to.
//
// RunCommandLine() picks the command whose name is the longest prefix of the leading
// words of the command line, builds every command's FlagSet once (to know every flag name
// for that error), parses the rest of the line with the chosen command's set and runs it.
// It prints usage and returns 0 for --help; it lists the commands for `crucible --help`
// (0), for a bare `crucible` or a group such as `crucible model` (2), and for an unknown
// command (2); a flag error prints the message and returns 2. Otherwise it returns the
// runner's exit status.
#ifndef CRUCIBLE_CLI_COMMAND_H_
#define CRUCIBLE_CLI_COMMAND_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/flags.h"

namespace crucible::cli {

// Runs a parsed command with its positional arguments; returns the process exit status.
using CommandRunner = std::function<int(const std::vector<std::string>& positional)>;

struct Command {
  std::string name;     // words after `crucible`: "model generate", "learner offline"
  std::string summary;  // one line, for the command list and the top of --help
  // Declares the command's flags, bound to options the returned runner owns.
  std::function<CommandRunner(FlagSet& flags)> declare;
};

// `argv[0]` is the program; the words after it select the command.
int RunCommandLine(const std::vector<Command>& table, int argc, char** argv);

// The same over `args` (without the program name), writing usage, command lists and flag
// errors to `out` (for --help) and `err` (for mistakes); the runner prints as it likes.
int RunCommandLine(const std::vector<Command>& table, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err);

// For runners of commands that take no positional arguments: prints "<command>: unexpected
// argument 'x'" to stderr and returns false if there are any.
bool NoPositionalArguments(const std::string& command, const std::vector<std::string>& positional);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_COMMAND_H_
