#include "common/bundled_problems.h"

#include "common/logging.h"
#include "common/problem_io.h"

extern "C" {
extern const char crucible_bundled_problems_begin[];
extern const char crucible_bundled_problems_end[];
}

namespace crucible {

absl::string_view BundledProblemsJsonl() {
  return absl::string_view(crucible_bundled_problems_begin,
                          crucible_bundled_problems_end - crucible_bundled_problems_begin);
}

const std::vector<v1::Problem>& BundledProblems() {
  static const std::vector<v1::Problem>* problems = [] {
    auto parsed = ParseProblemsJsonl(BundledProblemsJsonl(), "data/problems.jsonl");
    if (!parsed.ok()) CRUCIBLE_LOG(Fatal) << "bundled problem set: " << parsed.status();
    return new std::vector<v1::Problem>(*std::move(parsed));
  }();
  return *problems;
}

}  // namespace crucible
