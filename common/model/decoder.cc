#include "common/model/decoder.h"

#include <cmath>

namespace crucible::model {

namespace F = torch::nn::functional;

KvCache::KvCache(const ModelConfig& config, int64_t batch, int64_t capacity,
                 const ModelOptions& options)
    : batch_(batch), capacity_(capacity) {
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    keys_.push_back(torch::empty({batch, config.num_key_value_heads, capacity, config.head_dim},
                                 options.tensor_options()));
    values_.push_back(torch::empty_like(keys_.back()));
  }
  valid_ = torch::zeros({batch, capacity}, torch::TensorOptions().dtype(torch::kBool).device(options.device));
}

torch::Tensor CausalMask(const torch::Tensor& valid, int64_t start, int64_t steps) {
  const int64_t total = start + steps;
  auto opts = torch::TensorOptions().device(valid.device());
  torch::Tensor key_pos = torch::arange(total, opts.dtype(torch::kInt64));
  torch::Tensor query_pos = torch::arange(start, total, opts.dtype(torch::kInt64));
  torch::Tensor causal = key_pos.unsqueeze(0) <= query_pos.unsqueeze(1);          // [T, S]
  // A padding query sees only itself: a row with no visible key would turn into NaN, and
  // NaN values in the cache poison real queries too (0 * NaN), even though they are masked.
  torch::Tensor self = key_pos.unsqueeze(0) == query_pos.unsqueeze(1);
  torch::Tensor visible =
      (causal.unsqueeze(0) & valid.narrow(1, 0, total).unsqueeze(1)) | self.unsqueeze(0);  // [B, T, S]
  torch::Tensor mask = torch::zeros(visible.sizes(), opts.dtype(torch::kFloat32));
  mask.masked_fill_(visible.logical_not(), -std::numeric_limits<float>::infinity());
  return mask.unsqueeze(1);
}

namespace {

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

AttentionImpl::AttentionImpl(const ModelConfig& c, const ModelOptions& o)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  const auto opts = o.tensor_options();
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads_ * head_dim_, c.qkv_bias, opts));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias, opts));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias, opts));
  o_proj = register_module("o_proj", Linear(heads_ * head_dim_, c.hidden_size, c.o_bias, opts));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                     const torch::Tensor& sin, const torch::Tensor& mask,
                                     KvCache* cache, size_t layer) {
  const int64_t B = x.size(0), T = x.size(1);
  torch::Tensor q = q_proj(x).view({B, T, heads_, head_dim_}).transpose(1, 2);     // [B, h, T, d]
  torch::Tensor k = k_proj(x).view({B, T, kv_heads_, head_dim_}).transpose(1, 2);  // [B, kv, T, d]
  torch::Tensor v = v_proj(x).view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
  const torch::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);                   // [B, 1, T, d]
  q = q * c + RotateHalf(q) * s;
  k = k * c + RotateHalf(k) * s;
  if (cache != nullptr) {
    const int64_t start = cache->length();
    cache->keys(layer).narrow(2, start, T).copy_(k);
    cache->values(layer).narrow(2, start, T).copy_(v);
    // A prefill attends over the fresh (contiguous) keys; later steps over the cache.
    if (start > 0) {
      k = cache->keys(layer).narrow(2, 0, start + T);
      v = cache->values(layer).narrow(2, 0, start + T);
    }
  }
  const int64_t S = k.size(2), group = heads_ / kv_heads_;
  // Grouped-query attention without repeating keys: the `group` query heads of one KV head
  // (heads i*group .. i*group+group-1, as HF's repeat_kv pairs them) are stacked along the
  // rows, so each KV head meets its queries in one plain batched GEMM and the cache is
  // never copied or broadcast.
  torch::Tensor qg = q.reshape({B, kv_heads_, group * T, head_dim_});
  torch::Tensor scores = torch::matmul(qg, k.transpose(-1, -2)) /
                         std::sqrt(static_cast<double>(head_dim_));               // [B, kv, g*T, S]
  scores = scores.to(torch::kFloat32).view({B, kv_heads_, group, T, S});
  if (mask.defined()) {
    scores = scores + mask.unsqueeze(1);                                           // [B, 1, 1, T, S]
  } else {
    scores = scores + CausalMask(torch::ones({B, S}, torch::TensorOptions().dtype(torch::kBool).device(x.device())),
                                 S - T, T).unsqueeze(1);
  }
  torch::Tensor probs = torch::softmax(scores, -1).to(x.scalar_type()).view({B, kv_heads_, group * T, S});
  torch::Tensor out = torch::matmul(probs, v);                                     // [B, kv, g*T, d]
  out = out.view({B, heads_, T, head_dim_}).transpose(1, 2).reshape({B, T, heads_ * head_dim_});
  return o_proj(out);
}

