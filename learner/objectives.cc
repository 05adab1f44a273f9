#include "learner/objectives.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace crucible::learner {

torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask) {
  return (x * mask).sum() / mask.sum().clamp_min(1.0);
}

torch::Tensor MaskedVariance(const torch::Tensor& x, const torch::Tensor& mask) {
  const torch::Tensor n = mask.sum();
  const torch::Tensor mean = (x * mask).sum() / n.clamp_min(1.0);
  const torch::Tensor centred = (x - mean) * mask;
  return (centred * centred).sum() / (n - 1).clamp_min(1.0);
}

torch::Tensor MaskedWhiten(const torch::Tensor& x, const torch::Tensor& mask, bool shift_mean) {
  const torch::Tensor mean = MaskedMean(x, mask);
  const torch::Tensor var = MaskedVariance(x, mask);
  torch::Tensor w = (x - mean) * torch::rsqrt(var + 1e-8);
  if (!shift_mean) w = w + mean;
  return w * mask;
}

torch::Tensor TokenEntropy(const torch::Tensor& logits) {
  const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat32), -1);
  return -(logp.exp() * logp).sum(-1);
}

torch::Tensor SftLoss(const torch::Tensor& logprobs, const torch::Tensor& mask) {
  return -MaskedMean(logprobs, mask);
}

torch::Tensor WeightedSftLoss(const torch::Tensor& logprobs, const torch::Tensor& mask, const torch::Tensor& weights) {
  const torch::Tensor w = weights.to(logprobs.dtype()).unsqueeze(1) * mask;  // [B, T]
  return -(logprobs * w).sum() / w.sum().clamp_min(1e-12);
}

torch::Tensor RestEmWeights(const torch::Tensor& rewards, double threshold) {
  return torch::where(rewards >= threshold, rewards, torch::zeros_like(rewards));
}

torch::Tensor KlPenalty(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, KlEstimator estimator) {
  const torch::Tensor log_ratio = logprobs - ref_logprobs;
  if (estimator == KlEstimator::kK1) return log_ratio;
  return torch::exp(-log_ratio) + log_ratio - 1;  // r - log r - 1 with r = p_ref / p
}

torch::Tensor TokenRewards(const torch::Tensor& kl, const torch::Tensor& mask, const torch::Tensor& final_reward,
                           double kl_coef) {
  torch::Tensor rewards = -kl_coef * kl * mask;
  const torch::Tensor last = (mask.sum(1) - 1).clamp_min(0).to(torch::kInt64).unsqueeze(1);  // [B, 1]
  const torch::Tensor has_tokens = (mask.sum(1) > 0).to(rewards.dtype());
  return rewards.scatter_add(1, last, (final_reward.to(rewards.dtype()) * has_tokens).unsqueeze(1));
}

Gae ComputeGae(const torch::Tensor& rewards, const torch::Tensor& values, const torch::Tensor& mask, double gamma,
               double lambda) {
  torch::NoGradGuard no_grad;
  const torch::Tensor r = rewards.detach() * mask, v = values.detach() * mask;
  const int64_t T = r.size(1);
  std::vector<torch::Tensor> advantages(static_cast<size_t>(T));
  torch::Tensor next_value = torch::zeros({r.size(0)}, r.options());
  torch::Tensor next_advantage = torch::zeros({r.size(0)}, r.options());
  for (int64_t t = T - 1; t >= 0; --t) {
    const torch::Tensor m = mask.select(1, t);
    // Past a row's last token both next_* are 0, because masked positions contribute 0.
    const torch::Tensor delta = r.select(1, t) + gamma * next_value - v.select(1, t);
    const torch::Tensor a = (delta + gamma * lambda * next_advantage) * m;
    advantages[static_cast<size_t>(t)] = a;
    next_value = v.select(1, t);
    next_advantage = a;
  }
  Gae out;
  out.advantages = torch::stack(advantages, 1);
  out.returns = (out.advantages + v) * mask;
  return out;
}

