#include "actors/actor.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "actors/adapter_sync.h"
#include "actors/judge_client.h"
#include "actors/outbox.h"
#include "actors/prompt.h"
#include "actors/trajectory_sender.h"
#include "actors/weight_subscriber.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/model/checkpoint.h"
#include "common/model/model_cli.h"
#include "common/model/runtime.h"
#include "common/model/sampler.h"
#include "common/tokenizer.h"
#include "common/verdict_json.h"
#include "common/weight_stream.h"
#include "crucible/v1/trajectory.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace crucible {
namespace {

std::string OutcomeOf(v1::VerdictCode code) {
  switch (code) {
    case v1::CE: return "compile_error";
    case v1::WA: return "failed_test";
    case v1::OK: return "passed";
    default: return "runtime_error";  // RE and the limits, as CodeRL counts them
  }
}

double CompileErrorReward(const v1::JudgeOptions& options) {
  return options.rewards().has_compile_error() ? options.rewards().compile_error() : -1.0;
}

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

// The actor's Prometheus metrics (names in actors/README.md).
struct ActorMetrics {
  explicit ActorMetrics(prometheus::Registry& r, const std::string& actor)
      : labels{{"actor", actor}},
        samples(prometheus::BuildCounter().Name("crucible_actor_samples_total").Help("Samples drawn").Register(r).Add(labels)),
        tokens(prometheus::BuildCounter()
                   .Name("crucible_actor_generated_tokens_total")
                   .Help("Completion tokens generated")
                   .Register(r)
                   .Add(labels)),
        produced(prometheus::BuildCounter()
                     .Name("crucible_actor_trajectories_total")
                     .Help("Trajectories produced (judged and put in the outbox)")
                     .Register(r)
                     .Add(labels)),
        judge_failures(prometheus::BuildCounter()
                           .Name("crucible_actor_judge_failures_total")
                           .Help("Samples left out because judging failed (SE or shutdown)")
                           .Register(r)
                           .Add(labels)),
        paused(prometheus::BuildCounter()
                   .Name("crucible_actor_paused_for_staleness_seconds_total")
                   .Help("Seconds spent waiting for the learner's admission")
                   .Register(r)
                   .Add(labels)),
        generation(prometheus::BuildHistogram()
                       .Name("crucible_actor_generation_seconds")
                       .Help("Seconds to sample one batch")
                       .Register(r)
                       .Add(labels, LatencyBucketsSeconds())),
        judge_latency(prometheus::BuildHistogram()
                          .Name("crucible_actor_judge_latency_seconds")
                          .Help("Seconds from submitting a program to its verdict")
                          .Register(r)
                          .Add(labels, LatencyBucketsSeconds())),
        weight_apply(prometheus::BuildHistogram()
                         .Name("crucible_actor_weight_apply_seconds")
                         .Help("Seconds to copy a new adapter version into the model")
                         .Register(r)
                         .Add(labels, LatencyBucketsSeconds())),
        inflight(prometheus::BuildGauge()
                     .Name("crucible_actor_inflight_samples")
                     .Help("Samples sent to the judges and not yet answered")
                     .Register(r)
                     .Add(labels)),
        version(prometheus::BuildGauge()
                    .Name("crucible_actor_policy_version")
                    .Help("The adapter version the actor samples with")
                    .Register(r)
                    .Add(labels)),
        outbox_pending(prometheus::BuildGauge()
                           .Name("crucible_actor_outbox_pending")
                           .Help("Trajectories not yet committed by the learner")
                           .Register(r)
                           .Add(labels)) {}
  std::map<std::string, std::string> labels;
  prometheus::Counter& samples;
  prometheus::Counter& tokens;
  prometheus::Counter& produced;
  prometheus::Counter& judge_failures;
  prometheus::Counter& paused;
  prometheus::Histogram& generation;
  prometheus::Histogram& judge_latency;
  prometheus::Histogram& weight_apply;
  prometheus::Gauge& inflight;
  prometheus::Gauge& version;
  prometheus::Gauge& outbox_pending;
};

// The policy the actor samples with: the base model and LoRA tensors that every new
// version is copied into, by name.
class Policy {
 public:
  Policy(model::CausalLm model, ActorMetrics& metrics) : model_(std::move(model)), metrics_(metrics) {}

