// The bundled problem set, judged through the real sandbox: every reference solution in
// both languages passes, every known-wrong solution fails.
#include <atomic>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/bundled_problems.h"
#include "common/verdict_json.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

TEST_CASE("every bundled reference passes and every wrong solution fails", "[bundled][slow]") {
  struct Job {
    const v1::Problem* problem;
    const v1::Program* program;
    bool reference;
  };
  std::vector<Job> jobs;
  for (const v1::Problem& p : BundledProblems()) {
    for (const v1::Program& s : p.solutions()) jobs.push_back({&p, &s, true});
    for (const v1::Program& s : p.incorrect_solutions()) jobs.push_back({&p, &s, false});
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
        // A wrong solution only has to fail once.
        options.set_stop_at_first_failure(!job.reference);
        auto verdict = testing::SharedJudge().Evaluate(*job.problem, *job.program, options, slot);
        const bool ok = verdict.ok() && verdict->verdict() == v1::OK;
        const bool sound = verdict.ok() && verdict->verdict() != v1::SE;
        if (!sound || ok != job.reference) {
          std::lock_guard<std::mutex> lock(mu);
          unexpected.push_back(absl::StrCat(
              job.problem->id(), " ", job.program->language(), job.reference ? " reference: " : " wrong: ",
              verdict.ok() ? VerdictToJson(*verdict).substr(0, 400) : verdict.status().ToString()));
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  for (const std::string& u : unexpected) UNSCOPED_INFO(u);
  CHECK(unexpected.empty());
  CHECK(jobs.size() >= 160);
}

}  // namespace
}  // namespace crucible
