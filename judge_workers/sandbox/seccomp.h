// The system-call policy of a sandboxed program. Allowed by default; refused:
//   - socket() for anything but AF_UNIX: fails with EPERM, the program goes on (it has no
//     network anyway, being alone in its network namespace);
//   - ptrace, process_vm_*, mount and the new mount API, pivot_root, chroot, kernel
//     modules, kexec, keyrings, bpf, perf_event_open, userfaultfd, io_uring, unshare,
//     setns, clone with namespace flags, clock and host-name setters, reboot, swap, acct,
//     syslog, handle-based opens and the like: the whole sandbox is killed.
// clone3 fails with ENOSYS (its flags cannot be inspected), so libc falls back to clone.
// Where the kernel supports seccomp user notification the sandbox's init learns which
// call was refused and reports it; otherwise refusals happen in the kernel and only the
// SIGSYS of a killed program is visible.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_SECCOMP_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_SECCOMP_H_

#include <linux/filter.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crucible::sandbox {

enum class Refusal { kErrno, kKill };

// The policy compiled to BPF once (libseccomp's compiler is slow, ~ms) and installed in
// every sandboxed program with one system call.
class SeccompProgram {
 public:
  // With use_notify, refused calls go to a user-notification listener.
  static absl::StatusOr<SeccompProgram> Build(bool use_notify);

  // Installs the policy on the calling thread (and its future children). Requires
  // PR_SET_NO_NEW_PRIVS. Returns the listener descriptor the init must serve, or -1.
  absl::StatusOr<int> Install() const;
  bool uses_notify() const { return use_notify_; }

 private:
  std::vector<sock_filter> filter_;
  bool use_notify_ = false;
};

// How a refused call (by number, with clone's flags argument) is answered.
Refusal RefusalFor(int syscall_nr, unsigned long long arg0);

std::string SyscallName(int syscall_nr);

// Whether user notification works here (kernel >= 5.0, not forbidden by an outer policy).
bool ProbeSeccompNotify();

// One pending notification, read by the init of the sandbox.
struct SeccompNotice {
  uint64_t id = 0;
  int syscall_nr = -1;
  unsigned long long arg0 = 0;
};

// Receives one notification from `listener_fd`.
absl::StatusOr<SeccompNotice> ReceiveNotification(int listener_fd);
// Lets the waiting call fail with EPERM. A notice whose thread has died meanwhile is
// not an error.
absl::Status RefuseNotification(int listener_fd, const SeccompNotice& notice);

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_SECCOMP_H_