  model::CausalLm& model() { return model_; }
  int64_t version() const { return version_; }
  bool ready() const { return version_ >= 0; }

  // Called by the weight subscriber's thread: the newest version wins.
  void Offer(std::shared_ptr<const WeightsVersion> version) {
    absl::MutexLock lock(&mu_);
    if (pending_ == nullptr || version->version > pending_->version || version->run_id != pending_->run_id) {
      pending_ = std::move(version);
    }
  }
  bool HasPending() {
    absl::MutexLock lock(&mu_);
    return pending_ != nullptr;
  }

  // On the sampling thread, between decode steps: applies the pending version, if any.
  // Returns the version tokens are now drawn with.
  int64_t ApplyPending() {
    std::shared_ptr<const WeightsVersion> v;
    {
      absl::MutexLock lock(&mu_);
      v = std::move(pending_);
      pending_ = nullptr;
    }
    if (v != nullptr) {
      const absl::Time start = absl::Now();
      if (absl::Status s = Apply(*v); !s.ok()) {
        CRUCIBLE_LOG(Error) << "adapter version " << v->version << " refused: " << s;
      } else {
        version_ = v->version;
        run_id_ = v->run_id;
        metrics_.version.Set(static_cast<double>(version_));
        metrics_.weight_apply.Observe(absl::ToDoubleSeconds(absl::Now() - start));
      }
    }
    return version_;
  }
  const std::string& weights_run_id() const { return run_id_; }

 private:
  absl::Status Apply(const WeightsVersion& v) { return sync_.Apply(v); }

  model::CausalLm model_;
  ActorMetrics& metrics_;
  AdapterSync sync_{model_};
  int64_t version_ = -1;
  std::string run_id_;
  absl::Mutex mu_;
  std::shared_ptr<const WeightsVersion> pending_ ABSL_GUARDED_BY(mu_);
};

// The samples of one problem in one batch, until all are judged.
struct Group {
  const v1::Problem* problem = nullptr;
  std::string group_id;
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  std::vector<model::Completion> samples;
  std::vector<std::string> programs;
  std::vector<std::optional<v1::Verdict>> verdicts;  // nullopt: judging failed
  std::optional<double> baseline_reward;             // CodeRL's greedy decode, when asked for
  int waiting = 0;
  absl::Time submitted;
};

class Actor {
 public:
  explicit Actor(const ActorOptions& o) : o_(o), registry_(std::make_shared<prometheus::Registry>()),
                                          metrics_(*registry_, o.actor_id) {}

  int Run();

 private:
  bool Stopping() const {
    return (o_.stop != nullptr && o_.stop->load()) || learner_stop_.load() ||
           (sender_ != nullptr && sender_->stop_requested());
  }
  absl::Status Setup();
  bool Admit(int64_t samples);
  absl::Status SampleBatch(int64_t batch_number);
  void Submit(std::shared_ptr<Group> group, int sample, const std::string& program, bool baseline);
  void OnJudged(const std::shared_ptr<Group>& group);
  void Produce(Group& group);
  std::vector<const v1::Problem*> NextProblems();

  const ActorOptions& o_;
  std::shared_ptr<prometheus::Registry> registry_;
  ActorMetrics metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<JudgeClient> judges_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<TrajectorySender> sender_;
  std::unique_ptr<WeightSubscriber> subscriber_;
  std::unique_ptr<v1::TrajectoryService::Stub> admission_;
  std::atomic<bool> learner_stop_{false};
  // Makes group ids unique across restarts of this actor (batch numbers start again).
  const int64_t incarnation_ = NowUnixMs();
  int64_t produced_at_start_ = 0;

  std::vector<const v1::Problem*> shard_;
  std::vector<size_t> order_;
  size_t cursor_ = 0;
  int64_t pass_ = 0;

