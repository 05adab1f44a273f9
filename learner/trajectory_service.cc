#include "learner/trajectory_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

constexpr char kStateFormat[] = "crucible.trajectory_state.v1";
// How often a waiting stream or Admit call looks at its call's cancellation.
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// "<run_id>/<actor_id>/<sequence>" -> ("<run_id>/<actor_id>", sequence). The sequence must
// be written canonically (no sign, no leading zeros) so one number has one id.
bool SplitTrajectoryId(const std::string& id, std::string* key, int64_t* sequence) {
  const size_t slash = id.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= id.size()) return false;
  const absl::string_view digits = absl::string_view(id).substr(slash + 1);
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  if (digits.size() > 1 && digits[0] == '0') return false;
  if (!absl::SimpleAtoi(digits, sequence)) return false;
  *key = id.substr(0, slash);
  return true;
}

absl::StatusOr<int64_t> GetCount(const nlohmann::json& object, const char* field,
                                 const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("trajectory state: ", where, ".", field, ": expected a count >= 0"));
  }
  return it->get<int64_t>();
}

prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

// Trajectory ids as a watermark per "<run_id>/<actor_id>" (every sequence below it is in
// the set) plus the sparse sequences above it: ids arrive nearly in order, so this stays
// small however long the run.
class TrajectoryServiceImpl::Ledger {
 public:
  bool Contains(const std::string& key, int64_t sequence) const {
    auto it = actors_.find(key);
    if (it == actors_.end()) return false;
    return sequence < it->second.watermark || it->second.above.count(sequence) != 0;
  }

  void Add(const std::string& key, int64_t sequence) {
    Actor& actor = actors_[key];
    if (sequence < actor.watermark) return;
    actor.above.insert(sequence);
    while (!actor.above.empty() && *actor.above.begin() == actor.watermark) {
      actor.above.erase(actor.above.begin());
      ++actor.watermark;
    }
  }

  int64_t size() const {
    int64_t n = 0;
    for (const auto& [key, actor] : actors_) {
      n += actor.watermark + static_cast<int64_t>(actor.above.size());
    }
    return n;
  }

  nlohmann::json ToJson() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, actor] : actors_) {
      out[key] = {{"watermark", actor.watermark},
                  {"above", std::vector<int64_t>(actor.above.begin(), actor.above.end())}};
    }
    return out;
  }

  static absl::Status FromJson(const nlohmann::json& j, Ledger* out) {
    if (!j.is_object()) {
      return absl::InvalidArgumentError("trajectory state: committed: expected an object");
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string where = absl::StrCat("committed[\"", it.key(), "\"]");
      if (!it.value().is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trajectory state: ", where, ": expected an object"));
      }
      absl::StatusOr<int64_t> watermark = GetCount(it.value(), "watermark", where);
      if (!watermark.ok()) return watermark.status();
      Actor& actor = out->actors_[it.key()];
      actor.watermark = *watermark;
      auto above = it.value().find("above");
      if (above == it.value().end() || !above->is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trajectory state: ", where, ".above: expected an array"));
      }
      for (const nlohmann::json& s : *above) {
        if (!s.is_number_integer() || s.get<int64_t>() < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("trajectory state: ", where, ".above: expected sequence numbers >= 0"));
        }
        out->Add(it.key(), s.get<int64_t>());
      }
    }
    return absl::OkStatus();
  }

 private:
  struct Actor {
    int64_t watermark = 0;
    std::set<int64_t> above;
  };
  std::map<std::string, Actor> actors_;
};

// One open Stream call. Its writes come from the handler thread (received acks) and from
// MarkCommitted / RequestStop (other threads); write_mu_ serialises them, and the handler
// closes writes before it returns, after which the stream object is gone.
struct TrajectoryServiceImpl::StreamState {
  StreamState(grpc::ServerContext* context,
              grpc::ServerReaderWriter<v1::TrajectoryAck, v1::TrajectoryUpload>* stream)
      : context(context), stream(stream) {}

  bool sent_final = false;  // under the service's mu_

  bool Write(const v1::TrajectoryAck& ack) {
    absl::MutexLock lock(&write_mu);
    if (!writable) return false;
    if (!stream->Write(ack)) writable = false;
    return writable;
  }

