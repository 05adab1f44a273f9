#include "actors/trajectory_sender.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace crucible {
namespace {

// The learner refused the stream for a reason a retry cannot fix.
bool IsRefusal(grpc::StatusCode code) {
  return code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::FAILED_PRECONDITION ||
         code == grpc::StatusCode::PERMISSION_DENIED || code == grpc::StatusCode::UNAUTHENTICATED ||
         code == grpc::StatusCode::UNIMPLEMENTED;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& endpoint) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("learner ", endpoint, ": ", status.error_message()));
}

int ToMillis(absl::Duration d) {
  return static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrajectorySender>> TrajectorySender::Create(
    TrajectorySenderOptions options, Outbox* outbox) {
  if (outbox == nullptr) return absl::InvalidArgumentError("outbox: null");
  if (options.endpoint.empty()) return absl::InvalidArgumentError("endpoint: empty");
  if (options.run_id.empty() || options.actor_id.empty()) {
    return absl::InvalidArgumentError("run_id and actor_id must be set");
  }
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError("backoff: need 0 < initial_backoff <= max_backoff");
  }
  options.send_chunk = std::max<size_t>(1, options.send_chunk);
  std::unique_ptr<TrajectorySender> sender(new TrajectorySender(std::move(options), outbox));
  sender->thread_ = std::thread([s = sender.get()] { s->Run(); });
  return sender;
}

TrajectorySender::TrajectorySender(TrajectorySenderOptions options, Outbox* outbox)
    : options_(std::move(options)), outbox_(outbox) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // The channel's own reconnection follows the same schedule as ours between streams.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, ToMillis(options_.initial_backoff));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, ToMillis(options_.initial_backoff));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ToMillis(options_.max_backoff));
  channel_ = grpc::CreateCustomChannel(options_.endpoint, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::TrajectoryService::NewStub(channel_);
}

TrajectorySender::~TrajectorySender() { Stop(); }

void TrajectorySender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (context_ != nullptr) context_->TryCancel();
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::string> TrajectorySender::Enqueue(v1::Trajectory trajectory) {
  if (trajectory.run_id().empty()) trajectory.set_run_id(options_.run_id);
  if (trajectory.actor_id().empty()) trajectory.set_actor_id(options_.actor_id);
  absl::StatusOr<std::string> id = outbox_->Append(std::move(trajectory));
  if (!id.ok()) return id.status();
  Notify();
  return *std::move(id);
}

void TrajectorySender::Notify() {
  // Under the lock, so the send loop cannot miss it between its check and its wait.
  absl::MutexLock lock(&mu_);
  cv_.SignalAll();
}

void TrajectorySender::Run() {
  absl::Duration backoff = options_.initial_backoff;
  bool warned = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_ || finished_) return;
    }
    bool answered = false;
    grpc::Status status = Serve(&answered);
    {
      absl::MutexLock lock(&mu_);
      if (stop_ || finished_) return;
      if (IsRefusal(status.error_code())) {
        fatal_ = FromGrpc(status, options_.endpoint);
        CRUCIBLE_LOG(Error) << "trajectory sender " << options_.actor_id << ": " << fatal_;
        cv_.SignalAll();
        return;
      }
    }
    if (answered) {
      backoff = options_.initial_backoff;
      warned = false;
    }
    if (!warned) {
      CRUCIBLE_LOG(Warning) << "trajectory stream to " << options_.endpoint << " ended ("
                            << status.error_code() << ": " << status.error_message()
                            << "); reconnecting, resending what is not committed";
      warned = true;
    }
    SleepUnlessStopped(backoff);
    backoff = std::min(2 * backoff, options_.max_backoff);
  }
}

void TrajectorySender::SleepUnlessStopped(absl::Duration d) {
  const absl::Time until = absl::Now() + d;
  absl::MutexLock lock(&mu_);
  while (!stop_ && absl::Now() < until) cv_.WaitWithDeadline(&mu_, until);
}

grpc::Status TrajectorySender::Serve(bool* answered) {
  grpc::ClientContext context;
  // Waits for the learner to be reachable instead of failing at once; Stop() cancels.
  context.set_wait_for_ready(true);
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return grpc::Status(grpc::StatusCode::CANCELLED, "stopped");
    context_ = &context;
    received_.clear();
    cursor_ = -1;
    answered_ = false;
    broken_ = false;
    final_sent_ = false;
    if (streams_++ > 0) ++stats_.reconnects;
  }
  std::unique_ptr<ClientStream> stream = stub_->Stream(&context);
  v1::TrajectoryUpload hello;
  hello.mutable_hello()->set_actor_id(options_.actor_id);
  hello.mutable_hello()->set_run_id(options_.run_id);
  const bool hello_sent = stream->Write(hello);
  std::thread reader([&] { ReadAcks(stream.get()); });
  // After Final and the half-close the learner ends the stream itself; otherwise the
  // stream is over for us, and cancelling it ends the reader.
  if (!hello_sent || !SendLoop(stream.get())) context.TryCancel();
  reader.join();
  grpc::Status status = stream->Finish();
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  *answered = answered_;
  if (final_sent_ && status.ok()) finished_ = true;
  cv_.SignalAll();
  return status;
}

