// The decisions of critic sampling (cli/critic_sampling.h) on worked examples.
#include "cli/critic_sampling.h"

#include <catch2/catch.hpp>

#include <cmath>

#include "absl/strings/match.h"

namespace crucible::cli {
namespace {

TEST_CASE("RefineSeedLength keeps the tokens up to the best critic value and cuts at the first failing one",
          "[critic_sampling]") {
  CHECK(RefineSeedLength({}) == 0);
  // The best value at t = 2: the seed is tokens 0..2.
  CHECK(RefineSeedLength({0.6, 0.7, 0.9, 0.8, 0.55}) == 3);
  // Ties go to the first best.
  CHECK(RefineSeedLength({0.9, 0.9, 0.6}) == 1);
  // A token before t_max that is more likely failing than passing cuts the seed before it.
  CHECK(RefineSeedLength({0.6, 0.4, 0.95, 0.7}) == 1);
  CHECK(RefineSeedLength({0.3, 0.8, 0.9}) == 0);
  // Failing tokens after t_max do not matter.
  CHECK(RefineSeedLength({0.7, 0.8, 0.1, 0.2}) == 2);
  // Exactly even is not "fail > pass"; not a number is.
  CHECK(RefineSeedLength({0.5, 0.6}) == 2);
  CHECK(RefineSeedLength({0.7, std::nan(""), 0.9}) == 1);
}

EvalSample Sample(int64_t index, std::string program, std::optional<double> critic,
                  v1::VerdictCode verdict = v1::WA, std::string public_verdict = "WA") {
  EvalSample s;
  if (!public_verdict.empty()) s.extra["public_verdict"] = public_verdict;
  s.problem_id = "p";
  s.sample = index;
  s.language = "python3";
  s.program = std::move(program);
  s.verdict = verdict;
  s.critic_score = critic;
  return s;
}

TEST_CASE("RepairCandidates takes the critic's top M failing programs", "[critic_sampling]") {
  // 4: the public run failed in the judge (SE); 7: its hidden run did, which the search never
  // reads; 8: never judged on public tests; 9: a NaN score.
  const std::vector<EvalSample> samples = {
      Sample(0, "a", 0.2),          Sample(1, "b", 0.7),        Sample(2, "", std::nullopt),
      Sample(3, "c", 0.7),          Sample(4, "d", 0.9, v1::WA, "SE"), Sample(5, "e", std::nullopt),
      Sample(6, "f", 0.4),          Sample(7, "g", 0.95, v1::SE), Sample(8, "h", 0.99, v1::CE, ""),
      Sample(9, "i", std::nan(""))};
  std::vector<const EvalSample*> view;
  for (const EvalSample& s : samples) view.push_back(&s);
  CHECK(RepairCandidates(view, 1) == std::vector<size_t>{7});
  CHECK(RepairCandidates(view, 3) == std::vector<size_t>{7, 1, 3});
  CHECK(RepairCandidates(view, 10) == std::vector<size_t>{7, 1, 3, 6, 0});
  CHECK(RepairCandidates({}, 2).empty());
}

TEST_CASE("RefineSources reads only the public tests", "[critic_sampling]") {
  EvalSample hidden_se = Sample(0, "a", std::nullopt, v1::SE, "OK");
  hidden_se.passed_public = true;
  EvalSample hidden_ok = Sample(1, "b", std::nullopt, v1::OK, "WA");  // failed public: not a source
  EvalSample empty = Sample(2, "", std::nullopt, v1::CE, "");
  empty.passed_public = true;
  EvalSample passing = Sample(3, "c", std::nullopt, v1::WA, "OK");
  passing.passed_public = true;
  const std::vector<const EvalSample*> sources = RefineSources({&hidden_se, &hidden_ok, &empty, &passing});
  CHECK(sources == std::vector<const EvalSample*>{&hidden_se, &passing});
}

TEST_CASE("SlotSource stacks the seeds to the same total", "[critic_sampling]") {
  std::vector<int> uses(3);
  for (size_t j = 0; j < 10; ++j) ++uses[SlotSource(j, 3)];
  CHECK(uses == std::vector<int>{4, 3, 3});
}

TEST_CASE("CriticSamplingReport compares the rounds on the same samples budget", "[critic_sampling]") {
  auto judged = [](std::string id, int64_t index, bool ok) {
    EvalSample s = Sample(index, "print(1)\n", std::nullopt, ok ? v1::OK : v1::WA);
    s.problem_id = std::move(id);
    s.passed_public = ok;
    return s;
  };
  // Problem p: 1 of 2 correct before, 2 of 2 after refining; q: unchanged, 0 of 2.
  const std::vector<EvalSample> first = {judged("p", 0, true), judged("p", 1, false), judged("q", 0, false),
                                         judged("q", 1, false)};
  const std::vector<EvalSample> final_samples = {judged("p", 0, true), judged("p", 1, true), judged("q", 0, false),
                                                 judged("q", 1, false)};
  ReportOptions options;
  options.ks = {1, 2};
  options.n_submit = {1};
  const nlohmann::json r = CriticSamplingReport(first, final_samples,
                                                {{"p", SearchPath::kRefined}, {"q", SearchPath::kUnchanged}},
                                                {{"refine", 2}, {"sample", 4}}, false, 1, 0, options);
  CHECK(r["without"]["pass@1"].get<double>() == Approx(0.25));
  CHECK(r["with"]["pass@1"].get<double>() == Approx(0.5));
  CHECK(r["without"]["pass@2"].get<double>() == Approx(0.5));
  CHECK(r["problems"]["refined"] == 1);
  CHECK(r["problems"]["unchanged"] == 1);
  CHECK(r["problems"]["repaired"] == 0);
  CHECK(r["programs_generated"]["refine"] == 2);
  CHECK(r["programs_generated"]["repair"] == 0);
  CHECK(r["repair"] == false);

  nlohmann::json report = BuildReport(first, options);
  report["critic_sampling"] = r;
  const std::string md = ReportMarkdown(report);
  CHECK(absl::StrContains(md, "## Critic sampling (CodeRL)"));
  CHECK(absl::StrContains(md, "| pass@1 | 25.0% | 50.0% |"));
  CHECK(absl::StrContains(md, "Problems refined 1, repaired 0"));
}

}  // namespace
}  // namespace crucible::cli
