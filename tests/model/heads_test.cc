#include <catch2/catch.hpp>

#include "common/files.h"
#include "common/model/checkpoint.h"
#include "common/model/heads.h"
#include "tests/model/model_test_util.h"

namespace crucible::model {
namespace {

TEST_CASE("heads score hidden states of the shared backbone or their own", "[heads]") {
  ModelConfig policy_config = testing::SmallConfig("llama");
  CausalLm policy = RandomCausalLm(policy_config, ModelOptions{}, 1);
  ModelConfig critic_config = testing::SmallConfig("qwen2");
  critic_config.hidden_size = 16;
  critic_config.head_dim = 4;
  critic_config.num_hidden_layers = 1;
  CausalLm critic_backbone = RandomCausalLm(critic_config, ModelOptions{}, 2);

  ForwardArgs args;
  args.input_ids = torch::tensor({{3, 4, 5, 6}, {7, 8, 9, 10}});
  args.positions = torch::arange(4).unsqueeze(0).expand({2, 4});
  torch::Tensor shared = policy->Hidden(args);
  torch::Tensor own = critic_backbone->Hidden(args);

  ValueHead value(policy_config.hidden_size, torch::kCPU);
  CHECK(value(shared).sizes() == torch::IntArrayRef({2, 4}));

  OutcomeHead outcome(critic_config.hidden_size, torch::kCPU);
  torch::Tensor token_logits = outcome->TokenLogits(own);
  CHECK(token_logits.sizes() == torch::IntArrayRef({2, 4, kOutcomeClasses}));
  // Max-pooled over the program's tokens only: masked positions do not count.
  torch::Tensor mask = torch::tensor({{false, true, true, false}, {true, true, true, true}});
  torch::Tensor pooled = outcome->SequenceLogits(token_logits, mask);
  CHECK(torch::allclose(pooled[0], std::get<0>(token_logits[0].narrow(0, 1, 2).max(0))));
  CHECK(torch::allclose(pooled[1], std::get<0>(token_logits[1].max(0))));

  RewardHead reward(policy_config.hidden_size, torch::kCPU);
  torch::Tensor r = reward(shared, torch::tensor({2, 3}));
  CHECK(r.sizes() == torch::IntArrayRef({2}));
  CHECK(std::abs(r[0].item<float>() - reward->score(shared[0][2]).item<float>()) < 1e-6);

  auto dir = ScopedTempDir::Create(TempRoot(), "head");
  REQUIRE(dir.ok());
  REQUIRE(SaveHead(*outcome, dir->path() + "/critic.safetensors").ok());
  OutcomeHead restored(critic_config.hidden_size, torch::kCPU);
  REQUIRE(LoadHead(*restored, dir->path() + "/critic.safetensors").ok());
  CHECK(torch::equal(restored->TokenLogits(own), token_logits));
  OutcomeHead wrong(policy_config.hidden_size, torch::kCPU);
  CHECK_FALSE(LoadHead(*wrong, dir->path() + "/critic.safetensors").ok());
}

}  // namespace
}  // namespace crucible::model
