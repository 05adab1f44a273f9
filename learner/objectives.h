// The learner's objectives as functions of plain tensors, so each can be checked on numbers
// worked by hand and against finite differences, independent of any model.
//
// Conventions. Per-token tensors are [B, T] over completion tokens, right-padded, with a
// float mask [B, T] that is 1 on real tokens (a contiguous prefix of each row). `logprobs`
// are log p(token | prefix) of the completion tokens under the policy being trained (with
// autograd), `old_logprobs` those recorded by the actor when it sampled (behaviour policy),
// `ref_logprobs` those of the reference policy (the same model with adapters off).
// Per-sequence tensors are [B]. Token means are over all real tokens of the batch (a long
// program weighs more than a short one, as in TRL's PPO and in token-level CE).
//
// Sources: PPO as in Ziegler et al. / TRL (clipped surrogate, clipped value loss, GAE, KL
// penalty in the per-token reward, adaptive KL controller); KL estimators k1 and k3 from
// Schulman's "Approximating KL divergence"; CodeRL eq. (10) with the greedy baseline and
// the critic's token-level probability of the observed outcome; DPO (Rafailov et al.),
// ORPO (Hong et al., TRL's `beta` is lambda), Bradley-Terry, RLOO (Ahmadian et al.),
// GRPO (Shao et al.), ReST-EM (Singh et al.).
#ifndef CRUCIBLE_LEARNER_OBJECTIVES_H_
#define CRUCIBLE_LEARNER_OBJECTIVES_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "common/model/torch.h"

namespace crucible::learner {

// ---- Helpers ------------------------------------------------------------------------

// sum(x * mask) / sum(mask); 0 when the mask is empty.
torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask);
// Masked variance, unbiased (n - 1), as TRL's masked_var.
torch::Tensor MaskedVariance(const torch::Tensor& x, const torch::Tensor& mask);
// (x - mean) / sqrt(var + 1e-8) over the masked entries (mean added back if !shift_mean);
// masked-out entries are 0.
torch::Tensor MaskedWhiten(const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean = true);
// Per-token entropy of the distribution given by logits [B, T, V] -> [B, T].
torch::Tensor TokenEntropy(const torch::Tensor& logits);

// ---- Supervised ---------------------------------------------------------------------

// SFT: token cross-entropy of the completion (the prompt is not in `logprobs` at all).
torch::Tensor SftLoss(const torch::Tensor& logprobs, const torch::Tensor& mask);
// Each sequence's tokens weighted by weights [B]: sum_b w_b sum_t -logp / sum_b w_b n_b.
// ReST-EM's M-step is this on the passed programs of a round, weighted by reward.
torch::Tensor WeightedSftLoss(const torch::Tensor& logprobs, const torch::Tensor& mask, const torch::Tensor& weights);

// ReST-EM's E-step filter: the weights of WeightedSftLoss from verdict rewards [B]: the
// reward where it reaches `threshold` (a passed program), else 0.
torch::Tensor RestEmWeights(const torch::Tensor& rewards, double threshold = 1.0);

// ---- PPO ----------------------------------------------------------------------------

enum class KlEstimator { kK1, kK3 };
// Per-token estimate of KL(policy || reference) from samples of the policy:
// k1 = logp - logp_ref; k3 = exp(logp_ref - logp) - (logp_ref - logp) - 1 (>= 0, unbiased).
torch::Tensor KlPenalty(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, KlEstimator estimator);

// The per-token reward of PPO: -kl_coef * kl at every token, plus the sequence's verdict
// reward [B] at its last real token.
torch::Tensor TokenRewards(const torch::Tensor& kl, const torch::Tensor& mask, const torch::Tensor& final_reward,
                           double kl_coef);

struct Gae {
  torch::Tensor advantages;  // [B, T], 0 off the mask
  torch::Tensor returns;     // advantages + values
};
// Generalised advantage estimation over each row's real tokens (no gradient):
// delta_t = r_t + gamma V_{t+1} - V_t (V past the last token is 0),
// A_t = delta_t + gamma lambda A_{t+1}.
Gae ComputeGae(const torch::Tensor& rewards, const torch::Tensor& values, const torch::Tensor& mask, double gamma,
               double lambda);

struct PpoOptions {
  double clip_range = 0.2;        // policy ratio clip
  double clip_range_value = 0.2;  // value clip around the old values
  double value_coef = 0.1;        // TRL's vf_coef
  double entropy_coef = 0.0;      // entropy bonus
};

struct PpoTerms {
  torch::Tensor loss;          // policy_loss + value_coef * value_loss - entropy_coef * entropy
  torch::Tensor policy_loss;   // clipped surrogate
  torch::Tensor value_loss;    // 0.5 * max(unclipped, clipped) squared error
  torch::Tensor entropy;       // token-mean entropy (0 if none given)
  torch::Tensor approx_kl;     // 0.5 * mean (logp - old)^2, detached: for logs and early stop
  torch::Tensor clip_fraction; // share of tokens whose ratio was clipped, detached
};
// `entropy` [B, T] may be undefined (no bonus). `values` are the value head's current
// predictions (with autograd), `old_values` those when the advantages were computed.
//
// Decoupled PPO (AReaL, Fu et al. 2025) for off-policy samples: `old_logprobs` are then the
// proximal policy's (the policy at the start of the step) and `behaviour_weights` [B, T]
// the truncated importance weights min(pi_prox / mu, C) of the behaviour policy mu that
// drew the tokens (BehaviourWeights); the per-token loss is
//   w_t * max(-A_t r_t, -A_t clip(r_t, 1 - eps, 1 + eps)),  r_t = pi / pi_prox.
// Undefined weights are 1: with pi_prox = mu that is the plain on-policy objective.
PpoTerms PpoLoss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs, const torch::Tensor& advantages,
                 const torch::Tensor& values, const torch::Tensor& old_values, const torch::Tensor& returns,
                 const torch::Tensor& mask, const torch::Tensor& entropy, const PpoOptions& options,
                 const torch::Tensor& behaviour_weights = torch::Tensor());

