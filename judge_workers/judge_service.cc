#include "judge_workers/judge_service.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/problem_io.h"
#include "common/status_macros.h"
#include "common/verdict_json.h"
#include "google/protobuf/util/message_differencer.h"

namespace crucible {

struct JudgeServiceImpl::Job {
  v1::JudgeRequest request;
  std::shared_ptr<const v1::Problem> problem;
  absl::Time deadline = absl::InfiniteFuture();
  absl::Time enqueued = absl::Now();
  std::shared_ptr<std::atomic<bool>> cancelled;
  Callback done;
};

namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

const char* StatusLabel(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return "ok";
    case absl::StatusCode::kInvalidArgument: return "invalid_argument";
    case absl::StatusCode::kNotFound: return "not_found";
    case absl::StatusCode::kDeadlineExceeded: return "deadline_exceeded";
    case absl::StatusCode::kUnavailable: return "unavailable";
    case absl::StatusCode::kCancelled: return "cancelled";
    default: return "error";
  }
}

absl::Time DeadlineOf(const grpc::CallbackServerContext* context) {
  auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace

// ------------------------------------------------------------------------------------
// One bidirectional stream. All state is guarded by mu_; gRPC operations are started
// outside the lock (reactions may run inline), and Finish is the last thing any thread
// does with the object: it is started only when nothing is in flight, so no worker can
// call back afterwards, and OnDone (which deletes) comes after every reaction.
class JudgeServiceImpl::Stream : public grpc::ServerBidiReactor<v1::JudgeRequest, v1::JudgeResponse> {
 public:
  Stream(JudgeServiceImpl* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), cancelled_(std::make_shared<std::atomic<bool>>(false)) {
    service_->streams_gauge_.Increment();
    {
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = true;
    }
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        reading_ = false;
        read_done_ = true;
      }
      Drive();
      return;
    }
    v1::JudgeRequest request = std::move(incoming_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = false;
      ++in_flight_;
    }
    service_->Dispatch(request, DeadlineOf(context_), cancelled_,
                       [this](v1::JudgeResponse response, grpc::Status status) {
                         if (!status.ok()) {
                           response.mutable_status()->set_code(status.error_code());
                           response.mutable_status()->set_message(status.error_message());
                           response.clear_verdict();
                         }
                         {
                           std::lock_guard<std::mutex> lock(mu_);
                           --in_flight_;
                           pending_writes_.push_back(std::move(response));
                         }
                         Drive();
                       });
    Drive();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) write_failed_ = true;
    }
    Drive();
  }

  void OnCancel() override {
    cancelled_->store(true);
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_seen_ = true;
    }
    Drive();
  }

  void OnDone() override {
    service_->streams_gauge_.Decrement();
    delete this;
  }

 private:
  // Starts whatever the state allows: the next read, the next write, or the finish.
  void Drive() {
    bool start_read = false, start_write = false, finish = false;
    grpc::Status finish_status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      const bool stop_reading = read_done_ || cancelled_seen_ || write_failed_;
      if (!reading_ && !stop_reading &&
          in_flight_ + static_cast<int>(pending_writes_.size()) < service_->window_) {
        reading_ = true;
        start_read = true;
      }
      if (!writing_ && !pending_writes_.empty() && !cancelled_seen_ && !write_failed_) {
        outgoing_ = std::move(pending_writes_.front());
        pending_writes_.pop_front();
        writing_ = true;
        start_write = true;
      }
      if (cancelled_seen_ || write_failed_) pending_writes_.clear();
      if (!reading_ && !writing_ && in_flight_ == 0 && pending_writes_.empty() &&
          (read_done_ || cancelled_seen_ || write_failed_)) {
        finished_ = true;
        finish = true;
        finish_status = cancelled_seen_ || write_failed_
                            ? grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled")
                            : grpc::Status::OK;
      }
    }
    if (start_read) StartRead(&incoming_);
    if (start_write) StartWrite(&outgoing_);
    if (finish) Finish(finish_status);
  }

  JudgeServiceImpl* const service_;
  grpc::CallbackServerContext* const context_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
  v1::JudgeRequest incoming_;   // owned by the outstanding read
  v1::JudgeResponse outgoing_;  // owned by the outstanding write

  std::mutex mu_;
  bool reading_ = false;
  bool writing_ = false;
  bool read_done_ = false;
  bool cancelled_seen_ = false;
  bool write_failed_ = false;
  bool finished_ = false;
  int in_flight_ = 0;
  std::deque<v1::JudgeResponse> pending_writes_;
};

