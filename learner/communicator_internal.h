// Shared by the communicator implementations; not part of the learner's interface.
#ifndef CRUCIBLE_LEARNER_COMMUNICATOR_INTERNAL_H_
#define CRUCIBLE_LEARNER_COMMUNICATOR_INTERNAL_H_

#include <torch/csrc/distributed/c10d/Store.hpp>

#include <memory>

#include "absl/status/statusor.h"
#include "learner/communicator.h"

namespace crucible::learner::internal {

// The job's TCPStore: rank 0 serves it on master_addr:master_port, every rank (rank 0
// included) connects; returns once all world_size ranks have connected.
absl::StatusOr<c10::intrusive_ptr<c10d::Store>> ConnectStore(const Rendezvous& rendezvous, absl::Duration timeout);

absl::StatusOr<std::unique_ptr<Communicator>> MakeGlooCommunicator(const Rendezvous& rendezvous,
                                                                   absl::Duration timeout);
// Unimplemented error when built without NCCL.
absl::StatusOr<std::unique_ptr<Communicator>> MakeNcclCommunicator(const Rendezvous& rendezvous,
                                                                   absl::Duration timeout);

}  // namespace crucible::learner::internal

#endif  // CRUCIBLE_LEARNER_COMMUNICATOR_INTERNAL_H_
