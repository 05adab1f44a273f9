// The one include of LibTorch for crucible's model code (a precompiled header in the
// torch-linked targets). Torch types stay inside common/model, the learner and the actors.
#ifndef CRUCIBLE_COMMON_MODEL_TORCH_H_
#define CRUCIBLE_COMMON_MODEL_TORCH_H_

#include <torch/torch.h>

#endif  // CRUCIBLE_COMMON_MODEL_TORCH_H_
