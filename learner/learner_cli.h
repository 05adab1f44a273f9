// `crucible learner offline`: trains from a trajectory or preference file (the format is in
// learner/README.md), on one process or data-parallel under torchrun/Slurm, printing a loss
// line per step (with a progress bar on a terminal, or JSON lines with --json), writing
// checkpoints every --save-every steps and when stopped, and resuming from the newest
// checkpoint in --checkpoint.
//
// Stopping: RunOffline installs no signal handler. It polls `stop` after every step, and
// all ranks agree (the flag is all-reduced) so that they checkpoint the same step and exit
// together; the `crucible` command points `stop` at its SIGTERM/SIGINT flag.
//
// Exit status: 0 done; 2 bad input; 1 failure; 143 stopped after checkpointing (so that
// schedulers treat the run as interrupted, not finished).
#ifndef CRUCIBLE_LEARNER_LEARNER_CLI_H_
#define CRUCIBLE_LEARNER_LEARNER_CLI_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "learner/trainer.h"

namespace crucible::learner {

struct OfflineCommand {
  std::string algorithm = "sft";
  std::string data;            // JSONL file
  std::string checkpoint_dir;  // where checkpoints go and runs resume from
  std::string model_dir;       // base model (config.json + safetensors)
  std::string tokenizer;       // tokenizer.json or "bytes"; default: the model directory's
  std::string init_adapter;    // start from this PEFT adapter instead of fresh LoRA
  std::string critic;          // CodeRL: a critic checkpoint (step directory or checkpoint root)
  std::string backend = "auto";
  std::string device = "cpu", dtype = "float32";
  std::string advantage = "gae", kl_estimator = "k1";
  int64_t steps = 100;         // the run's length (the schedule's total)
  int64_t stop_after = 0;      // > 0: stop (with a checkpoint) after this many steps in this process
  int64_t save_every = 50;
  int keep = 3;
  double connect_timeout_s = 300;  // every rank must reach the rendezvous within this

  bool full_parameters = false;  // train every weight (no adapters): TrainerOptions
  int64_t lora_rank = 16;
  double lora_alpha = 32;
  bool json = false;
  bool shuffle = true;
  TrainerOptions trainer;
  // Polled after every step; true on any rank: checkpoint, exit 143. Null: never stop.
  const std::atomic<bool>* stop = nullptr;
};

int RunOffline(const OfflineCommand& command);

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_LEARNER_CLI_H_
