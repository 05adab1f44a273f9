#include "actors/outbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace crucible {
namespace {

// Record framing: u32 body length, u32 CRC32C of those four bytes, u32 CRC32C of the body;
// the body is a type byte and the payload. The length has its own checksum so that a
// corrupt length is told apart from a record cut short by a kill.
constexpr size_t kFrameHeaderBytes = 12;
constexpr uint32_t kMaxBodyBytes = 1u << 30;

constexpr uint8_t kHeaderRecord = 1;
constexpr uint8_t kTrajectoryRecord = 2;
constexpr uint8_t kCommitRecord = 3;
constexpr char kMagic[] = "CRUCOBX1";  // the header payload starts with these 8 bytes
constexpr size_t kMagicBytes = 8;

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

// CRC32C (Castagnoli), bitwise-reflected, as in iSCSI and LevelDB's logs.
uint32_t Crc32c(const char* data, size_t n) {
  static const std::array<uint32_t, 256> table = MakeCrcTable();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc = table[(crc ^ static_cast<uint8_t>(data[i])) & 0xFF] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

void Put32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void Put64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

std::string Frame(uint8_t type, const std::string& payload) {
  std::string body;
  body.reserve(1 + payload.size());
  body.push_back(static_cast<char>(type));
  body.append(payload);
  std::string frame;
  frame.reserve(kFrameHeaderBytes + body.size());
  Put32(&frame, static_cast<uint32_t>(body.size()));
  Put32(&frame, Crc32c(frame.data(), 4));
  Put32(&frame, Crc32c(body.data(), body.size()));
  frame.append(body);
  return frame;
}

std::string HeaderPayload(int64_t produced_before, int64_t next_sequence) {
  std::string payload(kMagic, kMagicBytes);
  Put64(&payload, static_cast<uint64_t>(produced_before));
  Put64(&payload, static_cast<uint64_t>(next_sequence));
  return payload;
}

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, absl::StrCat("write ", path));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

bool OnlyZerosFrom(const std::string& data, size_t offset) {
  return std::all_of(data.begin() + static_cast<std::ptrdiff_t>(std::min(offset, data.size())),
                     data.end(), [](char c) { return c == 0; });
}

// The sequence number after the last '/', if the id ends in one.
bool ParseSequence(const std::string& id, int64_t* sequence) {
  size_t slash = id.rfind('/');
  if (slash == std::string::npos || slash + 1 >= id.size()) return false;
  for (size_t i = slash + 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  return absl::SimpleAtoi(absl::string_view(id).substr(slash + 1), sequence);
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string MakeTrajectoryId(const std::string& run_id, const std::string& actor_id,
                             int64_t sequence) {
  return absl::StrCat(run_id, "/", actor_id, "/", sequence);
}

absl::StatusOr<std::unique_ptr<Outbox>> Outbox::Open(const std::string& path,
                                                     OutboxOptions options) {
  std::unique_ptr<Outbox> outbox(new Outbox(path, options));
  absl::MutexLock lock(&outbox->mu_);
  outbox->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (outbox->fd_ < 0) return ErrnoToStatus(errno, absl::StrCat("open ", path));
  CRUCIBLE_RETURN_IF_ERROR(outbox->Replay());
  return outbox;
}

Outbox::~Outbox() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status Outbox::Replay() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoToStatus(errno, absl::StrCat("stat ", path_));
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd_, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, absl::StrCat("read ", path_));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);

