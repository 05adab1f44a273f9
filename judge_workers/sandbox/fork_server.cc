#include "judge_workers/sandbox/fork_server.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
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

struct HostSupport {
  Cgroups cgroups;
  SeccompProgram seccomp;
  bool seccomp_notify = false;
  bool proc_mount = false;
  bool python_zygote = false;
  std::string root_dir;  // the skeleton each sandbox's root is built on
};

struct StdioFds {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

int64_t CpuUs(const rusage& u) {
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1'000'000LL + u.ru_utime.tv_usec +
         u.ru_stime.tv_usec;
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void CloseFrom(int first) {
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  for (int fd = first; fd < 4096; ++fd) ::close(fd);
}

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

// Keeping a sandbox on one CPU gives steadier timings and spares every copy-on-write
// fault a TLB-shootdown interrupt to the CPU the process last ran on.
void PinToSlotCpu(int slot) {
  const std::vector<int>& cpus = AllowedCpus();
  if (cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpus[static_cast<size_t>(slot) % cpus.size()], &set);
  ::sched_setaffinity(0, sizeof(set), &set);
}

void SendResult(int fd, const v1::SandboxResult& result) {
  std::string bytes;
  result.SerializeToString(&bytes);
  SendMessage(fd, bytes, {}).IgnoreError();
}

void SendError(int fd, absl::string_view message) {
  v1::SandboxResult result;
  result.set_error(std::string(message));
  SendResult(fd, result);
}

// ----------------------------------------------------------------------------------------
// The program (pid > 1 inside). Everything before exec runs our code; any failure is
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

// Runs in a copy of the init (a Python run) or, for an exec'd program, in a vfork-style
// child sharing the init's memory until execve: the path to execve allocates nothing.
[[noreturn]] void ChildMain(const v1::SessionRequest& session, const v1::RunRequest& run,
                            const HostSupport& host, int channel, const StdioFds& fds,
                            char* const* exec_argv) {
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
  if (absl::Status s = ApplyRlimits(session.limits(), host.cgroups.mode() != CgroupMode::kNone);
      !s.ok()) {
    ChildFail(channel, s);
  }
  const bool python = host.python_zygote && run.action() != v1::RunRequest::EXEC;
  // The zygote keeps the dispositions python3 sets up for itself (SIGPIPE and SIGXFSZ
  // ignored); an exec'd program starts from the defaults.
  ResetSignals(/*keep_dispositions=*/python);
  absl::StatusOr<int> listener = host.seccomp.Install();
  if (!listener.ok()) ChildFail(channel, listener.status());
  // "N" (with the listener) or "R", and when the program's own part begins.
  char ready[1 + sizeof(int64_t)];
  ready[0] = *listener >= 0 ? 'N' : 'R';
  const int64_t now_us = NowUs();
  std::memcpy(ready + 1, &now_us, sizeof(now_us));
  const int listener_fd[1] = {*listener};
  if (absl::Status s = SendMessage(channel, absl::string_view(ready, sizeof(ready)),
                                   absl::MakeConstSpan(listener_fd, *listener >= 0 ? 1 : 0));
      !s.ok()) {
    ChildFail(channel, s);
  }
  if (*listener >= 0) ::close(*listener);
  if (python) {
    const bool report = run.action() == v1::RunRequest::PYTHON_RUN && run.report_compile_error();
    if (!report) ::close(channel);
    RunPythonAndExit(run.action() == v1::RunRequest::PYTHON_CHECK, run.python_script(),
                     report ? channel : -1);
  }
  ::execve(exec_argv[0], exec_argv, const_cast<char* const*>(kEnvironment));
  ChildFail(channel, ErrnoToStatus(errno, absl::StrCat("execve ", run.argv(0))));
}

// Arguments of the vfork-style child, on the init's stack.
struct ExecChildArgs {
  const v1::SessionRequest* session;
  const v1::RunRequest* run;
  const HostSupport* host;
  int channel;
  StdioFds fds;
  char* const* argv;
  int close_fds[4];
};

int ExecChildEntry(void* raw) {
  auto* a = static_cast<ExecChildArgs*>(raw);
  for (int fd : a->close_fds) {
    if (fd >= 0) ::close(fd);
  }
  ChildMain(*a->session, *a->run, *a->host, a->channel, a->fds, a->argv);
}

// ----------------------------------------------------------------------------------------
// The init (pid 1 inside): one per session.

class Init {
 public:
  Init(const v1::SessionRequest& session, const HostSupport& host, int session_fd,
       CgroupStatFds stats)
      : session_(session), host_(host), session_fd_(session_fd), stats_(stats) {}

  [[noreturn]] void Main(int go_fd);

 private:
  v1::SandboxResult Run(const v1::RunRequest& run, StdioFds fds);
  absl::Status FreshScratch();
  void KillAndReapEverything();

  const v1::SessionRequest& session_;
  const HostSupport& host_;
  const int session_fd_;
  const CgroupStatFds stats_;
  int sigfd_ = -1;
  int64_t children_cpu_us_ = 0;  // CPU of every process reaped so far
};

// What the server sends the init once the session's cgroup and id maps are in place.
struct GoMessage {
  char go = 'G';
  int64_t server_setup_us = 0;
};

absl::Status Init::FreshScratch() {
  const std::string options =
      absl::StrCat("size=", session_.limits().tmp_bytes(), ",mode=1777,nr_inodes=4096");
  for (const char* dir : {"/tmp", "/dev/shm"}) {
    if (::umount2(dir, MNT_DETACH) != 0) return ErrnoToStatus(errno, absl::StrCat("umount ", dir));
    if (::mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("mount tmpfs on ", dir));
    }
  }
  return absl::OkStatus();
}

void Init::KillAndReapEverything() {
  // Everything but the init itself.
  ::kill(-1, SIGKILL);
  while (true) {
    pid_t pid = ::waitpid(-1, nullptr, 0);
    if (pid > 0 || (pid < 0 && errno == EINTR)) continue;
    break;
  }
  signalfd_siginfo info;
  while (::read(sigfd_, &info, sizeof(info)) > 0) {
  }
}

void Init::Main(int go_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  GoMessage go;
  go.go = 0;
  if (::read(go_fd, &go, sizeof(go)) != sizeof(go) || go.go != 'G') ::_exit(1);
  ::close(go_fd);
  const int64_t init_start_us = NowUs();
  auto fatal = [&](const absl::Status& status) {
    SendError(session_fd_, absl::StrCat("sandbox setup failed: ", status.message()));
    ::_exit(1);
  };
  if (absl::Status s = SetSandboxHostname(); !s.ok()) fatal(s);
  MountPlan plan;
  plan.skeleton = host_.root_dir;
  plan.work_dir = session_.work_dir();
  plan.work_dir_writable = session_.work_dir_writable();
  plan.precompiled_dir = session_.precompiled_dir();
  plan.tmp_bytes = session_.limits().tmp_bytes();
  plan.mount_proc = host_.proc_mount;
  if (absl::Status s = EnterSandboxRoot(plan); !s.ok()) fatal(s);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigfd_ = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd_ < 0) fatal(ErrnoToStatus(errno, "signalfd"));
  const int64_t session_init_us = NowUs() - init_start_us;

