#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

extern char** environ;

namespace crucible {
namespace {

std::vector<char*> ToCharPtrs(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// A write to a pipe whose reader has gone must not kill the calling process: SIGPIPE is
// blocked for the call and a signal it raised is consumed before unblocking.
ssize_t WriteNoSigpipe(int fd, const void* data, size_t size) {
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ssize_t n = ::write(fd, data, size);
  int saved_errno = errno;
  if (n < 0 && errno == EPIPE) {
    const timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = saved_errno;
  return n;
}

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Sources are first moved to high descriptors so that a dup2 onto a low target never
  // clobbers a source that is still needed.
  std::vector<int> temporaries;
  auto stage = [&](int fd) -> int {
    int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (high >= 0) temporaries.push_back(high);
    return high;
  };
  absl::Status status;
  auto add_dup = [&](int src, int target) {
    if (src < 0 || !status.ok()) return;
    int high = stage(src);
    if (high < 0) {
      status = ErrnoToStatus(errno, "Spawn: dup");
      return;
    }
    posix_spawn_file_actions_adddup2(&actions, high, target);
  };
  add_dup(options.stdin_fd, STDIN_FILENO);
  add_dup(options.stdout_fd, STDOUT_FILENO);
  add_dup(options.stderr_fd, STDERR_FILENO);
  for (const auto& [src, target] : options.extra_fds) add_dup(src, target);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  if (options.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid = -1;
  if (status.ok()) {
    std::vector<char*> argv = ToCharPtrs(options.argv);
    std::vector<char*> envp;
    if (options.env.has_value()) envp = ToCharPtrs(*options.env);
    int rc = posix_spawn(&pid, options.argv[0].c_str(), &actions, &attr, argv.data(),
                         options.env.has_value() ? envp.data() : environ);
    if (rc != 0) status = ErrnoToStatus(rc, absl::StrCat("spawn ", options.argv[0]));
  }
  for (int fd : temporaries) ::close(fd);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (!status.ok()) return status;
  return pid;
}

absl::StatusOr<int> WaitForPid(pid_t pid) {
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return ErrnoToStatus(errno, absl::StrCat("waitpid ", pid));
  }
  return wstatus;
}

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::string& input,
                                         std::chrono::milliseconds timeout,
                                         const std::optional<std::vector<std::string>>& env,
                                         size_t max_output) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "pipe");
  FdCloser in_r{in_pipe[0]}, in_w{in_pipe[1]};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "pipe");
  FdCloser out_r{out_pipe[0]}, out_w{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "pipe");
  FdCloser err_r{err_pipe[0]}, err_w{err_pipe[1]};

  SpawnOptions options;
  options.argv = argv;
  options.env = env;
  options.stdin_fd = in_r.fd;
  options.stdout_fd = out_w.fd;
  options.stderr_fd = err_w.fd;
  options.new_process_group = true;
  CRUCIBLE_ASSIGN_OR_RETURN(pid_t pid, Spawn(options));
  ::close(in_r.fd), in_r.fd = -1;
  ::close(out_w.fd), out_w.fd = -1;
  ::close(err_w.fd), err_w.fd = -1;
  ::fcntl(in_w.fd, F_SETFL, O_NONBLOCK);

  ProcessResult result;
  size_t written = 0;
  if (input.empty()) ::close(in_w.fd), in_w.fd = -1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[1 << 16];
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out_r.fd >= 0) fds[n++] = {out_r.fd, POLLIN, 0};
    if (err_r.fd >= 0) fds[n++] = {err_r.fd, POLLIN, 0};
    if (in_w.fd >= 0) fds[n++] = {in_w.fd, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    int rc = ::poll(fds, n, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < n && rc > 0; ++i) {
      if (fds[i].revents == 0) continue;
      int fd = fds[i].fd;
      if (fd == in_w.fd) {
        ssize_t w = WriteNoSigpipe(fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
        if (written == input.size()) ::close(in_w.fd), in_w.fd = -1;
        continue;
      }
      ssize_t r = ::read(fd, buf, sizeof(buf));
      std::string& sink = fd == out_r.fd ? result.stdout_data : result.stderr_data;
      if (r > 0) {
        size_t room = max_output > sink.size() ? max_output - sink.size() : 0;
        sink.append(buf, std::min(room, static_cast<size_t>(r)));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        if (fd == out_r.fd) {
          ::close(out_r.fd), out_r.fd = -1;
        } else {
          ::close(err_r.fd), err_r.fd = -1;
        }
      }
    }
  }
  // The child may have closed its outputs and still run: keep the deadline while waiting.
  int wstatus = 0;
  while (!result.timed_out) {
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return ErrnoToStatus(errno, "waitpid");
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    ::usleep(1000);
  }
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);
    CRUCIBLE_ASSIGN_OR_RETURN(wstatus, WaitForPid(pid));
  }
  if (WIFEXITED(wstatus)) result.exit_code = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) result.signal = WTERMSIG(wstatus);
  return result;
}

}  // namespace crucible
