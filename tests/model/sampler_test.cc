// Generation: determinism, greedy and batch invariance, stopping, and behaviour log-probs
// that the learner's log-prob pass reproduces.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "common/model/checkpoint.h"
#include "common/model/sampler.h"
#include "common/tokenizer.h"
#include "tests/model/model_test_util.h"

namespace crucible::model {
namespace {

using testing::SmallConfig;

std::vector<std::vector<int32_t>> Prompts() { return {{5, 9, 2, 7, 30, 31}, {44}, {12, 13, 14}}; }

TEST_CASE("sampling is deterministic for a seed and varies across seeds", "[sampler]") {
  CausalLm model = RandomCausalLm(SmallConfig("llama"), ModelOptions{}, 1);
  SamplingOptions o;
  o.max_new_tokens = 12;
  o.temperature = 1.3;
  o.seed = 77;
  auto a = Generate(model, Prompts(), o);
  auto b = Generate(model, Prompts(), o);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (size_t i = 0; i < a->size(); ++i) {
    CHECK((*a)[i].tokens == (*b)[i].tokens);
    CHECK((*a)[i].logprobs == (*b)[i].logprobs);
  }
  o.seed = 78;
  auto c = Generate(model, Prompts(), o);
  bool differs = false;
  for (size_t i = 0; i < a->size(); ++i) differs |= (*a)[i].tokens != (*c)[i].tokens;
  CHECK(differs);
}

TEST_CASE("greedy decoding follows the argmax of full forward passes, in any batch", "[sampler]") {
  CausalLm model = RandomCausalLm(SmallConfig("qwen2"), ModelOptions{}, 2);
  SamplingOptions o;
  o.max_new_tokens = 10;
  o.greedy = true;
  auto batched = Generate(model, Prompts(), o);
  REQUIRE(batched.ok());
  c10::InferenceMode inference;
  for (size_t i = 0; i < Prompts().size(); ++i) {
    // Alone in its batch: the same tokens.
    auto alone = Generate(model, {Prompts()[i]}, o);
    REQUIRE(alone.ok());
    CHECK((*alone)[0].tokens == (*batched)[i].tokens);
    // And each token is the argmax after the prompt plus the tokens before it.
    const std::vector<int32_t> prompt = Prompts()[i];
    std::vector<int64_t> seq(prompt.begin(), prompt.end());
    for (size_t t = 0; t < (*batched)[i].tokens.size(); ++t) {
      torch::Tensor logits = model->forward(torch::tensor(seq).unsqueeze(0)).squeeze(0);
      CHECK(logits[-1].argmax().item<int64_t>() == (*batched)[i].tokens[t]);
      seq.push_back((*batched)[i].tokens[t]);
    }
    CHECK((*batched)[i].finish_reason == FinishReason::kLength);
  }
  // top_k = 1 is greedy too.
  SamplingOptions k1;
  k1.max_new_tokens = 10;
  k1.top_k = 1;
  k1.seed = 3;
  auto topk = Generate(model, Prompts(), k1);
  REQUIRE(topk.ok());
  for (size_t i = 0; i < Prompts().size(); ++i) CHECK((*topk)[i].tokens == (*batched)[i].tokens);
}

TEST_CASE("behaviour log-probs equal the learner's log-prob pass", "[sampler]") {
  CausalLm model = RandomCausalLm(SmallConfig("llama"), ModelOptions{}, 3);
  LoraConfig lora;
  lora.settings.rank = 4;
  REQUIRE(AttachLora(model, lora, 1).ok());
  {
    torch::NoGradGuard no_grad;
    for (auto& [path, linear] : model->LinearLayers()) linear->lora_B.normal_(0, 0.1);
  }
  for (double temperature : {1.0, 0.7}) {
    SamplingOptions o;
    o.max_new_tokens = 9;
    o.temperature = temperature;
    o.seed = 5;  // top_p 1, top_k 0: the distribution the learner recomputes
    auto gen = Generate(model, Prompts(), o);
    REQUIRE(gen.ok());
    std::vector<PromptCompletion> pairs;
    for (size_t i = 0; i < Prompts().size(); ++i) pairs.push_back({Prompts()[i], (*gen)[i].tokens});
    auto logprobs = CompletionLogProbs(model, pairs, temperature, /*max_batch_tokens=*/20);
    REQUIRE(logprobs.ok());
    for (size_t i = 0; i < pairs.size(); ++i) {
      REQUIRE((*logprobs)[i].numel() == static_cast<int64_t>((*gen)[i].logprobs.size()));
      for (size_t t = 0; t < (*gen)[i].logprobs.size(); ++t) {
        CHECK(std::abs((*logprobs)[i][t].item<float>() - (*gen)[i].logprobs[t]) < 1e-4);
      }
    }
    // With adapters off the pass is the reference policy's, which differs.
    AdaptersDisabled off(model);
    auto reference = CompletionLogProbs(model, pairs, temperature);
    REQUIRE(reference.ok());
    CHECK(((*reference)[0] - (*logprobs)[0]).abs().max().item<float>() > 1e-4);
  }
}

TEST_CASE("generation stops at stop tokens, at stop strings, and at the length", "[sampler]") {
  ModelConfig c = SmallConfig("llama");
  c.vocab_size = ByteTokenizer::kVocab;
  CausalLm model = RandomCausalLm(c, ModelOptions{}, 4);
  ByteTokenizer tokenizer;
  SamplingOptions greedy;
  greedy.greedy = true;
  greedy.max_new_tokens = 12;
  auto free_run = Generate(model, {tokenizer.Encode("abc", false)}, greedy, &tokenizer);
  REQUIRE(free_run.ok());
  const std::vector<int32_t> tokens = (*free_run)[0].tokens;
  REQUIRE(tokens.size() == 12);
  // Stop at the fifth token's id: the completion ends right there, inclusive.
  SamplingOptions stop_token = greedy;
  stop_token.stop_token_ids = {tokens[4]};
  auto stopped = Generate(model, {tokenizer.Encode("abc", false)}, stop_token, &tokenizer);
  REQUIRE(stopped.ok());
  const auto first = std::find(tokens.begin(), tokens.end(), tokens[4]) - tokens.begin();
  CHECK((*stopped)[0].tokens.size() == static_cast<size_t>(first + 1));
  CHECK((*stopped)[0].finish_reason == FinishReason::kStopToken);
  // A stop string taken from the free run's text (a run of plain ASCII after its first
  // token): generation ends once the text contains it, and the text is cut where it starts.
  const std::string full = (*free_run)[0].text;
  std::string needle;
  for (size_t i = 1; i < full.size() && needle.size() < 2; ++i) {
    const unsigned char ch = static_cast<unsigned char>(full[i]);
    if (ch >= 0x20 && ch < 0x7f) needle.push_back(full[i]);
    else needle.clear();
  }
  REQUIRE_FALSE(needle.empty());
  SamplingOptions stop_string = greedy;
  stop_string.stop_strings = {"never appears", needle};
  auto cut = Generate(model, {tokenizer.Encode("abc", false)}, stop_string, &tokenizer);
  REQUIRE(cut.ok());
  CHECK((*cut)[0].finish_reason == FinishReason::kStopString);
  CHECK((*cut)[0].text == full.substr(0, full.find(needle)));
  CHECK((*cut)[0].tokens.size() < tokens.size());
  CHECK(std::equal((*cut)[0].tokens.begin(), (*cut)[0].tokens.end(), tokens.begin()));
  CHECK((*free_run)[0].finish_reason == FinishReason::kLength);
  // Bad requests are refused.
  SamplingOptions bad = greedy;
  bad.stop_strings = {"x"};
  CHECK_FALSE(Generate(model, {{1, 2}}, bad).ok());  // stop strings need a tokenizer
  CHECK_FALSE(Generate(model, {{}}, greedy).ok());
  CHECK_FALSE(Generate(model, {{1, 100000}}, greedy).ok());
  SamplingOptions cold;
  cold.temperature = 0;
  CHECK_FALSE(Generate(model, {{1}}, cold).ok());
}

TEST_CASE("the value head's values come with each token", "[sampler]") {
  ModelConfig c = SmallConfig("llama");
  CausalLm model = RandomCausalLm(c, ModelOptions{}, 6);
  ValueHead head(c.hidden_size, torch::kCPU);
  SamplingOptions o;
  o.max_new_tokens = 5;
  o.seed = 1;
  auto gen = Generate(model, Prompts(), o, nullptr, &head);
  REQUIRE(gen.ok());
  for (const Completion& comp : *gen) CHECK(comp.values.size() == comp.tokens.size());
  // The first value is the head applied to the last prompt position.
  c10::InferenceMode inference;
  ForwardArgs args;
  const std::vector<int32_t> prompt = Prompts()[0];
  args.input_ids = torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end())).unsqueeze(0);
  args.positions = torch::arange(static_cast<int64_t>(prompt.size())).unsqueeze(0);
  torch::Tensor v = head(model->Hidden(args));
  CHECK(std::abs(v[0][-1].item<float>() - (*gen)[0].values[0]) < 1e-5);
}

