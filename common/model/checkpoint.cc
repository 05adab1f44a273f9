#include "common/model/checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/model/safetensors.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace crucible::model {
namespace {

using nlohmann::json;

std::string Shape(torch::IntArrayRef s) { return absl::StrCat("[", absl::StrJoin(s, ", "), "]"); }

// Base (non-LoRA) parameters by HF name.
std::vector<std::pair<std::string, torch::Tensor>> BaseParameters(CausalLm& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : model->named_parameters()) {
    if (absl::EndsWith(p.key(), ".lora_A") || absl::EndsWith(p.key(), ".lora_B")) continue;
    out.emplace_back(p.key(), p.value());
  }
  return out;
}

absl::Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
  }
  return absl::OkStatus();
}

bool Targeted(const std::string& module_path, const std::vector<std::string>& targets) {
  const std::string leaf = module_path.substr(module_path.rfind('.') + 1);
  return std::find(targets.begin(), targets.end(), leaf) != targets.end();
}

}  // namespace

std::string PeftKey(const std::string& module_path, const char* which) {
  return absl::StrCat("base_model.model.", module_path, ".lora_", which, ".weight");
}

absl::Status LoadWeights(CausalLm& model, const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(TensorSource source, TensorSource::Open(path));
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& [name, param] : BaseParameters(model)) {
    if (!source.Contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": missing tensor \"", name, "\" (expected shape ",
                                                     Shape(param.sizes()), ")"));
    }
    CRUCIBLE_ASSIGN_OR_RETURN(torch::Tensor t, source.Get(name));
    if (t.sizes() != param.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", name, "\" has shape ", Shape(t.sizes()),
                                                     ", expected ", Shape(param.sizes())));
    }
    param.copy_(t.to(param.device(), param.scalar_type()));
    used.insert(name);
  }
  for (const std::string& name : source.names()) {
    if (used.count(name)) continue;
    // Tied heads may still be stored; old checkpoints carry rotary buffers.
    if (name == "lm_head.weight" && model->config().tie_word_embeddings) continue;
    if (absl::EndsWith(name, "rotary_emb.inv_freq")) continue;
    return absl::InvalidArgumentError(absl::StrCat(path, ": unexpected tensor \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<CausalLm> LoadCausalLm(const std::string& dir, const ModelOptions& options) {
  CRUCIBLE_ASSIGN_OR_RETURN(ModelConfig config, ModelConfig::FromFile(dir + "/config.json"));
  CausalLm model(config, options);
  CRUCIBLE_RETURN_IF_ERROR(LoadWeights(model, dir));
  model->eval();
  return model;
}

absl::Status SaveCausalLm(CausalLm& model, const std::string& dir, torch::ScalarType dtype,
                          int64_t max_shard_bytes) {
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(dir));
  ModelConfig config = model->config();
  config.torch_dtype = dtype == torch::kBFloat16 ? "bfloat16" : dtype == torch::kFloat16 ? "float16" : "float32";
  CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(dir + "/config.json", config.ToJson()));
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, t] : BaseParameters(model)) tensors.emplace_back(name, t.to(dtype));
  return WriteShardedSafetensors(dir, tensors, max_shard_bytes);
}

CausalLm RandomCausalLm(const ModelConfig& config, const ModelOptions& options, uint64_t seed) {
  CausalLm model(config, options);
  torch::NoGradGuard no_grad;
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  for (auto& [name, param] : BaseParameters(model)) {
    torch::Tensor init = torch::empty(param.sizes(), torch::kFloat32);
    if (absl::EndsWith(name, "norm.weight")) {
      init.fill_(1.0);
    } else if (absl::EndsWith(name, ".bias")) {
      init.zero_();
    } else {
      init.normal_(0.0, config.initializer_range, gen);
    }
    param.copy_(init.to(param.device(), param.scalar_type()));
  }
  model->eval();
  return model;
}

absl::Status InitCheckpoint(const ModelConfig& config, const std::string& dir, uint64_t seed,
                            torch::ScalarType dtype, int64_t max_shard_bytes) {
  CausalLm model = RandomCausalLm(config, ModelOptions{}, seed);
  return SaveCausalLm(model, dir, dtype, max_shard_bytes);
}

