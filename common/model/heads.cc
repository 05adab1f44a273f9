#include "common/model/heads.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/model/safetensors.h"
#include "common/status_macros.h"

namespace crucible::model {

namespace {

torch::nn::Linear MakeLinear(int64_t in, int64_t out, torch::Device device) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(true));
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(in + 1)));
  linear->bias.zero_();
  linear->to(device);
  return linear;
}

}  // namespace

ValueHeadImpl::ValueHeadImpl(int64_t hidden_size, torch::Device device) {
  summary = register_module("summary", MakeLinear(hidden_size, 1, device));
}

torch::Tensor ValueHeadImpl::forward(const torch::Tensor& hidden) {
  return summary(hidden.to(torch::kFloat32)).squeeze(-1);
}

OutcomeHeadImpl::OutcomeHeadImpl(int64_t hidden_size, torch::Device device) {
  score = register_module("score", MakeLinear(hidden_size, kOutcomeClasses, device));
}

torch::Tensor OutcomeHeadImpl::TokenLogits(const torch::Tensor& hidden) {
  return score(hidden.to(torch::kFloat32));
}

torch::Tensor OutcomeHeadImpl::SequenceLogits(const torch::Tensor& token_logits,
                                              const torch::Tensor& program_mask) {
  torch::Tensor masked = token_logits.masked_fill(program_mask.logical_not().unsqueeze(-1),
                                                  -std::numeric_limits<float>::infinity());
  return std::get<0>(masked.max(1));
}

RewardHeadImpl::RewardHeadImpl(int64_t hidden_size, torch::Device device) {
  score = register_module("score", MakeLinear(hidden_size, 1, device));
}

torch::Tensor RewardHeadImpl::forward(const torch::Tensor& hidden, const torch::Tensor& last) {
  torch::Tensor index = last.view({-1, 1, 1}).expand({hidden.size(0), 1, hidden.size(2)});
  torch::Tensor h = hidden.gather(1, index).squeeze(1);
  return score(h.to(torch::kFloat32)).squeeze(-1);
}

absl::Status SaveHead(torch::nn::Module& head, const std::string& path) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : head.named_parameters()) tensors.emplace_back(p.key(), p.value());
  return WriteSafetensors(path, tensors, {{"format", "pt"}});
}

absl::Status LoadHead(torch::nn::Module& head, const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
  torch::NoGradGuard no_grad;
  for (auto& p : head.named_parameters()) {
    if (!file->Contains(p.key())) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": missing tensor \"", p.key(), "\""));
    }
    CRUCIBLE_ASSIGN_OR_RETURN(torch::Tensor t, file->Get(p.key()));
    if (t.sizes() != p.value().sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", p.key(), "\" has shape [",
                                                     absl::StrJoin(t.sizes(), ", "), "], expected [",
                                                     absl::StrJoin(p.value().sizes(), ", "), "]"));
    }
    p.value().copy_(t);
  }
  return absl::OkStatus();
}

}  // namespace crucible::model
