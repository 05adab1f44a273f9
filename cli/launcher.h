// `crucible run`: the whole system on one machine, as separate processes on loopback.
//
// In order: the run directory (its run id kept across invocations), the resolved
// config.yaml, the model (initialised from model.init_config with model.init_tokenizer
// into init/ unless model.path names one), the full-parameter SFT warm start on the problem
// set's reference solutions (a `crucible learner offline --algo sft` process) into base/
// (cached: a second run on the same directory skips it), the held-out evaluation of base/
// (eval.problems_file, copied to heldout.jsonl; a `crucible eval` process), then the
// cluster: judges.local_count `crucible-judge` processes (unless judges.endpoints names
// judges), learner.ranks `crucible learner` ranks (rank 0 serves the actors) and
// actors.count `crucible actor` processes, each logging to logs/<role>-<index>.log.
//
// Supervision: a crashed judge or actor is restarted with exponential backoff (at most
// supervisor.max_restarts times each); a crashed learner rank takes the others down and all
// are restarted from the newest checkpoint, on the same ports, and the actors reconnect and
// resend. cluster.json and prometheus_targets.json are rewritten on every (re)start. The run
// ends when the learner has taken run.steps steps and every actor has delivered its
// trajectories; SIGINT/SIGTERM ends it early the same way (the learner checkpoints, actors
// drain). Every child is killed if the launcher itself dies (PR_SET_PDEATHSIG), and none
// outlives the run. summary.json holds the books, the steps and the wall time. After a
// finished loop: the newest checkpoint's adapter becomes final/, the kept checkpoints and
// final/ are evaluated on heldout.jsonl, and report.html / report.png draw the curves.
//
// Stable shapes (scripts depend on them):
//   cluster.json  {"processes": [{"role": "judge"|"actor"|"learner", "index", "pid",
//                  "grpc_port", "metrics_port"}]}
//   summary.json  {"steps", "wall_seconds", "books": {"produced", "trained",
//                  "dropped_stale", "dropped_incomplete", "queued", "duplicates_dropped"}}
//   metrics.jsonl one line per learner step (learner/online.h)
//   base/         the model the actors load: config.json, model.safetensors,
//                 tokenizer.json (+ tokenizer_config.json) when the model has one
//   final/        the trained PEFT adapter (adapter_config.json, adapter_model.safetensors)
//   heldout.jsonl the held-out problems evaluated on
//   eval.json     {"base": E, "final": E, "final_step", "samples_per_problem",
//                  "temperature"}, E = {"pass@1", "pass@5", "compile_rate", "n",
//                  "problems", "by_source": {"<problem source>": {"pass@1", "pass@5",
//                  "compile_rate", "problems"}}} (macro averages over problems)
//   eval_curve.jsonl  {"step", "label", "pass@1", "pass@5"} per evaluated policy
#ifndef CRUCIBLE_CLI_LAUNCHER_H_
#define CRUCIBLE_CLI_LAUNCHER_H_

#include <atomic>
#include <string>

#include "cli/run_config.h"

namespace crucible::cli {

struct LaunchOptions {
  std::string run_dir;
  RunConfig config;             // defaults, the --config file and --set, resolved
  std::string crucible_binary;  // this program
  std::string judge_binary;
  const std::atomic<bool>* stop = nullptr;
  // "all": everything below. For launchers that run the loop's processes themselves
  // (Kubernetes Jobs, deploy/k8s), the stages around it:
  //   "prepare":  the run directory, config.yaml, the model, the warm start, heldout.jsonl
  //               and the base's held-out eval (eval.json has "base"), then `prepared`
  //               (a JSON marker) in the run directory; exit 0.
  //   "evaluate": waits for the learner's checkpoint of step run.steps, then final/,
  //               eval.json, eval_curve.jsonl, the report and summary.json, as "all" does.
  std::string stage = "all";
};

// Exit status: 0 the run finished and its books balance; 1 a failure (a process gave up
// after its restarts, or the books do not balance); 2 bad configuration; 128 + signal when
// stopped by SIGINT/SIGTERM (after a clean stop).
int RunLocalCluster(const LaunchOptions& options);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_LAUNCHER_H_