  std::mutex mu_;  // the in-flight count, with cv_
  std::condition_variable cv_;
  int64_t inflight_ = 0;
  absl::Mutex produce_mu_;  // outbox appends in one order
};

absl::Status Actor::Setup() {
  model::ConfigureCpuRuntime();
  absl::StatusOr<model::ModelOptions> mo = model::ParseModelOptions(o_.device, o_.dtype);
  if (!mo.ok()) return mo.status();
  absl::StatusOr<model::CausalLm> m = model::LoadCausalLm(o_.model_dir, *mo);
  if (!m.ok()) return m.status();
  (*m)->eval();
  for (auto& p : (*m)->parameters()) p.set_requires_grad(false);
  policy_ = std::make_unique<Policy>(*m, metrics_);
  absl::StatusOr<std::unique_ptr<Tokenizer>> t =
      Tokenizer::Load(o_.tokenizer.empty() ? model::DefaultTokenizerFor(o_.model_dir) : o_.tokenizer);
  if (!t.ok()) return t.status();
  tokenizer_ = *std::move(t);
  if (!tokenizer_->eos_id().has_value()) return absl::InvalidArgumentError("the tokenizer has no end-of-sequence token");
  if (absl::Status s = ValidatePromptTemplate(o_.prompt_template); !s.ok()) return s;

  for (size_t i = 0; i < o_.problems.size(); ++i) {
    if (static_cast<int>(i % o_.count) == o_.index) shard_.push_back(&o_.problems[i]);
  }
  if (shard_.empty()) return absl::InvalidArgumentError(absl::StrCat(o_.actor_id, " has no problems in its shard"));

  absl::StatusOr<std::unique_ptr<MetricsServer>> ms = MetricsServer::Start(o_.metrics_address, registry_);
  if (!ms.ok()) return ms.status();
  metrics_server_ = *std::move(ms);
  if (!o_.metrics_port_file.empty()) {
    std::ofstream(o_.metrics_port_file) << metrics_server_->port() << "\n";
  }

  JudgeClientOptions jo;
  jo.endpoints = o_.judge_endpoints;
  jo.window = o_.judge_window;
  jo.resolve_interval = absl::Seconds(o_.judge_resolve_interval_s);
  absl::StatusOr<std::unique_ptr<JudgeClient>> jc = JudgeClient::Create(jo);
  if (!jc.ok()) return jc.status();
  judges_ = *std::move(jc);
  std::vector<v1::Problem> mine;
  for (const v1::Problem* p : shard_) mine.push_back(*p);
  // Judges that are not up yet get the problems when they connect.
  if (absl::Status s = judges_->RegisterProblems(mine); !s.ok()) {
    CRUCIBLE_LOG(Warning) << o_.actor_id << ": registering problems: " << s << " (retried as judges connect)";
  }

  absl::StatusOr<std::unique_ptr<Outbox>> ob = Outbox::Open(o_.outbox_dir + "/outbox.log");
  if (!ob.ok()) return ob.status();
  outbox_ = *std::move(ob);
  produced_at_start_ = outbox_->produced();

  TrajectorySenderOptions so;
  so.endpoint = o_.learner_endpoint;
  so.actor_id = o_.actor_id;
  so.run_id = o_.run_id;
  absl::StatusOr<std::unique_ptr<TrajectorySender>> sender = TrajectorySender::Create(so, outbox_.get());
  if (!sender.ok()) return sender.status();
  sender_ = *std::move(sender);

  auto channel = grpc::CreateChannel(o_.learner_endpoint, grpc::InsecureChannelCredentials());
  admission_ = v1::TrajectoryService::NewStub(channel);

  WeightSubscriberOptions wo;
  wo.endpoint = o_.learner_endpoint;
  wo.actor_id = o_.actor_id;
  absl::StatusOr<std::unique_ptr<WeightSubscriber>> subscriber = WeightSubscriber::Create(
      wo, [this](std::shared_ptr<const WeightsVersion> v) { policy_->Offer(std::move(v)); });
  if (!subscriber.ok()) return subscriber.status();
  subscriber_ = *std::move(subscriber);
  if (absl::Status s = subscriber_->Start(); !s.ok()) return s;
  return absl::OkStatus();
}

bool Actor::Admit(int64_t samples) {
  const absl::Time start = absl::Now();
  absl::Duration backoff = absl::Milliseconds(100);
  while (!Stopping()) {
    v1::AdmitRequest request;
    request.set_actor_id(o_.actor_id);
    request.set_samples(samples);
    request.set_wait_ms(1000);
    v1::AdmitResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status s = admission_->Admit(&context, request, &response);
    if (s.ok()) {
      if (response.stop()) learner_stop_.store(true);
      if (response.granted()) {
        metrics_.paused.Increment(absl::ToDoubleSeconds(absl::Now() - start));
        return true;
      }
      continue;  // the learner held the call for wait_ms: ask again
    }
    // The learner is not up (yet, or again): wait and retry.
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
  metrics_.paused.Increment(absl::ToDoubleSeconds(absl::Now() - start));
  return false;
}

std::vector<const v1::Problem*> Actor::NextProblems() {
  std::vector<const v1::Problem*> out;
  while (static_cast<int>(out.size()) < o_.problems_per_batch) {
    if (cursor_ == order_.size()) {
      order_.resize(shard_.size());
      std::iota(order_.begin(), order_.end(), 0);
      std::mt19937_64 rng(o_.seed * 1000003 + static_cast<uint64_t>(o_.index) * 7919 + static_cast<uint64_t>(pass_++));
      std::shuffle(order_.begin(), order_.end(), rng);
      cursor_ = 0;
    }
    out.push_back(shard_[order_[cursor_++]]);
  }
  return out;
}

absl::Status Actor::SampleBatch(int64_t batch_number) {
  const std::vector<const v1::Problem*> problems = NextProblems();
  const int k = o_.samples_per_problem;
  std::vector<std::shared_ptr<Group>> groups;
  std::vector<std::vector<int32_t>> rows;
  for (size_t p = 0; p < problems.size(); ++p) {
    auto g = std::make_shared<Group>();
    g->problem = problems[p];
    g->group_id = absl::StrCat(o_.run_id, "/", o_.actor_id, "/", incarnation_, "-", batch_number, "/", p);
    absl::StatusOr<std::string> prompt = BuildPrompt(o_.prompt_template, *problems[p], o_.language);
    if (!prompt.ok()) return prompt.status();
    g->prompt = *prompt;
    g->prompt_tokens = tokenizer_->Encode(g->prompt);
    const int64_t limit = policy_->model()->config().max_position_embeddings - o_.max_new_tokens;
    if (static_cast<int64_t>(g->prompt_tokens.size()) > limit || g->prompt_tokens.empty()) {
      CRUCIBLE_LOG(Warning) << o_.actor_id << ": problem " << problems[p]->id() << ": prompt of "
                            << g->prompt_tokens.size() << " tokens does not fit; skipped";
      continue;
    }
    for (int s = 0; s < k; ++s) rows.push_back(g->prompt_tokens);
    groups.push_back(std::move(g));
  }
  if (groups.empty()) return absl::OkStatus();

  model::SamplingOptions so;
  so.max_new_tokens = o_.max_new_tokens;
  so.temperature = o_.temperature;
  so.top_p = o_.top_p;
  so.top_k = o_.top_k;
  so.stop_token_ids = {*tokenizer_->eos_id()};
  // Deterministic for a seed; a restarted actor (which has produced before) draws anew.
  so.seed = o_.seed * 1000003 + static_cast<uint64_t>(o_.index) * 65537 +
            static_cast<uint64_t>(batch_number + produced_at_start_);
  so.before_step = [this]() { return policy_->ApplyPending(); };
  const absl::Time start = absl::Now();
  model::GenerationStats stats;
  absl::StatusOr<std::vector<model::Completion>> out;
  try {
    out = model::Generate(policy_->model(), rows, so, tokenizer_.get(), nullptr, &stats);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("generation failed: ", e.what_without_backtrace()));
  }
  if (!out.ok()) return out.status();
  metrics_.generation.Observe(absl::ToDoubleSeconds(absl::Now() - start));
  metrics_.samples.Increment(static_cast<double>(rows.size()));
  metrics_.tokens.Increment(static_cast<double>(stats.new_tokens));

  std::vector<model::Completion> baselines;
  if (o_.greedy_baseline) {
    std::vector<std::vector<int32_t>> greedy_rows;
    for (const auto& g : groups) greedy_rows.push_back(g->prompt_tokens);
    model::SamplingOptions go = so;
    go.greedy = true;
    try {
      absl::StatusOr<std::vector<model::Completion>> b = model::Generate(policy_->model(), greedy_rows, go, tokenizer_.get());
      if (!b.ok()) return b.status();
      baselines = *std::move(b);
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("greedy decoding failed: ", e.what_without_backtrace()));
    }
  }