  bool first = true;
  while (true) {
    absl::StatusOr<ReceivedMessage> msg = ReceiveMessage(session_fd_);
    if (!msg.ok() || msg->eof) ::_exit(0);
    v1::RunRequest run;
    if (msg->fds.size() != 3 || !run.ParseFromString(msg->data)) {
      for (int fd : msg->fds) ::close(fd);
      SendError(session_fd_, "malformed run request");
      continue;
    }
    StdioFds fds{msg->fds[0], msg->fds[1], msg->fds[2]};
    const int64_t scratch_start_us = NowUs();
    absl::Status scratch = first ? absl::OkStatus() : FreshScratch();
    if (!scratch.ok()) {
      SendError(session_fd_, scratch.message());
      ::_exit(1);
    }
    const int64_t scratch_us = NowUs() - scratch_start_us;
    v1::SandboxResult result = Run(run, fds);
    result.mutable_profile()->set_scratch_us(scratch_us);
    if (first) {
      result.mutable_profile()->set_session_server_us(go.server_setup_us);
      result.mutable_profile()->set_session_init_us(session_init_us);
    }
    first = false;
    ::close(fds.stdin_fd);
    ::close(fds.stdout_fd);
    ::close(fds.stderr_fd);
    SendResult(session_fd_, result);
  }
}

