// The sandbox server (crucible-sandbox): a single-threaded fork server the judge starts
// once and talks to over a Unix socket. It holds the Python zygote (see python_zygote.h).
//
// For every session request it clones an init into fresh namespaces; the init builds the
// file system view and then serves the session's runs itself, one at a time, each in a
// fresh fork of the zygote image:
//
//   server ──clone(NEWUSER|NEWPID|NEWNS|NEWNET|NEWIPC|NEWUTS)──> init (pid 1)
//     (cgroup, id maps)                                  │ per run: fresh /tmp and /dev/shm,
//                                                        │ peak memory reset
//                                                        └─clone(NEWIPC)─> program
//                                                            (uid 1000, no capabilities,
//                                                             rlimits, seccomp; exec, or
//                                                             run Python in the fork)
//
// The init reaps everything, answers seccomp notifications, enforces the wall-clock
// limit, and when the program exits kills whatever it left, so each run starts with an
// empty PID namespace, a new IPC namespace, empty scratch directories and nothing
// running. Runs of one session (the tests of one program) share the user, PID, mount,
// network and UTS namespaces and the cgroup; different sessions share nothing. When the
// judge closes the session the init exits, its PID namespace collapses, and the server
// removes the cgroup. A program's behaviour is never reported as an error: `error` in a
// result means the sandbox itself failed.
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

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_FORK_SERVER_H_
