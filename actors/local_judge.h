// A crucible-judge process started and owned by the caller, on a free loopback port: for
// `crucible run`, integration tests and benchmarks. Stopping sends SIGTERM (the judge
// drains) and waits; the destructor stops it.
#ifndef CRUCIBLE_ACTORS_LOCAL_JUDGE_H_
#define CRUCIBLE_ACTORS_LOCAL_JUDGE_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crucible {

class LocalJudge {
 public:
  // Starts `binary serve --port=0 ...` with extra flags; waits until it listens.
  static absl::StatusOr<std::unique_ptr<LocalJudge>> Start(
      const std::string& binary, const std::vector<std::string>& extra_flags,
      absl::Duration timeout = absl::Seconds(60));
  ~LocalJudge();

  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }
  // SIGTERM and wait; returns the exit status (or -signal).
  int Stop();
  // SIGKILL and wait, as a crash would.
  void Kill();

 private:
  LocalJudge() = default;
  pid_t pid_ = -1;
  std::string address_;
  std::string port_file_;
};

std::string DefaultJudgeBinary();

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_LOCAL_JUDGE_H_
