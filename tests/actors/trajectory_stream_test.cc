// The trajectory stream end to end: TrajectorySender over an Outbox, talking to a
// TrajectoryServiceImpl served by an in-process gRPC server on a loopback port. Waits are
// bounded polls; nothing depends on sleeping "long enough" except where a timeout is the
// subject (the incomplete-group timeout, Admit's wait).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "actors/outbox.h"
#include "actors/trajectory_sender.h"
#include "common/files.h"
#include "grpcpp/grpcpp.h"
#include "learner/trajectory_service.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"

namespace crucible {
namespace {

constexpr char kRun[] = "run1";

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

v1::Trajectory Sample(int64_t version = 0, const std::string& group = "", int32_t group_size = 0) {
  v1::Trajectory t;
  t.set_problem_id("sum-two");
  t.set_first_version(version);
  t.set_last_version(version);
  t.set_group_id(group);
  t.set_group_size(group_size);
  t.add_completion_tokens(7);
  t.add_behaviour_logprobs(-0.5f);
  t.set_reward(1.0);
  return t;
}

bool Balanced(const TrajectoryBooks& b) {
  return b.produced == b.trained + b.dropped_stale + b.dropped_incomplete + b.queued &&
         b.received == b.trained + b.dropped_stale + b.dropped_incomplete + b.queued;
}

TrajectoryServiceOptions Options(int64_t batch_size, int64_t capacity) {
  TrajectoryServiceOptions options;
  options.run_id = kRun;
  options.batch_size = batch_size;
  options.queue_capacity = capacity;
  return options;
}

// A TrajectoryServiceImpl behind a gRPC server on 127.0.0.1.
class Learner {
 public:
  Learner(TrajectoryServiceOptions options, int port = 0, const nlohmann::json* restore = nullptr,
          std::shared_ptr<prometheus::Registry> metrics = nullptr) {
    auto service = TrajectoryServiceImpl::Create(std::move(options), std::move(metrics));
    REQUIRE(service.ok());
    service_ = *std::move(service);
    if (restore != nullptr) REQUIRE(service_->RestoreState(*restore).ok());
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port_ > 0);
  }
  ~Learner() { Shutdown(); }

  // As a crash looks to the actors: every stream ends.
  void Shutdown() {
    if (server_ == nullptr) return;
    service_->Close();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }

  TrajectoryServiceImpl* operator->() { return service_.get(); }
  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  std::unique_ptr<TrajectoryServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// An actor's delivery side: an outbox in a temporary directory and a sender over it.
class Actor {
 public:
  Actor(const std::string& address, const std::string& actor_id,
        std::function<void()> on_stop = nullptr) {
    auto dir = ScopedTempDir::Create(TempRoot(), "trajectory_stream_test_");
    REQUIRE(dir.ok());
    dir_ = *std::move(dir);
    auto outbox = Outbox::Open(dir_.path() + "/outbox.log");
    REQUIRE(outbox.ok());
    outbox_ = *std::move(outbox);
    TrajectorySenderOptions options;
    options.endpoint = address;
    options.run_id = kRun;
    options.actor_id = actor_id;
    options.initial_backoff = absl::Milliseconds(20);
    options.max_backoff = absl::Milliseconds(200);
    options.on_stop = std::move(on_stop);
    auto sender = TrajectorySender::Create(std::move(options), outbox_.get());
    REQUIRE(sender.ok());
    sender_ = *std::move(sender);
  }

  std::string Send(v1::Trajectory t) {
    auto id = sender_->Enqueue(std::move(t));
    REQUIRE(id.ok());
    return *id;
  }

  TrajectorySender* operator->() { return sender_.get(); }
  Outbox& outbox() { return *outbox_; }

 private:
  ScopedTempDir dir_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<TrajectorySender> sender_;
};

// A hand-driven stream, to see the acks themselves.
class RawStream {
 public:
  RawStream(const std::string& address, const std::string& actor_id,
            const std::string& run_id = kRun)
      : stub_(v1::TrajectoryService::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    context_.set_wait_for_ready(true);
    stream_ = stub_->Stream(&context_);
    v1::TrajectoryUpload hello;
    hello.mutable_hello()->set_actor_id(actor_id);
    hello.mutable_hello()->set_run_id(run_id);
    REQUIRE(stream_->Write(hello));
  }

