// Collectives for data-parallel training. One interface, three implementations:
//   local  one process: every collective is the identity;
//   gloo   CPU tensors over TCP, through LibTorch's c10d ProcessGroupGloo, meeting at a
//          TCPStore that rank 0 serves on MASTER_ADDR:MASTER_PORT;
//   nccl   GPU collectives (built when the CUDA toolkit and NCCL are found; CMake option
//          CRUCIBLE_WITH_NCCL); the unique id travels through the same TCPStore. CPU
//          tensors are staged through a device buffer, so a CPU-only LibTorch can drive it.
//
// Every collective takes a timeout and returns a Status: DeadlineExceeded when a peer did
// not take part in time, Unavailable when a peer's connection broke. After a failed
// collective the communicator is unusable (the group may be mid-operation); the trainer
// exits non-zero and the launcher restarts the job from its last checkpoint.
#ifndef CRUCIBLE_LEARNER_COMMUNICATOR_H_
#define CRUCIBLE_LEARNER_COMMUNICATOR_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/model/torch.h"

namespace crucible::learner {

enum class ReduceOp { kSum, kMean };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;
  // In place on every rank. The tensor must be contiguous and have the same shape and dtype
  // on every rank. kMean is for floating-point tensors only.
  virtual absl::Status AllReduce(torch::Tensor& tensor, ReduceOp op, absl::Duration timeout) = 0;
  // Every rank's tensor becomes root's.
  virtual absl::Status Broadcast(torch::Tensor& tensor, int root, absl::Duration timeout) = 0;
  virtual absl::Status Barrier(absl::Duration timeout) = 0;
};

// The collectives over many tensors of one dtype (gradients, parameters): packed into one
// contiguous buffer, one collective, unpacked in place. Cheaper than one call per tensor.
absl::Status AllReduceTensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, ReduceOp op,
                              absl::Duration timeout);
absl::Status BroadcastTensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                              absl::Duration timeout);

// Where this process sits in the job, from the environment launchers set:
//   torchrun / torch.distributed style: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
//     MASTER_PORT (also what the Kubernetes PyTorchJob operator sets);
//   Slurm (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR if set, else the
//     first host of SLURM_STEP_NODELIST / SLURM_JOB_NODELIST ("gpu[03-06,9]" -> "gpu03");
//     MASTER_PORT if set, else 20000 + SLURM_JOB_ID % 20000 (jobs sharing a node differ);
//   neither: a single process (rank 0 of 1).
// RANK wins over SLURM_PROCID when both are set (torchrun inside an allocation).
struct Rendezvous {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single";  // "torchrun", "slurm" or "single"
};
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
absl::StatusOr<Rendezvous> RendezvousFromEnvironment(const EnvLookup& env);
absl::StatusOr<Rendezvous> RendezvousFromEnvironment();  // the process environment

// The first host of a Slurm host list ("n[01-04],m7" -> "n01").
std::string FirstSlurmHost(const std::string& nodelist);

struct CommunicatorOptions {
  std::string backend = "auto";  // local | gloo | nccl | auto (local for one rank, else gloo)
  Rendezvous rendezvous;
  absl::Duration connect_timeout = absl::Minutes(5);  // rendezvous: waiting for every rank
};
absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const CommunicatorOptions& options);

std::unique_ptr<Communicator> MakeLocalCommunicator();
// Whether this build has the NCCL communicator.
bool NcclBuilt();

}  // namespace crucible::learner

#endif  // CRUCIBLE_LEARNER_COMMUNICATOR_H_
