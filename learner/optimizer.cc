#include "learner/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace crucible::learner {

double LrSchedule::At(int64_t step) const {
  if (step < warmup_steps) return base_lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return base_lr * (min_ratio + (1.0 - min_ratio) * cosine);
}

Optimizer::Optimizer(std::vector<torch::Tensor> params, OptimizerOptions options)
    : params_(std::move(params)), options_(options) {
  torch::optim::AdamWOptions o(options_.schedule.At(0));
  o.betas({options_.beta1, options_.beta2}).eps(options_.eps).weight_decay(options_.weight_decay);
  adamw_ = std::make_unique<torch::optim::AdamW>(params_, o);
}

void Optimizer::Accumulate(const torch::Tensor& loss) { loss.backward(); }

absl::Status Optimizer::ReduceGradients(Communicator& comm, absl::Duration timeout) {
  if (comm.size() == 1) return absl::OkStatus();
  std::vector<torch::Tensor> grads;
  grads.reserve(params_.size());
  for (torch::Tensor& p : params_) {
    // A parameter no loss reached on this rank still takes part, with zeros.
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  return AllReduceTensors(comm, grads, ReduceOp::kSum, timeout);
}

Optimizer::StepInfo Optimizer::Step() {
  StepInfo info;
  info.lr = options_.schedule.At(step_);
  {
    torch::NoGradGuard no_grad;
    double sq = 0;
    for (const torch::Tensor& p : params_) {
      if (p.grad().defined()) sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    }
    info.grad_norm = std::sqrt(sq);
    if (options_.max_grad_norm > 0 && info.grad_norm > options_.max_grad_norm) {
      const double scale = options_.max_grad_norm / (info.grad_norm + 1e-6);
      for (const torch::Tensor& p : params_) {
        if (p.grad().defined()) p.mutable_grad().mul_(scale);
      }
    }
  }
  for (auto& group : adamw_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(info.lr);
  }
  adamw_->step();
  adamw_->zero_grad();
  ++step_;
  return info;
}

std::vector<std::vector<int64_t>> TokenBudgetBatches(const std::vector<int64_t>& lengths, int64_t max_tokens) {
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<int64_t>> batches;
  int64_t longest = 0;
  for (int64_t i : order) {
    // Sorted descending: the first row of a batch is its longest.
    if (batches.empty() || static_cast<int64_t>(batches.back().size() + 1) * longest > max_tokens) {
      batches.emplace_back();
      longest = std::max<int64_t>(1, lengths[i]);
    }
    batches.back().push_back(i);
  }
  return batches;
}

}  // namespace crucible::learner