  void CloseWrites() {
    absl::MutexLock lock(&write_mu);
    writable = false;
  }

  grpc::ServerContext* const context;
  grpc::ServerReaderWriter<v1::TrajectoryAck, v1::TrajectoryUpload>* const stream;
  std::string key;  // "<run_id>/<actor_id>", set from the hello by the handler thread
  absl::Mutex write_mu;
  bool writable ABSL_GUARDED_BY(write_mu) = true;
};

struct TrajectoryServiceImpl::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : books(prometheus::BuildGauge()
                  .Name("crucible_learner_trajectories")
                  .Help("The trajectory books: produced, trained, dropped, queued, duplicates")
                  .Register(registry)),
        produced(books.Add({{"entry", "produced"}})),
        trained(books.Add({{"entry", "trained"}})),
        dropped_stale(books.Add({{"entry", "dropped_stale"}})),
        dropped_incomplete(books.Add({{"entry", "dropped_incomplete"}})),
        queued(books.Add({{"entry", "queued"}})),
        duplicates_dropped(books.Add({{"entry", "duplicates_dropped"}})),
        received(books.Add({{"entry", "received"}})),
        queue_depth(AddGauge(registry, "crucible_learner_trajectory_queue_depth",
                             "Trajectories waiting to enter a batch")),
        in_training(AddGauge(registry, "crucible_learner_trajectory_in_training",
                             "Trajectories in batches not yet completed")),
        streams_open(AddGauge(registry, "crucible_learner_trajectory_streams_open",
                              "Open trajectory streams")),
        admission_waiting(AddGauge(registry, "crucible_learner_admission_waiting",
                                   "Admit calls held for capacity")),
        admissions_refused(AddGauge(registry, "crucible_learner_admissions_refused",
                                    "Admit calls refused since the learner started")) {}

  prometheus::Family<prometheus::Gauge>& books;
  prometheus::Gauge& produced;
  prometheus::Gauge& trained;
  prometheus::Gauge& dropped_stale;
  prometheus::Gauge& dropped_incomplete;
  prometheus::Gauge& queued;
  prometheus::Gauge& duplicates_dropped;
  prometheus::Gauge& received;
  prometheus::Gauge& queue_depth;
  prometheus::Gauge& in_training;
  prometheus::Gauge& streams_open;
  prometheus::Gauge& admission_waiting;
  prometheus::Gauge& admissions_refused;
};

// ------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TrajectoryServiceImpl>> TrajectoryServiceImpl::Create(
    TrajectoryServiceOptions options, std::shared_ptr<prometheus::Registry> metrics) {
  if (options.batch_size < 1) return absl::InvalidArgumentError("batch_size: must be >= 1");
  if (options.queue_capacity < options.batch_size) {
    return absl::InvalidArgumentError(absl::StrCat("queue_capacity: ", options.queue_capacity,
                                                   " cannot hold one batch of batch_size ",
                                                   options.batch_size));
  }
  if (options.max_staleness_steps < 0) {
    return absl::InvalidArgumentError("max_staleness_steps: must be >= 0");
  }
  if (options.incomplete_group_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("incomplete_group_timeout: must be positive");
  }
  if (options.max_admit_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_admit_wait: must be >= 0");
  }
  return std::unique_ptr<TrajectoryServiceImpl>(
      new TrajectoryServiceImpl(std::move(options), std::move(metrics)));
}

TrajectoryServiceImpl::TrajectoryServiceImpl(TrajectoryServiceOptions options,
                                             std::shared_ptr<prometheus::Registry> metrics)
    : options_(std::move(options)),
      metrics_(metrics != nullptr ? std::make_unique<Metrics>(*metrics) : nullptr),
      seen_(std::make_unique<Ledger>()),
      committed_(std::make_unique<Ledger>()) {
  absl::MutexLock lock(&mu_);
  UpdateMetricsLocked();
}

TrajectoryServiceImpl::~TrajectoryServiceImpl() { Close(); }

void TrajectoryServiceImpl::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  // The handlers leave streams_ only under mu_, so every context here is still alive.
  for (const std::shared_ptr<StreamState>& s : streams_) s->context->TryCancel();
  cv_.SignalAll();
}

