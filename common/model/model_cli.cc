#include "common/model/model_cli.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/model/checkpoint.h"
#include "common/model/runtime.h"
#include "common/model/sampler.h"
#include "common/status_macros.h"
#include "common/tokenizer.h"
#include "nlohmann/json.hpp"

namespace crucible::model {
namespace {

using nlohmann::json;

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "crucible model: %s\n", std::string(message).c_str());
  return code;
}

absl::StatusOr<torch::ScalarType> ParseDtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16") return torch::kFloat16;
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype \"", name, "\""));
}

}  // namespace

absl::StatusOr<ModelOptions> ParseModelOptions(const std::string& device, const std::string& dtype) {
  ModelOptions options;
  CRUCIBLE_ASSIGN_OR_RETURN(options.dtype, ParseDtype(dtype));
  try {
    options.device = torch::Device(device);
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("unknown device \"", device, "\" (cpu, cuda, cuda:N)"));
  }
  if (options.device.is_cuda() && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(absl::StrCat("device ", device, " requested but CUDA is not available"));
  }
  return options;
}


std::string DefaultTokenizerFor(const std::string& checkpoint_dir) {
  const std::string path = checkpoint_dir + "/tokenizer.json";
  return ::access(path.c_str(), F_OK) == 0 ? path : "bytes";
}

namespace {

// The model a command runs: the checkpoint on the requested device and dtype, with the
// adapter if one is given, after the CPU runtime is configured. On failure *exit_code is
// 2 for bad flags, 1 otherwise.
absl::StatusOr<CausalLm> LoadForCommand(const std::string& checkpoint, const std::string& adapter,
                                        const std::string& device, const std::string& dtype, int* exit_code) {
  *exit_code = 2;
  CRUCIBLE_ASSIGN_OR_RETURN(ModelOptions options, ParseModelOptions(device, dtype));
  *exit_code = 1;
  ConfigureCpuRuntime();
  CRUCIBLE_ASSIGN_OR_RETURN(CausalLm model, LoadCausalLm(checkpoint, options));
  if (!adapter.empty()) CRUCIBLE_RETURN_IF_ERROR(LoadPeftAdapter(model, adapter).status());
  return model;
}

}  // namespace

int RunInit(const InitCommand& c) {
  if (c.config_file.empty() || c.out_dir.empty()) return Fail(2, "--config and --out are required");
  absl::StatusOr<ModelConfig> config = ModelConfig::FromFile(c.config_file);
  if (!config.ok()) return Fail(2, config.status().message());
  absl::StatusOr<torch::ScalarType> dtype = ParseDtype(c.dtype);
  if (!dtype.ok()) return Fail(2, dtype.status().message());
  if (absl::Status s = InitCheckpoint(*config, c.out_dir, c.seed, *dtype); !s.ok()) return Fail(1, s.message());
  std::printf("%s\n", json({{"checkpoint", c.out_dir},
                            {"parameters", config->ParameterCount()},
                            {"dtype", c.dtype},
                            {"seed", c.seed}})
                          .dump()
                          .c_str());
  return 0;
}

int RunLogits(const LogitsCommand& c) {
  if (c.checkpoint.empty() || c.token_ids.empty()) return Fail(2, "--checkpoint and --token-ids are required");
  int code = 0;
  absl::StatusOr<CausalLm> model = LoadForCommand(c.checkpoint, c.adapter, c.device, c.dtype, &code);
  if (!model.ok()) return Fail(code, model.status().message());
  for (int64_t t : c.token_ids) {
    if (t < 0 || t >= (*model)->config().vocab_size) {
      return Fail(2, absl::StrCat("token id ", t, " is outside the vocabulary of ", (*model)->config().vocab_size));
    }
  }
  c10::InferenceMode inference;
  torch::Tensor ids = torch::tensor(c.token_ids, torch::kInt64).unsqueeze(0).to((*model)->options().device);
  torch::Tensor logits = (*model)->forward(ids).squeeze(0).to(torch::kCPU);  // [T, V] float32
  auto row = [&](int64_t t) {
    torch::Tensor r = logits[t].contiguous();
    return std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
  };
  json out = {{"token_ids", c.token_ids}};
  if (c.all_positions) {
    json all = json::array();
    for (int64_t t = 0; t < logits.size(0); ++t) all.push_back(row(t));
    out["logits"] = std::move(all);
  } else {
    out["logits"] = row(logits.size(0) - 1);
  }
  const std::string text = out.dump();
  if (!c.out_file.empty()) {
    if (absl::Status s = WriteFileAtomic(c.out_file, text); !s.ok()) return Fail(1, s.message());
    return 0;
  }
  std::printf("%s\n", text.c_str());
  return 0;
}

