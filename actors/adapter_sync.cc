#include "actors/adapter_sync.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/checkpoint.h"
#include "common/status_macros.h"

namespace crucible {

absl::Status AdapterSync::Apply(const WeightsVersion& v) {
  if (targets_.empty()) {
    model::LoraConfig lora;
    lora.settings.rank = v.peft.r();
    lora.settings.alpha = v.peft.lora_alpha();
    lora.settings.dropout = 0;  // sampling: dropout is off whatever training used
    lora.settings.rslora = v.peft.use_rslora();
    if (v.peft.target_modules_size() > 0) {
      lora.target_modules.assign(v.peft.target_modules().begin(), v.peft.target_modules().end());
    }
    absl::StatusOr<int> n = model::AttachLora(model_, lora, 0);
    if (!n.ok()) return n.status();
    for (auto& [path, linear] : model_->LinearLayers()) {
      if (!linear->has_lora()) continue;
      linear->lora_A.set_requires_grad(false);
      linear->lora_B.set_requires_grad(false);
      targets_[model::PeftKey(path, "A")] = linear->lora_A;
      targets_[model::PeftKey(path, "B")] = linear->lora_B;
    }
    peft_ = v.peft.SerializeAsString();
  } else if (v.peft.SerializeAsString() != peft_) {
    return absl::FailedPreconditionError(
        absl::StrCat("version ", v.version, ": the adapter configuration differs from the attached one"));
  }
  if (v.tensors.size() != targets_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("version ", v.version, " has ", v.tensors.size(), " tensors, the model's adapters ", targets_.size()));
  }
  // Every name and shape is checked before anything is copied: a bad version changes nothing.
  std::vector<torch::Tensor*> order;
  for (const v1::TensorSpec& spec : v.tensors) {
    auto it = targets_.find(spec.name());
    if (it == targets_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("version ", v.version, ": no adapter tensor \"", spec.name(), "\""));
    }
    const std::vector<int64_t> shape(spec.shape().begin(), spec.shape().end());
    if (it->second.sizes().vec() != shape) {
      return absl::InvalidArgumentError(absl::StrCat("version ", v.version, ": adapter tensor \"", spec.name(),
                                                     "\" has shape ", c10::str(it->second.sizes()), ", the version ",
                                                     c10::str(shape)));
    }
    order.push_back(&it->second);
  }
  CRUCIBLE_RETURN_IF_ERROR(Float32Elements(v).status());
  torch::NoGradGuard no_grad;
  // Float32 CPU tensors are decoded into directly; others (bf16, CUDA) through one
  // tensor-sized staging buffer, reused.
  std::vector<float> staging;
  for (size_t k = 0; k < order.size(); ++k) {
    torch::Tensor& target = *order[k];
    if (target.device().is_cpu() && target.scalar_type() == torch::kFloat32 && target.is_contiguous()) {
      CRUCIBLE_RETURN_IF_ERROR(DecodeTensorFloat32(v, k, 1, target.data_ptr<float>()));
      continue;
    }
    staging.resize(static_cast<size_t>(target.numel()));
    CRUCIBLE_RETURN_IF_ERROR(DecodeTensorFloat32(v, k, 1, staging.data()));
    target.copy_(torch::from_blob(staging.data(), target.sizes(), torch::kFloat32));
  }
  return absl::OkStatus();
}

}  // namespace crucible
