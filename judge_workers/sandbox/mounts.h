// The sandbox's file system view, built by the init process inside its fresh mount
// namespace: a read-only tmpfs root holding read-only binds of the system directories
// (/usr and the /bin, /lib, ... links or binds beside it), a minimal /etc and /dev, a
// private size-limited /tmp, the run's work directory at /work, and a fresh /proc for the
// run's PID namespace, and /precompiled (read-only; the judge's precompiled headers when
// the session asks for them, otherwise empty). Everything else on the host (home directories, /root, /var, the
// judge's own files, other runs) does not exist inside.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_MOUNTS_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_MOUNTS_H_

#include <string>

#include "absl/status/status.h"

namespace crucible::sandbox {

// Creates, once per server and outside any namespace, the skeleton the sandbox root is
// built on: empty mount points for the system directories, /etc files, devices, /tmp,
// /work and /proc, plus the host's /bin-style symlinks and a minimal passwd and group.
// Nothing is created inside a sandbox: its fresh user namespace maps no owner for new
// inodes, so every mount point must already exist.
absl::Status BuildSkeleton(const std::string& root);

struct MountPlan {
  std::string skeleton;       // from BuildSkeleton
  std::string work_dir;       // host directory bound at /work
  bool work_dir_writable = false;
  std::string precompiled_dir;  // optional host directory bound read-only at /precompiled
  int64_t tmp_bytes = 64 << 20;
  bool mount_proc = true;
};

// Builds the view on the skeleton and pivots into it; on return "/" is the sandbox root
// and the host's tree is unreachable. Must run in a fresh mount namespace with
// CAP_SYS_ADMIN over it.
absl::Status EnterSandboxRoot(const MountPlan& plan);

// Whether proc can be mounted for a new PID namespace on this host (container runtimes
// that mask parts of /proc forbid it). Forks a throwaway child to find out.
bool ProbeProcMount();

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_MOUNTS_H_
