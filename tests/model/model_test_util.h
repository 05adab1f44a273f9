// Helpers for the model tests: small configs of every supported variant, temporary
// checkpoints, and the independent Python reference.
#ifndef CRUCIBLE_TESTS_MODEL_MODEL_TEST_UTIL_H_
#define CRUCIBLE_TESTS_MODEL_MODEL_TEST_UTIL_H_

#include <unistd.h>

#include <string>
#include <vector>

#include "common/files.h"
#include "common/model/checkpoint.h"
#include "common/model/config.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "tests/support/skip.h"

#ifndef CRUCIBLE_SOURCE_DIR
#error "CRUCIBLE_SOURCE_DIR must be defined"
#endif

namespace crucible::model::testing {

inline ModelConfig SmallConfig(const std::string& variant = "llama") {
  ModelConfig c;
  c.model_type = variant == "qwen2" ? "qwen2" : "llama";
  c.vocab_size = 97;
  c.hidden_size = 32;
  c.intermediate_size = 56;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = variant == "mha" ? 4 : 2;
  c.head_dim = 8;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500.0;
  c.initializer_range = 0.2;  // large enough that attention is far from uniform
  if (variant == "rope_scaling") c.rope_scaling_factor = 4.0;
  if (variant == "qwen2") c.qkv_bias = true;
  if (variant == "attention_bias") c.qkv_bias = c.o_bias = true;
  if (variant == "tied") c.tie_word_embeddings = true;
  c.eos_token_ids = {96};
  return c;
}

// A checkpoint directory removed with the object.
struct TempCheckpoint {
  ScopedTempDir dir;
  std::string path() const { return dir.path(); }
};

inline TempCheckpoint WriteRandomCheckpoint(const ModelConfig& config, uint64_t seed,
                                            torch::ScalarType dtype = torch::kFloat32,
                                            int64_t shard_bytes = int64_t{4} << 30) {
  TempCheckpoint ck{*ScopedTempDir::Create(TempRoot(), "ckpt")};
  absl::Status s = InitCheckpoint(config, ck.path(), seed, dtype, shard_bytes);
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  // Biases start at zero; give them values so that they are actually checked.
  if (config.qkv_bias || config.o_bias) {
    auto model = LoadCausalLm(ck.path(), ModelOptions{});
    torch::NoGradGuard no_grad;
    torch::manual_seed(seed);
    for (auto& p : (*model)->named_parameters()) {
      if (p.key().find(".bias") != std::string::npos) p.value().normal_(0.0, 0.5);
    }
    s = SaveCausalLm(*model, ck.path(), dtype, shard_bytes);
    if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  }
  return ck;
}

// Every position's logits from tests/model/reference_llama.py (Debian's python3-torch).
inline std::vector<std::vector<float>> ReferenceLogits(const std::string& checkpoint,
                                                       const std::vector<int64_t>& ids) {
  if (::access("/usr/bin/python3", X_OK) != 0) {
    crucible::testing::Skip("/usr/bin/python3 is missing, so the Python reference cannot run");
  }
  nlohmann::json j = ids;
  auto run = RunProcess({"/usr/bin/python3", std::string(CRUCIBLE_SOURCE_DIR) + "/tests/model/reference_llama.py",
                         checkpoint, j.dump()},
                        "", std::chrono::minutes(2));
  if (!run.ok() || run->exit_code != 0) {
    if (run.ok() && run->stderr_data.find("No module named 'torch'") != std::string::npos) {
      crucible::testing::Skip("python3-torch is not installed, so the Python reference cannot run");
    }
    throw std::runtime_error("reference failed: " + (run.ok() ? run->stderr_data : std::string(run.status().message())));
  }
  return nlohmann::json::parse(run->stdout_data).get<std::vector<std::vector<float>>>();
}

inline double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace crucible::model::testing

#endif  // CRUCIBLE_TESTS_MODEL_MODEL_TEST_UTIL_H_
