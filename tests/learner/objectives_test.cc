// The objectives on numbers worked by hand (see the comments for the arithmetic), their
// gradients against central finite differences in float64, and their behaviour at the
// edges (empty masks, groups of one, clipping on both sides).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "learner/objectives.h"

namespace crucible::learner {
namespace {

using Catch::Matchers::WithinAbs;

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

torch::Tensor T(std::vector<double> v) { return torch::tensor(v, kF64); }
torch::Tensor T2(std::vector<std::vector<double>> rows) {
  std::vector<torch::Tensor> out;
  for (auto& r : rows) out.push_back(T(r));
  return torch::stack(out);
}
double D(const torch::Tensor& t) { return t.item<double>(); }

// Autograd's gradient of f at x against central differences, every element.
void CheckGradient(const std::function<torch::Tensor(const torch::Tensor&)>& f, torch::Tensor x,
                   double eps = 1e-6, double tolerance = 1e-6) {
  x = x.detach().clone().set_requires_grad(true);
  torch::Tensor analytic = torch::autograd::grad({f(x)}, {x})[0];
  torch::Tensor flat = x.detach().clone().view(-1);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double saved = flat[i].item<double>();
    flat[i] = saved + eps;
    const double up = D(f(flat.view(x.sizes())));
    flat[i] = saved - eps;
    const double down = D(f(flat.view(x.sizes())));
    flat[i] = saved;
    INFO("element " << i);
    CHECK_THAT(analytic.view(-1)[i].item<double>(), WithinAbs((up - down) / (2 * eps), tolerance));
  }
}

TEST_CASE("masked statistics and whitening", "[learner][objectives]") {
  const torch::Tensor x = T2({{1, 2, 3}, {4, 100, 100}});
  const torch::Tensor mask = T2({{1, 1, 1}, {1, 0, 0}});
  CHECK_THAT(D(MaskedMean(x, mask)), WithinAbs(2.5, 1e-12));
  // Deviations -1.5 -0.5 0.5 1.5: squares sum to 5, unbiased variance 5/3.
  CHECK_THAT(D(MaskedVariance(x, mask)), WithinAbs(5.0 / 3.0, 1e-12));
  const torch::Tensor w = MaskedWhiten(x, mask);
  CHECK_THAT(D(w[0][0]), WithinAbs(-1.5 / std::sqrt(5.0 / 3.0 + 1e-8), 1e-9));
  CHECK(D(w[1][1]) == 0.0);  // masked out
  CHECK_THAT(D(MaskedMean(w, mask)), WithinAbs(0.0, 1e-12));
  CHECK(D(MaskedMean(x, torch::zeros_like(mask))) == 0.0);  // empty mask: 0, not NaN
  // Entropy: uniform over 4 is log 4; a one-hot-ish row is near 0.
  const torch::Tensor logits = torch::stack({torch::zeros({4}, kF64), T({100, 0, 0, 0})}).unsqueeze(0);
  const torch::Tensor h = TokenEntropy(logits);
  CHECK_THAT(D(h[0][0]), WithinAbs(std::log(4.0), 1e-6));
  CHECK(D(h[0][1]) < 1e-6);
}

TEST_CASE("SFT, reward-weighted SFT and the ReST-EM filter", "[learner][objectives]") {
  const torch::Tensor logp = T2({{-1, -2, -3}, {-4, 9, 9}});
  const torch::Tensor mask = T2({{1, 1, 1}, {1, 0, 0}});
  CHECK_THAT(D(SftLoss(logp, mask)), WithinAbs(10.0 / 4.0, 1e-12));
  // 2 * (1 + 2 + 3) + 0.5 * 4 = 14 over 2 * 3 + 0.5 * 1 = 6.5 tokens' weight.
  CHECK_THAT(D(WeightedSftLoss(logp, mask, T({2, 0.5}))), WithinAbs(14.0 / 6.5, 1e-12));
  CHECK(torch::equal(RestEmWeights(T({1, -0.3, 1, -1})), T({1, 0, 1, 0})));
  CheckGradient([&](const torch::Tensor& x) { return WeightedSftLoss(x, mask, T({2, 0.5})); }, logp);
}

TEST_CASE("KL estimators k1 and k3", "[learner][objectives]") {
  const torch::Tensor logp = T({-1, -2, -0.5}), ref = T({-2, -1, -0.5});
  const torch::Tensor k1 = KlPenalty(logp, ref, KlEstimator::kK1), k3 = KlPenalty(logp, ref, KlEstimator::kK3);
  CHECK_THAT(D(k1[0]), WithinAbs(1.0, 1e-12));
  CHECK_THAT(D(k1[1]), WithinAbs(-1.0, 1e-12));
  CHECK_THAT(D(k3[0]), WithinAbs(std::exp(-1.0) + 1.0 - 1.0, 1e-12));  // r - log r - 1, r = e^-1
  CHECK_THAT(D(k3[1]), WithinAbs(std::exp(1.0) - 1.0 - 1.0, 1e-12));
  CHECK(D(k3[2]) == 0.0);
  CHECK(D(k3.min()) >= 0.0);
  // Both are unbiased for KL(p || ref) under samples of p: check on a categorical.
  const torch::Tensor p = T({0.5, 0.3, 0.2}), q = T({0.2, 0.3, 0.5});
  const double kl = D((p * (p.log() - q.log())).sum());
  const torch::Tensor k3_all = KlPenalty(p.log(), q.log(), KlEstimator::kK3);
  CHECK_THAT(D((p * k3_all).sum()), WithinAbs(kl, 1e-12));
}

TEST_CASE("per-token rewards put the verdict at the last real token", "[learner][objectives]") {
  const torch::Tensor kl = T2({{0.1, 0.2, 0.3}, {0.5, 0.7, 0.9}, {1, 1, 1}});
  const torch::Tensor mask = T2({{1, 1, 1}, {1, 1, 0}, {0, 0, 0}});
  const torch::Tensor r = TokenRewards(kl, mask, T({1, -0.3, 5}), 0.5);
  const torch::Tensor expected = T2({{-0.05, -0.1, -0.15 + 1}, {-0.25, -0.35 - 0.3, 0}, {0, 0, 0}});
  CHECK(torch::allclose(r, expected, 1e-12, 1e-12));
}

TEST_CASE("GAE on a hand-worked trajectory", "[learner][objectives]") {
  const torch::Tensor rewards = T2({{0, 0, 1}, {0, -0.3, 99}});
  const torch::Tensor values = T2({{0.5, 0.6, 0.7}, {0.2, 0.1, 5}});
  const torch::Tensor mask = T2({{1, 1, 1}, {1, 1, 0}});
  const Gae g = ComputeGae(rewards, values, mask, 0.9, 0.8);
  // Row 0: delta = (0.04, 0.03, 0.3); A2 = 0.3, A1 = 0.03 + 0.72 * 0.3 = 0.246,
  // A0 = 0.04 + 0.72 * 0.246 = 0.21712. Row 1 ends at t = 1: delta1 = -0.3 - 0.1 = -0.4,
  // delta0 = 0.9 * 0.1 - 0.2 = -0.11, A0 = -0.11 + 0.72 * -0.4 = -0.398.
  CHECK(torch::allclose(g.advantages, T2({{0.21712, 0.246, 0.3}, {-0.398, -0.4, 0}}), 1e-12, 1e-12));
  CHECK(torch::allclose(g.returns, T2({{0.71712, 0.846, 1.0}, {-0.198, -0.3, 0}}), 1e-12, 1e-12));
  // lambda = 1, gamma = 1: advantages are the reward-to-go minus the value.
  const Gae mc = ComputeGae(rewards, values, mask, 1.0, 1.0);
  CHECK(torch::allclose(mc.returns, T2({{1, 1, 1}, {-0.3, -0.3, 0}}), 1e-12, 1e-12));
}

TEST_CASE("PPO: clipped surrogate, clipped value loss, entropy and diagnostics", "[learner][objectives]") {
  const torch::Tensor mask = T2({{1, 1}});
  const torch::Tensor old = T2({{0, 0}});
  const torch::Tensor logp = T2({{std::log(1.5), std::log(0.5)}});  // ratios 1.5 and 0.5
  PpoOptions o;
  o.clip_range = 0.2;
  o.clip_range_value = 0.2;
  o.value_coef = 0.1;
  o.entropy_coef = 0.01;
  const torch::Tensor values = T2({{1.0, 0.0}}), old_values = T2({{0.5, 0.5}}), returns = T2({{2.0, 0.0}});
  SECTION("positive advantage: the ratio is capped at 1 + eps") {
    // max(-1.5, -1.2) = -1.2 and max(-0.5, -0.8) = -0.5: mean -0.85; one token clipped.
    PpoTerms t = PpoLoss(logp, old, T2({{1, 1}}), values, old_values, returns, mask, T2({{2, 4}}), o);
    CHECK_THAT(D(t.policy_loss), WithinAbs(-0.85, 1e-12));
    CHECK_THAT(D(t.clip_fraction), WithinAbs(0.5, 1e-12));
    // Clipped values 0.7 and 0.3: squared errors max(1, 1.69) and max(0, 0.09): 0.5 * 0.89.
    CHECK_THAT(D(t.value_loss), WithinAbs(0.445, 1e-12));
    CHECK_THAT(D(t.entropy), WithinAbs(3.0, 1e-12));
    CHECK_THAT(D(t.loss), WithinAbs(-0.85 + 0.0445 - 0.03, 1e-12));
    const double l1 = std::log(1.5), l2 = std::log(0.5);
    CHECK_THAT(D(t.approx_kl), WithinAbs(0.25 * (l1 * l1 + l2 * l2), 1e-12));
  }
  SECTION("negative advantage: the ratio is floored at 1 - eps") {
    // max(1.5, 1.2) = 1.5 and max(0.5, 0.8) = 0.8: mean 1.15.
    PpoTerms t = PpoLoss(logp, old, T2({{-1, -1}}), values, old_values, returns, mask, torch::Tensor(), o);
    CHECK_THAT(D(t.policy_loss), WithinAbs(1.15, 1e-12));
    CHECK(D(t.entropy) == 0.0);
  }
  SECTION("gradients match finite differences") {
    const torch::Tensor adv = T2({{0.7, -1.3}}), near = T2({{0.05, -0.1}});  // ratios inside the clip
    CheckGradient([&](const torch::Tensor& x) {
      return PpoLoss(x, old, adv, values, old_values, returns, mask, torch::Tensor(), o).loss;
    }, near);
    CheckGradient([&](const torch::Tensor& v) {
      return PpoLoss(near, old, adv, v, old_values, returns, mask, torch::Tensor(), o).loss;
    }, T2({{0.55, 0.6}}));
    // Outside the clip the surrogate is flat in the ratio: zero gradient.
    torch::Tensor x = logp.clone().set_requires_grad(true);
    torch::Tensor g = torch::autograd::grad({PpoLoss(x, old, T2({{1, 1}}), values, old_values, returns, mask,
                                                     torch::Tensor(), o).policy_loss}, {x})[0];
    CHECK(D(g[0][0]) == 0.0);
    CHECK(D(g[0][1]) != 0.0);
  }
}

TEST_CASE("decoupled PPO: clipped against the proximal policy, weighted by the truncated behaviour ratio",
          "[learner][objectives]") {
  // Three tokens. Proximal log-probs log(0.5), log(0.4), log(0.2); behaviour (the actor's,
  // an older version) log(0.25), log(0.4), log(0.5): raw weights pi_prox / mu = 2.0, 1.0,
  // 0.4; with C = 1.5 the first is truncated to 1.5: weights (1.5, 1, 0.4), mean 2.9 / 3,
  // max 1.5, one of three truncated.
  const torch::Tensor mask = T2({{1, 1, 1}});
  const torch::Tensor prox = T2({{std::log(0.5), std::log(0.4), std::log(0.2)}});
  const torch::Tensor mu = T2({{std::log(0.25), std::log(0.4), std::log(0.5)}});
  const torch::Tensor w = BehaviourWeights(prox, mu, 1.5);
  CHECK(torch::allclose(w, T2({{1.5, 1.0, 0.4}}), 1e-12, 1e-12));
  const BehaviourWeightStats stats = SummariseBehaviourWeights(prox, mu, mask, 1.5);
  CHECK_THAT(stats.mean, WithinAbs(2.9 / 3, 1e-12));
  CHECK_THAT(stats.max, WithinAbs(1.5, 1e-12));
  CHECK_THAT(stats.truncated_fraction, WithinAbs(1.0 / 3, 1e-12));

  // Current policy: ratios to the proximal policy 1.5, 0.9, 1.0 (the first clipped at 1.2
  // for a positive advantage). Advantages (1, 1, -2):
  //   token 0: max(-1.5, -1.2) = -1.2, times 1.5 = -1.8
  //   token 1: max(-0.9, -0.9) = -0.9, times 1.0 = -0.9
  //   token 2: max(2.0, 2.0)  =  2.0, times 0.4 =  0.8
  // mean (-1.8 - 0.9 + 0.8) / 3 = -1.9 / 3.
  PpoOptions o;
  o.clip_range = 0.2;
  const torch::Tensor logp = prox + T2({{std::log(1.5), std::log(0.9), 0.0}});
  const torch::Tensor adv = T2({{1, 1, -2}});
  PpoTerms t = PpoLoss(logp, prox, adv, torch::Tensor(), torch::Tensor(), torch::Tensor(), mask, torch::Tensor(), o, w);
  CHECK_THAT(D(t.policy_loss), WithinAbs(-1.9 / 3, 1e-12));
  // With the behaviour policy as the proximal one every weight is 1: the plain objective.
  const torch::Tensor ones = BehaviourWeights(mu, mu, 2.0);
  CHECK(torch::allclose(ones, T2({{1, 1, 1}}), 0, 0));
  PpoTerms plain = PpoLoss(logp, mu, adv, torch::Tensor(), torch::Tensor(), torch::Tensor(), mask, torch::Tensor(), o);
  PpoTerms same = PpoLoss(logp, mu, adv, torch::Tensor(), torch::Tensor(), torch::Tensor(), mask, torch::Tensor(), o, ones);
  CHECK(D(plain.policy_loss) == D(same.policy_loss));
  // The weight scales the gradient of each token: d loss / d logp_0 is 0 (clipped), token 1
  // gets -0.9 * 1.0 / 3, token 2 gets 2 * 1.0 * 0.4 / 3 (ratio 1, not clipped).
  torch::Tensor x = logp.clone().set_requires_grad(true);
  torch::Tensor g = torch::autograd::grad(
      {PpoLoss(x, prox, adv, torch::Tensor(), torch::Tensor(), torch::Tensor(), mask, torch::Tensor(), o, w).loss},
      {x})[0];
  CHECK_THAT(D(g[0][0]), WithinAbs(0.0, 1e-12));
  CHECK_THAT(D(g[0][1]), WithinAbs(-0.9 / 3, 1e-12));
  CHECK_THAT(D(g[0][2]), WithinAbs(0.8 / 3, 1e-12));
}

TEST_CASE("the adaptive KL controller moves toward its target, at most 20% per horizon", "[learner][objectives]") {
  AdaptiveKlController c(0.2, 6.0, 10000);
  c.Update(9.0, 256);  // error 0.5 clipped to 0.2
  CHECK_THAT(c.value(), WithinAbs(0.2 * (1 + 0.2 * 256 / 10000.0), 1e-15));
  const double before = c.value();
  c.Update(4.5, 256);  // error -0.25 clipped to -0.2
  CHECK_THAT(c.value(), WithinAbs(before * (1 - 0.2 * 256 / 10000.0), 1e-15));
  const double at_target = c.value();
  c.Update(6.0, 256);
  CHECK(c.value() == at_target);
}

TEST_CASE("group baselines: RLOO and GRPO advantages", "[learner][objectives]") {
  const torch::Tensor rewards = T({1, 0, -1, 0.5, 2, 2});
  const torch::Tensor groups = torch::tensor({7, 7, 7, 3, 9, 9});
  // Group 7: the others' means are -0.5, 0 and 0.5. Group 3 has one sample; group 9 ties.
  CHECK(torch::allclose(RlooAdvantages(rewards, groups), T({1.5, 0, -1.5, 0, 0, 0}), 1e-12, 1e-12));
  // Group 7: mean 0, unbiased std 1.
  const double eps = 1e-4;
  CHECK(torch::allclose(GrpoAdvantages(rewards, groups, eps), T({1 / (1 + eps), 0, -1 / (1 + eps), 0, 0, 0}), 1e-12,
                        1e-12));
}

TEST_CASE("CodeRL: critic weights, critic loss and the baseline-relative policy gradient", "[learner][objectives]") {
  // Token logits (0, 0, 0, ln 3): probabilities (1/6, 1/6, 1/6, 1/2).
  const torch::Tensor token_logits = T({0, 0, 0, std::log(3.0)}).view({1, 1, 4}).expand({2, 1, 4});
  const torch::Tensor q = CriticTokenWeights(token_logits, torch::tensor({kPassed, kCompileError}));
  CHECK_THAT(D(q[0][0]), WithinAbs(0.5, 1e-7));
  CHECK_THAT(D(q[1][0]), WithinAbs(1.0 / 6.0, 1e-7));
  CHECK_THAT(D(CriticLoss(T2({{0, 0, 0, std::log(3.0)}}), torch::tensor({kPassed}))), WithinAbs(std::log(2.0), 1e-7));

  const torch::Tensor logp = T2({{-1, -2}, {-0.5, 0}}), mask = T2({{1, 1}, {1, 0}});
  const torch::Tensor sample = T({1.0, -0.6}), baseline = T({-0.3, -0.3});
  const torch::Tensor weights = T2({{0.5, 1}, {0.2, 9}});
  // Relative returns 1.3 and -0.3: 1.3 * (0.5 * -1 + 1 * -2) - 0.3 * (0.2 * -0.5) = -3.22,
  // over 3 tokens; the ground truth's CE is 1.
  CodeRlTerms t = CodeRlLoss(logp, mask, sample, baseline, weights, T2({{-1, -1}}), T2({{1, 1}}));
  CHECK_THAT(D(t.rl), WithinAbs(3.22 / 3, 1e-12));
  CHECK_THAT(D(t.ce), WithinAbs(1.0, 1e-12));
  CHECK_THAT(D(t.loss), WithinAbs(3.22 / 3 + 1, 1e-12));
  // A sample no better than the greedy baseline gets no gradient.
  torch::Tensor x = logp.clone().set_requires_grad(true);
  CodeRlTerms same = CodeRlLoss(x, mask, baseline, baseline, weights, torch::Tensor(), torch::Tensor());
  CHECK(D(torch::autograd::grad({same.loss}, {x})[0].abs().sum()) == 0.0);
  CheckGradient([&](const torch::Tensor& y) {
    return CodeRlLoss(y, mask, sample, baseline, weights, T2({{-1, -1}}), T2({{1, 1}})).loss;
  }, logp);
}

TEST_CASE("preferences: Bradley-Terry, DPO and ORPO", "[learner][objectives]") {
  CHECK_THAT(D(BradleyTerryLoss(T({2}), T({0}))), WithinAbs(std::log1p(std::exp(-2.0)), 1e-12));
  // Margin (−1 − −2) − (−3 − −2) = 2; beta 0.5: -log sigmoid(1).
  CHECK_THAT(D(DpoLoss(T({-1}), T({-3}), T({-2}), T({-2}), 0.5)), WithinAbs(std::log1p(std::exp(-1.0)), 1e-12));
  // Chosen mean prob 0.5 (odds 1), rejected 0.25 (odds 1/3): log odds ratio ln 3, and
  // -log sigmoid(ln 3) = ln(4/3); NLL ln 2.
  OrpoTerms o = OrpoLoss(T({std::log(0.5)}), T({std::log(0.25)}), 0.1);
  CHECK_THAT(D(o.nll), WithinAbs(std::log(2.0), 1e-12));
  CHECK_THAT(D(o.odds_ratio_loss), WithinAbs(std::log(4.0 / 3.0), 1e-12));
  CHECK_THAT(D(o.loss), WithinAbs(std::log(2.0) + 0.1 * std::log(4.0 / 3.0), 1e-12));
  CheckGradient([](const torch::Tensor& x) { return BradleyTerryLoss(x.narrow(0, 0, 2), x.narrow(0, 2, 2)); },
                T({0.3, -1, 2, 0.5}));
  CheckGradient([](const torch::Tensor& x) {
    return DpoLoss(x.narrow(0, 0, 2), x.narrow(0, 2, 2), T({-2, -3}), T({-1, -4}), 0.7);
  }, T({-1.5, -2, -2.5, -3}));
  CheckGradient([](const torch::Tensor& x) { return OrpoLoss(x.narrow(0, 0, 2), x.narrow(0, 2, 2), 0.1).loss; },
                T({-0.7, -1.2, -1.5, -0.9}));
}

}  // namespace
}  // namespace crucible::learner
