// The decoder's logits against independent computations: a one-layer model worked with
// plain loops in double precision, and a Python reference for every variant.
#include <cmath>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "common/model/checkpoint.h"
#include "common/model/decoder.h"
#include "common/model/safetensors.h"
#include "tests/model/model_test_util.h"

namespace crucible::model {
namespace {

using testing::MaxAbsDiff;
using testing::ReferenceLogits;
using testing::SmallConfig;
using testing::WriteRandomCheckpoint;

using Mat = std::vector<std::vector<double>>;

Mat ToMat(const torch::Tensor& t) {
  torch::Tensor d = t.to(torch::kFloat64).contiguous();
  Mat m(d.size(0), std::vector<double>(d.size(1)));
  for (int64_t i = 0; i < d.size(0); ++i) {
    for (int64_t j = 0; j < d.size(1); ++j) m[i][j] = d[i][j].item<double>();
  }
  return m;
}

std::vector<double> ToVec(const torch::Tensor& t) {
  torch::Tensor d = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// y = W x for W [out][in].
std::vector<double> MatVec(const Mat& w, const std::vector<double>& x) {
  std::vector<double> y(w.size(), 0.0);
  for (size_t i = 0; i < w.size(); ++i) {
    for (size_t j = 0; j < x.size(); ++j) y[i] += w[i][j] * x[j];
  }
  return y;
}

std::vector<double> RmsNorm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= static_cast<double>(x.size());
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = w[i] * x[i] / std::sqrt(ms + eps);
  return y;
}

TEST_CASE("a one-layer model matches logits worked with plain loops", "[decoder]") {
  // One layer, 4 query heads sharing 2 KV heads, head_dim 2, linear rope scaling 2.
  ModelConfig c;
  c.vocab_size = 11;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 2;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 100.0;
  c.rope_scaling_factor = 2.0;
  c.initializer_range = 0.5;
  CausalLm model = RandomCausalLm(c, ModelOptions{}, /*seed=*/7);
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    for (auto& p : model->named_parameters()) {
      if (absl::EndsWith(p.key(), "norm.weight")) p.value().uniform_(0.5, 1.5);  // not all ones
    }
  }
  const std::vector<int64_t> ids = {3, 1, 4, 1, 5};
  const int T = static_cast<int>(ids.size());
  const std::string L = "model.layers.0.";
  auto param = [&](const std::string& name) -> torch::Tensor {
    for (auto& p : model->named_parameters()) {
      if (p.key() == name) return p.value();
    }
    throw std::runtime_error(name);
  };
  const Mat emb = ToMat(param("model.embed_tokens.weight"));
  const Mat wq = ToMat(param(L + "self_attn.q_proj.weight")), wk = ToMat(param(L + "self_attn.k_proj.weight"));
  const Mat wv = ToMat(param(L + "self_attn.v_proj.weight")), wo = ToMat(param(L + "self_attn.o_proj.weight"));
  const Mat wg = ToMat(param(L + "mlp.gate_proj.weight")), wu = ToMat(param(L + "mlp.up_proj.weight"));
  const Mat wd = ToMat(param(L + "mlp.down_proj.weight")), head = ToMat(param("lm_head.weight"));
  const std::vector<double> n1 = ToVec(param(L + "input_layernorm.weight"));
  const std::vector<double> n2 = ToVec(param(L + "post_attention_layernorm.weight"));
  const std::vector<double> nf = ToVec(param("model.norm.weight"));