  size_t offset = 0;
  while (offset < data.size()) {
    const size_t left = data.size() - offset;
    const char* frame = data.data() + offset;
    if (left < kFrameHeaderBytes) {
      CRUCIBLE_LOG(Warning) << path_ << ": dropping a torn record at byte " << offset << " ("
                            << left << " bytes; the writer was probably killed mid-write)";
      break;
    }
    const uint32_t body_bytes = Get32(frame);
    const bool length_ok =
        Crc32c(frame, 4) == Get32(frame + 4) && body_bytes > 0 && body_bytes <= kMaxBodyBytes;
    const size_t end = offset + kFrameHeaderBytes + (length_ok ? body_bytes : 0);
    if (length_ok && end > data.size()) {
      CRUCIBLE_LOG(Warning) << path_ << ": dropping a torn record at byte " << offset << " ("
                            << left << " of " << kFrameHeaderBytes + body_bytes
                            << " bytes; the writer was probably killed mid-write)";
      break;
    }
    const bool body_ok =
        length_ok && Crc32c(frame + kFrameHeaderBytes, body_bytes) == Get32(frame + 8);
    if (!body_ok) {
      // A bad record with nothing but zeros after it (or nothing at all) is the tail a
      // crash left; one with records after it is damage we must not skip.
      const bool tail = length_ok ? (end == data.size() || OnlyZerosFrom(data, end))
                                  : OnlyZerosFrom(data, offset);
      if (!tail) {
        return absl::DataLossError(absl::StrCat(
            path_, ": corrupt record at byte ", offset, " (", length_ok ? "body" : "length",
            " checksum mismatch) with more records after it; the journal is damaged"));
      }
      CRUCIBLE_LOG(Warning) << path_ << ": dropping a corrupt last record at byte " << offset
                            << " (" << left << " bytes; " << (length_ok ? "body" : "length")
                            << " checksum mismatch)";
      break;
    }
    const uint8_t type = static_cast<uint8_t>(frame[kFrameHeaderBytes]);
    std::string payload(frame + kFrameHeaderBytes + 1, body_bytes - 1);
    CRUCIBLE_RETURN_IF_ERROR(ApplyRecord(type, payload, static_cast<int64_t>(end - offset),
                                         static_cast<int64_t>(offset)));
    offset = end;
  }
  if (offset < data.size() && ::ftruncate(fd_, static_cast<off_t>(offset)) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("truncate ", path_));
  }
  file_bytes_ = static_cast<int64_t>(offset);
  if (file_bytes_ == 0) {
    CRUCIBLE_RETURN_IF_ERROR(WriteRecord(kHeaderRecord, HeaderPayload(0, 0)));
    live_bytes_ = file_bytes_;
  }
  return absl::OkStatus();
}

absl::Status Outbox::ApplyRecord(uint8_t type, const std::string& payload, int64_t record_bytes,
                                 int64_t offset) {
  auto damaged = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat(path_, ": record at byte ", offset, ": ", what, "; the journal is damaged"));
  };
  if (offset == 0 && type != kHeaderRecord) return damaged("not an outbox journal (no header)");
  switch (type) {
    case kHeaderRecord: {
      if (offset != 0) return damaged("a header record after the start");
      if (payload.size() != kMagicBytes + 16 || payload.compare(0, kMagicBytes, kMagic) != 0) {
        return damaged("not an outbox header");
      }
      produced_ = static_cast<int64_t>(Get64(payload.data() + kMagicBytes));
      next_sequence_ = static_cast<int64_t>(Get64(payload.data() + kMagicBytes + 8));
      live_bytes_ += record_bytes;
      return absl::OkStatus();
    }
    case kTrajectoryRecord: {
      auto trajectory = std::make_shared<v1::Trajectory>();
      if (!trajectory->ParseFromString(payload)) return damaged("unparsable trajectory");
      if (trajectory->trajectory_id().empty() || pending_.count(trajectory->trajectory_id())) {
        return damaged(
            absl::StrCat("trajectory_id \"", trajectory->trajectory_id(), "\" empty or repeated"));
      }
      ++produced_;
      NoteSequence(trajectory->trajectory_id());
      AddPending(std::move(trajectory), record_bytes);
      return absl::OkStatus();
    }
    case kCommitRecord: {
      if (payload.size() < 4) return damaged("short commit record");
      const uint32_t count = Get32(payload.data());
      size_t at = 4;
      for (uint32_t i = 0; i < count; ++i) {
        if (payload.size() - at < 4) return damaged("short commit record");
        const uint32_t n = Get32(payload.data() + at);
        at += 4;
        if (payload.size() - at < n) return damaged("short commit record");
        auto it = pending_.find(payload.substr(at, n));
        at += n;
        if (it == pending_.end()) continue;
        live_bytes_ -= it->second.record_bytes;
        order_.erase(it->second.ordinal);
        pending_.erase(it);
      }
      return absl::OkStatus();
    }
    default:
      return damaged(absl::StrCat("unknown record type ", type));
  }
}