// ------------------------------------------------------------------------------------
// The stream.

grpc::Status TrajectoryServiceImpl::Stream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::TrajectoryAck, v1::TrajectoryUpload>* stream) {
  auto state = std::make_shared<StreamState>(context, stream);
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the learner is closing");
    streams_.insert(state);
    UpdateMetricsLocked();
  }
  grpc::Status status = ServeStream(state);
  state->CloseWrites();
  absl::MutexLock lock(&mu_);
  if (state->sent_final) {
    --open_final_streams_;
    cv_.SignalAll();
  }
  streams_.erase(state);
  auto it = actor_streams_.find(state->key);
  if (it != actor_streams_.end() && it->second == state) actor_streams_.erase(it);
  UpdateMetricsLocked();
  return status;
}

grpc::Status TrajectoryServiceImpl::ServeStream(const std::shared_ptr<StreamState>& state) {
  v1::TrajectoryUpload upload;
  if (!state->stream->Read(&upload)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the stream ended before its hello");
  }
  if (!upload.has_hello()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first upload must be a hello");
  }
  const v1::TrajectoryUpload::Hello& hello = upload.hello();
  if (hello.actor_id().empty() || hello.run_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "hello: actor_id and run_id must be set");
  }
  if (!options_.run_id.empty() && hello.run_id() != options_.run_id) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("hello.run_id: \"", hello.run_id(),
                                     "\", but this learner serves run \"", options_.run_id, "\""));
  }
  state->key = absl::StrCat(hello.run_id(), "/", hello.actor_id());
  v1::TrajectoryAck first;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the learner is closing");
    // A reconnecting actor's new stream takes over its committed acks.
    actor_streams_[state->key] = state;
    // Its earlier Final (from a stream before this one, or restored from the checkpoint of
    // an earlier incarnation of the run, as after a Slurm requeue) is withdrawn: the actor
    // is producing again and its new Final carries the count.
    finals_.erase(state->key);
    first.set_learner_version(version_);
    first.set_stop(stop_);
  }
  if (!state->Write(first)) return grpc::Status(grpc::StatusCode::CANCELLED, "the actor left");

  while (true) {
    if (!state->stream->Read(&upload)) {
      absl::MutexLock lock(&mu_);
      if (closed_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the learner is closing");
      return grpc::Status::OK;
    }
    switch (upload.body_case()) {
      case v1::TrajectoryUpload::kTrajectory: {
        absl::StatusOr<v1::TrajectoryAck> ack =
            Receive(state->context, state->key, std::move(*upload.mutable_trajectory()));
        if (!ack.ok()) return ToGrpc(ack.status());
        if (!state->Write(*ack)) return grpc::Status(grpc::StatusCode::CANCELLED, "the actor left");
        break;
      }
      case v1::TrajectoryUpload::kFinal: {
        if (upload.final().produced() < 0) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "final.produced: negative");
        }
        absl::MutexLock lock(&mu_);
        // A Final repeated after a reconnect replaces the first: counts are not summed.
        finals_[state->key] = upload.final().produced();
        if (!state->sent_final) {
          state->sent_final = true;
          ++open_final_streams_;
        }
        cv_.SignalAll();
        UpdateMetricsLocked();
        break;
      }
      case v1::TrajectoryUpload::kHello:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "hello: sent twice on a stream");
      default:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "an upload with no body");
    }
  }
}

