// The learner's training loop: one optimizer update per Step() over a global batch of
// examples, sharded over the communicator's ranks, micro-batched by a token budget.
//
// Data parallelism is exact by construction: every rank reads the whole data file and
// draws the same global batch (DataOrder), takes the examples i with i % world == rank,
// and scales each micro-batch's loss by its share of the *global* denominator of the
// objective (tokens for token means, sequences or pairs for sequence means). Gradients are
// then summed over ranks before clipping, so W ranks on a batch take the same step as one
// rank on all of it, up to float summation order. Statistics that need model outputs from
// every rank (PPO's advantage whitening, the mean KL, RLOO/GRPO group baselines under the
// KL penalty) are all-reduced.
#ifndef CRUCIBLE_LEARNER_TRAINER_H_
#define CRUCIBLE_LEARNER_TRAINER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/model/decoder.h"
#include "common/model/heads.h"
#include "learner/communicator.h"
#include "learner/data.h"
#include "learner/objectives.h"
#include "learner/optimizer.h"

namespace crucible::learner {

enum class Algorithm { kSft, kPpo, kCodeRl, kCritic, kRewardModel, kDpo, kOrpo, kRestEm };
// sft | ppo | coderl | critic | rm | dpo | orpo | rest
absl::StatusOr<Algorithm> ParseAlgorithm(const std::string& name);
const char* AlgorithmName(Algorithm algorithm);
DataKind DataKindOf(Algorithm algorithm);

enum class AdvantageEstimator { kGae, kRloo, kGrpo };

struct TrainerOptions {
  Algorithm algorithm = Algorithm::kSft;
  int64_t batch_size = 8;           // examples (pairs) per optimizer step, over all ranks
  int64_t max_batch_tokens = 4096;  // padded tokens per forward pass (micro-batch budget)
  OptimizerOptions optimizer;
  uint64_t seed = 0;
  bool shuffle = true;
  double temperature = 1.0;  // the sampling temperature the behaviour log-probs were taken at
  // Every weight of the model is trained (AdamW state for all), not LoRA adapters: for a
  // warm start of a base that adapters alone cannot teach. No adapters may be attached.
  bool full_parameters = false;

  // PPO. Without behaviour_logprobs in the data the samples count as the reference
  // policy's (adapters off); without values, the value head's at the start of the step.
  PpoOptions ppo;
  // > 0: the decoupled PPO objective (objectives.h) for samples that carry behaviour
  // log-probs: clipped against the proximal policy, weighted by min(pi_prox / mu, cap).
  // With one optimizer update per batch the proximal policy is the policy of the update's
  // own forward pass, detached. 0: the ratio is against the behaviour policy (on-policy).
  double behaviour_weight_cap = 0;
  AdvantageEstimator advantage = AdvantageEstimator::kGae;
  double gamma = 1.0, lambda = 0.95;
  KlEstimator kl_estimator = KlEstimator::kK1;
  double kl_coef = 0.05;
  double kl_target = 0;  // > 0: adaptive KL controller towards this KL per token
  double kl_horizon = 10000;
  bool whiten_advantages = true;

  double rl_weight = 1.0, ce_weight = 1.0;  // CodeRL: L_rl + L_ce
  double dpo_beta = 0.1;
  double orpo_lambda = 0.1;
  double rest_threshold = 1.0;  // ReST-EM: rewards below this are dropped

