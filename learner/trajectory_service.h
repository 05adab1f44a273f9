// TrajectoryServiceImpl: the learner's end of the trajectory stream, its bounded queue,
// batch formation, staleness bound, admission control and books. The promises:
//   - Dedupe. A trajectory id ("<run_id>/<actor_id>/<sequence>") seen since this process
//     started, or in the committed ledger restored from a checkpoint, is dropped, counted in
//     duplicates_dropped and acked again (received, and committed when it is).
//   - Backpressure. While queue_capacity trajectories wait to enter a batch, a stream
//     holds the one new trajectory it has read and reads no further, so gRPC flow control
//     holds the actor back. (Duplicates and Final need no room, so an actor's Final gets
//     through a full queue.) A trajectory is acked received once it is queued.
//   - Batches. NextBatch() hands out batch_size trajectories (with whole_groups: complete
//     groups in order of completion while they fit, at least one) after dropping those
//     with version - first_version > max_staleness_steps (a group goes whole if one member
//     is stale); the batch stays counted as queued until CompleteBatch() marks it trained.
//     A group still incomplete incomplete_group_timeout after its first member arrived is
//     dropped, and so are its later members (dropped_incomplete). Size the queue for a
//     batch plus the groups open at once: open groups hold room too.
//   - Commit, two-phase. SaveState() returns the books and the ledger of every trajectory
//     disposed of (trained or dropped) so far: write it into the checkpoint. Once that
//     checkpoint is durable, MarkCommitted() commits what that SaveState() held and acks
//     those ids committed on their actors' open streams. A learner restored from the
//     checkpoint (RestoreState) has those books and that ledger, so what it trained after
//     the checkpoint is resent, trained again and never counted twice.
//   - Books: received = trained + dropped_stale + dropped_incomplete + queued at all times;
//     produced (the sum of the actors' Final counts) equals the right-hand side once every
//     actor has finished. An actor's Final stands until the actor opens another stream (a
//     restored Final too: a learner restarted after its actors finished keeps their counts,
//     while the actors of a requeued run, which reconnect, must send new ones).
// Not promised: order across actors, or that a batch mixes actors fairly. Thread-safe; the
// service must outlive the grpc::Server it is registered with, and Close() it first.
#ifndef CRUCIBLE_LEARNER_TRAJECTORY_SERVICE_H_
#define CRUCIBLE_LEARNER_TRAJECTORY_SERVICE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crucible/v1/trajectory.grpc.pb.h"
#include "nlohmann/json_fwd.hpp"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace crucible {

struct TrajectoryServiceOptions {
  std::string run_id;             // a Hello for another run is refused; empty: any run
  int64_t queue_capacity = 1024;  // trajectories waiting to enter a batch
  int64_t batch_size = 32;        // a multiple of the group size when whole_groups
  bool whole_groups = false;      // RLOO/GRPO: only complete groups enter batches
  int64_t max_staleness_steps = 4;
  absl::Duration incomplete_group_timeout = absl::Minutes(10);
  absl::Duration max_admit_wait = absl::Seconds(30);  // caps AdmitRequest.wait_ms
};

struct TrajectoryBooks {
  int64_t produced = 0;  // the sum of the actors' Final counts
  int64_t trained = 0;
  int64_t dropped_stale = 0;
  int64_t dropped_incomplete = 0;
  int64_t queued = 0;  // waiting, in an incomplete group, or in a batch not yet completed
  int64_t duplicates_dropped = 0;
  int64_t received = 0;  // distinct trajectories accepted (duplicates not included)
};

struct TrajectoryGauges {
  int64_t queue_depth = 0;  // waiting to enter a batch (what queue_capacity bounds)
  int64_t in_training = 0;
  int64_t open_groups = 0;  // groups with members waiting for the rest
  int64_t streams_open = 0;
  int64_t admission_waiting = 0;  // Admit calls held for capacity
  int64_t admitted_samples = 0;   // granted since this process started
  int64_t admissions_refused = 0;
  int64_t finals = 0;  // actors that sent Final
};

class TrajectoryServiceImpl final : public v1::TrajectoryService::Service {
 public:
  using Books = TrajectoryBooks;
  using Gauges = TrajectoryGauges;

  // Fails on options out of range. `metrics` may be null; when set, the books and gauges
  // are exported as crucible_learner_trajectory_* gauges.
  static absl::StatusOr<std::unique_ptr<TrajectoryServiceImpl>> Create(
      TrajectoryServiceOptions options, std::shared_ptr<prometheus::Registry> metrics = nullptr);
  ~TrajectoryServiceImpl() override;

