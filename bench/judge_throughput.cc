// Judge throughput: executions (test runs) per second for trivial Python and C++ programs,
// against a naive baseline measured in the same run: spawn `python3 prog.py` (or the
// binary g++ made) per test with a timeout, no isolation at all, the same number of
// worker threads, the same distinct programs and tests.
//
//   judge_throughput_bench [--programs=40] [--tests=5] [--workers=2]
//   judge_throughput_bench --table [--programs=40]   1/2/4 workers x 1/5/20 tests
//   judge_throughput_bench --profile [--workers=1]   where a Python run's time goes
//   judge_throughput_bench --soak_s=600               crucible-judge at full load; leaks
//
// Every program's source is distinct (a numbered comment), as sampled programs are, so
// neither side can reuse a compilation; the judge additionally runs Python's compile
// check (the CE step) once per program, which the baseline skips. C++ comes as three
// programs that differ in their first include: <cstdio> (almost nothing to parse),
// <iostream> and <bits/stdc++.h> (what contest programs start with). The judge reads the
// last two from its precompiled headers; the row "headers parsed" is the same judge
// without them. The baseline compiles with plain `g++ -O2`.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "actors/judge_client.h"
#include "actors/local_judge.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/subprocess.h"
#include "judge_workers/checker.h"
#include "judge_workers/judge.h"
#include "judge_workers/precompiled_headers.h"

ABSL_FLAG(int, programs, 40, "distinct programs per language");
ABSL_FLAG(int, tests, 5, "tests per program");
ABSL_FLAG(int, workers, 2, "concurrent workers on each side");
ABSL_FLAG(bool, service, true, "also measure through crucible-judge over gRPC");
ABSL_FLAG(std::string, precompiled_dir, "",
          "the judge's precompiled header cache (default: crucible-judge's default)");
ABSL_FLAG(int, soak_s, 0,
          "instead: this many seconds at full load through crucible-judge (Python and C++, "
          "some hostile programs among them), then what grew: RSS, descriptors, processes, "
          "cgroups, temporary files");
ABSL_FLAG(bool, table, false,
          "instead: naive against sandboxed (judge library) for 1, 2 and 4 workers and 1, 5 "
          "and 20 tests per program, both languages");
ABSL_FLAG(bool, profile, false,
          "instead: where a sandboxed Python run's time goes, from the sandbox's own "
          "per-run profile (one session per program, as the judge opens)");

