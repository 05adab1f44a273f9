// Optimisation for the learner: AdamW (decoupled weight decay) over the trainable
// parameters only (LoRA factors and heads; the base stays frozen), linear warm-up then
// cosine decay, gradient accumulation over micro-batches, global gradient-norm clipping,
// and micro-batching by a token budget so that long sequences fit.
#ifndef CRUCIBLE_LEARNER_OPTIMIZER_H_
#define CRUCIBLE_LEARNER_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/model/torch.h"
#include "learner/communicator.h"

namespace crucible::learner {

// Hugging Face's get_cosine_schedule_with_warmup, with an optional floor: the multiplier
// of the base learning rate at optimizer step `step` (0-based, the step about to be taken)
// is step / warmup during warm-up, then decays from 1 to min_ratio along half a cosine
// over the remaining steps, and stays at min_ratio after total_steps.
struct LrSchedule {
  double base_lr = 1.4e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_ratio = 0.0;
  double At(int64_t step) const;
};

struct OptimizerOptions {
  LrSchedule schedule;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;  // <= 0: no clipping
};

// One optimizer step = gradients accumulated over any number of micro-batches (each loss
// scaled by its share of the batch by the caller), then Step().
class Optimizer {
 public:
  Optimizer(std::vector<torch::Tensor> params, OptimizerOptions options);
  // Adds loss's gradients to the accumulated ones.
  void Accumulate(const torch::Tensor& loss);
  struct StepInfo {
    double lr = 0;
    double grad_norm = 0;  // before clipping
  };
  // Data parallelism: sums the accumulated gradients over the communicator's ranks (each
  // rank's losses already scaled by their share of the global batch), before Step() clips.
  absl::Status ReduceGradients(Communicator& comm, absl::Duration timeout);
  // Clips, applies AdamW at the scheduled rate, zeroes the gradients, advances the step.
  StepInfo Step();
  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }
  torch::optim::AdamW& adamw() { return *adamw_; }
  const std::vector<torch::Tensor>& params() const { return params_; }

 private:
  std::vector<torch::Tensor> params_;
  OptimizerOptions options_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
  int64_t step_ = 0;
};

// Splits sequences (by index, lengths in tokens) into micro-batches whose padded size
// (rows x longest row) stays within max_tokens; a longer sequence goes alone. Sequences
// are grouped in order of decreasing length, so padding is small; the result is
// deterministic.
std::vector<std::vector<int64_t>> TokenBudgetBatches(const std::vector<int64_t>& lengths, int64_t max_tokens);

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_OPTIMIZER_H_
