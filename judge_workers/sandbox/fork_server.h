// The sandbox server (crucible-sandbox): a single-threaded fork server the judge starts
// once and talks to over a Unix socket. For every request it forks a monitor, which
// clones the run's init into fresh namespaces; the init builds the file system view and
// starts the program; the program drops every privilege, sets its limits and seccomp
// policy and then execs (or, for Python, runs in the fork of the zygote interpreter).
//
//   server ──fork──> monitor (outside: cgroup, id maps, wall-clock backstop, result)
//                      └─clone(NEWUSER|NEWPID|NEWNS|NEWNET|NEWIPC|NEWUTS)─> init (pid 1)
//                            └─fork─> program (pid 2, uid 1000, no caps, rlimits, seccomp)
//
// The init reaps everything, answers seccomp notifications, enforces the wall-clock
// limit, and on the program's exit kills whatever is left; its own exit tears the PID
// namespace down. The monitor then reads the cgroup's peak and OOM count, removes the
// cgroup, and writes the SandboxResult to the descriptor the judge passed with the
// request. A program's behaviour is never reported as an error: `error` in the result
// means the sandbox itself failed.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_FORK_SERVER_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_FORK_SERVER_H_

#include <sys/types.h>

#include <string>

namespace crucible::sandbox {

struct ForkServerOptions {
  int control_fd = -1;             // SOCK_SEQPACKET to the judge
  std::string state_dir;           // private directory of this server
  bool python_zygote = true;
  std::string python_executable;   // the interpreter the zygote stands in for
  std::string cgroup_parent;       // optional delegated cgroup v2 directory
};

// Serves requests until the judge closes the socket or SIGTERM arrives. Returns the
// process exit status.
int RunForkServer(const ForkServerOptions& options);

// The environment every sandboxed program sees.
const char* const* SandboxEnvironment();

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_FORK_SERVER_H_
