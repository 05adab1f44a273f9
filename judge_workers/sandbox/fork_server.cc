#include "judge_workers/sandbox/fork_server.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "crucible/v1/sandbox.pb.h"
#include "judge_workers/sandbox/cgroups.h"
#include "judge_workers/sandbox/ipc.h"
#include "judge_workers/sandbox/mounts.h"
#include "judge_workers/sandbox/namespaces.h"
#include "judge_workers/sandbox/python_zygote.h"
#include "judge_workers/sandbox/rlimits.h"
#include "judge_workers/sandbox/seccomp.h"

namespace crucible::sandbox {
namespace {

constexpr const char* kEnvironment[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp",
                                        "LANG=C.UTF-8", "TMPDIR=/tmp", "PWD=/work", nullptr};

// Time the monitor allows the init beyond the run's wall-clock limit for building the
// sandbox and tearing it down, before it kills the init itself.
constexpr int64_t kBackstopMs = 10'000;

struct HostSupport {
  Cgroups cgroups;
  SeccompProgram seccomp;
  bool seccomp_notify = false;
  bool proc_mount = false;
  bool python_zygote = false;
  std::string root_dir;  // the skeleton each sandbox's root is built on
};

// What the init tells the monitor; plain data through a pipe.
struct InitReport {
  char error[480];  // non-empty: the sandbox could not be set up
  int32_t child_started;
  int32_t exit_code;
  int32_t term_signal;
  int32_t wall_timeout;
  int32_t blocked_nr;  // -1: nothing was refused
  int32_t seccomp_killed;
  int64_t cpu_us;
  int64_t wall_us;
  int64_t maxrss_kib;
};

struct RunFds {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int result_fd = -1;
};

// The CPUs this server may use, read once at start-up.
std::vector<int>& AllowedCpus() {
  static std::vector<int> cpus;
  return cpus;
}

void ReadAllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) AllowedCpus().push_back(cpu);
  }
}

// Keeping a run on one CPU gives steadier timings and spares every copy-on-write fault a
// TLB-shootdown interrupt to the CPU the process last ran on.
void PinToSlotCpu(int slot) {
  const std::vector<int>& cpus = AllowedCpus();
  if (cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[static_cast<size_t>(slot) % cpus.size()], &set);
  ::sched_setaffinity(0, sizeof(set), &set);
}

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void CloseStdio(RunFds& fds) {
  CloseFd(fds.stdin_fd);
  CloseFd(fds.stdout_fd);
  CloseFd(fds.stderr_fd);
}

void CopyError(const absl::Status& status, char* out, size_t size) {
  std::string text(status.message());
  if (text.empty()) text = status.ToString();
  std::snprintf(out, size, "%s", text.c_str());
}

void CloseFrom(int first) {
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  for (int fd = first; fd < 4096; ++fd) ::close(fd);
}

// ----------------------------------------------------------------------------------------
// The program (pid 2 inside). Everything before exec runs our code; any failure is
// reported to the init as "E<message>" and is the sandbox's failure, not the program's.

[[noreturn]] void ChildFail(int channel, const absl::Status& status) {
  SendMessage(channel, absl::StrCat("E", status.message()), {}).IgnoreError();
  ::_exit(127);
}

absl::Status DropPrivileges() {
  for (int cap = 0; cap <= 63; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return ErrnoToStatus(errno, "drop capability bounding set");
    }
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (::setresgid(kSandboxGid, kSandboxGid, kSandboxGid) != 0) {
    return ErrnoToStatus(errno, "setresgid");
  }
  if (::setresuid(kSandboxUid, kSandboxUid, kSandboxUid) != 0) {
    return ErrnoToStatus(errno, "setresuid");
  }
  // The uid change alone does not clear capabilities here (the init's uid is unmapped,
  // not 0, inside the namespace), so they are dropped explicitly.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0) return ErrnoToStatus(errno, "capset");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ErrnoToStatus(errno, "PR_SET_NO_NEW_PRIVS");
  }
  return absl::OkStatus();
}