// ------------------------------------------------------------------------------------

JudgeServiceImpl::JudgeServiceImpl(::crucible::Judge* judge, JudgeServiceOptions options,
                                   std::shared_ptr<prometheus::Registry> metrics)
    : judge_(judge),
      options_(std::move(options)),
      window_(options_.stream_window > 0 ? options_.stream_window : 2 * std::max(1, options_.workers)),
      worker_name_(options_.worker_name),
      metrics_(std::move(metrics)),
      executions_(prometheus::BuildCounter()
                      .Name("crucible_judge_executions_total")
                      .Help("Programs judged, by verdict and language")
                      .Register(*metrics_)),
      requests_(prometheus::BuildCounter()
                    .Name("crucible_judge_requests_total")
                    .Help("Judge requests answered, by status")
                    .Register(*metrics_)),
      sandbox_errors_(prometheus::BuildCounter()
                          .Name("crucible_judge_sandbox_errors_total")
                          .Help("Evaluations that ended in SE (sandbox or infrastructure failure)")
                          .Register(*metrics_)),
      busy_seconds_(prometheus::BuildCounter()
                        .Name("crucible_judge_busy_seconds_total")
                        .Help("Worker-seconds spent judging (compiling and running tests), all workers")
                        .Register(*metrics_)
                        .Add({})),
      latency_(prometheus::BuildHistogram()
                   .Name("crucible_judge_request_latency_seconds")
                   .Help("Time from a request's arrival to its verdict, queueing included")
                   .Register(*metrics_)),
      test_run_(prometheus::BuildHistogram()
                    .Name("crucible_judge_test_run_seconds")
                    .Help("Wall-clock time of one sandboxed test run")
                    .Register(*metrics_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("crucible_judge_queue_depth")
                       .Help("Requests waiting for a worker")
                       .Register(*metrics_)
                       .Add({})),
      running_gauge_(prometheus::BuildGauge()
                         .Name("crucible_judge_running")
                         .Help("Requests being judged")
                         .Register(*metrics_)
                         .Add({})),
      problems_gauge_(prometheus::BuildGauge()
                          .Name("crucible_judge_problems_registered")
                          .Help("Problems registered with RegisterProblems")
                          .Register(*metrics_)
                          .Add({})),
      streams_gauge_(prometheus::BuildGauge()
                         .Name("crucible_judge_streams_active")
                         .Help("Open Judge streams")
                         .Register(*metrics_)
                         .Add({})) {
  prometheus::BuildGauge()
      .Name("crucible_judge_workers")
      .Help("Worker threads (concurrent evaluations)")
      .Register(*metrics_)
      .Add({})
      .Set(options_.workers);
  // Series without labels are exported from the start, at zero; so are the per-language
  // latency histograms (a panel or rate() over a language nobody has submitted yet reads
  // zeros, not "no data").
  sandbox_errors_.Add({});
  for (const std::string& language : judge_ != nullptr ? judge_->languages().Names() : std::vector<std::string>{}) {
    latency_.Add({{"language", language}}, LatencyBucketsSeconds());
    test_run_.Add({{"language", language}}, LatencyBucketsSeconds());
  }
  for (int slot = 0; slot < options_.workers; ++slot) {
    workers_.emplace_back([this, slot] { WorkerLoop(slot); });
  }
}

JudgeServiceImpl::~JudgeServiceImpl() { StopWorkers(); }

void JudgeServiceImpl::StopWorkers() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  // Anything still queued is answered rather than dropped.
  std::deque<std::unique_ptr<Job>> left;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    left.swap(queue_);
  }
  for (auto& job : left) {
    Respond(*job, v1::JudgeResponse(), absl::UnavailableError("the judge is shutting down"));
  }
}

bool JudgeServiceImpl::Drain(absl::Duration timeout) {
  draining_.store(true);
  std::unique_lock<std::mutex> lock(queue_mu_);
  return idle_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                           [&] { return queue_.empty() && running_ == 0; });
}

