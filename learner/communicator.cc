#include "learner/communicator.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "learner/communicator_internal.h"

namespace crucible::learner {
namespace {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  absl::Status AllReduce(torch::Tensor& tensor, ReduceOp op, absl::Duration) override {
    if (op == ReduceOp::kMean && !tensor.is_floating_point()) {
      return absl::InvalidArgumentError("mean all-reduce needs a floating-point tensor");
    }
    return absl::OkStatus();
  }
  absl::Status Broadcast(torch::Tensor&, int root, absl::Duration) override {
    if (root != 0) return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root, " of 1 rank"));
    return absl::OkStatus();
  }
  absl::Status Barrier(absl::Duration) override { return absl::OkStatus(); }
};

absl::Status CheckSameDtype(const std::vector<torch::Tensor>& tensors) {
  for (const torch::Tensor& t : tensors) {
    if (t.scalar_type() != tensors.front().scalar_type() || t.device() != tensors.front().device()) {
      return absl::InvalidArgumentError("packed collectives need one dtype and one device");
    }
  }
  return absl::OkStatus();
}

torch::Tensor Pack(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> flat;
  flat.reserve(tensors.size());
  for (const torch::Tensor& t : tensors) flat.push_back(t.reshape({-1}));
  return torch::cat(flat);
}

void Unpack(const torch::Tensor& packed, const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (const torch::Tensor& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(packed.narrow(0, offset, n).view(t.sizes()));  // views and non-contiguous tensors too
    offset += n;
  }
}

absl::StatusOr<int> ParseInt(const EnvLookup& env, const std::string& name, int fallback) {
  std::optional<std::string> v = env(name);
  if (!v || v->empty()) return fallback;
  int out;
  if (!absl::SimpleAtoi(*v, &out)) return absl::InvalidArgumentError(absl::StrCat(name, "=\"", *v, "\" is not an integer"));
  return out;
}

}  // namespace

absl::Status AllReduceTensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, ReduceOp op,
                              absl::Duration timeout) {
  if (tensors.empty()) return comm.Barrier(timeout);
  if (absl::Status s = CheckSameDtype(tensors); !s.ok()) return s;
  if (op == ReduceOp::kMean && !tensors.front().is_floating_point()) {
    return absl::InvalidArgumentError("mean all-reduce needs a floating-point tensor");
  }
  if (comm.size() == 1) return absl::OkStatus();
  torch::NoGradGuard no_grad;
  torch::Tensor packed = Pack(tensors);
  if (absl::Status s = comm.AllReduce(packed, op, timeout); !s.ok()) return s;
  Unpack(packed, tensors);
  return absl::OkStatus();
}

absl::Status BroadcastTensors(Communicator& comm, const std::vector<torch::Tensor>& tensors, int root,
                              absl::Duration timeout) {
  if (root < 0 || root >= comm.size()) {
    return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root, " of ", comm.size(), " ranks"));
  }
  if (tensors.empty()) return comm.Barrier(timeout);
  if (absl::Status s = CheckSameDtype(tensors); !s.ok()) return s;
  if (comm.size() == 1) return absl::OkStatus();
  torch::NoGradGuard no_grad;
  torch::Tensor packed = Pack(tensors);
  if (absl::Status s = comm.Broadcast(packed, root, timeout); !s.ok()) return s;
  Unpack(packed, tensors);
  return absl::OkStatus();
}

std::string FirstSlurmHost(const std::string& nodelist) {
  // Cut at the first comma outside brackets, then expand the first range of a bracket.
  size_t depth = 0, end = nodelist.size();
  for (size_t i = 0; i < nodelist.size(); ++i) {
    if (nodelist[i] == '[') ++depth;
    if (nodelist[i] == ']' && depth > 0) --depth;
    if (nodelist[i] == ',' && depth == 0) {
      end = i;
      break;
    }
  }
  const std::string first = nodelist.substr(0, end);
  const size_t open = first.find('[');
  if (open == std::string::npos) return first;
  const size_t close = first.find(']', open);
  std::string inside = first.substr(open + 1, close == std::string::npos ? std::string::npos : close - open - 1);
  const size_t stop = inside.find_first_of(",-");
  const std::string suffix = close == std::string::npos ? "" : first.substr(close + 1);
  return first.substr(0, open) + inside.substr(0, stop) + suffix;
}

