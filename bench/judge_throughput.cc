// Judge throughput: executions (test runs) per second for trivial Python and C++ programs,
// against a naive baseline measured in the same run: spawn `python3 prog.py` (or the
// binary g++ made) per test with a timeout, no isolation at all, the same number of
// worker threads, the same distinct programs and tests.
//
//   judge_throughput_bench [--programs=40] [--tests=5] [--workers=2]
//
// Every program's source is distinct (a numbered comment), as sampled programs are, so
// neither side can reuse a compilation; the judge additionally runs Python's compile
// check (the CE step) once per program, which the baseline skips.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "actors/judge_client.h"
#include "actors/local_judge.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/subprocess.h"
#include "judge_workers/checker.h"
#include "judge_workers/judge.h"

ABSL_FLAG(int, programs, 40, "distinct programs per language");
ABSL_FLAG(int, tests, 5, "tests per program");
ABSL_FLAG(int, workers, 2, "concurrent workers on each side");
ABSL_FLAG(bool, service, true, "also measure through crucible-judge over gRPC");

namespace crucible {
namespace {

constexpr char kPython[] = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n";
constexpr char kCpp[] =
    "#include <cstdio>\nint main(){long long s=0,x;while(std::scanf(\"%lld\",&x)==1)s+=x;"
    "std::printf(\"%lld\\n\",s);}\n";

struct Workload {
  std::string language;
  std::vector<std::string> sources;
  v1::Problem problem;
};

Workload MakeWorkload(const std::string& language, int programs, int tests) {
  Workload w;
  w.language = language;
  for (int i = 0; i < programs; ++i) {
    w.sources.push_back(language == "python3" ? absl::StrCat("# program ", i, "\n", kPython)
                                              : absl::StrCat("// program ", i, "\n", kCpp));
  }
  w.problem.set_id("sum");
  w.problem.set_time_limit_ms(2000);
  w.problem.set_memory_limit_mib(256);
  for (int t = 0; t < tests; ++t) {
    v1::TestCase* c = w.problem.add_tests();
    c->set_input(absl::StrCat(t, " ", 2 * t, " ", 3 * t, "\n"));
    c->set_output(absl::StrCat(6 * t, "\n"));
  }
  return w;
}

// Runs fn(program index, worker) over all programs with `workers` threads; returns the
// wall time in seconds.
double RunParallel(int programs, int workers, const std::function<void(int, int)>& fn) {
  std::atomic<int> next{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = next++; i < programs; i = next++) fn(i, w);
    });
  }
  for (auto& t : threads) t.join();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

struct Measure {
  double seconds = 0;
  int executions = 0;
  int failures = 0;
  double rate() const { return executions / seconds; }
};

Measure Naive(const Workload& w, int workers) {
  auto dir = ScopedTempDir::Create(TempRoot(), "bench-naive");
  if (!dir.ok()) CRUCIBLE_LOG(Fatal) << dir.status();
  std::unique_ptr<Checker> checker = MakeTokensChecker();
  std::atomic<int> executions{0}, failures{0};
  Measure m;
  m.seconds = RunParallel(static_cast<int>(w.sources.size()), workers, [&](int i, int) {
    std::vector<std::string> argv;
    if (w.language == "python3") {
      std::string path = absl::StrCat(dir->path(), "/prog", i, ".py");
      WriteFile(path, w.sources[i]).IgnoreError();
      argv = {"/usr/bin/python3", path};
    } else {
      std::string src = absl::StrCat(dir->path(), "/prog", i, ".cpp");
      std::string exe = absl::StrCat(dir->path(), "/prog", i);
      WriteFile(src, w.sources[i]).IgnoreError();
      auto compiled = RunProcess({"/usr/bin/g++", "-std=gnu++17", "-O2", "-pipe", "-o", exe, src}, "",
                                 std::chrono::seconds(30));
      if (!compiled.ok() || compiled->exit_code != 0) {
        ++failures;
        return;
      }
      argv = {exe};
    }
    for (const v1::TestCase& t : w.problem.tests()) {
      auto r = RunProcess(argv, t.input(), std::chrono::milliseconds(w.problem.time_limit_ms()));
      ++executions;
      if (!r.ok() || r->exit_code != 0 || !checker->Check(t.input(), t.output(), r->stdout_data).accepted) {
        ++failures;
      }
    }
  });
  m.executions = executions;
  m.failures = failures;
  return m;
}

