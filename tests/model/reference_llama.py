#!/usr/bin/env python3
"""An independent reference forward pass for crucible's logits tests.

Written after Hugging Face's modeling_llama.py / modeling_qwen2.py (eager attention, no
cache), not from the C++ code: it reads config.json and the safetensors files itself and
prints the logits of every position as JSON.

    reference_llama.py CHECKPOINT_DIR '[1, 2, 3]'
"""
import json
import math
import os
import struct
import sys

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
        out[name] = t.reshape(e["shape"]).clone()
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
    return config, {k: v.float() for k, v in weights.items()}


def rms_norm(x, w, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def forward(config, w, ids):
    hidden = config["hidden_size"]
    n_heads = config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads", n_heads)
    head_dim = config.get("head_dim", hidden // n_heads)
    eps = config.get("rms_norm_eps", 1e-6)
    theta = config.get("rope_theta", 10000.0)
    scaling = config.get("rope_scaling") or {}
    factor = scaling.get("factor", 1.0) if scaling.get("type", scaling.get("rope_type")) == "linear" else 1.0
    qwen2 = config.get("model_type") == "qwen2"
    attention_bias = config.get("attention_bias", False)

    T = len(ids)
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(T).float() / factor
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.full((T, T), float("-inf")).triu(1)

    def linear(h, name, bias):
        y = h @ w[name + ".weight"].T
        return y + w[name + ".bias"] if bias else y

    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        qkv_bias = qwen2 or attention_bias
        q = linear(h, p + "self_attn.q_proj", qkv_bias).view(T, n_heads, head_dim).transpose(0, 1)
        k = linear(h, p + "self_attn.k_proj", qkv_bias).view(T, n_kv, head_dim).transpose(0, 1)
        v = linear(h, p + "self_attn.v_proj", qkv_bias).view(T, n_kv, head_dim).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = n_heads // n_kv
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        scores = q @ k.transpose(1, 2) / math.sqrt(head_dim) + causal
        attn = torch.softmax(scores, dim=-1) @ v
        attn = attn.transpose(0, 1).reshape(T, n_heads * head_dim)
        x = x + linear(attn, p + "self_attn.o_proj", attention_bias)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        mlp_bias = config.get("mlp_bias", False)
        gate = linear(h, p + "mlp.gate_proj", mlp_bias)
        up = linear(h, p + "mlp.up_proj", mlp_bias)
        x = x + linear(torch.nn.functional.silu(gate) * up, p + "mlp.down_proj", mlp_bias)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if config.get("tie_word_embeddings") else w["lm_head.weight"]
    return x @ head.T


def main():
    torch.set_grad_enabled(False)
    config, weights = load(sys.argv[1])
    ids = json.loads(sys.argv[2])
    logits = forward(config, weights, ids)
    json.dump(logits.tolist(), sys.stdout)


if __name__ == "__main__":
    main()