  bool Read(v1::TrajectoryAck* ack) { return stream_->Read(ack); }
  bool Write(const v1::TrajectoryUpload& upload) { return stream_->Write(upload); }

  v1::TrajectoryAck Send(const std::string& id, v1::Trajectory t = Sample()) {
    t.set_trajectory_id(id);
    v1::TrajectoryUpload upload;
    *upload.mutable_trajectory() = std::move(t);
    REQUIRE(stream_->Write(upload));
    v1::TrajectoryAck ack;
    REQUIRE(stream_->Read(&ack));
    return ack;
  }

  grpc::Status Finish(int64_t produced) {
    v1::TrajectoryUpload upload;
    upload.mutable_final()->set_produced(produced);
    stream_->Write(upload);
    stream_->WritesDone();
    return Drain();
  }

  grpc::Status Drain() {
    v1::TrajectoryAck ack;
    while (stream_->Read(&ack)) {
    }
    return stream_->Finish();
  }

 private:
  std::unique_ptr<v1::TrajectoryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::TrajectoryUpload, v1::TrajectoryAck>> stream_;
};

std::vector<std::string> Ids(const std::vector<v1::Trajectory>& batch) {
  std::vector<std::string> ids;
  for (const v1::Trajectory& t : batch) ids.push_back(t.trajectory_id());
  return ids;
}

double BooksGauge(prometheus::Registry& registry, const std::string& entry) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "crucible_learner_trajectories") continue;
    for (const prometheus::ClientMetric& m : family.metric) {
      for (const prometheus::ClientMetric::Label& label : m.label) {
        if (label.name == "entry" && label.value == entry) return m.gauge.value;
      }
    }
  }
  return -1;
}

TEST_CASE("trajectory stream: dedupe and acks", "[trajectories]") {
  auto registry = std::make_shared<prometheus::Registry>();
  Learner learner(Options(2, 16), 0, nullptr, registry);
  RawStream stream(learner.address(), "a");
  v1::TrajectoryAck first;
  REQUIRE(stream.Read(&first));  // the hello is answered with the learner's version
  CHECK(first.received_size() == 0);
  CHECK_FALSE(first.stop());

  v1::TrajectoryAck ack = stream.Send("run1/a/0");
  CHECK(std::vector<std::string>(ack.received().begin(), ack.received().end()) ==
        std::vector<std::string>{"run1/a/0"});
  CHECK(ack.committed_size() == 0);
  ack = stream.Send("run1/a/0");  // a duplicate is acked again, not queued
  CHECK(ack.received_size() == 1);
  CHECK(ack.committed_size() == 0);
  stream.Send("run1/a/1");
  TrajectoryBooks books = learner->books();
  CHECK(books.received == 2);
  CHECK(books.duplicates_dropped == 1);
  CHECK(books.queued == 2);
  CHECK(BooksGauge(*registry, "received") == 2);

  auto batch = learner->NextBatch(absl::Seconds(2));
  REQUIRE(batch.has_value());
  CHECK(Ids(*batch) == std::vector<std::string>{"run1/a/0", "run1/a/1"});
  CHECK(learner->books().queued == 2);  // in training is still queued
  REQUIRE(learner->CompleteBatch().ok());
  CHECK(learner->CompleteBatch().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(learner->MarkCommitted() == 0);  // nothing saved yet, so nothing durable
  learner->SaveState();
  CHECK(learner->MarkCommitted() == 2);
  REQUIRE(stream.Read(&ack));  // the committed ack, on the actor's open stream
  CHECK(std::set<std::string>(ack.committed().begin(), ack.committed().end()) ==
        std::set<std::string>{"run1/a/0", "run1/a/1"});

  ack = stream.Send("run1/a/1");  // a duplicate of a committed id is acked committed at once
  CHECK(ack.received_size() == 1);
  REQUIRE(ack.committed_size() == 1);
  CHECK(ack.committed(0) == "run1/a/1");
  books = learner->books();
  CHECK(books.trained == 2);
  CHECK(books.duplicates_dropped == 2);
  CHECK(books.queued == 0);

  CHECK(stream.Finish(2).ok());
  books = learner->books();
  CHECK(books.produced == 2);
  CHECK(Balanced(books));

  // An id of another actor is refused, naming the field; so is a hello for another run.
  RawStream stray(learner.address(), "c");
  REQUIRE(stray.Read(&ack));
  v1::TrajectoryUpload upload;
  *upload.mutable_trajectory() = Sample();
  upload.mutable_trajectory()->set_trajectory_id("run1/b/0");
  stray.Write(upload);
  grpc::Status status = stray.Drain();
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("trajectory_id"));
  RawStream other_run(learner.address(), "a", "run2");
  status = other_run.Drain();
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(status.error_message(), Catch::Contains("run_id"));
  CHECK(learner->books().received == 2);
}

