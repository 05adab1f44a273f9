// LoRA: a fresh adapter changes nothing, merging changes nothing, switching adapters off
// gives the base model, and adapters round-trip through PEFT's files and snapshots.
#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "common/files.h"
#include "common/model/checkpoint.h"
#include "common/model/safetensors.h"
#include "nlohmann/json.hpp"
#include "tests/model/model_test_util.h"

namespace crucible::model {
namespace {

using testing::MaxAbsDiff;
using testing::SmallConfig;

torch::Tensor Ids() { return torch::tensor({7, 3, 9, 27, 1, 64, 50}).unsqueeze(0); }

// Gives every adapter non-zero B so it changes the output.
void Perturb(CausalLm& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& [path, linear] : model->LinearLayers()) {
    if (linear->has_lora()) linear->lora_B.normal_(0.0, 0.05);
  }
}

TEST_CASE("a fresh adapter changes nothing, a trained one does", "[lora]") {
  CausalLm model = RandomCausalLm(SmallConfig("qwen2"), ModelOptions{}, 3);
  torch::Tensor base = model->forward(Ids()).detach();
  LoraConfig config;
  config.settings.rank = 4;
  config.settings.alpha = 8;
  auto adapted = AttachLora(model, config, 1);
  REQUIRE(adapted.ok());
  CHECK(*adapted == 2 * 7);  // every attention and MLP projection of both layers
  CHECK(MaxAbsDiff(model->forward(Ids()), base) == 0.0);
  Perturb(model, 2);
  CHECK(MaxAbsDiff(model->forward(Ids()), base) > 1e-3);
}

TEST_CASE("only adapters train, and their size is r * (in + out) per layer", "[lora]") {
  ModelConfig c = SmallConfig("llama");
  CausalLm model = RandomCausalLm(c, ModelOptions{}, 3);
  CHECK(CountTrainableParameters(model) == 0);
  LoraConfig config;
  config.settings.rank = 4;
  REQUIRE(AttachLora(model, config, 1).ok());
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim,
                i = c.intermediate_size, r = 4;
  const int64_t per_layer = r * ((h + q) + (h + kv) + (h + kv) + (q + h) + (h + i) + (h + i) + (i + h));
  CHECK(CountTrainableParameters(model) == c.num_hidden_layers * per_layer);
  for (auto& p : model->named_parameters()) {
    const bool lora = absl::EndsWith(p.key(), "lora_A") || absl::EndsWith(p.key(), "lora_B");
    CHECK(p.value().requires_grad() == lora);
  }
  LoraConfig bad;
  bad.target_modules = {"lm_head"};
  CHECK_FALSE(AttachLora(model, bad, 1).ok());
  LoraConfig attention_only;
  attention_only.target_modules = {"q_proj", "v_proj"};
  CausalLm other = RandomCausalLm(c, ModelOptions{}, 3);
  CHECK(*AttachLora(other, attention_only, 1) == 2 * 2);
}

TEST_CASE("merged equals unmerged, adapters off equals the base", "[lora]") {
  CausalLm model = RandomCausalLm(SmallConfig("attention_bias"), ModelOptions{}, 4);
  torch::Tensor base = model->forward(Ids()).detach();
  LoraConfig config;
  config.settings.rank = 8;
  config.settings.alpha = 16;
  REQUIRE(AttachLora(model, config, 5).ok());
  Perturb(model, 6);
  torch::Tensor unmerged = model->forward(Ids()).detach();
  MergeAdapters(model);
  CHECK(MaxAbsDiff(model->forward(Ids()), unmerged) < 1e-5);
  {
    AdaptersDisabled off(model);
    CHECK(MaxAbsDiff(model->forward(Ids()), base) < 1e-5);
  }
  CHECK(MaxAbsDiff(model->forward(Ids()), unmerged) < 1e-5);
  UnmergeAdapters(model);
  CHECK(MaxAbsDiff(model->forward(Ids()), unmerged) < 1e-5);
  {
    AdaptersDisabled off(model);
    CHECK(MaxAbsDiff(model->forward(Ids()), base) < 1e-5);
  }
}

TEST_CASE("adapters round-trip through PEFT's files with PEFT's names", "[lora][peft]") {
  ModelConfig c = SmallConfig("llama");
  CausalLm model = RandomCausalLm(c, ModelOptions{}, 8);
  LoraConfig config;
  config.settings.rank = 4;
  config.settings.alpha = 12;
  config.settings.dropout = 0.05;
  config.base_model_name_or_path = "deepseek-ai/deepseek-coder-1.3b-base";
  REQUIRE(AttachLora(model, config, 9).ok());
  Perturb(model, 10);
  torch::Tensor expected = model->forward(Ids()).detach();
  auto dir = ScopedTempDir::Create(TempRoot(), "peft");
  REQUIRE(dir.ok());
  REQUIRE(SavePeftAdapter(model, config, dir->path()).ok());
  auto cfg = nlohmann::json::parse(*ReadFile(dir->path() + "/adapter_config.json"));
  CHECK(cfg["peft_type"] == "LORA");
  CHECK(cfg["r"] == 4);
  CHECK(cfg["lora_alpha"] == 12.0);
  CHECK(cfg["task_type"] == "CAUSAL_LM");
  auto file = SafetensorsFile::Open(dir->path() + "/adapter_model.safetensors");
  REQUIRE(file.ok());
  CHECK((*file)->Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  CHECK((*file)->Contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
  CHECK((*(*file)->Get("base_model.model.model.layers.0.mlp.up_proj.lora_B.weight")).sizes() ==
        torch::IntArrayRef({c.intermediate_size, 4}));

  CausalLm fresh = RandomCausalLm(c, ModelOptions{}, 8);
  auto loaded = LoadPeftAdapter(fresh, dir->path());
  REQUIRE(loaded.ok());
  CHECK(loaded->settings.rank == 4);
  CHECK(loaded->settings.alpha == 12.0);
  CHECK(MaxAbsDiff(fresh->forward(Ids()), expected) < 1e-6);

  // A wrong-rank adapter is refused with the tensor named.
  CausalLm other = RandomCausalLm(c, ModelOptions{}, 8);
  LoraConfig rank8 = config;
  rank8.settings.rank = 8;
  REQUIRE(AttachLora(other, rank8, 1).ok());
  auto mismatch = LoadPeftAdapter(other, dir->path());
  REQUIRE_FALSE(mismatch.ok());
  CHECK(absl::StrContains(mismatch.status().message(), "lora_A.weight\" has shape [4, 32], expected [8, 32]"));
}

TEST_CASE("adapter snapshots carry a version and restore the adapter exactly", "[lora]") {
  ModelConfig c = SmallConfig("qwen2");
  CausalLm a = RandomCausalLm(c, ModelOptions{}, 12), b = RandomCausalLm(c, ModelOptions{}, 12);
  LoraConfig config;
  config.settings.rank = 2;
  REQUIRE(AttachLora(a, config, 1).ok());
  REQUIRE(AttachLora(b, config, 2).ok());
  Perturb(a, 13);
  AdapterSnapshot snapshot = ExportAdapter(a, /*version=*/42);
  CHECK(snapshot.version == 42);
  CHECK(static_cast<int64_t>(snapshot.data.size()) == CountTrainableParameters(a));
  REQUIRE(ImportAdapter(b, snapshot).ok());
  CHECK(MaxAbsDiff(a->forward(Ids()), b->forward(Ids())) == 0.0);
  snapshot.data.pop_back();
  CHECK_FALSE(ImportAdapter(b, snapshot).ok());
}

}  // namespace
}  // namespace crucible::model
