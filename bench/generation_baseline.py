#!/usr/bin/env python3
"""The Python baseline of bench/generation_bench: the same model and sampling loop in
PyTorch, written the way Hugging Face transformers runs them on PyTorch 1.13 (Debian's
python3-torch, the same libtorch kernels crucible links):

  - LlamaForCausalLM's eager attention (PyTorch 1.13 has no scaled_dot_product_attention),
    repeat_kv for grouped-query attention, softmax in float32;
  - a DynamicCache: each step's keys and values are appended with torch.cat;
  - left-padded prompts with an attention mask, positions from its cumulative sum;
  - LM-head logits for the last position only (transformers' logits_to_keep=1);
  - TemperatureLogitsWarper, TopPLogitsWarper (sort, cumsum), softmax, multinomial, and the
    behaviour log-prob of each sampled token (log_softmax of the tempered logits);
  - every sequence runs to max_new_tokens (no stop tokens), as in the C++ side.

    generation_baseline.py --checkpoint DIR --prompts PROMPTS.json --new-tokens 128 \
        --threads 2 --seed 0

PROMPTS.json is a list of token-id lists (the batch), written by the C++ driver so that
both sides run the same prompts.

prints one JSON object: prompt/new token counts, prefill and decode seconds, peak RSS.
"""
import argparse
import json
import math
import os
import resource
import struct
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).float()
    return out


def load(dir_):
    config = json.load(open(os.path.join(dir_, "config.json")))
    index = os.path.join(dir_, "model.safetensors.index.json")
    if os.path.exists(index):
        weights = {}
        for shard in sorted(set(json.load(open(index))["weight_map"].values())):
            weights.update(read_safetensors(os.path.join(dir_, shard)))
    else:
        weights = read_safetensors(os.path.join(dir_, "model.safetensors"))
    return config, weights


class RMSNorm(torch.nn.Module):
    def __init__(self, weight, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        variance = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        return self.weight * x.to(dtype)


def linear(w, prefix, bias):
    out_f, in_f = w[prefix + ".weight"].shape
    layer = torch.nn.Linear(in_f, out_f, bias=bias)
    layer.weight = torch.nn.Parameter(w[prefix + ".weight"], requires_grad=False)
    if bias:
        layer.bias = torch.nn.Parameter(w[prefix + ".bias"], requires_grad=False)
    return layer


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, kv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kv, n_rep, s, d).reshape(b, kv * n_rep, s, d)


class Attention(torch.nn.Module):
    def __init__(self, c, w, p):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.head_dim = c.get("head_dim", c["hidden_size"] // self.heads)
        qkv_bias = c.get("model_type") == "qwen2" or c.get("attention_bias", False)
        self.q_proj = linear(w, p + "q_proj", qkv_bias)
        self.k_proj = linear(w, p + "k_proj", qkv_bias)
        self.v_proj = linear(w, p + "v_proj", qkv_bias)
        self.o_proj = linear(w, p + "o_proj", c.get("attention_bias", False))

    def forward(self, x, cos, sin, mask, cache):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache[0] is not None:  # DynamicCache.update
            k = torch.cat([cache[0], k], dim=-2)
            v = torch.cat([cache[1], v], dim=-2)
        cache[0], cache[1] = k, v
        rep = self.heads // self.kv_heads
        k, v = repeat_kv(k, rep), repeat_kv(v, rep)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + mask
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out)


