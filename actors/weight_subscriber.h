// WeightSubscriber: an actor's side of the adapter weight stream. One thread keeps a
// WeightService.Subscribe stream open to the learner, rebuilds versions with a
// WeightsAssembler and hands each whole, verified version to the callback, in the order
// received (each newer than the one before; the learner may skip versions). A version
// that fails verification (checksum, layout, sequence) is counted, logged and never
// delivered; the subscriber then drops the stream and reconnects, so the learner sends
// its newest version again from the start. A stream that breaks or ends (the learner
// restarted, was unreachable, or shut down) is reopened with exponential backoff, each
// time saying the version the subscriber holds: the last one delivered, or the one it was
// started with. The callback runs on the subscriber's thread, one version at a time; while
// it runs nothing is read, so a slow callback makes the learner skip versions rather than
// queue them. Stop() cancels the stream and joins the thread; the callback is not called
// after Stop() returns.
#ifndef CRUCIBLE_ACTORS_WEIGHT_SUBSCRIBER_H_
#define CRUCIBLE_ACTORS_WEIGHT_SUBSCRIBER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/weight_stream.h"
#include "crucible/v1/weights.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace crucible {

struct WeightSubscriberOptions {
  std::string endpoint;  // the learner's WeightService, "host:port"
  std::string actor_id;
  std::string have_run_id;  // the version held at start ("" and -1 for none)
  int64_t have_version = -1;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  int64_t max_version_bytes = int64_t{16} << 30;  // larger manifests are refused
  // Offer the learner this host's /dev/shm (SubscribeRequest.shared_memory_token): a
  // learner on the same host then sends versions as files there. After three versions
  // whose file could not be read, the subscriber asks for chunks only.
  bool shared_memory = true;
};

class WeightSubscriber {
 public:
  using Callback = std::function<void(std::shared_ptr<const WeightsVersion>)>;

  // Fails on an empty endpoint, a missing callback or a non-positive backoff.
  static absl::StatusOr<std::unique_ptr<WeightSubscriber>> Create(WeightSubscriberOptions options,
                                                                  Callback on_version);
  ~WeightSubscriber();  // Stop()
  WeightSubscriber(const WeightSubscriber&) = delete;
  WeightSubscriber& operator=(const WeightSubscriber&) = delete;

  // Starts the thread. FAILED_PRECONDITION when already started or stopped.
  absl::Status Start();
  // Cancels the stream, ends any backoff wait and joins the thread. Idempotent.
  void Stop();

  struct Stats {
    int64_t versions_received = 0;  // delivered to the callback
    int64_t checksum_failures = 0;  // versions refused for a CRC-32C mismatch
    int64_t refused = 0;            // other messages refused (layout, sequence)
    int64_t reconnects = 0;         // streams opened after the first
    int64_t bytes_received = 0;     // chunk payload bytes read
    int64_t versions_shared = 0;    // of versions_received, read from a file in /dev/shm
    int64_t shared_failures = 0;    // shared files that could not be read
    bool connected = false;         // a stream is open (it may not have been answered yet)
    std::string have_run_id;        // the version held now
    int64_t have_version = -1;
  };
  Stats stats() const;

 private:
  WeightSubscriber(WeightSubscriberOptions options, Callback on_version);

  void Run();
  // One stream, from opening to its end, which it describes in `ended`; true when it
  // delivered at least one version.
  bool Serve(absl::Status* ended);
  // Sleeps for `d` unless Stop() comes first; false when stopped.
  bool SleepUnlessStopped(absl::Duration d);

  const WeightSubscriberOptions options_;
  const Callback on_version_;
  const std::string shared_memory_token_;  // empty when not offered
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WeightService::Stub> stub_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // the open stream's
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_WEIGHT_SUBSCRIBER_H_
