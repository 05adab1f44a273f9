#include "tests/learner/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace crucible::testing {

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::vector<std::string> RankEnvironment(int rank, int world_size, int port) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    // Launcher variables of an enclosing job must not leak into the ranks.
    if (absl::StartsWith(entry, "RANK=") || absl::StartsWith(entry, "WORLD_SIZE=") ||
        absl::StartsWith(entry, "LOCAL_RANK=") || absl::StartsWith(entry, "LOCAL_WORLD_SIZE=") ||
        absl::StartsWith(entry, "MASTER_") || absl::StartsWith(entry, "SLURM_")) {
      continue;
    }
    env.push_back(entry);
  }
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back(absl::StrCat("MASTER_PORT=", port));
  env.push_back(absl::StrCat("WORLD_SIZE=", world_size));
  env.push_back(absl::StrCat("LOCAL_WORLD_SIZE=", world_size));
  env.push_back(absl::StrCat("RANK=", rank));
  env.push_back(absl::StrCat("LOCAL_RANK=", rank));
  return env;
}

std::vector<ProcessResult> LaunchRanks(const std::vector<std::string>& argv, int world_size,
                                       const std::vector<std::string>& extra_env, std::chrono::milliseconds timeout) {
  const int port = FreePort();
  std::vector<ProcessResult> results(world_size);
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r) {
    threads.emplace_back([&, r] {
      std::vector<std::string> env = RankEnvironment(r, world_size, port);
      env.insert(env.end(), extra_env.begin(), extra_env.end());
      absl::StatusOr<ProcessResult> result = RunProcess(argv, "", timeout, env);
      if (result.ok()) {
        results[r] = *std::move(result);
      } else {
        results[r].stderr_data = std::string(result.status().message());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

}  // namespace crucible::testing
