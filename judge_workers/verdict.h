// From how a run ended to a verdict, from per-test verdicts to the program's, and from
// the verdict to a reward.
//
// One test. In order, the first rule that holds decides:
//   MLE  the memory cgroup killed a process; or the run failed (signal or non-zero exit)
//        with its peak at the limit; or Python raised MemoryError; or C++ died of an
//        uncaught std::bad_alloc. Running out of memory is MLE whichever mechanism saw it.
//   TLE  the wall-clock limit killed the run, or its CPU time (all processes) exceeded
//        the limit, or it died of SIGXCPU.
//   OLE  stdout or stderr reached the output limit, or the run died of SIGXFSZ.
//   RE   killed by a signal (subtype: the signal, e.g. SIGSEGV; SIGSYS when the seccomp
//        policy killed it, with blocked_syscall naming the call), or a non-zero exit
//        (subtype: the Python exception's class name, else "NZEC").
//   then the checker: OK or WA.
//
// The program (precedence when tests fail differently): CE if it did not compile; SE if
// any test hit a sandbox failure; otherwise the first test, in test order, whose
// verdict is RE, TLE, MLE or OLE; otherwise WA if any test is WA; otherwise OK. This is
// CodeRL's ordering (a runtime error anywhere outranks a wrong answer) made
// deterministic; with stop-at-first-failure only the tests up to the first failure run.
//
// Rewards default to CodeRL's: CE -1.0; RE, TLE, MLE, OLE -0.6; WA -0.3; OK +1.0. SE is
// never rewarded (0, and the client retries it elsewhere).
#ifndef CRUCIBLE_JUDGE_WORKERS_VERDICT_H_
#define CRUCIBLE_JUDGE_WORKERS_VERDICT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "crucible/v1/judge.pb.h"
#include "judge_workers/sandbox/sandbox.h"

namespace crucible {

struct RunBounds {
  int64_t cpu_time_ms = 0;
  int64_t memory_bytes = 0;
  int64_t output_bytes = 0;
};

// The verdict of a run before its output is checked: OK means "exited cleanly within
// limits". Fills time, memory, exit code, signal, subtype and blocked_syscall.
v1::TestResult ClassifyRun(const sandbox::SandboxOutput& run, const RunBounds& bounds);

// The class name of the exception a Python traceback ends with ("IndexError"), or "".
std::string PythonExceptionName(absl::string_view stderr_text);

// "SIGSEGV" for 11, "SIG42" for unnamed signals.
std::string SignalName(int signal);

v1::VerdictCode CombineTestVerdicts(const google::protobuf::RepeatedPtrField<v1::TestResult>& tests);

// The reward for a verdict: the override where set, else CodeRL's default.
double RewardFor(v1::VerdictCode verdict, const v1::RewardConfig& overrides);

// Whether a verdict counts as passing a test.
inline bool IsPass(v1::VerdictCode v) { return v == v1::OK; }

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_VERDICT_H_
