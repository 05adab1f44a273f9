// Resource limits set by the sandboxed process on itself just before it runs untrusted
// code. They bound each process even where cgroups are unavailable; with cgroups, memory
// and process counts are enforced per run by the cgroup and RLIMIT_AS is only a loose
// guard, because address space is not memory (threads and allocators reserve far more
// than they touch).
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_RLIMITS_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_RLIMITS_H_

#include "absl/status/status.h"
#include "crucible/v1/sandbox.pb.h"

namespace crucible::sandbox {

absl::Status ApplyRlimits(const v1::SandboxLimits& limits, bool cgroup_limits_memory);

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_RLIMITS_H_
