#include "learner/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/model/checkpoint.h"
#include "common/status_macros.h"

namespace crucible::learner {
namespace {

using model::CausalLm;

// A micro-batch of sequences: prompt + completion rows, right-padded.
struct Rows {
  std::vector<const std::vector<int32_t>*> prompts, completions;
  void Add(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion) {
    prompts.push_back(&prompt);
    completions.push_back(&completion);
  }
};

struct Forward {
  torch::Tensor logp;          // [B, Tc] log p(completion token k | prefix), 0 off the mask
  torch::Tensor mask;          // [B, Tc] float32
  torch::Tensor pred_hidden;   // [B, Tc, H]: the state that predicts completion token k
  torch::Tensor token_hidden;  // [B, Tc, H]: the state at completion token k
  torch::Tensor hidden;        // [B, L, H]
  torch::Tensor last;          // [B] int64: each row's last real position
  torch::Tensor entropy;       // [B, Tc] when asked for
};

// bf16 autocast around forward passes on CUDA (the LoRA factors and heads stay float32
// parameters); nothing on CPU, where float32 is the reference.
class Autocast {
 public:
  explicit Autocast(const CausalLm& model)
      : on_(model->options().device.is_cuda() && model->options().dtype == torch::kBFloat16) {
    if (on_) {
      at::autocast::set_autocast_gpu_dtype(torch::kBFloat16);
      at::autocast::set_enabled(true);
    }
  }
  ~Autocast() {
    if (on_) {
      at::autocast::set_enabled(false);
      at::autocast::clear_cache();
    }
  }

 private:
  bool on_;
};

// want_logits false: hidden states only (the value pass: no LM head over the vocabulary).
Forward RunForward(CausalLm& model, const Rows& rows, double temperature, bool want_entropy, bool want_logits = true) {
  const int64_t B = static_cast<int64_t>(rows.prompts.size());
  int64_t L = 1, Tc = 1;
  for (int64_t b = 0; b < B; ++b) {
    L = std::max<int64_t>(L, rows.prompts[b]->size() + rows.completions[b]->size());
    Tc = std::max<int64_t>(Tc, rows.completions[b]->size());
  }
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor input = torch::zeros({B, L}, i64), pred = torch::zeros({B, Tc}, i64), tok = torch::zeros({B, Tc}, i64);
  torch::Tensor targets = torch::zeros({B, Tc}, i64), last = torch::zeros({B}, i64);
  torch::Tensor mask = torch::zeros({B, Tc});
  {
    auto in = input.accessor<int64_t, 2>();
    auto pr = pred.accessor<int64_t, 2>();
    auto tk = tok.accessor<int64_t, 2>();
    auto tg = targets.accessor<int64_t, 2>();
    auto ms = mask.accessor<float, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const auto& p = *rows.prompts[b];
      const auto& c = *rows.completions[b];
      const int64_t np = static_cast<int64_t>(p.size()), nc = static_cast<int64_t>(c.size());
      for (int64_t t = 0; t < np; ++t) in[b][t] = p[t];
      for (int64_t k = 0; k < nc; ++k) {
        in[b][np + k] = c[k];
        pr[b][k] = np - 1 + k;
        tk[b][k] = np + k;
        tg[b][k] = c[k];
        ms[b][k] = 1;
      }
      last[b] = np + nc - 1;
    }
  }
  const torch::Device device = model->options().device;
  Autocast autocast(model);
  model::ForwardArgs args;  // right padding: plain causal attention is exact for real tokens
  args.input_ids = input.to(device);
  args.positions = torch::arange(L, i64).unsqueeze(0).expand({B, L}).to(device);
  Forward f;
  f.hidden = model->Hidden(args);
  const int64_t H = f.hidden.size(-1);
  auto gather = [&](const torch::Tensor& idx) {
    return f.hidden.gather(1, idx.to(device).unsqueeze(-1).expand({B, Tc, H}));
  };
  f.pred_hidden = gather(pred);
  f.token_hidden = gather(tok);
  f.mask = mask.to(device);
  f.last = last.to(device);
  if (!want_logits) return f;
  torch::Tensor logits = model->Logits(f.pred_hidden);
  if (temperature != 1.0) logits = logits / temperature;
  f.logp = torch::log_softmax(logits, -1).gather(-1, targets.to(device).unsqueeze(-1)).squeeze(-1) * f.mask;
  if (want_entropy) f.entropy = TokenEntropy(logits);
  return f;
}

torch::Tensor F32(const torch::Tensor& t) { return t.to(torch::kFloat32); }

// Pads per-example float vectors (one per completion token) to [B, Tc].
torch::Tensor PadRows(const std::vector<torch::Tensor>& rows, int64_t Tc, torch::Device device) {
  torch::Tensor out = torch::zeros({static_cast<int64_t>(rows.size()), Tc});
  for (size_t b = 0; b < rows.size(); ++b) out[b].narrow(0, 0, rows[b].numel()).copy_(rows[b]);
  return out.to(device);
}

// Loss terms: scaled shares of global means, summed over micro-batches and then ranks.
using Terms = std::map<std::string, double>;

Terms ZeroTerms(std::initializer_list<const char*> names) {
  Terms t;
  for (const char* n : names) t[n] = 0;
  return t;
}

}  // namespace