absl::Status Outbox::WriteRecord(uint8_t type, const std::string& payload) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": not open"));
  const std::string frame = Frame(type, payload);
  absl::Status status = WriteAll(fd_, frame, path_);
  if (!status.ok()) {
    // A partial record left behind would read as damage once more records follow it.
    if (::ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0) {
      CRUCIBLE_LOG(Error) << path_
                          << ": could not cut a failed write back: " << std::strerror(errno);
    }
    return status;
  }
  file_bytes_ += static_cast<int64_t>(frame.size());
  return absl::OkStatus();
}

void Outbox::AddPending(std::shared_ptr<const v1::Trajectory> trajectory, int64_t record_bytes) {
  const std::string id = trajectory->trajectory_id();
  PendingRecord& p = pending_[id];
  p.trajectory = std::move(trajectory);
  p.ordinal = next_ordinal_++;
  p.record_bytes = record_bytes;
  order_.emplace(p.ordinal, id);
  live_bytes_ += record_bytes;
}

void Outbox::NoteSequence(const std::string& id) {
  int64_t sequence = 0;
  if (ParseSequence(id, &sequence)) next_sequence_ = std::max(next_sequence_, sequence + 1);
}

absl::Status Outbox::AppendLocked(v1::Trajectory trajectory) {
  const std::string& id = trajectory.trajectory_id();
  if (id.empty()) return absl::InvalidArgumentError("trajectory_id: empty");
  if (pending_.count(id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("trajectory_id \"", id, "\" is already pending"));
  }
  std::string payload;
  if (!trajectory.SerializeToString(&payload)) {
    return absl::InternalError(absl::StrCat("trajectory \"", id, "\": serialization failed"));
  }
  const int64_t before = file_bytes_;
  CRUCIBLE_RETURN_IF_ERROR(WriteRecord(kTrajectoryRecord, payload));
  ++produced_;
  NoteSequence(id);
  AddPending(std::make_shared<const v1::Trajectory>(std::move(trajectory)), file_bytes_ - before);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Outbox::Append(v1::Trajectory trajectory) {
  absl::MutexLock lock(&mu_);
  if (trajectory.trajectory_id().empty()) {
    if (trajectory.run_id().empty() || trajectory.actor_id().empty()) {
      return absl::InvalidArgumentError(
          "trajectory: no trajectory_id, and no run_id and actor_id to make one");
    }
    trajectory.set_trajectory_id(
        MakeTrajectoryId(trajectory.run_id(), trajectory.actor_id(), next_sequence_));
  }
  std::string id = trajectory.trajectory_id();
  CRUCIBLE_RETURN_IF_ERROR(AppendLocked(std::move(trajectory)));
  return id;
}

absl::Status Outbox::Commit(const std::vector<std::string>& ids) {
  absl::MutexLock lock(&mu_);
  std::vector<const std::string*> known;
  for (const std::string& id : ids) {
    if (pending_.count(id) != 0) known.push_back(&id);
  }
  if (known.empty()) return absl::OkStatus();
  std::string payload;
  Put32(&payload, static_cast<uint32_t>(known.size()));
  for (const std::string* id : known) {
    Put32(&payload, static_cast<uint32_t>(id->size()));
    payload.append(*id);
  }
  CRUCIBLE_RETURN_IF_ERROR(WriteRecord(kCommitRecord, payload));
  for (const std::string* id : known) {
    auto it = pending_.find(*id);
    if (it == pending_.end()) continue;  // listed twice in `ids`
    live_bytes_ -= it->second.record_bytes;
    order_.erase(it->second.ordinal);
    pending_.erase(it);
  }
  if (file_bytes_ >= options_.compact_min_bytes && 2 * live_bytes_ < file_bytes_) {
    // The commit itself is journaled; a failed compaction only leaves the journal long.
    absl::Status compacted = CompactLocked();
    if (!compacted.ok()) CRUCIBLE_LOG(Warning) << "outbox compaction failed: " << compacted;
  }
  return absl::OkStatus();
}

absl::Status Outbox::Compact() {
  absl::MutexLock lock(&mu_);
  return CompactLocked();
}

absl::Status Outbox::CompactLocked() {
  const std::string temp = path_ + ".compact";
  std::string contents =
      Frame(kHeaderRecord,
            HeaderPayload(produced_ - static_cast<int64_t>(pending_.size()), next_sequence_));
  std::vector<std::pair<PendingRecord*, int64_t>> sizes;
  sizes.reserve(order_.size());
  for (const auto& [ordinal, id] : order_) {
    PendingRecord& p = pending_.at(id);
    std::string payload;
    if (!p.trajectory->SerializeToString(&payload)) {
      return absl::InternalError(absl::StrCat("trajectory \"", id, "\": serialization failed"));
    }
    const size_t before = contents.size();
    contents.append(Frame(kTrajectoryRecord, payload));
    sizes.emplace_back(&p, static_cast<int64_t>(contents.size() - before));
  }
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", temp));
  absl::Status status = WriteAll(fd, contents, temp);
  // The new journal must be on disk before it replaces the old one, or a machine crash
  // could leave an empty file where the pending trajectories were.
  if (status.ok() && ::fdatasync(fd) != 0) status = ErrnoToStatus(errno, "fdatasync " + temp);
  if (status.ok() && ::rename(temp.c_str(), path_.c_str()) != 0) {
    status = ErrnoToStatus(errno, absl::StrCat("rename ", temp, " to ", path_));
  }
  if (!status.ok()) {
    ::close(fd);
    ::unlink(temp.c_str());
    return status;
  }
  const std::string dir = DirectoryOf(path_);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  ::close(fd_);
  fd_ = fd;
  file_bytes_ = static_cast<int64_t>(contents.size());
  live_bytes_ = file_bytes_;
  for (auto& [p, bytes] : sizes) p->record_bytes = bytes;
  ++compactions_;
  return absl::OkStatus();
}

absl::Status Outbox::Sync() {
  absl::MutexLock lock(&mu_);
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": not open"));
  if (::fdatasync(fd_) != 0) return ErrnoToStatus(errno, absl::StrCat("fdatasync ", path_));
  return absl::OkStatus();
}