absl::StatusOr<v1::TrajectoryAck> TrajectoryServiceImpl::Receive(grpc::ServerContext* context,
                                                                 const std::string& key,
                                                                 v1::Trajectory trajectory) {
  const std::string id = trajectory.trajectory_id();
  std::string id_key;
  int64_t sequence = 0;
  if (!SplitTrajectoryId(id, &id_key, &sequence) || id_key != key) {
    return absl::InvalidArgumentError(
        absl::StrCat("trajectory_id: \"", id, "\" is not \"", key, "/<sequence>\""));
  }
  v1::TrajectoryAck ack;
  ack.add_received(id);
  absl::MutexLock lock(&mu_);
  while (true) {
    if (closed_) return absl::UnavailableError("the learner is closing");
    if (context->IsCancelled()) return absl::CancelledError("the stream was cancelled");
    // Expiry first: a member arriving after its group's deadline finds the group dropped.
    ExpireGroupsLocked(absl::Now());
    if (seen_->Contains(key, sequence)) {
      ++books_.duplicates_dropped;
      if (committed_->Contains(key, sequence)) ack.add_committed(id);
      break;
    }
    if (waiting_ < options_.queue_capacity || !TakesRoomLocked(trajectory)) {
      seen_->Add(key, sequence);
      ++books_.received;
      EnqueueLocked(std::move(trajectory));
      break;
    }
    // Full: this stream reads no further until a batch (or a drop) makes room.
    cv_.WaitWithTimeout(&mu_, kPollInterval);
  }
  ack.set_learner_version(version_);
  ack.set_stop(stop_);
  UpdateMetricsLocked();
  return ack;
}

bool TrajectoryServiceImpl::TakesRoomLocked(const v1::Trajectory& t) const {
  // A late member of a dropped group is dropped on arrival.
  return !(options_.whole_groups && !t.group_id().empty() && t.group_size() > 1 &&
           dropped_groups_.count(t.group_id()) != 0);
}

void TrajectoryServiceImpl::SendToStreams(
    std::vector<std::pair<std::shared_ptr<StreamState>, v1::TrajectoryAck>> acks) {
  // A failed write is the handler's to notice: its next read or write fails too.
  for (auto& [state, ack] : acks) state->Write(ack);
}

// ------------------------------------------------------------------------------------
// The queue.

void TrajectoryServiceImpl::EnqueueLocked(v1::Trajectory trajectory) {
  if (!options_.whole_groups || trajectory.group_id().empty() || trajectory.group_size() <= 1) {
    ready_.emplace_back();
    ready_.back().push_back(std::move(trajectory));
    ++ready_count_;
    ++waiting_;
    cv_.SignalAll();
    return;
  }
  const std::string group_id = trajectory.group_id();
  if (dropped_groups_.count(group_id) != 0) {
    ++books_.dropped_incomplete;
    disposed_.push_back(trajectory.trajectory_id());
    return;
  }
  Group& group = groups_[group_id];
  if (group.members.empty()) {
    group.size = trajectory.group_size();
    group.first_arrival = absl::Now();
  }
  group.members.push_back(std::move(trajectory));
  ++waiting_;
  if (static_cast<int32_t>(group.members.size()) >= group.size) {
    ready_count_ += static_cast<int64_t>(group.members.size());
    ready_.push_back(std::move(group.members));
    groups_.erase(group_id);
    cv_.SignalAll();
  }
}

void TrajectoryServiceImpl::ExpireGroupsLocked(absl::Time now) {
  bool dropped = false;
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (now - it->second.first_arrival < options_.incomplete_group_timeout) {
      ++it;
      continue;
    }
    const int64_t n = static_cast<int64_t>(it->second.members.size());
    CRUCIBLE_LOG(Warning) << "group " << it->first << ": " << n << " of " << it->second.size
                          << " members after " << options_.incomplete_group_timeout
                          << "; dropped as incomplete";
    for (const v1::Trajectory& t : it->second.members) disposed_.push_back(t.trajectory_id());
    books_.dropped_incomplete += n;
    waiting_ -= n;
    dropped_groups_.insert(it->first);
    it = groups_.erase(it);
    dropped = true;
  }
  if (dropped) cv_.SignalAll();
}

absl::Time TrajectoryServiceImpl::NextGroupDeadlineLocked() const {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [id, group] : groups_) {
    next = std::min(next, group.first_arrival + options_.incomplete_group_timeout);
  }
  return next;
}

void TrajectoryServiceImpl::DropStaleLocked() {
  const int64_t version = version_;
  auto stale = [&](const v1::Trajectory& t) {
    return version - t.first_version() > options_.max_staleness_steps;
  };
  bool dropped = false;
  for (auto it = ready_.begin(); it != ready_.end();) {
    // A group goes whole: one stale member drops it all, for a group missing members
    // would bias its baseline.
    if (std::none_of(it->begin(), it->end(), stale)) {
      ++it;
      continue;
    }
    const int64_t n = static_cast<int64_t>(it->size());
    for (const v1::Trajectory& t : *it) disposed_.push_back(t.trajectory_id());
    books_.dropped_stale += n;
    ready_count_ -= n;
    waiting_ -= n;
    it = ready_.erase(it);
    dropped = true;
  }
  if (dropped) cv_.SignalAll();
}