  absl::Duration collective_timeout = absl::Minutes(10);
};

struct StepMetrics {
  int64_t step = 0;         // 1-based: the update just taken
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;
  int64_t tokens = 0;       // completion tokens trained on, all ranks
  int64_t examples = 0;     // examples (pairs) in the batch
  int64_t epoch = 0;
  double seconds = 0;
  std::map<std::string, double> terms;  // per-objective parts and diagnostics
};

// A frozen CodeRL critic: a backbone of its own with its trained OutcomeHead.
struct Critic {
  model::CausalLm model{nullptr};
  model::OutcomeHead head{nullptr};
};

// The critic's probability that each program passes: the softmax of its outcome logits
// max-pooled over the completion's tokens, as the critic step trains them. One batch, no
// gradients; every completion must hold at least one token.
absl::StatusOr<std::vector<double>> CriticPassProbabilities(
    Critic& critic, const std::vector<std::vector<int32_t>>& prompts,
    const std::vector<std::vector<int32_t>>& completions);

// The critic's value of every completion token as program refining reads it (CodeRL's
// q(w_t) = p(PassedTest | w_1..t, D), eq. 11, from its binary critic phi_test over
// {FailedTest, PassedTest}): the 4-outcome critic's token softmax restricted to those two
// outcomes, p(passed) / (p(passed) + p(failed_test)); so q < 0.5 exactly when "failed test"
// is more likely than "passed". One vector per completion, one value per token; one batch,
// no gradients; every completion must hold at least one token.
absl::StatusOr<std::vector<std::vector<double>>> CriticTokenTestPassProbabilities(
    Critic& critic, const std::vector<std::vector<int32_t>>& prompts,
    const std::vector<std::vector<int32_t>>& completions);

// A frozen Bradley-Terry reward model (learner offline --algo rm): a backbone of its own
// with its trained RewardHead.
struct RewardModel {
  model::CausalLm model{nullptr};
  model::RewardHead head{nullptr};
};

// The reward model's score of each program: the RewardHead read at the sequence's last
// token, as the rm step trains it. One batch, no gradients; every completion must hold at
// least one token.
absl::StatusOr<std::vector<double>> RewardModelScores(RewardModel& reward_model,
                                                      const std::vector<std::vector<int32_t>>& prompts,
                                                      const std::vector<std::vector<int32_t>>& completions);

class Trainer {
 public:
  // `model` carries its LoRA adapters already; the heads the algorithm needs are created
  // here (seeded). Parameters start equal on every rank: rank 0's are broadcast.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(model::CausalLm model, std::vector<Example> data,
                                                         Communicator& comm, const TrainerOptions& options,
                                                         Critic* critic = nullptr);
  // A trainer fed batch by batch through Step(batch) (no data of its own).
  static absl::StatusOr<std::unique_ptr<Trainer>> CreateOnline(model::CausalLm model, Communicator& comm,
                                                               const TrainerOptions& options,
                                                               Critic* critic = nullptr);

  // Offline: the next global batch of the data given at Create.
  absl::StatusOr<StepMetrics> Step();
  // Online: this global batch (identical on every rank), e.g. trajectories from actors,
  // validated as the offline data is when it is read (ExampleFromTrajectory).
  absl::StatusOr<StepMetrics> Step(const std::vector<Example>& batch);

  int64_t step() const { return optimizer_->step(); }
  model::CausalLm& model() { return model_; }
  Communicator& comm() { return comm_; }
  const TrainerOptions& options() const { return options_; }

  // Everything a checkpoint holds, by name: trainable tensors ("lora." + PEFT key, or
  // "full." + HF name with full_parameters; "<head>.<param>"), AdamW moments ("adam.exp_avg.<name>", "adam.exp_avg_sq.<name>"),
  // the CPU RNG state ("rng.cpu"); scalars separately.
  std::vector<std::pair<std::string, torch::Tensor>> StateTensors();
  struct Scalars {
    int64_t step = 0, consumed = 0, adam_step = 0;
    double kl_coef = 0;
  };
  Scalars StateScalars() const;
  // Restores a state written by StateTensors/StateScalars (names and shapes must match).
  absl::Status RestoreState(const std::map<std::string, torch::Tensor>& tensors, const Scalars& scalars);
  // The heads this algorithm trains, by name ("value_head", "outcome_head", "reward_head").
  std::vector<std::pair<std::string, torch::nn::Module*>> Heads();

 private:
  Trainer(model::CausalLm model, std::vector<Example> data, Communicator& comm, const TrainerOptions& options,
          Critic* critic);
  static absl::StatusOr<std::unique_ptr<Trainer>> Build(model::CausalLm model, std::vector<Example> data,
                                                        Communicator& comm, const TrainerOptions& options,
                                                        Critic* critic);
  absl::StatusOr<StepMetrics> StepOn(const std::vector<const Example*>& batch, absl::Time start);
  std::vector<std::pair<std::string, torch::Tensor>> NamedTrainable();
  struct Impl;
  model::CausalLm model_;
  std::vector<Example> data_;
  Communicator& comm_;
  TrainerOptions options_;
  Critic* critic_;
  DataOrder order_;
  std::unique_ptr<Optimizer> optimizer_;
  AdaptiveKlController kl_;
  model::ValueHead value_head_{nullptr};
  model::OutcomeHead outcome_head_{nullptr};
  model::RewardHead reward_head_{nullptr};
  double pending_kl_ = -1;  // PPO: the step's mean KL, set by the PPO step
};

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_TRAINER_H_
