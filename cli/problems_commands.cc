// `crucible problems verify`: start a local judge (or use running ones) and judge every
// reference and known-wrong solution of a problem set (actors/reference_run.h); exit 0
// only if every reference passes and every wrong solution fails.
#include <memory>
#include <string>
#include <vector>

#include "actors/reference_run.h"
#include "cli/commands.h"

namespace crucible::cli {
namespace {

Command Verify() {
  return {"problems verify", "judge every reference and known-wrong solution of a problem set",
          [](FlagSet& flags) -> CommandRunner {
            auto o = std::make_shared<ReferenceRunOptions>();
            flags.Add("problems", &o->problems_file, "problem set (JSONL); \"\": the bundled set");
            flags.Add("judges", &o->judges,
                      "judge endpoints, host:port (comma-separated or repeated); none: start one "
                      "locally");
            flags.Add("judge-workers", &o->judge_workers,
                      "workers of the local judge (0: one per CPU)");
            flags.Add("language", &o->language,
                      "judge only programs in this language (python3, cpp17)");
            return [o](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible problems verify", positional)) return 2;
              return RunReferenceJudging(*o);
            };
          }};
}

}  // namespace

std::vector<Command> ProblemsCommands() { return {Verify()}; }

}  // namespace crucible::cli