namespace crucible {
namespace {

constexpr char kPython[] = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n";
constexpr char kCpp[] =
    "#include <cstdio>\nint main(){long long s=0,x;while(std::scanf(\"%lld\",&x)==1)s+=x;"
    "std::printf(\"%lld\\n\",s);}\n";
// The two first lines most sampled and contest C++ programs start with.
constexpr char kCppIostream[] =
    "#include <iostream>\n#include <vector>\n#include <algorithm>\nusing namespace std;\n"
    "int main(){ios::sync_with_stdio(false);cin.tie(nullptr);vector<long long> v;long long x;"
    "while(cin>>x)v.push_back(x);sort(v.begin(),v.end());long long s=0;for(long long y:v)s+=y;"
    "cout<<s<<\"\\n\";}\n";
constexpr char kCppStdc[] =
    "#include <bits/stdc++.h>\nusing namespace std;\n"
    "int main(){ios::sync_with_stdio(false);cin.tie(nullptr);vector<long long> v;long long x;"
    "while(cin>>x)v.push_back(x);sort(v.begin(),v.end());"
    "cout<<accumulate(v.begin(),v.end(),0LL)<<\"\\n\";}\n";

// The workloads: python3, and three C++ programs that differ in their first include.
const std::vector<std::string>& Kinds() {
  static const auto* kinds =
      new std::vector<std::string>{"python3", "cpp17", "cpp17/iostream", "cpp17/stdc++"};
  return *kinds;
}

struct Workload {
  std::string kind;      // a Kinds() entry, as printed
  std::string language;  // the judge's language
  std::vector<std::string> sources;
  v1::Problem problem;
};

Workload MakeWorkload(const std::string& kind, int programs, int tests) {
  Workload w;
  w.kind = kind;
  w.language = kind == "python3" ? "python3" : "cpp17";
  const char* source = kind == "python3"          ? kPython
                       : kind == "cpp17/iostream" ? kCppIostream
                       : kind == "cpp17/stdc++"   ? kCppStdc
                                                  : kCpp;
  for (int i = 0; i < programs; ++i) {
    // A trailing comment: the first include stays the first line.
    w.sources.push_back(absl::StrCat(source, w.language == "python3" ? "# program " : "// program ", i, "\n"));
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

std::string PrecompiledDir() {
  const std::string flag = absl::GetFlag(FLAGS_precompiled_dir);
  return flag.empty() ? DefaultPrecompiledCacheDir() : flag;
}

// With precompiled headers, the judge's cache is filled first (once per machine and
// compiler; the time it took is printed) and the measurement starts after.
Measure Sandboxed(const Workload& w, int workers, bool zygote, bool precompiled = true) {
  sandbox::SandboxOptions options;
  options.python_zygote = zygote;
  auto sandbox = sandbox::ForkServerSandbox::Start(options);
  if (!sandbox.ok()) CRUCIBLE_LOG(Fatal) << sandbox.status();
  JudgeConfig config;
  if (precompiled) config.precompiled_dir = PrecompiledDir();
  auto judge = Judge::Create(config, std::move(*sandbox),
                             LanguageRegistry::Default(CRUCIBLE_PYTHON_EXECUTABLE));
  if (!judge.ok()) CRUCIBLE_LOG(Fatal) << judge.status();
  if (PrecompiledHeaders* headers = (*judge)->precompiled_headers(); headers != nullptr) {
    const absl::Time start = absl::Now();
    PrecompiledHeaders::Counts counts;
    if (!headers->WaitUntilBuilt(absl::Minutes(10), &counts)) CRUCIBLE_LOG(Fatal) << "precompiling timed out";
    if (counts.built > 0 || counts.failed > 0) {
      std::printf("         (precompiled headers: %d built in %.1f s, %d reused, %d failed; once per machine)\n",
                  counts.built, absl::ToDoubleSeconds(absl::Now() - start), counts.reused, counts.failed);
    }
  }
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

// A crucible-judge on a loopback port, and a client of it with `problem` registered.
struct ServedJudge {
  std::unique_ptr<LocalJudge> judge;
  std::unique_ptr<JudgeClient> client;  // declared last: stops before the judge does
};

ServedJudge ServeJudge(int workers, const v1::Problem& problem) {
  auto judge = LocalJudge::Start(DefaultJudgeBinary(), {absl::StrCat("--workers=", workers)});
  if (!judge.ok()) CRUCIBLE_LOG(Fatal) << judge.status();
  JudgeClientOptions options;
  options.endpoints = {(*judge)->address()};
  auto client = JudgeClient::Create(options);
  if (!client.ok()) CRUCIBLE_LOG(Fatal) << client.status();
  if (absl::Status s = (*client)->RegisterProblems({problem}); !s.ok()) CRUCIBLE_LOG(Fatal) << s;
  return {std::move(*judge), std::move(*client)};
}

Measure Service(const Workload& w, int workers) {
  ServedJudge served = ServeJudge(workers, w.problem);
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
  std::vector<JudgeResult> results = served.client->JudgeAll(std::move(requests));
  m.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (const JudgeResult& r : results) {
    m.executions += w.problem.tests_size();
    if (!r.status.ok() || r.verdict.verdict() != v1::OK) m.failures += w.problem.tests_size();
  }
  return m;
}

// Per-run means, in microseconds, of the sandbox's own profile (RunProfile) and of what
// the caller saw: a session per program with every test one run, as Judge::Evaluate does.
void Profile(const Workload& w, int workers) {
  auto sandbox = sandbox::ForkServerSandbox::Start(sandbox::SandboxOptions{});
  if (!sandbox.ok()) CRUCIBLE_LOG(Fatal) << sandbox.status();
  auto dir = ScopedTempDir::Create(TempRoot(), "bench-profile");
  if (!dir.ok()) CRUCIBLE_LOG(Fatal) << dir.status();
  ::chmod(dir->path().c_str(), 0755);
  const int programs = static_cast<int>(w.sources.size());
  for (int i = 0; i < programs; ++i) {
    std::string sub = absl::StrCat(dir->path(), "/p", i);
    ::mkdir(sub.c_str(), 0755);
    WriteFile(sub + "/main.py", w.sources[i], 0644).IgnoreError();
  }
  struct Sums {
    double round_trip = 0, scratch = 0, spawn = 0, prepare = 0, program = 0, cleanup = 0;
    double session_server = 0, session_init = 0, first_round_trip = 0, sandbox_wall = 0;
    int runs = 0, sessions = 0, failures = 0;
  };
  std::vector<Sums> sums(workers);
  v1::SandboxLimits limits;
  limits.set_cpu_time_ms(2000);
  limits.set_wall_time_ms(4000);
  limits.set_memory_bytes(256 << 20);
  limits.set_max_processes(64);
  limits.set_max_file_bytes(64 << 20);
  limits.set_max_open_files(256);
  limits.set_stack_bytes(64 << 20);
  limits.set_tmp_bytes(64 << 20);
  const double seconds = RunParallel(programs, workers, [&](int i, int worker) {
    Sums& s = sums[worker];
    sandbox::SessionOptions options;
    options.work_dir = absl::StrCat(dir->path(), "/p", i);
    options.slot = worker;
    options.limits = limits;
    auto session = (*sandbox)->OpenSession(options);
    if (!session.ok()) CRUCIBLE_LOG(Fatal) << session.status();
    ++s.sessions;
    for (int t = 0; t < w.problem.tests_size(); ++t) {
      sandbox::SandboxCommand cmd;
      cmd.argv = {CRUCIBLE_PYTHON_EXECUTABLE, "/work/main.py"};
      cmd.action = v1::RunRequest::PYTHON_RUN;
      cmd.python_script = "/work/main.py";
      cmd.report_compile_error = t == 0;
      cmd.stdin_data = w.problem.tests(t).input();
      const absl::Time start = absl::Now();
      auto out = (*session)->Run(cmd);
      const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
      if (!out.ok() || out->result.exit_code() != 0) {
        ++s.failures;
        continue;
      }
      const v1::RunProfile& p = out->result.profile();
      const double in_init = p.scratch_us() + p.spawn_us() + p.prepare_us() + p.program_us() +
                             p.cleanup_us();
      if (t == 0) {
        s.session_server += p.session_server_us();
        s.session_init += p.session_init_us();
        s.first_round_trip += us - in_init;
      } else {
        s.round_trip += us - in_init;
      }
      s.scratch += p.scratch_us();
      s.spawn += p.spawn_us();
      s.prepare += p.prepare_us();
      s.program += p.program_us();
      s.cleanup += p.cleanup_us();
      s.sandbox_wall += us;
      ++s.runs;
    }
  });
  Sums total;
  for (const Sums& s : sums) {
    total.round_trip += s.round_trip;
    total.scratch += s.scratch;
    total.spawn += s.spawn;
    total.prepare += s.prepare;
    total.program += s.program;
    total.cleanup += s.cleanup;
    total.session_server += s.session_server;
    total.session_init += s.session_init;
    total.first_round_trip += s.first_round_trip;
    total.sandbox_wall += s.sandbox_wall;
    total.runs += s.runs;
    total.sessions += s.sessions;
    total.failures += s.failures;
  }
  const double runs = total.runs, sessions = total.sessions;
  const double later_runs = std::max(1.0, runs - sessions);
  std::printf("python3 profile: %d workers, %d sessions, %d runs (%d failed), %.1f runs/s\n",
              workers, total.sessions, total.runs, total.failures, runs / seconds);
  std::printf("  per run, in the init (us):  scratch %.0f  spawn %.0f  prepare %.0f  "
              "program %.0f  cleanup %.0f\n",
              total.scratch / runs, total.spawn / runs, total.prepare / runs, total.program / runs,
              total.cleanup / runs);
  std::printf("  per run, outside the init (us): judge<->init round trip %.0f (later runs)\n",
              total.round_trip / later_runs);
  std::printf("  per session (us): server %.0f  init %.0f  first run's overhead beyond the init "
              "%.0f (includes the server's part)\n",
              total.session_server / sessions, total.session_init / sessions,
              total.first_round_trip / sessions);
  std::printf("  per run as the caller sees it: %.0f us\n", total.sandbox_wall / runs);
}

// ---------------------------------------------------------------------------------------
// Soak: what a long run at full load leaves behind.

// The names in `dir`, without "." and "..": empty if it cannot be read.
std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int64_t ReadStatusKib(pid_t pid, const char* key) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!text.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::ConsumePrefix(&line, key)) continue;
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kib)) return kib;
  }
  return -1;
}

