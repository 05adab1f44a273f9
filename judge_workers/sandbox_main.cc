// crucible-sandbox: the judge's fork server (see sandbox/fork_server.h). Started by the
// judge with one end of a Unix socket as fd 3; not meant to be run by hand.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "judge_workers/sandbox/fork_server.h"

ABSL_FLAG(int, control_fd, -1, "Descriptor of the SOCK_SEQPACKET socket to the judge.");
ABSL_FLAG(std::string, state_dir, "", "Private directory of this server.");
ABSL_FLAG(std::string, python, "/usr/bin/python3",
          "The system interpreter the Python zygote stands in for.");
ABSL_FLAG(bool, python_zygote, true, "Serve Python runs from a pre-initialised interpreter.");
ABSL_FLAG(std::string, cgroup_parent, "", "A delegated cgroup v2 directory to use.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("crucible-sandbox --control_fd=N --state_dir=DIR (started by the judge)");
  absl::ParseCommandLine(argc, argv);
  crucible::sandbox::ForkServerOptions options;
  options.control_fd = absl::GetFlag(FLAGS_control_fd);
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.python_executable = absl::GetFlag(FLAGS_python);
  options.python_zygote = absl::GetFlag(FLAGS_python_zygote);
  options.cgroup_parent = absl::GetFlag(FLAGS_cgroup_parent);
  if (options.control_fd < 0 || options.state_dir.empty()) {
    std::fprintf(stderr, "crucible-sandbox: --control_fd and --state_dir are required\n");
    return 2;
  }
  return crucible::sandbox::RunForkServer(options);
}
