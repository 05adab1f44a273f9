// Sandbox: run one command under limits, isolated, and report what happened.
//
// The one implementation, ForkServerSandbox, starts the crucible-sandbox server (see
// fork_server.h) as a child of the calling process and sends it requests; it is safe to
// call Run from many threads at once, each run on its own slot. Stdin is given as bytes;
// stdout and stderr come back as bytes, capped by the output limit (RLIMIT_FSIZE), which
// the program reaches as SIGXFSZ or EFBIG. A Status error from Run means the sandbox
// failed (the judge's SE); everything the program did is in the SandboxResult.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_SANDBOX_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_SANDBOX_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crucible/v1/sandbox.pb.h"

namespace crucible::sandbox {

struct SandboxCommand {
  std::vector<std::string> argv;   // exec'd inside; also the zygote's fallback
  std::string work_dir;            // host directory, mounted at /work
  bool work_dir_writable = false;
  v1::SandboxRequest::PythonAction python_action = v1::SandboxRequest::EXEC;
  std::string python_script;       // path inside the sandbox, for the zygote actions
  int slot = 0;                    // concurrent runs use distinct slots
  bool pin_cpu = true;             // run on one CPU (slot-determined): steadier timings
  absl::string_view stdin_data;
  size_t max_stderr_bytes = 64 << 10;  // stderr returned; stdout is returned whole
};

struct SandboxOutput {
  v1::SandboxResult result;
  std::string stdout_data;
  std::string stderr_data;
  int64_t stdout_bytes = 0;  // as written, before any truncation of stderr_data
  int64_t stderr_bytes = 0;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual absl::StatusOr<SandboxOutput> Run(const v1::SandboxLimits& limits,
                                            const SandboxCommand& command) = 0;
  // The host uid/gid a slot's sandbox user maps to (files it must write are chowned so).
  virtual std::pair<uid_t, gid_t> OutsideIds(int slot) const = 0;
  virtual const v1::SandboxServerInfo& info() const = 0;
};

struct SandboxOptions {
  std::string server_binary;        // default: crucible-sandbox beside this executable
  std::string python_executable;    // default: the interpreter found at build time
  bool python_zygote = true;
  std::string cgroup_parent;        // optional delegated cgroup v2 directory
  // When the judge is root, every sandbox server takes a block of kUidBlock unprivileged
  // uids of its own, the first free one from uid_base on (a lock file per block, released
  // when the process ends), and slot n runs as the block's n-th uid. Two judges on one
  // host never share a uid, so process limits and leak checks stay per judge.
  uid_t uid_base = 1'000'000'000;
  std::string uid_lock_dir;         // default: /run/crucible, else $TMPDIR
  std::string state_parent;         // default: $TMPDIR or /tmp
};

class ForkServerSandbox : public Sandbox {
 public:
  static absl::StatusOr<std::unique_ptr<ForkServerSandbox>> Start(const SandboxOptions& options);
  ~ForkServerSandbox() override;

  absl::StatusOr<SandboxOutput> Run(const v1::SandboxLimits& limits,
                                    const SandboxCommand& command) override;
  std::pair<uid_t, gid_t> OutsideIds(int slot) const override;
  const v1::SandboxServerInfo& info() const override { return info_; }

  static constexpr int kUidBlock = 256;
  // The first uid of this sandbox's block (its slot 0).
  uid_t first_uid() const { return OutsideIds(0).first; }

  // The server's pid, for tests that kill it.
  pid_t server_pid() const;
  // Replaces a dead server; called by Run when the server cannot be reached.
  absl::Status Restart(uint64_t seen_generation);

 private:
  explicit ForkServerSandbox(SandboxOptions options) : options_(std::move(options)) {}
  absl::Status Launch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Shutdown() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Status AcquireUidBlock();

  const SandboxOptions options_;
  v1::SandboxServerInfo info_;
  uid_t block_start_ = 0;
  int block_lock_fd_ = -1;
  std::atomic<uint64_t> next_run_id_{1};
  mutable absl::Mutex mu_;
  int control_fd_ ABSL_GUARDED_BY(mu_) = -1;
  pid_t server_pid_ ABSL_GUARDED_BY(mu_) = -1;
  std::string state_dir_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

// The default location of the server binary: beside the running executable.
std::string DefaultSandboxServerBinary();

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_SANDBOX_H_