v1::SandboxResult Init::Run(const v1::RunRequest& run, StdioFds fds) {
  v1::SandboxResult result;
  const int64_t spawn_start_us = NowUs();
  const int64_t oom_before = ReadStats(stats_).oom_kills;
  const bool peak_reset = ResetPeak(stats_);
  int channel[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    result.set_error(absl::StrCat("socketpair: ", std::strerror(errno)));
    return result;
  }
  std::vector<char*> argv;
  for (const std::string& arg : run.argv()) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const bool python = host_.python_zygote && run.action() != v1::RunRequest::EXEC;
  if (!python && argv.size() < 2) {
    ::close(channel[0]);
    ::close(channel[1]);
    result.set_error("empty argv");
    return result;
  }
  const int64_t start_us = NowUs();
  // Every run gets a new IPC namespace: nothing a program leaves in System V IPC reaches
  // the next run.
  long child;
  if (python) {
    // A copy of the init's pristine zygote image, which the run then uses.
    child = ::syscall(SYS_clone, static_cast<unsigned long>(CLONE_NEWIPC | SIGCHLD), nullptr,
                      nullptr, nullptr, 0);
    if (child == 0) {
      ::close(channel[0]);
      ::close(session_fd_);
      ::close(sigfd_);
      if (stats_.peak_fd >= 0) ::close(stats_.peak_fd);
      if (stats_.events_fd >= 0) ::close(stats_.events_fd);
      ChildMain(session_, run, host_, channel[1], fds, nullptr);
    }
  } else {
    // An exec'd program needs no copy of the init's (zygote-sized) memory: the child
    // shares it until execve, and the init waits until then.
    static char stack[256 << 10] alignas(16);
    ExecChildArgs args{&session_, &run, &host_, channel[1], fds, argv.data(),
                       {channel[0], session_fd_, sigfd_, -1}};
    child = ::clone(ExecChildEntry, stack + sizeof(stack),
                    CLONE_VM | CLONE_VFORK | CLONE_NEWIPC | SIGCHLD, &args);
  }
  ::close(channel[1]);
  if (child < 0) {
    ::close(channel[0]);
    result.set_error(absl::StrCat("clone: ", std::strerror(errno)));
    return result;
  }
  const int64_t spawned_us = NowUs();
  int64_t ready_us = 0;
  int64_t reaped_us = 0;

  int64_t deadline_us = start_us + session_.limits().wall_time_ms() * 1000;
  int channel_fd = channel[0];
  int listener = -1;
  int blocked_nr = -1;
  bool child_done = false;
  int64_t child_maxrss_kib = 0;
  std::string setup_error;
  // Messages from the program's side before it runs anything of its own: "N" with the
  // seccomp listener, "E<why>" when setting up failed, "C" for a compile error.
  auto read_channel = [&]() {
    absl::StatusOr<ReceivedMessage> msg = ReceiveMessage(channel_fd);
    if (!msg.ok() || msg->eof) {
      CloseFd(channel_fd);
      return;
    }
    if (msg->data.size() == 1 + sizeof(int64_t) && (msg->data[0] == 'N' || msg->data[0] == 'R') &&
        ready_us == 0) {
      std::memcpy(&ready_us, msg->data.data() + 1, sizeof(ready_us));
    }
    if (!msg->data.empty() && msg->data[0] == 'N' && !msg->fds.empty() && listener < 0) {
      listener = msg->fds.front();
      msg->fds.erase(msg->fds.begin());
    } else if (!msg->data.empty() && msg->data[0] == 'E') {
      setup_error = msg->data.substr(1);
    } else if (msg->data == "C") {
      result.set_compile_error(true);
    }
    for (int fd : msg->fds) ::close(fd);
  };
  // The client sends nothing while a run is in progress: the session socket becoming
  // readable means it was closed or cancelled, and the run is killed at once.
  bool client_gone = false;
  while (!child_done) {
    pollfd pfds[4];
    int n = 0;
    pfds[n++] = {sigfd_, POLLIN, 0};
    if (channel_fd >= 0) pfds[n++] = {channel_fd, POLLIN, 0};
    if (listener >= 0) pfds[n++] = {listener, POLLIN, 0};
    if (!client_gone) pfds[n++] = {session_fd_, POLLIN, 0};
    int timeout_ms = -1;
    if (deadline_us > 0) {
      int64_t left = deadline_us - NowUs();
      if (left <= 0) {
        result.set_wall_timeout(true);
        ::kill(-1, SIGKILL);
        deadline_us = 0;
        continue;
      }
      timeout_ms = static_cast<int>(std::min<int64_t>((left + 999) / 1000, 1 << 30));
    }
    int rc = ::poll(pfds, n, timeout_ms);
    if (rc < 0 && errno != EINTR) {
      setup_error = absl::StrCat("poll: ", std::strerror(errno));
      ::kill(-1, SIGKILL);
    }
    for (int i = 0; i < n && rc > 0; ++i) {
      if (pfds[i].revents == 0) continue;
      if (pfds[i].fd == sigfd_) {
        signalfd_siginfo info;
        while (::read(sigfd_, &info, sizeof(info)) > 0) {
        }
        int status = 0;
        rusage usage;
        pid_t pid;
        while ((pid = ::wait4(-1, &status, WNOHANG, &usage)) > 0) {
          if (pid != child) continue;  // an orphan reparented to us
          child_done = true;
          reaped_us = NowUs();
          child_maxrss_kib = usage.ru_maxrss;
          if (WIFEXITED(status)) result.set_exit_code(WEXITSTATUS(status));
          if (WIFSIGNALED(status)) result.set_term_signal(WTERMSIG(status));
        }
      } else if (pfds[i].fd == session_fd_) {
        client_gone = true;
        ::kill(-1, SIGKILL);
      } else if (pfds[i].fd == channel_fd) {
        read_channel();
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
        if (blocked_nr < 0) blocked_nr = notice->syscall_nr;
        if (!result.seccomp_killed() &&
            RefusalFor(notice->syscall_nr, notice->arg0) == Refusal::kKill) {
          blocked_nr = notice->syscall_nr;
          result.set_seccomp_killed(true);
          ::kill(-1, SIGKILL);
        }
        RefuseNotification(listener, *notice).IgnoreError();
      }
    }
  }
  // Whatever the program's side said before it exited is still queued.
  while (channel_fd >= 0) {
    pollfd p{channel_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    read_channel();
  }
  // The program is gone; nothing it started may outlive it or reach the next run.
  KillAndReapEverything();
  CloseFd(channel_fd);
  CloseFd(listener);
  result.set_wall_time_us(NowUs() - start_us);
  rusage children;
  ::getrusage(RUSAGE_CHILDREN, &children);
  result.set_cpu_time_us(CpuUs(children) - children_cpu_us_);
  children_cpu_us_ = CpuUs(children);
  if (!setup_error.empty()) {
    result.set_error(absl::StrCat("sandbox setup failed: ", setup_error));
    return result;
  }
  const CgroupStats stats = ReadStats(stats_);
  result.set_oom_killed(stats.oom_kills > oom_before);
  if (peak_reset && stats.peak_memory_bytes >= 0) {
    result.set_peak_memory_bytes(stats.peak_memory_bytes);
    result.set_memory_from_cgroup(true);
  } else {
    result.set_peak_memory_bytes(child_maxrss_kib * 1024);
  }
  if (blocked_nr >= 0) result.set_blocked_syscall(SyscallName(blocked_nr));
  if (ready_us == 0) ready_us = reaped_us;
  v1::RunProfile* profile = result.mutable_profile();
  profile->set_spawn_us(spawned_us - spawn_start_us);
  profile->set_prepare_us(ready_us - spawned_us);
  profile->set_program_us(reaped_us - ready_us);
  profile->set_cleanup_us(NowUs() - reaped_us);
  return result;
}

// ----------------------------------------------------------------------------------------
// The server.

absl::Status ValidateSession(const v1::SessionRequest& request) {
  if (request.work_dir().empty() || request.work_dir()[0] != '/') {
    return absl::InvalidArgumentError("work_dir must be an absolute path");
  }
  if (!request.precompiled_dir().empty() && request.precompiled_dir()[0] != '/') {
    return absl::InvalidArgumentError("precompiled_dir must be an absolute path");
  }
  if (::geteuid() == 0 && (request.outside_uid() == 0 || request.outside_gid() == 0)) {
    return absl::InvalidArgumentError("the sandbox user must not map to root");
  }
  const v1::SandboxLimits& l = request.limits();
  if (l.cpu_time_ms() <= 0 || l.wall_time_ms() <= 0 || l.memory_bytes() <= 0 ||
      l.max_processes() <= 0 || l.max_file_bytes() <= 0 || l.max_open_files() <= 0 ||
      l.tmp_bytes() <= 0) {
    return absl::InvalidArgumentError("every limit must be positive");
  }
  return absl::OkStatus();
}

class Server {
 public:
  Server(const ForkServerOptions& options, HostSupport& host, int sigfd)
      : options_(options), host_(host), sigfd_(sigfd) {}

  void Loop();

 private:
  void StartSession(const v1::SessionRequest& request, int session_fd);
  void ReapInits();

  const ForkServerOptions& options_;
  HostSupport& host_;
  const int sigfd_;
  std::map<pid_t, RunCgroup> inits_;
  bool running_ = true;
};

void Server::StartSession(const v1::SessionRequest& request, int session_fd) {
  const int64_t start_us = NowUs();
  auto fail = [&](const absl::Status& status) {
    SendError(session_fd, status.message());
    ::close(session_fd);
  };
  if (absl::Status s = ValidateSession(request); !s.ok()) return fail(s);
  absl::StatusOr<RunCgroup> cgroup =
      host_.cgroups.CreateRun(absl::StrCat("session-", request.session_id()),
                              request.limits().memory_bytes(), request.limits().max_processes());
  if (!cgroup.ok()) return fail(cgroup.status());
  absl::StatusOr<CgroupStatFds> stats = cgroup->OpenStatFds();
  int go[2];
  if (!stats.ok() || ::pipe2(go, O_CLOEXEC) != 0) {
    absl::Status status = stats.ok() ? ErrnoToStatus(errno, "pipe") : stats.status();
    cgroup->Remove().IgnoreError();
    return fail(status);
  }
  PythonBeforeFork();
  absl::StatusOr<pid_t> init = CloneIntoNamespaces(SandboxCloneFlags());
  if (init.ok() && *init == 0) {
    // The init keeps only its own descriptors, at known numbers; other sessions'
    // descriptors and the server's sockets stay behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (request.pin_cpu()) PinToSlotCpu(request.slot());
    const int keep[] = {go[0], session_fd, stats->peak_fd, stats->events_fd};
    int moved[4];
    for (int i = 0; i < 4; ++i) moved[i] = keep[i] < 0 ? -1 : ::fcntl(keep[i], F_DUPFD_CLOEXEC, 100);
    for (int i = 0; i < 4; ++i) {
      if (moved[i] >= 0 && ::dup3(moved[i], 3 + i, O_CLOEXEC) < 0) ::_exit(1);
    }
    CloseFrom(7);
    CgroupStatFds inherited{stats->mode, moved[2] >= 0 ? 5 : -1, moved[3] >= 0 ? 6 : -1};
    Init(request, host_, 4, inherited).Main(3);
  }
  PythonAfterForkInParent();
  ::close(go[0]);
  if (stats->peak_fd >= 0) ::close(stats->peak_fd);
  if (stats->events_fd >= 0) ::close(stats->events_fd);
  if (!init.ok()) {
    ::close(go[1]);
    cgroup->Remove().IgnoreError();
    return fail(init.status());
  }
  absl::Status setup = WriteIdMaps(*init, request.outside_uid(), request.outside_gid());
  if (setup.ok()) setup = cgroup->AddProcess(*init);
  GoMessage go_message;
  go_message.server_setup_us = NowUs() - start_us;
  if (setup.ok() && ::write(go[1], &go_message, sizeof(go_message)) != sizeof(go_message)) {
    setup = ErrnoToStatus(errno, "start the init");
  }
  ::close(go[1]);
  if (!setup.ok()) {
    // The init, waiting for "G", dies with its pipe; the judge hears the reason.
    ::kill(*init, SIGKILL);
    SendError(session_fd, setup.message());
  }
  ::close(session_fd);
  inits_.emplace(*init, *std::move(cgroup));
}

void Server::ReapInits() {
  pid_t pid;
  int status = 0;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = inits_.find(pid);
    if (it == inits_.end()) continue;  // a probe's child
    if (WIFSIGNALED(status) && running_) {
      std::fprintf(stderr, "crucible-sandbox: a session's init died of %s\n",
                   strsignal(WTERMSIG(status)));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "crucible-sandbox: a session's init exited with status %d\n",
                   WEXITSTATUS(status));
    }
    // The init's PID namespace went with it: the group is empty (or about to be).
    if (absl::Status removed = it->second.Remove(); !removed.ok()) {
      std::fprintf(stderr, "crucible-sandbox: %s\n", std::string(removed.message()).c_str());
    }
    inits_.erase(it);
  }
}

