#include "judge_workers/sandbox/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "judge_workers/sandbox/ipc.h"

#ifndef CRUCIBLE_PYTHON_EXECUTABLE
#define CRUCIBLE_PYTHON_EXECUTABLE "/usr/bin/python3"
#endif

namespace crucible::sandbox {
namespace {

// How long the judge waits for a result beyond the run's own wall-clock limit before it
// declares the sandbox server lost.
constexpr int64_t kResultGraceMs = 30'000;
constexpr int kServerStartTimeoutMs = 60'000;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::StatusOr<Fd> MakeMemfd(const char* name) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "memfd_create");
  return Fd(fd);
}

// A read-only descriptor holding `data`: the program cannot rewrite its own input.
absl::StatusOr<Fd> MakeInputFd(absl::string_view data) {
  CRUCIBLE_ASSIGN_OR_RETURN(Fd fd, MakeMemfd("stdin"));
  CRUCIBLE_RETURN_IF_ERROR(WriteAll(fd.get(), data));
  std::string path = absl::StrCat("/proc/self/fd/", fd.get());
  int ro = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ro < 0) return ErrnoToStatus(errno, "reopen stdin read-only");
  return Fd(ro);
}

absl::StatusOr<std::string> ReadMemfd(int fd, size_t max_bytes, int64_t* size) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoToStatus(errno, "fstat output");
  *size = st.st_size;
  size_t n = std::min<size_t>(static_cast<size_t>(st.st_size), max_bytes);
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += static_cast<size_t>(r);
  }
  out.resize(done);
  return out;
}

}  // namespace

std::string DefaultSandboxServerBinary() { return ExecutableDir() + "/crucible-sandbox"; }

absl::StatusOr<std::unique_ptr<ForkServerSandbox>> ForkServerSandbox::Start(
    const SandboxOptions& options) {
  SandboxOptions resolved = options;
  if (resolved.server_binary.empty()) resolved.server_binary = DefaultSandboxServerBinary();
  if (resolved.python_executable.empty()) resolved.python_executable = CRUCIBLE_PYTHON_EXECUTABLE;
  if (resolved.state_parent.empty()) resolved.state_parent = TempRoot();
  // State directories of judges that died without cleaning up.
  RemoveEntriesOfDeadProcesses(resolved.state_parent, "crucible-sandbox.", '.');
  std::unique_ptr<ForkServerSandbox> sandbox(new ForkServerSandbox(std::move(resolved)));
  CRUCIBLE_RETURN_IF_ERROR(sandbox->AcquireUidBlock());
  absl::MutexLock lock(&sandbox->mu_);
  CRUCIBLE_RETURN_IF_ERROR(sandbox->Launch());
  const v1::SandboxServerInfo& info = sandbox->info_;
  CRUCIBLE_LOG(Info) << "sandbox: cgroups " << info.cgroup_mode() << " (" << info.cgroup_detail()
                     << "), seccomp notification " << (info.seccomp_notify() ? "yes" : "no")
                     << ", fresh /proc " << (info.proc_mount() ? "yes" : "no")
                     << ", python zygote "
                     << (info.python_zygote() ? info.python_version().substr(0, 6) : "off");
  if (info.cgroup_mode() == "none") {
    CRUCIBLE_LOG(Warning) << "sandbox: no usable cgroups (" << info.cgroup_detail()
                          << "); memory and process limits rely on rlimits alone";
  }
  return sandbox;
}

ForkServerSandbox::~ForkServerSandbox() {
  {
    absl::MutexLock lock(&mu_);
    Shutdown();
  }
  if (block_lock_fd_ >= 0) ::close(block_lock_fd_);
}

