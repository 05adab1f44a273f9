#include "common/model/sampler.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "absl/strings/str_cat.h"

namespace crucible::model {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// One sampling step for every row: the chosen tokens and their behaviour log-probs.
std::pair<torch::Tensor, torch::Tensor> SampleStep(const torch::Tensor& logits, const SamplingOptions& o,
                                                   torch::Generator& gen) {
  if (o.greedy) {
    torch::Tensor token = logits.argmax(-1, /*keepdim=*/true);
    torch::Tensor logp = torch::log_softmax(logits, -1).gather(1, token);
    return {token.squeeze(1), logp.squeeze(1)};
  }
  torch::Tensor scaled = logits / o.temperature;
  torch::Tensor logp_all = torch::log_softmax(scaled, -1);
  torch::Tensor filtered = scaled;
  const int64_t vocab = logits.size(1);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  if (o.top_k > 0 && o.top_k < vocab) {
    torch::Tensor kth = std::get<0>(scaled.topk(o.top_k, -1)).narrow(1, o.top_k - 1, 1);
    filtered = filtered.masked_fill(filtered < kth, neg_inf);
  }
  if (o.top_p < 1.0) {
    auto [sorted, index] = filtered.sort(-1, /*descending=*/true);
    torch::Tensor probs = torch::softmax(sorted, -1);
    // A token is kept while the mass before it is below top_p (the first always is).
    torch::Tensor remove = (probs.cumsum(-1) - probs) >= o.top_p;
    sorted = sorted.masked_fill(remove, neg_inf);
    filtered = torch::full_like(filtered, neg_inf).scatter(1, index, sorted);
  }
  torch::Tensor token = torch::multinomial(torch::softmax(filtered, -1), 1, /*replacement=*/false, gen);
  return {token.squeeze(1), logp_all.gather(1, token).squeeze(1)};
}

absl::Status Validate(const CausalLm& model, const std::vector<std::vector<int32_t>>& prompts,
                      const SamplingOptions& o, const Tokenizer* tokenizer) {
  if (prompts.empty()) return absl::InvalidArgumentError("no prompts");
  const int64_t vocab = model->config().vocab_size;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " is empty"));
    for (int32_t t : prompts[i]) {
      if (t < 0 || t >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat("prompt ", i, ": token ", t, " outside the vocabulary of ", vocab));
      }
    }
  }
  if (o.max_new_tokens <= 0) return absl::InvalidArgumentError("max_new_tokens must be positive");
  if (!o.greedy && !(o.temperature > 0)) return absl::InvalidArgumentError("temperature must be positive");
  if (!(o.top_p > 0 && o.top_p <= 1)) return absl::InvalidArgumentError("top_p must be in (0, 1]");
  if (o.top_k < 0) return absl::InvalidArgumentError("top_k must not be negative");
  if (!o.stop_strings.empty() && tokenizer == nullptr) {
    return absl::InvalidArgumentError("stop strings need a tokenizer");
  }
  return absl::OkStatus();
}

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStopToken: return "stop";
    case FinishReason::kStopString: return "stop_string";
    default: return "length";
  }
}

