// The dataset importers' fixtures (tests/data/datasets/), imported and judged through the
// real sandbox: every reference passes on every test, public and hidden, and every
// known-wrong solution fails. APPS, MBPP and HumanEval carry no wrong solutions, so each
// of their problems also gets an obviously wrong one here, to show the imported tests can
// fail a program at all. Function-call problems go through the function harness.
#include <algorithm>
#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/datasets.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

struct Fixture {
  DatasetFormat format;
  const char* path;  // under tests/data/datasets/
};

std::vector<v1::Problem> ImportFixtures(const std::vector<Fixture>& fixtures) {
  std::vector<v1::Problem> problems;
  for (const Fixture& f : fixtures) {
    const std::string path = absl::StrCat(testing::SourceDir(), "/tests/data/datasets/", f.path);
    absl::StatusOr<ImportResult> result = ImportDataset(f.format, path, {});
    INFO(path << ": " << result.status());
    REQUIRE(result.ok());
    REQUIRE_FALSE(result->problems.empty());
    for (v1::Problem& p : result->problems) problems.push_back(std::move(p));
  }
  return problems;
}

// A program that cannot pass: a stdio one printing a constant, or a function that
// returns None.
v1::Program ObviouslyWrong(const v1::Problem& problem) {
  if (problem.function().style() == v1::FunctionCall::STYLE_UNSPECIFIED) {
    return testing::MakeProgram("python3", "print(-1)\n");
  }
  return testing::MakeProgram("python3", absl::StrCat("def ", problem.function().name(),
                                                      "(*args, **kwargs):\n"
                                                      "    return None\n"));
}

size_t CountPrograms(const std::vector<v1::Problem>& problems) {
  size_t n = 0;
  for (const v1::Problem& p : problems) n += p.solutions_size() + p.incorrect_solutions_size();
  return n;
}

TEST_CASE("imported stdio problems: references pass, wrong solutions fail", "[datasets]") {
  std::vector<v1::Problem> problems = ImportFixtures({
      {DatasetFormat::kApps, "apps/tree"},
      {DatasetFormat::kApps, "apps/apps.jsonl"},
      {DatasetFormat::kCodeContests, "codecontests/codecontests.jsonl"},
  });
  problems.erase(std::remove_if(problems.begin(), problems.end(),
                                [](const v1::Problem& p) {
                                  return p.function().style() !=
                                         v1::FunctionCall::STYLE_UNSPECIFIED;
                                }),
                 problems.end());
  REQUIRE(problems.size() == 5);  // APPS: 2 + 1 stdio; CodeContests: 2
  REQUIRE(CountPrograms(problems) == 12);
  const testing::ReferenceCheck check = testing::JudgeReferences(problems, ObviouslyWrong);
  for (const std::string& u : check.unexpected) UNSCOPED_INFO(u);
  CHECK(check.unexpected.empty());
}

TEST_CASE("imported function problems: references pass, wrong functions fail",
          "[datasets][function]") {
  const std::vector<v1::Problem> all = ImportFixtures({
      {DatasetFormat::kApps, "apps/tree"},
      {DatasetFormat::kApps, "apps/apps.jsonl"},
      {DatasetFormat::kMbpp, "mbpp/mbpp.jsonl"},
      {DatasetFormat::kMbpp, "mbpp/sanitized-mbpp.json"},
      {DatasetFormat::kHumanEval, "humaneval/HumanEval.jsonl"},
  });
  std::vector<v1::Problem> problems;
  for (const v1::Problem& p : all) {
    if (p.function().style() != v1::FunctionCall::STYLE_UNSPECIFIED) problems.push_back(p);
  }
  REQUIRE(problems.size() == 9);  // APPS: 2 call-based; MBPP: 3 + 2; HumanEval: 2
  const testing::ReferenceCheck check = testing::JudgeReferences(problems, ObviouslyWrong);
  for (const std::string& u : check.unexpected) UNSCOPED_INFO(u);
  CHECK(check.unexpected.empty());
}

}  // namespace
}  // namespace crucible
