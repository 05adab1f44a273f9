// The Gloo communicator: c10d's ProcessGroupGloo (CPU tensors over TCP) and the TCPStore
// rendezvous every backend shares.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "learner/communicator_internal.h"

namespace crucible::learner::internal {
namespace {

std::chrono::milliseconds Millis(absl::Duration d) {
  return std::chrono::milliseconds(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

// c10d reports a missing peer as an exception; a timeout reads as DeadlineExceeded.
absl::Status FromException(const std::string& what, const char* op, absl::Time start, absl::Duration timeout) {
  const bool timed_out = absl::StrContains(what, "Timed out") || absl::StrContains(what, "timed out") ||
                         absl::Now() - start >= timeout;
  const std::string message = absl::StrCat("gloo ", op, ": ", what);
  return timed_out ? absl::DeadlineExceededError(message) : absl::UnavailableError(message);
}

bool IsLoopback(const std::string& addr) {
  return addr == "localhost" || absl::StartsWith(addr, "127.") || addr == "::1";
}

class GlooCommunicator final : public Communicator {
 public:
  GlooCommunicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<c10d::ProcessGroupGloo> group, int rank,
                   int size)
      : store_(std::move(store)), group_(std::move(group)), rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "gloo"; }

  absl::Status AllReduce(torch::Tensor& tensor, ReduceOp op, absl::Duration timeout) override {
    if (op == ReduceOp::kMean && !tensor.is_floating_point()) {
      return absl::InvalidArgumentError("mean all-reduce needs a floating-point tensor");
    }
    if (!tensor.is_contiguous() || !tensor.device().is_cpu()) {
      return absl::InvalidArgumentError("gloo all-reduce needs a contiguous CPU tensor");
    }
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;  // Gloo has no average: sum, then divide
    options.timeout = Millis(timeout);
    std::vector<at::Tensor> tensors{tensor};
    absl::Status s = Run("all-reduce", timeout, [&] { return group_->allreduce(tensors, options); });
    if (s.ok() && op == ReduceOp::kMean) tensor.div_(size_);
    return s;
  }

  absl::Status Broadcast(torch::Tensor& tensor, int root, absl::Duration timeout) override {
    if (root < 0 || root >= size_) return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root, " of ", size_));
    if (!tensor.is_contiguous() || !tensor.device().is_cpu()) {
      return absl::InvalidArgumentError("gloo broadcast needs a contiguous CPU tensor");
    }
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.timeout = Millis(timeout);
    std::vector<at::Tensor> tensors{tensor};
    return Run("broadcast", timeout, [&] { return group_->broadcast(tensors, options); });
  }

  absl::Status Barrier(absl::Duration timeout) override {
    c10d::BarrierOptions options;
    options.timeout = Millis(timeout);
    return Run("barrier", timeout, [&] { return group_->barrier(options); });
  }

 private:
  template <typename Start>
  absl::Status Run(const char* op, absl::Duration timeout, Start start) {
    const absl::Time begin = absl::Now();
    try {
      c10::intrusive_ptr<c10d::Work> work = start();
      work->wait(Millis(timeout));
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return FromException(e.what(), op, begin, timeout);
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  int rank_, size_;
};

}  // namespace

absl::StatusOr<c10::intrusive_ptr<c10d::Store>> ConnectStore(const Rendezvous& r, absl::Duration timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(r.master_port);
  options.isServer = r.rank == 0;
  options.numWorkers = static_cast<size_t>(r.world_size);
  options.waitWorkers = true;
  options.timeout = Millis(timeout);
  try {
    return c10::intrusive_ptr<c10d::Store>(c10::make_intrusive<c10d::TCPStore>(r.master_addr, options));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rendezvous at ", r.master_addr, ":", r.master_port, " (rank ", r.rank,
                                               " of ", r.world_size, "): ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<Communicator>> MakeGlooCommunicator(const Rendezvous& r, absl::Duration timeout) {
  absl::StatusOr<c10::intrusive_ptr<c10d::Store>> store = ConnectStore(r, timeout);
  if (!store.ok()) return store.status();
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(Millis(timeout));
    // The interface: GLOO_SOCKET_IFNAME as in PyTorch; loopback for a single-node job on
    // 127.0.0.1; otherwise the address this host's name resolves to.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (IsLoopback(r.master_addr)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(*store, r.rank, r.world_size, options);
    return std::unique_ptr<Communicator>(new GlooCommunicator(*store, std::move(group), r.rank, r.world_size));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("gloo process group (rank ", r.rank, " of ", r.world_size, "): ", e.what()));
  }
}

}  // namespace crucible::learner::internal