  // Rotary embedding of one head vector (head_dim 2: one frequency, rotate-half pairs (0, 1)).
  auto rope = [&](std::vector<double> v, int pos) {
    const double inv_freq = 1.0 / std::pow(c.rope_theta, 0.0 / 2.0);
    const double angle = (pos / c.rope_scaling_factor) * inv_freq;
    return std::vector<double>{v[0] * std::cos(angle) - v[1] * std::sin(angle),
                               v[1] * std::cos(angle) + v[0] * std::sin(angle)};
  };
  std::vector<std::vector<double>> x(T), q(T), k(T), v(T);
  for (int t = 0; t < T; ++t) {
    x[t] = emb[ids[t]];
    std::vector<double> h = RmsNorm(x[t], n1, c.rms_norm_eps);
    q[t] = MatVec(wq, h);
    k[t] = MatVec(wk, h);
    v[t] = MatVec(wv, h);
  }
  Mat expected(T);
  for (int t = 0; t < T; ++t) {
    std::vector<double> attn(8, 0.0);
    for (int head_i = 0; head_i < 4; ++head_i) {
      const int kv = head_i / 2;  // 2 query heads per KV head
      std::vector<double> qh = rope({q[t][2 * head_i], q[t][2 * head_i + 1]}, t);
      std::vector<double> scores;
      double mx = -1e300;
      for (int s = 0; s <= t; ++s) {
        std::vector<double> kh = rope({k[s][2 * kv], k[s][2 * kv + 1]}, s);
        scores.push_back((qh[0] * kh[0] + qh[1] * kh[1]) / std::sqrt(2.0));
        mx = std::max(mx, scores.back());
      }
      double z = 0;
      for (double& sc : scores) z += (sc = std::exp(sc - mx));
      for (int s = 0; s <= t; ++s) {
        attn[2 * head_i] += scores[s] / z * v[s][2 * kv];
        attn[2 * head_i + 1] += scores[s] / z * v[s][2 * kv + 1];
      }
    }
    std::vector<double> o = MatVec(wo, attn), h1(8);
    for (int i = 0; i < 8; ++i) h1[i] = x[t][i] + o[i];
    std::vector<double> hn = RmsNorm(h1, n2, c.rms_norm_eps);
    std::vector<double> g = MatVec(wg, hn), u = MatVec(wu, hn), act(12);
    for (int i = 0; i < 12; ++i) act[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
    std::vector<double> d = MatVec(wd, act), h2(8);
    for (int i = 0; i < 8; ++i) h2[i] = h1[i] + d[i];
    expected[t] = MatVec(head, RmsNorm(h2, nf, c.rms_norm_eps));
  }
  c10::InferenceMode inference;
  torch::Tensor logits = model->forward(torch::tensor(ids).unsqueeze(0)).squeeze(0);
  double worst = 0;
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < c.vocab_size; ++i) worst = std::max(worst, std::abs(logits[t][i].item<double>() - expected[t][i]));
  }
  CHECK(worst < 1e-4);
}

TEST_CASE("logits match the Python reference for every architecture variant", "[decoder][reference]") {
  const std::vector<int64_t> ids = {5, 17, 2, 88, 40, 40, 13, 60, 1, 95, 33, 7};
  for (const char* variant : {"llama", "mha", "rope_scaling", "qwen2", "attention_bias", "tied"}) {
    INFO(variant);
    ModelConfig config = SmallConfig(variant);
    auto ck = WriteRandomCheckpoint(config, /*seed=*/11);
    auto model = LoadCausalLm(ck.path(), ModelOptions{});
    REQUIRE(model.ok());
    c10::InferenceMode inference;
    torch::Tensor ours = (*model)->forward(torch::tensor(ids).unsqueeze(0)).squeeze(0);
    std::vector<std::vector<float>> all = ReferenceLogits(ck.path(), ids);
    torch::Tensor expected = torch::empty({static_cast<int64_t>(all.size()), config.vocab_size});
    for (size_t t = 0; t < all.size(); ++t) expected[t] = torch::tensor(all[t]);
    CHECK(MaxAbsDiff(ours, expected) < 1e-4);
    CHECK(ours.abs().max().item<double>() > 0.1);  // not trivially small
  }
}

TEST_CASE("sharded and bf16 checkpoints load to the same logits as the reference", "[decoder][reference]") {
  const std::vector<int64_t> ids = {1, 2, 3, 4, 5, 6};
  ModelConfig config = SmallConfig("llama");
  auto sharded = WriteRandomCheckpoint(config, 5, torch::kFloat32, /*shard_bytes=*/20000);
  CHECK(::access((sharded.path() + "/model.safetensors.index.json").c_str(), F_OK) == 0);
  auto bf16 = WriteRandomCheckpoint(config, 5, torch::kBFloat16);
  for (const auto* ck : {&sharded, &bf16}) {
    auto model = LoadCausalLm(ck->path(), ModelOptions{});
    REQUIRE(model.ok());
    c10::InferenceMode inference;
    torch::Tensor ours = (*model)->forward(torch::tensor(ids).unsqueeze(0)).squeeze(0);
    std::vector<std::vector<float>> all = ReferenceLogits(ck->path(), ids);
    torch::Tensor expected = torch::empty({static_cast<int64_t>(all.size()), config.vocab_size});
    for (size_t t = 0; t < all.size(); ++t) expected[t] = torch::tensor(all[t]);
    CHECK(MaxAbsDiff(ours, expected) < 1e-4);
  }
}