absl::StatusOr<std::vector<Completion>> Generate(CausalLm& model,
                                                 const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingOptions& o, const Tokenizer* tokenizer,
                                                 ValueHead* value_head, GenerationStats* stats) {
  if (absl::Status s = Validate(model, prompts, o, tokenizer); !s.ok()) return s;
  c10::InferenceMode inference;
  const auto start = std::chrono::steady_clock::now();
  const torch::Device device = model->options().device;
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t P = 0;
  for (const auto& p : prompts) P = std::max<int64_t>(P, static_cast<int64_t>(p.size()));
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);

  // Left-padded prompts: every row's last prompt token sits at column P - 1.
  torch::Tensor input = torch::full({B, P}, o.pad_token_id, i64);
  torch::Tensor positions = torch::zeros({B, P}, i64);
  std::vector<int64_t> lengths(B);
  KvCache cache(model->config(), B, P + o.max_new_tokens, model->options());
  torch::Tensor valid = torch::zeros({B, P + o.max_new_tokens}, torch::TensorOptions().dtype(torch::kBool));
  {
    auto in = input.accessor<int64_t, 2>();
    auto pos = positions.accessor<int64_t, 2>();
    auto val = valid.accessor<bool, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t len = static_cast<int64_t>(prompts[b].size()), pad = P - len;
      lengths[b] = len;
      for (int64_t t = 0; t < len; ++t) {
        in[b][pad + t] = prompts[b][t];
        pos[b][pad + t] = t;
        val[b][pad + t] = true;
      }
    }
  }
  cache.valid() = valid.to(device);

  ForwardArgs args;
  args.input_ids = input.to(device);
  args.positions = positions.to(device);
  args.mask = CausalMask(cache.valid(), 0, P);
  args.cache = &cache;
  torch::Tensor hidden = model->Hidden(args).narrow(1, P - 1, 1);  // [B, 1, H]
  const double prefill_seconds = Seconds(start);
  const auto decode_start = std::chrono::steady_clock::now();

  torch::Generator gen = at::detail::createCPUGenerator(o.seed);
  std::vector<Completion> out(B);
  std::vector<bool> done(B, false);
  int64_t remaining = B, new_tokens = 0;
  for (int64_t step = 0; step < o.max_new_tokens && remaining > 0; ++step) {
    torch::Tensor logits = model->Logits(hidden).squeeze(1).to(torch::kCPU);
    torch::Tensor values;
    if (value_head != nullptr) values = (*value_head)(hidden).squeeze(1).to(torch::kCPU);
    auto [token, logp] = SampleStep(logits, o, gen);
    auto tok = token.accessor<int64_t, 1>();
    auto lp = logp.accessor<float, 1>();
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) continue;
      Completion& c = out[b];
      c.tokens.push_back(static_cast<int32_t>(tok[b]));
      c.logprobs.push_back(lp[b]);
      if (values.defined()) c.values.push_back(values[b].item<float>());
      ++new_tokens;
      bool finished = false;
      if (std::find(o.stop_token_ids.begin(), o.stop_token_ids.end(), tok[b]) != o.stop_token_ids.end()) {
        c.finish_reason = FinishReason::kStopToken;
        finished = true;
      } else if (!o.stop_strings.empty()) {
        std::string text = tokenizer->Decode(c.tokens, /*skip_special_tokens=*/true);
        size_t cut = std::string::npos;
        for (const std::string& s : o.stop_strings) {
          if (!s.empty()) cut = std::min(cut, text.find(s));
        }
        if (cut != std::string::npos) {
          c.finish_reason = FinishReason::kStopString;
          c.text = text.substr(0, cut);
          finished = true;
        }
      }
      if (!finished && static_cast<int64_t>(c.tokens.size()) >= o.max_new_tokens) {
        c.finish_reason = FinishReason::kLength;
        finished = true;
      }
      if (finished) {
        done[b] = true;
        --remaining;
      }
    }
    if (remaining == 0 || step + 1 == o.max_new_tokens) break;
    // Feed this step's tokens (finished rows feed padding nobody reads).
    torch::Tensor next = token.clone();
    torch::Tensor next_pos = torch::empty({B, 1}, i64);
    auto np = next_pos.accessor<int64_t, 2>();
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) next[b] = o.pad_token_id;
      np[b][0] = lengths[b] + step;
    }
    cache.valid().narrow(1, P + step, 1).fill_(true);
    args.input_ids = next.view({B, 1}).to(device);
    args.positions = next_pos.to(device);
    args.mask = CausalMask(cache.valid(), P + step, 1);
    hidden = model->Hidden(args);
  }
  if (tokenizer != nullptr) {
    for (Completion& c : out) {
      if (c.finish_reason != FinishReason::kStopString) c.text = tokenizer->Decode(c.tokens, true);
    }
  }
  if (stats != nullptr) {
    int64_t prompt_tokens = 0;
    for (int64_t len : lengths) prompt_tokens += len;
    stats->prompt_tokens = prompt_tokens;
    stats->new_tokens = new_tokens;
    stats->prefill_seconds = prefill_seconds;
    stats->decode_seconds = Seconds(decode_start);
  }
  return out;
}