  {
    std::lock_guard<std::mutex> lock(mu_);
    inflight_ += static_cast<int64_t>(rows.size());
    metrics_.inflight.Set(static_cast<double>(inflight_));
  }
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Group& g = *groups[gi];
    g.samples.assign(out->begin() + gi * k, out->begin() + (gi + 1) * k);
    g.verdicts.assign(k, std::nullopt);
    for (const model::Completion& c : g.samples) g.programs.push_back(ExtractProgram(c.text));
    g.waiting = k + (o_.greedy_baseline ? 1 : 0) + 1;  // +1 held until every request is out
    g.submitted = absl::Now();
  }
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    for (int s = 0; s < k; ++s) Submit(groups[gi], s, groups[gi]->programs[s], false);
    if (o_.greedy_baseline) Submit(groups[gi], -1, ExtractProgram(baselines[gi].text), true);
    OnJudged(groups[gi]);  // releases the hold
  }
  return absl::OkStatus();
}

void Actor::Submit(std::shared_ptr<Group> group, int sample, const std::string& program, bool baseline) {
  const bool nul = program.find('\0') != std::string::npos;
  if (program.empty() || nul) {
    // Nothing extractable, or text no compiler accepts (a NUL byte; judges refuse it as a
    // request): the compile-error verdict, as CodeRL gives it, without a judge.
    v1::Verdict v;
    v.set_verdict(v1::CE);
    v.set_subtype(nul ? "NUL byte in the program" : "no program");
    v.set_reward(CompileErrorReward(o_.judge_options));
    if (baseline) {
      group->baseline_reward = v.reward();
    } else {
      group->verdicts[sample] = v;
    }
    OnJudged(group);
    return;
  }
  v1::JudgeRequest request;
  request.set_request_id(absl::StrCat(group->group_id, "/", baseline ? std::string("greedy") : absl::StrCat(sample)));
  request.set_problem_id(group->problem->id());
  request.mutable_program()->set_language(o_.language);
  request.mutable_program()->set_source(program);
  *request.mutable_options() = o_.judge_options;
  request.set_timeout_ms(o_.judge_timeout_ms);
  const absl::Time start = absl::Now();
  judges_->Submit(std::move(request), [this, group, sample, baseline, start](JudgeResult result) {
    metrics_.judge_latency.Observe(absl::ToDoubleSeconds(absl::Now() - start));
    const bool usable = result.status.ok() && result.verdict.verdict() != v1::SE;
    if (!usable) {
      metrics_.judge_failures.Increment();
      CRUCIBLE_LOG(Warning) << o_.actor_id << ": " << result.request_id << " not judged: "
                            << (result.status.ok() ? std::string("SE") : result.status.ToString());
    }
    if (baseline) {
      if (usable) group->baseline_reward = result.verdict.reward();
    } else if (usable) {
      group->verdicts[sample] = std::move(result.verdict);
    }
    OnJudged(group);
  });
}

