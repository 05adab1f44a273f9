#include "actors/weight_subscriber.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"

namespace crucible {
namespace {

// Chunks are at most 64 MiB (WeightPublisher's limit); manifests are far smaller.
constexpr int kMaxMessageBytes = 128 << 20;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<WeightSubscriber>> WeightSubscriber::Create(
    WeightSubscriberOptions options, Callback on_version) {
  if (options.endpoint.empty()) return absl::InvalidArgumentError("endpoint: empty");
  if (!on_version) return absl::InvalidArgumentError("on_version: no callback");
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(
        "initial_backoff must be positive and max_backoff at least initial_backoff");
  }
  if (options.have_run_id.empty()) options.have_version = -1;
  return std::unique_ptr<WeightSubscriber>(
      new WeightSubscriber(std::move(options), std::move(on_version)));
}

WeightSubscriber::WeightSubscriber(WeightSubscriberOptions options, Callback on_version)
    : options_(std::move(options)),
      on_version_(std::move(on_version)),
      shared_memory_token_(options_.shared_memory ? SharedMemoryToken() : "") {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // The stream idles between versions; keepalive notices a learner that vanished without
  // closing its connection.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  // The channel's own reconnection follows the subscriber's backoff, so a restarted
  // learner is found as soon as the subscriber tries again.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.initial_backoff)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.max_backoff)));
  channel_ = grpc::CreateCustomChannel(options_.endpoint, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::WeightService::NewStub(channel_);
  stats_.have_run_id = options_.have_run_id;
  stats_.have_version = options_.have_version;
}

WeightSubscriber::~WeightSubscriber() { Stop(); }

absl::Status WeightSubscriber::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) {
    return absl::FailedPreconditionError("WeightSubscriber: Start after Start or Stop");
  }
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void WeightSubscriber::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

WeightSubscriber::Stats WeightSubscriber::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool WeightSubscriber::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

void WeightSubscriber::Run() {
  absl::Duration backoff = options_.initial_backoff;
  bool first = true;
  bool quiet = false;  // one warning per run of failed attempts, not one per attempt
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      if (!first) ++stats_.reconnects;
    }
    first = false;
    absl::Status ended;
    const absl::Time opened = absl::Now();
    const bool delivered = Serve(&ended);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    // A stream that delivered, or stayed open longer than the longest backoff, was healthy:
    // the next failure starts the backoff afresh.
    if (delivered || absl::Now() - opened >= options_.max_backoff) {
      backoff = options_.initial_backoff;
      quiet = false;
    }
    if (!quiet) {
      CRUCIBLE_LOG(Warning) << "weight subscriber " << options_.actor_id << ": stream to "
                            << options_.endpoint << " ended (" << ended << "); reconnecting";
      quiet = true;
    }
    if (!SleepUnlessStopped(backoff)) return;
    backoff = std::min(2 * backoff, options_.max_backoff);
  }
}

bool WeightSubscriber::Serve(absl::Status* ended) {
  grpc::ClientContext context;
  v1::SubscribeRequest request;
  request.set_actor_id(options_.actor_id);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    context_ = &context;
    stats_.connected = true;
    request.set_have_run_id(stats_.have_run_id);
    request.set_have_version(stats_.have_version);
    if (stats_.shared_failures < 3) request.set_shared_memory_token(shared_memory_token_);
  }
  std::unique_ptr<grpc::ClientReader<v1::WeightsUpdate>> reader =
      stub_->Subscribe(&context, request);
  WeightsAssembler assembler(options_.max_version_bytes);
  v1::WeightsUpdate update;
  bool delivered = false;
  absl::Status refusal;
  bool shared = false;  // the version in progress comes as a file
  while (reader->Read(&update)) {
    if (update.has_manifest()) shared = !update.manifest().shared_file().empty();
    absl::StatusOr<std::shared_ptr<const WeightsVersion>> fed = assembler.Feed(update);
    std::shared_ptr<const WeightsVersion> version;
    {
      absl::MutexLock lock(&mu_);
      if (update.has_chunk()) stats_.bytes_received += update.chunk().data().size();
      if (!fed.ok()) {
        // A shared file that is gone or unreadable is not the stream's fault: the next
        // stream gets the newest version again, from a file while that keeps working.
        if (shared && update.has_commit() &&
            (absl::IsUnavailable(fed.status()) || absl::IsDataLoss(fed.status()))) {
          ++stats_.shared_failures;
        }
        ++(absl::IsDataLoss(fed.status()) ? stats_.checksum_failures : stats_.refused);
        refusal = fed.status();
        break;
      }
      if (*fed != nullptr && shared) ++stats_.versions_shared;
      if (stopping_) break;
      if (*fed == nullptr) continue;
      version = *std::move(fed);
      ++stats_.versions_received;
      stats_.have_run_id = version->run_id;
      stats_.have_version = version->version;
    }
    on_version_(std::move(version));
    delivered = true;
  }
  if (!refusal.ok()) {
    // Reconnecting makes the learner send its newest version again, whole.
    CRUCIBLE_LOG(Warning) << "weight subscriber " << options_.actor_id
                          << ": refused an update from " << options_.endpoint << ": " << refusal;
    context.TryCancel();
  }
  grpc::Status status = reader->Finish();
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    stats_.connected = false;
  }
  *ended = refusal.ok() ? FromGrpc(status) : refusal;
  return delivered;
}

}  // namespace crucible
