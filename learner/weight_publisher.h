// WeightPublisher: the learner's side of the adapter weight stream (WeightService). The
// learner Publishes whole versions; Publish only swaps the "latest" pointer and wakes the
// subscribers, so it never waits on a slow or dead actor. Each Subscribe call starts from
// the version its actor says it holds, waits until the latest is newer (another run id,
// or a higher version of the same run), sends that version (manifest, chunks, commit)
// from a shared_ptr snapshot, then moves to whatever is newest at that moment: a slow
// subscriber skips the versions published while it was being sent the previous one,
// and never holds the learner up. A version being sent stays alive, and unchanged, until
// its sender is done with it, however many newer ones are published meanwhile.
//
// The stream ends on Shutdown() (UNAVAILABLE, so the actor reconnects to the learner's
// successor) or when the actor cancels. Call Shutdown() before the gRPC server's
// Shutdown(): a waiting Subscribe returns at once, and one blocked writing to an actor
// that does not read returns when the server cancels it. The publisher must outlive the
// server it is registered with.
//
// Versions must increase within a run id; Publish refuses one that would not, and one whose
// layout is inconsistent (see ValidateLayout). After a learner restart,
// max_reported_version() is the highest version an actor said it holds for the current run
// id, so the learner can number its next version above it.
#ifndef CRUCIBLE_LEARNER_WEIGHT_PUBLISHER_H_
#define CRUCIBLE_LEARNER_WEIGHT_PUBLISHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/weight_stream.h"
#include "crucible/v1/weights.grpc.pb.h"

namespace crucible {

struct WeightPublisherOptions {
  // The learner's run id, the "current" one for max_reported_version() until a version
  // is published (then the latest version's run id is).
  std::string run_id;
  int64_t chunk_bytes = int64_t{1} << 20;  // largest WeightsChunk.data; at most 64 MiB
  // How often a waiting Subscribe looks for its actor having cancelled.
  absl::Duration cancel_poll_interval = absl::Milliseconds(100);
  // Subscribers on this host (their SubscribeRequest.shared_memory_token equals ours) get
  // each version as a file in /dev/shm, written once on first demand, instead of chunks.
  // A file is removed when its version is three publishes and 5 s old (eight publishes at
  // most), or with the publisher.
  bool shared_memory = true;
  // Called on the Subscribe call's thread after a version's commit was written, with the
  // time since that version was Published. Must be thread-safe and quick.
  std::function<void(const std::string& actor_id, int64_t version, double seconds)> on_sent;
};

class WeightPublisher final : public v1::WeightService::Service {
 public:
  static absl::StatusOr<std::unique_ptr<WeightPublisher>> Create(WeightPublisherOptions options);
  ~WeightPublisher() override;
  WeightPublisher(const WeightPublisher&) = delete;
  WeightPublisher& operator=(const WeightPublisher&) = delete;

  // Makes `version` the latest and wakes every subscriber. INVALID_ARGUMENT for a null
  // version or one that does not increase on the latest of the same run id;
  // FAILED_PRECONDITION after Shutdown.
  absl::Status Publish(std::shared_ptr<const WeightsVersion> version);

  // Builds a version from float32 tensors (MakeVersion's arguments) and Publishes it. With
  // shared memory on and a subscriber on this host seen, the version is narrowed straight
  // into its file in /dev/shm (MakeSharedVersion): same-host subscribers map that file, and
  // remote ones are sent chunks from it, so the version is written once and never copied.
  // Otherwise it is built in memory (and written to a file when a same-host subscriber
  // first needs it). After a file cannot be made (no space in /dev/shm), with one warning,
  // every later version is built in memory and goes as chunks.
  absl::Status PublishFloat32(std::string run_id, int64_t version, int64_t learner_step,
                              v1::PeftConfig peft, const std::vector<std::string>& names,
                              const std::vector<std::vector<int64_t>>& shapes, const float* data,
                              v1::DType wire_dtype);

  // Ends every Subscribe call and refuses new ones. Idempotent.
  void Shutdown();

  // The latest published version, null before the first.
  std::shared_ptr<const WeightsVersion> latest() const;

  // The highest have_version a subscriber reported for the current run id (see
  // WeightPublisherOptions::run_id), or for `run_id`; -1 when none did.
  int64_t max_reported_version() const;
  int64_t max_reported_version(absl::string_view run_id) const;

  struct Stats {
    int64_t versions_published = 0;
    int64_t versions_sent = 0;     // commits written, over every subscriber
    int64_t versions_skipped = 0;  // published while a subscriber was busy, never sent to it
    int64_t bytes_sent = 0;        // chunk payload bytes written
    int64_t versions_shared = 0;   // of versions_sent, sent as a file in /dev/shm
    int64_t subscribers_connected = 0;
  };
  Stats stats() const;

  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::WeightsUpdate>* writer) override;

 private:
  // A version's file in /dev/shm, built with the version (PublishFloat32) or written by
  // the first same-host subscriber to need it; unlinked when the last holder lets go.
  struct SharedSlot {
    std::string path;
    absl::Time published_at;
    absl::once_flag once;
    absl::StatusOr<SharedWeightsFile> file = absl::UnavailableError("not written");
    ~SharedSlot();
  };
  struct Published {
    std::shared_ptr<const WeightsVersion> version;
    std::shared_ptr<SharedSlot> shared;  // null when shared memory is off
    int64_t sequence = 0;  // 1 for the first Publish, then +1 each
    absl::Time published_at;
  };

  explicit WeightPublisher(WeightPublisherOptions options);

  // Publish with the version's file: `shared` is null (no file: chunks only), or a slot
  // whose file is already written, or null with `lazy_file` to make one on demand.
  absl::Status PublishWithFile(std::shared_ptr<const WeightsVersion> version,
                               std::shared_ptr<SharedSlot> shared, bool lazy_file);
  std::string NextSharedPath();

  // Blocks until the latest is newer than (run_id, version), the publisher shuts down or
  // the call is cancelled; false in the latter two cases.
  bool AwaitNewer(grpc::ServerContext* context, const std::string& run_id, int64_t version,
                  Published* out);
  // Writes one version; false when the actor went away or the publisher shut down.
  bool Send(grpc::ServerContext* context, grpc::ServerWriter<v1::WeightsUpdate>* writer,
            const WeightsVersion& version, SharedSlot* shared);
  bool shutting_down() const;

  const WeightPublisherOptions options_;
  const std::string shared_memory_token_;  // empty when shared memory is off
  const int64_t instance_;                 // in the files' names
  std::atomic<int64_t> next_file_{1};      // likewise
  std::atomic<bool> same_host_seen_{false};  // a subscriber on this host has connected
  std::atomic<bool> build_failed_{false};    // a version's file could not be made
  mutable absl::Mutex mu_;
  // The files of the last versions, kept a little after they stop being the latest, for
  // subscribers that read the manifest just before a newer one was published.
  std::deque<std::shared_ptr<SharedSlot>> recent_shared_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  Published latest_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t, std::less<>> max_reported_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crucible

#endif  // CRUCIBLE_LEARNER_WEIGHT_PUBLISHER_H_
