// `crucible eval` (cli/eval.h): pass@k, n@k and compile rate of a model on a problem set,
// judged through the judge pool; or, with --samples, the report of an existing samples file.
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/eval.h"
#include "cli/signals.h"

namespace crucible::cli {
namespace {

Command Eval() {
  return {"eval", "sample, judge and report pass@k / n@k / compile rate (or recompute a report)",
          [](FlagSet& f) -> CommandRunner {
            auto o = std::make_shared<EvalOptions>();
            f.Add("model", &o->model_dir, "model directory (HF config.json + safetensors)");
            f.Add("adapter", &o->adapter_dir, "PEFT adapter directory, merged into the model");
            f.Add("tokenizer", &o->tokenizer, "tokenizer.json (default: the model directory's)");
            f.Add("problems", &o->problems_file, "problem set (JSONL); \"\": the bundled set");
            f.Add("problem-ids", &o->problem_ids, "only these problems (comma-separated)");
            f.Add("n", &o->n, "samples per problem");
            f.Add("k", &o->k, "the k of pass@k and n@k (comma-separated)");
            f.Add("n-submit", &o->n_submit, "the n of n@k: submissions after public-test filtering");
            f.Add("temperature", &o->temperature, "sampling temperature");
            f.Add("top-p", &o->top_p, "nucleus sampling mass, in (0, 1]");
            f.Add("top-k", &o->top_k, "top-k sampling; 0 = off");
            f.Add("max-new-tokens", &o->max_new_tokens, "tokens generated per program at most");
            f.Add("prompt-template", &o->prompt_template,
                  "prompt template (actors/prompt.h); \"\": the run configuration's default");
            f.Add("prepend-starter-code", &o->prepend_starter_code,
                  "judge the problem's starter code followed by the extracted program "
                  "(HumanEval-style completion)");
            f.Add("language", &o->language, "language of the programs (python3, cpp17)");
            f.Add("seed", &o->seed, "sampling seed: the same seed gives the same samples");
            f.Add("batch", &o->batch, "rows per generation call");
            f.Add("max-inflight", &o->max_inflight, "samples generated but not yet judged, at most");
            f.Add("device", &o->device, "cpu or cuda[:i]");
            f.Add("dtype", &o->dtype, "float32, bf16, ...");
            f.Add("judges", &o->judges,
                  "judge endpoints, host:port (comma-separated); none: start one locally");
            f.Add("judge-workers", &o->judge_workers, "workers of the local judge (0: one per CPU)");
            f.Add("stop-at-first-failure", &o->stop_at_first_failure,
                  "stop judging a program at its first failed test");
            f.Add("out", &o->out_dir, "output directory: samples.jsonl, report.json, report.md");
            f.Add("samples", &o->samples_file,
                  "recompute the report from this samples file (no sampling, no judging)");
            f.Add("progress", &o->progress, "a progress bar on a terminal");
            f.Add("search", &o->search,
                  "none; rerank: best-of-n by --rerank-score; critic: CodeRL's critic sampling "
                  "(refine, and repair with a repair model; needs --critic)");
            f.Add("repair-adapter", &o->repair_adapter,
                  "critic sampling's repair model: a PEFT adapter (learner offline --algo sft on "
                  "data repair-pairs), on --repair-model or else on --model");
            f.Add("repair-model", &o->repair_model,
                  "critic sampling's repair model directory (default: --model, with --repair-adapter)");
            f.Add("repair-top-m", &o->repair_top_m,
                  "failing programs the critic sends to the repair model per problem");
            f.Add("critic", &o->critic,
                  "CodeRL critic checkpoint (learner offline --algo critic): score every sample");
            f.Add("reward-model", &o->reward_model,
                  "reward model checkpoint (learner offline --algo rm): score every sample");
            f.Add("rerank-score", &o->rerank_score,
                  "mean_log_prob, log_prob, critic_score or reward_model_score");
            f.Add("rerank-public-first", &o->rerank_public_first,
                  "rank samples that pass the public tests first");
            f.Add("rerank-log-prob-weight", &o->rerank_log_prob_weight,
                  "added weight of the mean log-prob to a model's score");
            f.Add("overlap", &o->overlap,
                  "judge while generating (false: generate everything, then judge; a baseline)");
            return [o](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible eval", positional)) return 2;
              InstallStopSignals();
              return RunEval(*o, &StopRequested());
            };
          }};
}

}  // namespace

std::vector<Command> EvalCommands() { return {Eval()}; }

}  // namespace crucible::cli
