// The actor: samples programs from the policy, has them judged, and streams the judged
// samples to the learner as trajectories, while the learner streams adapter versions back.
//
// One process, one model (the base plus LoRA adapters that only ever change in place):
//   - the sampling thread picks problems (its shard of the set: problem i belongs to actor
//     i % count; the shard is reshuffled every pass from the seed), builds prompts from the
//     template (actors/prompt.h), samples `samples_per_problem` programs per problem in one
//     KV-cache batch, and, for CodeRL, decodes the greedy baseline of each problem;
//   - a new adapter version, received and verified by the weight subscriber, is copied into
//     the LoRA tensors between two decode steps of a running batch (an in-flight update);
//     every token records the version it was drawn with;
//   - programs go to the judge pool through JudgeClient without waiting: the next batch is
//     sampled while the last one is judged, and at most `max_inflight_samples` samples are
//     unanswered at a time;
//   - a problem's samples become trajectories when all of them (and its baseline) are
//     judged: they go into the durable outbox, and the sender streams them to the learner;
//   - before each batch the actor asks the learner for admission (staleness control): while
//     it is refused, the actor waits and counts the time paused.
// Samples whose judging failed for the infrastructure's reasons (SE after retries, the
// judge client shutting down) are not trajectories: they are counted and left out, and the
// group's size is what was produced.
//
// The run ends when the learner says stop (or on the stop flag): the actor stops sampling,
// waits for its judged samples, delivers every trajectory and reports how many it produced.
#ifndef CRUCIBLE_ACTORS_ACTOR_H_
#define CRUCIBLE_ACTORS_ACTOR_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "crucible/v1/judge.pb.h"
#include "crucible/v1/problem.pb.h"

namespace crucible {

struct ActorOptions {
  std::string actor_id = "actor-0";
  int index = 0, count = 1;  // this actor's shard: problems i with i % count == index
  std::string run_id;

  std::string model_dir;
  std::string tokenizer;  // "" = the model directory's tokenizer.json, else bytes
  std::string device = "cpu", dtype = "float32";

  std::vector<v1::Problem> problems;  // the whole set
  std::string language = "python3";
  std::string prompt_template;
  int problems_per_batch = 2;
  int samples_per_problem = 4;
  double temperature = 1.0, top_p = 1.0;
  int64_t top_k = 0, max_new_tokens = 128;
  int max_inflight_samples = 32;
  bool greedy_baseline = false;
  uint64_t seed = 0;

  std::vector<std::string> judge_endpoints;
  int judge_window = 16;
  int64_t judge_timeout_ms = 60000;
  int judge_resolve_interval_s = 10;  // dns:/// judge endpoints
  v1::JudgeOptions judge_options;  // rewards, stop_at_first_failure

  std::string learner_endpoint;  // trajectories, admission and weights: "host:port"
  std::string outbox_dir;        // the durable outbox (survives a restart of the actor)
  std::string metrics_address = "127.0.0.1:0";
  std::string metrics_port_file;  // if set, the metrics port is written here
  absl::Duration drain_timeout = absl::Seconds(60);
  const std::atomic<bool>* stop = nullptr;  // set by the process's signal handler
};

// Exit status: 0 the run ended (the learner said stop, or the stop flag), everything
// delivered; 1 failure (logged); 2 bad options.
int RunActor(const ActorOptions& options);

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_ACTOR_H_
