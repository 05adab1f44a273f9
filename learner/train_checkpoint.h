// Training checkpoints: everything needed to continue a run exactly where it stopped.
//
//   DIR/step-00000010/
//     state.safetensors     trainable tensors (LoRA factors, heads), AdamW moments, CPU RNG
//     state.json            step, data cursor, Adam step, KL coefficient, the run's settings
//     adapter/              the adapter in PEFT format (adapter_config.json,
//                           adapter_model.safetensors): loadable by PEFT and `--adapter`;
//                           with full-parameter training instead model/, the whole model as
//                           a Hugging Face directory (config.json, safetensors, tokenizer)
//     <head>.safetensors    each trained head (value_head, outcome_head, reward_head)
//
// A checkpoint is written into DIR/.tmp-step-00000010-<pid> (every file fsynced) and renamed
// into place, then DIR is fsynced: a crash leaves either the old set or the new one, never
// a half-written step directory. Only the newest `keep` step directories are kept.
#ifndef CRUCIBLE_LEARNER_TRAIN_CHECKPOINT_H_
#define CRUCIBLE_LEARNER_TRAIN_CHECKPOINT_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/model/checkpoint.h"
#include "learner/trainer.h"

namespace crucible::learner {

std::string StepDirName(int64_t step);  // "step-00000010"

// Writes the trainer's state as DIR/step-<step> (call on one rank only). `extra_files`
// (name -> contents) are written into the step directory with the rest, atomically: the
// online learner keeps its trajectory ledger and books there.
absl::Status SaveTrainCheckpoint(Trainer& trainer, const std::string& dir, const model::LoraConfig& lora, int keep,
                                 const std::map<std::string, std::string>& extra_files = {});

// The newest complete step directory under dir, or nullopt when there is none.
absl::StatusOr<std::optional<std::string>> LatestTrainCheckpoint(const std::string& dir);

// Restores a step directory into the trainer (same algorithm, adapters and heads).
absl::Status RestoreTrainCheckpoint(Trainer& trainer, const std::string& step_dir);

// The frozen critic of a CodeRL run from a checkpoint written by `--algo critic` (a step
// directory, or a checkpoint root whose newest step is taken): a backbone of its own (the
// base at model_dir with the critic's adapter, or the step's model/ when every weight was
// trained) and its outcome head, without gradients.
absl::StatusOr<Critic> LoadFrozenCritic(const std::string& path, const std::string& model_dir,
                                        const model::ModelOptions& options);

// The frozen Bradley-Terry reward model from a checkpoint written by `--algo rm`, found and
// loaded the same way (its reward head from reward_head.safetensors).
absl::StatusOr<RewardModel> LoadFrozenRewardModel(const std::string& path, const std::string& model_dir,
                                                  const model::ModelOptions& options);

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_TRAIN_CHECKPOINT_H_
