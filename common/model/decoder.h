// The LLaMA-family decoder (LLaMA, CodeLlama, DeepSeek-Coder, Mistral, Qwen2): token
// embeddings, pre-norm blocks of grouped-query attention with rotary embeddings (HF's
// rotate-half convention, linear rope scaling) and a SwiGLU MLP, a final RMSNorm and an LM
// head, optionally tied to the embeddings. Parameter names are Hugging Face's
// ("model.layers.0.self_attn.q_proj.weight", ...), so checkpoints load by name.
//
// Numerics follow the HF implementation: RMSNorm and attention softmax in float32, rotary
// tables computed in float32 and applied in the activations' dtype, logits returned as
// float32. The device and dtype are chosen at construction; CPU float32 is the reference.
//
// Attention can run over a preallocated KV cache: each call appends T positions to every
// layer's cache in place (no per-token concatenation) and attends over everything cached.
// Batches are left-padded: `valid` marks which cached positions hold real tokens.
#ifndef CRUCIBLE_COMMON_MODEL_DECODER_H_
#define CRUCIBLE_COMMON_MODEL_DECODER_H_

#include <memory>
#include <vector>

#include "common/model/config.h"
#include "common/model/layers.h"
#include "common/model/torch.h"

namespace crucible::model {

struct ModelOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  torch::TensorOptions tensor_options() const {
    return torch::TensorOptions().device(device).dtype(dtype);
  }
};

// Keys and values of every layer for `batch` sequences of up to `capacity` positions.
class KvCache {
 public:
  KvCache(const ModelConfig& config, int64_t batch, int64_t capacity, const ModelOptions& options);
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return batch_; }
  torch::Tensor& keys(size_t layer) { return keys_[layer]; }
  torch::Tensor& values(size_t layer) { return values_[layer]; }
  // [batch, capacity] bool: positions that hold real (not padding) tokens.
  torch::Tensor& valid() { return valid_; }
  void Advance(int64_t steps) { length_ += steps; }

 private:
  std::vector<torch::Tensor> keys_, values_;  // [batch, kv_heads, capacity, head_dim]
  torch::Tensor valid_;
  int64_t batch_, capacity_, length_ = 0;
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, const ModelOptions& options);
  // x [B, T, H]; cos/sin [B, T, head_dim]; mask additive [B, 1, T, S] (S = cached + T).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KvCache* cache, size_t layer);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& config, const ModelOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, const ModelOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KvCache* cache, size_t layer);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

class BackboneImpl : public torch::nn::Module {
 public:
  BackboneImpl(const ModelConfig& config, const ModelOptions& options);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(Backbone);

// What a forward pass needs besides the tokens.
struct ForwardArgs {
  torch::Tensor input_ids;  // [B, T] int64
  torch::Tensor positions;  // [B, T] int64: rotary positions
  torch::Tensor mask;       // [B, 1, T, S] float32 additive, or undefined for plain causal
  KvCache* cache = nullptr;
};

class CausalLmImpl : public torch::nn::Module {
 public:
  CausalLmImpl(ModelConfig config, ModelOptions options);

  // Final normalised hidden states [B, T, H] (the cache, if any, advances by T).
  torch::Tensor Hidden(const ForwardArgs& args);
  // LM-head logits, float32, for hidden states [..., H].
  torch::Tensor Logits(const torch::Tensor& hidden);
  // Full-sequence logits [B, T, V] with causal attention and positions 0..T-1.
  torch::Tensor forward(const torch::Tensor& input_ids);

  const ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }

  // Every LoRA-capable linear layer, by module path ("model.layers.0.self_attn.q_proj").
  std::vector<std::pair<std::string, Linear>> LinearLayers();
  // The parameters an optimizer should see (LoRA A/B, nothing of the base).
  std::vector<torch::Tensor> TrainableParameters();

  Backbone model{nullptr};
  Linear lm_head{nullptr};  // unset when tied to the embeddings

 private:
  ModelConfig config_;
  ModelOptions options_;
  torch::Tensor inv_freq_;  // float32 [head_dim / 2]
};
TORCH_MODULE(CausalLm);

// Additive attention mask [B, 1, T, S] for queries at cache positions [start, start + T):
// a key s is visible if valid[b, s] and s <= start + t, and every query sees itself.
torch::Tensor CausalMask(const torch::Tensor& valid, int64_t start, int64_t steps);

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_DECODER_H_