std::vector<v1::Trajectory> TrajectoryServiceImpl::TakeBatchLocked() {
  std::vector<v1::Trajectory> batch;
  std::vector<std::string> ids;
  while (!ready_.empty()) {
    std::vector<v1::Trajectory>& unit = ready_.front();
    if (!batch.empty() && static_cast<int64_t>(batch.size() + unit.size()) > options_.batch_size) {
      break;
    }
    for (v1::Trajectory& t : unit) {
      ids.push_back(t.trajectory_id());
      batch.push_back(std::move(t));
    }
    ready_.pop_front();
  }
  const int64_t n = static_cast<int64_t>(batch.size());
  ready_count_ -= n;
  waiting_ -= n;
  in_training_count_ += n;
  in_training_.push_back(std::move(ids));
  cv_.SignalAll();  // room for the streams
  return batch;
}

std::optional<std::vector<v1::Trajectory>> TrajectoryServiceImpl::NextBatch(
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (true) {
    const absl::Time now = absl::Now();
    ExpireGroupsLocked(now);
    DropStaleLocked();
    if (ready_count_ >= options_.batch_size) {
      std::vector<v1::Trajectory> batch = TakeBatchLocked();
      UpdateMetricsLocked();
      return batch;
    }
    UpdateMetricsLocked();
    if (closed_ || stop_ || now >= deadline) return std::nullopt;
    cv_.WaitWithDeadline(&mu_, std::min(deadline, NextGroupDeadlineLocked()));
  }
}

absl::Status TrajectoryServiceImpl::CompleteBatch() {
  absl::MutexLock lock(&mu_);
  if (in_training_.empty()) return absl::FailedPreconditionError("CompleteBatch: no batch is out");
  std::vector<std::string>& ids = in_training_.front();
  const int64_t n = static_cast<int64_t>(ids.size());
  books_.trained += n;
  in_training_count_ -= n;
  for (std::string& id : ids) disposed_.push_back(std::move(id));
  in_training_.pop_front();
  UpdateMetricsLocked();
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------
// Versions and admission.

void TrajectoryServiceImpl::SetLearnerVersion(int64_t version, int64_t step) {
  absl::MutexLock lock(&mu_);
  version_ = version;
  step_ = step;
  if (!start_step_.has_value()) start_step_ = step;
  cv_.SignalAll();
}

int64_t TrajectoryServiceImpl::AdmissionCapacityLocked() const {
  const int64_t steps = start_step_.has_value() ? step_ - *start_step_ : 0;
  return (steps + options_.max_staleness_steps + 1) * options_.batch_size;
}

grpc::Status TrajectoryServiceImpl::Admit(grpc::ServerContext* context,
                                          const v1::AdmitRequest* request,
                                          v1::AdmitResponse* response) {
  if (request->samples() <= 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "samples: must be positive");
  }
  const absl::Duration wait = std::min(absl::Milliseconds(std::max<int64_t>(0, request->wait_ms())),
                                       options_.max_admit_wait);
  const absl::Time deadline = absl::Now() + wait;
  absl::MutexLock lock(&mu_);
  while (true) {
    if (stop_ || closed_) {
      response->set_stop(true);
      break;
    }
    if (started_ + request->samples() <= AdmissionCapacityLocked()) {
      started_ += request->samples();
      response->set_granted(true);
      break;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline || context->IsCancelled()) {
      ++admissions_refused_;
      break;
    }
    ++admission_waiting_;
    UpdateMetricsLocked();
    cv_.WaitWithDeadline(&mu_, std::min(deadline, now + kPollInterval));
    --admission_waiting_;
  }
  response->set_learner_version(version_);
  response->set_learner_step(step_);
  UpdateMetricsLocked();
  return grpc::Status::OK;
}

// ------------------------------------------------------------------------------------
// Checkpoints, stop, books.

