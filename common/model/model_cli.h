// `crucible model ...`: the model's command-line tools. Stable interfaces, called by scripts:
//   init       --config FILE --out DIR [--seed N] [--dtype float32|bfloat16|float16]
//   logits     --checkpoint DIR --token-ids 1,2,3 [--adapter DIR] [--out FILE] [--all]
//              [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16|float16]
//   tokenize   --tokenizer FILE|bytes (--text "..." | --file FILE)
//   detokenize --tokenizer FILE|bytes --ids 1,2,3
//   generate   --checkpoint DIR --prompt "..." [--n 4 --temperature 0.8 --top-p 0.95
//              --top-k 0 --max-new-tokens 256 --seed 0 --greedy --adapter DIR --json
//              --device cpu|cuda|cuda:N --dtype float32|bfloat16|float16]
// --dtype for logits/generate is the compute dtype the weights are loaded in (default
// float32); logits are always reported in float32.
// Flags are parsed in the binary's main; these functions take plain options and return the
// process exit status (0 done, 2 bad input, 1 failure), printing JSON (or text) on stdout.
#ifndef CRUCIBLE_COMMON_MODEL_MODEL_CLI_H_
#define CRUCIBLE_COMMON_MODEL_MODEL_CLI_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/decoder.h"

namespace crucible::model {

struct InitCommand {
  std::string config_file, out_dir, dtype = "float32";
  uint64_t seed = 0;
};
struct LogitsCommand {
  std::string checkpoint, adapter, out_file, device = "cpu", dtype = "float32";
  std::vector<int64_t> token_ids;
  bool all_positions = false;
};
struct TokenizeCommand {
  std::string tokenizer, text, file;
  bool add_special_tokens = false;
};
struct DetokenizeCommand {
  std::string tokenizer;
  std::vector<int64_t> ids;
  bool skip_special_tokens = false;
};
struct GenerateCommand {
  std::string checkpoint, adapter, tokenizer, prompt, device = "cpu", dtype = "float32";
  int n = 1;
  double temperature = 1.0, top_p = 1.0;
  int64_t top_k = 0, max_new_tokens = 256;
  uint64_t seed = 0;
  bool greedy = false, json = false;
  std::vector<std::string> stop_strings;
};

int RunInit(const InitCommand& command);
int RunLogits(const LogitsCommand& command);
int RunTokenize(const TokenizeCommand& command);
int RunDetokenize(const DetokenizeCommand& command);
int RunGenerate(const GenerateCommand& command);

// Device and dtype by name ("cpu", "cuda:1"; "float32", "bf16", ...).
absl::StatusOr<ModelOptions> ParseModelOptions(const std::string& device, const std::string& dtype);

// The tokenizer of a checkpoint directory: its tokenizer.json if present, else bytes.
std::string DefaultTokenizerFor(const std::string& checkpoint_dir);

}  // namespace crucible::model

#endif  // CRUCIBLE_COMMON_MODEL_MODEL_CLI_H_
