#include "learner/online.h"

#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/model/checkpoint.h"
#include "common/model/model_cli.h"
#include "common/model/runtime.h"
#include "common/status_macros.h"
#include "common/weight_stream.h"
#include "grpcpp/grpcpp.h"
#include "learner/train_checkpoint.h"
#include "learner/trajectory_service.h"
#include "learner/weight_publisher.h"
#include "nlohmann/json.hpp"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace crucible::learner {
namespace {

using nlohmann::json;

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "crucible learner: %s\n", std::string(message).c_str());
  return code;
}

// What rank 0 broadcasts before each step: what comes next, and how many payload bytes.
enum class Tick : int64_t { kIdle = 0, kBatch = 1, kStop = 2 };

// Trajectories as bytes, for the broadcast: a length-prefixed sequence of serialized
// messages, padded to whole int64 elements (the dtype every backend broadcasts).
torch::Tensor PackBatch(const std::vector<v1::Trajectory>& batch, int64_t* bytes) {
  std::string out;
  for (const v1::Trajectory& t : batch) {
    const std::string s = t.SerializeAsString();
    const uint64_t n = s.size();
    out.append(reinterpret_cast<const char*>(&n), sizeof(n));
    out += s;
  }
  *bytes = static_cast<int64_t>(out.size());
  torch::Tensor packed = torch::zeros({(*bytes + 7) / 8}, torch::kInt64);
  std::memcpy(packed.data_ptr<int64_t>(), out.data(), out.size());
  return packed;
}

absl::StatusOr<std::vector<v1::Trajectory>> UnpackBatch(const torch::Tensor& packed, int64_t bytes) {
  const char* p = reinterpret_cast<const char*>(packed.data_ptr<int64_t>());
  std::vector<v1::Trajectory> out;
  int64_t at = 0;
  while (at < bytes) {
    uint64_t n;
    if (at + static_cast<int64_t>(sizeof(n)) > bytes) return absl::DataLossError("a truncated batch broadcast");
    std::memcpy(&n, p + at, sizeof(n));
    at += sizeof(n);
    if (at + static_cast<int64_t>(n) > bytes) return absl::DataLossError("a truncated batch broadcast");
    v1::Trajectory t;
    if (!t.ParseFromArray(p + at, static_cast<int>(n))) return absl::DataLossError("a corrupt batch broadcast");
    out.push_back(std::move(t));
    at += static_cast<int64_t>(n);
  }
  return out;
}

// The learner's Prometheus metrics (names in learner/README.md).
struct LearnerMetrics {
  explicit LearnerMetrics(prometheus::Registry& r)
      : steps(prometheus::BuildCounter().Name("crucible_learner_steps_total").Help("Optimizer steps").Register(r).Add({})),
        trained_tokens(prometheus::BuildCounter()
                           .Name("crucible_learner_trained_tokens_total")
                           .Help("Completion tokens trained on")
                           .Register(r)
                           .Add({})),
        idle(prometheus::BuildCounter()
                 .Name("crucible_learner_idle_seconds_total")
                 .Help("Seconds rank 0 waited for a batch")
                 .Register(r)
                 .Add({})),
        verdicts(prometheus::BuildCounter()
                     .Name("crucible_learner_verdicts_total")
                     .Help("Trained trajectories by verdict")
                     .Register(r)),
        loss(prometheus::BuildGauge().Name("crucible_learner_loss").Help("Loss and its terms, by term").Register(r)),
        reward_mean(prometheus::BuildGauge()
                        .Name("crucible_learner_reward_mean")
                        .Help("Mean verdict reward of the last batch")
                        .Register(r)
                        .Add({})),
        reward_model_mean(prometheus::BuildGauge()
                              .Name("crucible_learner_reward_model_mean")
                              .Help("Mean reward-model score of the last batch (with learner.reward_model)")
                              .Register(r)
                              .Add({})),
        pass_rate(prometheus::BuildGauge()
                      .Name("crucible_learner_pass_rate")
                      .Help("Share of the last batch that passed every test")
                      .Register(r)
                      .Add({})),
        version(prometheus::BuildGauge()
                    .Name("crucible_learner_policy_version")
                    .Help("The newest adapter version published")
                    .Register(r)
                    .Add({})),
        step_seconds(prometheus::BuildHistogram()
                         .Name("crucible_learner_step_seconds")
                         .Help("Seconds per optimizer step")
                         .Register(r)
                         .Add({}, LatencyBucketsSeconds())),
        publish_seconds(prometheus::BuildHistogram()
                            .Name("crucible_learner_publish_seconds")
                            .Help("Seconds from publishing a version to its last byte written to a subscriber")
                            .Register(r)
                            .Add({}, LatencyBucketsSeconds())),
        reward(prometheus::BuildHistogram()
                   .Name("crucible_learner_reward")
                   .Help("Verdict rewards of trained trajectories")
                   .Register(r)
                   .Add({}, prometheus::Histogram::BucketBoundaries{-1.0, -0.6, -0.3, 0.0, 0.5, 1.0})),
        staleness(prometheus::BuildHistogram()
                      .Name("crucible_learner_staleness_versions")
                      .Help("Versions between a trained trajectory's first token and the trained policy")
                      .Register(r)
                      .Add({}, prometheus::Histogram::BucketBoundaries{0, 1, 2, 3, 4, 6, 8, 12, 16})) {}
  prometheus::Counter& steps;
  prometheus::Counter& trained_tokens;
  prometheus::Counter& idle;
  prometheus::Family<prometheus::Counter>& verdicts;
  prometheus::Family<prometheus::Gauge>& loss;
  prometheus::Gauge& reward_mean;
  prometheus::Gauge& reward_model_mean;
  prometheus::Gauge& pass_rate;
  prometheus::Gauge& version;
  prometheus::Histogram& step_seconds;
  prometheus::Histogram& publish_seconds;
  prometheus::Histogram& reward;
  prometheus::Histogram& staleness;
};