namespace {

// The rows a frozen scorer (critic, reward model) reads: one per prompt and completion,
// every completion holding at least one token. `what` names the caller in errors.
absl::StatusOr<Rows> ScoringRows(const char* what, const std::vector<std::vector<int32_t>>& prompts,
                                 const std::vector<std::vector<int32_t>>& completions) {
  if (prompts.size() != completions.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": as many prompts as completions"));
  }
  Rows rows;
  for (size_t b = 0; b < prompts.size(); ++b) {
    if (completions[b].empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": an empty completion"));
    rows.Add(prompts[b], completions[b]);
  }
  return rows;
}

std::vector<double> ToDoubles(const torch::Tensor& t) {
  torch::Tensor d = t.to(torch::kCPU).to(torch::kFloat64).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

}  // namespace

absl::StatusOr<std::vector<double>> CriticPassProbabilities(
    Critic& critic, const std::vector<std::vector<int32_t>>& prompts,
    const std::vector<std::vector<int32_t>>& completions) {
  CRUCIBLE_ASSIGN_OR_RETURN(Rows rows, ScoringRows("CriticPassProbabilities", prompts, completions));
  if (rows.prompts.empty()) return std::vector<double>{};
  torch::NoGradGuard no_grad;
  Forward f = RunForward(critic.model, rows, 1.0, false, /*want_logits=*/false);
  torch::Tensor logits = critic.head->SequenceLogits(critic.head->TokenLogits(F32(f.token_hidden)), f.mask > 0);
  return ToDoubles(torch::softmax(logits, -1).select(-1, kPassed));
}

absl::StatusOr<std::vector<std::vector<double>>> CriticTokenTestPassProbabilities(
    Critic& critic, const std::vector<std::vector<int32_t>>& prompts,
    const std::vector<std::vector<int32_t>>& completions) {
  CRUCIBLE_ASSIGN_OR_RETURN(Rows rows, ScoringRows("CriticTokenTestPassProbabilities", prompts, completions));
  std::vector<std::vector<double>> out;
  if (rows.prompts.empty()) return out;
  torch::NoGradGuard no_grad;
  Forward f = RunForward(critic.model, rows, 1.0, false, /*want_logits=*/false);
  // Softmax over the two outcomes alone is the 4-way softmax renormalised to them.
  torch::Tensor logits = critic.head->TokenLogits(F32(f.token_hidden));
  torch::Tensor two = torch::stack({logits.select(-1, kFailedTest), logits.select(-1, kPassed)}, -1);
  torch::Tensor pass = torch::softmax(two, -1).select(-1, 1).to(torch::kCPU).to(torch::kFloat64).contiguous();
  auto p = pass.accessor<double, 2>();
  for (size_t b = 0; b < completions.size(); ++b) {
    std::vector<double> row(completions[b].size());
    for (size_t t = 0; t < row.size(); ++t) row[t] = p[static_cast<int64_t>(b)][static_cast<int64_t>(t)];
    out.push_back(std::move(row));
  }
  return out;
}

absl::StatusOr<std::vector<double>> RewardModelScores(RewardModel& reward_model,
                                                      const std::vector<std::vector<int32_t>>& prompts,
                                                      const std::vector<std::vector<int32_t>>& completions) {
  CRUCIBLE_ASSIGN_OR_RETURN(Rows rows, ScoringRows("RewardModelScores", prompts, completions));
  if (rows.prompts.empty()) return std::vector<double>{};
  torch::NoGradGuard no_grad;
  Forward f = RunForward(reward_model.model, rows, 1.0, false, /*want_logits=*/false);
  return ToDoubles(F32(reward_model.head(F32(f.hidden), f.last)));
}

absl::StatusOr<Algorithm> ParseAlgorithm(const std::string& name) {
  static const std::map<std::string, Algorithm> kNames = {
      {"sft", Algorithm::kSft},       {"ppo", Algorithm::kPpo}, {"coderl", Algorithm::kCodeRl},
      {"critic", Algorithm::kCritic}, {"rm", Algorithm::kRewardModel}, {"dpo", Algorithm::kDpo},
      {"orpo", Algorithm::kOrpo},     {"rest", Algorithm::kRestEm}};
  auto it = kNames.find(name);
  if (it == kNames.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown algorithm \"", name, "\" (sft, ppo, coderl, critic, rm, dpo, orpo, rest)"));
  }
  return it->second;
}

const char* AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kSft: return "sft";
    case Algorithm::kPpo: return "ppo";
    case Algorithm::kCodeRl: return "coderl";
    case Algorithm::kCritic: return "critic";
    case Algorithm::kRewardModel: return "rm";
    case Algorithm::kDpo: return "dpo";
    case Algorithm::kOrpo: return "orpo";
    case Algorithm::kRestEm: return "rest";
  }
  return "?";
}

DataKind DataKindOf(Algorithm a) {
  return a == Algorithm::kRewardModel || a == Algorithm::kDpo || a == Algorithm::kOrpo ? DataKind::kPreferences
                                                                                       : DataKind::kTrajectories;
}

