#include "judge_workers/sandbox/namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace crucible::sandbox {
namespace {

absl::Status WriteProcFile(const std::string& path, const std::string& contents) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", path));
  ssize_t n = ::write(fd, contents.data(), contents.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(contents.size())) {
    return ErrnoToStatus(n < 0 ? err : EIO, absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

int SandboxCloneFlags() {
  return CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
         CLONE_NEWUTS;
}

absl::StatusOr<pid_t> CloneIntoNamespaces(int clone_flags) {
  // The raw syscall with a null stack behaves like fork(): the child continues on a copy
  // of the caller's stack. glibc's clone() wrapper would need a separate stack.
  long pid = ::syscall(SYS_clone, static_cast<unsigned long>(clone_flags | SIGCHLD), nullptr,
                       nullptr, nullptr, 0);
  if (pid < 0) return ErrnoToStatus(errno, "clone into new namespaces");
  return static_cast<pid_t>(pid);
}

absl::Status WriteIdMaps(pid_t pid, uid_t outside_uid, gid_t outside_gid) {
  std::string proc = absl::StrCat("/proc/", pid);
  // setgroups must be denied before an unprivileged writer may set gid_map; a privileged
  // one does it anyway so the sandbox cannot drop into supplementary groups.
  CRUCIBLE_RETURN_IF_ERROR(WriteProcFile(proc + "/setgroups", "deny"));
  CRUCIBLE_RETURN_IF_ERROR(
      WriteProcFile(proc + "/uid_map", absl::StrCat(kSandboxUid, " ", outside_uid, " 1\n")));
  CRUCIBLE_RETURN_IF_ERROR(
      WriteProcFile(proc + "/gid_map", absl::StrCat(kSandboxGid, " ", outside_gid, " 1\n")));
  return absl::OkStatus();
}

absl::Status SetSandboxHostname() {
  static constexpr char kName[] = "sandbox";
  if (::sethostname(kName, sizeof(kName) - 1) != 0) return ErrnoToStatus(errno, "sethostname");
  if (::setdomainname(kName, sizeof(kName) - 1) != 0) {
    return ErrnoToStatus(errno, "setdomainname");
  }
  return absl::OkStatus();
}

}  // namespace crucible::sandbox