// What every rank serves on its own /metrics, labelled with its rank: a rank's share of
// each step. Rank 0 also serves LearnerMetrics, the run's totals; these names differ from
// those so that sums over a run's learner series count every step once.
struct RankMetrics {
  RankMetrics(prometheus::Registry& r, int rank)
      : steps(Counter(r, rank, "crucible_learner_rank_steps_total", "Optimizer steps this rank took part in")),
        examples(Counter(r, rank, "crucible_learner_rank_examples_total",
                         "Trajectories of the global batches this rank received (each rank trains on its shard)")),
        batch_wait(Counter(r, rank, "crucible_learner_rank_batch_wait_seconds_total",
                           "Seconds in the broadcasts that bring the next batch from rank 0 (its idle time "
                           "included)")),
        checkpoint(Counter(r, rank, "crucible_learner_rank_checkpoint_seconds_total",
                           "Seconds in checkpoints (rank 0 writes them, the others wait for it)")),
        step_seconds(prometheus::BuildHistogram()
                         .Name("crucible_learner_rank_step_seconds")
                         .Help("Wall seconds of this rank's update (forward, backward, gradient all-reduce, "
                               "optimizer)")
                         .Labels({{"rank", std::to_string(rank)}})
                         .Register(r)
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30})) {}
  prometheus::Counter& steps;
  prometheus::Counter& examples;
  prometheus::Counter& batch_wait;
  prometheus::Counter& checkpoint;
  prometheus::Histogram& step_seconds;

 private:
  static prometheus::Counter& Counter(prometheus::Registry& r, int rank, const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Labels({{"rank", std::to_string(rank)}}).Register(r).Add({});
  }
};