// The per-algorithm steps. Each accumulates gradients for the local shard and returns the
// (scaled) loss terms. Examples are named by their position in the global batch (an
// example can appear twice in a batch that crosses an epoch): `all` is every position,
// `local` this rank's.
struct Trainer::Impl {
  Trainer& t;
  const std::vector<const Example*>& batch;
  const std::vector<int64_t>& all;
  const std::vector<int64_t>& local;
  double iw_max_ = 0;  // the largest behaviour weight on this rank (a max, not a share)

  const Example& ex(int64_t position) const { return *batch[position]; }
  const TrainerOptions& o() const { return t.options_; }

  // Micro-batches of `ids` (positions) under the token budget; `length` is an
  // example's padded row length (both rows for a pair).
  template <typename Length, typename Fn>
  absl::Status ForMicroBatches(const std::vector<int64_t>& ids, Length length, Fn fn) {
    std::vector<int64_t> lengths;
    for (int64_t i : ids) lengths.push_back(length(ex(i)));
    for (const std::vector<int64_t>& group : TokenBudgetBatches(lengths, o().max_batch_tokens)) {
      std::vector<int64_t> micro;
      for (int64_t k : group) micro.push_back(ids[k]);
      CRUCIBLE_RETURN_IF_ERROR(fn(micro));
    }
    return absl::OkStatus();
  }
  static int64_t SeqLength(const Example& e) { return static_cast<int64_t>(e.prompt.size() + e.completion.size()); }
  static int64_t PairLength(const Example& e) {
    return 2 * static_cast<int64_t>(e.prompt.size() + std::max(e.completion.size(), e.rejected.size()));
  }
  static int64_t Tokens(const Example& e) { return static_cast<int64_t>(e.completion.size()); }

  Forward Run(const std::vector<int64_t>& micro, bool entropy = false, bool logits = true) {
    Rows rows;
    for (int64_t i : micro) rows.Add(ex(i).prompt, ex(i).completion);
    return RunForward(t.model_, rows, o().temperature, entropy, logits);
  }
  // Chosen rows first, then rejected.
  Forward RunPairs(const std::vector<int64_t>& micro, bool logits = true) {
    Rows rows;
    for (int64_t i : micro) rows.Add(ex(i).prompt, ex(i).completion);
    for (int64_t i : micro) rows.Add(ex(i).prompt, ex(i).rejected);
    return RunForward(t.model_, rows, 1.0, false, logits);
  }

  void Backward(const torch::Tensor& loss, Terms& terms) {
    t.optimizer_->Accumulate(loss);
    terms["loss"] += loss.item<double>();
  }

  // ---- SFT and ReST-EM: token cross-entropy (weighted by reward for ReST-EM) ----
  absl::StatusOr<Terms> Supervised(bool rest) {
    Terms terms = rest ? ZeroTerms({"loss", "kept"}) : ZeroTerms({"loss"});
    auto weight = [&](const Example& e) { return rest ? (e.reward >= o().rest_threshold ? e.reward : 0.0) : 1.0; };
    double global = 0;
    for (int64_t i : all) global += weight(ex(i)) * Tokens(ex(i));
    std::vector<int64_t> kept;
    for (int64_t i : local) {
      if (weight(ex(i)) > 0) kept.push_back(i);
    }
    if (rest) terms["kept"] = static_cast<double>(kept.size());
    if (global == 0) return terms;  // nothing passed in this batch: a zero update
    CRUCIBLE_RETURN_IF_ERROR(ForMicroBatches(kept, SeqLength, [&](const std::vector<int64_t>& micro) -> absl::Status {
      Forward f = Run(micro);
      double share = 0;
      std::vector<double> w;
      for (int64_t i : micro) {
        w.push_back(weight(ex(i)));
        share += w.back() * Tokens(ex(i));
      }
      torch::Tensor objective =
          rest ? WeightedSftLoss(f.logp, f.mask, torch::tensor(w, torch::kFloat32).to(f.logp.device()))
               : SftLoss(f.logp, f.mask);
      Backward(objective * (share / global), terms);
      return absl::OkStatus();
    }));
    return terms;
  }

