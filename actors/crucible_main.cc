// crucible: the command users run.
//
//   crucible run [--problems FILE] [--judges host:port,...] [--language python3|cpp17]
//       Today: start a local judge and judge every reference and known-wrong solution of
//       the problem set (the bundled one by default), printing a verdict table.
//   crucible model init|logits|tokenize|detokenize|generate ...   (see common/model/model_cli.h)
//   crucible learner offline --algo sft|ppo|coderl|critic|rm|dpo|orpo|rest --data FILE
//       --checkpoint DIR --model DIR ...                          (see learner/learner_cli.h)
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
#include "learner/learner_cli.h"

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
ABSL_FLAG(std::string, checkpoint, "",
          "model logits/generate: the model directory; learner: the training checkpoint directory");
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
ABSL_FLAG(bool, json, false, "model generate: one JSON object per completion; learner: JSON loss lines");
ABSL_FLAG(std::vector<std::string>, stop, {}, "model generate: stop strings (comma-separated)");

// learner offline
ABSL_FLAG(std::string, algo, "sft", "learner: sft, ppo, coderl, critic, rm, dpo, orpo or rest");
ABSL_FLAG(std::string, data, "", "learner: trajectory or preference file (JSON lines, learner/README.md)");
ABSL_FLAG(std::string, model, "", "learner: the base model directory");
ABSL_FLAG(std::string, init_adapter, "", "learner: start from this PEFT adapter");
ABSL_FLAG(std::string, critic, "", "learner coderl: a critic checkpoint (from --algo critic)");
ABSL_FLAG(std::string, backend, "auto", "learner: communicator (auto, local, gloo, nccl)");
ABSL_FLAG(int64_t, steps, 100, "learner: optimizer steps in the run (the schedule's length)");
ABSL_FLAG(int64_t, stop_after, 0, "learner: stop after this many steps in this process (with a checkpoint)");
ABSL_FLAG(int64_t, save_every, 50, "learner: checkpoint every N steps (and at the end and on SIGTERM)");
ABSL_FLAG(int, keep, 3, "learner: checkpoints to keep");
ABSL_FLAG(double, connect_timeout_s, 300, "learner: seconds for every rank to reach the rendezvous");
ABSL_FLAG(double, collective_timeout_s, 600, "learner: seconds a collective may wait for the other ranks");
ABSL_FLAG(int64_t, batch_size, 8, "learner: examples (pairs) per step over all ranks");
ABSL_FLAG(int64_t, max_batch_tokens, 4096, "learner: padded tokens per forward pass");
ABSL_FLAG(double, lr, 1e-4, "learner: peak learning rate");
ABSL_FLAG(int64_t, warmup_steps, 0, "learner: linear warm-up steps");
ABSL_FLAG(double, min_lr_ratio, 0.0, "learner: cosine floor as a fraction of --lr");
ABSL_FLAG(double, weight_decay, 0.0, "learner: AdamW decoupled weight decay");
ABSL_FLAG(double, max_grad_norm, 1.0, "learner: global gradient-norm clip (<= 0: off)");
ABSL_FLAG(int64_t, lora_rank, 16, "learner: LoRA rank of fresh adapters");
ABSL_FLAG(double, lora_alpha, 32, "learner: LoRA alpha of fresh adapters");
ABSL_FLAG(bool, shuffle, true, "learner: shuffle each epoch (by --seed)");
ABSL_FLAG(std::string, advantage, "gae", "learner ppo: gae (value head), rloo or grpo");
ABSL_FLAG(std::string, kl_estimator, "k1", "learner ppo: k1 or k3");
ABSL_FLAG(double, kl_coef, 0.05, "learner ppo: KL penalty coefficient (initial, if adaptive)");
ABSL_FLAG(double, kl_target, 0, "learner ppo: > 0 adapts the KL coefficient towards this KL per token");
ABSL_FLAG(double, gamma, 1.0, "learner ppo: discount");
ABSL_FLAG(double, lam, 0.95, "learner ppo: GAE lambda");
ABSL_FLAG(double, clip_range, 0.2, "learner ppo: policy ratio clip");
ABSL_FLAG(double, value_coef, 0.1, "learner ppo: value loss weight");
ABSL_FLAG(double, entropy_coef, 0.0, "learner ppo: entropy bonus");
ABSL_FLAG(bool, whiten, true, "learner ppo: whiten GAE advantages over the batch");
ABSL_FLAG(double, rl_weight, 1.0, "learner coderl: weight of L_rl");
ABSL_FLAG(double, ce_weight, 1.0, "learner coderl: weight of L_ce");
ABSL_FLAG(double, beta, 0.1, "learner dpo: beta");
ABSL_FLAG(double, orpo_lambda, 0.1, "learner orpo: lambda");
ABSL_FLAG(double, rest_threshold, 1.0, "learner rest: minimum reward kept");

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