absl::Status ForkServerSandbox::Launch() {
  CRUCIBLE_ASSIGN_OR_RETURN(
      state_dir_, MakeTempDir(options_.state_parent, absl::StrCat("crucible-sandbox.", ::getpid(), ".")));
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoToStatus(errno, "socketpair");
  }
  Fd ours(sv[0]), theirs(sv[1]);
  Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  SpawnOptions spawn;
  spawn.argv = {options_.server_binary, "--control_fd=3", "--state_dir=" + state_dir_,
                "--python=" + options_.python_executable,
                options_.python_zygote ? "--python_zygote" : "--nopython_zygote"};
  if (!options_.cgroup_parent.empty()) {
    spawn.argv.push_back("--cgroup_parent=" + options_.cgroup_parent);
  }
  // Symbols resolved once in the server, not lazily (and page by page) in every fork.
  spawn.env = std::vector<std::string>{"LD_BIND_NOW=1"};
  spawn.stdin_fd = devnull.get();
  spawn.stdout_fd = devnull.get();
  spawn.extra_fds = {{theirs.get(), 3}};
  absl::StatusOr<pid_t> pid = Spawn(spawn);
  if (!pid.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot start the sandbox server ", options_.server_binary, ": ", pid.status().message()));
  }
  theirs.reset();
  server_pid_ = *pid;
  control_fd_ = ours.release();
  ++generation_;

  pollfd p{control_fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, kServerStartTimeoutMs);
  absl::StatusOr<ReceivedMessage> hello =
      rc > 0 ? ReceiveMessage(control_fd_) : absl::DeadlineExceededError("no hello");
  if (!hello.ok() || hello->eof || !info_.ParseFromString(hello->data)) {
    Shutdown();
    return absl::FailedPreconditionError(
        "the sandbox server exited during start-up (see its message above)");
  }
  if (!info_.error().empty()) {
    std::string error = info_.error();
    Shutdown();
    return absl::FailedPreconditionError(absl::StrCat("sandbox server: ", error));
  }
  return absl::OkStatus();
}

void ForkServerSandbox::Shutdown() {
  if (control_fd_ >= 0) ::close(control_fd_);
  control_fd_ = -1;
  if (server_pid_ > 0) {
    // Closing the socket asks the server to stop; it gets a moment before SIGKILL.
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(server_pid_, nullptr, WNOHANG) == server_pid_) {
        server_pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (server_pid_ > 0) {
      ::kill(server_pid_, SIGKILL);
      ::waitpid(server_pid_, nullptr, 0);
    }
  }
  server_pid_ = -1;
  if (!state_dir_.empty()) RemoveTree(state_dir_).IgnoreError();
  state_dir_.clear();
}

absl::Status ForkServerSandbox::Restart(uint64_t seen_generation) {
  absl::MutexLock lock(&mu_);
  if (generation_ != seen_generation) return absl::OkStatus();
  CRUCIBLE_LOG(Warning) << "sandbox: server " << server_pid_ << " is gone; starting a new one";
  Shutdown();
  return Launch();
}

pid_t ForkServerSandbox::server_pid() const {
  absl::MutexLock lock(&mu_);
  return server_pid_;
}

std::pair<uid_t, gid_t> ForkServerSandbox::OutsideIds(int slot) const {
  if (::geteuid() != 0) return {::geteuid(), ::getegid()};
  const uid_t id = block_start_ + static_cast<uid_t>(slot % kUidBlock);
  return {id, static_cast<gid_t>(id)};
}

absl::Status ForkServerSandbox::AcquireUidBlock() {
  if (::geteuid() != 0) return absl::OkStatus();  // unprivileged: the judge's own uid
  std::string dir = options_.uid_lock_dir;
  if (dir.empty()) {
    dir = "/run/crucible";
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) dir = TempRoot();
  }
  constexpr int kBlocks = 4096;
  for (int block = 0; block < kBlocks; ++block) {
    const uid_t start = options_.uid_base + static_cast<uid_t>(block * kUidBlock);
    std::string path = absl::StrCat(dir, "/crucible-uids-", start, ".lock");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", path));
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      block_start_ = start;
      block_lock_fd_ = fd;
      return absl::OkStatus();
    }
    ::close(fd);
  }
  return absl::ResourceExhaustedError(absl::StrCat("every block of sandbox uids from ",
                                                   options_.uid_base, " is taken"));
}

namespace {

class ForkServerSession : public SandboxSession {
 public:
  ForkServerSession(int fd, SessionOptions options, std::function<void()> on_lost)
      : fd_(fd), options_(std::move(options)), on_lost_(std::move(on_lost)) {}
  ~ForkServerSession() override { fd_.reset(); }

  void Cancel() override {
    absl::MutexLock lock(&cancel_mu_);
    cancelled_ = true;
    // Not closed here: Run may be reading it. The sandbox's init sees the shutdown and
    // kills the run; Run's read then ends.
    if (fd_.get() >= 0) ::shutdown(fd_.get(), SHUT_RDWR);
  }

