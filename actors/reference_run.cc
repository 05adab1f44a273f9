#include "actors/reference_run.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "actors/judge_client.h"
#include "actors/local_judge.h"
#include "common/bundled_problems.h"
#include "common/problem_io.h"
#include "common/verdict_json.h"

namespace crucible {
namespace {

struct Row {
  std::string problem;
  std::string difficulty;
  std::string language;
  bool reference = true;
  size_t index = 0;
};

}  // namespace

int RunReferenceJudging(const ReferenceRunOptions& options) {
  std::vector<v1::Problem> problems;
  if (options.problems_file.empty()) {
    problems = BundledProblems();
  } else {
    absl::StatusOr<std::vector<v1::Problem>> loaded = LoadProblemsFile(options.problems_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "crucible run: %s\n", std::string(loaded.status().message()).c_str());
      return 2;
    }
    problems = *std::move(loaded);
  }

  std::unique_ptr<LocalJudge> local;
  std::vector<std::string> endpoints = options.judges;
  if (endpoints.empty()) {
    std::vector<std::string> flags;
    if (options.judge_workers > 0) flags.push_back(absl::StrCat("--workers=", options.judge_workers));
    absl::StatusOr<std::unique_ptr<LocalJudge>> started = LocalJudge::Start(
        options.judge_binary.empty() ? DefaultJudgeBinary() : options.judge_binary, flags);
    if (!started.ok()) {
      std::fprintf(stderr, "crucible run: %s\n", std::string(started.status().message()).c_str());
      return 1;
    }
    local = *std::move(started);
    endpoints = {local->address()};
  }

  JudgeClientOptions client_options;
  client_options.endpoints = endpoints;
  absl::StatusOr<std::unique_ptr<JudgeClient>> client = JudgeClient::Create(client_options);
  if (!client.ok()) {
    std::fprintf(stderr, "crucible run: %s\n", std::string(client.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = (*client)->RegisterProblems(problems); !s.ok()) {
    std::fprintf(stderr, "crucible run: %s\n", std::string(s.message()).c_str());
    return 1;
  }

  std::vector<Row> rows;
  std::vector<v1::JudgeRequest> requests;
  for (const v1::Problem& p : problems) {
    auto add = [&](const v1::Program& program, bool reference, size_t index) {
      if (!options.language.empty() && program.language() != options.language) return;
      v1::JudgeRequest request;
      request.set_request_id(absl::StrCat(p.id(), reference ? "/ref/" : "/wrong/", index));
      request.set_problem_id(p.id());
      *request.mutable_program() = program;
      request.mutable_options()->set_test_set(v1::ALL);
      requests.push_back(std::move(request));
      rows.push_back({p.id(), p.difficulty(), program.language(), reference, index});
    };
    for (int i = 0; i < p.solutions_size(); ++i) add(p.solutions(i), true, i);
    for (int i = 0; i < p.incorrect_solutions_size(); ++i) add(p.incorrect_solutions(i), false, i);
  }
  std::fprintf(stdout, "judging %zu programs (%zu problems) on %s\n\n", requests.size(),
               problems.size(), endpoints.front().c_str());
  const absl::Time start = absl::Now();
  std::vector<JudgeResult> results = (*client)->JudgeAll(std::move(requests));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  std::printf("%-28s %-13s %-8s %-10s %-7s %-7s %9s %9s  %s\n", "problem", "difficulty", "lang",
              "solution", "verdict", "tests", "max_ms", "max_kib", "expected");
  int unexpected = 0, errors = 0;
  std::map<std::string, int> by_verdict;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const JudgeResult& r = results[i];
    std::string verdict = r.status.ok() ? std::string(VerdictName(r.verdict.verdict())) : "ERROR";
    if (!r.verdict.subtype().empty() && r.status.ok()) absl::StrAppend(&verdict, "(", r.verdict.subtype(), ")");
    int64_t max_ms = 0, max_kib = 0;
    for (const v1::TestResult& t : r.verdict.tests()) {
      max_ms = std::max<int64_t>(max_ms, t.time_ms());
      max_kib = std::max<int64_t>(max_kib, t.memory_kib());
    }
    const bool ok = r.status.ok() && r.verdict.verdict() == v1::OK;
    const bool as_expected = r.status.ok() && r.verdict.verdict() != v1::SE &&
                             (row.reference ? ok : !ok);
    if (!r.status.ok() || r.verdict.verdict() == v1::SE) ++errors;
    if (!as_expected) ++unexpected;
    ++by_verdict[r.status.ok() ? std::string(VerdictName(r.verdict.verdict())) : "ERROR"];
    std::printf("%-28s %-13s %-8s %-10s %-7s %3d/%-3d %9lld %9lld  %s\n", row.problem.c_str(),
                row.difficulty.c_str(), row.language.c_str(),
                absl::StrCat(row.reference ? "ref" : "wrong", row.index).c_str(), verdict.c_str(),
                r.verdict.tests_passed(), r.verdict.tests_total(),
                static_cast<long long>(max_ms), static_cast<long long>(max_kib),
                as_expected ? "yes" : (r.status.ok() ? "NO" : std::string(r.status.message()).c_str()));
  }
  std::printf("\n%zu programs in %.1f s:", rows.size(), seconds);
  for (const auto& [verdict, count] : by_verdict) std::printf(" %s=%d", verdict.c_str(), count);
  std::printf("\n%s\n", unexpected == 0 ? "every reference passed and every wrong solution failed"
                                         : absl::StrCat(unexpected, " programs did not judge as expected")
                                               .c_str());
  (*client)->Shutdown();
  if (local) local->Stop();
  return unexpected == 0 && errors == 0 ? 0 : 1;
}

}  // namespace crucible