absl::StatusOr<int> AttachLora(CausalLm& model, const LoraConfig& config, uint64_t seed) {
  if (config.settings.rank <= 0) return absl::InvalidArgumentError("LoRA rank must be positive");
  for (const std::string& t : config.target_modules) {
    if (t == "embed_tokens" || t == "lm_head") {
      return absl::InvalidArgumentError(absl::StrCat("LoRA target \"", t, "\" is not supported (never the embeddings or the LM head)"));
    }
  }
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  int adapted = 0;
  for (auto& [path, linear] : model->LinearLayers()) {
    if (!Targeted(path, config.target_modules)) continue;
    if (linear->has_lora()) return absl::FailedPreconditionError(absl::StrCat(path, " already has an adapter"));
    linear->AttachLora(config.settings, gen);
    ++adapted;
  }
  if (adapted == 0) {
    return absl::InvalidArgumentError(absl::StrCat("no layer matches the LoRA targets [",
                                                   absl::StrJoin(config.target_modules, ", "), "]"));
  }
  return adapted;
}

void SetAdaptersEnabled(CausalLm& model, bool enabled) {
  for (auto& [path, linear] : model->LinearLayers()) linear->set_lora_enabled(enabled);
}

void MergeAdapters(CausalLm& model) {
  for (auto& [path, linear] : model->LinearLayers()) linear->Merge();
}

void UnmergeAdapters(CausalLm& model) {
  for (auto& [path, linear] : model->LinearLayers()) linear->Unmerge();
}

int64_t CountTrainableParameters(CausalLm& model) {
  int64_t n = 0;
  for (const torch::Tensor& p : model->TrainableParameters()) n += p.numel();
  return n;
}

AdaptersDisabled::AdaptersDisabled(CausalLm& model) : model_(model) {
  for (auto& [path, linear] : model_->LinearLayers()) was_merged_ |= linear->merged();
  if (was_merged_) UnmergeAdapters(model_);
  SetAdaptersEnabled(model_, false);
}

AdaptersDisabled::~AdaptersDisabled() {
  SetAdaptersEnabled(model_, true);
  if (was_merged_) MergeAdapters(model_);
}

absl::Status SavePeftAdapter(CausalLm& model, const LoraConfig& config, const std::string& dir) {
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(dir));
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [path, linear] : model->LinearLayers()) {
    if (!linear->has_lora()) continue;
    tensors.emplace_back(PeftKey(path, "A"), linear->lora_A);
    tensors.emplace_back(PeftKey(path, "B"), linear->lora_B);
  }
  if (tensors.empty()) return absl::FailedPreconditionError("the model has no adapters to save");
  json cfg = {{"peft_type", "LORA"},
              {"task_type", "CAUSAL_LM"},
              {"r", config.settings.rank},
              {"lora_alpha", config.settings.alpha},
              {"lora_dropout", config.settings.dropout},
              {"use_rslora", config.settings.rslora},
              {"target_modules", config.target_modules},
              {"bias", "none"},
              {"fan_in_fan_out", false},
              {"inference_mode", true},
              {"init_lora_weights", true},
              {"modules_to_save", nullptr},
              {"layers_to_transform", nullptr},
              {"base_model_name_or_path", config.base_model_name_or_path}};
  CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(dir + "/adapter_config.json", cfg.dump(2)));
  return WriteSafetensors(dir + "/adapter_model.safetensors", tensors, {{"format", "pt"}});
}