PpoTerms PpoLoss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs, const torch::Tensor& advantages,
                 const torch::Tensor& values, const torch::Tensor& old_values, const torch::Tensor& returns,
                 const torch::Tensor& mask, const torch::Tensor& entropy, const PpoOptions& o,
                 const torch::Tensor& behaviour_weights) {
  PpoTerms t;
  const torch::Tensor log_ratio = logprobs - old_logprobs.detach();
  const torch::Tensor ratio = torch::exp(log_ratio);
  const torch::Tensor adv = advantages.detach();
  const torch::Tensor unclipped = -adv * ratio;
  const torch::Tensor clipped = -adv * torch::clamp(ratio, 1.0 - o.clip_range, 1.0 + o.clip_range);
  torch::Tensor surrogate = torch::max(unclipped, clipped);
  if (behaviour_weights.defined()) surrogate = surrogate * behaviour_weights.detach();
  t.policy_loss = MaskedMean(surrogate, mask);
  if (values.defined()) {
    const torch::Tensor ret = returns.detach(), old_v = old_values.detach();
    const torch::Tensor v_clipped = old_v + torch::clamp(values - old_v, -o.clip_range_value, o.clip_range_value);
    const torch::Tensor err = (values - ret).pow(2), err_clipped = (v_clipped - ret).pow(2);
    t.value_loss = 0.5 * MaskedMean(torch::max(err, err_clipped), mask);
  } else {
    t.value_loss = torch::zeros({}, logprobs.options());
  }
  t.entropy = entropy.defined() ? MaskedMean(entropy, mask) : torch::zeros({}, logprobs.options());
  t.loss = t.policy_loss + o.value_coef * t.value_loss - o.entropy_coef * t.entropy;
  {
    torch::NoGradGuard no_grad;
    t.approx_kl = 0.5 * MaskedMean(log_ratio.detach().pow(2), mask);
    t.clip_fraction = MaskedMean((clipped.detach() > unclipped.detach()).to(mask.dtype()), mask);
  }
  return t;
}

torch::Tensor BehaviourWeights(const torch::Tensor& prox_logprobs, const torch::Tensor& behaviour_logprobs,
                               double cap) {
  torch::NoGradGuard no_grad;
  return torch::clamp_max(torch::exp(prox_logprobs.detach() - behaviour_logprobs.detach()), cap);
}

BehaviourWeightStats SummariseBehaviourWeights(const torch::Tensor& prox_logprobs,
                                               const torch::Tensor& behaviour_logprobs, const torch::Tensor& mask,
                                               double cap) {
  torch::NoGradGuard no_grad;
  BehaviourWeightStats s;
  const torch::Tensor raw = torch::exp(prox_logprobs.detach() - behaviour_logprobs.detach()).to(torch::kFloat64);
  const torch::Tensor m = mask.to(torch::kFloat64);
  const double n = m.sum().item<double>();
  if (n == 0) return s;
  const torch::Tensor w = torch::clamp_max(raw, cap);
  s.mean = ((w * m).sum() / n).item<double>();
  s.max = (w * m).max().item<double>();
  s.truncated_fraction = (((raw > cap).to(torch::kFloat64) * m).sum() / n).item<double>();
  return s;
}

void AdaptiveKlController::Update(double kl, int64_t steps) {
  const double error = std::clamp(kl / target_ - 1.0, -0.2, 0.2);
  value_ *= 1.0 + error * static_cast<double>(steps) / horizon_;
}

namespace {

// Per-sample statistics of its group (rewards [N] by group id [N]): the group's reward sum,
// size, and sum of squared deviations from the group mean.
struct GroupStats {
  torch::Tensor sum, count, mean;
  torch::Tensor inverse;  // sample -> group
  int64_t groups = 0;
  torch::Tensor PerSample(const torch::Tensor& per_group) const { return per_group.index_select(0, inverse); }
  torch::Tensor SumBy(const torch::Tensor& per_sample) const {
    return PerSample(torch::zeros({groups}, per_sample.options()).index_add(0, inverse, per_sample));
  }
};

GroupStats GroupStatsOf(const torch::Tensor& rewards, const torch::Tensor& groups) {
  GroupStats g;
  auto [unique, inverse] = torch::_unique(groups.to(torch::kInt64), /*sorted=*/true, /*return_inverse=*/true);
  g.inverse = inverse;
  g.groups = unique.size(0);
  g.sum = g.SumBy(rewards);
  g.count = g.SumBy(torch::ones_like(rewards));
  g.mean = g.sum / g.count;
  return g;
}

}  // namespace

torch::Tensor RlooAdvantages(const torch::Tensor& rewards, const torch::Tensor& groups) {
  torch::NoGradGuard no_grad;
  const GroupStats g = GroupStatsOf(rewards, groups);
  const torch::Tensor others = (g.sum - rewards) / (g.count - 1).clamp_min(1.0);
  return torch::where(g.count > 1, rewards - others, torch::zeros_like(rewards));
}