absl::StatusOr<Rendezvous> RendezvousFromEnvironment(const EnvLookup& env) {
  Rendezvous r;
  const bool torchrun = env("RANK").has_value() || env("WORLD_SIZE").has_value();
  const bool slurm = !torchrun && env("SLURM_PROCID").has_value();
  absl::StatusOr<int> rank = 0, world = 1, local = 0;
  if (torchrun) {
    r.source = "torchrun";
    rank = ParseInt(env, "RANK", 0);
    world = ParseInt(env, "WORLD_SIZE", 1);
    local = ParseInt(env, "LOCAL_RANK", 0);
  } else if (slurm) {
    r.source = "slurm";
    rank = ParseInt(env, "SLURM_PROCID", 0);
    world = ParseInt(env, "SLURM_NTASKS", 1);
    local = ParseInt(env, "SLURM_LOCALID", 0);
  }
  for (const auto* v : {&rank, &world, &local}) {
    if (!v->ok()) return v->status();
  }
  r.rank = *rank;
  r.world_size = *world;
  r.local_rank = *local;
  if (r.world_size < 1) return absl::InvalidArgumentError(absl::StrCat("world size ", r.world_size, " < 1"));
  if (r.rank < 0 || r.rank >= r.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", r.rank, " outside [0, ", r.world_size, ")"));
  }
  if (r.local_rank < 0) return absl::InvalidArgumentError(absl::StrCat("local rank ", r.local_rank, " < 0"));
  if (std::optional<std::string> addr = env("MASTER_ADDR"); addr && !addr->empty()) {
    r.master_addr = *addr;
  } else if (slurm) {
    std::optional<std::string> nodes = env("SLURM_STEP_NODELIST");
    if (!nodes || nodes->empty()) nodes = env("SLURM_JOB_NODELIST");
    if (nodes && !nodes->empty()) r.master_addr = FirstSlurmHost(*nodes);
  }
  int default_port = 29500;
  if (slurm) {
    absl::StatusOr<int> job = ParseInt(env, "SLURM_JOB_ID", 0);
    if (!job.ok()) return job.status();
    default_port = 20000 + *job % 20000;
  }
  absl::StatusOr<int> port = ParseInt(env, "MASTER_PORT", default_port);
  if (!port.ok()) return port.status();
  if (*port < 1 || *port > 65535) return absl::InvalidArgumentError(absl::StrCat("MASTER_PORT ", *port, " out of range"));
  r.master_port = *port;
  return r;
}

absl::StatusOr<Rendezvous> RendezvousFromEnvironment() {
  return RendezvousFromEnvironment([](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  });
}

std::unique_ptr<Communicator> MakeLocalCommunicator() { return std::make_unique<LocalCommunicator>(); }

absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const CommunicatorOptions& options) {
  std::string backend = options.backend;
  if (backend == "auto") backend = options.rendezvous.world_size == 1 ? "local" : "gloo";
  if (backend == "local") {
    if (options.rendezvous.world_size != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("the local communicator is one process, the job has ", options.rendezvous.world_size));
    }
    return MakeLocalCommunicator();
  }
  if (backend == "gloo") return internal::MakeGlooCommunicator(options.rendezvous, options.connect_timeout);
  if (backend == "nccl") return internal::MakeNcclCommunicator(options.rendezvous, options.connect_timeout);
  return absl::InvalidArgumentError(absl::StrCat("unknown communicator backend \"", backend, "\" (local, gloo, nccl, auto)"));
}

}  // namespace crucible::learner