void Server::Loop() {
  while (running_ || !inits_.empty()) {
    pollfd pfds[2] = {{running_ ? options_.control_fd : -1, POLLIN, 0}, {sigfd_, POLLIN, 0}};
    int rc = ::poll(pfds, 2, -1);
    if (rc < 0 && errno != EINTR) break;
    if (pfds[1].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd_, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) running_ = false;
      }
      ReapInits();
    }
    if (!running_) {
      // Stopping: sessions still open are abandoned; their sockets see EOF.
      for (auto& [pid, cgroup] : inits_) ::kill(pid, SIGKILL);
      continue;
    }
    if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      absl::StatusOr<ReceivedMessage> msg = ReceiveMessage(options_.control_fd);
      if (!msg.ok() || msg->eof) {
        running_ = false;
        continue;
      }
      v1::SessionRequest request;
      if (msg->fds.size() != 1 || !request.ParseFromString(msg->data)) {
        std::fprintf(stderr, "crucible-sandbox: malformed session request (%zu bytes, %zu fds)\n",
                     msg->data.size(), msg->fds.size());
        for (int fd : msg->fds) ::close(fd);
        continue;
      }
      StartSession(request, msg->fds[0]);
    }
  }
}

}  // namespace

int RunForkServer(const ForkServerOptions& options) {
  // No PR_SET_PDEATHSIG here: it fires when the *thread* that started the server exits,
  // and the judge may start (or restart) it from any thread. The judge's death closes the
  // control socket instead, which ends the loop below.
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
