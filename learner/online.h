// `crucible learner`: the online learner of the RL loop, on W data-parallel ranks.
//
// How batches reach the ranks: rank 0 alone serves the actors (TrajectoryService: the
// trajectory stream, admission control; WeightService: the adapter versions) on one gRPC
// port. It forms each global batch from its queue (learner/trajectory_service.h) and
// broadcasts it, serialized, through the Communicator; every rank then runs the same
// Trainer step on it (each trains its positions r, r + W, ... of the batch), so W ranks take
// the step one rank would. While rank 0 waits for data it broadcasts an idle tick every
// second, so the other ranks never reach their collective timeout on a slow stream.
//
// After every optimizer step rank 0 publishes the adapter as a new version: the LoRA
// tensors are copied into a snapshot (the only work on the training thread) and a
// publishing thread encodes and streams it while the next step runs (double-buffered).
// Versions continue across learner restarts: the last version published is written to
// <checkpoint>/published.json before each publish, and a restarted learner continues
// from it. Staleness is measured in versions: the version being trained minus the version
// of a trajectory's first token.
//
// Checkpoints every checkpoint_every steps, at the end and on the stop flag: the trainer's
// state plus online.json (the trajectory ledger and the books), in one atomic step
// directory; then the trajectories disposed of so far are committed to the actors. A
// restarted learner resumes from the newest checkpoint; actors resend what was not
// committed. At the end (steps reached or the stop flag) rank 0 tells actors to stop,
// waits for each to deliver everything and report its count, writes books.json, and exits.
//
// Exit status: 0 done; 2 bad input; 1 failure; 143 stopped by the stop flag after
// checkpointing (so that schedulers requeue rather than finish the job).
#ifndef CRUCIBLE_LEARNER_ONLINE_H_
#define CRUCIBLE_LEARNER_ONLINE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "learner/trainer.h"

namespace crucible::learner {

struct OnlineCommand {
  std::string run_id;
  std::string algorithm = "ppo";  // ppo | coderl | rest
  std::string advantage = "rloo", kl_estimator = "k1";
  std::string model_dir;
  std::string init_adapter;  // start from this PEFT adapter (e.g. the SFT warm start)
  std::string critic;        // CodeRL: a critic checkpoint
  // A Bradley-Terry reward model checkpoint (learner offline --algo rm): when set, each
  // trajectory is trained on with the reward model's score as its reward instead of the
  // verdict's (PPO with a learned reward model, as IotaCode); verdicts stay in the metrics.
  std::string reward_model;
  std::string checkpoint_dir;
  std::string backend = "auto";
  std::string device = "cpu", dtype = "float32";
  int64_t lora_rank = 16;
  double lora_alpha = 32;
  std::vector<std::string> lora_target_modules;  // empty: all seven projections
  int64_t steps = 40;
  int64_t save_every = 10;
  int keep = 3;
  double connect_timeout_s = 300;

  // Rank 0's services.
  std::string bind_address = "127.0.0.1";
  int port = 0;                 // 0: a free port, written to port_file
  std::string port_file;
  std::string metrics_address;  // "host:port" for /metrics ("" = bind_address:0)
  std::string metrics_port_file;
  std::string metrics_jsonl;    // one line per step (appended)
  std::string books_file;       // written at the end
  std::string weight_dtype = "float32";  // float32 | bfloat16 on the wire
  int64_t queue_capacity = 256;
  int64_t max_staleness_steps = 4;
  double incomplete_group_timeout_s = 120;
  int expected_actors = 0;      // Final messages to wait for at the end
  double drain_timeout_s = 60;
  const std::atomic<bool>* stop = nullptr;

  TrainerOptions trainer;       // algorithm, advantage and estimator are set from the names
};

int RunOnline(const OnlineCommand& command);

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_ONLINE_H_