nlohmann::json TrajectoryServiceImpl::SaveState() {
  absl::MutexLock lock(&mu_);
  Ledger ledger = *committed_;
  for (const std::string& id : disposed_) {
    std::string key;
    int64_t sequence = 0;
    if (SplitTrajectoryId(id, &key, &sequence)) ledger.Add(key, sequence);
  }
  saved_disposed_ = disposed_.size();
  nlohmann::json finals = nlohmann::json::object();
  for (const auto& [key, produced] : finals_) finals[key] = produced;
  return {{"format", kStateFormat},
          {"run_id", options_.run_id},
          {"books",
           {{"trained", books_.trained},
            {"dropped_stale", books_.dropped_stale},
            {"dropped_incomplete", books_.dropped_incomplete},
            {"duplicates_dropped", books_.duplicates_dropped}}},
          {"finals", finals},
          {"committed", ledger.ToJson()}};
}

int64_t TrajectoryServiceImpl::MarkCommitted() {
  std::vector<std::pair<std::shared_ptr<StreamState>, v1::TrajectoryAck>> sends;
  int64_t n = 0;
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, v1::TrajectoryAck> acks;
    for (size_t i = 0; i < saved_disposed_; ++i) {
      std::string key;
      int64_t sequence = 0;
      if (!SplitTrajectoryId(disposed_[i], &key, &sequence)) continue;  // checked on receipt
      committed_->Add(key, sequence);
      acks[key].add_committed(disposed_[i]);
    }
    n = static_cast<int64_t>(saved_disposed_);
    disposed_.erase(disposed_.begin(), disposed_.begin() + static_cast<std::ptrdiff_t>(n));
    saved_disposed_ = 0;
    for (auto& [key, ack] : acks) {
      auto it = actor_streams_.find(key);
      if (it == actor_streams_.end()) continue;  // acked when the actor resends
      ack.set_learner_version(version_);
      ack.set_stop(stop_);
      sends.emplace_back(it->second, std::move(ack));
    }
  }
  SendToStreams(std::move(sends));
  return n;
}

absl::Status TrajectoryServiceImpl::RestoreState(const nlohmann::json& state) {
  if (!state.is_object()) return absl::InvalidArgumentError("trajectory state: expected an object");
  auto format = state.find("format");
  if (format == state.end() || *format != kStateFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("trajectory state: format: expected \"", kStateFormat, "\""));
  }
  auto run_id = state.find("run_id");
  if (run_id != state.end() && run_id->is_string() && !options_.run_id.empty() &&
      !run_id->get<std::string>().empty() && *run_id != options_.run_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("trajectory state: run_id: \"", run_id->get<std::string>(),
                     "\", but this learner serves run \"", options_.run_id, "\""));
  }
  auto books = state.find("books");
  if (books == state.end() || !books->is_object()) {
    return absl::InvalidArgumentError("trajectory state: books: expected an object");
  }
  TrajectoryBooks restored;
  for (auto [field, value] : {std::make_pair("trained", &restored.trained),
                              std::make_pair("dropped_stale", &restored.dropped_stale),
                              std::make_pair("dropped_incomplete", &restored.dropped_incomplete),
                              std::make_pair("duplicates_dropped", &restored.duplicates_dropped)}) {
    absl::StatusOr<int64_t> count = GetCount(*books, field, "books");
    if (!count.ok()) return count.status();
    *value = *count;
  }
  restored.received = restored.trained + restored.dropped_stale + restored.dropped_incomplete;
  std::map<std::string, int64_t> finals;
  auto finals_json = state.find("finals");
  if (finals_json == state.end() || !finals_json->is_object()) {
    return absl::InvalidArgumentError("trajectory state: finals: expected an object");
  }
  for (auto it = finals_json->begin(); it != finals_json->end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("trajectory state: finals[\"", it.key(), "\"]: expected a count >= 0"));
    }
    finals[it.key()] = it->get<int64_t>();
  }
  auto committed_json = state.find("committed");
  if (committed_json == state.end()) {
    return absl::InvalidArgumentError("trajectory state: committed: missing");
  }
  auto ledger = std::make_unique<Ledger>();
  if (absl::Status s = Ledger::FromJson(*committed_json, ledger.get()); !s.ok()) return s;
  if (ledger->size() != restored.received) {
    return absl::InvalidArgumentError(
        absl::StrCat("trajectory state: committed holds ", ledger->size(), " ids but books count ",
                     restored.received, " trained or dropped; the state is inconsistent"));
  }

  absl::MutexLock lock(&mu_);
  if (books_.received > 0 || books_.duplicates_dropped > 0 || !finals_.empty()) {
    return absl::FailedPreconditionError(
        "RestoreState: trajectories were received already; restore before serving");
  }
  books_ = restored;
  finals_ = std::move(finals);
  *seen_ = *ledger;
  committed_ = std::move(ledger);
  disposed_.clear();
  saved_disposed_ = 0;
  UpdateMetricsLocked();
  return absl::OkStatus();
}