  // ---- PPO (GAE with a value head, or RLOO / GRPO group baselines) ----
  absl::StatusOr<Terms> Ppo() {
    Terms terms = ZeroTerms({"loss", "policy", "value", "entropy", "approx_kl", "clip_fraction"});
    const bool decoupled = o().behaviour_weight_cap > 0;
    if (decoupled) {
      for (const char* name : {"iw_mean", "iw_truncated_fraction"}) terms[name] = 0;
    }
    const bool gae = o().advantage == AdvantageEstimator::kGae;
    const torch::Device device = t.model_->options().device;
    struct Prepared {
      torch::Tensor old_logp, values, kl, advantages, returns;  // [c] each, float32 CPU
      bool has_behaviour = false;  // old_logp came from the actor (else: the reference's)
    };
    std::unordered_map<int64_t, Prepared> prep;  // by position

    // Pass 1, no gradients: reference log-probs (adapters off), behaviour log-probs,
    // values at the start of the step, the per-token KL.
    CRUCIBLE_RETURN_IF_ERROR(ForMicroBatches(local, SeqLength, [&](const std::vector<int64_t>& micro) -> absl::Status {
      torch::NoGradGuard no_grad;
      Forward ref;
      {
        model::AdaptersDisabled off(t.model_);
        ref = Run(micro);
      }
      // The values at the start of the step need the backbone only.
      const bool need_values = gae && std::any_of(micro.begin(), micro.end(), [&](int64_t i) { return ex(i).values.empty(); });
      Forward cur;
      if (need_values) cur = Run(micro, false, /*logits=*/false);
      for (size_t b = 0; b < micro.size(); ++b) {
        const Example& e = ex(micro[b]);
        const int64_t n = Tokens(e);
        Prepared p;
        torch::Tensor ref_lp = F32(ref.logp[b].narrow(0, 0, n)).cpu();
        p.has_behaviour = !e.behaviour_logprobs.empty();
        p.old_logp = p.has_behaviour ? torch::tensor(e.behaviour_logprobs, torch::kFloat32) : ref_lp;
        p.kl = KlPenalty(p.old_logp, ref_lp, o().kl_estimator);
        if (gae) {
          p.values = e.values.empty()
                         ? F32(t.value_head_(F32(cur.pred_hidden[b].narrow(0, 0, n)).unsqueeze(0))).squeeze(0).cpu()
                         : torch::tensor(e.values, torch::kFloat32);
        }
        prep[micro[b]] = std::move(p);
      }
      return absl::OkStatus();
    }));

    // The global mean KL per token, and each sequence's KL sum (for group baselines).
    const int64_t N = static_cast<int64_t>(batch.size());
    torch::Tensor seq_kl = torch::zeros({N}, torch::kFloat64);
    for (auto& [k, p] : prep) seq_kl[k] = p.kl.sum().item<double>();
    CRUCIBLE_RETURN_IF_ERROR(AllReduceTensors(t.comm_, {seq_kl}, ReduceOp::kSum, o().collective_timeout));
    int64_t global_tokens = 0;
    for (int64_t i : all) global_tokens += Tokens(ex(i));
    const double mean_kl = seq_kl.sum().item<double>() / std::max<int64_t>(1, global_tokens);
    const double kl_coef = t.kl_.value();

    if (gae) {
      for (auto& [k, p] : prep) {
        const Example& e = ex(k);
        torch::Tensor mask = torch::ones({1, p.kl.numel()});
        torch::Tensor rewards = TokenRewards(p.kl.unsqueeze(0), mask, torch::tensor({e.reward}, torch::kFloat32), kl_coef);
        Gae g = ComputeGae(rewards, p.values.unsqueeze(0), mask, o().gamma, o().lambda);
        p.advantages = g.advantages.squeeze(0);
        p.returns = g.returns.squeeze(0);
      }
      if (o().whiten_advantages) {
        torch::Tensor stats = torch::zeros({3}, torch::kFloat64);
        for (auto& [k, p] : prep) {
          torch::Tensor a = p.advantages.to(torch::kFloat64);
          stats[0] += a.sum();
          stats[1] += a.pow(2).sum();
          stats[2] += a.numel();
        }
        CRUCIBLE_RETURN_IF_ERROR(AllReduceTensors(t.comm_, {stats}, ReduceOp::kSum, o().collective_timeout));
        const double n = stats[2].item<double>(), mean = stats[0].item<double>() / std::max(1.0, n);
        const double var = n > 1 ? (stats[1].item<double>() - n * mean * mean) / (n - 1) : 0.0;
        for (auto& [k, p] : prep) p.advantages = ((p.advantages - mean) / std::sqrt(var + 1e-8)).to(torch::kFloat32);
      }
    } else {
      // Group baselines over the global batch on the KL-shaped sequence reward.
      std::map<std::string, int64_t> group_ids;
      std::vector<int64_t> groups;
      std::vector<double> rewards;
      for (int64_t k = 0; k < N; ++k) {
        const Example& e = ex(k);
        groups.push_back(group_ids.emplace(e.group_id, group_ids.size()).first->second);
        rewards.push_back(e.reward - kl_coef * seq_kl[k].item<double>());
      }
      torch::Tensor r = torch::tensor(rewards, torch::kFloat64), g = torch::tensor(groups, torch::kInt64);
      torch::Tensor adv =
          o().advantage == AdvantageEstimator::kRloo ? RlooAdvantages(r, g) : GrpoAdvantages(r, g);
      for (auto& [k, p] : prep) p.advantages = torch::full({p.kl.numel()}, adv[k].item<double>());
    }

    // Pass 2: the clipped PPO loss with gradients.
    CRUCIBLE_RETURN_IF_ERROR(ForMicroBatches(local, SeqLength, [&](const std::vector<int64_t>& micro) -> absl::Status {
      Forward f = Run(micro, o().ppo.entropy_coef > 0);
      const int64_t Tc = f.logp.size(1);
      std::vector<torch::Tensor> old_lp, adv, old_v, ret;
      int64_t tokens = 0;
      for (int64_t i : micro) {
        const Prepared& p = prep.at(i);
        old_lp.push_back(p.old_logp);
        adv.push_back(p.advantages);
        if (gae) {
          old_v.push_back(p.values);
          ret.push_back(p.returns);
        }
        tokens += Tokens(ex(i));
      }
      torch::Tensor values, old_values, returns;
      if (gae) {
        values = F32(t.value_head_(F32(f.pred_hidden))) * f.mask;
        old_values = PadRows(old_v, Tc, device);
        returns = PadRows(ret, Tc, device);
      }
      torch::Tensor behaviour = PadRows(old_lp, Tc, device), proximal = behaviour, weights;
      if (decoupled) {
        // One update per batch: the proximal policy is this forward's own, detached. Rows
        // without the actor's log-probs count as drawn from it (weight 1).
        proximal = F32(f.logp).detach();
        torch::Tensor mu = behaviour.clone();
        for (size_t b = 0; b < micro.size(); ++b) {
          if (!prep.at(micro[b]).has_behaviour) mu[b].copy_(proximal[b]);
        }
        weights = BehaviourWeights(proximal, mu, o().behaviour_weight_cap);
        const BehaviourWeightStats iw = SummariseBehaviourWeights(proximal, mu, f.mask, o().behaviour_weight_cap);
        const double share_b = static_cast<double>(tokens) / static_cast<double>(global_tokens);
        terms["iw_mean"] += iw.mean * share_b;
        terms["iw_truncated_fraction"] += iw.truncated_fraction * share_b;
        iw_max_ = std::max(iw_max_, iw.max);
      }
      PpoTerms terms_b = PpoLoss(F32(f.logp), proximal, PadRows(adv, Tc, device), values, old_values, returns, f.mask,
                                 f.entropy, o().ppo, weights);
      const double share = static_cast<double>(tokens) / static_cast<double>(global_tokens);
      Backward(terms_b.loss * share, terms);
      terms["policy"] += terms_b.policy_loss.item<double>() * share;
      terms["value"] += terms_b.value_loss.item<double>() * share;
      terms["entropy"] += terms_b.entropy.item<double>() * share;
      terms["approx_kl"] += terms_b.approx_kl.item<double>() * share;
      terms["clip_fraction"] += terms_b.clip_fraction.item<double>() * share;
      return absl::OkStatus();
    }));
    // Known on every rank already (all-reduced above): not summed again.
    t.pending_kl_ = mean_kl;
    return terms;
  }

