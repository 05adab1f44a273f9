// Helpers shared by the test suites: one sandbox server per test process, leak checks,
// and a way to build problems inline.
#ifndef CRUCIBLE_TESTS_SUPPORT_TEST_SUPPORT_H_
#define CRUCIBLE_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crucible/v1/problem.pb.h"
#include "judge_workers/judge.h"
#include "judge_workers/sandbox/sandbox.h"

namespace crucible::testing {

// Started on first use, shared by every test of the process.
std::shared_ptr<sandbox::ForkServerSandbox> SharedSandbox();
// A Judge over the shared sandbox.
Judge& SharedJudge();

// Pids of live processes running as any uid in [first, first + count).
std::vector<pid_t> ProcessesWithUids(uid_t first, int count);
// Child groups left under the sandbox server's cgroup parents.
std::vector<std::string> LeftoverCgroups(const sandbox::Sandbox& sandbox);
// Entries of a directory (names), empty if it does not exist.
std::vector<std::string> ListDir(const std::string& path);

// A problem with the given (input, output) hidden tests and generous limits.
v1::Problem MakeProblem(const std::string& id,
                        const std::vector<std::pair<std::string, std::string>>& tests,
                        int64_t time_limit_ms = 2000, int64_t memory_limit_mib = 256);
v1::Program MakeProgram(const std::string& language, const std::string& source);

// The repository's root (for test data files).
std::string SourceDir();
std::string ReadTestFile(const std::string& relative_path);

// Judges every reference solution of `problems` (must be OK on every test, public and
// hidden) and every known-wrong one (must not be OK), plus extra_wrong(problem) when set,
// on two slots of SharedJudge. `unexpected` has a line for each program that did
// otherwise or met a sandbox failure; `judged` counts the programs.
struct ReferenceCheck {
  std::vector<std::string> unexpected;
  size_t judged = 0;
};
ReferenceCheck JudgeReferences(const std::vector<v1::Problem>& problems,
                               const std::function<v1::Program(const v1::Problem&)>& extra_wrong = nullptr);

// Default sandbox limits for direct sandbox tests.
v1::SandboxLimits TestLimits();

}  // namespace crucible::testing

#endif  // CRUCIBLE_TESTS_SUPPORT_TEST_SUPPORT_H_
