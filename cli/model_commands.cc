// `crucible model ...`: flags of the model tools, bound to common/model/model_cli.h's
// options. The flag names are stable (scripts and tests call them).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "common/model/model_cli.h"

namespace crucible::cli {
namespace {

bool ParseIds(const std::string& text, std::vector<int64_t>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int64_t id;
    if (!absl::SimpleAtoi(part, &id)) return false;
    out->push_back(id);
  }
  return true;
}

constexpr char kDtypeHelp[] = "compute dtype the weights are loaded in: float32, bfloat16, float16";
constexpr char kDeviceHelp[] = "cpu, cuda or cuda:N";

Command Init() {
  return {"model init", "write a freshly initialised model directory from a Hugging Face config",
          [](FlagSet& flags) -> CommandRunner {
            auto c = std::make_shared<model::InitCommand>();
            flags.Add("config", &c->config_file, "a Hugging Face config.json");
            flags.Add("out", &c->out_dir, "output directory");
            flags.Add("seed", &c->seed, "random seed of the initialisation");
            flags.Add("dtype", &c->dtype, "weights dtype: float32, bfloat16, float16");
            return [c](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible model init", positional)) return 2;
              return model::RunInit(*c);
            };
          }};
}

Command Logits() {
  return {"model logits", "print the logits of a token sequence (JSON)",
          [](FlagSet& flags) -> CommandRunner {
            struct Options {
              model::LogitsCommand command;
              std::string token_ids;
            };
            auto o = std::make_shared<Options>();
            model::LogitsCommand& c = o->command;
            flags.Add("checkpoint", &c.checkpoint, "the model directory");
            flags.Add("token-ids", &o->token_ids, "comma-separated token ids");
            flags.Add("adapter", &c.adapter, "a PEFT adapter directory");
            flags.Add("out", &c.out_file, "output file (default: stdout)");
            flags.Add("all", &c.all_positions, "every position's logits, not only the last");
            flags.Add("device", &c.device, kDeviceHelp);
            flags.Add("dtype", &c.dtype, kDtypeHelp);
            return [o](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible model logits", positional)) return 2;
              if (!ParseIds(o->token_ids, &o->command.token_ids)) {
                std::fprintf(stderr,
                             "crucible model logits: --token-ids must be comma-separated "
                             "integers\n");
                return 2;
              }
              return model::RunLogits(o->command);
            };
          }};
}

Command Tokenize() {
  return {"model tokenize", "print the token ids of a text", [](FlagSet& flags) -> CommandRunner {
            auto c = std::make_shared<model::TokenizeCommand>();
            flags.Add("tokenizer", &c->tokenizer, "tokenizer.json or 'bytes'");
            flags.Add("text", &c->text, "the text");
            flags.Add("file", &c->file, "a file holding the text");
            flags.Add("add-special-tokens", &c->add_special_tokens,
                      "add the post-processor's tokens");
            return [c](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible model tokenize", positional)) return 2;
              return model::RunTokenize(*c);
            };
          }};
}

Command Detokenize() {
  return {"model detokenize", "print the text of token ids", [](FlagSet& flags) -> CommandRunner {
            struct Options {
              model::DetokenizeCommand command;
              std::string ids;
            };
            auto o = std::make_shared<Options>();
            flags.Add("tokenizer", &o->command.tokenizer, "tokenizer.json or 'bytes'");
            flags.Add("ids", &o->ids, "comma-separated token ids");
            flags.Add("skip-special-tokens", &o->command.skip_special_tokens,
                      "drop special tokens");
            return [o](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible model detokenize", positional)) return 2;
              if (!ParseIds(o->ids, &o->command.ids)) {
                std::fprintf(stderr,
                             "crucible model detokenize: --ids must be comma-separated "
                             "integers\n");
                return 2;
              }
              return model::RunDetokenize(o->command);
            };
          }};
}

Command Generate() {
  return {"model generate", "sample completions of a prompt", [](FlagSet& flags) -> CommandRunner {
            auto c = std::make_shared<model::GenerateCommand>();
            flags.Add("checkpoint", &c->checkpoint, "the model directory");
            flags.Add("prompt", &c->prompt, "the prompt text");
            flags.Add("adapter", &c->adapter, "a PEFT adapter directory");
            flags.Add("tokenizer", &c->tokenizer,
                      "tokenizer.json or 'bytes' (default: the model directory's)");
            flags.Add("n", &c->n, "completions");
            flags.Add("temperature", &c->temperature, "sampling temperature");
            flags.Add("top-p", &c->top_p, "nucleus sampling mass");
            flags.Add("top-k", &c->top_k, "top-k (0: off)");
            flags.Add("max-new-tokens", &c->max_new_tokens, "new tokens per completion");
            flags.Add("seed", &c->seed, "random seed");
            flags.Add("greedy", &c->greedy, "greedy decoding");
            flags.Add("json", &c->json, "one JSON object per completion");
            flags.Add("stop", &c->stop_strings, "stop strings (comma-separated or repeated)");
            flags.Add("device", &c->device, kDeviceHelp);
            flags.Add("dtype", &c->dtype, kDtypeHelp);
            return [c](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible model generate", positional)) return 2;
              return model::RunGenerate(*c);
            };
          }};
}

}  // namespace

std::vector<Command> ModelCommands() {
  return {Init(), Logits(), Tokenize(), Detokenize(), Generate()};
}

}  // namespace crucible::cli
