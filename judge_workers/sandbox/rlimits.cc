#include "judge_workers/sandbox/rlimits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace crucible::sandbox {
namespace {

absl::Status SetLimit(int resource, const char* name, rlim_t soft, rlim_t hard) {
  rlimit limit{soft, hard};
  if (::setrlimit(resource, &limit) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("setrlimit ", name, " ", soft, "/", hard));
  }
  return absl::OkStatus();
}

absl::Status SetLimit(int resource, const char* name, rlim_t value) {
  return SetLimit(resource, name, value, value);
}

}  // namespace

absl::Status ApplyRlimits(const v1::SandboxLimits& limits, bool cgroup_limits_memory) {
  // CPU seconds: the soft limit raises SIGXCPU a little after the judge's own limit so the
  // judge, not the kernel's rounding, decides TLE; the hard limit kills for certain.
  const rlim_t cpu_seconds = static_cast<rlim_t>((limits.cpu_time_ms() + 999) / 1000) + 1;
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_CPU, "RLIMIT_CPU", cpu_seconds, cpu_seconds + 1));

  const rlim_t memory = static_cast<rlim_t>(limits.memory_bytes());
  // Without a memory cgroup the address-space limit is the only memory bound, so it sits
  // at the limit plus room for the interpreter's and loader's mappings.
  const rlim_t address_space =
      cgroup_limits_memory ? std::max<rlim_t>(4 * memory, memory + (2ull << 30))
                           : memory + (64ull << 20);
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_AS, "RLIMIT_AS", address_space));
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_DATA, "RLIMIT_DATA", address_space));

  const rlim_t stack =
      static_cast<rlim_t>(limits.stack_bytes() > 0 ? limits.stack_bytes() : 64 << 20);
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_STACK, "RLIMIT_STACK", stack));
  CRUCIBLE_RETURN_IF_ERROR(
      SetLimit(RLIMIT_FSIZE, "RLIMIT_FSIZE", static_cast<rlim_t>(limits.max_file_bytes())));
  CRUCIBLE_RETURN_IF_ERROR(
      SetLimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", static_cast<rlim_t>(limits.max_open_files())));
  CRUCIBLE_RETURN_IF_ERROR(
      SetLimit(RLIMIT_NPROC, "RLIMIT_NPROC", static_cast<rlim_t>(limits.max_processes())));
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_CORE, "RLIMIT_CORE", 0));
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 64 << 10));
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0));
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_NICE, "RLIMIT_NICE", 0));
  CRUCIBLE_RETURN_IF_ERROR(SetLimit(RLIMIT_RTPRIO, "RLIMIT_RTPRIO", 0));
  return SetLimit(RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING", 256);
}

}  // namespace crucible::sandbox