void TrajectoryServiceImpl::RequestStop() {
  std::vector<std::pair<std::shared_ptr<StreamState>, v1::TrajectoryAck>> sends;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
    for (const auto& [key, state] : actor_streams_) {
      v1::TrajectoryAck ack;
      ack.set_learner_version(version_);
      ack.set_stop(true);
      sends.emplace_back(state, std::move(ack));
    }
  }
  SendToStreams(std::move(sends));
}

absl::Status TrajectoryServiceImpl::WaitForFinals(int expected_actors, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(finals_.size()) >= expected_actors && open_final_streams_ == 0;
  };
  while (!done()) {
    if (closed_) return absl::CancelledError("the trajectory service was closed");
    if (cv_.WaitWithDeadline(&mu_, deadline) && !done()) {
      if (static_cast<int>(finals_.size()) >= expected_actors) {
        return absl::DeadlineExceededError(absl::StrCat(open_final_streams_,
                                                        " actor stream(s) did not end after their Final within ",
                                                        absl::FormatDuration(timeout)));
      }
      return absl::DeadlineExceededError(absl::StrCat(finals_.size(), " of ", expected_actors,
                                                      " actors sent Final within ",
                                                      absl::FormatDuration(timeout)));
    }
  }
  return absl::OkStatus();
}

TrajectoryBooks TrajectoryServiceImpl::BooksLocked() const {
  TrajectoryBooks books = books_;
  books.produced = 0;
  for (const auto& [key, produced] : finals_) books.produced += produced;
  books.queued = waiting_ + in_training_count_;
  return books;
}

TrajectoryBooks TrajectoryServiceImpl::books() const {
  absl::MutexLock lock(&mu_);
  return BooksLocked();
}

TrajectoryGauges TrajectoryServiceImpl::gauges() const {
  absl::MutexLock lock(&mu_);
  TrajectoryGauges g;
  g.queue_depth = waiting_;
  g.in_training = in_training_count_;
  g.open_groups = static_cast<int64_t>(groups_.size());
  g.streams_open = static_cast<int64_t>(streams_.size());
  g.admission_waiting = admission_waiting_;
  g.admitted_samples = started_;
  g.admissions_refused = admissions_refused_;
  g.finals = static_cast<int64_t>(finals_.size());
  return g;
}

void TrajectoryServiceImpl::UpdateMetricsLocked() {
  if (metrics_ == nullptr) return;
  const TrajectoryBooks b = BooksLocked();
  metrics_->produced.Set(static_cast<double>(b.produced));
  metrics_->trained.Set(static_cast<double>(b.trained));
  metrics_->dropped_stale.Set(static_cast<double>(b.dropped_stale));
  metrics_->dropped_incomplete.Set(static_cast<double>(b.dropped_incomplete));
  metrics_->queued.Set(static_cast<double>(b.queued));
  metrics_->duplicates_dropped.Set(static_cast<double>(b.duplicates_dropped));
  metrics_->received.Set(static_cast<double>(b.received));
  metrics_->queue_depth.Set(static_cast<double>(waiting_));
  metrics_->in_training.Set(static_cast<double>(in_training_count_));
  metrics_->streams_open.Set(static_cast<double>(streams_.size()));
  metrics_->admission_waiting.Set(static_cast<double>(admission_waiting_));
  metrics_->admissions_refused.Set(static_cast<double>(admissions_refused_));
}

}  // namespace crucible
