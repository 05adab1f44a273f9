// `crucible-judge check`: judge one program file against one problem file and print the
// verdict JSON (DESIGN.md). For people and scripts; the interface is stable.
#ifndef CRUCIBLE_JUDGE_WORKERS_CHECK_COMMAND_H_
#define CRUCIBLE_JUDGE_WORKERS_CHECK_COMMAND_H_

#include <string>

#include "crucible/v1/judge.pb.h"
#include "judge_workers/sandbox/sandbox.h"

namespace crucible {

struct CheckCommandOptions {
  std::string problem_file;   // JSONL (one line or many) or one JSON object
  std::string problem_id;     // required when the file holds several problems
  std::string language;
  std::string source_file;
  v1::JudgeOptions judge;
  sandbox::SandboxOptions sandbox;
};

// Exit status: 0 judged (any verdict); 2 bad input; 3 the sandbox failed (SE).
int RunCheckCommand(const CheckCommandOptions& options);

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_CHECK_COMMAND_H_
