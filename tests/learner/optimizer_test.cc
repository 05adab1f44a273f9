// The schedule, AdamW and clipping on hand-worked numbers; accumulation over micro-batches
// equals one full batch; token-budget batching respects its budget.
#include <catch2/catch.hpp>

#include <cmath>

#include "learner/optimizer.h"

namespace crucible::learner {
namespace {

using Catch::Matchers::WithinAbs;

TEST_CASE("warm-up then cosine decay", "[learner][optimizer]") {
  LrSchedule s{1.0, 10, 110, 0.0};
  CHECK(s.At(0) == 0.0);
  CHECK_THAT(s.At(5), WithinAbs(0.5, 1e-12));
  CHECK_THAT(s.At(10), WithinAbs(1.0, 1e-12));
  CHECK_THAT(s.At(60), WithinAbs(0.5, 1e-12));  // half-way: 0.5 * (1 + cos(pi / 2))
  CHECK_THAT(s.At(110), WithinAbs(0.0, 1e-12));
  CHECK_THAT(s.At(500), WithinAbs(0.0, 1e-12));
  s.min_ratio = 0.1;
  CHECK_THAT(s.At(60), WithinAbs(0.1 + 0.9 * 0.5, 1e-12));
  CHECK_THAT(s.At(110), WithinAbs(0.1, 1e-12));
}

TEST_CASE("AdamW with decoupled weight decay, and global-norm clipping", "[learner][optimizer]") {
  torch::Tensor p = torch::ones({1}, torch::kFloat64).set_requires_grad(true);
  OptimizerOptions o;
  o.schedule = {0.1, 0, 1000, 1.0};  // constant 0.1
  o.weight_decay = 0.01;
  o.max_grad_norm = 0;
  Optimizer opt({p}, o);
  opt.Accumulate((0.5 * p).sum());  // gradient 0.5
  opt.Step();
  // Decay: 1 - 0.1 * 0.01 = 0.999; Adam's first step moves by lr * m^/(sqrt(v^) + eps) = 0.1.
  CHECK_THAT(p.item<double>(), WithinAbs(0.999 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-12));
  CHECK((!p.grad().defined() || p.grad().abs().sum().item<double>() == 0.0));

  torch::Tensor a = torch::zeros({2}, torch::kFloat64).set_requires_grad(true);
  OptimizerOptions c;
  c.schedule = {1e-9, 0, 10, 1.0};
  c.max_grad_norm = 1.0;
  Optimizer clipped({a}, c);
  clipped.Accumulate((a * torch::tensor({3.0, 4.0}, torch::kFloat64)).sum());
  // Step() reports the norm before clipping; the gradient Adam saw was (0.6, 0.8).
  const auto info = clipped.Step();
  CHECK_THAT(info.grad_norm, WithinAbs(5.0, 1e-12));
  auto& state = static_cast<torch::optim::AdamWParamState&>(
      *clipped.adamw().state().at(c10::guts::to_string(a.unsafeGetTensorImpl())));
  CHECK(torch::allclose(state.exp_avg(), 0.1 * torch::tensor({0.6, 0.8}, torch::kFloat64), 1e-6, 1e-9));
}

TEST_CASE("accumulating micro-batches equals one full batch", "[learner][optimizer]") {
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({8, 3}, torch::kFloat64), y = torch::randn({8}, torch::kFloat64);
  auto run = [&](int micro) {
    torch::Tensor w = torch::zeros({3}, torch::kFloat64).set_requires_grad(true);
    OptimizerOptions o;
    o.schedule = {0.05, 2, 10, 0.0};
    o.weight_decay = 0.1;
    Optimizer opt({w}, o);
    for (int step = 0; step < 5; ++step) {
      for (int m = 0; m < micro; ++m) {
        const int64_t n = 8 / micro;
        const torch::Tensor xs = x.narrow(0, m * n, n), ys = y.narrow(0, m * n, n);
        opt.Accumulate((xs.matmul(w) - ys).pow(2).sum() / 8.0);  // each micro-batch's share
      }
      opt.Step();
    }
    return w.detach();
  };
  CHECK(torch::allclose(run(1), run(4), 1e-12, 1e-12));
}

TEST_CASE("token-budget micro-batches", "[learner][optimizer]") {
  const std::vector<int64_t> lengths = {10, 3, 7, 2, 4000, 5};
  const auto batches = TokenBudgetBatches(lengths, 16);
  std::vector<int> seen(lengths.size(), 0);
  for (const auto& b : batches) {
    int64_t longest = 0;
    for (int64_t i : b) longest = std::max(longest, lengths[i]), ++seen[i];
    if (b.size() > 1) CHECK(static_cast<int64_t>(b.size()) * longest <= 16);
  }
  for (int s : seen) CHECK(s == 1);
  REQUIRE(batches.size() == 4);
  CHECK(batches.front() == std::vector<int64_t>({4}));  // too long for the budget: alone
  CHECK(batches[1] == std::vector<int64_t>({0}));     // 10: a second row would cost 20
  CHECK(batches[2] == std::vector<int64_t>({2, 5}));  // 7 + 5: 2 x 7 = 14; a 3 would make 21
  CHECK(batches[3] == std::vector<int64_t>({1, 3}));  // 3 + 2: 2 x 3 = 6
}

}  // namespace
}  // namespace crucible::learner