pid_t ParentOf(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return -1;
  const std::string after_comm = stat->substr(close + 2);
  std::vector<absl::string_view> fields = absl::StrSplit(after_comm, ' ');
  int ppid = -1;
  if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &ppid)) return -1;
  return ppid;
}

std::vector<pid_t> Descendants(pid_t root) {
  std::vector<pid_t> all;
  for (const std::string& name : ListDirectory("/proc")) {
    int pid = 0;
    if (absl::SimpleAtoi(name, &pid)) all.push_back(pid);
  }
  std::vector<pid_t> out;
  for (pid_t pid : all) {
    for (pid_t p = ParentOf(pid); p > 1; p = ParentOf(p)) {
      if (p == root) {
        out.push_back(pid);
        break;
      }
    }
  }
  return out;
}

int CountEntries(const std::string& dir) { return static_cast<int>(ListDirectory(dir).size()); }

// Per-run cgroups still alive: the subdirectories of each sandbox server's
// "crucible-<pid>" group, in every hierarchy (v2, or v1 memory and pids).
int CountCgroups(const std::vector<pid_t>& servers) {
  int n = 0;
  std::vector<std::string> stack = {"/sys/fs/cgroup"};
  while (!stack.empty()) {
    const std::string dir = stack.back();
    stack.pop_back();
    for (const std::string& name : ListDirectory(dir)) {
      const std::string path = dir + "/" + name;
      if (!IsDirectory(path)) continue;
      const bool ours = std::any_of(servers.begin(), servers.end(), [&](pid_t server) {
        return name == absl::StrCat("crucible-", server);
      });
      if (!ours) {
        stack.push_back(path);
        continue;
      }
      for (const std::string& run : ListDirectory(path)) n += IsDirectory(path + "/" + run);
    }
  }
  return n;
}