void ResetSignals(bool keep_dispositions) {
  if (!keep_dispositions) {
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      ::signal(sig, SIG_DFL);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

[[noreturn]] void ChildMain(const v1::SandboxRequest& request, const HostSupport& host,
                            int channel, const RunFds& fds) {
  if (::dup2(fds.stdin_fd, STDIN_FILENO) < 0 || ::dup2(fds.stdout_fd, STDOUT_FILENO) < 0 ||
      ::dup2(fds.stderr_fd, STDERR_FILENO) < 0) {
    ChildFail(channel, ErrnoToStatus(errno, "dup2 stdio"));
  }
  if (::dup2(channel, 3) < 0) ChildFail(channel, ErrnoToStatus(errno, "dup2 channel"));
  channel = 3;
  ::fcntl(channel, F_SETFD, FD_CLOEXEC);
  CloseFrom(4);
  if (::chdir("/work") != 0) ChildFail(channel, ErrnoToStatus(errno, "chdir /work"));
  ::setsid();
  if (absl::Status s = DropPrivileges(); !s.ok()) ChildFail(channel, s);
  if (absl::Status s = ApplyRlimits(request.limits(), host.cgroups.mode() != CgroupMode::kNone);
      !s.ok()) {
    ChildFail(channel, s);
  }
  const bool python = host.python_zygote && request.python_action() != v1::SandboxRequest::EXEC;
  // The zygote keeps the dispositions python3 sets up for itself (SIGPIPE and SIGXFSZ
  // ignored); an exec'd program starts from the defaults.
  ResetSignals(/*keep_dispositions=*/python);
  absl::StatusOr<int> listener = host.seccomp.Install();
  if (!listener.ok()) ChildFail(channel, listener.status());
  if (*listener >= 0) {
    if (absl::Status s = SendMessage(channel, "N", {*listener}); !s.ok()) ChildFail(channel, s);
    ::close(*listener);
  } else if (absl::Status s = SendMessage(channel, "R", {}); !s.ok()) {
    ChildFail(channel, s);
  }
  if (python) {
    ::close(channel);
    RunPythonAndExit(request.python_action() == v1::SandboxRequest::PYTHON_CHECK,
                     request.python_script());
  }
  std::vector<char*> argv;
  for (const std::string& arg : request.argv()) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execve(argv[0], argv.data(), const_cast<char* const*>(kEnvironment));
  ChildFail(channel, ErrnoToStatus(errno, absl::StrCat("execve ", request.argv(0))));
}

// ----------------------------------------------------------------------------------------
// The init (pid 1 inside).

[[noreturn]] void InitMain(const v1::SandboxRequest& request, const HostSupport& host,
                           int go_fd, int report_fd, RunFds fds) {
  InitReport report{};
  report.blocked_nr = -1;
  auto finish = [&]() {
    ssize_t unused = ::write(report_fd, &report, sizeof(report));
    (void)unused;
    ::_exit(0);
  };
  auto setup_failed = [&](const absl::Status& status) {
    CopyError(status, report.error, sizeof(report.error));
    finish();
  };
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  char go = 0;
  if (::read(go_fd, &go, 1) != 1 || go != 'G') ::_exit(1);
  ::close(go_fd);

  if (absl::Status s = SetSandboxHostname(); !s.ok()) setup_failed(s);
  MountPlan plan;
  plan.skeleton = host.root_dir;
  plan.work_dir = request.work_dir();
  plan.work_dir_writable = request.work_dir_writable();
  plan.tmp_bytes = request.limits().tmp_bytes() > 0 ? request.limits().tmp_bytes() : 16 << 20;
  plan.mount_proc = host.proc_mount;
  if (absl::Status s = EnterSandboxRoot(plan); !s.ok()) setup_failed(s);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  int channel[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    setup_failed(ErrnoToStatus(errno, "socketpair"));
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int sigfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) setup_failed(ErrnoToStatus(errno, "signalfd"));

  const int64_t start_us = NowUs();
  pid_t child = ::fork();
  if (child == 0) {
    ::close(channel[0]);
    ::close(report_fd);
    ::close(sigfd);
    ChildMain(request, host, channel[1], fds);
  }
  ::close(channel[1]);
  CloseStdio(fds);
  if (child < 0) setup_failed(ErrnoToStatus(errno, "fork"));
  report.child_started = 1;

  int64_t deadline_us = start_us + request.limits().wall_time_ms() * 1000;
  int channel_fd = channel[0];
  int listener = -1;
  bool child_done = false;
  while (!child_done) {
    pollfd pfds[3];
    int n = 0;
    pfds[n++] = {sigfd, POLLIN, 0};
    if (channel_fd >= 0) pfds[n++] = {channel_fd, POLLIN, 0};
    if (listener >= 0) pfds[n++] = {listener, POLLIN, 0};
    int timeout_ms = -1;
    if (deadline_us > 0) {
      int64_t left = deadline_us - NowUs();
      if (left <= 0) {
        report.wall_timeout = 1;
        ::kill(-1, SIGKILL);
        deadline_us = 0;
        continue;
      }
      timeout_ms = static_cast<int>(std::min<int64_t>((left + 999) / 1000, 1 << 30));
    }
    int rc = ::poll(pfds, n, timeout_ms);
    if (rc < 0 && errno != EINTR) setup_failed(ErrnoToStatus(errno, "poll"));
    for (int i = 0; i < n && rc > 0; ++i) {
      if (pfds[i].revents == 0) continue;
      if (pfds[i].fd == sigfd) {
        signalfd_siginfo info;
        while (::read(sigfd, &info, sizeof(info)) > 0) {
        }
        int status = 0;
        rusage usage;
        pid_t pid;
        while ((pid = ::wait4(-1, &status, WNOHANG, &usage)) > 0) {
          if (pid != child) continue;  // an orphan reparented to us
          child_done = true;
          if (WIFEXITED(status)) report.exit_code = WEXITSTATUS(status);
          if (WIFSIGNALED(status)) report.term_signal = WTERMSIG(status);
        }
      } else if (pfds[i].fd == channel_fd) {
        absl::StatusOr<ReceivedMessage> msg = ReceiveMessage(channel_fd);
        if (!msg.ok() || msg->eof) {
          CloseFd(channel_fd);
          continue;
        }
        if (!msg->data.empty() && msg->data[0] == 'N' && !msg->fds.empty() && listener < 0) {
          listener = msg->fds.front();
          msg->fds.erase(msg->fds.begin());
        } else if (!msg->data.empty() && msg->data[0] == 'E') {
          std::snprintf(report.error, sizeof(report.error), "%s", msg->data.c_str() + 1);
        }
        for (int fd : msg->fds) ::close(fd);
      } else if (pfds[i].fd == listener) {
        if (pfds[i].revents & (POLLHUP | POLLERR)) {
          CloseFd(listener);
          continue;
        }
        absl::StatusOr<SeccompNotice> notice = ReceiveNotification(listener);
        if (!notice.ok()) continue;
        // The first refusal is reported, unless a later one kills the sandbox: then that
        // one is the cause of death and is reported instead. A killing refusal kills
        // before it answers, so the program never runs past the call.
        if (report.blocked_nr < 0) report.blocked_nr = notice->syscall_nr;
        if (!report.seccomp_killed &&
            RefusalFor(notice->syscall_nr, notice->arg0) == Refusal::kKill) {
          report.blocked_nr = notice->syscall_nr;
          report.seccomp_killed = 1;
          ::kill(-1, SIGKILL);
        }
        RefuseNotification(listener, *notice).IgnoreError();
      }
    }
  }
  // The program is gone; nothing it started may outlive it.
  ::kill(-1, SIGKILL);
  while (true) {
    pid_t pid = ::waitpid(-1, nullptr, 0);
    if (pid > 0 || (pid < 0 && errno == EINTR)) continue;
    break;
  }
  report.wall_us = NowUs() - start_us;
  rusage usage;
  ::getrusage(RUSAGE_CHILDREN, &usage);
  report.cpu_us = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000LL +
                  usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
  report.maxrss_kib = usage.ru_maxrss;
  finish();
}

// ----------------------------------------------------------------------------------------
// The server side of a run: everything the monitor of the diagram does happens in the
// server's event loop, so a run costs one clone of the server rather than a fork and a
// clone (on small VMs every page a new process touches is a ~10 us fault).

absl::Status ValidateRequest(const v1::SandboxRequest& request) {
  if (request.argv_size() == 0 && request.python_action() == v1::SandboxRequest::EXEC) {
    return absl::InvalidArgumentError("empty argv");
  }
  if (request.work_dir().empty() || request.work_dir()[0] != '/') {
    return absl::InvalidArgumentError("work_dir must be an absolute path");
  }
  if (::geteuid() == 0 && (request.outside_uid() == 0 || request.outside_gid() == 0)) {
    return absl::InvalidArgumentError("the sandbox user must not map to root");
  }
  const v1::SandboxLimits& l = request.limits();
  if (l.cpu_time_ms() <= 0 || l.wall_time_ms() <= 0 || l.memory_bytes() <= 0 ||
      l.max_processes() <= 0 || l.max_file_bytes() <= 0 || l.max_open_files() <= 0) {
    return absl::InvalidArgumentError("every limit must be positive");
  }
  return absl::OkStatus();
}

void SendResult(int result_fd, const v1::SandboxResult& result) {
  std::string bytes;
  result.SerializeToString(&bytes);
  WriteAll(result_fd, bytes).IgnoreError();
}

struct ActiveRun {
  uint64_t run_id = 0;
  int report_fd = -1;
  int result_fd = -1;
  RunCgroup cgroup;
  int64_t backstop_us = 0;
  bool backstop_fired = false;
};

class Server {
 public:
  Server(const ForkServerOptions& options, HostSupport& host, int sigfd)
      : options_(options), host_(host), sigfd_(sigfd) {}

  void Loop();

 private:
  void StartRun(v1::SandboxRequest request, RunFds fds);
  void FinishRun(pid_t init, ActiveRun& run);
  void ReapInits();
  int NextTimeoutMs() const;
  void FireBackstops();

  const ForkServerOptions& options_;
  HostSupport& host_;
  const int sigfd_;
  std::map<pid_t, ActiveRun> runs_;
  bool running_ = true;
};

void Server::StartRun(v1::SandboxRequest request, RunFds fds) {
  v1::SandboxResult failure;
  failure.set_run_id(request.run_id());
  auto fail = [&](const absl::Status& status) {
    failure.set_error(std::string(status.message()));
    SendResult(fds.result_fd, failure);
    CloseStdio(fds);
    CloseFd(fds.result_fd);
  };
  if (absl::Status s = ValidateRequest(request); !s.ok()) return fail(s);
  absl::StatusOr<RunCgroup> cgroup =
      host_.cgroups.CreateRun(absl::StrCat("run-", request.run_id()),
                              request.limits().memory_bytes(), request.limits().max_processes());
  if (!cgroup.ok()) return fail(cgroup.status());
  int go[2], report[2];
  if (::pipe2(go, O_CLOEXEC) != 0) {
    cgroup->Remove().IgnoreError();
    return fail(ErrnoToStatus(errno, "pipe"));
  }
  if (::pipe2(report, O_CLOEXEC) != 0) {
    ::close(go[0]);
    ::close(go[1]);
    cgroup->Remove().IgnoreError();
    return fail(ErrnoToStatus(errno, "pipe"));
  }
  PythonBeforeFork();
  absl::StatusOr<pid_t> init = CloneIntoNamespaces(SandboxCloneFlags());
  if (init.ok() && *init == 0) {
    // The init keeps only its own descriptors, at known numbers; every other run's
    // descriptors and the server's sockets stay behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (request.pin_cpu()) PinToSlotCpu(request.slot());
    const int keep[] = {go[0], report[1], fds.stdin_fd, fds.stdout_fd, fds.stderr_fd};
    int moved[5];
    for (int i = 0; i < 5; ++i) moved[i] = ::fcntl(keep[i], F_DUPFD_CLOEXEC, 100);
    for (int i = 0; i < 5; ++i) {
      if (moved[i] < 0 || ::dup3(moved[i], 3 + i, O_CLOEXEC) < 0) ::_exit(1);
    }
    CloseFrom(8);
    InitMain(request, host_, 3, 4, RunFds{5, 6, 7, -1});
  }
  PythonAfterForkInParent();
  ::close(go[0]);
  ::close(report[1]);
  CloseStdio(fds);
  if (!init.ok()) {
    ::close(go[1]);
    ::close(report[0]);
    cgroup->Remove().IgnoreError();
    return fail(init.status());
  }
  absl::Status setup = WriteIdMaps(*init, request.outside_uid(), request.outside_gid());
  if (setup.ok()) setup = cgroup->AddProcess(*init);
  if (setup.ok() && ::write(go[1], "G", 1) != 1) setup = ErrnoToStatus(errno, "start the init");
  ::close(go[1]);
  ActiveRun run;
  run.run_id = request.run_id();
  run.report_fd = report[0];
  run.result_fd = fds.result_fd;
  run.cgroup = *std::move(cgroup);
  run.backstop_us = NowUs() + (request.limits().wall_time_ms() + kBackstopMs) * 1000;
  if (!setup.ok()) {
    // The init is waiting for "G" and dies when its pipe closes; FinishRun reports.
    ::kill(*init, SIGKILL);
    failure.set_error(std::string(setup.message()));
    SendResult(run.result_fd, failure);
    CloseFd(run.result_fd);
  }
  runs_.emplace(*init, std::move(run));
}

void Server::FinishRun(pid_t init, ActiveRun& run) {
  InitReport report{};
  ssize_t got = ::read(run.report_fd, &report, sizeof(report));
  CloseFd(run.report_fd);
  CgroupStats stats = run.cgroup.ReadStats();
  if (absl::Status removed = run.cgroup.Remove(); !removed.ok()) {
    std::fprintf(stderr, "crucible-sandbox: run %llu: %s\n",
                 static_cast<unsigned long long>(run.run_id),
                 std::string(removed.message()).c_str());
  }
  if (run.result_fd < 0) return;  // already answered
  v1::SandboxResult result;
  result.set_run_id(run.run_id);
  if (got != static_cast<ssize_t>(sizeof(report))) {
    result.set_error(run.backstop_fired
                         ? "the sandbox init did not finish within the wall-clock limit "
                           "plus its backstop"
                         : "the sandbox init died without reporting");
  } else if (report.error[0] != '\0') {
    result.set_error(absl::StrCat("sandbox setup failed: ", report.error));
  } else {
    result.set_exit_code(report.exit_code);
    result.set_term_signal(report.term_signal);
    result.set_cpu_time_us(report.cpu_us);
    result.set_wall_time_us(report.wall_us);
    result.set_wall_timeout(report.wall_timeout != 0);
    result.set_oom_killed(stats.oom_kills > 0);
    if (run.cgroup.active() && stats.peak_memory_bytes >= 0) {
      result.set_peak_memory_bytes(stats.peak_memory_bytes);
      result.set_memory_from_cgroup(true);
    } else {
      result.set_peak_memory_bytes(report.maxrss_kib * 1024);
    }
    if (report.blocked_nr >= 0) result.set_blocked_syscall(SyscallName(report.blocked_nr));
    result.set_seccomp_killed(report.seccomp_killed != 0);
  }
  SendResult(run.result_fd, result);
  CloseFd(run.result_fd);
}

void Server::ReapInits() {
  pid_t pid;
  while ((pid = ::waitpid(-1, nullptr, WNOHANG)) > 0) {
    auto it = runs_.find(pid);
    if (it == runs_.end()) continue;  // a probe's child
    FinishRun(pid, it->second);
    runs_.erase(it);
  }
}

int Server::NextTimeoutMs() const {
  if (runs_.empty()) return -1;
  int64_t earliest = INT64_MAX;
  for (const auto& [pid, run] : runs_) {
    if (!run.backstop_fired) earliest = std::min(earliest, run.backstop_us);
  }
  if (earliest == INT64_MAX) return -1;
  return static_cast<int>(std::clamp<int64_t>((earliest - NowUs() + 999) / 1000, 0, 1 << 30));
}

void Server::FireBackstops() {
  const int64_t now = NowUs();
  for (auto& [pid, run] : runs_) {
    if (!run.backstop_fired && run.backstop_us <= now) {
      run.backstop_fired = true;
      ::kill(pid, SIGKILL);  // its PID namespace goes with it
    }
  }
}

void Server::Loop() {
  while (running_ || !runs_.empty()) {
    pollfd pfds[2] = {{running_ ? options_.control_fd : -1, POLLIN, 0}, {sigfd_, POLLIN, 0}};
    int rc = ::poll(pfds, 2, NextTimeoutMs());
    if (rc < 0 && errno != EINTR) break;
    if (pfds[1].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd_, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) running_ = false;
      }
      ReapInits();
    }
    FireBackstops();
    if (!running_) {
      // Stopping: runs in flight are abandoned; their result descriptors see EOF.
      for (auto& [pid, run] : runs_) ::kill(pid, SIGKILL);
      continue;
    }
    if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      absl::StatusOr<ReceivedMessage> msg = ReceiveMessage(options_.control_fd);
      if (!msg.ok() || msg->eof) {
        running_ = false;
        for (auto& [pid, run] : runs_) ::kill(pid, SIGKILL);
        continue;
      }
      v1::SandboxRequest request;
      if (msg->fds.size() != 4 || !request.ParseFromString(msg->data)) {
        std::fprintf(stderr, "crucible-sandbox: malformed request (%zu bytes, %zu fds) dropped\n",
                     msg->data.size(), msg->fds.size());
        for (int fd : msg->fds) ::close(fd);
        continue;
      }
      StartRun(std::move(request), RunFds{msg->fds[0], msg->fds[1], msg->fds[2], msg->fds[3]});
    }
  }
}

}  // namespace

