// Starting child processes without a shell. Spawn uses posix_spawn (vfork-style, safe from
// multi-threaded parents); RunProcess feeds stdin, captures stdout/stderr and enforces a
// wall-clock timeout. No isolation of any kind: sandboxing is judge_workers/sandbox's job.
#ifndef CRUCIBLE_COMMON_SUBPROCESS_H_
#define CRUCIBLE_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace crucible {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the path of the executable
  // Environment as NAME=value; nullopt inherits the parent's.
  std::optional<std::vector<std::string>> env;
  int stdin_fd = -1;   // -1: inherit
  int stdout_fd = -1;
  int stderr_fd = -1;
  // Descriptors the child gets at the given numbers (source fd, target fd >= 3).
  std::vector<std::pair<int, int>> extra_fds;
  bool new_process_group = false;
};

absl::StatusOr<pid_t> Spawn(const SpawnOptions& options);

struct ProcessResult {
  int exit_code = -1;      // valid when signal == 0
  int signal = 0;          // the terminating signal
  bool timed_out = false;  // killed by RunProcess's timeout
  std::string stdout_data;
  std::string stderr_data;
};

// Runs argv to completion with `input` on stdin. On timeout the child's process group is
// killed. Output beyond max_output bytes per stream is dropped.
absl::StatusOr<ProcessResult> RunProcess(
    const std::vector<std::string>& argv, const std::string& input,
    std::chrono::milliseconds timeout,
    const std::optional<std::vector<std::string>>& env = std::nullopt,
    size_t max_output = 64 << 20);

// Waits for pid, retrying on EINTR. Returns the raw wait status.
absl::StatusOr<int> WaitForPid(pid_t pid);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_SUBPROCESS_H_