TEST_CASE("trajectory stream: the bounded queue pushes back on the actor", "[trajectories]") {
  Learner learner(Options(4, 4));
  Actor actor(learner.address(), "a");
  constexpr int kTotal = 40;
  std::atomic<bool> sampling{true};
  int64_t max_depth = 0;  // written by the sampler only, read after it is joined
  std::thread sampler([&] {
    while (sampling.load()) {
      max_depth = std::max(max_depth, learner->gauges().queue_depth);
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  for (int i = 0; i < kTotal; ++i) actor.Send(Sample());
  // The learner reads only while it has room: 4 are in, the rest wait at the actor.
  CHECK(
      WaitUntil([&] { return learner->books().received == 4 && actor->backlog() == kTotal - 4; }));
  absl::SleepFor(absl::Milliseconds(200));
  CHECK(learner->books().received == 4);
  CHECK(learner->gauges().queue_depth == 4);
  CHECK(actor->backlog() == kTotal - 4);
  for (int b = 0; b < kTotal / 4; ++b) {
    auto batch = learner->NextBatch(absl::Seconds(5));
    REQUIRE(batch.has_value());
    CHECK(batch->size() == 4);
    REQUIRE(learner->CompleteBatch().ok());
  }
  REQUIRE(actor->Finish(kTotal, absl::Seconds(5)).ok());
  sampling.store(false);
  sampler.join();
  CHECK(max_depth == 4);
  const TrajectoryBooks books = learner->books();
  CHECK(books.produced == kTotal);
  CHECK(books.trained == kTotal);
  CHECK(books.duplicates_dropped == 0);
  CHECK(Balanced(books));
  const TrajectorySender::Stats stats = actor->stats();
  CHECK(stats.sent == kTotal);
  CHECK(stats.resent == 0);
  CHECK(stats.received_acks == kTotal);
  CHECK(stats.reconnects == 0);
}

TEST_CASE("trajectory stream: group completion and whole-group batches", "[trajectories]") {
  TrajectoryServiceOptions options = Options(4, 16);
  options.whole_groups = true;
  Learner learner(options);
  Actor actor(learner.address(), "a");
  const std::string g1a = actor.Send(Sample(0, "g1", 2));
  const std::string g2a = actor.Send(Sample(0, "g2", 2));
  const std::string g2b = actor.Send(Sample(0, "g2", 2));
  const std::string g3a = actor.Send(Sample(0, "g3", 3));
  const std::string g1b = actor.Send(Sample(0, "g1", 2));
  const std::string solo = actor.Send(Sample(0, "", 0));  // no group: a unit of one
  REQUIRE(WaitUntil([&] { return learner->books().received == 6; }));
  CHECK(learner->gauges().open_groups == 1);  // g3, one of three

  // Complete groups in the order they completed: g2 before g1; the single does not fit.
  auto batch = learner->NextBatch(absl::Seconds(2));
  REQUIRE(batch.has_value());
  CHECK(Ids(*batch) == std::vector<std::string>{g2a, g2b, g1a, g1b});
  REQUIRE(learner->CompleteBatch().ok());
  // The single and a third of g3: no batch until g3 is whole.
  CHECK_FALSE(learner->NextBatch(absl::Milliseconds(100)).has_value());
  const std::string g3b = actor.Send(Sample(0, "g3", 3));
  const std::string g3c = actor.Send(Sample(0, "g3", 3));
  batch = learner->NextBatch(absl::Seconds(2));
  REQUIRE(batch.has_value());
  CHECK(Ids(*batch) == std::vector<std::string>{solo, g3a, g3b, g3c});
  REQUIRE(learner->CompleteBatch().ok());

  // Two groups of three do not fit in a batch of four: it takes one, whole.
  std::vector<std::string> g4, g5;
  for (int i = 0; i < 3; ++i) g4.push_back(actor.Send(Sample(0, "g4", 3)));
  for (int i = 0; i < 3; ++i) g5.push_back(actor.Send(Sample(0, "g5", 3)));
  REQUIRE(WaitUntil([&] { return learner->books().received == 14; }));
  batch = learner->NextBatch(absl::Seconds(2));
  REQUIRE(batch.has_value());
  CHECK(Ids(*batch) == g4);
  REQUIRE(learner->CompleteBatch().ok());
  CHECK_FALSE(learner->NextBatch(absl::Milliseconds(50)).has_value());

  REQUIRE(actor->Finish(14, absl::Seconds(5)).ok());
  const TrajectoryBooks books = learner->books();
  CHECK(books.trained == 11);
  CHECK(books.queued == 3);
  CHECK(books.produced == 14);
  CHECK(Balanced(books));
}

TEST_CASE("trajectory stream: stale trajectories are dropped when a batch forms",
          "[trajectories]") {
  TrajectoryServiceOptions options = Options(2, 16);
  options.max_staleness_steps = 2;
  Learner learner(options);
  learner->SetLearnerVersion(5, 0);
  Actor actor(learner.address(), "a");
  const std::string v5 = actor.Send(Sample(5));
  actor.Send(Sample(2));  // 5 - 2 > 2: stale
  const std::string v3 = actor.Send(Sample(3));
  actor.Send(Sample(4));
  REQUIRE(WaitUntil([&] { return learner->books().received == 4; }));
  auto batch = learner->NextBatch(absl::Seconds(2));
  REQUIRE(batch.has_value());
  CHECK(Ids(*batch) == std::vector<std::string>{v5, v3});
  CHECK(learner->books().dropped_stale == 1);
  REQUIRE(learner->CompleteBatch().ok());

  // Fresh when it arrived, stale by the time a batch forms.
  learner->SetLearnerVersion(7, 1);
  CHECK_FALSE(learner->NextBatch(absl::Milliseconds(50)).has_value());
  CHECK(learner->books().dropped_stale == 2);
  CHECK(learner->books().queued == 0);
  const std::string v6 = actor.Send(Sample(6));
  const std::string v7 = actor.Send(Sample(7));
  batch = learner->NextBatch(absl::Seconds(2));
  REQUIRE(batch.has_value());
  CHECK(Ids(*batch) == std::vector<std::string>{v6, v7});
  REQUIRE(learner->CompleteBatch().ok());
  // Acks carry the learner's version (the one for v7 may still be on its way).
  CHECK(WaitUntil([&] { return actor->learner_version() == 7; }));

  REQUIRE(actor->Finish(6, absl::Seconds(5)).ok());
  const TrajectoryBooks books = learner->books();
  CHECK(books.trained == 4);
  CHECK(books.dropped_stale == 2);
  CHECK(books.produced == 6);
  CHECK(Balanced(books));
}

TEST_CASE("trajectory stream: a group still incomplete after the timeout is dropped",
          "[trajectories]") {
  TrajectoryServiceOptions options = Options(3, 16);
  options.whole_groups = true;
  options.incomplete_group_timeout = absl::Milliseconds(300);
  Learner learner(options);
  Actor actor(learner.address(), "a");
  actor.Send(Sample(0, "g1", 3));
  actor.Send(Sample(0, "g1", 3));
  REQUIRE(WaitUntil([&] { return learner->books().received == 2; }));
  CHECK(learner->gauges().open_groups == 1);
  // NextBatch wakes at the group's deadline, drops it, and waits out its own timeout.
  CHECK_FALSE(learner->NextBatch(absl::Milliseconds(600)).has_value());
  TrajectoryBooks books = learner->books();
  CHECK(books.dropped_incomplete == 2);
  CHECK(books.queued == 0);
  CHECK(learner->gauges().open_groups == 0);

  actor.Send(Sample(0, "g1", 3));  // a late member of a dropped group is dropped too
  REQUIRE(WaitUntil([&] { return learner->books().received == 3; }));
  CHECK(learner->books().dropped_incomplete == 3);
  std::vector<std::string> g2;
  for (int i = 0; i < 3; ++i) g2.push_back(actor.Send(Sample(0, "g2", 3)));
  auto batch = learner->NextBatch(absl::Seconds(2));
  REQUIRE(batch.has_value());
  CHECK(Ids(*batch) == g2);
  REQUIRE(learner->CompleteBatch().ok());

  REQUIRE(actor->Finish(6, absl::Seconds(5)).ok());
  books = learner->books();
  CHECK(books.trained == 3);
  CHECK(books.dropped_incomplete == 3);
  CHECK(books.produced == 6);
  CHECK(Balanced(books));
}

TEST_CASE("trajectory stream: admission grants, holds, refuses and stops", "[trajectories]") {
  TrajectoryServiceOptions options = Options(2, 16);
  options.max_staleness_steps = 1;
  Learner learner(options);
  auto stub = v1::TrajectoryService::NewStub(
      grpc::CreateChannel(learner.address(), grpc::InsecureChannelCredentials()));
  // Safe off the test thread: no assertions inside.
  auto admit = [&](int64_t samples, int64_t wait_ms, v1::AdmitResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::AdmitRequest request;
    request.set_actor_id("a");
    request.set_samples(samples);
    request.set_wait_ms(wait_ms);
    return stub->Admit(&context, request, response);
  };
  auto granted = [&](int64_t samples, int64_t wait_ms) {
    v1::AdmitResponse response;
    REQUIRE(admit(samples, wait_ms, &response).ok());
    return response.granted();
  };

  learner->SetLearnerVersion(3, 10);  // the first step seen: capacity (0 + 1 + 1) * 2 = 4
  CHECK(granted(3, 0));
  CHECK_FALSE(granted(2, 0));  // 3 + 2 > 4
  CHECK(granted(1, 0));

  // A held call is granted once the learner steps: capacity (1 + 1 + 1) * 2 = 6.
  v1::AdmitResponse held;
  grpc::Status held_status;
  std::thread holder([&] { held_status = admit(2, 5000, &held); });
  CHECK(WaitUntil([&] { return learner->gauges().admission_waiting == 1; }));
  learner->SetLearnerVersion(4, 11);
  holder.join();
  REQUIRE(held_status.ok());
  CHECK(held.granted());
  CHECK(held.learner_version() == 4);
  CHECK(held.learner_step() == 11);

  // Refused once its wait is over.
  const absl::Time start = absl::Now();
  CHECK_FALSE(granted(1, 150));
  CHECK(absl::Now() - start >= absl::Milliseconds(140));
  CHECK(learner->gauges().admissions_refused == 2);
  CHECK(learner->gauges().admitted_samples == 6);
  v1::AdmitResponse response;
  CHECK(admit(0, 0, &response).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  // RequestStop releases a held call with stop, reaches the actors, and refuses from then on.
  std::atomic<int> stops{0};
  Actor actor(learner.address(), "a", [&] { stops.fetch_add(1); });
  REQUIRE(WaitUntil([&] { return actor->connected(); }));
  v1::AdmitResponse stopped;
  grpc::Status stopped_status;
  holder = std::thread([&] { stopped_status = admit(5, 5000, &stopped); });
  CHECK(WaitUntil([&] { return learner->gauges().admission_waiting == 1; }));
  learner->RequestStop();
  holder.join();
  REQUIRE(stopped_status.ok());
  CHECK(stopped.stop());
  CHECK_FALSE(stopped.granted());
  CHECK(WaitUntil([&] { return actor->stop_requested(); }));
  REQUIRE(admit(1, 0, &response).ok());
  CHECK(response.stop());
  CHECK_FALSE(response.granted());
  actor.Send(Sample());  // what is left still goes, and its acks say stop too
  REQUIRE(actor->Finish(1, absl::Seconds(5)).ok());
  CHECK(stops.load() == 1);
}

TEST_CASE("trajectory stream: Finish delivers Final with the produced count", "[trajectories]") {
  Learner learner(Options(2, 2));
  Actor actor(learner.address(), "a");
  for (int i = 0; i < 5; ++i) actor.Send(Sample());
  // The learner holds two and reads no further, so Final cannot go out yet.
  REQUIRE(WaitUntil([&] { return learner->books().received == 2; }));
  absl::Status early = actor->Finish(5, absl::Milliseconds(300));
  CHECK(early.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK_THAT(std::string(early.message()), Catch::Contains("3 trajectories"));
  CHECK(learner->gauges().finals == 0);
  for (int b = 0; b < 2; ++b) {
    auto batch = learner->NextBatch(absl::Seconds(2));
    REQUIRE(batch.has_value());
    REQUIRE(learner->CompleteBatch().ok());
  }
  REQUIRE(actor->Finish(5, absl::Seconds(5)).ok());
  REQUIRE(learner->WaitForFinals(1, absl::Seconds(1)).ok());
  CHECK(learner->WaitForFinals(2, absl::Milliseconds(50)).code() ==
        absl::StatusCode::kDeadlineExceeded);
  const TrajectoryBooks books = learner->books();
  CHECK(books.produced == 5);
  CHECK(books.trained == 4);
  CHECK(books.queued == 1);
  CHECK(Balanced(books));
  const TrajectorySender::Stats stats = actor->stats();
  CHECK(stats.sent == 5);
  CHECK(stats.resent == 0);
  CHECK(stats.reconnects == 0);
  CHECK(actor->status().ok());
}

TEST_CASE("trajectory stream: Final gets through a full queue", "[trajectories]") {
  // The end of a run: the learner has stopped training and waits for the actors' Finals
  // with its queue full. Final needs no room, so it is read all the same.
  Learner learner(Options(2, 2));
  Actor actor(learner.address(), "a");
  actor.Send(Sample());
  actor.Send(Sample());
  REQUIRE(WaitUntil([&] { return learner->gauges().queue_depth == 2; }));
  learner->RequestStop();
  REQUIRE(actor->Finish(2, absl::Seconds(5)).ok());
  REQUIRE(learner->WaitForFinals(1, absl::Seconds(1)).ok());
  const TrajectoryBooks books = learner->books();
  CHECK(books.produced == 2);
  CHECK(books.queued == 2);
  CHECK(Balanced(books));
  // After RequestStop a full batch is still handed out; then NextBatch returns at once.
  CHECK(learner->NextBatch(absl::Milliseconds(10)).has_value());
  const absl::Time start = absl::Now();
  CHECK_FALSE(learner->NextBatch(absl::Seconds(5)).has_value());
  CHECK(absl::Now() - start < absl::Seconds(1));
}

TEST_CASE("trajectory stream: a learner restart loses nothing and counts nothing twice",
          "[trajectories]") {
  TrajectoryServiceOptions options = Options(4, 8);
  auto learner = std::make_unique<Learner>(options);
  const int port = learner->port();
  const std::string address = learner->address();

  // Actor c, by hand, sends first, so the first batch is its four.
  auto c = std::make_unique<RawStream>(address, "c");
  v1::TrajectoryAck ack;
  REQUIRE(c->Read(&ack));
  std::vector<std::string> c_ids;
  for (int i = 0; i < 4; ++i) {
    c_ids.push_back(absl::StrCat("run1/c/", i));
    c->Send(c_ids.back());
  }
  Actor a(address, "a");
  Actor b(address, "b");
  std::set<std::string> produced(c_ids.begin(), c_ids.end());
  for (int i = 0; i < 30; ++i) {
    produced.insert(a.Send(Sample()));
    produced.insert(b.Send(Sample()));
  }

  // Both are on learner 1 before it goes (a stream still connecting would not break).
  REQUIRE(WaitUntil([&] { return a->connected() && b->connected(); }));

  // Learner 1 trains five batches and checkpoints after the third.
  std::vector<std::string> committed_ids, rolled_back_ids;
  nlohmann::json checkpoint;
  bool trainer_ok = true;
  std::thread trainer([&] {
    for (int step = 0; step < 5 && trainer_ok; ++step) {
      auto batch = (*learner)->NextBatch(absl::Seconds(5));
      if (!batch.has_value() || !(*learner)->CompleteBatch().ok()) {
        trainer_ok = false;
        break;
      }
      for (const std::string& id : Ids(*batch)) {
        (step < 3 ? committed_ids : rolled_back_ids).push_back(id);
      }
      if (step == 2) {
        checkpoint = nlohmann::json::parse((*learner)->SaveState().dump());
        (*learner)->MarkCommitted();
      }
    }
  });
  trainer.join();
  REQUIRE(trainer_ok);
  REQUIRE(committed_ids.size() == 12);
  REQUIRE(rolled_back_ids.size() == 8);
  CHECK(std::vector<std::string>(committed_ids.begin(), committed_ids.begin() + 4) == c_ids);
  REQUIRE(c->Read(&ack));  // c's committed ack came on its open stream
  CHECK(ack.committed_size() == 4);
  CHECK(checkpoint["books"]["trained"] == 12);

  // The crash: every stream breaks. Learner 2 starts from the checkpoint on the same port.
  learner->Shutdown();
  CHECK_FALSE(c->Drain().ok());
  learner = std::make_unique<Learner>(options, port, &checkpoint);
  CHECK((*learner)->books().trained == 12);

  std::set<std::string> trained_after;
  std::atomic<bool> done{false};
  trainer = std::thread([&] {
    while (!done.load()) {
      auto batch = (*learner)->NextBatch(absl::Milliseconds(20));
      if (!batch.has_value()) continue;
      for (const std::string& id : Ids(*batch)) trained_after.insert(id);
      if (!(*learner)->CompleteBatch().ok()) trainer_ok = false;
    }
  });
  // c resends what it had (as an actor that missed its committed ack would): duplicates
  // of the restored ledger, acked committed at once.
  c = std::make_unique<RawStream>(address, "c");
  REQUIRE(c->Read(&ack));
  for (const std::string& id : c_ids) {
    ack = c->Send(id);
    REQUIRE(ack.committed_size() == 1);
    CHECK(ack.committed(0) == id);
  }
  CHECK(c->Finish(4).ok());
  absl::Status a_done = a->Finish(30, absl::Seconds(10));
  absl::Status b_done = b->Finish(30, absl::Seconds(10));
  CHECK(a_done.ok());
  CHECK(b_done.ok());
  CHECK((*learner)->WaitForFinals(3, absl::Seconds(5)).ok());
  CHECK(WaitUntil([&] { return (*learner)->books().queued == 0; }));
  done.store(true);
  trainer.join();
  CHECK(trainer_ok);

  const TrajectoryBooks books = (*learner)->books();
  CHECK(books.produced == 64);
  CHECK(books.trained == 64);
  CHECK(books.queued == 0);
  CHECK(books.duplicates_dropped >= 4);
  CHECK(Balanced(books));
  // Trained at most once in the final model's history: what the checkpoint holds, then
  // the rest (the rolled-back batches again among them), and together everything.
  for (const std::string& id : committed_ids) CHECK(trained_after.count(id) == 0);
  for (const std::string& id : rolled_back_ids) CHECK(trained_after.count(id) == 1);
  std::set<std::string> all(committed_ids.begin(), committed_ids.end());
  all.insert(trained_after.begin(), trained_after.end());
  CHECK(all == produced);
  CHECK(committed_ids.size() + trained_after.size() == 64);
  CHECK(a->stats().reconnects >= 1);
  CHECK(b->stats().reconnects >= 1);
  CHECK(a->stats().resent + b->stats().resent >= 8);  // the rolled-back ones at least
}

TEST_CASE("trajectory stream: the saved state's shape, and bad state refused", "[trajectories]") {
  Learner learner(Options(4, 8));
  RawStream stream(learner.address(), "a");
  v1::TrajectoryAck ack;
  REQUIRE(stream.Read(&ack));
  for (const char* id : {"run1/a/0", "run1/a/1", "run1/a/2", "run1/a/5"}) stream.Send(id);
  REQUIRE(learner->NextBatch(absl::Seconds(2)).has_value());
  REQUIRE(learner->CompleteBatch().ok());
  CHECK(stream.Finish(6).ok());  // two were never delivered: the books say so
  const nlohmann::json state = nlohmann::json::parse(learner->SaveState().dump());
  CHECK(state["format"] == "crucible.trajectory_state.v1");
  CHECK(state["run_id"] == kRun);
  CHECK(state["books"] == nlohmann::json({{"trained", 4},
                                          {"dropped_stale", 0},
                                          {"dropped_incomplete", 0},
                                          {"duplicates_dropped", 0}}));
  CHECK(state["finals"] == nlohmann::json({{"run1/a", 6}}));
  CHECK(state["committed"] == nlohmann::json({{"run1/a", {{"watermark", 3}, {"above", {5}}}}}));

  auto fresh = [] {
    auto service = TrajectoryServiceImpl::Create(Options(4, 8));
    REQUIRE(service.ok());
    return *std::move(service);
  };
  auto restored = fresh();
  REQUIRE(restored->RestoreState(state).ok());
  TrajectoryBooks books = restored->books();
  CHECK(books.trained == 4);
  CHECK(books.received == 4);
  CHECK(books.produced == 6);
  CHECK_FALSE(Balanced(books));  // 2 produced, never received: the books show the gap

  nlohmann::json bad = state;
  bad["committed"]["run1/a"]["watermark"] = "three";
  absl::Status s = fresh()->RestoreState(bad);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::Contains("committed[\"run1/a\"].watermark"));
  bad = state;
  bad["books"]["trained"] = 5;
  s = fresh()->RestoreState(bad);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::Contains("inconsistent"));
  bad = state;
  bad.erase("format");
  CHECK(fresh()->RestoreState(bad).code() == absl::StatusCode::kInvalidArgument);
  CHECK(restored->RestoreState(state).code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("trajectory stream: a restored Final stands until its actor opens a stream again", "[trajectories]") {
  // A requeued run: the checkpoint of the first incarnation holds the Finals its actors sent
  // as they were stopped, and the restarted actors, which produce more, send new ones. The
  // restored counts must not end the new learner's wait early.
  nlohmann::json state;
  {
    Learner first(Options(2, 8));
    RawStream a(first.address(), "a");
    RawStream b(first.address(), "b");
    v1::TrajectoryAck ack;
    REQUIRE(a.Read(&ack));
    REQUIRE(b.Read(&ack));
    a.Send("run1/a/0");
    b.Send("run1/b/0");
    REQUIRE(first->NextBatch(absl::Seconds(2)).has_value());
    REQUIRE(first->CompleteBatch().ok());
    CHECK(a.Finish(1).ok());
    CHECK(b.Finish(1).ok());
    REQUIRE(first->WaitForFinals(2, absl::Seconds(2)).ok());
    state = first->SaveState();
  }
  Learner second(Options(2, 8), 0, &state);
  CHECK(second->books().produced == 2);
  CHECK(second->WaitForFinals(2, absl::Milliseconds(10)).ok());  // actors gone: their counts stand
  RawStream a(second.address(), "a");
  v1::TrajectoryAck ack;
  REQUIRE(a.Read(&ack));
  CHECK(second->WaitForFinals(2, absl::Milliseconds(50)).code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(second->books().produced == 1);  // b's restored count only
  CHECK(a.Send("run1/a/0").committed_size() == 1);  // trained in the first incarnation
  a.Send("run1/a/1");
  a.Send("run1/a/2");
  CHECK(a.Finish(3).ok());
  REQUIRE(second->WaitForFinals(2, absl::Seconds(2)).ok());
  TrajectoryBooks books = second->books();
  CHECK(books.produced == 4);
  CHECK(books.trained == 2);
  CHECK(books.queued == 2);
  CHECK(books.duplicates_dropped == 1);
  CHECK(Balanced(books));
}

}  // namespace
}  // namespace crucible