// Double-buffered publishing: the training thread hands over a snapshot and goes on; this
// thread encodes the newest snapshot (a newer one replaces one not yet taken) and
// publishes it.
class PublishQueue {
 public:
  PublishQueue(WeightPublisher& publisher, std::string run_id, v1::DType dtype, v1::PeftConfig peft)
      : publisher_(publisher), run_id_(std::move(run_id)), dtype_(dtype), peft_(std::move(peft)),
        thread_([this] { Loop(); }) {}
  ~PublishQueue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Offer(model::AdapterSnapshot snapshot, int64_t step) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      next_ = std::move(snapshot);
      next_step_ = step;
    }
    cv_.notify_all();
  }
  // Waits until everything offered has been published.
  void Flush() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !next_.has_value() && !busy_; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return done_ || next_.has_value(); });
      if (!next_.has_value()) return;
      model::AdapterSnapshot s = *std::move(next_);
      next_.reset();
      const int64_t step = next_step_;
      busy_ = true;
      lock.unlock();
      const absl::Status published =
          publisher_.PublishFloat32(run_id_, s.version, step, peft_, s.names, s.shapes, s.data.data(), dtype_);
      if (!published.ok()) CRUCIBLE_LOG(Error) << "cannot publish version " << s.version << ": " << published;
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }
  WeightPublisher& publisher_;
  const std::string run_id_;
  const v1::DType dtype_;
  const v1::PeftConfig peft_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<model::AdapterSnapshot> next_;
  int64_t next_step_ = 0;
  bool busy_ = false, done_ = false;
  std::thread thread_;
};

absl::StatusOr<int64_t> LastPublishedVersion(const std::string& path, const std::string& run_id) {
  if (::access(path.c_str(), F_OK) != 0) return -1;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("version")) return absl::DataLossError(path + " is not valid");
  if (j.value("run_id", "") != run_id) {
    return absl::FailedPreconditionError(absl::StrCat(path, " belongs to run \"", j.value("run_id", ""),
                                                      "\", this is run \"", run_id, "\""));
  }
  return j["version"].get<int64_t>();
}

