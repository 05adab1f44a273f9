// crucible: the command users run.
//
//   crucible run [--problems FILE] [--judges host:port,...] [--language python3|cpp17]
//       Today: start a local judge and judge every reference and known-wrong solution of
//       the problem set (the bundled one by default), printing a verdict table.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "actors/reference_run.h"
#include "common/flags_util.h"

ABSL_FLAG(std::string, problems, "", "problem set (JSONL); default: the bundled set");
ABSL_FLAG(std::string, judges, "", "comma-separated judge endpoints; default: start one locally");
ABSL_FLAG(int, judge_workers, 0, "workers of the local judge (0: one per CPU)");
ABSL_FLAG(std::string, language, "", "judge only programs in this language");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("crucible run [--problems FILE] [--judges host:port,...]");
  std::vector<std::string> args = crucible::NormalizeDashedFlags(argc, argv);
  std::vector<char*> arg_ptrs = crucible::ArgvPointers(args);
  std::vector<char*> positional = absl::ParseCommandLine(static_cast<int>(args.size()), arg_ptrs.data());
  std::string command = positional.size() > 1 ? positional[1] : "run";
  if (command == "run") {
    crucible::ReferenceRunOptions options;
    options.problems_file = absl::GetFlag(FLAGS_problems);
    for (absl::string_view j : absl::StrSplit(absl::GetFlag(FLAGS_judges), ',', absl::SkipEmpty())) {
      options.judges.emplace_back(j);
    }
    options.judge_workers = absl::GetFlag(FLAGS_judge_workers);
    options.language = absl::GetFlag(FLAGS_language);
    return crucible::RunReferenceJudging(options);
  }
  std::fprintf(stderr, "crucible: unknown command \"%s\"\nusage: %s\n", command.c_str(),
               absl::ProgramUsageMessage().data());
  return 2;
}