Measure Sandboxed(const Workload& w, int workers, bool zygote) {
  sandbox::SandboxOptions options;
  options.python_zygote = zygote;
  auto sandbox = sandbox::ForkServerSandbox::Start(options);
  if (!sandbox.ok()) CRUCIBLE_LOG(Fatal) << sandbox.status();
  auto judge = Judge::Create(JudgeConfig{}, std::move(*sandbox),
                             LanguageRegistry::Default(CRUCIBLE_PYTHON_EXECUTABLE));
  if (!judge.ok()) CRUCIBLE_LOG(Fatal) << judge.status();
  std::atomic<int> executions{0}, failures{0};
  Measure m;
  m.seconds = RunParallel(static_cast<int>(w.sources.size()), workers, [&](int i, int worker) {
    v1::Program program;
    program.set_language(w.language);
    program.set_source(w.sources[i]);
    auto verdict = (*judge)->Evaluate(w.problem, program, v1::JudgeOptions(), worker);
    executions += w.problem.tests_size();
    if (!verdict.ok() || verdict->verdict() != v1::OK) failures += w.problem.tests_size();
  });
  m.executions = executions;
  m.failures = failures;
  return m;
}

Measure Service(const Workload& w, int workers) {
  auto judge = LocalJudge::Start(DefaultJudgeBinary(), {absl::StrCat("--workers=", workers)});
  if (!judge.ok()) CRUCIBLE_LOG(Fatal) << judge.status();
  JudgeClientOptions options;
  options.endpoints = {(*judge)->address()};
  auto client = JudgeClient::Create(options);
  if (!client.ok()) CRUCIBLE_LOG(Fatal) << client.status();
  if (absl::Status s = (*client)->RegisterProblems({w.problem}); !s.ok()) CRUCIBLE_LOG(Fatal) << s;
  std::vector<v1::JudgeRequest> requests;
  for (size_t i = 0; i < w.sources.size(); ++i) {
    v1::JudgeRequest r;
    r.set_request_id(absl::StrCat(w.language, "-", i));
    r.set_problem_id(w.problem.id());
    r.mutable_program()->set_language(w.language);
    r.mutable_program()->set_source(w.sources[i]);
    requests.push_back(std::move(r));
  }
  Measure m;
  const absl::Time start = absl::Now();
  std::vector<JudgeResult> results = (*client)->JudgeAll(std::move(requests));
  m.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (const JudgeResult& r : results) {
    m.executions += w.problem.tests_size();
    if (!r.status.ok() || r.verdict.verdict() != v1::OK) m.failures += w.problem.tests_size();
  }
  return m;
}

void Report(const std::string& language, const std::string& what, const Measure& m,
            const Measure* baseline) {
  std::printf("%-8s %-46s %8.1f exec/s", language.c_str(), what.c_str(), m.rate());
  if (baseline != nullptr) std::printf("   %5.2fx naive", m.rate() / baseline->rate());
  if (m.failures > 0) std::printf("   (%d failed!)", m.failures);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace
}  // namespace crucible

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  crucible::SetMinLogSeverity(crucible::LogSeverity::kWarning);
  const int programs = absl::GetFlag(FLAGS_programs);
  const int tests = absl::GetFlag(FLAGS_tests);
  const int workers = absl::GetFlag(FLAGS_workers);
  std::printf("judge throughput: %d workers, %d distinct programs x %d tests per language, "
              "%ld CPUs; an execution is one test run\n\n",
              workers, programs, tests, sysconf(_SC_NPROCESSORS_ONLN));
  for (const std::string language : {"python3", "cpp17"}) {
    crucible::Workload w = crucible::MakeWorkload(language, programs, tests);
    crucible::Measure naive = crucible::Naive(w, workers);
    crucible::Report(language, language == "python3" ? "naive: spawn python3 per test, no isolation"
                                                     : "naive: g++, then spawn per test, no isolation",
                     naive, nullptr);
    if (language == "python3") {
      crucible::Report(language, "sandbox, python zygote (judge library)",
                       crucible::Sandboxed(w, workers, /*zygote=*/true), &naive);
      crucible::Report(language, "sandbox, exec'd interpreter (judge library)",
                       crucible::Sandboxed(w, workers, /*zygote=*/false), &naive);
    } else {
      crucible::Report(language, "sandbox (judge library)", crucible::Sandboxed(w, workers, true), &naive);
    }
    if (absl::GetFlag(FLAGS_service)) {
      crucible::Report(language, "crucible-judge over gRPC, one stream",
                       crucible::Service(w, workers), &naive);
    }
  }
  return 0;
}