class OnlineLearner {
 public:
  explicit OnlineLearner(const OnlineCommand& c) : c_(c) {}
  // On every path out, streams end before the server waits for its calls.
  ~OnlineLearner() {
    publish_queue_.reset();
    if (service_ != nullptr) service_->Close();
    if (publisher_ != nullptr) publisher_->Shutdown();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  int Run();

 private:
  int Setup();
  absl::Status Save();
  void Publish();
  // rm_reward_mean: the batch's mean reward-model score (only read with a reward model).
  void RecordStep(const StepMetrics& m, const std::vector<v1::Trajectory>& batch, double idle_seconds,
                  double rm_reward_mean);
  // Sets every example's reward to the reward model's score (each rank scores its share,
  // then the scores are summed over ranks, so all ranks train on the same rewards); returns
  // the batch's mean score.
  absl::StatusOr<double> ScoreWithRewardModel(std::vector<Example>& examples);
  bool StopRequested() const { return c_.stop != nullptr && c_.stop->load(); }

  const OnlineCommand& c_;
  TrainerOptions options_;
  std::unique_ptr<Communicator> comm_;
  bool leader_ = false;
  model::LoraConfig lora_;
  std::optional<Critic> critic_;
  std::optional<RewardModel> reward_model_;
  std::unique_ptr<Trainer> trainer_;
  int64_t version_ = -1;

  // Every rank.
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<RankMetrics> rank_metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  // Rank 0 only.
  std::unique_ptr<LearnerMetrics> metrics_;
  std::unique_ptr<TrajectoryServiceImpl> service_;
  std::unique_ptr<WeightPublisher> publisher_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<PublishQueue> publish_queue_;
  std::ofstream metrics_out_;
};

int OnlineLearner::Setup() {
  absl::StatusOr<Algorithm> algorithm = ParseAlgorithm(c_.algorithm);
  if (!algorithm.ok()) return Fail(2, algorithm.status().message());
  if (*algorithm != Algorithm::kPpo && *algorithm != Algorithm::kCodeRl && *algorithm != Algorithm::kRestEm) {
    return Fail(2, absl::StrCat("the online learner trains ppo, coderl or rest, not ", c_.algorithm));
  }
  options_ = c_.trainer;
  options_.algorithm = *algorithm;
  if (c_.advantage == "gae") {
    options_.advantage = AdvantageEstimator::kGae;
  } else if (c_.advantage == "rloo") {
    options_.advantage = AdvantageEstimator::kRloo;
  } else if (c_.advantage == "grpo") {
    options_.advantage = AdvantageEstimator::kGrpo;
  } else {
    return Fail(2, absl::StrCat("unknown advantage estimator \"", c_.advantage, "\" (gae, rloo, grpo)"));
  }
  if (c_.kl_estimator != "k1" && c_.kl_estimator != "k3") return Fail(2, "the KL estimator must be k1 or k3");
  options_.kl_estimator = c_.kl_estimator == "k3" ? KlEstimator::kK3 : KlEstimator::kK1;
  options_.optimizer.schedule.total_steps = c_.steps;
  if (c_.run_id.empty()) return Fail(2, "a run id is required");
  if (c_.checkpoint_dir.empty() || c_.model_dir.empty()) return Fail(2, "a checkpoint directory and a model are required");
  if (c_.weight_dtype != "float32" && c_.weight_dtype != "bfloat16") {
    return Fail(2, "the weight dtype must be float32 or bfloat16");
  }

  absl::StatusOr<Rendezvous> rendezvous = RendezvousFromEnvironment();
  if (!rendezvous.ok()) return Fail(2, rendezvous.status().message());
  model::ConfigureCpuRuntime();
  absl::StatusOr<model::ModelOptions> mo = model::ParseModelOptions(c_.device, c_.dtype);
  if (!mo.ok()) return Fail(2, mo.status().message());
  if (mo->device.is_cuda()) mo->device = torch::Device(torch::kCUDA, rendezvous->local_rank % torch::cuda::device_count());
  CommunicatorOptions co;
  co.backend = c_.backend;
  co.rendezvous = *rendezvous;
  co.connect_timeout = absl::Seconds(c_.connect_timeout_s);
  absl::StatusOr<std::unique_ptr<Communicator>> comm = CreateCommunicator(co);
  if (!comm.ok()) return Fail(comm.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1, comm.status().message());
  comm_ = *std::move(comm);
  leader_ = comm_->rank() == 0;

  absl::StatusOr<model::CausalLm> model = model::LoadCausalLm(c_.model_dir, *mo);
  if (!model.ok()) return Fail(2, model.status().message());
  if (!c_.init_adapter.empty()) {
    absl::StatusOr<model::LoraConfig> loaded = model::LoadPeftAdapter(*model, c_.init_adapter);
    if (!loaded.ok()) return Fail(2, loaded.status().message());
    lora_ = *loaded;
  } else {
    lora_.settings.rank = c_.lora_rank;
    lora_.settings.alpha = c_.lora_alpha;
    if (!c_.lora_target_modules.empty()) lora_.target_modules = c_.lora_target_modules;
    lora_.base_model_name_or_path = c_.model_dir;
    if (absl::StatusOr<int> n = model::AttachLora(*model, lora_, options_.seed); !n.ok()) {
      return Fail(2, n.status().message());
    }
  }
  if (!c_.critic.empty()) {
    if (options_.algorithm != Algorithm::kCodeRl) return Fail(2, "a critic is for coderl");
    absl::StatusOr<Critic> critic = LoadFrozenCritic(c_.critic, c_.model_dir, *mo);
    if (!critic.ok()) return Fail(2, critic.status().message());
    critic_ = *std::move(critic);
  }
  if (!c_.reward_model.empty()) {
    if (options_.algorithm != Algorithm::kPpo) return Fail(2, "a reward model is for ppo");
    absl::StatusOr<RewardModel> rm = LoadFrozenRewardModel(c_.reward_model, c_.model_dir, *mo);
    if (!rm.ok()) return Fail(2, rm.status().message());
    reward_model_ = *std::move(rm);
  }
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::CreateOnline(*model, *comm_, options_, critic_ ? &*critic_ : nullptr);
  if (!trainer.ok()) return Fail(2, trainer.status().message());
  trainer_ = *std::move(trainer);

  TrajectoryServiceOptions so;
  so.run_id = c_.run_id;
  so.queue_capacity = c_.queue_capacity;
  so.batch_size = options_.batch_size;
  so.whole_groups = options_.algorithm == Algorithm::kPpo && options_.advantage != AdvantageEstimator::kGae;
  so.max_staleness_steps = c_.max_staleness_steps;
  so.incomplete_group_timeout = absl::Seconds(c_.incomplete_group_timeout_s);
  registry_ = std::make_shared<prometheus::Registry>();
  rank_metrics_ = std::make_unique<RankMetrics>(*registry_, comm_->rank());
  if (leader_) {
    // The services' metrics join the learner's registry.
    metrics_ = std::make_unique<LearnerMetrics>(*registry_);
    absl::StatusOr<std::unique_ptr<TrajectoryServiceImpl>> service = TrajectoryServiceImpl::Create(so, registry_);
    if (!service.ok()) return Fail(2, service.status().message());
    service_ = *std::move(service);
  }

  absl::StatusOr<std::optional<std::string>> latest = LatestTrainCheckpoint(c_.checkpoint_dir);
  if (!latest.ok()) return Fail(1, latest.status().message());
  if (latest->has_value()) {
    if (absl::Status s = RestoreTrainCheckpoint(*trainer_, **latest); !s.ok()) return Fail(1, s.ToString());
    if (leader_) {
      absl::StatusOr<std::string> text = ReadFile(**latest + "/online.json");
      if (!text.ok()) return Fail(1, text.status().ToString());
      json state = json::parse(*text, nullptr, false);
      if (state.is_discarded()) return Fail(1, **latest + "/online.json is not JSON");
      if (absl::Status s = service_->RestoreState(state); !s.ok()) return Fail(1, s.ToString());
      CRUCIBLE_LOG(Info) << "resumed from " << **latest << " (step " << trainer_->step() << ")";
    }
  }
  // Every rank serves /metrics (rank 0 the run's totals as well). Ranks started by hand
  // with one argv on one node share a fixed port: a rank other than 0 that cannot bind it
  // takes a free one rather than stopping the run.
  const std::string metrics_address = c_.metrics_address.empty() ? c_.bind_address + ":0" : c_.metrics_address;
  absl::StatusOr<std::unique_ptr<MetricsServer>> ms = MetricsServer::Start(metrics_address, registry_);
  if (!ms.ok() && !leader_) {
    CRUCIBLE_LOG(Warning) << "learner rank " << comm_->rank() << ": " << ms.status() << "; serving /metrics on a free port";
    ms = MetricsServer::Start(c_.bind_address + ":0", registry_);
  }
  if (!ms.ok()) return Fail(1, ms.status().ToString());
  metrics_server_ = *std::move(ms);
  if (!leader_) {
    CRUCIBLE_LOG(Info) << "learner rank " << comm_->rank() << ": metrics on " << metrics_server_->port();
    return 0;
  }

  if (absl::Status s = MakeDirs(c_.checkpoint_dir); !s.ok()) return Fail(1, s.ToString());
  absl::StatusOr<int64_t> published = LastPublishedVersion(c_.checkpoint_dir + "/published.json", c_.run_id);
  if (!published.ok()) return Fail(1, published.status().ToString());
  version_ = *published;

  WeightPublisherOptions po;
  po.run_id = c_.run_id;
  po.on_sent = [this](const std::string&, int64_t, double seconds) { metrics_->publish_seconds.Observe(seconds); };
  absl::StatusOr<std::unique_ptr<WeightPublisher>> publisher = WeightPublisher::Create(po);
  if (!publisher.ok()) return Fail(2, publisher.status().message());
  publisher_ = *std::move(publisher);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::StrCat(c_.bind_address, ":", c_.port), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  builder.RegisterService(publisher_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  // Subscribers ping idle streams every 30 s; gRPC's default would call that abuse.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return Fail(1, absl::StrCat("cannot serve on ", c_.bind_address, ":", c_.port));
  }
  if (!c_.port_file.empty()) {
    if (absl::Status s = WriteFileAtomic(c_.port_file, absl::StrCat(port, "\n")); !s.ok()) return Fail(1, s.ToString());
  }
  if (!c_.metrics_port_file.empty()) {
    if (absl::Status s = WriteFileAtomic(c_.metrics_port_file, absl::StrCat(metrics_server_->port(), "\n")); !s.ok()) {
      return Fail(1, s.ToString());
    }
  }
  if (!c_.metrics_jsonl.empty()) metrics_out_.open(c_.metrics_jsonl, std::ios::app);

  v1::PeftConfig peft;
  peft.set_r(static_cast<int32_t>(lora_.settings.rank));
  peft.set_lora_alpha(lora_.settings.alpha);
  peft.set_lora_dropout(lora_.settings.dropout);
  peft.set_use_rslora(lora_.settings.rslora);
  for (const std::string& m : lora_.target_modules) peft.add_target_modules(m);
  publish_queue_ = std::make_unique<PublishQueue>(*publisher_, c_.run_id,
                                                  c_.weight_dtype == "bfloat16" ? v1::BF16 : v1::F32, peft);
  CRUCIBLE_LOG(Info) << "learner: " << AlgorithmName(options_.algorithm) << " on " << comm_->size() << " rank(s) ("
                     << comm_->backend() << "), batch " << options_.batch_size << ", serving on " << c_.bind_address
                     << ":" << port << ", metrics on " << metrics_server_->port();
  return 0;
}

void OnlineLearner::Publish() {
  ++version_;
  // Written before the version leaves: a restarted learner never reuses a number.
  const json published = {{"run_id", c_.run_id}, {"version", version_}, {"step", trainer_->step()}};
  if (absl::Status s = WriteFileAtomic(c_.checkpoint_dir + "/published.json", published.dump() + "\n"); !s.ok()) {
    CRUCIBLE_LOG(Error) << "recording the published version: " << s;
  }
  publish_queue_->Offer(model::ExportAdapter(trainer_->model(), version_), trainer_->step());
  service_->SetLearnerVersion(version_, trainer_->step());
  metrics_->version.Set(static_cast<double>(version_));
}

absl::Status OnlineLearner::Save() {
  const absl::Time start = absl::Now();
  struct Timer {
    prometheus::Counter& seconds;
    absl::Time start;
    ~Timer() { seconds.Increment(absl::ToDoubleSeconds(absl::Now() - start)); }
  } timer{rank_metrics_->checkpoint, start};
  absl::Status s;
  if (leader_) {
    std::map<std::string, std::string> extra = {{"online.json", service_->SaveState().dump(2) + "\n"}};
    s = SaveTrainCheckpoint(*trainer_, c_.checkpoint_dir, lora_, c_.keep, extra);
  }
  torch::Tensor failed = torch::tensor({s.ok() ? 0.0 : 1.0}, torch::kFloat64);
  if (absl::Status r = AllReduceTensors(*comm_, {failed}, ReduceOp::kSum, options_.collective_timeout); !r.ok()) return r;
  if (!s.ok()) return s;
  if (failed.item<double>() != 0) return absl::InternalError("the checkpoint failed on rank 0");
  // The fates recorded in that checkpoint are final: the actors may forget those.
  if (leader_) service_->MarkCommitted();
  return absl::OkStatus();
}

absl::StatusOr<double> OnlineLearner::ScoreWithRewardModel(std::vector<Example>& examples) {
  std::vector<std::vector<int32_t>> prompts, completions;
  std::vector<size_t> mine;
  for (size_t k = comm_->rank(); k < examples.size(); k += comm_->size()) {
    mine.push_back(k);
    prompts.push_back(examples[k].prompt);
    completions.push_back(examples[k].completion);
  }
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<double> local, RewardModelScores(*reward_model_, prompts, completions));
  torch::Tensor scores = torch::zeros({static_cast<int64_t>(examples.size())}, torch::kFloat64);
  for (size_t i = 0; i < mine.size(); ++i) scores[static_cast<int64_t>(mine[i])] = local[i];
  CRUCIBLE_RETURN_IF_ERROR(AllReduceTensors(*comm_, {scores}, ReduceOp::kSum, options_.collective_timeout));
  double sum = 0;
  for (size_t k = 0; k < examples.size(); ++k) {
    examples[k].reward = scores[static_cast<int64_t>(k)].item<double>();
    sum += examples[k].reward;
  }
  return sum / std::max<double>(1, static_cast<double>(examples.size()));
}