// Draws `draws` samples from one row of logits (as `draws` identical rows of one step) and
// checks the sampler against the sort-and-filter reference: every token drawn lies in the
// support, frequencies match the renormalised probabilities, log-probs are those of the
// renormalised distribution the token was drawn from.
void CheckSamplerAgainstReference(const torch::Tensor& row, const SamplingOptions& o, int64_t draws) {
  const std::vector<int64_t> support = SamplingSupport(row, o);
  REQUIRE(!support.empty());
  torch::Tensor logp = torch::log_softmax(row.to(torch::kFloat64) / o.temperature, -1);
  torch::Tensor idx = torch::tensor(support);
  torch::Tensor expected = torch::softmax(logp.index_select(0, idx), -1);
  torch::Generator gen = at::detail::createCPUGenerator(1234);
  auto [tokens, logprobs] = SampleTokens(row.unsqueeze(0).expand({draws, row.size(0)}), o, gen);
  std::map<int64_t, int64_t> position;
  for (size_t i = 0; i < support.size(); ++i) position[support[i]] = static_cast<int64_t>(i);
  std::vector<double> counts(support.size(), 0.0);
  for (int64_t d = 0; d < draws; ++d) {
    const int64_t t = tokens[d].item<int64_t>();
    INFO("token " << t);
    REQUIRE(position.count(t) == 1);
    ++counts[position[t]];
    CHECK(std::abs(logprobs[d].item<double>() - std::log(expected[position[t]].item<double>())) < 1e-5);
  }
  // Binomial tolerance: 5 standard deviations per candidate, plus a few counts for the
  // rare ones (where the normal approximation fails).
  for (size_t i = 0; i < support.size(); ++i) {
    const double p = expected[static_cast<int64_t>(i)].item<double>();
    const double sd = std::sqrt(p * (1 - p) / static_cast<double>(draws));
    INFO("candidate " << support[i] << " expected " << p << " observed " << counts[i] / draws);
    CHECK(std::abs(counts[i] / static_cast<double>(draws) - p) <= 5 * sd + 3.0 / static_cast<double>(draws));
  }
}