struct Footprint {
  int64_t judge_rss_kib = 0, sandbox_rss_kib = 0;
  int judge_fds = 0, sandbox_fds = 0, processes = 0, cgroups = 0, temp_entries = 0;
};

Footprint TakeFootprint(pid_t judge) {
  Footprint f;
  f.judge_rss_kib = ReadStatusKib(judge, "VmRSS:");
  f.judge_fds = CountEntries(absl::StrCat("/proc/", judge, "/fd"));
  std::vector<pid_t> below = Descendants(judge);
  f.processes = static_cast<int>(below.size());
  std::vector<pid_t> servers;
  for (pid_t pid : below) {
    if (ParentOf(pid) != judge) continue;
    servers.push_back(pid);
    f.sandbox_rss_kib += ReadStatusKib(pid, "VmRSS:");
    f.sandbox_fds += CountEntries(absl::StrCat("/proc/", pid, "/fd"));
  }
  f.cgroups = CountCgroups(servers);
  f.temp_entries = CountEntries(TempRoot());
  return f;
}

void Soak(int seconds, int workers) {
  const Workload py = MakeWorkload("python3", 1, 5);
  ServedJudge served = ServeJudge(workers, py.problem);
  // Distinct sources so every C++ program compiles and the compile cache turns over;
  // a few hostile ones among them.
  const std::vector<std::string> hostile = {
      "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
      "x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n",
      "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1000)\n"
      "print(sum(map(int, open(0).read().split())))\n",
      "print('x' * (1 << 30))\n",
      "while True:\n    pass\n"};
  int64_t serial = 0, executions = 0, failures = 0;
  auto batch = [&](int n) {
    std::vector<v1::JudgeRequest> requests;
    for (int i = 0; i < n; ++i, ++serial) {
      v1::JudgeRequest r;
      r.set_request_id(absl::StrCat("soak-", serial));
      r.set_problem_id(py.problem.id());
      const bool is_cpp = serial % 4 == 3;
      r.mutable_program()->set_language(is_cpp ? "cpp17" : "python3");
      if (serial % 40 == 5) {  // as an RL judge sees them: a failing run ends the program
        r.mutable_program()->set_source(hostile[(serial / 40) % hostile.size()]);
        r.mutable_options()->set_stop_at_first_failure(true);
      } else {
        r.mutable_program()->set_source(absl::StrCat(is_cpp ? "// " : "# ", "soak ", serial, "\n",
                                                     is_cpp ? kCpp : kPython));
      }
      requests.push_back(std::move(r));
    }
    for (const JudgeResult& r : served.client->JudgeAll(std::move(requests))) {
      executions += r.verdict.tests_size();  // a hostile program stops at its first failure
      if (!r.status.ok() || r.verdict.verdict() == v1::SE) ++failures;
    }
  };
  batch(4 * workers * 5);  // warm: the server, the zygote, the caches, the allocator
  executions = failures = 0;
  const int64_t warm_programs = serial;
  absl::SleepFor(absl::Seconds(1));
  const Footprint before = TakeFootprint(served.judge->pid());
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  while (absl::Now() < end) batch(4 * workers * 5);
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  absl::SleepFor(absl::Seconds(1));
  const Footprint after = TakeFootprint(served.judge->pid());
  auto growth = [](int64_t a, int64_t b) { return a > 0 ? 100.0 * (b - a) / a : 0.0; };
  std::printf("soak: %.0f s through crucible-judge (%d workers), %ld programs, %ld executions "
              "(%.0f/s), %ld requests failed or SE\n",
              elapsed, workers, serial - warm_programs, executions, executions / elapsed, failures);
  std::printf("  %-28s %10s %10s\n", "", "before", "after");
  std::printf("  %-28s %10ld %10ld  (%+.1f%%)\n", "crucible-judge RSS (KiB)", before.judge_rss_kib,
              after.judge_rss_kib, growth(before.judge_rss_kib, after.judge_rss_kib));
  std::printf("  %-28s %10ld %10ld  (%+.1f%%)\n", "crucible-sandbox RSS (KiB)",
              before.sandbox_rss_kib, after.sandbox_rss_kib,
              growth(before.sandbox_rss_kib, after.sandbox_rss_kib));
  std::printf("  %-28s %10d %10d\n", "crucible-judge open fds", before.judge_fds, after.judge_fds);
  std::printf("  %-28s %10d %10d\n", "crucible-sandbox open fds", before.sandbox_fds,
              after.sandbox_fds);
  std::printf("  %-28s %10d %10d\n", "processes below the judge", before.processes,
              after.processes);
  std::printf("  %-28s %10d %10d\n", "session cgroups", before.cgroups, after.cgroups);
  std::printf("  %-28s %10d %10d\n", "entries in the temp root", before.temp_entries,
              after.temp_entries);
}

