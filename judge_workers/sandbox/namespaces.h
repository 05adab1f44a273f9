// Linux namespaces for one sandboxed run: a fork-like clone into fresh user, PID, mount,
// network, IPC and UTS namespaces, and the uid/gid maps that make the sandbox user an
// unprivileged outside uid. Only the monitor (outside) calls CloneIntoNamespaces and
// WriteIdMaps; the init inside calls SetSandboxHostname.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_NAMESPACES_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_NAMESPACES_H_

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crucible::sandbox {

// The uid and gid the sandboxed program has inside its user namespace.
inline constexpr uid_t kSandboxUid = 1000;
inline constexpr gid_t kSandboxGid = 1000;

// Every namespace a run gets.
int SandboxCloneFlags();

// Like fork(), but the child starts in new namespaces (flags from SandboxCloneFlags()).
// Returns the child's pid in the parent and 0 in the child.
absl::StatusOr<pid_t> CloneIntoNamespaces(int clone_flags);

// Maps kSandboxUid/kSandboxGid inside `pid`'s user namespace to outside_uid/outside_gid
// and denies setgroups. Called by the parent before the child runs anything untrusted.
absl::Status WriteIdMaps(pid_t pid, uid_t outside_uid, gid_t outside_gid);

absl::Status SetSandboxHostname();

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_NAMESPACES_H_
