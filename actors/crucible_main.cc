// crucible: the command users run.
//
//   crucible run [--problems FILE] [--judges host:port,...] [--language python3|cpp17]
//       Today: start a local judge and judge every reference and known-wrong solution of
//       the problem set (the bundled one by default), printing a verdict table.
//   crucible model init|logits|tokenize|detokenize|generate ...   (see common/model/model_cli.h)
//
// Dashed and underscored flag spellings are both accepted (--token-ids, --token_ids).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "actors/reference_run.h"
#include "common/flags_util.h"
#include "common/model/model_cli.h"

// run
ABSL_FLAG(std::string, problems, "", "run: problem set (JSONL); default: the bundled set");
ABSL_FLAG(std::string, judges, "", "run: comma-separated judge endpoints; default: start one locally");
ABSL_FLAG(int, judge_workers, 0, "run: workers of the local judge (0: one per CPU)");
ABSL_FLAG(std::string, language, "", "run: judge only programs in this language");
// model
ABSL_FLAG(std::string, config, "", "model init: a Hugging Face config.json");
ABSL_FLAG(std::string, out, "", "model init: output directory; model logits: output file");
ABSL_FLAG(uint64_t, seed, 0, "model init/generate: random seed");
ABSL_FLAG(std::string, dtype, "float32",
          "model init: weights dtype; model logits/generate: compute dtype (float32, bfloat16, float16)");
ABSL_FLAG(std::string, device, "cpu", "model logits/generate: cpu, cuda or cuda:N");
ABSL_FLAG(std::string, checkpoint, "", "model logits/generate: checkpoint directory");
ABSL_FLAG(std::string, adapter, "", "model logits/generate: a PEFT adapter directory");
ABSL_FLAG(std::string, token_ids, "", "model logits: comma-separated token ids");
ABSL_FLAG(bool, all, false, "model logits: every position's logits, not only the last");
ABSL_FLAG(std::string, tokenizer, "", "model tokenize/detokenize/generate: tokenizer.json or 'bytes'");
ABSL_FLAG(std::string, text, "", "model tokenize: the text");
ABSL_FLAG(std::string, file, "", "model tokenize: a file holding the text");
ABSL_FLAG(std::string, ids, "", "model detokenize: comma-separated token ids");
ABSL_FLAG(bool, add_special_tokens, false, "model tokenize: add the post-processor's tokens");
ABSL_FLAG(bool, skip_special_tokens, false, "model detokenize: drop special tokens");
ABSL_FLAG(std::string, prompt, "", "model generate: the prompt text");
ABSL_FLAG(int, n, 1, "model generate: completions");
ABSL_FLAG(double, temperature, 1.0, "model generate: sampling temperature");
ABSL_FLAG(double, top_p, 1.0, "model generate: nucleus sampling mass");
ABSL_FLAG(int64_t, top_k, 0, "model generate: top-k (0: off)");
ABSL_FLAG(int64_t, max_new_tokens, 256, "model generate: new tokens per completion");
ABSL_FLAG(bool, greedy, false, "model generate: greedy decoding");
ABSL_FLAG(bool, json, false, "model generate: one JSON object per completion");
ABSL_FLAG(std::vector<std::string>, stop, {}, "model generate: stop strings (comma-separated)");

namespace {

bool ParseIds(const std::string& text, std::vector<int64_t>* out) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int64_t id;
    if (!absl::SimpleAtoi(part, &id)) return false;
    out->push_back(id);
  }
  return true;
}