  // ---- CodeRL: L_rl on sampled programs (critic token weights), L_ce on references ----
  absl::StatusOr<Terms> CodeRl() {
    Terms terms = ZeroTerms({"loss", "rl", "ce"});
    int64_t sample_tokens = 0, reference_tokens = 0;
    for (int64_t i : all) (ex(i).reference ? reference_tokens : sample_tokens) += Tokens(ex(i));
    std::vector<int64_t> samples, references;
    for (int64_t i : local) (ex(i).reference ? references : samples).push_back(i);
    if (sample_tokens > 0) {
      CRUCIBLE_RETURN_IF_ERROR(ForMicroBatches(samples, SeqLength, [&](const std::vector<int64_t>& micro) -> absl::Status {
        torch::Tensor weights;
        if (t.critic_ != nullptr) {
          torch::NoGradGuard no_grad;
          Rows rows;
          std::vector<int64_t> outcomes;
          for (int64_t i : micro) {
            if (ex(i).outcome < 0) return absl::InvalidArgumentError("CodeRL with a critic needs each sample's outcome");
            rows.Add(ex(i).prompt, ex(i).completion);
            outcomes.push_back(ex(i).outcome);
          }
          Forward c = RunForward(t.critic_->model, rows, 1.0, false, /*want_logits=*/false);
          weights = CriticTokenWeights(t.critic_->head->TokenLogits(F32(c.token_hidden)),
                                       torch::tensor(outcomes, torch::kInt64).to(c.mask.device())) *
                    c.mask;
        }
        Forward f = Run(micro);
        std::vector<double> reward, baseline;
        int64_t tokens = 0;
        for (int64_t i : micro) {
          reward.push_back(ex(i).reward);
          baseline.push_back(ex(i).baseline_reward);
          tokens += Tokens(ex(i));
        }
        const torch::Device device = f.logp.device();
        CodeRlTerms c = CodeRlLoss(F32(f.logp), f.mask, torch::tensor(reward).to(device),
                                   torch::tensor(baseline).to(device), weights.defined() ? weights.to(device) : weights,
                                   torch::Tensor(), torch::Tensor(), o().rl_weight, 0.0);
        const double share = static_cast<double>(tokens) / static_cast<double>(sample_tokens);
        Backward(c.rl * (o().rl_weight * share), terms);
        terms["rl"] += c.rl.item<double>() * share;
        return absl::OkStatus();
      }));
    }
    if (reference_tokens > 0) {
      CRUCIBLE_RETURN_IF_ERROR(ForMicroBatches(references, SeqLength, [&](const std::vector<int64_t>& micro) -> absl::Status {
        Forward f = Run(micro);
        int64_t tokens = 0;
        for (int64_t i : micro) tokens += Tokens(ex(i));
        const double share = static_cast<double>(tokens) / static_cast<double>(reference_tokens);
        torch::Tensor ce = SftLoss(F32(f.logp), f.mask);
        Backward(ce * (o().ce_weight * share), terms);
        terms["ce"] += ce.item<double>() * share;
        return absl::OkStatus();
      }));
    }
    return terms;
  }

