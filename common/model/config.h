// The model configuration, read from and written to a Hugging Face config.json. Covers the
// LLaMA family: LLaMA/CodeLlama and DeepSeek-Coder ("llama"), Mistral ("mistral"), Qwen2 and
// Qwen2.5-Coder ("qwen2", with q/k/v biases). Unknown architectures and rope_scaling types
// are refused with a message, not approximated.
#ifndef CRUCIBLE_COMMON_MODEL_CONFIG_H_
#define CRUCIBLE_COMMON_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crucible::model {

struct ModelConfig {
  std::string model_type = "llama";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless given
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double rope_scaling_factor = 1.0;  // linear rope scaling (positions divided by it)
  bool qkv_bias = false;             // Qwen2, or attention_bias
  bool o_bias = false;               // attention_bias
  bool mlp_bias = false;
  bool tie_word_embeddings = false;
  std::string torch_dtype = "float32";
  double initializer_range = 0.02;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;

  static absl::StatusOr<ModelConfig> FromJson(absl::string_view json, absl::string_view where);
  static absl::StatusOr<ModelConfig> FromFile(const std::string& path);
  std::string ToJson() const;

  // Parameters of the decoder (embeddings and head included).
  int64_t ParameterCount() const;
};

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_CONFIG_H_