TEST_CASE("decoding with the KV cache gives the logits of a full forward pass", "[decoder]") {
  for (const char* variant : {"llama", "qwen2", "rope_scaling"}) {
    INFO(variant);
    ModelConfig config = SmallConfig(variant);
    CausalLm model = RandomCausalLm(config, ModelOptions{}, 21);
    c10::InferenceMode inference;
    // Two prompts of different lengths, left-padded into one batch.
    const std::vector<std::vector<int64_t>> seqs = {{4, 8, 15, 16, 23, 42, 7, 9}, {11, 3, 5, 9, 1, 2}};
    const int64_t prompt = 3, P = 5;  // first `prompt` tokens of each are the prompt...
    KvCache cache(config, 2, 16, ModelOptions{});
    // Prefill: row 0 has a 5-token prompt, row 1 a 3-token prompt (2 positions of padding).
    torch::Tensor input = torch::zeros({2, P}, torch::kInt64), positions = torch::zeros({2, P}, torch::kInt64);
    for (int64_t t = 0; t < P; ++t) {
      input[0][t] = seqs[0][t];
      positions[0][t] = t;
    }
    for (int64_t t = 0; t < prompt; ++t) {
      input[1][P - prompt + t] = seqs[1][t];
      positions[1][P - prompt + t] = t;
    }
    cache.valid().narrow(1, 0, P).select(0, 0).fill_(true);
    cache.valid().narrow(1, P - prompt, prompt).select(0, 1).fill_(true);
    ForwardArgs args{input, positions, CausalMask(cache.valid(), 0, P), &cache};
    std::vector<torch::Tensor> step_logits = {model->Logits(model->Hidden(args).narrow(1, P - 1, 1)).squeeze(1)};
    // Then one token per step: row 0 continues at position 5, row 1 at position 3.
    for (int64_t step = 0; step < 3; ++step) {
      torch::Tensor next = torch::tensor({seqs[0][P + step], seqs[1][prompt + step]}).view({2, 1});
      torch::Tensor pos = torch::tensor({P + step, prompt + step}).view({2, 1});
      cache.valid().narrow(1, P + step, 1).fill_(true);
      ForwardArgs a{next, pos, CausalMask(cache.valid(), P + step, 1), &cache};
      step_logits.push_back(model->Logits(model->Hidden(a)).squeeze(1));
    }
    torch::Tensor full0 = model->forward(torch::tensor(seqs[0]).unsqueeze(0)).squeeze(0);
    torch::Tensor full1 = model->forward(torch::tensor(seqs[1]).unsqueeze(0)).squeeze(0);
    for (int64_t step = 0; step <= 3; ++step) {
      CHECK(MaxAbsDiff(step_logits[step][0], full0[P - 1 + step]) < 1e-4);
      CHECK(MaxAbsDiff(step_logits[step][1], full1[prompt - 1 + step]) < 1e-4);
    }
  }
}

TEST_CASE("bf16 compute stays close to float32 on CPU", "[decoder]") {
  ModelConfig config = SmallConfig("llama");
  auto ck = WriteRandomCheckpoint(config, 9, torch::kBFloat16);
  auto f32 = LoadCausalLm(ck.path(), ModelOptions{torch::kCPU, torch::kFloat32});
  auto b16 = LoadCausalLm(ck.path(), ModelOptions{torch::kCPU, torch::kBFloat16});
  REQUIRE(f32.ok());
  REQUIRE(b16.ok());
  c10::InferenceMode inference;
  torch::Tensor ids = torch::tensor({3, 1, 4, 1, 5, 9, 2, 6}).unsqueeze(0);
  torch::Tensor a = (*f32)->forward(ids), b = (*b16)->forward(ids);
  CHECK(b.scalar_type() == torch::kFloat32);
  CHECK(MaxAbsDiff(a, b) < 0.15);
  CHECK(torch::equal(a.argmax(-1), b.argmax(-1)));
}

TEST_CASE("loading names the tensor that is missing, unexpected or mis-shaped", "[decoder][checkpoint]") {
  ModelConfig config = SmallConfig("llama");
  auto ck = WriteRandomCheckpoint(config, 1);
  auto source = SafetensorsFile::Open(ck.path() + "/model.safetensors");
  REQUIRE(source.ok());
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const std::string& name : (*source)->names()) tensors.emplace_back(name, *(*source)->Get(name));
  auto write_and_load = [&](std::vector<std::pair<std::string, torch::Tensor>> t) {
    REQUIRE(WriteSafetensors(ck.path() + "/model.safetensors", t).ok());
    return LoadCausalLm(ck.path(), ModelOptions{}).status();
  };
  auto missing = tensors;
  missing.erase(std::remove_if(missing.begin(), missing.end(),
                               [](const auto& e) { return e.first == "model.layers.1.mlp.up_proj.weight"; }),
                missing.end());
  absl::Status s = write_and_load(missing);
  CHECK(absl::StrContains(s.message(), "missing tensor \"model.layers.1.mlp.up_proj.weight\" (expected shape [56, 32])"));
  auto extra = tensors;
  extra.emplace_back("model.layers.9.foo.weight", torch::zeros({2}));
  s = write_and_load(extra);
  CHECK(absl::StrContains(s.message(), "unexpected tensor \"model.layers.9.foo.weight\""));
  auto shaped = tensors;
  for (auto& e : shaped) {
    if (e.first == "model.norm.weight") e.second = torch::ones({31});
  }
  s = write_and_load(shaped);
  CHECK(absl::StrContains(s.message(), "tensor \"model.norm.weight\" has shape [31], expected [32]"));
  REQUIRE(WriteFile(ck.path() + "/model.safetensors", "garbage").ok());
  CHECK_FALSE(LoadCausalLm(ck.path(), ModelOptions{}).ok());
}

}  // namespace
}  // namespace crucible::model
