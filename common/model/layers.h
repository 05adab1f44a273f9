// Building blocks of the decoder: a Linear layer that can carry a LoRA adapter, and
// RMSNorm with Hugging Face LLaMA numerics (normalised in float32, scaled in the input dtype).
//
// LoRA (Hu et al.; PEFT's semantics): y = x W^T + b + scaling * dropout(x) A^T B^T with
// A [r, in] initialised like PEFT (Kaiming-uniform) and B [out, r] zero, so a fresh adapter
// changes nothing; scaling = alpha / r (alpha / sqrt(r) with rsLoRA). The base weight is
// frozen; A and B are float32 whatever the base dtype. Merging folds scaling * B A into W
// (and unmerging takes it out again); a disabled adapter is skipped in the forward pass.
#ifndef CRUCIBLE_COMMON_MODEL_LAYERS_H_
#define CRUCIBLE_COMMON_MODEL_LAYERS_H_

#include "common/model/torch.h"

namespace crucible::model {

struct LoraSettings {
  int64_t rank = 32;
  double alpha = 64.0;
  double dropout = 0.0;
  bool rslora = false;
  double scaling() const;
};

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias, const torch::TensorOptions& options);

  torch::Tensor forward(const torch::Tensor& x);

  // Adds a fresh adapter (B = 0); `generator` makes A reproducible.
  void AttachLora(const LoraSettings& settings, torch::Generator generator);
  bool has_lora() const { return lora_A.defined(); }
  void set_lora_enabled(bool enabled) { lora_enabled_ = enabled; }
  bool lora_enabled() const { return lora_enabled_; }
  void Merge();
  void Unmerge();
  bool merged() const { return merged_; }
  double lora_scaling() const { return lora_scaling_; }

  torch::Tensor weight;  // [out, in]
  torch::Tensor bias;    // [out] or undefined
  torch::Tensor lora_A;  // [r, in], float32, trainable
  torch::Tensor lora_B;  // [out, r], float32, trainable

 private:
  double lora_scaling_ = 0.0;
  double lora_dropout_ = 0.0;
  bool lora_enabled_ = true;
  bool merged_ = false;
};
TORCH_MODULE(Linear);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_LAYERS_H_