TEST_CASE("the fused sampler draws from exactly the top-k / top-p support, in proportion", "[sampler]") {
  torch::manual_seed(5);
  const torch::Tensor row = torch::randn({3000}) * 3;  // peaked enough for a small nucleus
  SamplingOptions o;
  SECTION("temperature only") {
    o.temperature = 0.7;
    CheckSamplerAgainstReference(row.narrow(0, 0, 40), o, 20000);
  }
  SECTION("top-k") {
    o.top_k = 20;
    CheckSamplerAgainstReference(row, o, 20000);
  }
  SECTION("top-p") {
    o.temperature = 0.8;
    o.top_p = 0.9;
    CheckSamplerAgainstReference(row, o, 20000);
    CHECK(SamplingSupport(row, o).size() < 3000);
  }
  SECTION("top-k then top-p") {
    o.top_k = 50;
    o.top_p = 0.5;
    CheckSamplerAgainstReference(row, o, 20000);
  }
  SECTION("a tiny nucleus keeps at least the best token") {
    o.top_p = 1e-9;
    REQUIRE(SamplingSupport(row, o).size() == 1);
    CheckSamplerAgainstReference(row, o, 500);
  }
}

TEST_CASE("ties: top-k keeps every tied candidate, top-p cuts ties in index order", "[sampler]") {
  const torch::Tensor flat = torch::zeros({10});
  SamplingOptions o;
  o.top_k = 3;
  CHECK(SamplingSupport(flat, o).size() == 10);  // all tied with the 3rd largest
  CheckSamplerAgainstReference(flat, o, 20000);
  o.top_k = 0;
  o.top_p = 0.5;  // mass before the 6th is 0.5: five kept
  CHECK(SamplingSupport(flat, o) == std::vector<int64_t>({0, 1, 2, 3, 4}));
  CheckSamplerAgainstReference(flat, o, 20000);
  // Two tied leaders above a tail.
  torch::Tensor row = torch::tensor({0.f, 5.f, 1.f, 5.f, 0.f});
  o.top_p = 0.4;
  CHECK(SamplingSupport(row, o) == std::vector<int64_t>({1}));
  o.top_p = 0.6;
  CHECK(SamplingSupport(row, o) == std::vector<int64_t>({1, 3}));
  CheckSamplerAgainstReference(row, o, 20000);
}