class Layer(torch.nn.Module):
    def __init__(self, c, w, i):
        super().__init__()
        p = f"model.layers.{i}."
        eps = c.get("rms_norm_eps", 1e-6)
        self.input_layernorm = RMSNorm(w[p + "input_layernorm.weight"], eps)
        self.self_attn = Attention(c, w, p + "self_attn.")
        self.post_attention_layernorm = RMSNorm(w[p + "post_attention_layernorm.weight"], eps)
        bias = c.get("mlp_bias", False)
        self.gate_proj = linear(w, p + "mlp.gate_proj", bias)
        self.up_proj = linear(w, p + "mlp.up_proj", bias)
        self.down_proj = linear(w, p + "mlp.down_proj", bias)

    def forward(self, x, cos, sin, mask, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(torch.nn.functional.silu(self.gate_proj(h)) * self.up_proj(h))


class CausalLm(torch.nn.Module):
    def __init__(self, c, w):
        super().__init__()
        self.embed = torch.nn.Embedding.from_pretrained(w["model.embed_tokens.weight"])
        self.layers = torch.nn.ModuleList(Layer(c, w, i) for i in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(w["model.norm.weight"], c.get("rms_norm_eps", 1e-6))
        head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
        self.lm_head = torch.nn.Linear(head.shape[1], head.shape[0], bias=False)
        self.lm_head.weight = torch.nn.Parameter(head, requires_grad=False)
        head_dim = c.get("head_dim", c["hidden_size"] // c["num_attention_heads"])
        theta = c.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        scaling = c.get("rope_scaling") or {}
        self.factor = scaling.get("factor", 1.0) if scaling.get("type", scaling.get("rope_type")) == "linear" else 1.0

    def forward(self, ids, positions, attention_mask, caches):
        x = self.embed(ids)
        freqs = (positions.float() / self.factor)[..., None] * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        # The 4-D additive mask of _prepare_4d_causal_attention_mask_with_cache_position.
        b, t = ids.shape
        s = attention_mask.shape[1]
        past = s - t
        causal = torch.full((t, s), torch.finfo(torch.float32).min)
        causal = torch.triu(causal, diagonal=past + 1)
        mask = causal[None, None, :, :].expand(b, 1, t, s).clone()
        mask = mask.masked_fill(attention_mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)
        for layer, cache in zip(self.layers, caches):
            x = layer(x, cos, sin, mask, cache)
        x = self.norm(x[:, -1:, :])  # logits_to_keep=1
        return self.lm_head(x)[:, -1, :].float()


def sample(logits, temperature, top_p):
    scores = logits / temperature
    logp_all = torch.log_softmax(scores, dim=-1)
    if top_p < 1.0:
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cumulative <= (1 - top_p)
        remove_sorted[..., -1:] = 0
        remove = remove_sorted.scatter(1, sorted_indices, remove_sorted)
        scores = scores.masked_fill(remove, -float("inf"))
    token = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)
    return token, logp_all.gather(1, token[:, None]).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="", help="write a Chrome trace of the timed generation here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    config, weights = load(a.checkpoint)
    model = CausalLm(config, weights).eval()
    del weights

    prompts = json.load(open(a.prompts))

    def run(new_tokens):
        batch, width = len(prompts), max(len(p) for p in prompts)
        ids = torch.zeros(batch, width, dtype=torch.long)
        attention = torch.zeros(batch, width, dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p) :] = torch.tensor(p)
            attention[i, width - len(p) :] = 1
        with torch.inference_mode():
            start = time.perf_counter()
            caches = [[None, None] for _ in model.layers]
            positions = (attention.cumsum(-1) - 1).clamp(min=0)
            logits = model(ids, positions, attention, caches)
            prefill = time.perf_counter() - start
            start = time.perf_counter()
            out = []
            for step in range(new_tokens):
                token, logp = sample(logits, a.temperature, a.top_p)
                out.append((token, logp))
                if step + 1 == new_tokens:
                    break
                attention = torch.cat([attention, attention.new_ones(batch, 1)], dim=-1)
                positions = attention.sum(-1, keepdim=True) - 1
                logits = model(token[:, None], positions, attention, caches)
            decode = time.perf_counter() - start
        return sum(len(p) for p in prompts), batch * new_tokens, prefill, decode

    run(2)  # warm-up
    if a.profile:
        with torch.autograd.profiler.profile() as prof:
            prompt, new, prefill, decode = run(a.new_tokens)
        prof.export_chrome_trace(a.profile)
    else:
        prompt, new, prefill, decode = run(a.new_tokens)
    print(json.dumps({
        "prompt_tokens": prompt,
        "new_tokens": new,
        "prefill_seconds": prefill,
        "decode_seconds": decode,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