torch::Tensor GrpoAdvantages(const torch::Tensor& rewards, const torch::Tensor& groups, double eps) {
  torch::NoGradGuard no_grad;
  const GroupStats g = GroupStatsOf(rewards, groups);
  const torch::Tensor std = (g.SumBy((rewards - g.mean).pow(2)) / (g.count - 1).clamp_min(1.0)).sqrt();
  return torch::where(g.count > 1, (rewards - g.mean) / (std + eps), torch::zeros_like(rewards));
}

torch::Tensor CriticTokenWeights(const torch::Tensor& token_logits, const torch::Tensor& outcomes) {
  torch::NoGradGuard no_grad;
  const torch::Tensor probs = torch::softmax(token_logits.to(torch::kFloat32), -1);  // [B, T, 4]
  const torch::Tensor index = outcomes.to(torch::kInt64).view({-1, 1, 1}).expand({probs.size(0), probs.size(1), 1});
  return probs.gather(2, index).squeeze(2);
}

torch::Tensor CriticLoss(const torch::Tensor& sequence_logits, const torch::Tensor& outcomes) {
  return torch::nn::functional::cross_entropy(sequence_logits.to(torch::kFloat32), outcomes.to(torch::kInt64));
}

CodeRlTerms CodeRlLoss(const torch::Tensor& logprobs, const torch::Tensor& mask, const torch::Tensor& sample_reward,
                       const torch::Tensor& baseline_reward, const torch::Tensor& token_weights,
                       const torch::Tensor& gt_logprobs, const torch::Tensor& gt_mask, double rl_weight,
                       double ce_weight) {
  CodeRlTerms t;
  const torch::Tensor relative = (sample_reward - baseline_reward).to(logprobs.dtype()).detach().unsqueeze(1);
  torch::Tensor weight = relative * mask;
  if (token_weights.defined()) weight = weight * token_weights.detach();
  t.rl = -(weight * logprobs).sum() / mask.sum().clamp_min(1.0);
  t.ce = gt_logprobs.defined() ? SftLoss(gt_logprobs, gt_mask) : torch::zeros({}, logprobs.options());
  t.loss = rl_weight * t.rl + ce_weight * t.ce;
  return t;
}

torch::Tensor BradleyTerryLoss(const torch::Tensor& chosen_rewards, const torch::Tensor& rejected_rewards) {
  return -torch::nn::functional::logsigmoid(chosen_rewards - rejected_rewards).mean();
}

torch::Tensor DpoLoss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                      const torch::Tensor& ref_chosen, const torch::Tensor& ref_rejected, double beta) {
  const torch::Tensor margin = (policy_chosen - ref_chosen.detach()) - (policy_rejected - ref_rejected.detach());
  return -torch::nn::functional::logsigmoid(beta * margin).mean();
}

OrpoTerms OrpoLoss(const torch::Tensor& chosen_mean_logp, const torch::Tensor& rejected_mean_logp, double lambda) {
  // log(1 - exp(l)) computed stably for l < 0.
  auto log1m_exp = [](const torch::Tensor& l) { return torch::log(-torch::expm1(l)); };
  const torch::Tensor log_odds =
      (chosen_mean_logp - rejected_mean_logp) - (log1m_exp(chosen_mean_logp) - log1m_exp(rejected_mean_logp));
  OrpoTerms t;
  t.nll = -chosen_mean_logp.mean();
  t.odds_ratio_loss = -torch::nn::functional::logsigmoid(log_odds).mean();
  t.loss = t.nll + lambda * t.odds_ratio_loss;
  return t;
}

std::pair<torch::Tensor, torch::Tensor> PadTokens(const std::vector<torch::Tensor>& rows) {
  int64_t T = 0;
  for (const torch::Tensor& r : rows) T = std::max<int64_t>(T, r.size(0));
  std::vector<torch::Tensor> values, masks;
  for (const torch::Tensor& r : rows) {
    const int64_t pad = T - r.size(0);
    values.push_back(torch::constant_pad_nd(r, {0, pad}, 0));
    masks.push_back(torch::cat({torch::ones({r.size(0)}, r.options().requires_grad(false)),
                                torch::zeros({pad}, r.options().requires_grad(false))}));
  }
  return {torch::stack(values), torch::stack(masks)};
}

torch::Tensor SequenceSum(const torch::Tensor& per_token, const torch::Tensor& mask) {
  return (per_token * mask).sum(1);
}

torch::Tensor SequenceMean(const torch::Tensor& per_token, const torch::Tensor& mask) {
  return (per_token * mask).sum(1) / mask.sum(1).clamp_min(1.0);
}

}  // namespace crucible::learner