int RunTokenize(const TokenizeCommand& c) {
  if (c.tokenizer.empty()) return Fail(2, "--tokenizer is required");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(c.tokenizer);
  if (!tokenizer.ok()) return Fail(2, tokenizer.status().message());
  std::string text = c.text;
  if (!c.file.empty()) {
    absl::StatusOr<std::string> read = ReadFile(c.file);
    if (!read.ok()) return Fail(2, read.status().message());
    text = *std::move(read);
  }
  std::printf("%s\n", json((*tokenizer)->Encode(text, c.add_special_tokens)).dump().c_str());
  return 0;
}

int RunDetokenize(const DetokenizeCommand& c) {
  if (c.tokenizer.empty()) return Fail(2, "--tokenizer is required");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(c.tokenizer);
  if (!tokenizer.ok()) return Fail(2, tokenizer.status().message());
  std::vector<int32_t> ids(c.ids.begin(), c.ids.end());
  std::printf("%s\n", json((*tokenizer)->Decode(ids, c.skip_special_tokens)).dump().c_str());
  return 0;
}

int RunGenerate(const GenerateCommand& c) {
  if (c.checkpoint.empty() || c.prompt.empty()) return Fail(2, "--checkpoint and --prompt are required");
  if (c.n <= 0) return Fail(2, "--n must be positive");
  int code = 0;
  absl::StatusOr<CausalLm> model = LoadForCommand(c.checkpoint, c.adapter, c.device, c.dtype, &code);
  if (!model.ok()) return Fail(code, model.status().message());
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(c.tokenizer.empty() ? DefaultTokenizerFor(c.checkpoint) : c.tokenizer);
  if (!tokenizer.ok()) return Fail(2, tokenizer.status().message());
  SamplingOptions o;
  o.max_new_tokens = c.max_new_tokens;
  o.greedy = c.greedy;
  o.temperature = c.temperature;
  o.top_p = c.top_p;
  o.top_k = c.top_k;
  o.seed = c.seed;
  o.stop_strings = c.stop_strings;
  for (int64_t id : (*model)->config().eos_token_ids) o.stop_token_ids.push_back(id);
  if (auto eos = (*tokenizer)->eos_id()) o.stop_token_ids.push_back(*eos);
  if (auto pad = (*tokenizer)->pad_id()) o.pad_token_id = *pad;
  std::vector<int32_t> prompt = (*tokenizer)->Encode(c.prompt, /*add_special_tokens=*/true);
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(c.n), prompt);
  GenerationStats stats;
  absl::StatusOr<std::vector<Completion>> completions = Generate(*model, prompts, o, tokenizer->get(), nullptr, &stats);
  if (!completions.ok()) return Fail(2, completions.status().message());
  for (size_t i = 0; i < completions->size(); ++i) {
    const Completion& comp = (*completions)[i];
    if (c.json) {
      std::printf("%s\n", json({{"index", i},
                                {"text", comp.text},
                                {"tokens", comp.tokens},
                                {"logprobs", comp.logprobs},
                                {"finish_reason", FinishReasonName(comp.finish_reason)}})
                              .dump(-1, ' ', false, json::error_handler_t::replace)
                              .c_str());
    } else {
      std::printf("--- completion %zu (%zu tokens, %s)\n%s%s\n", i, comp.tokens.size(),
                  FinishReasonName(comp.finish_reason), c.prompt.c_str(), comp.text.c_str());
    }
  }
  std::fprintf(stderr, "%lld prompt tokens in %.3f s, %lld new tokens in %.3f s (%.1f tokens/s)\n",
               static_cast<long long>(stats.prompt_tokens), stats.prefill_seconds,
               static_cast<long long>(stats.new_tokens), stats.decode_seconds,
               stats.new_tokens / std::max(1e-9, stats.decode_seconds));
  return 0;
}

}  // namespace crucible::model
