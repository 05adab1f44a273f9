#include "learner/data.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "learner/objectives.h"
#include "nlohmann/json.hpp"

namespace crucible::learner {
namespace {

using nlohmann::json;

// `name` as text (tokenized) or `name`_tokens (ids); one of them is required unless optional.
absl::Status ReadTokens(const json& j, const std::string& name, const Tokenizer& tokenizer, bool required,
                        std::vector<int32_t>* out) {
  const std::string ids_name = name + "_tokens";
  if (j.contains(ids_name)) {
    if (!j[ids_name].is_array()) return absl::InvalidArgumentError(absl::StrCat("\"", ids_name, "\" must be an array"));
    for (const json& v : j[ids_name]) {
      if (!v.is_number_integer()) return absl::InvalidArgumentError(absl::StrCat("\"", ids_name, "\" holds a non-integer"));
      out->push_back(v.get<int32_t>());
    }
    return absl::OkStatus();
  }
  if (j.contains(name)) {
    if (!j[name].is_string()) return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a string"));
    *out = tokenizer.Encode(j[name].get<std::string>());
    return absl::OkStatus();
  }
  if (required) return absl::InvalidArgumentError(absl::StrCat("missing \"", name, "\" (or \"", ids_name, "\")"));
  return absl::OkStatus();
}

absl::Status ReadFloats(const json& j, const std::string& name, std::vector<float>* out) {
  if (!j.contains(name)) return absl::OkStatus();
  if (!j[name].is_array()) return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be an array"));
  for (const json& v : j[name]) {
    if (!v.is_number()) return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" holds a non-number"));
    out->push_back(v.get<float>());
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<int64_t> ParseOutcome(const std::string& raw) {
  const std::string name = absl::AsciiStrToLower(raw);
  if (name == "compile_error" || name == "ce") return kCompileError;
  if (name == "runtime_error" || name == "re" || name == "tle" || name == "mle" || name == "ole") return kRuntimeError;
  if (name == "failed_test" || name == "wa") return kFailedTest;
  if (name == "passed" || name == "ac" || name == "ok") return kPassed;
  return std::nullopt;
}

absl::StatusOr<Example> ExampleFromTrajectory(const v1::Trajectory& t, int64_t vocab_size) {
  Example e;
  e.prompt.assign(t.prompt_tokens().begin(), t.prompt_tokens().end());
  e.completion.assign(t.completion_tokens().begin(), t.completion_tokens().end());
  if (e.prompt.empty() || e.completion.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("trajectory ", t.trajectory_id(), ": empty prompt or completion"));
  }
  for (const auto* tokens : {&e.prompt, &e.completion}) {
    for (int32_t id : *tokens) {
      if (id < 0 || id >= vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("trajectory ", t.trajectory_id(), ": token ", id, " outside the vocabulary of ", vocab_size));
      }
    }
  }
  e.behaviour_logprobs.assign(t.behaviour_logprobs().begin(), t.behaviour_logprobs().end());
  if (!e.behaviour_logprobs.empty() && e.behaviour_logprobs.size() != e.completion.size()) {
    return absl::InvalidArgumentError(absl::StrCat("trajectory ", t.trajectory_id(), ": ", e.behaviour_logprobs.size(),
                                                   " behaviour log-probs for ", e.completion.size(), " tokens"));
  }
  for (float lp : e.behaviour_logprobs) {
    if (!(lp <= 0)) return absl::InvalidArgumentError(absl::StrCat("trajectory ", t.trajectory_id(), ": log-prob ", lp));
  }
  e.values.assign(t.values().begin(), t.values().end());
  if (!e.values.empty() && e.values.size() != e.completion.size()) {
    return absl::InvalidArgumentError(absl::StrCat("trajectory ", t.trajectory_id(), ": values do not match tokens"));
  }
  e.reward = t.reward();
  std::optional<int64_t> outcome = ParseOutcome(t.outcome().empty() ? t.verdict().verdict() : t.outcome());
  e.outcome = outcome.value_or(-1);
  e.group_id = t.group_id();
  e.baseline_reward = t.baseline_reward();
  e.reference = t.reference();
  return e;
}

