// Sandbox: run commands under limits, isolated, and report what happened.
//
// Commands run in sessions. A session is one sandbox — namespaces, file system view with
// a host directory at /work, cgroup, limits — that runs commands one after another, each
// as a fresh process with fresh scratch directories and nothing left of the previous one
// (see fork_server.h). The judge opens one session for all tests of a program. Stdin is
// given as bytes; stdout and stderr come back as bytes, capped by the output limit
// (RLIMIT_FSIZE), which the program reaches as SIGXFSZ or EFBIG. A Status error means the
// sandbox failed (the judge's SE); everything the program did is in the SandboxResult.
//
// The one implementation, ForkServerSandbox, starts the crucible-sandbox server as a child
// of the calling process. Sessions may be opened and used from many threads at once, one
// thread per session, each on its own slot.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_SANDBOX_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_SANDBOX_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "crucible/v1/sandbox.pb.h"

namespace crucible::sandbox {

struct SessionOptions {
  std::string work_dir;            // host directory, mounted at /work
  bool work_dir_writable = false;
  std::string precompiled_dir;     // optional host directory, mounted read-only at /precompiled
  int slot = 0;                    // concurrent sessions use distinct slots
  bool pin_cpu = true;             // run on one CPU (slot-determined): steadier timings
  v1::SandboxLimits limits;        // for every command of the session
};

struct SandboxCommand {
  std::vector<std::string> argv;   // exec'd inside; also the zygote's fallback
  v1::RunRequest::Action action = v1::RunRequest::EXEC;
  std::string python_script;       // path inside the sandbox, for the zygote actions
  bool report_compile_error = false;  // see RunRequest
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

class SandboxSession {
 public:
  virtual ~SandboxSession() = default;
  virtual absl::StatusOr<SandboxOutput> Run(const SandboxCommand& command) = 0;
  // Callable from any thread: a Run in progress is killed and returns CANCELLED, and the
  // session is closed (later Runs fail).
  virtual void Cancel() = 0;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  virtual absl::StatusOr<std::unique_ptr<SandboxSession>> OpenSession(
      const SessionOptions& options) = 0;
  // The host uid/gid a slot's sandbox user maps to (files it must write are chowned so).
  virtual std::pair<uid_t, gid_t> OutsideIds(int slot) const = 0;
  virtual const v1::SandboxServerInfo& info() const = 0;

  // A session of one command.
  absl::StatusOr<SandboxOutput> RunOnce(const SessionOptions& options,
                                        const SandboxCommand& command);
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
  static constexpr int kUidBlock = 256;

  static absl::StatusOr<std::unique_ptr<ForkServerSandbox>> Start(const SandboxOptions& options);
  ~ForkServerSandbox() override;

  absl::StatusOr<std::unique_ptr<SandboxSession>> OpenSession(
      const SessionOptions& options) override;
  std::pair<uid_t, gid_t> OutsideIds(int slot) const override;
  const v1::SandboxServerInfo& info() const override { return info_; }

  // The server's pid, for tests that kill it.
  pid_t server_pid() const;

 private:
  explicit ForkServerSandbox(SandboxOptions options) : options_(std::move(options)) {}
  absl::Status AcquireUidBlock();
  absl::Status Launch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Shutdown() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces a dead server unless another thread already did (generation changed).
  absl::Status Restart(uint64_t seen_generation);

  const SandboxOptions options_;
  v1::SandboxServerInfo info_;
  uid_t block_start_ = 0;
  int block_lock_fd_ = -1;
  std::atomic<uint64_t> next_session_id_{1};
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