void Report(const std::string& language, const std::string& what, const Measure& m,
            const Measure* baseline) {
  std::printf("%-14s %-46s %8.1f exec/s", language.c_str(), what.c_str(), m.rate());
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
  if (absl::GetFlag(FLAGS_soak_s) > 0) {
    crucible::Soak(absl::GetFlag(FLAGS_soak_s), workers);
    return 0;
  }
  if (absl::GetFlag(FLAGS_table)) {
    std::printf("judge throughput table: %d distinct programs per cell, %ld CPUs; exec/s "
                "(sandboxed / naive)\n\n", programs, sysconf(_SC_NPROCESSORS_ONLN));
    for (const std::string kind : {"python3", "cpp17", "cpp17/stdc++"}) {
      std::printf("%-14s %-6s %-24s %-24s %-24s\n", kind.c_str(), "tests", "1 worker",
                  "2 workers", "4 workers");
      for (int t : {1, 5, 20}) {
        std::printf("%-14s %-6d", "", t);
        for (int wk : {1, 2, 4}) {
          crucible::Workload w = crucible::MakeWorkload(kind, programs, t);
          crucible::Measure naive = crucible::Naive(w, wk);
          crucible::Measure boxed = crucible::Sandboxed(w, wk, /*zygote=*/true);
          std::string cell = absl::StrFormat("%.0f/%.0f (%.2fx)%s", boxed.rate(), naive.rate(),
                                             boxed.rate() / naive.rate(),
                                             boxed.failures + naive.failures > 0 ? "!" : "");
          std::printf(" %-24s", cell.c_str());
          std::fflush(stdout);
        }
        std::printf("\n");
      }
    }
    return 0;
  }
  if (absl::GetFlag(FLAGS_profile)) {
    crucible::Profile(crucible::MakeWorkload("python3", programs, tests), workers);
    return 0;
  }
  std::printf("judge throughput: %d workers, %d distinct programs x %d tests per language, "
              "%ld CPUs; an execution is one test run\n\n",
              workers, programs, tests, sysconf(_SC_NPROCESSORS_ONLN));
  for (const std::string& kind : crucible::Kinds()) {
    crucible::Workload w = crucible::MakeWorkload(kind, programs, tests);
    crucible::Measure naive = crucible::Naive(w, workers);
    crucible::Report(kind, kind == "python3" ? "naive: spawn python3 per test, no isolation"
                                             : "naive: g++, then spawn per test, no isolation",
                     naive, nullptr);
    if (kind == "python3") {
      crucible::Report(kind, "sandbox, python zygote (judge library)",
                       crucible::Sandboxed(w, workers, /*zygote=*/true), &naive);
      crucible::Report(kind, "sandbox, exec'd interpreter (judge library)",
                       crucible::Sandboxed(w, workers, /*zygote=*/false), &naive);
    } else {
      crucible::Report(kind, "sandbox, precompiled headers (judge library)",
                       crucible::Sandboxed(w, workers, true), &naive);
      crucible::Report(kind, "sandbox, headers parsed (judge library)",
                       crucible::Sandboxed(w, workers, true, /*precompiled=*/false), &naive);
    }
    if (absl::GetFlag(FLAGS_service)) {
      crucible::Report(kind, "crucible-judge over gRPC, one stream",
                       crucible::Service(w, workers), &naive);
    }
  }
  return 0;
}