absl::StatusOr<Example> ParseExample(const std::string& line, DataKind kind, const Tokenizer& tokenizer) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  Example e;
  if (absl::Status s = ReadTokens(j, "prompt", tokenizer, true, &e.prompt); !s.ok()) return s;
  if (e.prompt.empty()) return absl::InvalidArgumentError("empty prompt");
  if (kind == DataKind::kPreferences) {
    if (absl::Status s = ReadTokens(j, "chosen", tokenizer, true, &e.completion); !s.ok()) return s;
    if (absl::Status s = ReadTokens(j, "rejected", tokenizer, true, &e.rejected); !s.ok()) return s;
    if (e.completion.empty() || e.rejected.empty()) return absl::InvalidArgumentError("empty chosen or rejected");
    return e;
  }
  if (absl::Status s = ReadTokens(j, "completion", tokenizer, true, &e.completion); !s.ok()) return s;
  if (e.completion.empty()) return absl::InvalidArgumentError("empty completion");
  if (absl::Status s = ReadFloats(j, "behaviour_logprobs", &e.behaviour_logprobs); !s.ok()) return s;
  if (absl::Status s = ReadFloats(j, "values", &e.values); !s.ok()) return s;
  for (const auto* v : {&e.behaviour_logprobs, &e.values}) {
    if (!v->empty() && v->size() != e.completion.size()) {
      return absl::InvalidArgumentError(absl::StrCat(v == &e.values ? "\"values\"" : "\"behaviour_logprobs\"", " has ",
                                                     v->size(), " entries for ", e.completion.size(),
                                                     " completion tokens"));
    }
  }
  for (float lp : e.behaviour_logprobs) {
    if (!(lp <= 0)) return absl::InvalidArgumentError("\"behaviour_logprobs\" holds a positive or NaN log-probability");
  }
  if (j.contains("reward")) {
    if (!j["reward"].is_number()) return absl::InvalidArgumentError("\"reward\" must be a number");
    e.reward = j["reward"].get<double>();
  }
  if (j.contains("baseline_reward")) {
    if (!j["baseline_reward"].is_number()) return absl::InvalidArgumentError("\"baseline_reward\" must be a number");
    e.baseline_reward = j["baseline_reward"].get<double>();
  }
  if (j.contains("outcome")) {
    if (!j["outcome"].is_string()) return absl::InvalidArgumentError("\"outcome\" must be a string");
    std::optional<int64_t> o = ParseOutcome(j["outcome"].get<std::string>());
    if (!o) return absl::InvalidArgumentError(absl::StrCat("unknown outcome \"", j["outcome"].get<std::string>(), "\""));
    e.outcome = *o;
  }
  if (j.contains("group_id")) {
    if (!j["group_id"].is_string()) return absl::InvalidArgumentError("\"group_id\" must be a string");
    e.group_id = j["group_id"].get<std::string>();
  }
  if (j.contains("reference")) {
    if (!j["reference"].is_boolean()) return absl::InvalidArgumentError("\"reference\" must be true or false");
    e.reference = j["reference"].get<bool>();
    if (e.reference && e.outcome < 0) e.outcome = kPassed;  // ground truth passes
  }
  return e;
}

absl::StatusOr<std::vector<Example>> LoadExamples(const std::string& path, DataKind kind, const Tokenizer& tokenizer,
                                                  int64_t vocab_size) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<Example> out;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<Example> e = ParseExample(line, kind, tokenizer);
    if (!e.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", e.status().message()));
    for (const auto* seq : {&e->prompt, &e->completion, &e->rejected}) {
      for (int32_t t : *seq) {
        if (t < 0 || t >= vocab_size) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":", number, ": token ", t, " outside the vocabulary of ", vocab_size));
        }
      }
    }
    out.push_back(*std::move(e));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no examples"));
  return out;
}

const std::vector<int64_t>& DataOrder::Permutation(int64_t epoch) {
  if (epoch != cached_epoch_) {
    permutation_.resize(size_);
    std::iota(permutation_.begin(), permutation_.end(), 0);
    if (shuffle_) {
      // Fisher-Yates with our own draws: the order must not depend on the standard library.
      std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch));
      for (int64_t i = size_ - 1; i > 0; --i) {
        const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
        std::swap(permutation_[i], permutation_[j]);
      }
    }
    cached_epoch_ = epoch;
  }
  return permutation_;
}

std::vector<int64_t> DataOrder::Next(int64_t count) {
  std::vector<int64_t> out;
  if (size_ == 0) return out;
  out.reserve(count);
  for (int64_t k = 0; k < count; ++k, ++consumed_) {
    out.push_back(Permutation(consumed_ / size_)[consumed_ % size_]);
  }
  return out;
}

}  // namespace crucible::learner