int RunLearner(const std::string& command) {
  if (command != "offline") {
    std::fprintf(stderr, "crucible learner: unknown command \"%s\" (offline)\n", command.c_str());
    return 2;
  }
  crucible::learner::OfflineCommand c;
  c.algorithm = absl::GetFlag(FLAGS_algo);
  c.data = absl::GetFlag(FLAGS_data);
  c.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint);
  c.model_dir = absl::GetFlag(FLAGS_model);
  c.tokenizer = absl::GetFlag(FLAGS_tokenizer);
  c.init_adapter = absl::GetFlag(FLAGS_init_adapter);
  c.critic = absl::GetFlag(FLAGS_critic);
  c.backend = absl::GetFlag(FLAGS_backend);
  c.device = absl::GetFlag(FLAGS_device);
  c.dtype = absl::GetFlag(FLAGS_dtype);
  c.advantage = absl::GetFlag(FLAGS_advantage);
  c.kl_estimator = absl::GetFlag(FLAGS_kl_estimator);
  c.steps = absl::GetFlag(FLAGS_steps);
  c.stop_after = absl::GetFlag(FLAGS_stop_after);
  c.save_every = absl::GetFlag(FLAGS_save_every);
  c.keep = absl::GetFlag(FLAGS_keep);
  c.connect_timeout_s = absl::GetFlag(FLAGS_connect_timeout_s);
  c.lora_rank = absl::GetFlag(FLAGS_lora_rank);
  c.lora_alpha = absl::GetFlag(FLAGS_lora_alpha);
  c.json = absl::GetFlag(FLAGS_json);
  c.shuffle = absl::GetFlag(FLAGS_shuffle);
  crucible::learner::TrainerOptions& t = c.trainer;
  t.batch_size = absl::GetFlag(FLAGS_batch_size);
  t.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  t.seed = absl::GetFlag(FLAGS_seed);
  t.temperature = absl::GetFlag(FLAGS_temperature);
  t.optimizer.schedule.base_lr = absl::GetFlag(FLAGS_lr);
  t.optimizer.schedule.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  t.optimizer.schedule.min_ratio = absl::GetFlag(FLAGS_min_lr_ratio);
  t.optimizer.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  t.optimizer.max_grad_norm = absl::GetFlag(FLAGS_max_grad_norm);
  t.kl_coef = absl::GetFlag(FLAGS_kl_coef);
  t.kl_target = absl::GetFlag(FLAGS_kl_target);
  t.gamma = absl::GetFlag(FLAGS_gamma);
  t.lambda = absl::GetFlag(FLAGS_lam);
  t.ppo.clip_range = absl::GetFlag(FLAGS_clip_range);
  t.ppo.value_coef = absl::GetFlag(FLAGS_value_coef);
  t.ppo.entropy_coef = absl::GetFlag(FLAGS_entropy_coef);
  t.whiten_advantages = absl::GetFlag(FLAGS_whiten);
  t.rl_weight = absl::GetFlag(FLAGS_rl_weight);
  t.ce_weight = absl::GetFlag(FLAGS_ce_weight);
  t.dpo_beta = absl::GetFlag(FLAGS_beta);
  t.orpo_lambda = absl::GetFlag(FLAGS_orpo_lambda);
  t.rest_threshold = absl::GetFlag(FLAGS_rest_threshold);
  t.collective_timeout = absl::Seconds(absl::GetFlag(FLAGS_collective_timeout_s));
  return crucible::learner::RunOffline(c);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "crucible run [--problems FILE] [--judges host:port,...] | crucible model "
      "init|logits|tokenize|detokenize|generate [flags] | crucible learner offline --algo ALGO --data FILE "
      "--checkpoint DIR --model DIR [flags]");
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
  if (command == "learner") return RunLearner(positional.size() > 2 ? positional[2] : "");
  std::fprintf(stderr, "crucible: unknown command \"%s\"\nusage: %s\n", command.c_str(),
               absl::ProgramUsageMessage().data());
  return 2;
}
