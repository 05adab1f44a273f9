// The gRPC JudgeService over a Judge and a pool of worker threads (one sandbox slot
// each). Streams are bidirectional: each request carries an id, its response comes back
// as soon as it is judged, in any order. A stream reads no further while `window`
// requests of its own are unanswered, so a fast client is slowed by gRPC flow control
// instead of filling the server's memory. Bad requests are answered with a per-request
// INVALID_ARGUMENT (NOT_FOUND for an unregistered problem) and the stream goes on; the
// unary calls use the call status instead. While draining, unanswered work finishes,
// new requests are answered UNAVAILABLE, and the health service reports NOT_SERVING.
#ifndef CRUCIBLE_JUDGE_WORKERS_JUDGE_SERVICE_H_
#define CRUCIBLE_JUDGE_WORKERS_JUDGE_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crucible/v1/judge.grpc.pb.h"
#include "judge_workers/judge.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace crucible {

struct JudgeServiceOptions {
  int workers = 2;              // concurrent evaluations; each is a sandbox slot
  int stream_window = 0;        // unanswered requests per stream; 0: 2 * workers
  std::string worker_name;      // reported in responses; "" until SetWorkerName()
  size_t max_problems = 100000;
};

class JudgeServiceImpl final : public v1::JudgeService::CallbackService {
 public:
  JudgeServiceImpl(::crucible::Judge* judge, JudgeServiceOptions options,
                   std::shared_ptr<prometheus::Registry> metrics);
  ~JudgeServiceImpl() override;

  grpc::ServerUnaryReactor* RegisterProblems(grpc::CallbackServerContext* context,
                                             const v1::RegisterProblemsRequest* request,
                                             v1::RegisterProblemsResponse* response) override;
  grpc::ServerBidiReactor<v1::JudgeRequest, v1::JudgeResponse>* Judge(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* JudgeOne(grpc::CallbackServerContext* context,
                                     const v1::JudgeRequest* request,
                                     v1::JudgeResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::JudgeStatusRequest* request,
                                      v1::JudgeStatusResponse* response) override;

  // Stops taking new work; returns once queued and running work is done or the timeout
  // passes (then false).
  bool Drain(absl::Duration timeout);
  // Joins the workers; call after the gRPC server has shut down.
  void StopWorkers();

  int stream_window() const { return window_; }

  // The name responses carry (JudgeResult.worker at the client). The server sets it to
  // host:port once its port is bound, so judges started with --port=0 are told apart.
  void SetWorkerName(std::string name) ABSL_LOCKS_EXCLUDED(name_mu_);
  std::string worker_name() const ABSL_LOCKS_EXCLUDED(name_mu_);

  // Internal: used by the stream reactor.
  struct Job;
  using Callback = std::function<void(v1::JudgeResponse, grpc::Status)>;
  // Validates and queues one request; `done` runs exactly once, possibly inline.
  void Dispatch(const v1::JudgeRequest& request, absl::Time deadline,
                std::shared_ptr<std::atomic<bool>> cancelled, Callback done);
  bool draining() const { return draining_.load(); }

 private:
  class Stream;
  void WorkerLoop(int slot);
  void Respond(Job& job, v1::JudgeResponse response, absl::Status status);
  absl::StatusOr<std::shared_ptr<const v1::Problem>> ResolveProblem(const v1::JudgeRequest& request);

  ::crucible::Judge* const judge_;
  const JudgeServiceOptions options_;
  const int window_;
  std::atomic<bool> draining_{false};

  absl::Mutex problems_mu_;
  std::unordered_map<std::string, std::shared_ptr<const v1::Problem>> problems_
      ABSL_GUARDED_BY(problems_mu_);

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  int running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  mutable absl::Mutex name_mu_;
  std::string worker_name_ ABSL_GUARDED_BY(name_mu_);
  std::shared_ptr<prometheus::Registry> metrics_;
  prometheus::Family<prometheus::Counter>& executions_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& sandbox_errors_;
  prometheus::Counter& busy_seconds_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Histogram>& test_run_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& running_gauge_;
  prometheus::Gauge& problems_gauge_;
  prometheus::Gauge& streams_gauge_;
};

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_JUDGE_SERVICE_H_
