#include <signal.h>

#include <catch2/catch.hpp>

#include "judge_workers/verdict.h"

namespace crucible {
namespace {

sandbox::SandboxOutput Exited(int code, const std::string& err = "") {
  sandbox::SandboxOutput out;
  out.result.set_exit_code(code);
  out.result.set_cpu_time_us(10'000);
  out.result.set_wall_time_us(12'000);
  out.result.set_peak_memory_bytes(8 << 20);
  out.stderr_data = err;
  out.stderr_bytes = static_cast<int64_t>(err.size());
  return out;
}

sandbox::SandboxOutput Signaled(int sig) {
  sandbox::SandboxOutput out = Exited(0);
  out.result.set_term_signal(sig);
  return out;
}

const RunBounds kBounds{1000, 256 << 20, 1 << 20};

TEST_CASE("a clean exit is OK pending the checker", "[verdict]") {
  v1::TestResult t = ClassifyRun(Exited(0), kBounds);
  CHECK(t.verdict() == v1::OK);
  CHECK(t.time_ms() == 10);
  CHECK(t.wall_time_ms() == 12);
  CHECK(t.memory_kib() == 8192);
}

TEST_CASE("runtime errors carry the exception or the signal", "[verdict]") {
  v1::TestResult t = ClassifyRun(
      Exited(1, "Traceback (most recent call last):\n  File \"/work/main.py\", line 1, in <module>\n"
                "ZeroDivisionError: division by zero\n"),
      kBounds);
  CHECK(t.verdict() == v1::RE);
  CHECK(t.subtype() == "ZeroDivisionError");
  t = ClassifyRun(Exited(1, "Traceback (most recent call last):\n  ...\njson.decoder.JSONDecodeError: x\n"),
                  kBounds);
  CHECK(t.subtype() == "JSONDecodeError");
  t = ClassifyRun(Signaled(SIGSEGV), kBounds);
  CHECK(t.verdict() == v1::RE);
  CHECK(t.subtype() == "SIGSEGV");
  CHECK(t.signal() == SIGSEGV);
  t = ClassifyRun(Exited(3, "Error: not a traceback\n"), kBounds);
  CHECK(t.subtype() == "NZEC");
  CHECK(t.exit_code() == 3);
  sandbox::SandboxOutput killed = Signaled(SIGKILL);
  killed.result.set_blocked_syscall("ptrace");
  killed.result.set_seccomp_killed(true);
  t = ClassifyRun(killed, kBounds);
  CHECK(t.verdict() == v1::RE);
  CHECK(t.blocked_syscall() == "ptrace");
}

TEST_CASE("time, memory and output limits outrank a crash", "[verdict]") {
  sandbox::SandboxOutput slow = Signaled(SIGKILL);
  slow.result.set_wall_timeout(true);
  CHECK(ClassifyRun(slow, kBounds).verdict() == v1::TLE);
  CHECK(ClassifyRun(Signaled(SIGXCPU), kBounds).verdict() == v1::TLE);
  sandbox::SandboxOutput busy = Exited(0);
  busy.result.set_cpu_time_us(1'500'000);
  CHECK(ClassifyRun(busy, kBounds).verdict() == v1::TLE);

  sandbox::SandboxOutput oom = Signaled(SIGKILL);
  oom.result.set_oom_killed(true);
  CHECK(ClassifyRun(oom, kBounds).verdict() == v1::MLE);
  CHECK(ClassifyRun(Exited(1, "Traceback (most recent call last):\nMemoryError\n"), kBounds).verdict() ==
        v1::MLE);
  sandbox::SandboxOutput bad_alloc = Signaled(SIGABRT);
  bad_alloc.stderr_data = "terminate called after throwing an instance of 'std::bad_alloc'\n";
  CHECK(ClassifyRun(bad_alloc, kBounds).verdict() == v1::MLE);
  sandbox::SandboxOutput at_limit = Signaled(SIGSEGV);
  at_limit.result.set_peak_memory_bytes(256 << 20);
  CHECK(ClassifyRun(at_limit, kBounds).verdict() == v1::MLE);
  sandbox::SandboxOutput at_limit_ok = Exited(0);
  at_limit_ok.result.set_peak_memory_bytes(256 << 20);
  CHECK(ClassifyRun(at_limit_ok, kBounds).verdict() == v1::OK);

  CHECK(ClassifyRun(Signaled(SIGXFSZ), kBounds).verdict() == v1::OLE);
  sandbox::SandboxOutput flood = Exited(120, "OSError: [Errno 27] File too large\n");
  flood.stdout_bytes = 1 << 20;
  CHECK(ClassifyRun(flood, kBounds).verdict() == v1::OLE);
}

v1::TestResult T(v1::VerdictCode v) {
  v1::TestResult t;
  t.set_verdict(v);
  return t;
}

google::protobuf::RepeatedPtrField<v1::TestResult> Tests(std::initializer_list<v1::VerdictCode> codes) {
  google::protobuf::RepeatedPtrField<v1::TestResult> out;
  for (v1::VerdictCode c : codes) *out.Add() = T(c);
  return out;
}

TEST_CASE("precedence: SE, then the first runtime-class failure, then WA", "[verdict]") {
  CHECK(CombineTestVerdicts(Tests({v1::OK, v1::OK})) == v1::OK);
  CHECK(CombineTestVerdicts(Tests({v1::OK, v1::WA, v1::OK})) == v1::WA);
  CHECK(CombineTestVerdicts(Tests({v1::WA, v1::RE})) == v1::RE);
  CHECK(CombineTestVerdicts(Tests({v1::WA, v1::TLE, v1::RE})) == v1::TLE);
  CHECK(CombineTestVerdicts(Tests({v1::MLE, v1::TLE})) == v1::MLE);
  CHECK(CombineTestVerdicts(Tests({v1::OK, v1::OLE, v1::WA})) == v1::OLE);
  CHECK(CombineTestVerdicts(Tests({v1::RE, v1::SE})) == v1::SE);
  CHECK(CombineTestVerdicts(Tests({})) == v1::OK);
}

TEST_CASE("rewards follow CodeRL unless overridden", "[verdict]") {
  v1::RewardConfig none;
  CHECK(RewardFor(v1::CE, none) == -1.0);
  CHECK(RewardFor(v1::RE, none) == -0.6);
  CHECK(RewardFor(v1::TLE, none) == -0.6);
  CHECK(RewardFor(v1::MLE, none) == -0.6);
  CHECK(RewardFor(v1::OLE, none) == -0.6);
  CHECK(RewardFor(v1::WA, none) == -0.3);
  CHECK(RewardFor(v1::OK, none) == 1.0);
  CHECK(RewardFor(v1::SE, none) == 0.0);
  v1::RewardConfig custom;
  custom.set_runtime_error(-0.5);
  custom.set_time_limit(-0.7);
  custom.set_ok(2.0);
  CHECK(RewardFor(v1::RE, custom) == -0.5);
  CHECK(RewardFor(v1::MLE, custom) == -0.5);  // follows runtime_error
  CHECK(RewardFor(v1::TLE, custom) == -0.7);
  CHECK(RewardFor(v1::OK, custom) == 2.0);
  CHECK(RewardFor(v1::WA, custom) == -0.3);
}

TEST_CASE("signal names", "[verdict]") {
  CHECK(SignalName(SIGSEGV) == "SIGSEGV");
  CHECK(SignalName(SIGABRT) == "SIGABRT");
  CHECK(SignalName(SIGFPE) == "SIGFPE");
}

}  // namespace
}  // namespace crucible