int RunModel(const std::string& command) {
  using namespace crucible::model;
  if (command == "init") {
    InitCommand c{absl::GetFlag(FLAGS_config), absl::GetFlag(FLAGS_out), absl::GetFlag(FLAGS_dtype),
                  absl::GetFlag(FLAGS_seed)};
    return RunInit(c);
  }
  if (command == "logits") {
    LogitsCommand c;
    c.checkpoint = absl::GetFlag(FLAGS_checkpoint);
    c.adapter = absl::GetFlag(FLAGS_adapter);
    c.out_file = absl::GetFlag(FLAGS_out);
    c.all_positions = absl::GetFlag(FLAGS_all);
    c.device = absl::GetFlag(FLAGS_device);
    c.dtype = absl::GetFlag(FLAGS_dtype);
    if (!ParseIds(absl::GetFlag(FLAGS_token_ids), &c.token_ids)) {
      std::fprintf(stderr, "crucible model logits: --token-ids must be comma-separated integers\n");
      return 2;
    }
    return RunLogits(c);
  }
  if (command == "tokenize") {
    TokenizeCommand c{absl::GetFlag(FLAGS_tokenizer), absl::GetFlag(FLAGS_text), absl::GetFlag(FLAGS_file),
                      absl::GetFlag(FLAGS_add_special_tokens)};
    return RunTokenize(c);
  }
  if (command == "detokenize") {
    DetokenizeCommand c;
    c.tokenizer = absl::GetFlag(FLAGS_tokenizer);
    c.skip_special_tokens = absl::GetFlag(FLAGS_skip_special_tokens);
    if (!ParseIds(absl::GetFlag(FLAGS_ids), &c.ids)) {
      std::fprintf(stderr, "crucible model detokenize: --ids must be comma-separated integers\n");
      return 2;
    }
    return RunDetokenize(c);
  }
  if (command == "generate") {
    GenerateCommand c;
    c.checkpoint = absl::GetFlag(FLAGS_checkpoint);
    c.adapter = absl::GetFlag(FLAGS_adapter);
    c.tokenizer = absl::GetFlag(FLAGS_tokenizer);
    c.prompt = absl::GetFlag(FLAGS_prompt);
    c.n = absl::GetFlag(FLAGS_n);
    c.temperature = absl::GetFlag(FLAGS_temperature);
    c.top_p = absl::GetFlag(FLAGS_top_p);
    c.top_k = absl::GetFlag(FLAGS_top_k);
    c.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
    c.seed = absl::GetFlag(FLAGS_seed);
    c.greedy = absl::GetFlag(FLAGS_greedy);
    c.json = absl::GetFlag(FLAGS_json);
    c.stop_strings = absl::GetFlag(FLAGS_stop);
    c.device = absl::GetFlag(FLAGS_device);
    c.dtype = absl::GetFlag(FLAGS_dtype);
    return RunGenerate(c);
  }
  std::fprintf(stderr, "crucible model: unknown command \"%s\" (init, logits, tokenize, detokenize, generate)\n",
               command.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "crucible run [--problems FILE] [--judges host:port,...] | crucible model "
      "init|logits|tokenize|detokenize|generate [flags]");
  std::vector<std::string> args = crucible::NormalizeDashedFlags(argc, argv);
  std::vector<char*> arg_ptrs = crucible::ArgvPointers(args);
  std::vector<char*> positional = absl::ParseCommandLine(static_cast<int>(args.size()), arg_ptrs.data());
  std::string command = positional.size() > 1 ? positional[1] : "run";
  if (command == "run") {
    crucible::ReferenceRunOptions options;
    options.problems_file = absl::GetFlag(FLAGS_problems);
    for (absl::string_view j : absl::StrSplit(absl::GetFlag(FLAGS_judges), ',', absl::SkipEmpty())) {
      options.judges.emplace_back(j);
    }
    options.judge_workers = absl::GetFlag(FLAGS_judge_workers);
    options.language = absl::GetFlag(FLAGS_language);
    return crucible::RunReferenceJudging(options);
  }
  if (command == "model") return RunModel(positional.size() > 2 ? positional[2] : "");
  std::fprintf(stderr, "crucible: unknown command \"%s\"\nusage: %s\n", command.c_str(),
               absl::ProgramUsageMessage().data());
  return 2;
}
