// The default job of `crucible run` until the RL loop lands: start a local crucible-judge,
// judge every reference and every known-wrong solution of a problem set through the
// JudgeClient, and print a verdict table. References must pass and wrong solutions must
// fail; the exit status says whether they all did.
#ifndef CRUCIBLE_ACTORS_REFERENCE_RUN_H_
#define CRUCIBLE_ACTORS_REFERENCE_RUN_H_

#include <string>
#include <vector>

#include "crucible/v1/problem.pb.h"

namespace crucible {

struct ReferenceRunOptions {
  std::string problems_file;       // empty: the bundled set
  std::vector<std::string> judges; // empty: start a local crucible-judge
  std::string judge_binary;        // default: beside this executable
  int judge_workers = 0;           // 0: one per CPU
  std::string language;            // only this language, if set
};

int RunReferenceJudging(const ReferenceRunOptions& options);

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_REFERENCE_RUN_H_
