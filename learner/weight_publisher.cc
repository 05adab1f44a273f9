#include "learner/weight_publisher.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/logging.h"

namespace crucible {
namespace {

constexpr int64_t kMaxChunkBytes = int64_t{64} << 20;

// A version's file stays while it is one of the last 3 published, or (up to the last 8)
// published less than 5 s ago: a subscriber reads it after the commit, possibly late.
constexpr size_t kSharedVersionsKept = 3;
constexpr size_t kSharedVersionsMax = 8;
constexpr absl::Duration kSharedVersionsGrace = absl::Seconds(5);
std::atomic<int64_t> next_instance{1};  // tells apart the publishers of one process

bool IsNewer(const WeightsVersion& candidate, const std::string& run_id, int64_t version) {
  return candidate.run_id != run_id || candidate.version > version;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WeightPublisher>> WeightPublisher::Create(
    WeightPublisherOptions options) {
  if (options.chunk_bytes <= 0 || options.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("chunk_bytes %d: expected 1 to %d", options.chunk_bytes, kMaxChunkBytes));
  }
  if (options.cancel_poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("cancel_poll_interval: must be positive");
  }
  return std::unique_ptr<WeightPublisher>(new WeightPublisher(std::move(options)));
}

WeightPublisher::WeightPublisher(WeightPublisherOptions options)
    : options_(std::move(options)),
      shared_memory_token_(options_.shared_memory ? SharedMemoryToken() : ""),
      instance_(next_instance.fetch_add(1)) {
  if (!shared_memory_token_.empty()) {
    // Files of publishers that died without removing them.
    const std::string prefix = kSharedWeightsPrefix;
    const size_t slash = prefix.rfind('/');
    RemoveEntriesOfDeadProcesses(prefix.substr(0, slash), prefix.substr(slash + 1), '-');
  }
}

WeightPublisher::SharedSlot::~SharedSlot() {
  if (file.ok()) ::unlink(path.c_str());
}

WeightPublisher::~WeightPublisher() {
  Shutdown();
  // A Subscribe still running would touch this object; after Shutdown every one returns
  // once it is not blocked writing (which the server's own shutdown ends).
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](Stats* stats) { return stats->subscribers_connected == 0; }, &stats_));
  recent_shared_.clear();
  latest_.shared.reset();
}

std::string WeightPublisher::NextSharedPath() {
  return absl::StrCat(kSharedWeightsPrefix, ::getpid(), "-", instance_, "-", next_file_.fetch_add(1));
}

absl::Status WeightPublisher::Publish(std::shared_ptr<const WeightsVersion> version) {
  return PublishWithFile(std::move(version), nullptr, /*lazy_file=*/true);
}

absl::Status WeightPublisher::PublishFloat32(std::string run_id, int64_t version,
                                             int64_t learner_step, v1::PeftConfig peft,
                                             const std::vector<std::string>& names,
                                             const std::vector<std::vector<int64_t>>& shapes,
                                             const float* data, v1::DType wire_dtype) {
  // Built in a file only once a subscriber on this host has appeared, and never again
  // after a file could not be made (a full /dev/shm stays full, and trying fills it).
  if (!shared_memory_token_.empty() && same_host_seen_.load() && !build_failed_.load()) {
    auto slot = std::make_shared<SharedSlot>();
    slot->path = NextSharedPath();
    absl::StatusOr<WeightsVersion> built = MakeSharedVersion(slot->path, run_id, version, learner_step, peft,
                                                             names, shapes, data, wire_dtype);
    if (built.ok()) {
      slot->file = SharedWeightsFile{slot->path, *built->crc32c};
      return PublishWithFile(std::make_shared<const WeightsVersion>(*std::move(built)), std::move(slot),
                             /*lazy_file=*/false);
    }
    if (absl::IsInvalidArgument(built.status())) return built.status();
    build_failed_ = true;
    CRUCIBLE_LOG(Warning) << "weight publisher: versions are built in memory and go as chunks from now on: "
                          << built.status();
  }
  absl::StatusOr<WeightsVersion> built =
      MakeVersion(std::move(run_id), version, learner_step, std::move(peft), names, shapes, data, wire_dtype);
  if (!built.ok()) return built.status();
  return PublishWithFile(std::make_shared<const WeightsVersion>(*std::move(built)), nullptr,
                         /*lazy_file=*/!build_failed_.load());
}

absl::Status WeightPublisher::PublishWithFile(std::shared_ptr<const WeightsVersion> version,
                                              std::shared_ptr<SharedSlot> shared, bool lazy_file) {
  if (version == nullptr) return absl::InvalidArgumentError("Publish: null version");
  // Checked here, once, so that no subscriber can fail to encode it later.
  if (version->run_id.empty() || version->version < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Publish: version %d of run \"%s\": needs a run id and a version >= 0",
                        version->version, version->run_id));
  }
  absl::Status layout =
      ValidateLayout(version->tensors, static_cast<int64_t>(version->data().size()));
  if (!layout.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Publish: version %d: %s", version->version, layout.message()));
  }
  absl::MutexLock lock(&mu_);
  if (shutdown_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("Publish of version %d after Shutdown", version->version));
  }
  const WeightsVersion* current = latest_.version.get();
  if (current != nullptr && !IsNewer(*version, current->run_id, current->version)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Publish: version %d of run \"%s\" does not follow the latest, version %d",
                        version->version, version->run_id, current->version));
  }
  latest_.version = std::move(version);
  latest_.sequence += 1;
  latest_.published_at = absl::Now();
  latest_.shared.reset();
  if (!shared_memory_token_.empty() && (shared != nullptr || lazy_file)) {
    if (shared == nullptr) {
      shared = std::make_shared<SharedSlot>();
      shared->path = NextSharedPath();
    }
    latest_.shared = std::move(shared);
    latest_.shared->published_at = latest_.published_at;
    recent_shared_.push_back(latest_.shared);
    while (recent_shared_.size() > kSharedVersionsMax ||
           (recent_shared_.size() > kSharedVersionsKept &&
            latest_.published_at - recent_shared_.front()->published_at > kSharedVersionsGrace)) {
      recent_shared_.pop_front();
    }
  }
  ++stats_.versions_published;
  // Waiters re-evaluate their conditions when mu_ is released.
  return absl::OkStatus();
}