  // ---- CodeRL's critic: outcome classification, max-pooled over program tokens ----
  absl::StatusOr<Terms> CriticStep() {
    Terms terms = ZeroTerms({"loss", "accuracy"});
    const double global = static_cast<double>(batch.size());
    CRUCIBLE_RETURN_IF_ERROR(ForMicroBatches(local, SeqLength, [&](const std::vector<int64_t>& micro) -> absl::Status {
      std::vector<int64_t> outcomes;
      for (int64_t i : micro) {
        if (ex(i).outcome < 0) return absl::InvalidArgumentError("critic training needs each example's outcome");
        outcomes.push_back(ex(i).outcome);
      }
      Forward f = Run(micro, false, /*logits=*/false);
      torch::Tensor target = torch::tensor(outcomes, torch::kInt64).to(f.mask.device());
      torch::Tensor logits = t.outcome_head_->SequenceLogits(t.outcome_head_->TokenLogits(F32(f.token_hidden)),
                                                             f.mask > 0);
      const double share = static_cast<double>(micro.size()) / global;
      Backward(CriticLoss(logits, target) * share, terms);
      terms["accuracy"] += (logits.argmax(-1) == target).to(torch::kFloat64).mean().item<double>() * share;
      return absl::OkStatus();
    }));
    return terms;
  }

  // ---- Preferences: Bradley-Terry reward model, DPO, ORPO ----
  absl::StatusOr<Terms> Preferences() {
    const Algorithm a = o().algorithm;
    Terms terms = a == Algorithm::kOrpo ? ZeroTerms({"loss", "nll", "odds_ratio", "accuracy"})
                                        : ZeroTerms({"loss", "accuracy", "margin"});
    const double global = static_cast<double>(batch.size());
    CRUCIBLE_RETURN_IF_ERROR(ForMicroBatches(local, PairLength, [&](const std::vector<int64_t>& micro) -> absl::Status {
      const int64_t B = static_cast<int64_t>(micro.size());
      const double share = static_cast<double>(B) / global;
      torch::Tensor chosen, rejected, loss;
      if (a == Algorithm::kRewardModel) {
        Forward f = RunPairs(micro, /*logits=*/false);
        torch::Tensor r = F32(t.reward_head_(F32(f.hidden), f.last));
        chosen = r.narrow(0, 0, B);
        rejected = r.narrow(0, B, B);
        loss = BradleyTerryLoss(chosen, rejected);
      } else if (a == Algorithm::kDpo) {
        torch::Tensor ref;
        {
          torch::NoGradGuard no_grad;
          model::AdaptersDisabled off(t.model_);
          Forward r = RunPairs(micro);
          ref = SequenceSum(F32(r.logp), r.mask);
        }
        Forward f = RunPairs(micro);
        torch::Tensor pol = SequenceSum(F32(f.logp), f.mask);
        chosen = pol.narrow(0, 0, B) - ref.narrow(0, 0, B);
        rejected = pol.narrow(0, B, B) - ref.narrow(0, B, B);
        loss = DpoLoss(pol.narrow(0, 0, B), pol.narrow(0, B, B), ref.narrow(0, 0, B), ref.narrow(0, B, B), o().dpo_beta);
      } else {
        Forward f = RunPairs(micro);
        torch::Tensor mean = SequenceMean(F32(f.logp), f.mask);
        chosen = mean.narrow(0, 0, B);
        rejected = mean.narrow(0, B, B);
        OrpoTerms orpo = OrpoLoss(chosen, rejected, o().orpo_lambda);
        loss = orpo.loss;
        terms["nll"] += orpo.nll.item<double>() * share;
        terms["odds_ratio"] += orpo.odds_ratio_loss.item<double>() * share;
      }
      Backward(loss * share, terms);
      torch::Tensor margin = (chosen - rejected).detach().to(torch::kFloat64);
      terms["accuracy"] += (margin > 0).to(torch::kFloat64).mean().item<double>() * share;
      if (a != Algorithm::kOrpo) terms["margin"] += margin.mean().item<double>() * share;
      return absl::OkStatus();
    }));
    return terms;
  }
};