absl::StatusOr<LoraConfig> LoadPeftAdapter(CausalLm& model, const std::string& dir) {
  const std::string config_path = dir + "/adapter_config.json";
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(config_path));
  json cfg = json::parse(text, nullptr, false);
  if (cfg.is_discarded() || cfg.value("peft_type", "") != "LORA") {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": not a LoRA adapter config"));
  }
  if (cfg.value("fan_in_fan_out", false)) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": fan_in_fan_out adapters are not supported"));
  }
  LoraConfig config;
  config.settings.rank = cfg.value("r", 8);
  config.settings.alpha = cfg.value("lora_alpha", 8.0);
  config.settings.dropout = cfg.value("lora_dropout", 0.0);
  config.settings.rslora = cfg.value("use_rslora", false);
  config.base_model_name_or_path = cfg.value("base_model_name_or_path", "");
  if (cfg.contains("target_modules") && cfg["target_modules"].is_array()) {
    config.target_modules = cfg["target_modules"].get<std::vector<std::string>>();
  } else if (cfg.contains("target_modules") && cfg["target_modules"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": regex target_modules are not supported"));
  }
  bool attached = false;
  for (auto& [path, linear] : model->LinearLayers()) attached |= linear->has_lora();
  if (!attached) CRUCIBLE_RETURN_IF_ERROR(AttachLora(model, config, 0).status());
  const std::string weights = dir + "/adapter_model.safetensors";
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(weights));
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& [path, linear] : model->LinearLayers()) {
    if (!linear->has_lora()) continue;
    for (const char* which : {"A", "B"}) {
      const std::string key = PeftKey(path, which);
      torch::Tensor& param = which[0] == 'A' ? linear->lora_A : linear->lora_B;
      if (!file->Contains(key)) {
        return absl::InvalidArgumentError(absl::StrCat(weights, ": missing tensor \"", key, "\""));
      }
      CRUCIBLE_ASSIGN_OR_RETURN(torch::Tensor t, file->Get(key));
      if (t.sizes() != param.sizes()) {
        return absl::InvalidArgumentError(absl::StrCat(weights, ": tensor \"", key, "\" has shape ",
                                                       Shape(t.sizes()), ", expected ", Shape(param.sizes())));
      }
      param.copy_(t.to(param.device(), param.scalar_type()));
      used.insert(key);
    }
  }
  for (const std::string& name : file->names()) {
    if (!used.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat(weights, ": unexpected tensor \"", name, "\""));
    }
  }
  return config;
}

AdapterSnapshot ExportAdapter(CausalLm& model, int64_t version) {
  AdapterSnapshot snapshot;
  snapshot.version = version;
  for (auto& [path, linear] : model->LinearLayers()) {
    if (!linear->has_lora()) continue;
    for (const char* which : {"A", "B"}) {
      torch::Tensor t = (which[0] == 'A' ? linear->lora_A : linear->lora_B).detach().to(torch::kCPU).contiguous();
      snapshot.names.push_back(PeftKey(path, which));
      snapshot.shapes.push_back(t.sizes().vec());
      const float* data = t.data_ptr<float>();
      snapshot.data.insert(snapshot.data.end(), data, data + t.numel());
    }
  }
  return snapshot;
}

absl::Status ImportAdapter(CausalLm& model, const AdapterSnapshot& snapshot) {
  torch::NoGradGuard no_grad;
  size_t index = 0, offset = 0;
  for (auto& [path, linear] : model->LinearLayers()) {
    if (!linear->has_lora()) continue;
    for (const char* which : {"A", "B"}) {
      torch::Tensor& param = which[0] == 'A' ? linear->lora_A : linear->lora_B;
      const std::string key = PeftKey(path, which);
      if (index >= snapshot.names.size() || snapshot.names[index] != key ||
          snapshot.shapes[index] != param.sizes().vec()) {
        return absl::InvalidArgumentError(absl::StrCat("adapter snapshot v", snapshot.version,
                                                       " does not match the model at \"", key, "\""));
      }
      const size_t n = static_cast<size_t>(param.numel());
      if (offset + n > snapshot.data.size()) return absl::InvalidArgumentError("adapter snapshot is truncated");
      param.copy_(torch::from_blob(const_cast<float*>(snapshot.data.data() + offset), param.sizes(), torch::kFloat32)
                      .to(param.device()));
      offset += n;
      ++index;
    }
  }
  if (index != snapshot.names.size() || offset != snapshot.data.size()) {
    return absl::InvalidArgumentError("adapter snapshot has tensors the model does not");
  }
  return absl::OkStatus();
}

}  // namespace crucible::model