void Actor::OnJudged(const std::shared_ptr<Group>& group) {
  bool complete;
  {
    std::lock_guard<std::mutex> lock(mu_);
    complete = --group->waiting == 0;
  }
  if (!complete) return;
  Produce(*group);
  std::lock_guard<std::mutex> lock(mu_);
  inflight_ -= static_cast<int64_t>(group->samples.size());
  metrics_.inflight.Set(static_cast<double>(inflight_));
  cv_.notify_all();
}

void Actor::Produce(Group& g) {
  int produced = 0;
  for (const auto& v : g.verdicts) produced += v.has_value() ? 1 : 0;
  if (produced == 0) return;
  absl::MutexLock lock(&produce_mu_);
  for (size_t s = 0; s < g.samples.size(); ++s) {
    if (!g.verdicts[s].has_value()) continue;
    const model::Completion& c = g.samples[s];
    const v1::Verdict& v = *g.verdicts[s];
    v1::Trajectory t;
    t.set_problem_id(g.problem->id());
    t.set_actor_id(o_.actor_id);
    t.set_run_id(o_.run_id);
    t.set_weights_run_id(policy_->weights_run_id());
    t.set_first_version(c.versions.empty() ? policy_->version() : c.versions.front());
    t.set_last_version(c.versions.empty() ? policy_->version() : c.versions.back());
    if (t.first_version() != t.last_version()) {
      for (int64_t version : c.versions) t.add_token_versions(version);
    }
    for (int32_t tok : g.prompt_tokens) t.add_prompt_tokens(tok);
    for (int32_t tok : c.tokens) t.add_completion_tokens(tok);
    for (float lp : c.logprobs) t.add_behaviour_logprobs(lp);
    t.set_prompt(g.prompt);
    t.set_completion(c.text);
    t.set_program(g.programs[s]);
    t.set_language(o_.language);
    v1::VerdictSummary* summary = t.mutable_verdict();
    summary->set_verdict(std::string(VerdictName(v.verdict())));
    summary->set_subtype(v.subtype());
    summary->set_pass_fraction(v.pass_fraction());
    summary->set_tests_passed(v.tests_passed());
    summary->set_tests_total(v.tests_total());
    int64_t max_time = 0;
    for (const v1::TestResult& test : v.tests()) max_time = std::max(max_time, test.time_ms());
    summary->set_max_test_time_ms(max_time);
    t.set_outcome(OutcomeOf(v.verdict()));
    t.set_reward(v.reward());
    t.set_group_id(g.group_id);
    t.set_group_size(produced);
    if (g.baseline_reward.has_value()) t.set_baseline_reward(*g.baseline_reward);
    v1::SamplingParams* sp = t.mutable_sampling();
    sp->set_temperature(o_.temperature);
    sp->set_top_p(o_.top_p);
    sp->set_top_k(o_.top_k);
    sp->set_max_new_tokens(o_.max_new_tokens);
    t.set_created_unix_ms(NowUnixMs());
    absl::StatusOr<std::string> id = outbox_->Append(std::move(t));
    if (!id.ok()) {
      CRUCIBLE_LOG(Error) << o_.actor_id << ": outbox: " << id.status();
      continue;
    }
    metrics_.produced.Increment();
  }
  sender_->Notify();
  metrics_.outbox_pending.Set(static_cast<double>(outbox_->pending_count()));
}