void OnlineLearner::RecordStep(const StepMetrics& m, const std::vector<v1::Trajectory>& batch, double idle_seconds,
                               double rm_reward_mean) {
  double reward = 0, passed = 0, staleness_sum = 0;
  int64_t staleness_max = 0;
  std::map<std::string, int64_t> verdicts;
  for (const v1::Trajectory& t : batch) {
    reward += t.reward();
    passed += t.verdict().verdict() == "OK" ? 1 : 0;
    // The policy trained here is the one published before this step (version_ - 1 now).
    const int64_t staleness = std::max<int64_t>(0, version_ - 1 - t.first_version());
    staleness_sum += static_cast<double>(staleness);
    staleness_max = std::max(staleness_max, staleness);
    ++verdicts[t.verdict().verdict()];
    metrics_->reward.Observe(t.reward());
    metrics_->staleness.Observe(static_cast<double>(staleness));
  }
  const double n = std::max<double>(1, static_cast<double>(batch.size()));
  metrics_->steps.Increment();
  metrics_->trained_tokens.Increment(static_cast<double>(m.tokens));
  metrics_->reward_mean.Set(reward / n);
  if (reward_model_.has_value()) metrics_->reward_model_mean.Set(rm_reward_mean);
  metrics_->pass_rate.Set(passed / n);
  metrics_->step_seconds.Observe(m.seconds);
  metrics_->loss.Add({{"term", "loss"}}).Set(m.loss);
  for (const auto& [k, v] : m.terms) metrics_->loss.Add({{"term", k}}).Set(v);
  for (const auto& [k, v] : verdicts) metrics_->verdicts.Add({{"verdict", k}}).Increment(static_cast<double>(v));
  const TrajectoryBooks b = service_->books();

  if (metrics_out_.is_open()) {
    json line = {{"step", m.step},
                 {"policy_version", version_},
                 {"reward_mean", reward / n},
                 {"pass_rate", passed / n},
                 {"trajectories", batch.size()},
                 {"staleness_mean", staleness_sum / n},
                 {"staleness_max", staleness_max},
                 {"loss", m.loss},
                 {"lr", m.lr},
                 {"grad_norm", m.grad_norm},
                 {"tokens", m.tokens},
                 {"seconds", m.seconds},
                 {"idle_seconds", idle_seconds},
                 {"queued", b.queued},
                 {"unix_ms", absl::ToUnixMillis(absl::Now())}};
    json verdict_counts = json::object();
    for (const auto& [k, v] : verdicts) verdict_counts[k] = v;
    line["verdicts"] = verdict_counts;
    for (const auto& [k, v] : m.terms) line[k] = v;
    if (reward_model_.has_value()) line["rm_reward_mean"] = rm_reward_mean;
    if (!line.contains("kl")) line["kl"] = m.terms.count("approx_kl") ? m.terms.at("approx_kl") : 0.0;
    metrics_out_ << line.dump() << "\n";
    metrics_out_.flush();
  }
}