TEST_CASE("a sampling step's tokens do not depend on the thread count", "[sampler]") {
  torch::manual_seed(9);
  const torch::Tensor logits = torch::randn({64, 500});
  SamplingOptions o;
  o.top_p = 0.9;
  o.temperature = 0.9;
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  torch::Generator g1 = at::detail::createCPUGenerator(3);
  auto one = SampleTokens(logits, o, g1);
  at::set_num_threads(std::max(2, threads));
  torch::Generator g2 = at::detail::createCPUGenerator(3);
  auto many = SampleTokens(logits, o, g2);
  at::set_num_threads(threads);
  CHECK(torch::equal(one.first, many.first));
  CHECK(torch::equal(one.second, many.second));
}


TEST_CASE("an in-flight update between decode steps changes the next tokens and is recorded", "[sampler]") {
  CausalLm model = RandomCausalLm(SmallConfig("llama"), ModelOptions{}, 3);
  LoraConfig lora;
  lora.settings.rank = 4;
  REQUIRE(AttachLora(model, lora, 1).ok());
  SamplingOptions o;
  o.max_new_tokens = 8;
  o.greedy = true;
  auto plain = Generate(model, Prompts(), o);
  REQUIRE(plain.ok());
  CHECK((*plain)[0].versions.empty());

  // Version 0 for the prefill and the first three steps, then adapters with large B
  // (applied in place, as an actor applies a streamed version) from the fourth token on.
  int calls = 0;
  o.before_step = [&]() -> int64_t {
    if (++calls == 4) {
      torch::NoGradGuard no_grad;
      for (auto& [path, linear] : model->LinearLayers()) linear->lora_B.normal_(0, 0.5);
    }
    return calls >= 4 ? 7 : 0;
  };
  auto updated = Generate(model, Prompts(), o);
  REQUIRE(updated.ok());
  bool changed = false;
  for (size_t i = 0; i < Prompts().size(); ++i) {
    const Completion& c = (*updated)[i];
    REQUIRE(c.versions.size() == c.tokens.size());
    for (size_t t = 0; t < c.tokens.size(); ++t) {
      CHECK(c.versions[t] == (t < 3 ? 0 : 7));
      // Tokens before the update equal the un-updated run's (same greedy path).
      if (t < 3) CHECK(c.tokens[t] == (*plain)[i].tokens[t]);
    }
    const size_t shared = std::min(c.tokens.size(), (*plain)[i].tokens.size());
    for (size_t t = 3; t < shared; ++t) changed = changed || c.tokens[t] != (*plain)[i].tokens[t];
  }
  CHECK(changed);
}

}  // namespace
}  // namespace crucible::model
