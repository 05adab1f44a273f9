// `crucible run`: the whole system on one machine, as separate processes on loopback.
//
// In order: the run directory (its run id kept across invocations), the resolved
// config.yaml, the base model (initialised from model.init_config unless model.path names
// one), the SFT warm start on the problem set's reference solutions (a `crucible learner
// offline --algo sft` process; cached: a second run on the same directory skips it), then
// the cluster: judges.local_count `crucible-judge` processes (unless judges.endpoints names
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
// outlives the run. summary.json holds the books, the steps and the wall time.
//
// Stable shapes (scripts depend on them):
//   cluster.json  {"processes": [{"role": "judge"|"actor"|"learner", "index", "pid",
//                  "grpc_port", "metrics_port"}]}
//   summary.json  {"steps", "wall_seconds", "books": {"produced", "trained",
//                  "dropped_stale", "dropped_incomplete", "queued", "duplicates_dropped"}}
//   metrics.jsonl one line per learner step (learner/online.h)
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
};

// Exit status: 0 the run finished and its books balance; 1 a failure (a process gave up
// after its restarts, or the books do not balance); 2 bad configuration; 128 + signal when
// stopped by SIGINT/SIGTERM (after a clean stop).
int RunLocalCluster(const LaunchOptions& options);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_LAUNCHER_H_