std::vector<v1::Trajectory> Outbox::Pending() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Trajectory> out;
  out.reserve(order_.size());
  for (const auto& [ordinal, id] : order_) out.push_back(*pending_.at(id).trajectory);
  return out;
}

std::vector<OutboxEntry> Outbox::PendingAfter(int64_t ordinal, size_t max) const {
  absl::MutexLock lock(&mu_);
  std::vector<OutboxEntry> out;
  for (auto it = order_.upper_bound(ordinal); it != order_.end() && out.size() < max; ++it) {
    out.push_back(OutboxEntry{it->first, pending_.at(it->second).trajectory});
  }
  return out;
}

bool Outbox::IsPending(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  return pending_.count(id) != 0;
}

size_t Outbox::pending_count() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

int64_t Outbox::last_ordinal() const {
  absl::MutexLock lock(&mu_);
  return next_ordinal_ - 1;
}

int64_t Outbox::produced() const {
  absl::MutexLock lock(&mu_);
  return produced_;
}

int64_t Outbox::next_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_sequence_;
}

int64_t Outbox::file_bytes() const {
  absl::MutexLock lock(&mu_);
  return file_bytes_;
}

int64_t Outbox::compactions() const {
  absl::MutexLock lock(&mu_);
  return compactions_;
}

}  // namespace crucible