absl::StatusOr<std::shared_ptr<const v1::Problem>> JudgeServiceImpl::ResolveProblem(
    const v1::JudgeRequest& request) {
  switch (request.problem_ref_case()) {
    case v1::JudgeRequest::kProblemId: {
      absl::MutexLock lock(&problems_mu_);
      auto it = problems_.find(request.problem_id());
      if (it == problems_.end()) {
        return absl::NotFoundError(absl::StrCat("problem_id: unknown problem \"",
                                                request.problem_id(),
                                                "\"; register it with RegisterProblems first"));
      }
      return it->second;
    }
    case v1::JudgeRequest::kProblem: {
      CRUCIBLE_RETURN_IF_ERROR(ValidateProblem(request.problem(), "problem"));
      return std::make_shared<const v1::Problem>(request.problem());
    }
    default:
      return absl::InvalidArgumentError("request has neither problem_id nor problem");
  }
}

void JudgeServiceImpl::Respond(Job& job, v1::JudgeResponse response, absl::Status status) {
  response.set_request_id(job.request.request_id());
  response.set_worker(worker_name());
  requests_.Add({{"status", StatusLabel(status.code())}}).Increment();
  job.done(std::move(response), ToGrpc(status));
}

void JudgeServiceImpl::Dispatch(const v1::JudgeRequest& request, absl::Time deadline,
                                std::shared_ptr<std::atomic<bool>> cancelled, Callback done) {
  auto job = std::make_unique<Job>();
  job->request = request;
  job->cancelled = std::move(cancelled);
  job->done = std::move(done);
  if (request.timeout_ms() > 0) {
    deadline = std::min(deadline, absl::Now() + absl::Milliseconds(request.timeout_ms()));
  }
  job->deadline = deadline;
  if (draining_.load()) {
    return Respond(*job, v1::JudgeResponse(), absl::UnavailableError("the judge is draining"));
  }
  if (request.request_id().empty()) {
    return Respond(*job, v1::JudgeResponse(), absl::InvalidArgumentError("request_id: empty"));
  }
  absl::StatusOr<std::shared_ptr<const v1::Problem>> problem = ResolveProblem(request);
  if (!problem.ok()) return Respond(*job, v1::JudgeResponse(), problem.status());
  if (absl::Status valid = judge_->ValidateProgram(request.program()); !valid.ok()) {
    return Respond(*job, v1::JudgeResponse(), valid);
  }
  job->problem = *std::move(problem);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) {
      return Respond(*job, v1::JudgeResponse(), absl::UnavailableError("the judge is shutting down"));
    }
    queue_.push_back(std::move(job));
    queue_depth_.Set(static_cast<double>(queue_.size()));
  }
  queue_cv_.notify_one();
}

void JudgeServiceImpl::WorkerLoop(int slot) {
  while (true) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
      queue_depth_.Set(static_cast<double>(queue_.size()));
      running_gauge_.Set(running_);
    }
    if (job->cancelled != nullptr && job->cancelled->load()) {
      Respond(*job, v1::JudgeResponse(), absl::CancelledError("the stream was cancelled"));
    } else if (absl::Now() > job->deadline) {
      Respond(*job, v1::JudgeResponse(),
              absl::DeadlineExceededError("the deadline passed while the request was queued"));
    } else {
      const absl::Time started = absl::Now();
      absl::StatusOr<v1::Verdict> verdict = judge_->Evaluate(
          *job->problem, job->request.program(), job->request.options(), slot, job->deadline);
      busy_seconds_.Increment(absl::ToDoubleSeconds(absl::Now() - started));
      v1::JudgeResponse response;
      absl::Status status = verdict.status();
      if (verdict.ok()) {
        const std::string& language = job->request.program().language();
        executions_.Add({{"verdict", std::string(VerdictName(verdict->verdict()))}, {"language", language}})
            .Increment();
        if (verdict->verdict() == v1::SE) {
          sandbox_errors_.Add({}).Increment();
          CRUCIBLE_LOG(Warning) << "request " << job->request.request_id()
                                << ": sandbox error: " << verdict->subtype();
        }
        for (const v1::TestResult& t : verdict->tests()) {
          test_run_.Add({{"language", language}}, LatencyBucketsSeconds())
              .Observe(static_cast<double>(t.wall_time_ms()) / 1000.0);
        }
        latency_.Add({{"language", language}}, LatencyBucketsSeconds())
            .Observe(absl::ToDoubleSeconds(absl::Now() - job->enqueued));
        *response.mutable_verdict() = *std::move(verdict);
      }
      Respond(*job, std::move(response), status);
    }
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      --running_;
      running_gauge_.Set(running_);
      if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
    }
  }
}

