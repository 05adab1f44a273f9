// The problem set written by this project (data/problems.jsonl), compiled into the binaries
// so the default job and the tests need no files at run time.
#ifndef CRUCIBLE_COMMON_BUNDLED_PROBLEMS_H_
#define CRUCIBLE_COMMON_BUNDLED_PROBLEMS_H_

#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "crucible/v1/problem.pb.h"

namespace crucible {

absl::string_view BundledProblemsJsonl();
// Parsed once; parsing errors are a build defect and abort.
const std::vector<v1::Problem>& BundledProblems();

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_BUNDLED_PROBLEMS_H_