const char* const* SandboxEnvironment() { return kEnvironment; }

int RunForkServer(const ForkServerOptions& options) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // The zygote's os.environ is copied from this process: it must be the sandbox's.
  ::clearenv();
  for (const char* const* env = kEnvironment; *env != nullptr; ++env) {
    ::putenv(const_cast<char*>(*env));
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  ReadAllowedCpus();
  HostSupport host;
  v1::SandboxServerInfo info;
  // Supplementary groups (root's, typically) would follow every program into its
  // namespace and keep granting group access to host files.
  if (::geteuid() == 0 && ::setgroups(0, nullptr) != 0) {
    info.set_error(absl::StrCat("setgroups: ", std::strerror(errno)));
  }
  host.cgroups = Cgroups::Setup(options.cgroup_parent);
  host.cgroups.RemoveStaleGroups();
  host.seccomp_notify = ProbeSeccompNotify();
  if (absl::StatusOr<SeccompProgram> program = SeccompProgram::Build(host.seccomp_notify);
      program.ok()) {
    host.seccomp = *std::move(program);
  } else {
    info.set_error(absl::StrCat("seccomp policy: ", program.status().message()));
  }
  host.proc_mount = ProbeProcMount();
  host.root_dir = options.state_dir + "/root";

  info.set_cgroup_mode(std::string(host.cgroups.mode_name()));
  info.set_cgroup_detail(host.cgroups.detail());
  for (const std::string& dir : host.cgroups.parent_dirs()) info.add_cgroup_dirs(dir);
  info.set_seccomp_notify(host.seccomp_notify);
  info.set_proc_mount(host.proc_mount);
  if (absl::Status s = BuildSkeleton(host.root_dir); !s.ok()) {
    info.set_error(absl::StrCat("sandbox skeleton: ", s.message()));
  }
  if (sigfd < 0) info.set_error(absl::StrCat("signalfd: ", std::strerror(errno)));
  if (options.python_zygote) {
    absl::StatusOr<std::string> version = InitializePythonZygote(options.python_executable);
    if (version.ok()) {
      host.python_zygote = true;
      info.set_python_zygote(true);
      info.set_python_version(*version);
    } else {
      std::fprintf(stderr, "crucible-sandbox: %s; Python runs will exec the interpreter\n",
                   std::string(version.status().message()).c_str());
    }
  }
  std::string info_bytes;
  info.SerializeToString(&info_bytes);
  if (!SendMessage(options.control_fd, info_bytes, {}).ok() || !info.error().empty()) {
    host.cgroups.Teardown();
    return 1;
  }
  Server server(options, host, sigfd);
  server.Loop();
  host.cgroups.Teardown();
  return 0;
}

}  // namespace crucible::sandbox