absl::StatusOr<std::vector<torch::Tensor>> CompletionLogProbs(CausalLm& model,
                                                              const std::vector<PromptCompletion>& pairs,
                                                              double temperature,
                                                              int64_t max_batch_tokens) {
  if (!(temperature > 0)) return absl::InvalidArgumentError("temperature must be positive");
  const torch::Device device = model->options().device;
  const int64_t vocab = model->config().vocab_size;
  std::vector<torch::Tensor> out(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].prompt.empty()) return absl::InvalidArgumentError(absl::StrCat("pair ", i, ": empty prompt"));
    for (const auto* seq : {&pairs[i].prompt, &pairs[i].completion}) {
      for (int32_t t : *seq) {
        if (t < 0 || t >= vocab) {
          return absl::InvalidArgumentError(absl::StrCat("pair ", i, ": token ", t, " outside the vocabulary"));
        }
      }
    }
  }
  // Greedy packing of pairs into batches of at most max_batch_tokens padded tokens.
  size_t begin = 0;
  while (begin < pairs.size()) {
    size_t end = begin;
    int64_t longest = 0;
    while (end < pairs.size()) {
      const int64_t len = static_cast<int64_t>(pairs[end].prompt.size() + pairs[end].completion.size());
      const int64_t next_longest = std::max(longest, len);
      if (end > begin && next_longest * static_cast<int64_t>(end - begin + 1) > max_batch_tokens) break;
      longest = next_longest;
      ++end;
    }
    const int64_t B = static_cast<int64_t>(end - begin), T = longest;
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    torch::Tensor input = torch::zeros({B, T}, i64);
    torch::Tensor valid = torch::zeros({B, T}, torch::TensorOptions().dtype(torch::kBool));
    std::vector<int64_t> rows, cols, targets;
    std::vector<int64_t> counts;
    {
      auto in = input.accessor<int64_t, 2>();
      auto val = valid.accessor<bool, 2>();
      for (int64_t b = 0; b < B; ++b) {
        const PromptCompletion& pc = pairs[begin + b];
        int64_t t = 0;
        for (int32_t x : pc.prompt) in[b][t++] = x;
        for (int32_t x : pc.completion) in[b][t++] = x;
        for (int64_t k = 0; k < t; ++k) val[b][k] = true;
        const int64_t p = static_cast<int64_t>(pc.prompt.size());
        for (size_t k = 0; k < pc.completion.size(); ++k) {
          rows.push_back(b);
          cols.push_back(p - 1 + static_cast<int64_t>(k));
          targets.push_back(pc.completion[k]);
        }
        counts.push_back(static_cast<int64_t>(pc.completion.size()));
      }
    }
    ForwardArgs args;
    args.input_ids = input.to(device);
    args.positions = torch::arange(T, i64).unsqueeze(0).expand({B, T}).to(device);
    args.mask = CausalMask(valid.to(device), 0, T);
    torch::Tensor hidden = model->Hidden(args);
    torch::Tensor picked = hidden.index({torch::tensor(rows, i64).to(device), torch::tensor(cols, i64).to(device)});
    torch::Tensor target = torch::tensor(targets, i64).to(device);
    // The LM head and softmax over the vocabulary, a few thousand rows at a time.
    std::vector<torch::Tensor> parts;
    const int64_t N = picked.size(0), chunk = 4096;
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t n = std::min(chunk, N - s);
      torch::Tensor logits = model->Logits(picked.narrow(0, s, n)) / temperature;
      parts.push_back(torch::log_softmax(logits, -1).gather(1, target.narrow(0, s, n).unsqueeze(1)).squeeze(1));
    }
    torch::Tensor all = parts.empty() ? torch::zeros({0}, torch::TensorOptions().device(device)) : torch::cat(parts);
    int64_t offset = 0;
    for (int64_t b = 0; b < B; ++b) {
      out[begin + b] = all.narrow(0, offset, counts[b]);
      offset += counts[b];
    }
    begin = end;
  }
  return out;
}

}  // namespace crucible::model
