// One rank of the communicator conformance suite: the same checks against every backend.
//   learner_comm_worker <local|gloo|nccl> <conformance|timeout>
// Rank and world come from the environment (RendezvousFromEnvironment). Exits 0 when every
// check held, 1 with the failed check on stderr, 77 when the backend cannot run here.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "learner/communicator.h"
#include "tests/support/skip.h"

namespace crucible::learner {
namespace {

const absl::Duration kTimeout = absl::Seconds(30);

#define EXPECT(cond)                                                                          \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "rank %d: check failed at line %d: %s\n", rank, __LINE__, #cond); \
      return 1;                                                                               \
    }                                                                                         \
  } while (0)
#define EXPECT_OK(expr)                                                                            \
  do {                                                                                             \
    absl::Status _s = (expr);                                                                      \
    if (!_s.ok()) {                                                                                \
      std::fprintf(stderr, "rank %d: line %d: %s: %s\n", rank, __LINE__, #expr, _s.ToString().c_str()); \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

bool Equal(const torch::Tensor& a, const torch::Tensor& b) { return a.sizes() == b.sizes() && a.equal(b); }

int Conformance(Communicator& comm, const Rendezvous& r) {
  const int rank = comm.rank(), world = comm.size();
  EXPECT(rank == r.rank);
  EXPECT(world == r.world_size);
  // NCCL with a CUDA LibTorch reduces device tensors in place; otherwise CPU tensors (staged).
  const torch::Device device =
      comm.backend() == "nccl" && torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  const double triangle = world * (world + 1) / 2.0;

  // Sums of every size class: one element, a small vector, a multi-megabyte buffer.
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{(1 << 20) + 3}}) {
    torch::Tensor pattern = torch::remainder(torch::arange(n, torch::kFloat32), 7);
    torch::Tensor t = (pattern * (rank + 1)).to(device);
    EXPECT_OK(comm.AllReduce(t, ReduceOp::kSum, kTimeout));
    EXPECT(Equal(t.cpu(), pattern * triangle));
  }
  // Mean in float64, exact sums of large integers in int64.
  torch::Tensor m = torch::full({5}, static_cast<double>(rank), torch::kFloat64);
  EXPECT_OK(comm.AllReduce(m, ReduceOp::kMean, kTimeout));
  EXPECT(Equal(m, torch::full({5}, (world - 1) / 2.0, torch::kFloat64)));
  torch::Tensor big = torch::full({3}, int64_t{1000000000000} * (rank + 1), torch::kInt64);
  EXPECT_OK(comm.AllReduce(big, ReduceOp::kSum, kTimeout));
  EXPECT(Equal(big, torch::full({3}, static_cast<int64_t>(1000000000000 * triangle), torch::kInt64)));
  torch::Tensor ints = torch::ones({2}, torch::kInt64);
  EXPECT(comm.AllReduce(ints, ReduceOp::kMean, kTimeout).code() == absl::StatusCode::kInvalidArgument);

  // Broadcast from every root.
  for (int root = 0; root < world; ++root) {
    torch::Tensor b = torch::arange(10, torch::kFloat32) + 100 * rank;
    EXPECT_OK(comm.Broadcast(b, root, kTimeout));
    EXPECT(Equal(b, torch::arange(10, torch::kFloat32) + 100 * root));
  }
  torch::Tensor any = torch::zeros({1});
  EXPECT(comm.Broadcast(any, world, kTimeout).code() == absl::StatusCode::kInvalidArgument);
  EXPECT(comm.Broadcast(any, -1, kTimeout).code() == absl::StatusCode::kInvalidArgument);

  // Packed collectives over tensors of mixed shapes, a view among them.
  torch::Tensor matrix = torch::full({3, 4}, rank + 1.0);
  torch::Tensor vector = torch::full({5}, 2.0 * (rank + 1));
  torch::Tensor scalar = torch::full({}, 3.0 * (rank + 1));
  torch::Tensor host = torch::zeros({4, 4});
  torch::Tensor column = host.select(1, 2);  // non-contiguous view
  column.fill_(rank + 1.0);
  EXPECT_OK(AllReduceTensors(comm, {matrix, vector, scalar, column}, ReduceOp::kMean, kTimeout));
  const double mean = (world + 1) / 2.0;
  EXPECT(Equal(matrix, torch::full({3, 4}, mean)));
  EXPECT(Equal(vector, torch::full({5}, 2 * mean)));
  EXPECT(Equal(scalar, torch::full({}, 3 * mean)));
  EXPECT(Equal(host.select(1, 2), torch::full({4}, mean)));
  EXPECT(host.select(1, 1).abs().sum().item<double>() == 0);  // the rest of the storage untouched
  torch::Tensor p1 = torch::full({2, 2}, static_cast<float>(rank)), p2 = torch::full({3}, static_cast<float>(rank));
  EXPECT_OK(BroadcastTensors(comm, {p1, p2}, world - 1, kTimeout));
  EXPECT(Equal(p1, torch::full({2, 2}, static_cast<float>(world - 1))));
  EXPECT(Equal(p2, torch::full({3}, static_cast<float>(world - 1))));
  EXPECT(AllReduceTensors(comm, {torch::zeros({1}), torch::zeros({1}, torch::kInt64)}, ReduceOp::kSum, kTimeout).code() ==
         absl::StatusCode::kInvalidArgument);

  // Barrier: nobody leaves before the last rank arrives (rank 0 arrives late).
  if (rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto before = std::chrono::steady_clock::now();
  EXPECT_OK(comm.Barrier(kTimeout));
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
  if (rank != 0 && world > 1) EXPECT(waited > 0.15);
  std::printf("rank %d of %d (%s): conformance ok\n", rank, world, comm.backend().c_str());
  return 0;
}

// Rank 0 reduces with a short timeout while the other ranks never join: it must get an
// error near the deadline instead of hanging.
int Timeout(Communicator& comm) {
  const int rank = comm.rank();
  if (rank != 0) {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    return 0;
  }
  torch::Tensor t = torch::ones({16});
  const auto before = std::chrono::steady_clock::now();
  absl::Status s = comm.AllReduce(t, ReduceOp::kSum, absl::Milliseconds(1500));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count();
  std::printf("rank 0: %s after %.2f s\n", s.ToString().c_str(), took);
  EXPECT(s.code() == absl::StatusCode::kDeadlineExceeded);
  EXPECT(took >= 1.4 && took < 4.5);
  return 0;
}

int Main(int argc, char** argv) {
  const int rank = -1;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <local|gloo|nccl> <conformance|timeout>\n", argv[0]);
    return 2;
  }
  absl::StatusOr<Rendezvous> r = RendezvousFromEnvironment();
  EXPECT_OK(r.status());
  CommunicatorOptions options;
  options.backend = argv[1];
  options.rendezvous = *r;
  options.connect_timeout = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<Communicator>> comm = CreateCommunicator(options);
  if (!comm.ok() && (comm.status().code() == absl::StatusCode::kUnimplemented ||
                     comm.status().code() == absl::StatusCode::kFailedPrecondition)) {
    testing::Skip(std::string(comm.status().message()).c_str());
  }
  EXPECT_OK(comm.status());
  const std::string mode = argv[2];
  return mode == "timeout" ? Timeout(**comm) : Conformance(**comm, *r);
}

}  // namespace
}  // namespace crucible::learner

int main(int argc, char** argv) { return crucible::learner::Main(argc, argv); }
