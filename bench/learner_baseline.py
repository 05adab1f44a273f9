#!/usr/bin/env python3
"""The Python baseline of bench/learner_bench: the same PPO update in PyTorch (Debian's
python3-torch, the libtorch kernels crucible links), written the way TRL's PPOTrainer does it
with PEFT LoRA adapters on every attention and MLP projection:

  - the reference log-probs with the adapters disabled (no grad);
  - the values of the value head at the start of the step (no grad);
  - the per-token reward: -kl_coef * (logp_behaviour - logp_ref), plus the verdict at the
    last token; GAE by the reversed Python loop of TRL's compute_advantages; whitening;
  - one forward/backward with the clipped surrogate and clipped value loss, global-norm
    clipping, AdamW over the LoRA factors and the value head.

    learner_baseline.py --checkpoint DIR --data FILE.json --reps 3 --lora-rank 16 --threads N

FILE.json: {"prompts": [[ids]], "completions": [[ids]], "logprobs": [[floats]], "rewards": []}.
Prints one JSON object: seconds per update (mean of the timed reps), trained tokens, peak RSS.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generation_baseline as base  # noqa: E402  the same Llama modules


class LoraLinear(torch.nn.Module):
    """PEFT's lora.Linear: base(x) + B(A(x)) * alpha / r, A kaiming-uniform, B zero."""

    def __init__(self, base_layer, r, alpha):
        super().__init__()
        self.base_layer = base_layer
        self.lora_A = torch.nn.Linear(base_layer.in_features, r, bias=False)
        self.lora_B = torch.nn.Linear(r, base_layer.out_features, bias=False)
        torch.nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        torch.nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r
        self.enabled = True

    def forward(self, x):
        out = self.base_layer(x)
        if self.enabled:
            out = out + self.lora_B(self.lora_A(x)) * self.scaling
        return out


def attach_lora(model, r, alpha):
    loras = []
    for layer in model.layers:
        for owner, names in ((layer.self_attn, ("q_proj", "k_proj", "v_proj", "o_proj")),
                             (layer, ("gate_proj", "up_proj", "down_proj"))):
            for n in names:
                wrapped = LoraLinear(getattr(owner, n), r, alpha)
                setattr(owner, n, wrapped)
                loras.append(wrapped)
    return loras


def hidden_states(model, ids):
    """Full-sequence final hidden states [B, T, H] with causal attention (right padding)."""
    b, t = ids.shape
    x = model.embed(ids)
    positions = torch.arange(t)[None, :].expand(b, t)
    freqs = positions.float()[..., None] * model.inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    mask = torch.triu(torch.full((t, t), torch.finfo(torch.float32).min), diagonal=1)[None, None]
    for layer in model.layers:
        x = layer(x, cos, sin, mask, [None, None])
    return model.norm(x)


def completion_pass(model, value_head, ids, prompt_len, completion_len):
    h = hidden_states(model, ids)
    pred = h[:, prompt_len - 1 : prompt_len - 1 + completion_len]
    logits = model.lm_head(pred).float()
    targets = ids[:, prompt_len : prompt_len + completion_len]
    logp = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    values = value_head(pred).squeeze(-1) if value_head is not None else None
    return logp, values


def masked_whiten(x):
    mean, var = x.mean(), x.var()
    return (x - mean) * torch.rsqrt(var + 1e-8)


def ppo_update(model, loras, value_head, opt, params, batch, o):
    ids, behaviour, rewards, p, c = batch
    with torch.no_grad():
        for l in loras:
            l.enabled = False
        ref_logp, _ = completion_pass(model, None, ids, p, c)
        for l in loras:
            l.enabled = True
        _, old_values = completion_pass(model, value_head, ids, p, c)
        kl = behaviour - ref_logp
        token_rewards = -o["kl_coef"] * kl
        token_rewards[:, -1] += rewards
        lastgaelam = 0
        advantages_reversed = []
        for t in reversed(range(c)):
            nextvalues = old_values[:, t + 1] if t < c - 1 else 0.0
            delta = token_rewards[:, t] + o["gamma"] * nextvalues - old_values[:, t]
            lastgaelam = delta + o["gamma"] * o["lam"] * lastgaelam
            advantages_reversed.append(lastgaelam)
        advantages = torch.stack(advantages_reversed[::-1]).transpose(0, 1)
        returns = advantages + old_values
        advantages = masked_whiten(advantages)
    logp, values = completion_pass(model, value_head, ids, p, c)
    ratio = torch.exp(logp - behaviour)
    pg = torch.max(-advantages * ratio, -advantages * torch.clamp(ratio, 0.8, 1.2)).mean()
    v_clipped = old_values + torch.clamp(values - old_values, -0.2, 0.2)
    vf = 0.5 * torch.max((values - returns) ** 2, (v_clipped - returns) ** 2).mean()
    loss = pg + o["value_coef"] * vf
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


def peak_rss_mib():
    """VmHWM: this process's own high-water mark (ru_maxrss would carry over the spawning
    parent's peak across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--lora-rank", type=int, default=16)
    ap.add_argument("--lora-alpha", type=float, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    config, weights = base.load(a.checkpoint)
    model = base.CausalLm(config, weights)
    del weights
    loras = attach_lora(model, a.lora_rank, a.lora_alpha)
    value_head = torch.nn.Linear(config["hidden_size"], 1)
    params = [p for l in loras for p in (l.lora_A.weight, l.lora_B.weight)] + list(value_head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    d = json.load(open(a.data))
    p, c = len(d["prompts"][0]), len(d["completions"][0])
    ids = torch.tensor([pr + co for pr, co in zip(d["prompts"], d["completions"])], dtype=torch.int64)
    batch = (ids, torch.tensor(d["logprobs"]), torch.tensor(d["rewards"]), p, c)
    o = {"kl_coef": 0.05, "gamma": 1.0, "lam": 0.95, "value_coef": 0.1}
    ppo_update(model, loras, value_head, opt, params, batch, o)  # warm-up
    start = time.perf_counter()
    for _ in range(a.reps):
        ppo_update(model, loras, value_head, opt, params, batch, o)
    seconds = (time.perf_counter() - start) / a.reps
    print(json.dumps({"seconds_per_update": seconds, "tokens": len(d["prompts"]) * c,
                      "peak_rss_mib": peak_rss_mib()}))


if __name__ == "__main__":
    main()