int Actor::Run() {
  if (absl::Status s = Setup(); !s.ok()) {
    CRUCIBLE_LOG(Error) << o_.actor_id << ": " << s;
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  CRUCIBLE_LOG(Info) << o_.actor_id << ": " << shard_.size() << " problems, waiting for the first adapter version";
  while (!Stopping() && !policy_->HasPending()) absl::SleepFor(absl::Milliseconds(20));
  if (!Stopping()) {
    policy_->ApplyPending();
    CRUCIBLE_LOG(Info) << o_.actor_id << ": sampling with version " << policy_->version();
  }
  int status = 0;
  const int64_t per_batch = static_cast<int64_t>(o_.problems_per_batch) * o_.samples_per_problem;
  for (int64_t batch = 0; !Stopping(); ++batch) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!Stopping() && inflight_ > 0 && inflight_ + per_batch > o_.max_inflight_samples) {
        cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
    }
    if (Stopping() || !Admit(per_batch)) break;
    if (!policy_->ready()) policy_->ApplyPending();
    if (absl::Status s = SampleBatch(batch); !s.ok()) {
      CRUCIBLE_LOG(Error) << o_.actor_id << ": " << s;
      status = 1;
      break;
    }
  }

  // Drain: every submitted sample judged, every trajectory delivered, the count reported.
  const absl::Time deadline = absl::Now() + o_.drain_timeout;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (inflight_ > 0 && absl::Now() < deadline) cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (inflight_ > 0) {
      CRUCIBLE_LOG(Warning) << o_.actor_id << ": " << inflight_ << " samples still being judged at the drain deadline";
    }
  }
  subscriber_->Stop();
  if (absl::Status s = sender_->Finish(outbox_->produced(), std::max(absl::Seconds(1), deadline - absl::Now()));
      !s.ok()) {
    CRUCIBLE_LOG(Warning) << o_.actor_id << ": delivering the last trajectories: " << s;
    if (status == 0 && !(o_.stop != nullptr && o_.stop->load())) status = 1;
  }
  sender_->Stop();
  judges_->Shutdown();
  CRUCIBLE_LOG(Info) << o_.actor_id << ": produced " << outbox_->produced() << " trajectories; last version "
                     << policy_->version() << "; stopped";
  return status;
}

}  // namespace

int RunActor(const ActorOptions& options) {
  Actor actor(options);
  return actor.Run();
}

}  // namespace crucible