Trainer::Trainer(CausalLm model, std::vector<Example> data, Communicator& comm, const TrainerOptions& options,
                 Critic* critic)
    : model_(std::move(model)),
      data_(std::move(data)),
      comm_(comm),
      options_(options),
      critic_(critic),
      order_(static_cast<int64_t>(data_.size()), options.seed, options.shuffle),
      kl_(options.kl_coef, options.kl_target > 0 ? options.kl_target : 1.0, options.kl_horizon) {}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(CausalLm model, std::vector<Example> data, Communicator& comm,
                                                         const TrainerOptions& options, Critic* critic) {
  if (data.empty()) return absl::InvalidArgumentError("no training data");
  for (const Example& e : data) {
    if ((DataKindOf(options.algorithm) == DataKind::kPreferences) != !e.rejected.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("algorithm ", AlgorithmName(options.algorithm), " needs ",
                                                     DataKindOf(options.algorithm) == DataKind::kPreferences
                                                         ? "preference pairs"
                                                         : "trajectories"));
    }
  }
  return Build(std::move(model), std::move(data), comm, options, critic);
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::CreateOnline(CausalLm model, Communicator& comm,
                                                               const TrainerOptions& options, Critic* critic) {
  if (DataKindOf(options.algorithm) != DataKind::kTrajectories) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm ", AlgorithmName(options.algorithm), " trains on preference pairs, not online"));
  }
  return Build(std::move(model), {}, comm, options, critic);
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Build(CausalLm model, std::vector<Example> data, Communicator& comm,
                                                        const TrainerOptions& options, Critic* critic) {
  if (options.batch_size < 1) return absl::InvalidArgumentError("batch size must be at least 1");
  if (options.max_batch_tokens < 1) return absl::InvalidArgumentError("the micro-batch token budget must be positive");
  if (!(options.temperature > 0)) return absl::InvalidArgumentError("temperature must be positive");
  if (options.full_parameters) {
    for (auto& [path, linear] : model->LinearLayers()) {
      if (linear->has_lora()) {
        return absl::InvalidArgumentError("full-parameter training with LoRA adapters attached (at " + path + ")");
      }
    }
    if (options.algorithm == Algorithm::kPpo || options.algorithm == Algorithm::kDpo) {
      // Their reference policy is the base with adapters off, which full training changes.
      return absl::InvalidArgumentError(
          absl::StrCat(AlgorithmName(options.algorithm), " needs a frozen reference: train adapters, not every weight"));
    }
    for (auto& p : model->parameters()) p.set_requires_grad(true);
  }
  std::unique_ptr<Trainer> t(new Trainer(std::move(model), std::move(data), comm, options, critic));
  const int64_t hidden = t->model_->config().hidden_size;
  const torch::Device device = t->model_->options().device;
  torch::manual_seed(options.seed);
  if (options.algorithm == Algorithm::kPpo && options.advantage == AdvantageEstimator::kGae) {
    t->value_head_ = model::ValueHead(hidden, device);
  }
  if (options.algorithm == Algorithm::kCritic) t->outcome_head_ = model::OutcomeHead(hidden, device);
  if (options.algorithm == Algorithm::kRewardModel) t->reward_head_ = model::RewardHead(hidden, device);
  std::vector<torch::Tensor> params;
  for (auto& [name, p] : t->NamedTrainable()) params.push_back(p);
  if (params.empty()) return absl::FailedPreconditionError("nothing to train: attach LoRA adapters first");
  CRUCIBLE_RETURN_IF_ERROR(BroadcastTensors(comm, params, 0, options.collective_timeout));
  t->optimizer_ = std::make_unique<Optimizer>(params, options.optimizer);
  return t;
}

std::vector<std::pair<std::string, torch::nn::Module*>> Trainer::Heads() {
  std::vector<std::pair<std::string, torch::nn::Module*>> heads;
  if (value_head_) heads.emplace_back("value_head", value_head_.get());
  if (outcome_head_) heads.emplace_back("outcome_head", outcome_head_.get());
  if (reward_head_) heads.emplace_back("reward_head", reward_head_.get());
  return heads;
}

std::vector<std::pair<std::string, torch::Tensor>> Trainer::NamedTrainable() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  if (options_.full_parameters) {
    for (const auto& p : model_->named_parameters()) out.emplace_back("full." + p.key(), p.value());
  }
  for (auto& [path, linear] : model_->LinearLayers()) {
    if (!linear->has_lora()) continue;
    out.emplace_back("lora." + model::PeftKey(path, "A"), linear->lora_A);
    out.emplace_back("lora." + model::PeftKey(path, "B"), linear->lora_B);
  }
  for (auto& [head, module] : Heads()) {
    for (const auto& p : module->named_parameters()) out.emplace_back(head + "." + p.key(), p.value());
  }
  return out;
}

absl::StatusOr<StepMetrics> Trainer::Step() {
  const absl::Time start = absl::Now();
  if (data_.empty()) return absl::FailedPreconditionError("this trainer has no data of its own: use Step(batch)");
  std::vector<const Example*> batch;
  for (int64_t i : order_.Next(options_.batch_size)) batch.push_back(&data_[i]);
  return StepOn(batch, start);
}

absl::StatusOr<StepMetrics> Trainer::Step(const std::vector<Example>& examples) {
  const absl::Time start = absl::Now();
  if (examples.empty()) return absl::InvalidArgumentError("an empty batch");
  std::vector<const Example*> batch;
  for (const Example& e : examples) batch.push_back(&e);
  return StepOn(batch, start);
}

