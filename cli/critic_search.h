// CodeRL's critic sampling at evaluation (`crucible eval --search critic`; cli/eval.h has the
// user's view, cli/critic_sampling.h the decisions). After the first round of N samples per
// problem:
//   refine   a problem with samples that pass its public tests: each such program is cut to
//            the seed the critic picks (RefineSeedLength), the seeds are stacked to N rows
//            and the policy continues each from the problem's prompt; the N programs are
//            judged (public and hidden tests) and replace the first round's;
//   repair   a problem none of whose samples pass (and a repair model given): the critic's
//            top M failing programs, with their public verdict and error subtype, become
//            repair prompts (actors/prompt.h's RepairPrompt), stacked to N rows, that the
//            repair model completes; the N repaired programs are judged, and if some pass
//            the public tests they are refined as above ("repair_refine").
// Only public-test results steer the search; hidden verdicts are only measured. Each stage's
// samples are appended to OUT/search/<stage>.jsonl as they are judged (judging overlaps the
// next call's generation, at most max_inflight samples unjudged) and a killed search resumes
// from them; OUT/critic_samples.jsonl gets the final N samples per problem (samples.jsonl's
// shape, search "critic", extra.stage). Deterministic for a seed: the rows of a stage and
// each call's seed depend only on the options and the earlier stages' samples.
#ifndef CRUCIBLE_CLI_CRITIC_SEARCH_H_
#define CRUCIBLE_CLI_CRITIC_SEARCH_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actors/judge_client.h"
#include "cli/eval.h"
#include "common/eval_report.h"
#include "common/model/decoder.h"
#include "common/tokenizer.h"
#include "learner/trainer.h"
#include "nlohmann/json.hpp"

namespace crucible::cli {

struct CriticSearch {
  const EvalOptions& options;
  const std::vector<v1::Problem>& problems;
  const std::vector<std::vector<int32_t>>& prompts;  // the policy's prompt per problem, tokens
  const std::vector<std::string>& prompt_texts;      // the same as text (repair prompts extend it)
  const Tokenizer& tokenizer;                        // shared by the policy and the repair model
  model::CausalLm& policy;
  learner::Critic& critic;
  model::CausalLm* repair;  // nullptr: no program repairing
  JudgeClient& client;
  v1::JudgeOptions judge_options;
  const std::atomic<bool>* stop;
};

// Runs the search on `first_round` (samples.jsonl, sorted) and returns report.json's
// "critic_sampling" (critic_sampling.h). `*stopped` is set when the stop flag ended it early
// (the stage files keep what was judged; the same command resumes).
absl::StatusOr<nlohmann::json> RunCriticSearch(CriticSearch& search, const std::vector<EvalSample>& first_round,
                                               const ReportOptions& report_options, bool* stopped);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_CRITIC_SEARCH_H_
