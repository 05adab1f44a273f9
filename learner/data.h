// The learner's training data: trajectories (judged programs) and preference pairs, from
// JSON Lines files in the format documented in learner/README.md, and the deterministic
// batch order (epochs shuffled by seed; a cursor that a checkpoint can save).
#ifndef CRUCIBLE_LEARNER_DATA_H_
#define CRUCIBLE_LEARNER_DATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tokenizer.h"
#include "crucible/v1/trajectory.pb.h"

namespace crucible::learner {

// One JSON line. Trajectories fill completion (and the verdict fields); preference pairs
// fill completion (chosen) and rejected.
struct Example {
  std::vector<int32_t> prompt;
  std::vector<int32_t> completion;
  std::vector<int32_t> rejected;            // preference pairs only
  std::vector<float> behaviour_logprobs;    // one per completion token, or empty
  std::vector<float> values;                // value-head values at sampling time, or empty
  double reward = 0;                        // the verdict's reward
  int64_t outcome = -1;                     // learner::Outcome, -1 when not given
  std::string group_id;                     // samples of one problem (RLOO / GRPO)
  double baseline_reward = 0;               // CodeRL: reward of the greedy decode W^b
  bool reference = false;                   // a ground-truth solution (CodeRL's L_ce, critic "passed")
};

enum class DataKind { kTrajectories, kPreferences };

// Parses one line; text fields are tokenized with `tokenizer`, *_tokens fields are taken as
// they are. Errors name the field.
absl::StatusOr<Example> ParseExample(const std::string& line, DataKind kind, const Tokenizer& tokenizer);
// Every non-blank line of a file; errors carry the line number. Token ids must be below
// vocab_size.
absl::StatusOr<std::vector<Example>> LoadExamples(const std::string& path, DataKind kind, const Tokenizer& tokenizer,
                                                  int64_t vocab_size);

// A streamed trajectory (proto/crucible/v1/trajectory.proto) as a training example: its
// token fields as they are; the outcome from `outcome`, else from the verdict's code.
absl::StatusOr<Example> ExampleFromTrajectory(const v1::Trajectory& trajectory, int64_t vocab_size);

// Outcome names: compile_error|runtime_error|failed_test|passed (also the judge's verdict
// codes CE|RE|TLE|MLE|OLE|WA|AC|OK; limits count as runtime errors, as in CodeRL).
std::optional<int64_t> ParseOutcome(const std::string& name);

// The order examples are visited in: epoch e is a permutation of [0, n) drawn from
// (seed, e) (or the identity without shuffling); `consumed` counts examples handed out
// since the start, so (seed, consumed) is the whole cursor.
class DataOrder {
 public:
  DataOrder(int64_t size, uint64_t seed, bool shuffle) : size_(size), seed_(seed), shuffle_(shuffle) {}
  // The next `count` example indices (crossing into the next epoch as needed).
  std::vector<int64_t> Next(int64_t count);
  int64_t consumed() const { return consumed_; }
  void set_consumed(int64_t consumed) { consumed_ = consumed; }
  int64_t epoch() const { return size_ == 0 ? 0 : consumed_ / size_; }

 private:
  const std::vector<int64_t>& Permutation(int64_t epoch);
  int64_t size_;
  uint64_t seed_;
  bool shuffle_;
  int64_t consumed_ = 0;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> permutation_;
};

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_DATA_H_