void WeightPublisher::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

bool WeightPublisher::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shutdown_;
}

std::shared_ptr<const WeightsVersion> WeightPublisher::latest() const {
  absl::MutexLock lock(&mu_);
  return latest_.version;
}

int64_t WeightPublisher::max_reported_version() const {
  std::string run_id;
  {
    absl::MutexLock lock(&mu_);
    run_id = latest_.version != nullptr ? latest_.version->run_id : options_.run_id;
  }
  return max_reported_version(run_id);
}

int64_t WeightPublisher::max_reported_version(absl::string_view run_id) const {
  absl::MutexLock lock(&mu_);
  auto it = max_reported_.find(run_id);
  return it == max_reported_.end() ? -1 : it->second;
}

WeightPublisher::Stats WeightPublisher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool WeightPublisher::AwaitNewer(grpc::ServerContext* context, const std::string& run_id,
                                 int64_t version, Published* out) {
  absl::MutexLock lock(&mu_);
  const auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shutdown_ || (latest_.version != nullptr && IsNewer(*latest_.version, run_id, version));
  };
  while (true) {
    if (shutdown_) return false;
    if (ready()) {
      *out = latest_;
      return true;
    }
    // Cancellation does not signal mu_, so the wait is bounded and the flag polled.
    if (context->IsCancelled()) return false;
    mu_.AwaitWithTimeout(absl::Condition(&ready), options_.cancel_poll_interval);
  }
}

bool WeightPublisher::Send(grpc::ServerContext* context,
                           grpc::ServerWriter<v1::WeightsUpdate>* writer,
                           const WeightsVersion& version, SharedSlot* shared) {
  const SharedWeightsFile* file = nullptr;
  if (shared != nullptr) {
    absl::call_once(shared->once, [&] {
      if (shared->file.ok()) return;  // built with the version
      shared->file = WriteSharedWeightsFile(version, shared->path);
      if (!shared->file.ok()) {
        CRUCIBLE_LOG(Warning) << "weight publisher: version " << version.version
                              << " goes as chunks: " << shared->file.status();
      }
    });
    if (shared->file.ok()) file = &*shared->file;
  }
  absl::Status status =
      EncodeVersion(version, options_.chunk_bytes, [&](const v1::WeightsUpdate& update) {
        if (context->IsCancelled() || shutting_down()) return false;
        if (!writer->Write(update)) return false;
        if (update.has_chunk()) {
          absl::MutexLock lock(&mu_);
          stats_.bytes_sent += static_cast<int64_t>(update.chunk().data().size());
        }
        return true;
      }, file);
  if (status.ok() && file != nullptr) {
    absl::MutexLock lock(&mu_);
    ++stats_.versions_shared;
  }
  if (!status.ok() && !absl::IsCancelled(status)) {
    // A version that cannot be encoded was built wrong by the learner; every subscriber
    // would fail the same way, so say so loudly instead of only ending the stream.
    CRUCIBLE_LOG(Error) << "weight publisher: " << status;
  }
  return status.ok();
}

grpc::Status WeightPublisher::Subscribe(grpc::ServerContext* context,
                                        const v1::SubscribeRequest* request,
                                        grpc::ServerWriter<v1::WeightsUpdate>* writer) {
  const std::string actor_id = request->actor_id().empty() ? context->peer() : request->actor_id();
  const bool same_host = !shared_memory_token_.empty() &&
                         request->shared_memory_token() == shared_memory_token_;
  if (same_host) same_host_seen_ = true;
  std::string held_run_id = request->have_run_id();
  int64_t held_version = held_run_id.empty() ? -1 : request->have_version();
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the weight publisher is shutting down");
    }
    ++stats_.subscribers_connected;
    if (!held_run_id.empty() && held_version >= 0) {
      auto [it, inserted] = max_reported_.try_emplace(held_run_id, held_version);
      if (!inserted) it->second = std::max(it->second, held_version);
    }
  }

  int64_t last_sequence = 0;
  while (true) {
    Published next;
    if (!AwaitNewer(context, held_run_id, held_version, &next)) break;
    if (!Send(context, writer, *next.version, same_host ? next.shared.get() : nullptr)) break;
    const double seconds = absl::ToDoubleSeconds(absl::Now() - next.published_at);
    {
      absl::MutexLock lock(&mu_);
      ++stats_.versions_sent;
      if (last_sequence > 0) stats_.versions_skipped += next.sequence - last_sequence - 1;
    }
    if (options_.on_sent) options_.on_sent(actor_id, next.version->version, seconds);
    held_run_id = next.version->run_id;
    held_version = next.version->version;
    last_sequence = next.sequence;
  }

  absl::MutexLock lock(&mu_);
  --stats_.subscribers_connected;
  if (shutdown_) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the weight publisher is shutting down");
  }
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream to the subscriber broke");
}

}  // namespace crucible
