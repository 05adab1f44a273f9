#include "common/model/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"

namespace crucible::model {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Descending by value, ties by index: the order the nucleus is defined in.
struct Candidate {
  float value;  // tempered logit
  int32_t index;
  bool operator>(const Candidate& o) const { return value > o.value || (value == o.value && index < o.index); }
};

// One row of a sampling step: O(V) expected, no sort of the vocabulary. `u` in [0, 1).
std::pair<int64_t, float> SampleRow(const float* logits, int64_t vocab, const SamplingOptions& o, double u,
                                    std::vector<Candidate>& scratch) {
  if (o.greedy) {
    int64_t best = 0;
    float max = logits[0];
    for (int64_t v = 1; v < vocab; ++v) {
      if (logits[v] > max) max = logits[v], best = v;
    }
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(logits[v] - max));
    return {best, static_cast<float>(-std::log(sum))};
  }
  const float inv_t = static_cast<float>(1.0 / o.temperature);
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t v = 0; v < vocab; ++v) max = std::max(max, logits[v] * inv_t);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(logits[v] * inv_t - max));
  const double log_z = max + std::log(sum);

  std::vector<Candidate>& c = scratch;
  c.resize(static_cast<size_t>(vocab));
  for (int64_t v = 0; v < vocab; ++v) c[v] = {logits[v] * inv_t, static_cast<int32_t>(v)};
  size_t n = c.size();
  if (o.top_k > 0 && o.top_k < vocab) {
    // Keep every candidate at least as large as the k-th largest (ties included).
    std::nth_element(c.begin(), c.begin() + (o.top_k - 1), c.end(), std::greater<Candidate>());
    const float kth = c[o.top_k - 1].value;
    n = static_cast<size_t>(std::partition(c.begin(), c.end(), [&](const Candidate& x) { return x.value >= kth; }) -
                            c.begin());
  }
  auto mass = [&](size_t begin, size_t end) {
    double m = 0;
    for (size_t i = begin; i < end; ++i) m += std::exp(static_cast<double>(c[i].value) - max);
    return m;
  };
  double kept_mass = mass(0, n);
  if (o.top_p < 1.0) {
    // The nucleus: the shortest prefix, in descending order, whose mass reaches top_p of
    // the candidates' (a candidate is kept while the mass before it is below that). Found
    // by quickselect on mass: [lo, hi) is unordered, everything before lo is larger and
    // weighs `before`.
    const double target = o.top_p * kept_mass;
    size_t lo = 0, hi = n;
    double before = 0;
    while (hi - lo > 32) {
      const size_t mid = lo + (hi - lo) / 2;
      std::nth_element(c.begin() + lo, c.begin() + mid, c.begin() + hi, std::greater<Candidate>());
      const double upper = mass(lo, mid);  // the larger half, [lo, mid)
      if (before + upper >= target) {
        hi = mid;
      } else {
        before += upper;
        lo = mid;
      }
    }
    std::sort(c.begin() + lo, c.begin() + hi, std::greater<Candidate>());
    size_t end = lo;
    while (end < hi && before < target) before += std::exp(static_cast<double>(c[end++].value) - max);
    n = std::max<size_t>(end, 1);
    kept_mass = mass(0, n);
  }
  // Inverse CDF over the kept candidates (in their current order). The log-probability
  // reported is the drawn distribution's: renormalised over the kept candidates (the
  // tempered model's own when nothing was cut).
  const double log_kept = n == static_cast<size_t>(vocab) ? log_z : max + std::log(kept_mass);
  auto drawn_logprob = [&](int64_t v) { return static_cast<float>(logits[v] * inv_t - log_kept); };
  const double threshold = u * kept_mass;
  double acc = 0;
  for (size_t i = 0; i < n; ++i) {
    acc += std::exp(static_cast<double>(c[i].value) - max);
    if (acc > threshold) return {c[i].index, drawn_logprob(c[i].index)};
  }
  return {c[n - 1].index, drawn_logprob(c[n - 1].index)};  // u * mass rounded up to the total
}

}  // namespace

std::vector<int64_t> SamplingSupport(const torch::Tensor& logits, const SamplingOptions& o) {
  // The kept set, recomputed the slow way a reader can check: sort, then filter.
  torch::Tensor scaled = logits.to(torch::kFloat64) / o.temperature;
  // Stable: equal logits keep index order, as in the sampler's candidate order.
  auto [sorted, index] = scaled.sort(/*stable=*/true, -1, /*descending=*/true);
  const int64_t vocab = scaled.size(0);
  int64_t n = vocab;
  if (o.top_k > 0 && o.top_k < vocab) {
    const double kth = sorted[o.top_k - 1].item<double>();
    n = (sorted >= kth).sum().item<int64_t>();
  }
  if (o.top_p < 1.0) {
    torch::Tensor probs = torch::softmax(sorted.narrow(0, 0, n), -1);
    torch::Tensor before = probs.cumsum(-1) - probs;
    n = std::max<int64_t>(1, (before < o.top_p).sum().item<int64_t>());
  }
  torch::Tensor kept = index.narrow(0, 0, n).contiguous();
  return std::vector<int64_t>(kept.data_ptr<int64_t>(), kept.data_ptr<int64_t>() + n);
}

std::pair<torch::Tensor, torch::Tensor> SampleTokens(const torch::Tensor& logits, const SamplingOptions& o,
                                                     torch::Generator& gen) {
  const torch::Tensor x = logits.to(torch::kFloat32).contiguous();
  const int64_t B = x.size(0), vocab = x.size(1);
  // Uniforms drawn up front, in row order: the result does not depend on threading.
  const torch::Tensor u = torch::rand({B}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  torch::Tensor tokens = torch::empty({B}, torch::kInt64), logprobs = torch::empty({B}, torch::kFloat32);
  const float* in = x.data_ptr<float>();
  const double* uniforms = u.data_ptr<double>();
  int64_t* tok = tokens.data_ptr<int64_t>();
  float* lp = logprobs.data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    std::vector<Candidate> scratch;
    for (int64_t b = begin; b < end; ++b) {
      std::tie(tok[b], lp[b]) = SampleRow(in + b * vocab, vocab, o, uniforms[b], scratch);
    }
  });
  return {tokens, logprobs};
}

namespace {

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
  int64_t version = o.before_step ? o.before_step() : 0;
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
    auto [token, logp] = SampleTokens(logits, o, gen);
    auto tok = token.accessor<int64_t, 1>();
    auto lp = logp.accessor<float, 1>();
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) continue;
      Completion& c = out[b];
      c.tokens.push_back(static_cast<int32_t>(tok[b]));
      c.logprobs.push_back(lp[b]);
      if (o.before_step) c.versions.push_back(version);
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
    // Between decode steps: a new adapter version may be applied here, in place; the
    // cache keeps what earlier versions computed (an in-flight update).
    if (o.before_step) version = o.before_step();
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
