#include "common/model/layers.h"

#include <cmath>

namespace crucible::model {

double LoraSettings::scaling() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias,
                       const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}, options),
                              /*requires_grad=*/false);
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}, options), false);
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::nn::functional::linear(x, weight, bias);
  if (lora_A.defined() && lora_enabled_ && !merged_) {
    torch::Tensor h = x;
    if (lora_dropout_ > 0 && is_training()) {
      h = torch::nn::functional::dropout(h, torch::nn::functional::DropoutFuncOptions().p(lora_dropout_).training(true));
    }
    // The adapter runs in the activations' dtype; gradients reach the float32 parameters.
    torch::Tensor a = lora_A.to(x.scalar_type()), b = lora_B.to(x.scalar_type());
    y = y + torch::matmul(torch::matmul(h, a.t()), b.t()) * lora_scaling_;
  }
  return y;
}

void LinearImpl::AttachLora(const LoraSettings& settings, torch::Generator generator) {
  const int64_t out = weight.size(0), in = weight.size(1);
  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(weight.device());
  // PEFT's default: kaiming_uniform_(a=sqrt(5)) for A, i.e. U(-1/sqrt(in), 1/sqrt(in)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  torch::Tensor a = torch::empty({settings.rank, in}, options.device(torch::kCPU));
  a.uniform_(-bound, bound, generator);
  lora_A = register_parameter("lora_A", a.to(options.device()), /*requires_grad=*/true);
  lora_B = register_parameter("lora_B", torch::zeros({out, settings.rank}, options), true);
  lora_scaling_ = settings.scaling();
  lora_dropout_ = settings.dropout;
  lora_enabled_ = true;
  merged_ = false;
}

void LinearImpl::Merge() {
  if (!lora_A.defined() || merged_) return;
  torch::NoGradGuard no_grad;
  weight.add_((torch::matmul(lora_B, lora_A) * lora_scaling_).to(weight.scalar_type()));
  merged_ = true;
}

void LinearImpl::Unmerge() {
  if (!lora_A.defined() || !merged_) return;
  torch::NoGradGuard no_grad;
  weight.sub_((torch::matmul(lora_B, lora_A) * lora_scaling_).to(weight.scalar_type()));
  merged_ = false;
}

RMSNormImpl::RMSNormImpl(int64_t size, double eps, const torch::TensorOptions& options) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}, options), /*requires_grad=*/false);
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x.to(torch::kFloat32);
  torch::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * torch::rsqrt(variance + eps_);
  return weight * h.to(x.scalar_type());
}

}  // namespace crucible::model
