// Hostile programs in both languages: each gets the right verdict, the judge keeps
// serving, and nothing of the program is left behind (processes, cgroups, files).
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/verdict_json.h"
#include "judge_workers/work_root.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

using testing::MakeProblem;
using testing::MakeProgram;
using testing::SharedJudge;

struct Hostile {
  std::string file;
  std::set<v1::VerdictCode> verdicts;
  std::string input = "";
  std::string expected_output = "unreachable";
  std::string subtype = "";          // checked when set
  std::string blocked_syscall = "";  // checked when set and the kernel reports it
};

std::string LanguageOf(const std::string& file) {
  return absl::EndsWith(file, ".py") ? "python3" : "cpp17";
}

void RequireJudgeStillServes() {
  v1::Problem p = MakeProblem("echo", {{"7\n", "7\n"}});
  for (const char* lang : {"python3", "cpp17"}) {
    v1::Program program = std::string(lang) == "python3"
                              ? MakeProgram(lang, "print(input())\n")
                              : MakeProgram(lang, "#include <iostream>\nint main(){int x;std::cin>>x;std::cout<<x<<'\\n';}\n");
    auto verdict = SharedJudge().Evaluate(p, program, v1::JudgeOptions(), 0);
    REQUIRE(verdict.ok());
    CHECK(verdict->verdict() == v1::OK);
  }
}

void RequireNothingLeft() {
  const sandbox::Sandbox& sandbox = SharedJudge().sandbox();
  if (::geteuid() == 0) {
    auto [uid, gid] = sandbox.OutsideIds(0);
    CHECK(testing::ProcessesWithUids(uid, sandbox::ForkServerSandbox::kUidBlock).empty());
  }
  CHECK(testing::LeftoverCgroups(sandbox).empty());
  for (const std::string& name : testing::ListDir(SharedJudge().work_root())) {
    if (name == kWorkRootLockFile) continue;  // the judge's claim on its root
    INFO(name);
    CHECK(name.rfind("p", 0) == 0);  // compiled programs only; no run or check directories
  }
}

void JudgeHostile(const Hostile& h) {
  const std::string source = testing::ReadTestFile("tests/judge_workers/hostile/" + h.file);
  v1::Problem problem = MakeProblem("hostile", {{h.input, h.expected_output}},
                                    /*time_limit_ms=*/1000, /*memory_limit_mib=*/128);
  auto verdict = SharedJudge().Evaluate(problem, MakeProgram(LanguageOf(h.file), source),
                                        v1::JudgeOptions(), 0);
  REQUIRE(verdict.ok());
  INFO(h.file << ": " << VerdictToJson(*verdict).substr(0, 2000));
  CHECK(h.verdicts.count(verdict->verdict()) == 1);
  if (!h.subtype.empty()) CHECK(verdict->subtype() == h.subtype);
  if (!h.blocked_syscall.empty() && SharedJudge().sandbox().info().seccomp_notify()) {
    REQUIRE(verdict->tests_size() == 1);
    CHECK(verdict->tests(0).blocked_syscall() == h.blocked_syscall);
  }
  RequireNothingLeft();
  RequireJudgeStillServes();
  RequireNothingLeft();
}

TEST_CASE("hostile programs: resource exhaustion", "[hostile]") {
  // A fork bomb either gives up (fork fails: RE) or keeps retrying (TLE).
  JudgeHostile({"fork_bomb.py", {v1::RE, v1::TLE}});
  JudgeHostile({"fork_bomb.cpp", {v1::TLE}});
  JudgeHostile({"memory_bomb.py", {v1::MLE}});
  JudgeHostile({"memory_bomb.cpp", {v1::MLE}});
  JudgeHostile({"infinite_loop.py", {v1::TLE}});
  JudgeHostile({"infinite_loop.cpp", {v1::TLE}});
  JudgeHostile({"sleep_forever.py", {v1::TLE}});
  JudgeHostile({"sleep_forever.cpp", {v1::TLE}});
  JudgeHostile({"output_flood.py", {v1::OLE}});
  JudgeHostile({"output_flood.cpp", {v1::OLE}});
  JudgeHostile({"thread_bomb.py", {v1::RE}, "", "unreachable", "RuntimeError"});
  JudgeHostile({"thread_bomb.cpp", {v1::RE}, "", "unreachable", "SIGABRT"});
  // Deep recursion ends at the stack limit (SIGSEGV) or, as the stack counts as memory,
  // at the memory limit. Python's recursion also builds heap frames page by page; on a
  // loaded machine it can reach the time limit first.
  JudgeHostile({"stack_overflow.py", {v1::RE, v1::MLE, v1::TLE}});
  JudgeHostile({"stack_overflow.cpp", {v1::RE, v1::MLE}});
}