grpc::ServerBidiReactor<v1::JudgeRequest, v1::JudgeResponse>* JudgeServiceImpl::Judge(
    grpc::CallbackServerContext* context) {
  return new Stream(this, context);
}

grpc::ServerUnaryReactor* JudgeServiceImpl::JudgeOne(grpc::CallbackServerContext* context,
                                                     const v1::JudgeRequest* request,
                                                     v1::JudgeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Dispatch(*request, DeadlineOf(context), nullptr,
           [reactor, response](v1::JudgeResponse result, grpc::Status status) {
             *response = std::move(result);
             reactor->Finish(status);
           });
  return reactor;
}

grpc::ServerUnaryReactor* JudgeServiceImpl::RegisterProblems(
    grpc::CallbackServerContext* context, const v1::RegisterProblemsRequest* request,
    v1::RegisterProblemsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // All or nothing: every problem is checked before any is registered.
  for (int i = 0; i < request->problems_size(); ++i) {
    const v1::Problem& p = request->problems(i);
    std::string where = absl::StrCat("problems[", i, "]");
    absl::Status status = ValidateProblem(p, where);
    if (status.ok() && p.checker().kind() == v1::Checker::PROGRAM &&
        judge_->languages().Find(p.checker().language()) == nullptr) {
      status = absl::InvalidArgumentError(absl::StrCat(where, " (problem \"", p.id(),
                                                       "\"): checker.language: unknown language \"",
                                                       p.checker().language(), "\""));
    }
    if (!status.ok()) {
      reactor->Finish(ToGrpc(status));
      return reactor;
    }
  }
  absl::MutexLock lock(&problems_mu_);
  for (int i = 0; i < request->problems_size(); ++i) {
    const v1::Problem& p = request->problems(i);
    auto it = problems_.find(p.id());
    if (it != problems_.end() &&
        !google::protobuf::util::MessageDifferencer::Equals(*it->second, p) && !request->replace()) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::ALREADY_EXISTS,
          absl::StrCat("problems[", i, "]: problem \"", p.id(),
                       "\" is registered with different content; set replace to overwrite")));
      return reactor;
    }
  }
  // Only problems new to this judge count: a reconnecting client re-registers everything.
  std::unordered_set<std::string> new_ids;
  for (const v1::Problem& p : request->problems()) {
    if (problems_.count(p.id()) == 0) new_ids.insert(p.id());
  }
  if (problems_.size() + new_ids.size() > options_.max_problems) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 absl::StrCat("at most ", options_.max_problems, " problems")));
    return reactor;
  }
  for (const v1::Problem& p : request->problems()) {
    auto it = problems_.find(p.id());
    if (it == problems_.end()) {
      problems_.emplace(p.id(), std::make_shared<const v1::Problem>(p));
      response->set_added(response->added() + 1);
    } else if (google::protobuf::util::MessageDifferencer::Equals(*it->second, p)) {
      response->set_unchanged(response->unchanged() + 1);
    } else {
      it->second = std::make_shared<const v1::Problem>(p);
      response->set_replaced(response->replaced() + 1);
    }
  }
  problems_gauge_.Set(static_cast<double>(problems_.size()));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void JudgeServiceImpl::SetWorkerName(std::string name) {
  absl::MutexLock lock(&name_mu_);
  worker_name_ = std::move(name);
}

std::string JudgeServiceImpl::worker_name() const {
  absl::MutexLock lock(&name_mu_);
  return worker_name_;
}

grpc::ServerUnaryReactor* JudgeServiceImpl::GetStatus(grpc::CallbackServerContext* context,
                                                      const v1::JudgeStatusRequest*,
                                                      v1::JudgeStatusResponse* response) {
  response->set_serving(!draining_.load());
  response->set_workers(options_.workers);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    response->set_queued(static_cast<int32_t>(queue_.size()));
    response->set_running(running_);
  }
  {
    absl::MutexLock lock(&problems_mu_);
    response->set_problems(static_cast<int32_t>(problems_.size()));
  }
  for (const std::string& name : judge_->languages().Names()) response->add_languages(name);
  response->set_version("crucible 0.1.0");
  response->set_worker(worker_name());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace crucible
