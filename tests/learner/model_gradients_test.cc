// Every objective on a tiny LoRA model: its gradient with respect to trainable parameters
// (LoRA B matrices, head weights) against central finite differences, and one SGD step in
// its direction moves the model the way the objective says (the higher-advantage or
// preferred sequence gains log-probability, the observed outcome gains probability).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "common/model/checkpoint.h"
#include "common/model/heads.h"
#include "common/model/sampler.h"
#include "learner/objectives.h"

namespace crucible::learner {
namespace {

using model::CausalLm;
using model::PromptCompletion;

model::ModelConfig TinyConfig() {
  model::ModelConfig c;
  c.vocab_size = 31;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  c.initializer_range = 0.3;
  return c;
}

struct Fixture {
  CausalLm model = model::RandomCausalLm(TinyConfig(), model::ModelOptions{}, 3);
  std::vector<torch::Tensor> lora_b;
  Fixture() {
    model::LoraConfig lora;
    lora.settings.rank = 2;
    lora.settings.alpha = 4;
    REQUIRE(model::AttachLora(model, lora, 5).ok());
    torch::NoGradGuard no_grad;
    torch::manual_seed(11);
    for (auto& [name, linear] : model->LinearLayers()) {
      if (!linear->has_lora()) continue;
      linear->lora_B.normal_(0, 0.2);  // non-zero, so gradients reach every factor
      lora_b.push_back(linear->lora_B);
    }
  }
  // Two completions of one prompt: index 0 and 1 of every pair-shaped objective.
  std::vector<PromptCompletion> pairs = {{{1, 2, 3}, {4, 5, 6, 7}}, {{1, 2, 3}, {8, 9, 10}}};
  std::pair<torch::Tensor, torch::Tensor> LogProbs() {
    auto rows = model::CompletionLogProbs(model, pairs);
    REQUIRE(rows.ok());
    return PadTokens(*rows);
  }
  double SequenceLogProb(int i) {
    torch::NoGradGuard no_grad;
    auto [logp, mask] = LogProbs();
    return SequenceSum(logp, mask)[i].item<double>();
  }
};

// Gradient of loss() with respect to a few elements of `param`, against central differences.
void CheckParameterGradient(const std::function<torch::Tensor()>& loss, torch::Tensor param, double eps = 1e-2) {
  param.mutable_grad() = torch::Tensor();
  loss().backward();
  const torch::Tensor grad = param.grad().clone();
  REQUIRE(grad.abs().max().item<double>() > 1e-4);  // a real gradient, not a trivially matching zero
  torch::NoGradGuard no_grad;
  torch::Tensor flat = param.view(-1);
  for (int64_t i : {int64_t{0}, flat.numel() / 2, flat.numel() - 1}) {
    const float saved = flat[i].item<float>();
    flat[i] = saved + eps;
    const double up = loss().item<double>();
    flat[i] = saved - eps;
    const double down = loss().item<double>();
    flat[i] = saved;
    const double numeric = (up - down) / (2 * eps), analytic = grad.view(-1)[i].item<double>();
    INFO("element " << i << ": autograd " << analytic << ", finite differences " << numeric);
    CHECK(std::abs(analytic - numeric) <= 2e-3 + 2e-2 * std::abs(numeric));
  }
}

// One plain gradient step on every trainable parameter.
void Step(const torch::Tensor& loss, std::vector<torch::Tensor> params, double lr) {
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  loss.backward();
  torch::NoGradGuard no_grad;
  for (auto& p : params) {
    if (p.grad().defined()) p.sub_(lr * p.grad());
  }
}

TEST_CASE("policy objectives: gradients match finite differences on a tiny model", "[learner][gradcheck]") {
  Fixture f;
  const torch::Tensor param = f.lora_b[1];
  auto [logp0, mask] = f.LogProbs();
  const torch::Tensor old = (logp0.detach() + 0.05 * torch::randn_like(logp0)) * mask;
  const torch::Tensor adv = torch::tensor({{0.8, -0.2, 0.5, 1.0}, {-1.0, 0.3, -0.4, 0.0}});
  std::vector<std::pair<std::string, std::function<torch::Tensor()>>> objectives = {
      {"sft", [&] { auto [l, m] = f.LogProbs(); return SftLoss(l, m); }},
      {"rest-em", [&] { auto [l, m] = f.LogProbs(); return WeightedSftLoss(l, m, torch::tensor({1.0f, 0.25f})); }},
      {"ppo", [&] {
         auto [l, m] = f.LogProbs();
         return PpoLoss(l, old, adv, torch::Tensor(), torch::Tensor(), torch::Tensor(), m, torch::Tensor(), PpoOptions{})
             .loss;
       }},
      {"ppo-kl-k3", [&] {
         auto [l, m] = f.LogProbs();
         return MaskedMean(KlPenalty(l, old, KlEstimator::kK3), m);
       }},
      {"coderl", [&] {
         auto [l, m] = f.LogProbs();
         return CodeRlLoss(l, m, torch::tensor({1.0f, -0.6f}), torch::tensor({-0.3f, -0.3f}),
                           torch::full_like(l, 0.7), l.narrow(0, 0, 1), m.narrow(0, 0, 1)).loss;
       }},
      {"dpo", [&] {
         auto [l, m] = f.LogProbs();
         const torch::Tensor s = SequenceSum(l, m);
         return DpoLoss(s.narrow(0, 0, 1), s.narrow(0, 1, 1), torch::tensor({-9.0f}), torch::tensor({-8.0f}), 0.5);
       }},
      {"orpo", [&] {
         auto [l, m] = f.LogProbs();
         const torch::Tensor s = SequenceMean(l, m);
         return OrpoLoss(s.narrow(0, 0, 1), s.narrow(0, 1, 1), 0.1).loss;
       }},
  };
  for (auto& [name, loss] : objectives) {
    INFO(name);
    CheckParameterGradient(loss, param);
  }
}

TEST_CASE("policy objectives: one step raises the log-prob of the favoured sequence", "[learner][direction]") {
  const auto params_of = [](Fixture& f) { return f.model->TrainableParameters(); };
  auto check = [&](const std::string& name, const std::function<torch::Tensor(Fixture&)>& loss) {
    INFO(name);
    Fixture f;
    const double before = f.SequenceLogProb(0) - f.SequenceLogProb(1);
    Step(loss(f), params_of(f), 0.05);
    const double after = f.SequenceLogProb(0) - f.SequenceLogProb(1);
    CHECK(after > before);
  };
  check("ppo, advantages +1 / -1", [](Fixture& f) {
    auto [l, m] = f.LogProbs();
    const torch::Tensor adv = torch::stack({torch::ones({l.size(1)}), -torch::ones({l.size(1)})}) * m;
    return PpoLoss(l, l.detach(), adv, torch::Tensor(), torch::Tensor(), torch::Tensor(), m, torch::Tensor(),
                   PpoOptions{}).loss;
  });
  check("ppo with rloo advantages", [](Fixture& f) {
    auto [l, m] = f.LogProbs();
    const torch::Tensor a = RlooAdvantages(torch::tensor({1.0f, -0.3f}), torch::tensor({0, 0}));
    return PpoLoss(l, l.detach(), a.unsqueeze(1) * m, torch::Tensor(), torch::Tensor(), torch::Tensor(), m,
                   torch::Tensor(), PpoOptions{}).loss;
  });
  check("ppo with grpo advantages", [](Fixture& f) {
    auto [l, m] = f.LogProbs();
    const torch::Tensor a = GrpoAdvantages(torch::tensor({1.0f, -1.0f}), torch::tensor({0, 0}));
    return PpoLoss(l, l.detach(), a.unsqueeze(1) * m, torch::Tensor(), torch::Tensor(), torch::Tensor(), m,
                   torch::Tensor(), PpoOptions{}).loss;
  });
  check("coderl, sample 0 beats the greedy baseline, sample 1 does not", [](Fixture& f) {
    auto [l, m] = f.LogProbs();
    return CodeRlLoss(l, m, torch::tensor({1.0f, -0.6f}), torch::tensor({-0.3f, -0.3f}), torch::Tensor(),
                      torch::Tensor(), torch::Tensor()).loss;
  });
  check("dpo, 0 preferred", [](Fixture& f) {
    auto [l, m] = f.LogProbs();
    const torch::Tensor s = SequenceSum(l, m), ref = s.detach();
    return DpoLoss(s.narrow(0, 0, 1), s.narrow(0, 1, 1), ref.narrow(0, 0, 1), ref.narrow(0, 1, 1), 1.0);
  });
  check("orpo, 0 preferred", [](Fixture& f) {
    auto [l, m] = f.LogProbs();
    const torch::Tensor s = SequenceMean(l, m);
    return OrpoLoss(s.narrow(0, 0, 1), s.narrow(0, 1, 1), 1.0).odds_ratio_loss;
  });
  check("rest-em, only the passed program 0 is imitated", [](Fixture& f) {
    auto [l, m] = f.LogProbs();
    return WeightedSftLoss(l, m, RestEmWeights(torch::tensor({1.0f, -0.3f})));
  });
}

TEST_CASE("reward model and critic heads: gradients and direction", "[learner][gradcheck][direction]") {
  Fixture f;
  torch::Tensor hidden;
  {
    torch::NoGradGuard no_grad;
    model::ForwardArgs args;
    args.input_ids = torch::tensor({{1, 2, 3, 4, 5}, {1, 2, 3, 8, 9}});
    args.positions = torch::arange(5).unsqueeze(0).expand({2, 5});
    hidden = f.model->Hidden(args);
  }
  const torch::Tensor last = torch::tensor({4, 4});
  model::RewardHead rm(16, torch::kCPU);
  auto rm_loss = [&] {
    const torch::Tensor r = rm(hidden, last);
    return BradleyTerryLoss(r.narrow(0, 0, 1), r.narrow(0, 1, 1));
  };
  CheckParameterGradient(rm_loss, rm->score->weight, 1e-3);
  auto margin = [&] {
    torch::NoGradGuard no_grad;
    const torch::Tensor r = rm(hidden, last);
    return (r[0] - r[1]).item<double>();
  };
  const double before = margin();
  Step(rm_loss(), rm->parameters(), 0.1);
  CHECK(margin() > before);

  model::OutcomeHead critic(16, torch::kCPU);
  const torch::Tensor program = torch::tensor({{false, false, true, true, true}, {false, false, true, true, true}});
  const torch::Tensor outcomes = torch::tensor({kPassed, kRuntimeError});
  auto critic_loss = [&] { return CriticLoss(critic->SequenceLogits(critic->TokenLogits(hidden), program), outcomes); };
  CheckParameterGradient(critic_loss, critic->score->weight, 1e-3);
  auto observed = [&] {
    torch::NoGradGuard no_grad;
    const torch::Tensor p = torch::softmax(critic->SequenceLogits(critic->TokenLogits(hidden), program), -1);
    return p[0][kPassed].item<double>() + p[1][kRuntimeError].item<double>();
  };
  const double p_before = observed();
  Step(critic_loss(), critic->parameters(), 0.1);
  CHECK(observed() > p_before);
  const torch::Tensor q = CriticTokenWeights(critic->TokenLogits(hidden), outcomes);
  CHECK(q.sizes() == torch::IntArrayRef({2, 5}));
  CHECK(q.min().item<float>() > 0);
  CHECK(q.max().item<float>() < 1);
}

}  // namespace
}  // namespace crucible::learner
