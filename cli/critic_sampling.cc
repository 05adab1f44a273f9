#include "cli/critic_sampling.h"

#include <algorithm>
#include <cmath>

namespace crucible::cli {

size_t RefineSeedLength(const std::vector<double>& pass) {
  if (pass.empty()) return 0;
  size_t t_max = 0;
  for (size_t t = 1; t < pass.size(); ++t) {
    if (pass[t] > pass[t_max]) t_max = t;
  }
  for (size_t t = 0; t <= t_max; ++t) {
    if (!(pass[t] >= 0.5)) return t;  // NaN fails too
  }
  return t_max + 1;
}

std::vector<const EvalSample*> RefineSources(const std::vector<const EvalSample*>& samples) {
  std::vector<const EvalSample*> out;
  for (const EvalSample* s : samples) {
    if (s->passed_public && !s->program.empty()) out.push_back(s);
  }
  return out;
}

std::vector<size_t> RepairCandidates(const std::vector<const EvalSample*>& samples, int m) {
  std::vector<size_t> order;
  for (size_t i = 0; i < samples.size(); ++i) {
    const EvalSample& s = *samples[i];
    if (s.program.empty() || !s.critic_score.has_value() || !std::isfinite(*s.critic_score)) continue;
    const auto verdict = s.extra.find("public_verdict");
    if (verdict == s.extra.end() || !verdict->is_string() || verdict->get<std::string>() == "SE") continue;
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const EvalSample &x = *samples[a], &y = *samples[b];
    if (*x.critic_score != *y.critic_score) return *x.critic_score > *y.critic_score;
    return x.sample < y.sample;
  });
  if (m >= 0 && order.size() > static_cast<size_t>(m)) order.resize(static_cast<size_t>(m));
  return order;
}

const char* SearchPathName(SearchPath path) {
  switch (path) {
    case SearchPath::kUnchanged: return "unchanged";
    case SearchPath::kRefined: return "refined";
    case SearchPath::kRepaired: return "repaired";
    case SearchPath::kRepairedThenRefined: return "repaired_then_refined";
  }
  return "?";
}

nlohmann::json CriticSamplingReport(const std::vector<EvalSample>& first_round,
                                    const std::vector<EvalSample>& final_samples,
                                    const std::map<std::string, SearchPath>& paths,
                                    const std::map<std::string, int64_t>& generated, bool repair, int top_m,
                                    int64_t repair_skipped_too_long, const ReportOptions& options) {
  nlohmann::json counts = nlohmann::json::object();
  for (SearchPath p : {SearchPath::kUnchanged, SearchPath::kRefined, SearchPath::kRepaired,
                       SearchPath::kRepairedThenRefined}) {
    counts[SearchPathName(p)] = 0;
  }
  for (const auto& [id, path] : paths) counts[SearchPathName(path)] = counts[SearchPathName(path)].get<int>() + 1;
  nlohmann::json programs = nlohmann::json::object();
  for (const char* stage : {"sample", "refine", "repair", "repair_refine"}) {
    auto it = generated.find(stage);
    programs[stage] = it == generated.end() ? 0 : it->second;
  }
  return {{"without", BuildReport(first_round, options)["overall"]},
          {"with", BuildReport(final_samples, options)["overall"]},
          {"problems", counts},
          {"programs_generated", programs},
          {"repair", repair},
          {"repair_top_m", top_m},
          {"repair_skipped_too_long", repair_skipped_too_long}};
}

}  // namespace crucible::cli