absl::StatusOr<StepMetrics> Trainer::StepOn(const std::vector<const Example*>& batch, absl::Time start) {
  StepMetrics m;
  std::vector<int64_t> all(batch.size()), local;
  std::iota(all.begin(), all.end(), 0);
  for (size_t k = comm_.rank(); k < batch.size(); k += comm_.size()) local.push_back(static_cast<int64_t>(k));
  Impl impl{*this, batch, all, local};
  pending_kl_ = -1;
  absl::StatusOr<Terms> terms;
  switch (options_.algorithm) {
    case Algorithm::kSft: terms = impl.Supervised(false); break;
    case Algorithm::kRestEm: terms = impl.Supervised(true); break;
    case Algorithm::kPpo: terms = impl.Ppo(); break;
    case Algorithm::kCodeRl: terms = impl.CodeRl(); break;
    case Algorithm::kCritic: terms = impl.CriticStep(); break;
    case Algorithm::kRewardModel:
    case Algorithm::kDpo:
    case Algorithm::kOrpo: terms = impl.Preferences(); break;
  }
  if (!terms.ok()) return terms.status();
  CRUCIBLE_RETURN_IF_ERROR(optimizer_->ReduceGradients(comm_, options_.collective_timeout));
  const Optimizer::StepInfo info = optimizer_->Step();

  // Every term is a share of a global mean: the sum over ranks is the batch's value.
  torch::Tensor packed = torch::zeros({static_cast<int64_t>(terms->size())}, torch::kFloat64);
  int64_t k = 0;
  for (auto& [name, value] : *terms) packed[k++] = value;
  CRUCIBLE_RETURN_IF_ERROR(AllReduceTensors(comm_, {packed}, ReduceOp::kSum, options_.collective_timeout));
  k = 0;
  for (auto& [name, value] : *terms) value = packed[k++].item<double>();
  if (pending_kl_ >= 0) {
    (*terms)["kl"] = pending_kl_;
    (*terms)["kl_coef"] = kl_.value();
    if (options_.kl_target > 0) kl_.Update(pending_kl_, static_cast<int64_t>(batch.size()));
  }
  if (options_.algorithm == Algorithm::kPpo && options_.behaviour_weight_cap > 0) {
    // A max over ranks through a sum: each rank fills its own slot.
    torch::Tensor slots = torch::zeros({comm_.size()}, torch::kFloat64);
    slots[comm_.rank()] = impl.iw_max_;
    CRUCIBLE_RETURN_IF_ERROR(AllReduceTensors(comm_, {slots}, ReduceOp::kSum, options_.collective_timeout));
    (*terms)["iw_max"] = slots.max().item<double>();
  }
  double reward = 0;
  for (const Example* e : batch) {
    m.tokens += static_cast<int64_t>(e->completion.size() + e->rejected.size());
    reward += e->reward;
  }
  if (DataKindOf(options_.algorithm) == DataKind::kTrajectories) (*terms)["reward"] = reward / batch.size();
  m.step = optimizer_->step();
  m.loss = (*terms)["loss"];
  terms->erase("loss");
  m.terms = *std::move(terms);
  m.lr = info.lr;
  m.grad_norm = info.grad_norm;
  m.examples = static_cast<int64_t>(batch.size());
  m.epoch = order_.epoch();
  m.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return m;
}

std::vector<std::pair<std::string, torch::Tensor>> Trainer::StateTensors() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  const auto named = NamedTrainable();
  for (const auto& [name, p] : named) out.emplace_back(name, p.detach());
  auto& state = optimizer_->adamw().state();
  for (const auto& [name, p] : named) {
    auto it = state.find(c10::guts::to_string(p.unsafeGetTensorImpl()));
    if (it == state.end()) continue;
    auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
    out.emplace_back("adam.exp_avg." + name, s.exp_avg());
    out.emplace_back("adam.exp_avg_sq." + name, s.exp_avg_sq());
  }
  out.emplace_back("rng.cpu", at::detail::getDefaultCPUGenerator().get_state());
  return out;
}

Trainer::Scalars Trainer::StateScalars() const {
  Scalars s;
  s.step = optimizer_->step();
  s.consumed = order_.consumed();
  s.kl_coef = kl_.value();
  for (const auto& entry : optimizer_->adamw().state()) {
    s.adam_step = static_cast<const torch::optim::AdamWParamState&>(*entry.second).step();
    break;
  }
  return s;
}

absl::Status Trainer::RestoreState(const std::map<std::string, torch::Tensor>& tensors, const Scalars& scalars) {
  torch::NoGradGuard no_grad;
  auto get = [&](const std::string& name, const torch::Tensor& like) -> absl::StatusOr<torch::Tensor> {
    auto it = tensors.find(name);
    if (it == tensors.end()) return absl::NotFoundError(absl::StrCat("checkpoint lacks \"", name, "\""));
    if (it->second.sizes() != like.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint tensor \"", name, "\" has shape ",
                                                     c10::str(it->second.sizes()), ", the model ", c10::str(like.sizes())));
    }
    return it->second;
  };
  auto& state = optimizer_->adamw().state();
  state.clear();
  for (auto& [name, p] : NamedTrainable()) {
    CRUCIBLE_ASSIGN_OR_RETURN(torch::Tensor value, get(name, p));
    p.copy_(value);
    if (scalars.adam_step == 0) continue;
    CRUCIBLE_ASSIGN_OR_RETURN(torch::Tensor m, get("adam.exp_avg." + name, p));
    CRUCIBLE_ASSIGN_OR_RETURN(torch::Tensor v, get("adam.exp_avg_sq." + name, p));
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(scalars.adam_step);
    s->exp_avg(m.to(p.device(), p.scalar_type()).clone());
    s->exp_avg_sq(v.to(p.device(), p.scalar_type()).clone());
    state[c10::guts::to_string(p.unsafeGetTensorImpl())] = std::move(s);
  }
  auto rng = tensors.find("rng.cpu");
  if (rng != tensors.end()) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle to the default
    generator.set_state(rng->second.clone());
  }
  optimizer_->set_step(scalars.step);
  order_.set_consumed(scalars.consumed);
  kl_.set_value(scalars.kl_coef);
  return absl::OkStatus();
}

}  // namespace crucible::learner
