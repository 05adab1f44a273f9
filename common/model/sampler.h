// Batched generation and log-probabilities.
//
// Generate runs prompts of different lengths as one left-padded batch over a KV cache
// preallocated for prompt + max_new_tokens (each step writes one position in place). Per
// step and sequence: greedy (argmax, CodeRL's baseline) or sampling at a temperature with
// optional top-k and top-p (the nucleus found by quickselect on probability mass, O(V)
// per row with no sort of the vocabulary; rows in parallel); a sequence finishes at a stop token (eos included), at a stop
// string (its text is cut where the string starts), or at max_new_tokens. The behaviour
// log-probability of each sampled token is its log-probability under the tempered model
// distribution, softmax(logits / temperature) (greedy: the argmax's under softmax(logits)), and with
// top-k/top-p the log-probability under the truncated, renormalised distribution the token
// was actually drawn from. The learner recomputes softmax(logits / temperature) only, so
// training samples are drawn at top_p 1 and top_k 0 (the run config refuses others), where
// the two coincide. A seed makes a call deterministic.
//
// In-flight updates: `before_step`, when set, runs before the prefill and between decode
// steps (the model may be changed in place there, e.g. a new LoRA version copied into the
// adapters) and returns the adapter version the next token is drawn with; each token then
// records that version in Completion::versions.
//
// CompletionLogProbs is the learner's pass: for (prompt, completion) pairs, the
// log-probability of every completion token, batched, under the current adapter or, with
// adapters off, the reference policy.
#ifndef CRUCIBLE_COMMON_MODEL_SAMPLER_H_
#define CRUCIBLE_COMMON_MODEL_SAMPLER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/decoder.h"
#include "common/model/heads.h"
#include "common/tokenizer.h"

namespace crucible::model {

struct SamplingOptions {
  int64_t max_new_tokens = 256;
  bool greedy = false;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;                    // 0: off
  std::vector<int64_t> stop_token_ids;  // eos ids belong here
  std::vector<std::string> stop_strings;
  uint64_t seed = 0;
  int64_t pad_token_id = 0;
  std::function<int64_t()> before_step;  // see above; unset: no hook, no versions
};

enum class FinishReason { kStopToken, kStopString, kLength };
const char* FinishReasonName(FinishReason reason);

struct Completion {
  std::vector<int32_t> tokens;     // including a final stop token, if one ended it
  std::vector<float> logprobs;     // behaviour log-probabilities, one per token
  std::vector<float> values;       // value head per token (if requested)
  std::vector<int64_t> versions;   // adapter version per token (with before_step)
  FinishReason finish_reason = FinishReason::kLength;
  std::string text;                // decoded (if a tokenizer was given), cut at a stop string
};

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t new_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// tokenizer is needed for stop strings and text; value_head for values.
absl::StatusOr<std::vector<Completion>> Generate(CausalLm& model,
                                                 const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingOptions& options,
                                                 const Tokenizer* tokenizer = nullptr,
                                                 ValueHead* value_head = nullptr,
                                                 GenerationStats* stats = nullptr);

// The tokens a sampling step may choose from a row of logits [V] under `options`
// (temperature, top-k with ties kept, then top-p over what is left), in descending order.
// A plain sort-and-filter reference for tests and tools; Generate does not call it.
std::vector<int64_t> SamplingSupport(const torch::Tensor& logits, const SamplingOptions& options);

// One sampling step over logits [B, V] (any float dtype, CPU): per row the chosen token
// and its behaviour log-probability, as Generate draws them. One uniform per row comes
// from `gen` in row order, so the result does not depend on the thread count.
std::pair<torch::Tensor, torch::Tensor> SampleTokens(const torch::Tensor& logits, const SamplingOptions& options,
                                                     torch::Generator& gen);

struct PromptCompletion {
  std::vector<int32_t> prompt;
  std::vector<int32_t> completion;
};

// Log-probabilities of each completion token (with autograd if grad mode is on), in
// chunks of at most max_batch_tokens. temperature divides the logits, as in Generate.
absl::StatusOr<std::vector<torch::Tensor>> CompletionLogProbs(CausalLm& model,
                                                              const std::vector<PromptCompletion>& pairs,
                                                              double temperature = 1.0,
                                                              int64_t max_batch_tokens = 16384);

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_SAMPLER_H_
