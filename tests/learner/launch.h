// Starting a multi-process job on this machine the way torchrun does: one process per rank
// with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT.
#ifndef CRUCIBLE_TESTS_LEARNER_LAUNCH_H_
#define CRUCIBLE_TESTS_LEARNER_LAUNCH_H_

#include <string>
#include <vector>

#include "common/subprocess.h"

namespace crucible::testing {

// A TCP port that was free a moment ago on 127.0.0.1.
int FreePort();

// The inherited environment without any enclosing job's launcher variables, plus rank
// `rank` of `world_size` meeting at 127.0.0.1:port.
std::vector<std::string> RankEnvironment(int rank, int world_size, int port);

// Runs argv once per rank, concurrently; results in rank order. extra_env entries are
// NAME=value added to the inherited environment.
std::vector<ProcessResult> LaunchRanks(const std::vector<std::string>& argv, int world_size,
                                       const std::vector<std::string>& extra_env = {},
                                       std::chrono::milliseconds timeout = std::chrono::minutes(3));

}  // namespace crucible::testing

#endif  // CRUCIBLE_TESTS_LEARNER_LAUNCH_H_
