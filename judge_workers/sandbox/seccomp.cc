#include "judge_workers/sandbox/seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace crucible::sandbox {
namespace {

constexpr const char* kKilledSyscalls[] = {
    "ptrace",          "process_vm_readv", "process_vm_writev", "mount",
    "umount2",         "pivot_root",       "chroot",            "move_mount",
    "open_tree",       "fsopen",           "fsconfig",          "fsmount",
    "fspick",          "mount_setattr",    "init_module",       "finit_module",
    "delete_module",   "kexec_load",       "kexec_file_load",   "add_key",
    "request_key",     "keyctl",           "bpf",               "perf_event_open",
    "userfaultfd",     "io_uring_setup",   "io_uring_enter",    "io_uring_register",
    "unshare",         "setns",            "reboot",            "swapon",
    "swapoff",         "acct",             "settimeofday",      "clock_settime",
    "clock_adjtime",   "adjtimex",         "sethostname",       "setdomainname",
    "syslog",          "vhangup",          "lookup_dcookie",    "iopl",
    "ioperm",          "quotactl",         "quotactl_fd",       "name_to_handle_at",
    "open_by_handle_at", "fanotify_init",  "kcmp",              "pidfd_getfd",
    "uselib",          "nfsservctl",       "create_module",     "get_kernel_syms",
    "query_module",    "_sysctl",          "vserver",           "afs_syscall",
};

constexpr unsigned long long kNamespaceCloneFlags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID |
                                                    CLONE_NEWNET | CLONE_NEWIPC |
                                                    CLONE_NEWUTS | CLONE_NEWCGROUP |
                                                    0x00000080ULL /* CLONE_NEWTIME */;

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};
using CtxPtr = std::unique_ptr<void, CtxDeleter>;

absl::Status AddRule(scmp_filter_ctx ctx, uint32_t action, const char* name, unsigned count,
                     const scmp_arg_cmp* args) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return absl::OkStatus();  // not on this architecture
  int rc = seccomp_rule_add_array(ctx, action, nr, count, args);
  if (rc != 0) return ErrnoToStatus(-rc, absl::StrCat("seccomp rule for ", name));
  return absl::OkStatus();
}

absl::StatusOr<CtxPtr> BuildFilter(bool use_notify) {
  CtxPtr ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return absl::InternalError("seccomp_init failed");
  scmp_filter_ctx c = ctx.get();
  const uint32_t eperm = use_notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM);
  const uint32_t kill = use_notify ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
  for (const char* name : kKilledSyscalls) {
    CRUCIBLE_RETURN_IF_ERROR(AddRule(c, kill, name, 0, nullptr));
  }
  const scmp_arg_cmp not_unix = SCMP_A0(SCMP_CMP_NE, AF_UNIX);
  CRUCIBLE_RETURN_IF_ERROR(AddRule(c, eperm, "socket", 1, &not_unix));
  // libseccomp compares with masked equality only; "any namespace bit set" is one rule
  // per bit.
  for (unsigned long long bit = 1; bit != 0 && bit <= kNamespaceCloneFlags; bit <<= 1) {
    if ((kNamespaceCloneFlags & bit) == 0) continue;
    const scmp_arg_cmp has_bit = SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit);
    CRUCIBLE_RETURN_IF_ERROR(AddRule(c, kill, "clone", 1, &has_bit));
  }
  CRUCIBLE_RETURN_IF_ERROR(AddRule(c, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, nullptr));
  return ctx;
}

}  // namespace

absl::StatusOr<SeccompProgram> SeccompProgram::Build(bool use_notify) {
  CRUCIBLE_ASSIGN_OR_RETURN(CtxPtr ctx, BuildFilter(use_notify));
  int fd = ::memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "memfd_create");
  int rc = seccomp_export_bpf(ctx.get(), fd);
  struct stat st;
  if (rc == 0 && ::fstat(fd, &st) != 0) rc = -errno;
  SeccompProgram program;
  program.use_notify_ = use_notify;
  if (rc == 0) {
    program.filter_.resize(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
    ssize_t n = ::pread(fd, program.filter_.data(), program.filter_.size() * sizeof(sock_filter), 0);
    if (n != static_cast<ssize_t>(program.filter_.size() * sizeof(sock_filter))) rc = -EIO;
  }
  ::close(fd);
  if (rc != 0) return ErrnoToStatus(-rc, "seccomp_export_bpf");
  if (program.filter_.empty()) return absl::InternalError("empty seccomp program");
  return program;
}

absl::StatusOr<int> SeccompProgram::Install() const {
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(filter_.size());
  prog.filter = const_cast<sock_filter*>(filter_.data());
  unsigned flags = use_notify_ ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) return ErrnoToStatus(errno, "seccomp(SECCOMP_SET_MODE_FILTER)");
  return use_notify_ ? static_cast<int>(rc) : -1;
}

Refusal RefusalFor(int syscall_nr, unsigned long long arg0) {
  static const int socket_nr = seccomp_syscall_resolve_name("socket");
  if (syscall_nr == socket_nr) return Refusal::kErrno;
  return Refusal::kKill;
}

std::string SyscallName(int syscall_nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, syscall_nr);
  if (name == nullptr) return absl::StrCat("syscall_", syscall_nr);
  std::string out = name;
  std::free(name);
  return out;
}

bool ProbeSeccompNotify() {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(1);
    absl::StatusOr<SeccompProgram> program = SeccompProgram::Build(/*use_notify=*/true);
    if (!program.ok()) ::_exit(1);
    absl::StatusOr<int> fd = program->Install();
    ::_exit(fd.ok() && *fd >= 0 ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

absl::StatusOr<SeccompNotice> ReceiveNotification(int listener_fd) {
  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  int rc = seccomp_notify_alloc(&req, &resp);
  if (rc != 0) return ErrnoToStatus(-rc, "seccomp_notify_alloc");
  SeccompNotice notice;
  rc = seccomp_notify_receive(listener_fd, req);
  if (rc == 0) {
    notice.id = req->id;
    notice.syscall_nr = req->data.nr;
    notice.arg0 = req->data.args[0];
  }
  seccomp_notify_free(req, resp);
  if (rc != 0) return ErrnoToStatus(-rc, "seccomp_notify_receive");
  return notice;
}

absl::Status RefuseNotification(int listener_fd, const SeccompNotice& notice) {
  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  int rc = seccomp_notify_alloc(&req, &resp);
  if (rc != 0) return ErrnoToStatus(-rc, "seccomp_notify_alloc");
  resp->id = notice.id;
  resp->val = 0;
  resp->error = -EPERM;
  resp->flags = 0;
  rc = seccomp_notify_respond(listener_fd, resp);
  seccomp_notify_free(req, resp);
  // ENOENT: the thread died or was interrupted; the attempt still happened.
  if (rc != 0 && rc != -ENOENT) return ErrnoToStatus(-rc, "seccomp_notify_respond");
  return absl::OkStatus();
}

}  // namespace crucible::sandbox
