// `crucible eval`: sample N programs per problem from a model (with an optional PEFT
// adapter), judge them through the judge pool, and report pass@k, n@k, compile rate and the
// verdict breakdown (common/eval_report.h).
//
// Output directory (stable shapes, see eval_report.h): samples.jsonl (one line per judged
// sample), report.json, report.md, and eval_config.json (what produced the samples); with
// --search critic also critic_samples.jsonl (the search's final samples, the same shape) and
// search/ (each stage's samples, search_config.json).
//
// How it runs. The (problem, sample) pairs are cut into units of at most `batch` samples of
// one problem, and consecutive units are packed into generation calls of at most `batch`
// rows; the packing and each call's seed depend only on the options and the problem list.
// Generation runs on the calling thread; every program is judged asynchronously twice
// (public tests, for n@k filtering, and hidden tests, for the verdict), so judging
// overlaps the next call's generation, with at most `max_inflight` samples unjudged.
// Samples are appended as their verdicts arrive.
//
// Deterministic and resumable. The same options give the same samples, in any order of
// completion (the file is rewritten sorted when the eval finishes). A killed eval is
// resumed by running the same command: samples.jsonl is read back (a line cut off by the
// kill is dropped), the calls whose samples are all there are skipped, the others are
// generated again (identically) and only their missing samples are judged. Resuming with
// different options is refused, naming the option.
//
// `--samples FILE` skips sampling and judging: the report is recomputed from a samples file.
//
// `--search rerank` adds report.json's "rerank": pass@1 of the best-scored sample per
// problem (log-prob, or a critic's or reward model's score carried by the samples) against
// a random choice and the oracle. `--critic DIR` scores every sample with a CodeRL critic:
// its pass probability, softmax of the outcome logits max-pooled over the completion's
// tokens, as the critic is trained. `--reward-model DIR` scores every sample with a
// Bradley-Terry reward model: its head read at the program's last token.
//
// `--search critic` (needs --critic) runs CodeRL's critic sampling after the first round
// (cli/critic_search.h): program refining from the critic's seeds for problems with samples
// that pass the public tests and, with --repair-adapter and/or --repair-model, program
// repairing of the critic's --repair-top-m failing programs for problems with none. The
// final N samples per problem go to critic_samples.jsonl, and report.json's
// "critic_sampling" compares pass@k and n@k with and without the search on the same N.
// The search always judges while it generates: --overlap false applies to the first round
// only (the baseline of bench/eval_bench.cc).
#ifndef CRUCIBLE_CLI_EVAL_H_
#define CRUCIBLE_CLI_EVAL_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace crucible::cli {

struct EvalOptions {
  std::string model_dir;
  std::string adapter_dir;               // a PEFT adapter, merged into the base for sampling
  std::string tokenizer;                 // default: the model directory's
  std::string problems_file;             // "": the bundled set
  std::vector<std::string> problem_ids;  // empty: every problem
  int n = 10;                            // samples per problem
  std::string k = "1,5,10";
  std::string n_submit = "1,5";          // the n of n@k
  double temperature = 0.8;
  double top_p = 0.95;
  int64_t top_k = 0;
  int64_t max_new_tokens = 256;
  std::string prompt_template;           // "": the run configuration's default
  bool prepend_starter_code = false;     // program = problem.starter_code + extracted program
  std::string language = "python3";
  uint64_t seed = 0;
  int batch = 16;                        // rows per generation call
  int max_inflight = 128;
  std::string device = "cpu";
  std::string dtype = "float32";
  std::vector<std::string> judges;       // empty: a local judge
  int judge_workers = 0;                 // of the local judge; 0: one per CPU
  bool stop_at_first_failure = true;
  std::string out_dir;
  std::string samples_file;              // recompute mode
  bool progress = true;                  // a progress bar when stderr is a terminal
  // false: generate every sample first, then judge them all (the baseline of
  // bench/eval_bench.cc); the samples are the same either way.
  bool overlap = true;
  // "rerank": also report best-of-n reranking by a sample score (eval_report.h);
  // "critic": CodeRL's critic sampling.
  std::string search = "none";
  // A CodeRL critic checkpoint (`crucible learner offline --algo critic`): every sample gets
  // critic_score, the critic's probability that the program passes.
  std::string critic;
  // A Bradley-Terry reward model checkpoint (`crucible learner offline --algo rm`): every
  // sample gets reward_model_score, the reward head read at the program's last token.
  std::string reward_model;
  // Critic sampling's repair model (--search critic): a PEFT adapter, on repair_model or
  // else on model_dir, and/or a model directory; both empty: no program repairing.
  std::string repair_model;
  std::string repair_adapter;
  int repair_top_m = 1;  // failing programs repaired per problem (CodeRL's best: M = 1)
  std::string rerank_score = "mean_log_prob";
  bool rerank_public_first = true;
  double rerank_log_prob_weight = 0;
};

// Exit status: 0 done, 1 failure, 2 bad options, 130 stopped (resumable).
int RunEval(const EvalOptions& options, const std::atomic<bool>* stop);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_EVAL_H_
