// Per-run memory and process-count limits through cgroups, v2 where the unified hierarchy
// has the memory and pids controllers, v1 (separate memory and pids hierarchies) where it
// does not. Each sandbox server owns a parent group "crucible-<pid>" under its own cgroup;
// every run gets a child group, created before the run's init starts and removed after
// its PID namespace is gone. Where neither version is usable (no controllers, no write
// access, controllers not delegated) the mode is kNone with the reason in detail(), and
// runs rely on rlimits alone.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_CGROUPS_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_CGROUPS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crucible::sandbox {

enum class CgroupMode { kNone, kV1, kV2 };

struct CgroupStats {
  int64_t peak_memory_bytes = -1;  // -1: the kernel does not report a peak
  int64_t oom_kills = 0;
};

// Descriptors on a run group's statistics, opened by the server and handed to the
// session's init, which can no longer see the cgroup file system after pivoting.
struct CgroupStatFds {
  CgroupMode mode = CgroupMode::kNone;
  int peak_fd = -1;    // v1 memory.max_usage_in_bytes, v2 memory.peak
  int events_fd = -1;  // v1 memory.oom_control, v2 memory.events
};

CgroupStats ReadStats(const CgroupStatFds& fds);
// Restarts the peak from the current usage; false where the kernel cannot (v2 before 6.12).
bool ResetPeak(const CgroupStatFds& fds);

class RunCgroup {
 public:
  RunCgroup() = default;
  RunCgroup(CgroupMode mode, std::vector<std::string> dirs) : mode_(mode), dirs_(std::move(dirs)) {}

  absl::Status AddProcess(pid_t pid) const;
  absl::StatusOr<CgroupStatFds> OpenStatFds() const;
  // Removes the group; its processes must already be gone. Retries briefly while the
  // kernel finishes tearing them down.
  absl::Status Remove() const;
  bool active() const { return mode_ != CgroupMode::kNone; }

 private:
  CgroupMode mode_ = CgroupMode::kNone;
  std::vector<std::string> dirs_;  // v2: one; v1: memory then pids
};

class Cgroups {
 public:
  // Finds a usable hierarchy and creates this server's parent group. explicit_parent, if
  // set, is a cgroup v2 directory delegated to the judge (its subtree is ours).
  static Cgroups Setup(const std::string& explicit_parent);

  CgroupMode mode() const { return mode_; }
  const std::string& detail() const { return detail_; }
  absl::string_view mode_name() const;
  const std::vector<std::string>& parent_dirs() const { return parents_; }

  absl::StatusOr<RunCgroup> CreateRun(const std::string& name, int64_t memory_bytes,
                                      int64_t max_pids) const;
  // Removes the parent group and whatever run groups are left in it.
  void Teardown() const;

  // Removes parent groups left by servers that died without tearing down.
  void RemoveStaleGroups() const;

 private:
  CgroupMode mode_ = CgroupMode::kNone;
  std::string detail_;
  std::vector<std::string> parents_;  // v2: one; v1: memory then pids
};

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_CGROUPS_H_