TEST_CASE("hostile programs: escaping the sandbox", "[hostile]") {
  JudgeHostile({"network_connect.py", {v1::RE}, "", "unreachable", "PermissionError", "socket"});
  JudgeHostile({"network_connect.cpp", {v1::OK}, "", "blocked", "", "socket"});
  JudgeHostile({"write_outside.py", {v1::OK}, "", "none"});
  JudgeHostile({"write_outside.cpp", {v1::OK}, "", "none"});
  for (const char* path : {"/usr/crucible-evil", "/etc/crucible-evil", "/crucible-evil"}) {
    CHECK(::access(path, F_OK) != 0);
  }
  // A secret on the host, readable by everyone there, named to the program.
  auto dir = ScopedTempDir::Create(TempRoot(), "hostile-secret");
  REQUIRE(dir.ok());
  ::chmod(dir->path().c_str(), 0755);
  const std::string secret = dir->path() + "/secret.txt";
  REQUIRE(WriteFile(secret, "top secret\n", 0644).ok());
  JudgeHostile({"read_outside.py", {v1::OK}, secret + "\n", "none"});
  JudgeHostile({"read_outside.cpp", {v1::OK}, secret + "\n", "none"});
  JudgeHostile({"kill_parent.py", {v1::OK}, "", "alive"});
  JudgeHostile({"kill_parent.cpp", {v1::OK}, "", "alive"});
  JudgeHostile({"spawn_shell.py", {v1::OK}, "", "from shell"});
  JudgeHostile({"spawn_shell.cpp", {v1::OK}, "", "from shell"});
  JudgeHostile({"seccomp_ptrace.cpp", {v1::RE}, "", "before", "", "ptrace"});
}

// Tests of one program run in turn; one that leaves a daemon and marks in /tmp and /dev/shm
// must find none of it in the next test, nor can its daemon read the next test's input.
TEST_CASE("hostile programs: nothing crosses from one test to the next", "[hostile]") {
  const std::string source = testing::ReadTestFile("tests/judge_workers/hostile/cross_test_spy.py");
  v1::Problem problem =
      MakeProblem("spy", {{"1 2\n", "3\n"}, {"10 20\n", "30\n"}, {"100 200\n", "300\n"}});
  for (int round = 0; round < 2; ++round) {
    auto verdict = SharedJudge().Evaluate(problem, MakeProgram("python3", source), v1::JudgeOptions(), 0);
    REQUIRE(verdict.ok());
    INFO(VerdictToJson(*verdict).substr(0, 3000));
    CHECK(verdict->verdict() == v1::OK);
    REQUIRE(verdict->tests_size() == 3);
    for (const auto& t : verdict->tests()) CHECK(t.verdict() == v1::OK);
    RequireNothingLeft();
  }
  RequireJudgeStillServes();
}

TEST_CASE("hostile programs: compile bombs are compile errors", "[hostile]") {
  for (const char* file : {"compile_bomb.cpp", "compile_include_device.cpp"}) {
    const std::string source = testing::ReadTestFile(std::string("tests/judge_workers/hostile/") + file);
    v1::Problem problem = MakeProblem("bomb", {{"", ""}});
    auto start = absl::Now();
    auto verdict = SharedJudge().Evaluate(problem, MakeProgram("cpp17", source), v1::JudgeOptions(), 0);
    REQUIRE(verdict.ok());
    INFO(file << ": " << VerdictToJson(*verdict).substr(0, 3000));
    CHECK(verdict->verdict() == v1::CE);
    CHECK(verdict->reward() == -1.0);
    CHECK(absl::Now() - start < absl::Seconds(60));
    RequireNothingLeft();
  }
  RequireJudgeStillServes();
}

}  // namespace
}  // namespace crucible
