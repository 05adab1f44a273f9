// The dataset importers' fixtures (tests/data/datasets/), imported and judged through the
// real sandbox: every reference passes on every test, public and hidden, and every
// known-wrong solution fails. APPS, MBPP and HumanEval carry no wrong solutions, so each
// of their problems also gets an obviously wrong one here, to show the imported tests can
// fail a program at all. Function-call problems go through the function harness.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/datasets.h"
#include "common/verdict_json.h"
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

// Judges every reference (must be OK on all tests) and every wrong solution (must not be
// OK) on two slots; returns a line for each that did otherwise.
std::vector<std::string> JudgeAll(const std::vector<v1::Problem>& problems, bool add_wrong) {
  struct Job {
    const v1::Problem* problem;
    v1::Program program;
    bool reference;
  };
  std::vector<Job> jobs;
  for (const v1::Problem& p : problems) {
    for (const v1::Program& s : p.solutions()) jobs.push_back({&p, s, true});
    for (const v1::Program& s : p.incorrect_solutions()) jobs.push_back({&p, s, false});
    if (add_wrong) jobs.push_back({&p, ObviouslyWrong(p), false});
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::vector<std::string> unexpected;
  std::vector<std::thread> workers;
  for (int slot = 0; slot < 2; ++slot) {
    workers.emplace_back([&, slot] {
      for (size_t i = next++; i < jobs.size(); i = next++) {
        const Job& job = jobs[i];
        v1::JudgeOptions options;
        options.set_test_set(v1::ALL);
        options.set_stop_at_first_failure(!job.reference);
        auto verdict = testing::SharedJudge().Evaluate(*job.problem, job.program, options, slot);
        const bool ok = verdict.ok() && verdict->verdict() == v1::OK;
        const bool sound = verdict.ok() && verdict->verdict() != v1::SE;
        if (!sound || ok != job.reference) {
          std::lock_guard<std::mutex> lock(mu);
          unexpected.push_back(absl::StrCat(
              job.problem->id(), " ", job.program.language(),
              job.reference ? " reference: " : " wrong: ",
              verdict.ok() ? VerdictToJson(*verdict).substr(0, 600) : verdict.status().ToString()));
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return unexpected;
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
  const std::vector<std::string> unexpected = JudgeAll(problems, /*add_wrong=*/true);
  for (const std::string& u : unexpected) UNSCOPED_INFO(u);
  CHECK(unexpected.empty());
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
  const std::vector<std::string> unexpected = JudgeAll(problems, /*add_wrong=*/true);
  for (const std::string& u : unexpected) UNSCOPED_INFO(u);
  CHECK(unexpected.empty());
}

}  // namespace
}  // namespace crucible
