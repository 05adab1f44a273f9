// TrajectorySender: delivers an actor's Outbox to the learner's TrajectoryService, at
// least once. One thread keeps a Stream open (a Hello{actor_id, run_id} first) and sends,
// in append order, every outbox entry not yet acked received on that stream, then each new
// one as it is appended; a second thread reads the acks: received ids are not sent again
// on this stream, committed ids are committed in the outbox (forgotten for good). A broken
// stream is reopened with exponential backoff, and the new stream starts over with every
// uncommitted entry, so the learner (which drops duplicates by id) sees each trajectory
// until it has committed it. A learner's refusal (INVALID_ARGUMENT, FAILED_PRECONDITION:
// a bad id, another run) is not retried: it ends the sender and Finish() returns it.
//
// What the learner says in acks is surfaced: stop_requested() (and on_stop, once) when the
// run is over, learner_version(). Finish() sends Final{produced} once the learner holds
// every outbox entry and waits for the learner to end the stream; append nothing after it.
// Thread-safe. The outbox must outlive the sender.
#ifndef CRUCIBLE_ACTORS_TRAJECTORY_SENDER_H_
#define CRUCIBLE_ACTORS_TRAJECTORY_SENDER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "actors/outbox.h"
#include "crucible/v1/trajectory.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace crucible {

struct TrajectorySenderOptions {
  std::string endpoint;  // the learner's TrajectoryService, "host:port"
  std::string run_id;
  std::string actor_id;
  absl::Duration initial_backoff = absl::Milliseconds(50);  // before the first reconnect
  absl::Duration max_backoff = absl::Seconds(5);
  size_t send_chunk = 64;  // outbox entries taken per look at the outbox
  // Runs once, on the ack thread, when the learner first says the run is over.
  std::function<void()> on_stop;
};

class TrajectorySender {
 public:
  // Starts the stream thread. Fails on missing options.
  static absl::StatusOr<std::unique_ptr<TrajectorySender>> Create(TrajectorySenderOptions options,
                                                                  Outbox* outbox);
  ~TrajectorySender();  // Stop()
  TrajectorySender(const TrajectorySender&) = delete;
  TrajectorySender& operator=(const TrajectorySender&) = delete;

  // Journals the trajectory in the outbox and wakes the sender; returns its id. Empty
  // run_id / actor_id are filled from the options; an empty trajectory_id gets the outbox's
  // next "<run_id>/<actor_id>/<sequence>".
  absl::StatusOr<std::string> Enqueue(v1::Trajectory trajectory);
  // Wakes the sender after something was appended to the outbox directly.
  void Notify();

  // Waits until every outbox entry was acked received on the current stream, sends Final,
  // half-closes and waits for the learner to end the stream (reconnecting and resending
  // as needed). DEADLINE_EXCEEDED at the timeout; the learner's refusal as it came.
  absl::Status Finish(int64_t produced, absl::Duration timeout);
  // Cancels the stream and joins the threads. Idempotent.
  void Stop();

  bool stop_requested() const;
  int64_t learner_version() const;
  // Outbox entries the learner has not acked received on the current stream.
  int64_t backlog() const;
  bool connected() const;  // a stream is open and the learner has answered on it
  // OK, or what ended the sender (a refusal) or failed on the way (an outbox commit).
  absl::Status status() const;

  struct Stats {
    int64_t sent = 0;           // trajectories written to a stream, resends included
    int64_t resent = 0;         // of which were sent on an earlier stream already
    int64_t received_acks = 0;  // ids acked received (once per stream)
    int64_t committed = 0;      // outbox entries committed by the learner's acks
    int64_t reconnects = 0;     // streams opened after the first
  };
  Stats stats() const;

 private:
  using ClientStream = grpc::ClientReaderWriter<v1::TrajectoryUpload, v1::TrajectoryAck>;

  TrajectorySender(TrajectorySenderOptions options, Outbox* outbox);

  void Run();
  // One stream from Hello to end; `answered` says whether the learner acked anything.
  grpc::Status Serve(bool* answered);
  // Writes uploads until the stream breaks, Stop(), or Final is sent (then true).
  bool SendLoop(ClientStream* stream);
  void ReadAcks(ClientStream* stream);
  void HandleAck(const v1::TrajectoryAck& ack, bool* fire_stop);
  bool AllReceivedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SleepUnlessStopped(absl::Duration d);

  const TrajectorySenderOptions options_;
  Outbox* const outbox_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TrajectoryService::Stub> stub_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
  absl::Status commit_error_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  int64_t streams_ ABSL_GUARDED_BY(mu_) = 0;
  // The current stream: ids acked received (all pending in the outbox), the newest outbox
  // ordinal looked at, whether its reader has ended, whether Final went out on it.
  std::unordered_set<std::string> received_ ABSL_GUARDED_BY(mu_);
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = -1;
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool final_sent_ ABSL_GUARDED_BY(mu_) = false;
  // Ids sent on some stream and not committed yet (to count resends).
  std::unordered_set<std::string> sent_before_ ABSL_GUARDED_BY(mu_);
  bool final_requested_ ABSL_GUARDED_BY(mu_) = false;
  int64_t final_produced_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  int64_t learner_version_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_TRAJECTORY_SENDER_H_