  absl::StatusOr<SandboxOutput> Run(const SandboxCommand& command) override {
    if (fd_.get() < 0) return absl::UnavailableError("the sandbox session is closed");
    CRUCIBLE_ASSIGN_OR_RETURN(Fd in, MakeInputFd(command.stdin_data));
    CRUCIBLE_ASSIGN_OR_RETURN(Fd out, MakeMemfd("stdout"));
    CRUCIBLE_ASSIGN_OR_RETURN(Fd err, MakeMemfd("stderr"));
    v1::RunRequest request;
    for (const std::string& arg : command.argv) request.add_argv(arg);
    request.set_action(command.action);
    request.set_python_script(command.python_script);
    request.set_report_compile_error(command.report_compile_error);
    std::string bytes;
    request.SerializeToString(&bytes);
    if (absl::Status sent = SendMessage(fd_.get(), bytes, {in.get(), out.get(), err.get()}); !sent.ok()) {
      return Lost(absl::StrCat("the sandbox session is gone: ", sent.message()));
    }
    in.reset();
    absl::StatusOr<ReceivedMessage> reply =
        ReceiveWithin(fd_.get(), options_.limits.wall_time_ms() + kResultGraceMs);
    SandboxOutput output;
    if (!reply.ok() || reply->eof || !output.result.ParseFromString(reply->data)) {
      return Lost(reply.ok() ? "the sandbox session ended unexpectedly"
                             : std::string(reply.status().message()));
    }
    if (!output.result.error().empty()) {
      return absl::InternalError(absl::StrCat("sandbox: ", output.result.error()));
    }
    CRUCIBLE_ASSIGN_OR_RETURN(output.stdout_data,
                              ReadMemfd(out.get(), SIZE_MAX, &output.stdout_bytes));
    CRUCIBLE_ASSIGN_OR_RETURN(output.stderr_data,
                              ReadMemfd(err.get(), command.max_stderr_bytes, &output.stderr_bytes));
    return output;
  }

 private:
  absl::Status Lost(absl::string_view why) {
    absl::MutexLock lock(&cancel_mu_);
    fd_.reset();
    if (cancelled_) return absl::CancelledError("the sandbox session was cancelled");
    if (on_lost_) on_lost_();
    return absl::UnavailableError(std::string(why));
  }

  static absl::StatusOr<ReceivedMessage> ReceiveWithin(int fd, int64_t timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return absl::DeadlineExceededError("no result from the sandbox");
      int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
      if (rc < 0 && errno != EINTR) return ErrnoToStatus(errno, "poll");
      if (rc > 0) return ReceiveMessage(fd);
    }
  }

  Fd fd_;
  const SessionOptions options_;
  std::function<void()> on_lost_;
  absl::Mutex cancel_mu_;  // orders Cancel's shutdown against Lost's close
  bool cancelled_ ABSL_GUARDED_BY(cancel_mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SandboxSession>> ForkServerSandbox::OpenSession(
    const SessionOptions& options) {
  v1::SessionRequest request;
  request.set_session_id(next_session_id_.fetch_add(1));
  request.set_slot(options.slot);
  request.set_work_dir(options.work_dir);
  request.set_work_dir_writable(options.work_dir_writable);
  request.set_precompiled_dir(options.precompiled_dir);
  *request.mutable_limits() = options.limits;
  auto [uid, gid] = OutsideIds(options.slot);
  request.set_outside_uid(uid);
  request.set_outside_gid(gid);
  request.set_pin_cpu(options.pin_cpu);
  std::string bytes;
  request.SerializeToString(&bytes);

  for (int attempt = 0; attempt < 2; ++attempt) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      return ErrnoToStatus(errno, "socketpair");
    }
    Fd ours(sv[0]), theirs(sv[1]);
    int control_fd;
    uint64_t generation;
    {
      absl::MutexLock lock(&mu_);
      control_fd = control_fd_;
      generation = generation_;
    }
    absl::Status sent = control_fd < 0 ? absl::UnavailableError("no sandbox server")
                                       : SendMessage(control_fd, bytes, {theirs.get()});
    if (sent.ok()) {
      return std::unique_ptr<SandboxSession>(new ForkServerSession(
          ours.release(), options, [this, generation] {
            // A session that broke may mean the server died: replace it for later ones.
            bool dead = false;
            {
              absl::MutexLock lock(&mu_);
              dead = generation_ == generation && server_pid_ > 0 &&
                     ::waitpid(server_pid_, nullptr, WNOHANG) == server_pid_;
              if (dead) server_pid_ = -1;
            }
            if (dead) Restart(generation).IgnoreError();
          }));
    }
    CRUCIBLE_RETURN_IF_ERROR(Restart(generation));
  }
  return absl::UnavailableError("the sandbox server cannot be reached");
}

absl::StatusOr<SandboxOutput> Sandbox::RunOnce(const SessionOptions& options,
                                               const SandboxCommand& command) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<SandboxSession> session, OpenSession(options));
  return session->Run(command);
}

}  // namespace crucible::sandbox
