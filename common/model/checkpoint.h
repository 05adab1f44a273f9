// Checkpoints and adapters, interchangeable with the Hugging Face ecosystem:
//   - a model directory is config.json plus model.safetensors, or shards listed in
//     model.safetensors.index.json, with HF tensor names; loading is strict (a missing,
//     unexpected or mis-shaped tensor is an error naming it and both shapes);
//   - random initialisation of any config writes such a directory;
//   - adapters are PEFT's: adapter_config.json (peft_type LORA, r, lora_alpha,
//     lora_dropout, target_modules, use_rslora) and adapter_model.safetensors with keys
//     base_model.model.<module>.lora_A.weight / lora_B.weight;
//   - AdapterSnapshot is the compact in-memory form shipped to actors: every adapter tensor
//     in one flat float32 buffer, with a version.
#ifndef CRUCIBLE_COMMON_MODEL_CHECKPOINT_H_
#define CRUCIBLE_COMMON_MODEL_CHECKPOINT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/decoder.h"

namespace crucible::model {

absl::StatusOr<CausalLm> LoadCausalLm(const std::string& dir, const ModelOptions& options);
absl::Status LoadWeights(CausalLm& model, const std::string& path);
absl::Status SaveCausalLm(CausalLm& model, const std::string& dir, torch::ScalarType dtype,
                          int64_t max_shard_bytes = int64_t{4} << 30);

// Weights drawn from N(0, initializer_range), norms at 1, as HF's _init_weights does.
CausalLm RandomCausalLm(const ModelConfig& config, const ModelOptions& options, uint64_t seed);
absl::Status InitCheckpoint(const ModelConfig& config, const std::string& dir, uint64_t seed,
                            torch::ScalarType dtype, int64_t max_shard_bytes = int64_t{4} << 30);

struct LoraConfig {
  LoraSettings settings;
  // Module names as PEFT writes them ("q_proj", ...). Default: every linear layer of
  // attention and MLP; never the embeddings or the LM head.
  std::vector<std::string> target_modules = {"q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};
  std::string base_model_name_or_path;
};

// Adds fresh adapters to every targeted layer; returns how many layers were adapted.
absl::StatusOr<int> AttachLora(CausalLm& model, const LoraConfig& config, uint64_t seed);
void SetAdaptersEnabled(CausalLm& model, bool enabled);
void MergeAdapters(CausalLm& model);
void UnmergeAdapters(CausalLm& model);
int64_t CountTrainableParameters(CausalLm& model);

// Runs the scope with adapters off (the reference policy), restoring them afterwards.
// Merged adapters are unmerged first (and merged again after), so the base is exact.
class AdaptersDisabled {
 public:
  explicit AdaptersDisabled(CausalLm& model);
  ~AdaptersDisabled();
  AdaptersDisabled(const AdaptersDisabled&) = delete;
  AdaptersDisabled& operator=(const AdaptersDisabled&) = delete;

 private:
  CausalLm& model_;
  bool was_merged_ = false;
};

absl::Status SavePeftAdapter(CausalLm& model, const LoraConfig& config, const std::string& dir);
// Attaches adapters as the directory's config says (if not attached) and loads them.
absl::StatusOr<LoraConfig> LoadPeftAdapter(CausalLm& model, const std::string& dir);

struct AdapterSnapshot {
  int64_t version = 0;
  std::vector<std::string> names;  // PEFT tensor names
  std::vector<std::vector<int64_t>> shapes;
  std::vector<float> data;         // all tensors, concatenated in `names` order
};
AdapterSnapshot ExportAdapter(CausalLm& model, int64_t version);
absl::Status ImportAdapter(CausalLm& model, const AdapterSnapshot& snapshot);

// PEFT's key for a LoRA tensor of a module ("model.layers.0.self_attn.q_proj", "A").
std::string PeftKey(const std::string& module_path, const char* which);

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_CHECKPOINT_H_