int OnlineLearner::Run() {
  if (int code = Setup(); code != 0) return code;
  if (leader_) Publish();  // the starting adapter is the first version actors sample with

  bool stopped = false;
  int64_t saved_step = trainer_->step();
  while (trainer_->step() < c_.steps) {
    std::vector<v1::Trajectory> batch;
    double idle_seconds = 0;
    // Rank 0 decides what comes next; the others follow the tick.
    Tick tick = Tick::kIdle;
    torch::Tensor payload;
    int64_t bytes = 0;
    if (leader_) {
      const absl::Time start = absl::Now();
      std::optional<std::vector<v1::Trajectory>> b;
      if (StopRequested()) {
        tick = Tick::kStop;
      } else {
        b = service_->NextBatch(absl::Seconds(1));
        tick = b.has_value() ? Tick::kBatch : (StopRequested() ? Tick::kStop : Tick::kIdle);
      }
      const double waited = absl::ToDoubleSeconds(absl::Now() - start);
      if (tick != Tick::kBatch) {
        metrics_->idle.Increment(waited);
      } else {
        batch = *std::move(b);
        payload = PackBatch(batch, &bytes);
      }
      idle_seconds += waited;
    }
    const absl::Time wait_start = absl::Now();
    torch::Tensor header = torch::tensor({static_cast<int64_t>(tick), bytes}, torch::kInt64);
    if (absl::Status s = comm_->Broadcast(header, 0, options_.collective_timeout); !s.ok()) return Fail(1, s.ToString());
    tick = static_cast<Tick>(header[0].item<int64_t>());
    if (tick == Tick::kStop) {
      stopped = true;
      break;
    }
    if (tick == Tick::kIdle) {
      rank_metrics_->batch_wait.Increment(absl::ToDoubleSeconds(absl::Now() - wait_start));
      continue;
    }
    bytes = header[1].item<int64_t>();
    if (!leader_) payload = torch::zeros({(bytes + 7) / 8}, torch::kInt64);
    if (absl::Status s = comm_->Broadcast(payload, 0, options_.collective_timeout); !s.ok()) return Fail(1, s.ToString());
    rank_metrics_->batch_wait.Increment(absl::ToDoubleSeconds(absl::Now() - wait_start));
    if (!leader_) {
      absl::StatusOr<std::vector<v1::Trajectory>> unpacked = UnpackBatch(payload, bytes);
      if (!unpacked.ok()) return Fail(1, unpacked.status().ToString());
      batch = *std::move(unpacked);
    }
    std::vector<Example> examples;
    for (const v1::Trajectory& t : batch) {
      absl::StatusOr<Example> e = ExampleFromTrajectory(t, trainer_->model()->config().vocab_size);
      if (!e.ok()) return Fail(1, e.status().ToString());
      examples.push_back(*std::move(e));
    }
    absl::StatusOr<StepMetrics> m;
    double rm_reward_mean = 0;
    const absl::Time step_start = absl::Now();
    try {
      if (reward_model_.has_value()) {
        absl::StatusOr<double> mean = ScoreWithRewardModel(examples);
        if (!mean.ok()) return Fail(1, absl::StrCat("step ", trainer_->step() + 1, ": ", mean.status().ToString()));
        rm_reward_mean = *mean;
      }
      m = trainer_->Step(examples);
    } catch (const c10::Error& e) {
      m = absl::InternalError(absl::StrCat("step ", trainer_->step() + 1, ": ", e.what_without_backtrace()));
    }
    if (!m.ok()) return Fail(1, absl::StrCat("step ", trainer_->step() + 1, ": ", m.status().ToString()));
    rank_metrics_->step_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - step_start));
    rank_metrics_->steps.Increment();
    rank_metrics_->examples.Increment(static_cast<double>(batch.size()));
    if (leader_) {
      if (absl::Status s = service_->CompleteBatch(); !s.ok()) return Fail(1, s.ToString());
      Publish();
      RecordStep(*m, batch, idle_seconds, rm_reward_mean);
    }
    if (c_.save_every > 0 && trainer_->step() % c_.save_every == 0) {
      if (absl::Status s = Save(); !s.ok()) return Fail(1, s.ToString());
      saved_step = trainer_->step();
    }
  }
  if (saved_step != trainer_->step() || trainer_->step() == 0) {
    if (absl::Status s = Save(); !s.ok()) return Fail(1, s.ToString());
  }
  if (!leader_) return stopped ? 143 : 0;

  // The end of the run: actors stop, deliver the rest and report what they produced.
  publish_queue_->Flush();
  service_->RequestStop();
  if (c_.expected_actors > 0) {
    if (absl::Status s = service_->WaitForFinals(c_.expected_actors, absl::Seconds(c_.drain_timeout_s)); !s.ok()) {
      CRUCIBLE_LOG(Warning) << "not every actor reported its final count: " << s;
    }
  }
  // What arrived after the last checkpoint stays queued (and uncommitted at the actors).
  const TrajectoryBooks b = service_->books();
  if (!c_.books_file.empty()) {
    const json books = {{"produced", b.produced},
                        {"trained", b.trained},
                        {"dropped_stale", b.dropped_stale},
                        {"dropped_incomplete", b.dropped_incomplete},
                        {"queued", b.queued},
                        {"duplicates_dropped", b.duplicates_dropped},
                        {"received", b.received},
                        {"steps", trainer_->step()},
                        {"policy_version", version_}};
    if (absl::Status s = WriteFileAtomic(c_.books_file, books.dump(2) + "\n"); !s.ok()) return Fail(1, s.ToString());
  }
  CRUCIBLE_LOG(Info) << "learner: step " << trainer_->step() << ", version " << version_ << "; produced " << b.produced
                     << " = trained " << b.trained << " + stale " << b.dropped_stale << " + incomplete "
                     << b.dropped_incomplete << " + queued " << b.queued;
  return stopped ? 143 : 0;
}

}  // namespace

int RunOnline(const OnlineCommand& command) {
  OnlineLearner learner(command);
  return learner.Run();
}

}  // namespace crucible::learner