  grpc::Status Stream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::TrajectoryAck, v1::TrajectoryUpload>* stream) override;
  grpc::Status Admit(grpc::ServerContext* context, const v1::AdmitRequest* request,
                     v1::AdmitResponse* response) override;

  // Blocks until a batch can be formed and returns it, or returns nullopt at the timeout,
  // after Close(), or after RequestStop() once no full batch is left.
  std::optional<std::vector<v1::Trajectory>> NextBatch(absl::Duration timeout);
  // Marks the oldest batch NextBatch() handed out as trained.
  absl::Status CompleteBatch();

  // The newest published adapter version (staleness) and optimizer step (admission counts
  // the steps since the first call).
  void SetLearnerVersion(int64_t version, int64_t step);

  // Checkpointing; see the contract above. SaveState() is JSON-serialisable as it is.
  nlohmann::json SaveState();
  // Returns how many trajectories became committed.
  int64_t MarkCommitted();
  // Before any stream has sent a trajectory. Bad state gets an error naming the field.
  absl::Status RestoreState(const nlohmann::json& state);

  // Acks from now on carry stop=true (and every open stream gets one now); Admit refuses.
  void RequestStop();
  // Returns once `expected_actors` distinct actors have sent Final and every stream that
  // carried a Final has ended (so shutting the server down next cancels no actor's stream
  // between its Final and its end, which the actor would take for a lost Final), else
  // DEADLINE_EXCEEDED.
  absl::Status WaitForFinals(int expected_actors, absl::Duration timeout);
  // Ends every open stream and refuses new ones. Call before the server's Shutdown().
  void Close();

  TrajectoryBooks books() const;
  TrajectoryGauges gauges() const;

 private:
  class Ledger;
  struct StreamState;
  struct Group {
    std::vector<v1::Trajectory> members;
    int32_t size = 0;
    absl::Time first_arrival;
  };
  struct Metrics;

  TrajectoryServiceImpl(TrajectoryServiceOptions options,
                        std::shared_ptr<prometheus::Registry> metrics);

  // Stream helpers.
  grpc::Status ServeStream(const std::shared_ptr<StreamState>& state);
  // Queues (or recognises as a duplicate) one trajectory from the stream of `key`, waiting
  // for room in the queue; an error when the stream should end instead.
  absl::StatusOr<v1::TrajectoryAck> Receive(grpc::ServerContext* context, const std::string& key,
                                            v1::Trajectory trajectory);
  bool TakesRoomLocked(const v1::Trajectory& t) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendToStreams(std::vector<std::pair<std::shared_ptr<StreamState>, v1::TrajectoryAck>> acks);

  // Queue helpers; mu_ held.
  void EnqueueLocked(v1::Trajectory trajectory) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireGroupsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropStaleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<v1::Trajectory> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NextGroupDeadlineLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t AdmissionCapacityLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TrajectoryBooks BooksLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateMetricsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TrajectoryServiceOptions options_;
  std::unique_ptr<Metrics> metrics_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // queue, batches, versions, finals, stop: anything a waiter waits on
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t step_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<int64_t> start_step_ ABSL_GUARDED_BY(mu_);

  // Queue: complete units (a group, or one trajectory) in arrival order, and open groups.
  std::deque<std::vector<v1::Trajectory>> ready_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Group> groups_ ABSL_GUARDED_BY(mu_);
  std::unordered_set<std::string> dropped_groups_ ABSL_GUARDED_BY(mu_);
  int64_t ready_count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t waiting_ ABSL_GUARDED_BY(mu_) = 0;  // ready_ and groups_ together
  std::deque<std::vector<std::string>> in_training_ ABSL_GUARDED_BY(mu_);
  int64_t in_training_count_ ABSL_GUARDED_BY(mu_) = 0;

  // Books and the ledger. disposed_ holds the ids given a fate and not yet committed; the
  // first saved_disposed_ of them were in the last SaveState().
  TrajectoryBooks books_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> finals_ ABSL_GUARDED_BY(mu_);  // "<run>/<actor>" -> produced
  int open_final_streams_ ABSL_GUARDED_BY(mu_) = 0;  // streams that sent Final and have not ended
  std::unique_ptr<Ledger> seen_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Ledger> committed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> disposed_ ABSL_GUARDED_BY(mu_);
  size_t saved_disposed_ ABSL_GUARDED_BY(mu_) = 0;

  // Admission.
  int64_t started_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t admission_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t admissions_refused_ ABSL_GUARDED_BY(mu_) = 0;

  // Streams: every open one, and the newest per "<run_id>/<actor_id>" for committed acks.
  std::set<std::shared_ptr<StreamState>> streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<StreamState>> actor_streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crucible

#endif  // CRUCIBLE_LEARNER_TRAJECTORY_SERVICE_H_
