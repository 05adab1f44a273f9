// The NCCL communicator (built with CRUCIBLE_WITH_NCCL). One communicator per process on
// GPU local_rank % device count; the ncclUniqueId is published by rank 0 in the job's
// TCPStore. Collectives run on the communicator's own stream and are waited for by polling,
// so a missing peer turns into DeadlineExceeded (and ncclCommAbort) instead of a hang.
// CUDA tensors are reduced in place; CPU tensors (a CPU-only LibTorch driving a GPU, or
// small control values) are staged through a device buffer.
#include "learner/communicator_internal.h"

#if CRUCIBLE_WITH_NCCL

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

namespace crucible::learner::internal {
namespace {

absl::Status CudaError(cudaError_t e, const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", cudaGetErrorString(e)));
}
absl::Status NcclError(ncclResult_t r, const char* what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", ncclGetErrorString(r)));
}

absl::StatusOr<ncclDataType_t> NcclType(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kFloat16: return ncclFloat16;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kInt32: return ncclInt32;
    case torch::kInt64: return ncclInt64;
    case torch::kUInt8: return ncclUint8;
    case torch::kInt8: return ncclInt8;
    default: return absl::InvalidArgumentError(absl::StrCat("nccl: unsupported dtype ", c10::toString(t)));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(c10::intrusive_ptr<c10d::Store> store, ncclComm_t comm, cudaStream_t stream, int device, int rank,
                   int size)
      : store_(std::move(store)), comm_(comm), stream_(stream), device_(device), rank_(rank), size_(size) {}
  ~NcclCommunicator() override {
    cudaSetDevice(device_);
    if (broken_) {
      ncclCommAbort(comm_);
    } else {
      ncclCommDestroy(comm_);
    }
    if (staging_ != nullptr) cudaFree(staging_);
    cudaStreamDestroy(stream_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  absl::Status AllReduce(torch::Tensor& tensor, ReduceOp op, absl::Duration timeout) override {
    if (op == ReduceOp::kMean && !tensor.is_floating_point()) {
      return absl::InvalidArgumentError("mean all-reduce needs a floating-point tensor");
    }
    return Collective(tensor, timeout, "ncclAllReduce", [&](void* p, size_t n, ncclDataType_t dt) {
      return ncclAllReduce(p, p, n, dt, op == ReduceOp::kMean ? ncclAvg : ncclSum, comm_, stream_);
    });
  }

  absl::Status Broadcast(torch::Tensor& tensor, int root, absl::Duration timeout) override {
    if (root < 0 || root >= size_) return absl::InvalidArgumentError(absl::StrCat("broadcast root ", root, " of ", size_));
    return Collective(tensor, timeout, "ncclBroadcast", [&](void* p, size_t n, ncclDataType_t dt) {
      return ncclBroadcast(p, p, n, dt, root, comm_, stream_);
    });
  }

  absl::Status Barrier(absl::Duration timeout) override {
    torch::Tensor one = torch::ones({1}, torch::kInt32);
    return AllReduce(one, ReduceOp::kSum, timeout);
  }

 private:
  template <typename Launch>
  absl::Status Collective(torch::Tensor& tensor, absl::Duration timeout, const char* what, Launch launch) {
    if (broken_) return absl::FailedPreconditionError("nccl communicator is unusable after a failed collective");
    if (!tensor.is_contiguous()) return absl::InvalidArgumentError("nccl collectives need a contiguous tensor");
    absl::StatusOr<ncclDataType_t> dt = NcclType(tensor.scalar_type());
    if (!dt.ok()) return dt.status();
    const size_t bytes = tensor.numel() * tensor.element_size();
    if (cudaError_t e = cudaSetDevice(device_); e != cudaSuccess) return CudaError(e, "cudaSetDevice");
    void* data = tensor.data_ptr();
    const bool staged = tensor.device().is_cpu();
    if (staged) {
      if (bytes > staging_bytes_) {
        if (staging_ != nullptr) cudaFree(staging_);
        staging_ = nullptr;
        staging_bytes_ = 0;
        if (cudaError_t e = cudaMalloc(&staging_, bytes); e != cudaSuccess) return CudaError(e, "cudaMalloc");
        staging_bytes_ = bytes;
      }
      if (cudaError_t e = cudaMemcpyAsync(staging_, data, bytes, cudaMemcpyHostToDevice, stream_); e != cudaSuccess) {
        return CudaError(e, "cudaMemcpyAsync");
      }
      data = staging_;
    } else {
      // Work queued on other streams (LibTorch's) that produced the tensor must finish first.
      if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess) return CudaError(e, "cudaDeviceSynchronize");
    }
    if (ncclResult_t r = launch(data, static_cast<size_t>(tensor.numel()), *dt); r != ncclSuccess) {
      broken_ = true;
      return NcclError(r, what);
    }
    if (staged) {
      if (cudaError_t e = cudaMemcpyAsync(tensor.data_ptr(), staging_, bytes, cudaMemcpyDeviceToHost, stream_);
          e != cudaSuccess) {
        return CudaError(e, "cudaMemcpyAsync");
      }
    }
    return Wait(timeout, what);
  }

  absl::Status Wait(absl::Duration timeout, const char* what) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      cudaError_t e = cudaStreamQuery(stream_);
      if (e == cudaSuccess) return absl::OkStatus();
      if (e != cudaErrorNotReady) {
        broken_ = true;
        return CudaError(e, what);
      }
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) {
        broken_ = true;
        return NcclError(async, what);
      }
      if (absl::Now() >= deadline) {
        broken_ = true;  // the destructor aborts the communicator, unblocking the kernel
        return absl::DeadlineExceededError(absl::StrCat(what, ": a peer did not join within ", absl::FormatDuration(timeout)));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  ncclComm_t comm_;
  cudaStream_t stream_;
  int device_, rank_, size_;
  void* staging_ = nullptr;
  size_t staging_bytes_ = 0;
  bool broken_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Communicator>> MakeNcclCommunicator(const Rendezvous& r, absl::Duration timeout) {
  int devices = 0;
  if (cudaError_t e = cudaGetDeviceCount(&devices); e != cudaSuccess || devices == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("nccl: no CUDA device (", e == cudaSuccess ? "none found" : cudaGetErrorString(e), ")"));
  }
  const int device = r.local_rank % devices;
  if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return CudaError(e, "cudaSetDevice");
  absl::StatusOr<c10::intrusive_ptr<c10d::Store>> store = ConnectStore(r, timeout);
  if (!store.ok()) return store.status();
  ncclUniqueId id;
  const std::string key = "crucible/nccl_unique_id";
  try {
    if (r.rank == 0) {
      if (ncclResult_t res = ncclGetUniqueId(&id); res != ncclSuccess) return NcclError(res, "ncclGetUniqueId");
      const auto* b = reinterpret_cast<const uint8_t*>(&id);
      (*store)->set(key, std::vector<uint8_t>(b, b + sizeof(id)));
    } else {
      std::vector<uint8_t> bytes = (*store)->get(key);
      if (bytes.size() != sizeof(id)) return absl::DataLossError("nccl: malformed unique id in the store");
      std::memcpy(&id, bytes.data(), sizeof(id));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("nccl: exchanging the unique id: ", e.what()));
  }
  ncclComm_t comm;
  if (ncclResult_t res = ncclCommInitRank(&comm, r.world_size, id, r.rank); res != ncclSuccess) {
    return NcclError(res, "ncclCommInitRank");
  }
  cudaStream_t stream;
  if (cudaError_t e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking); e != cudaSuccess) {
    ncclCommDestroy(comm);
    return CudaError(e, "cudaStreamCreate");
  }
  return std::unique_ptr<Communicator>(new NcclCommunicator(*store, comm, stream, device, r.rank, r.world_size));
}

}  // namespace crucible::learner::internal

#else  // !CRUCIBLE_WITH_NCCL

namespace crucible::learner::internal {

absl::StatusOr<std::unique_ptr<Communicator>> MakeNcclCommunicator(const Rendezvous&, absl::Duration) {
  return absl::UnimplementedError("this build has no NCCL (configure with the CUDA toolkit and NCCL present)");
}

}  // namespace crucible::learner::internal

#endif  // CRUCIBLE_WITH_NCCL

namespace crucible::learner {
bool NcclBuilt() { return CRUCIBLE_WITH_NCCL != 0; }
}  // namespace crucible::learner