bool TrajectorySender::AllReceivedLocked() const {
  // received_ holds only pending ids, so equal sizes mean every pending entry is in.
  return received_.size() == outbox_->pending_count();
}

bool TrajectorySender::SendLoop(ClientStream* stream) {
  while (true) {
    std::vector<OutboxEntry> entries;
    bool send_final = false;
    int64_t produced = 0;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (stop_ || broken_) return false;
        if (outbox_->last_ordinal() > cursor_) {
          entries = outbox_->PendingAfter(cursor_, options_.send_chunk);
          if (!entries.empty()) break;
          cursor_ = outbox_->last_ordinal();  // all committed meanwhile
          continue;
        }
        if (final_requested_ && AllReceivedLocked()) {
          send_final = true;
          produced = final_produced_;
          break;
        }
        cv_.Wait(&mu_);
      }
    }
    if (send_final) {
      v1::TrajectoryUpload upload;
      upload.mutable_final()->set_produced(produced);
      if (!stream->Write(upload) || !stream->WritesDone()) return false;
      absl::MutexLock lock(&mu_);
      final_sent_ = true;
      return true;
    }
    for (const OutboxEntry& entry : entries) {
      const std::string& id = entry.trajectory->trajectory_id();
      bool resend = false;
      {
        absl::MutexLock lock(&mu_);
        cursor_ = entry.ordinal;
        if (received_.count(id) != 0) continue;
        resend = !sent_before_.insert(id).second;
      }
      v1::TrajectoryUpload upload;
      *upload.mutable_trajectory() = *entry.trajectory;
      // Blocks while the learner's queue is full: its flow control is our backpressure.
      if (!stream->Write(upload)) return false;
      absl::MutexLock lock(&mu_);
      ++stats_.sent;
      if (resend) ++stats_.resent;
    }
  }
}

void TrajectorySender::ReadAcks(ClientStream* stream) {
  v1::TrajectoryAck ack;
  while (stream->Read(&ack)) {
    bool fire_stop = false;
    HandleAck(ack, &fire_stop);
    if (fire_stop && options_.on_stop) options_.on_stop();
  }
  absl::MutexLock lock(&mu_);
  broken_ = true;
  cv_.SignalAll();
}

void TrajectorySender::HandleAck(const v1::TrajectoryAck& ack, bool* fire_stop) {
  absl::MutexLock lock(&mu_);
  answered_ = true;
  learner_version_ = ack.learner_version();
  for (const std::string& id : ack.received()) {
    if (outbox_->IsPending(id) && received_.insert(id).second) ++stats_.received_acks;
  }
  if (ack.committed_size() > 0) {
    std::vector<std::string> ids;
    for (const std::string& id : ack.committed()) {
      if (outbox_->IsPending(id)) ids.push_back(id);
    }
    // Under mu_, so received_ and the outbox change together for AllReceivedLocked().
    absl::Status committed = outbox_->Commit(ids);
    if (committed.ok()) {
      stats_.committed += static_cast<int64_t>(ids.size());
      for (const std::string& id : ids) {
        received_.erase(id);
        sent_before_.erase(id);
      }
    } else {
      // Not fatal: the entries stay pending and the learner acks them again on resend.
      CRUCIBLE_LOG(Error) << "trajectory sender " << options_.actor_id
                          << ": outbox commit failed: " << committed;
      if (commit_error_.ok()) commit_error_ = committed;
    }
  }
  if (ack.stop() && !stop_requested_) {
    stop_requested_ = true;
    *fire_stop = true;
  }
  cv_.SignalAll();
}

absl::Status TrajectorySender::Finish(int64_t produced, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  final_requested_ = true;
  final_produced_ = produced;
  cv_.SignalAll();
  while (!finished_) {
    if (!fatal_.ok()) return fatal_;
    if (stop_) return absl::CancelledError("the trajectory sender was stopped");
    if (cv_.WaitWithDeadline(&mu_, deadline) && !finished_) {
      const int64_t backlog =
          static_cast<int64_t>(outbox_->pending_count()) - static_cast<int64_t>(received_.size());
      return absl::DeadlineExceededError(absl::StrCat(
          "Final not delivered to ", options_.endpoint, " within ", absl::FormatDuration(timeout),
          ": ", backlog, " trajectories not yet received by the learner"));
    }
  }
  return absl::OkStatus();
}

bool TrajectorySender::stop_requested() const {
  absl::MutexLock lock(&mu_);
  return stop_requested_;
}

int64_t TrajectorySender::learner_version() const {
  absl::MutexLock lock(&mu_);
  return learner_version_;
}

int64_t TrajectorySender::backlog() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(outbox_->pending_count()) - static_cast<int64_t>(received_.size());
}

bool TrajectorySender::connected() const {
  absl::MutexLock lock(&mu_);
  return context_ != nullptr && answered_ && !broken_;
}

absl::Status TrajectorySender::status() const {
  absl::MutexLock lock(&mu_);
  return fatal_.ok() ? commit_error_ : fatal_;
}

TrajectorySender::Stats TrajectorySender::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace crucible