MlpImpl::MlpImpl(const ModelConfig& c, const ModelOptions& o) {
  const auto opts = o.tensor_options();
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, opts));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, opts));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias, opts));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(F::silu(gate_proj(x)) * up_proj(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, const ModelOptions& o) {
  const auto opts = o.tensor_options();
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, opts));
  self_attn = register_module("self_attn", Attention(c, o));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, opts));
  mlp = register_module("mlp", Mlp(c, o));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                        const torch::Tensor& sin, const torch::Tensor& mask,
                                        KvCache* cache, size_t layer) {
  torch::Tensor h = x + self_attn(input_layernorm(x), cos, sin, mask, cache, layer);
  return h + mlp(post_attention_layernorm(h));
}

BackboneImpl::BackboneImpl(const ModelConfig& c, const ModelOptions& o) {
  embed_tokens = register_module(
      "embed_tokens", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size)));
  embed_tokens->to(o.device, o.dtype);
  embed_tokens->weight.set_requires_grad(false);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) layers->push_back(DecoderLayer(c, o));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, o.tensor_options()));
}

CausalLmImpl::CausalLmImpl(ModelConfig config, ModelOptions options)
    : config_(std::move(config)), options_(options) {
  model = register_module("model", Backbone(config_, options_));
  if (!config_.tie_word_embeddings) {
    lm_head = register_module("lm_head", Linear(config_.hidden_size, config_.vocab_size, false,
                                                options_.tensor_options()));
  }
  const int64_t d = config_.head_dim;
  inv_freq_ = 1.0 / torch::pow(config_.rope_theta,
                               torch::arange(0, d, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(d));
  inv_freq_ = inv_freq_.to(options_.device);
}

torch::Tensor CausalLmImpl::Hidden(const ForwardArgs& args) {
  torch::Tensor h = model->embed_tokens(args.input_ids);
  // Rotary tables in float32, applied in the activations' dtype (as HF does).
  torch::Tensor pos = args.positions.to(torch::kFloat32) / config_.rope_scaling_factor;
  torch::Tensor freqs = pos.unsqueeze(-1) * inv_freq_;                   // [B, T, d/2]
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  torch::Tensor cos = emb.cos().to(h.scalar_type()), sin = emb.sin().to(h.scalar_type());
  for (size_t l = 0; l < model->layers->size(); ++l) {
    h = model->layers[l]->as<DecoderLayer>()->forward(h, cos, sin, args.mask, args.cache, l);
  }
  if (args.cache != nullptr) args.cache->Advance(args.input_ids.size(1));
  return model->norm(h);
}

torch::Tensor CausalLmImpl::Logits(const torch::Tensor& hidden) {
  torch::Tensor logits = lm_head ? lm_head(hidden) : F::linear(hidden, model->embed_tokens->weight);
  return logits.to(torch::kFloat32);
}

torch::Tensor CausalLmImpl::forward(const torch::Tensor& input_ids) {
  ForwardArgs args;
  args.input_ids = input_ids;
  args.positions = torch::arange(input_ids.size(1), torch::TensorOptions().dtype(torch::kInt64).device(input_ids.device()))
                       .unsqueeze(0)
                       .expand({input_ids.size(0), input_ids.size(1)});
  return Logits(Hidden(args));
}

std::vector<std::pair<std::string, Linear>> CausalLmImpl::LinearLayers() {
  std::vector<std::pair<std::string, Linear>> out;
  for (auto& item : named_modules("", /*include_self=*/false)) {
    if (item.value()->as<LinearImpl>() != nullptr) {
      if (item.key() == "lm_head") continue;  // never adapted
      out.emplace_back(item.key(), Linear(std::dynamic_pointer_cast<LinearImpl>(item.value())));
    }
  }
  return out;
}

std::vector<torch::Tensor> CausalLmImpl::TrainableParameters() {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& p : parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

}  // namespace crucible::model