// min(exp(prox_logprobs - behaviour_logprobs), cap) per token, detached (TIS: truncated
// importance sampling); the statistics are over the mask.
struct BehaviourWeightStats {
  double mean = 0, max = 0, truncated_fraction = 0;
};
torch::Tensor BehaviourWeights(const torch::Tensor& prox_logprobs, const torch::Tensor& behaviour_logprobs,
                               double cap);
BehaviourWeightStats SummariseBehaviourWeights(const torch::Tensor& prox_logprobs,
                                               const torch::Tensor& behaviour_logprobs, const torch::Tensor& mask,
                                               double cap);

// Ziegler et al.'s adaptive KL coefficient: after a batch with observed KL `kl` over
// `steps` samples, coef *= 1 + clip(kl / target - 1, -0.2, 0.2) * steps / horizon.
class AdaptiveKlController {
 public:
  AdaptiveKlController(double initial, double target, double horizon)
      : value_(initial), target_(target), horizon_(horizon) {}
  void Update(double kl, int64_t steps);
  double value() const { return value_; }
  void set_value(double v) { value_ = v; }

 private:
  double value_, target_, horizon_;
};

// ---- Group baselines ----------------------------------------------------------------

// Advantages of the samples of one problem against the others of its group. rewards [N],
// groups [N] int64 (equal ids = same problem). RLOO: r_i - mean_{j != i} r_j (0 for a
// group of one). GRPO: (r_i - mean) / (std + eps), std unbiased (0 advantage for a group
// of one or of equal rewards).
torch::Tensor RlooAdvantages(const torch::Tensor& rewards, const torch::Tensor& groups);
torch::Tensor GrpoAdvantages(const torch::Tensor& rewards, const torch::Tensor& groups, double eps = 1e-4);

// ---- CodeRL -------------------------------------------------------------------------

// Outcome classes of the critic, in the order of model::OutcomeHead's logits.
enum Outcome : int64_t { kCompileError = 0, kRuntimeError = 1, kFailedTest = 2, kPassed = 3 };

// The critic's token-level estimate q(w_t) = softmax(token_logits)[t, u] of the observed
// outcome u [B] int64, from token logits [B, T, 4]; detached (it weights the actor's loss).
torch::Tensor CriticTokenWeights(const torch::Tensor& token_logits, const torch::Tensor& outcomes);
// The critic's training loss: cross-entropy of the (max-pooled) sequence logits [B, 4]
// against the observed outcome [B] (ground-truth programs count as kPassed).
torch::Tensor CriticLoss(const torch::Tensor& sequence_logits, const torch::Tensor& outcomes);

struct CodeRlTerms {
  torch::Tensor loss;     // rl_weight * rl + ce_weight * ce
  torch::Tensor rl;       // -token-mean of (r(W^s) - r(W^b)) * q(w_t) * logp(w_t)
  torch::Tensor ce;       // SFT on the ground-truth programs (0 if none)
};
// Sampled programs: logprobs/mask [B, T], sample_reward and baseline_reward [B] (the
// greedy decode's reward of the same problem), token_weights [B, T] (CriticTokenWeights,
// or undefined for 1). Ground truth: gt_logprobs/gt_mask [G, T'] (may be undefined).
CodeRlTerms CodeRlLoss(const torch::Tensor& logprobs, const torch::Tensor& mask, const torch::Tensor& sample_reward,
                       const torch::Tensor& baseline_reward, const torch::Tensor& token_weights,
                       const torch::Tensor& gt_logprobs, const torch::Tensor& gt_mask, double rl_weight = 1.0,
                       double ce_weight = 1.0);

// ---- Preferences --------------------------------------------------------------------

// Reward model: -log sigmoid(r_chosen - r_rejected), mean over pairs.
torch::Tensor BradleyTerryLoss(const torch::Tensor& chosen_rewards, const torch::Tensor& rejected_rewards);

// DPO over sequence log-probs (sums over completion tokens) [B]:
// -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), mean.
torch::Tensor DpoLoss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                      const torch::Tensor& ref_chosen, const torch::Tensor& ref_rejected, double beta);

// ORPO: NLL of the chosen completion plus lambda * -log sigmoid(log odds ratio), where the
// odds use the length-normalised log-probs (mean over tokens) l_c, l_r [B]:
// log odds(p) = l - log(1 - exp(l)). The NLL term is the chosen token-mean NLL, -l_c.
struct OrpoTerms {
  torch::Tensor loss, nll, odds_ratio_loss;
};
OrpoTerms OrpoLoss(const torch::Tensor& chosen_mean_logp, const torch::Tensor& rejected_mean_logp, double lambda);

// Right-pads per-sequence token tensors [n_b] (e.g. model::CompletionLogProbs) into the
// [B, T] layout above: {values, mask}; keeps autograd.
std::pair<torch::Tensor, torch::Tensor> PadTokens(const std::vector<torch::Tensor>& rows);

// Sum and mean over each row's real tokens: [B, T] -> [B].
torch::Tensor SequenceSum(const torch::Tensor& per_token, const torch::Tensor& mask);
torch::Tensor SequenceMean(const torch::Tensor& per_token, const torch::Tensor& mask);

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_OBJECTIVES_H_
