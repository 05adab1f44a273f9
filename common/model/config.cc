#include "common/model/config.h"

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace crucible::model {
namespace {

using nlohmann::json;

absl::Status Missing(absl::string_view where, absl::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, ": missing or not a number"));
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromJson(absl::string_view text, absl::string_view where) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a JSON object"));
  }
  ModelConfig c;
  c.model_type = j.value("model_type", "llama");
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2") {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": model_type \"", c.model_type, "\" is not supported (llama, mistral, qwen2)"));
  }
  auto get_int = [&](const char* key, int64_t* out, bool required) -> absl::Status {
    if (!j.contains(key) || j[key].is_null()) {
      return required ? Missing(where, key) : absl::OkStatus();
    }
    if (!j[key].is_number_integer()) return Missing(where, key);
    *out = j[key].get<int64_t>();
    return absl::OkStatus();
  };
  CRUCIBLE_RETURN_IF_ERROR(get_int("vocab_size", &c.vocab_size, true));
  CRUCIBLE_RETURN_IF_ERROR(get_int("hidden_size", &c.hidden_size, true));
  CRUCIBLE_RETURN_IF_ERROR(get_int("intermediate_size", &c.intermediate_size, true));
  CRUCIBLE_RETURN_IF_ERROR(get_int("num_hidden_layers", &c.num_hidden_layers, true));
  CRUCIBLE_RETURN_IF_ERROR(get_int("num_attention_heads", &c.num_attention_heads, true));
  c.num_key_value_heads = c.num_attention_heads;
  CRUCIBLE_RETURN_IF_ERROR(get_int("num_key_value_heads", &c.num_key_value_heads, false));
  CRUCIBLE_RETURN_IF_ERROR(get_int("max_position_embeddings", &c.max_position_embeddings, false));
  if (c.num_attention_heads <= 0 || c.num_key_value_heads <= 0 ||
      c.num_attention_heads % c.num_key_value_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": num_attention_heads (", c.num_attention_heads,
        ") must be a positive multiple of num_key_value_heads (", c.num_key_value_heads, ")"));
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  CRUCIBLE_RETURN_IF_ERROR(get_int("head_dim", &c.head_dim, false));
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": head_dim must be positive and even"));
  }
  if (j.contains("rms_norm_eps") && j["rms_norm_eps"].is_number()) c.rms_norm_eps = j["rms_norm_eps"];
  if (j.contains("rope_theta") && j["rope_theta"].is_number()) c.rope_theta = j["rope_theta"];
  if (j.contains("initializer_range") && j["initializer_range"].is_number()) {
    c.initializer_range = j["initializer_range"];
  }
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    std::string type = rs.value("rope_type", rs.value("type", ""));
    if (type == "linear") {
      c.rope_scaling_factor = rs.value("factor", 1.0);
    } else if (type != "default" && !type.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": rope_scaling type \"", type, "\" is not supported (linear only)"));
    }
  }
  const bool attention_bias = j.value("attention_bias", false);
  c.qkv_bias = attention_bias || c.model_type == "qwen2";
  c.o_bias = attention_bias;
  c.mlp_bias = j.value("mlp_bias", false);
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"];
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_token_id = j["bos_token_id"];
  if (j.contains("pad_token_id") && j["pad_token_id"].is_number_integer()) c.pad_token_id = j["pad_token_id"];
  if (j.contains("eos_token_id")) {
    if (j["eos_token_id"].is_number_integer()) c.eos_token_ids.push_back(j["eos_token_id"]);
    if (j["eos_token_id"].is_array()) {
      for (const json& e : j["eos_token_id"]) c.eos_token_ids.push_back(e.get<int64_t>());
    }
  }
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_hidden_layers <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": sizes must be positive"));
  }
  return c;
}

absl::StatusOr<ModelConfig> ModelConfig::FromFile(const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return FromJson(text, path);
}

std::string ModelConfig::ToJson() const {
  json j = {{"architectures", json::array({model_type == "qwen2" ? "Qwen2ForCausalLM"
                                           : model_type == "mistral" ? "MistralForCausalLM"
                                                                     : "LlamaForCausalLM"})},
            {"model_type", model_type},
            {"vocab_size", vocab_size},
            {"hidden_size", hidden_size},
            {"intermediate_size", intermediate_size},
            {"num_hidden_layers", num_hidden_layers},
            {"num_attention_heads", num_attention_heads},
            {"num_key_value_heads", num_key_value_heads},
            {"head_dim", head_dim},
            {"max_position_embeddings", max_position_embeddings},
            {"rms_norm_eps", rms_norm_eps},
            {"rope_theta", rope_theta},
            {"hidden_act", "silu"},
            {"initializer_range", initializer_range},
            {"tie_word_embeddings", tie_word_embeddings},
            {"torch_dtype", torch_dtype}};
  if (model_type != "qwen2") j["attention_bias"] = qkv_bias;
  if (mlp_bias) j["mlp_bias"] = true;
  if (rope_scaling_factor != 1.0) j["rope_scaling"] = {{"type", "linear"}, {"factor", rope_scaling_factor}};
  if (bos_token_id) j["bos_token_id"] = *bos_token_id;
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  if (eos_token_ids.size() == 1) j["eos_token_id"] = eos_token_ids[0];
  if (eos_token_ids.size() > 1) j["eos_token_id"] = eos_token_ids;
  return j.dump(2);
}

int64_t ModelConfig::ParameterCount() const {
  const int64_t h = hidden_size, kv = num_key_value_heads * head_dim, q = num_attention_heads * head_dim;
  int64_t per_layer = h * q + 2 * h * kv + q * h + 3 * h * intermediate_size + 2 * h;
  if (qkv_bias) per_layer += q + 2 * kv;
  if (o_bias) per_layer += h;
  int64_t total = num_hidden_layers * per_layer + vocab_size * h + h;
  if (!tie_word_embeddings) total += vocab_size * h;
  return total;
}

}  // namespace crucible::model
