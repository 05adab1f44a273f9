// Outbox: the actor's durable store of trajectories the learner has not yet committed.
// It is an append-only journal file of length-prefixed, CRC32C-checked records: a header
// (the trajectories produced before the file's first record, the next sequence number),
// trajectories (serialized v1::Trajectory) and commits (trajectory ids). Open() replays it:
// pending = trajectories minus committed ones, in append order; produced counts every
// trajectory record ever appended, across compactions (the header carries the count).
//
// Durability: Append and Commit write their record with write(2) before they return, so a
// record survives the process being killed (kill -9) at any point after that. There is no
// fsync per record: a machine crash (power loss, kernel panic) can lose the records of the
// last seconds; call Sync() where that matters. A record torn by a kill mid-write, or a
// corrupt record at the end of the file (garbage or zeros a crash left), is dropped with a
// warning on Open and the file is truncated before it; corruption with intact records
// after it is DATA_LOSS, never skipped silently. Compaction (pending trajectories plus the
// counts, written to a temporary file, synced and renamed over the journal) runs when
// committed records dominate a journal of at least `compact_min_bytes`.
//
// Thread-safe. One process at a time may hold a journal open (nothing enforces it).
#ifndef CRUCIBLE_ACTORS_OUTBOX_H_
#define CRUCIBLE_ACTORS_OUTBOX_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crucible/v1/trajectory.pb.h"

namespace crucible {

// "<run_id>/<actor_id>/<sequence>", the id every trajectory of a run carries.
std::string MakeTrajectoryId(const std::string& run_id, const std::string& actor_id,
                             int64_t sequence);

struct OutboxOptions {
  // Compaction runs after a Commit when the journal is at least this big and less than
  // half of it is pending trajectories.
  int64_t compact_min_bytes = 8 << 20;
};

// One pending trajectory. `ordinal` orders entries by append within this process (it
// restarts at 0 on Open); the trajectory is shared, not copied, by snapshots.
struct OutboxEntry {
  int64_t ordinal = 0;
  std::shared_ptr<const v1::Trajectory> trajectory;
};

class Outbox {
 public:
  // Opens (creating it if missing) and replays the journal at `path`.
  static absl::StatusOr<std::unique_ptr<Outbox>> Open(const std::string& path,
                                                      OutboxOptions options = {});
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Journals a trajectory and returns its id. An empty trajectory_id is set to
  // "<run_id>/<actor_id>/<next_sequence()>" from the trajectory's own run_id and actor_id
  // (concurrent callers get distinct, consecutive sequence numbers); a given one must not
  // be pending already.
  absl::StatusOr<std::string> Append(v1::Trajectory trajectory);

  // Journals the pending ones among `ids` as committed and forgets them; ids that are not
  // pending (unknown, or committed already) are ignored. May compact.
  absl::Status Commit(const std::vector<std::string>& ids);

  // Rewrites the journal as the header and the pending trajectories.
  absl::Status Compact();

  // fdatasync: everything journaled so far survives a machine crash.
  absl::Status Sync();

  // Pending trajectories, in append order.
  std::vector<v1::Trajectory> Pending() const;
  // Up to `max` pending entries with an ordinal above `ordinal`, in append order.
  std::vector<OutboxEntry> PendingAfter(int64_t ordinal, size_t max) const;
  bool IsPending(const std::string& id) const;
  size_t pending_count() const;
  // The ordinal of the newest entry appended; -1 when there has been none.
  int64_t last_ordinal() const;

  // Trajectory records ever appended to this journal (compactions included).
  int64_t produced() const;
  // One past the largest sequence number among the ids ever appended.
  int64_t next_sequence() const;
  int64_t file_bytes() const;
  int64_t compactions() const;
  const std::string& path() const { return path_; }

 private:
  struct PendingRecord {
    std::shared_ptr<const v1::Trajectory> trajectory;
    int64_t ordinal = 0;
    int64_t record_bytes = 0;  // the trajectory's record in the journal, framing included
  };

  Outbox(std::string path, OutboxOptions options) : path_(std::move(path)), options_(options) {}

  absl::Status Replay() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies one record read from the journal.
  absl::Status ApplyRecord(uint8_t type, const std::string& payload, int64_t record_bytes,
                           int64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes one record at the end of the journal; on failure the journal is cut back.
  absl::Status WriteRecord(uint8_t type, const std::string& payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendLocked(v1::Trajectory trajectory) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddPending(std::shared_ptr<const v1::Trajectory> trajectory, int64_t record_bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteSequence(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const OutboxOptions options_;

  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t file_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t live_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // the header and the pending records
  int64_t produced_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_ordinal_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, std::string> order_ ABSL_GUARDED_BY(mu_);  // ordinal -> id
  std::unordered_map<std::string, PendingRecord> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_OUTBOX_H_
