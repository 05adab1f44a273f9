// Heads on top of a decoder's final hidden states:
//   ValueHead       per-token scalar values (the PPO critic), v_t = w . h_t + b;
//   OutcomeHead     CodeRL's critic: per-token logits over {compile error, runtime error,
//                   failed test, passed}, and the sequence's logits max-pooled over the
//                   program's tokens;
//   RewardHead      one scalar per sequence, read at its last token (the reward model).
// A head can sit on the policy's backbone (pass its hidden states) or on a backbone of its
// own (the hidden states of any other CausalLm), e.g. a small critic beside a large
// policy. Heads are float32 and trainable; their parameters save to and load from
// safetensors under their own names.
#ifndef CRUCIBLE_COMMON_MODEL_HEADS_H_
#define CRUCIBLE_COMMON_MODEL_HEADS_H_

#include <string>

#include "absl/status/status.h"
#include "common/model/decoder.h"
#include "common/model/torch.h"

namespace crucible::model {

inline constexpr int64_t kOutcomeClasses = 4;  // CE, RE, WA (failed test), OK (passed)

class ValueHeadImpl : public torch::nn::Module {
 public:
  ValueHeadImpl(int64_t hidden_size, torch::Device device);
  torch::Tensor forward(const torch::Tensor& hidden);  // [B, T, H] -> [B, T]
  torch::nn::Linear summary{nullptr};
};
TORCH_MODULE(ValueHead);

class OutcomeHeadImpl : public torch::nn::Module {
 public:
  OutcomeHeadImpl(int64_t hidden_size, torch::Device device);
  torch::Tensor TokenLogits(const torch::Tensor& hidden);  // [B, T, 4]
  // Max over the positions where program_mask [B, T] is true: [B, 4].
  torch::Tensor SequenceLogits(const torch::Tensor& token_logits, const torch::Tensor& program_mask);
  torch::nn::Linear score{nullptr};
};
TORCH_MODULE(OutcomeHead);

class RewardHeadImpl : public torch::nn::Module {
 public:
  RewardHeadImpl(int64_t hidden_size, torch::Device device);
  // hidden [B, T, H], last [B] int64 (index of each sequence's last real token) -> [B].
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& last);
  torch::nn::Linear score{nullptr};
};
TORCH_MODULE(RewardHead);

// A head's parameters as (name, tensor) for saving, and loading them back by name.
absl::Status SaveHead(torch::nn::Module& head, const std::string& path);
absl::Status LoadHead(torch::nn::Module& head, const std::string& path);

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_HEADS_H_
