// A judge's work directory under $TMPDIR (programs, their binaries, checker builds), and the
// removal of those a killed judge left behind.
//
// A judge that makes its own work root claims it for its lifetime with an exclusive flock on
// <root>/.owner.lock. The lock goes with the process however it ends (SIGKILL, OOM kill, a
// node drain), and flock works across PID namespaces that share the filesystem, so a later
// judge can tell an abandoned root from a live one without trusting pids. The judge removes
// its root when it exits normally; SweepAbandonedWorkRoots removes the others.
#ifndef CRUCIBLE_JUDGE_WORKERS_WORK_ROOT_H_
#define CRUCIBLE_JUDGE_WORKERS_WORK_ROOT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crucible {

inline constexpr char kWorkRootLockFile[] = ".owner.lock";

// A fresh directory parent/<prefix>XXXXXX, claimed. Close the returned descriptor (after
// removing the directory) to release it; it is close-on-exec.
struct ClaimedDir {
  std::string path;
  int lock_fd = -1;
};
absl::StatusOr<ClaimedDir> MakeClaimedDir(const std::string& parent, const std::string& prefix);

// Removes every parent/<prefix>* directory owned by this user whose lock file is at least
// `min_age` old (so a judge between creating its lock file and taking the lock is left
// alone) and whose lock can be taken: its judge is gone. Directories without a lock file
// (made by judges that did not claim them) are left alone. Returns how many were removed;
// failures to remove one are logged, never fatal.
int SweepAbandonedWorkRoots(const std::string& parent, const std::string& prefix, absl::Duration min_age);

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_WORK_ROOT_H_
