// Applying a streamed adapter version to a model in place: the actor's only way of
// changing its policy. The first version's PEFT config says how to attach the adapters
// (once); every version after is a copy of each tensor, by its PEFT name, into the LoRA
// factors the model already has: no reload of the base, no second model. A version whose
// adapter configuration, tensor names or shapes differ from the model's is refused whole,
// before anything is copied.
#ifndef CRUCIBLE_ACTORS_ADAPTER_SYNC_H_
#define CRUCIBLE_ACTORS_ADAPTER_SYNC_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "common/model/decoder.h"
#include "common/weight_stream.h"

namespace crucible {

class AdapterSync {
 public:
  explicit AdapterSync(model::CausalLm model) : model_(std::move(model)) {}
  // Copies `version` into the model's adapters (attaching them on the first call).
  absl::Status Apply(const WeightsVersion& version);
  bool attached() const { return !targets_.empty(); }

 private:
  model::CausalLm model_;
  std::map<std::string, torch::Tensor> targets_;  // PEFT name -> the LoRA factor
  std::string peft_;                              // the attached config, serialized
};

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_ADAPTER_SYNC_H_
