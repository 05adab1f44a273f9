#include "judge_workers/judge.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "judge_workers/checker.h"
#include "judge_workers/function_harness.h"
#include "judge_workers/verdict.h"
#include "judge_workers/work_root.h"

namespace crucible {

// A program as the sandbox sees it: a directory holding its source (and binary), and the
// outcome of compiling it. Shared by every evaluation of the same source.
struct Judge::CompiledProgram {
  std::string dir;
  std::string language;
  bool compile_ok = false;
  std::string compile_output;
  int64_t compile_time_ms = 0;
  // Python under the zygote: the compile check happens in the first test run instead of
  // a run of its own. Until a run has told, the outcome is unknown.
  bool check_deferred = false;
  std::mutex deferred_mu;
  enum class Deferred { kUnknown, kCompiles, kError } deferred = Deferred::kUnknown;
  std::string deferred_output;
};

// LRU cache of compiled programs keyed by (language, source). Concurrent requests for
// the same new program wait for one compilation.
class Judge::ProgramCache {
 public:
  ProgramCache(std::string root, size_t max_entries, int64_t max_source_bytes)
      : root_(std::move(root)), max_entries_(max_entries), max_source_bytes_(max_source_bytes) {}

  struct Slot {
    std::mutex mu;
    std::condition_variable ready_cv;
    bool ready = false;
    std::shared_ptr<CompiledProgram> program;
  };

  // Returns the entry and whether the caller must compile it (and then call Publish).
  std::pair<std::shared_ptr<Slot>, bool> Lookup(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return {it->second->slot, false};
    }
    auto slot = std::make_shared<Slot>();
    lru_.push_front(Entry{key, slot});
    index_[key] = lru_.begin();
    source_bytes_ += static_cast<int64_t>(key.size());
    EvictLocked();
    return {slot, true};
  }

  void Forget(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return;
    source_bytes_ -= static_cast<int64_t>(key.size());
    lru_.erase(it->second);
    index_.erase(it);
  }

  std::string NewDir() { return absl::StrCat(root_, "/p", next_dir_.fetch_add(1)); }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<Slot> slot;
  };

  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (lru_.size() > 1 &&
           (lru_.size() > max_entries_ || source_bytes_ > max_source_bytes_)) {
      Entry& victim = lru_.back();
      // The directory goes when the last evaluation using it lets go (see Evaluate).
      source_bytes_ -= static_cast<int64_t>(victim.key.size());
      index_.erase(victim.key);
      lru_.pop_back();
    }
  }

  const std::string root_;
  const size_t max_entries_;
  const int64_t max_source_bytes_;
  std::atomic<uint64_t> next_dir_{1};
  absl::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
  int64_t source_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace {

std::string Truncate(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  return text.substr(0, max_bytes);
}

std::string ProgramKey(const std::string& language, const std::string& source) {
  std::string key;
  key.reserve(language.size() + 1 + source.size());
  key.append(language).push_back('\0');
  key.append(source);
  return key;
}

}  // namespace

Judge::Judge(JudgeConfig config, std::shared_ptr<sandbox::Sandbox> sandbox,
             LanguageRegistry languages)
    : config_(std::move(config)), sandbox_(std::move(sandbox)), languages_(std::move(languages)) {
  cache_ = std::make_unique<ProgramCache>(config_.work_root, config_.program_cache_entries,
                                          config_.program_cache_source_bytes);
}

absl::StatusOr<std::unique_ptr<Judge>> Judge::Create(JudgeConfig config,
                                                     std::shared_ptr<sandbox::Sandbox> sandbox,
                                                     LanguageRegistry languages) {
  int lock_fd = -1;
  if (config.work_root.empty()) {
    // Judges killed before they could clean up left their roots; a minute's grace covers a
    // judge that has made its directory but not yet locked it.
    const int swept = SweepAbandonedWorkRoots(TempRoot(), "crucible-judge.", absl::Minutes(1));
    if (swept > 0) CRUCIBLE_LOG(Info) << "removed " << swept << " work directories of judges that are gone";
    CRUCIBLE_ASSIGN_OR_RETURN(ClaimedDir root,
                              MakeClaimedDir(TempRoot(), absl::StrCat("crucible-judge.", ::getpid(), ".")));
    config.work_root = root.path;
    lock_fd = root.lock_fd;
  } else if (::mkdir(config.work_root.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("mkdir ", config.work_root));
  }
  // A root made here is removed again if the judge cannot start.
  auto give_up = [&](absl::Status status) {
    if (lock_fd >= 0) {
      RemoveTree(config.work_root).IgnoreError();
      ::close(lock_fd);
    }
    return status;
  };
  // The sandbox user (an unprivileged uid) must be able to reach program directories.
  if (::chmod(config.work_root.c_str(), 0711) != 0) {
    return give_up(ErrnoToStatus(errno, absl::StrCat("chmod ", config.work_root)));
  }
  if (languages.Names().empty()) {
    return give_up(absl::FailedPreconditionError("no language is available (python3 or g++ missing)"));
  }
  auto judge = std::unique_ptr<Judge>(new Judge(std::move(config), std::move(sandbox), std::move(languages)));
  judge->work_root_lock_fd_ = lock_fd;
  if (!judge->config_.precompiled_dir.empty()) {
    absl::StatusOr<std::unique_ptr<PrecompiledHeaders>> headers = PrecompiledHeaders::Start(
        judge->config_.precompiled_dir, judge->languages_, judge->sandbox_);
    if (headers.ok()) {
      judge->precompiled_ = std::move(*headers);
    } else {
      // Only slower: every compile parses its headers.
      CRUCIBLE_LOG(Warning) << "no precompiled headers: " << headers.status();
    }
  }
  return judge;
}

Judge::~Judge() {
  RemoveTree(config_.work_root).IgnoreError();
  if (work_root_lock_fd_ >= 0) ::close(work_root_lock_fd_);
}

absl::Status Judge::ValidateProgram(const v1::Program& program) const {
  if (languages_.Find(program.language()) == nullptr) {
    std::string known;
    for (const std::string& name : languages_.Names()) absl::StrAppend(&known, known.empty() ? "" : ", ", name);
    return absl::InvalidArgumentError(absl::StrCat("program.language: unknown language \"",
                                                   program.language(), "\" (known: ", known, ")"));
  }
  if (program.source().empty()) {
    return absl::InvalidArgumentError("program.source: empty");
  }
  if (static_cast<int64_t>(program.source().size()) > config_.max_source_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("program.source: ", program.source().size(),
                                                   " bytes exceeds the limit of ",
                                                   config_.max_source_bytes));
  }
  if (program.source().find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "program.source: contains a NUL byte at offset ", program.source().find('\0')));
  }
  return absl::OkStatus();
}

v1::SandboxLimits Judge::RunLimits(const v1::Problem& problem, const Language& language) const {
  v1::SandboxLimits l;
  const int64_t cpu_ms =
      std::max<int64_t>(1, static_cast<int64_t>(problem.time_limit_ms() * language.time_limit_factor));
  const int64_t memory = problem.memory_limit_mib() << 20;
  l.set_cpu_time_ms(cpu_ms);
  // Enough for a program that waits on nothing to show TLE by CPU time first; a program
  // that sleeps is stopped here.
  l.set_wall_time_ms(std::max<int64_t>(2 * cpu_ms, cpu_ms + 1000));
  l.set_memory_bytes(memory);
  l.set_max_processes(config_.max_processes);
  l.set_max_file_bytes(config_.max_output_bytes);
  l.set_max_open_files(config_.max_open_files);
  l.set_stack_bytes(std::min(memory, config_.max_stack_bytes));
  l.set_tmp_bytes(config_.tmp_bytes);
  return l;
}

absl::StatusOr<std::shared_ptr<Judge::CompiledProgram>> Judge::Compile(const Language& language,
                                                                       const std::string& source,
                                                                       int slot, bool as_checker) {
  // Checkers are exec'd with arguments, so their check cannot ride on a zygote run.
  const std::string key = absl::StrCat(as_checker ? "checker:" : "", ProgramKey(language.name, source));
  auto [entry, must_compile] = cache_->Lookup(key);
  if (!must_compile) {
    std::unique_lock<std::mutex> lock(entry->mu);
    entry->ready_cv.wait(lock, [&] { return entry->ready; });
    if (entry->program != nullptr) return entry->program;
    return absl::UnavailableError("compilation failed in the sandbox");
  }
  // The directory lives as long as some evaluation or the cache holds the program.
  std::string dir = cache_->NewDir();
  auto program = std::shared_ptr<CompiledProgram>(new CompiledProgram, [](CompiledProgram* p) {
    RemoveTree(p->dir).IgnoreError();
    delete p;
  });
  program->dir = dir;
  program->language = language.name;
  absl::Status status;
  if (::mkdir(dir.c_str(), 0755) != 0) status = ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
  if (status.ok()) status = WriteFile(dir + "/" + language.source_file, source, 0644);
  if (status.ok() && language.compile_writes_work_dir && ::geteuid() == 0) {
    auto [uid, gid] = sandbox_->OutsideIds(slot);
    if (::chown(dir.c_str(), uid, gid) != 0) status = ErrnoToStatus(errno, "chown");
  }
  const bool defer = language.compile_action == v1::RunRequest::PYTHON_CHECK &&
                     language.run_action == v1::RunRequest::PYTHON_RUN &&
                     sandbox_->info().python_zygote() && !as_checker;
  if (status.ok() && (!language.compiled() || defer)) {
    program->compile_ok = true;
    program->check_deferred = defer;
  } else if (status.ok()) {
    sandbox::SessionOptions session;
    session.work_dir = dir;
    session.work_dir_writable = language.compile_writes_work_dir;
    if (precompiled_ != nullptr) session.precompiled_dir = precompiled_->DirFor(language.name);
    session.slot = slot;
    // A compiler is a pipeline of processes (cc1plus | as, then ld): let it use every CPU.
    session.pin_cpu = false;
    session.limits = language.compile_limits;
    sandbox::SandboxCommand cmd;
    cmd.argv = language.compile_argv;
    cmd.action = language.compile_action;
    cmd.python_script = "/work/" + language.source_file;
    cmd.max_stderr_bytes = 64 << 10;
    absl::StatusOr<sandbox::SandboxOutput> out = sandbox_->RunOnce(session, cmd);
    if (!out.ok()) {
      status = out.status();
    } else {
      const v1::SandboxResult& r = out->result;
      program->compile_time_ms = r.wall_time_us() / 1000;
      program->compile_output = out->stderr_data;
      if (program->compile_output.empty()) program->compile_output = out->stdout_data;
      const v1::SandboxLimits& cl = language.compile_limits;
      if (r.wall_timeout() || r.cpu_time_us() > cl.cpu_time_ms() * 1000 ||
          r.term_signal() == SIGXCPU) {
        absl::StrAppend(&program->compile_output, "\ncompilation exceeded its time limit (",
                        cl.cpu_time_ms(), " ms)");
      } else if (r.oom_killed() || r.peak_memory_bytes() >= cl.memory_bytes()) {
        absl::StrAppend(&program->compile_output, "\ncompilation exceeded its memory limit (",
                        cl.memory_bytes() >> 20, " MiB)");
      } else if (r.exit_code() == 0 && r.term_signal() == 0) {
        program->compile_ok = true;
      }
    }
    // The program's directory is read-only to runs; give it back to the judge.
    if (language.compile_writes_work_dir && ::geteuid() == 0) {
      if (::chown(dir.c_str(), 0, 0) != 0 && status.ok()) status = ErrnoToStatus(errno, "chown");
    }
  }
  {
    std::lock_guard<std::mutex> lock(entry->mu);
    if (status.ok()) entry->program = program;
    entry->ready = true;
  }
  entry->ready_cv.notify_all();
  if (!status.ok()) {
    cache_->Forget(key);
    return status;
  }
  return program;
}

v1::TestResult Judge::RunCheckerProgram(const CompiledProgram& checker, const v1::TestCase& test,
                                        const std::string& output, const v1::Problem& problem,
                                        int slot) {
  v1::TestResult result;
  const Language* language = languages_.Find(checker.language);
  auto fail = [&](absl::string_view why) {
    result.set_verdict(v1::SE);
    result.set_subtype("checker failure");
    result.set_checker_message(std::string(why));
    return result;
  };
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(config_.work_root, "check");
  if (!dir.ok()) return fail(dir.status().message());
  ::chmod(dir->path().c_str(), 0755);
  absl::Status status = WriteFile(dir->path() + "/input.txt", test.input());
  if (status.ok()) status = WriteFile(dir->path() + "/output.txt", output);
  if (status.ok()) status = WriteFile(dir->path() + "/answer.txt", test.output());
  for (const char* name : {"main", "main.py", "main.cpp"}) {
    std::string from = checker.dir + "/" + name, to = dir->path() + "/" + name;
    if (status.ok() && ::access(from.c_str(), F_OK) == 0 && ::link(from.c_str(), to.c_str()) != 0) {
      status = ErrnoToStatus(errno, "link checker");
    }
  }
  if (!status.ok()) return fail(status.message());
  sandbox::SandboxCommand cmd;
  cmd.argv = language->run_argv;
  for (const char* arg : {"/work/input.txt", "/work/output.txt", "/work/answer.txt"}) {
    cmd.argv.push_back(arg);
  }
  cmd.action = v1::RunRequest::EXEC;  // the zygote runs scripts without arguments
  sandbox::SessionOptions session;
  session.work_dir = dir->path();
  session.slot = slot;
  session.limits = RunLimits(problem, *language);
  session.limits.set_cpu_time_ms(std::max<int64_t>(session.limits.cpu_time_ms(), 5000));
  session.limits.set_wall_time_ms(2 * session.limits.cpu_time_ms());
  absl::StatusOr<sandbox::SandboxOutput> out = sandbox_->RunOnce(session, cmd);
  if (!out.ok()) return fail(out.status().message());
  const v1::SandboxResult& r = out->result;
  std::string message = Truncate(out->stderr_data.empty() ? out->stdout_data : out->stderr_data, 512);
  // testlib's exit codes: 0 accepted, 1 wrong answer, 2 presentation error. A Python
  // checker that dies of an exception also exits 1; its traceback marks it as broken.
  const bool crashed = !PythonExceptionName(out->stderr_data).empty() &&
                       PythonExceptionName(out->stderr_data) != "SystemExit";
  if (crashed) {
    return fail(absl::StrCat("checker raised ", PythonExceptionName(out->stderr_data), ": ", message));
  }
  if (r.term_signal() == 0 && r.exit_code() == 0) {
    result.set_verdict(v1::OK);
  } else if (r.term_signal() == 0 && (r.exit_code() == 1 || r.exit_code() == 2)) {
    result.set_verdict(v1::WA);
  } else {
    return fail(absl::StrCat("checker ended with ",
                             r.term_signal() ? SignalName(r.term_signal())
                                             : absl::StrCat("exit code ", r.exit_code()),
                             r.wall_timeout() ? " (timed out)" : "", ": ", message));
  }
  result.set_checker_message(message);
  return result;
}

absl::StatusOr<v1::Verdict> Judge::Evaluate(const v1::Problem& problem, const v1::Program& program,
                                            const v1::JudgeOptions& options, int slot,
                                            absl::Time deadline) {
  CRUCIBLE_RETURN_IF_ERROR(ValidateProgram(program));
  const Language& language = *languages_.Find(program.language());
  v1::Verdict verdict;
  verdict.set_problem_id(problem.id());
  verdict.set_language(program.language());
  auto system_error = [&](absl::string_view why) {
    verdict.set_verdict(v1::SE);
    verdict.set_subtype(std::string(why));
    verdict.set_reward(RewardFor(v1::SE, options.rewards()));
    return verdict;
  };

  absl::StatusOr<std::shared_ptr<CompiledProgram>> compiled =
      Compile(language, program.source(), slot, /*as_checker=*/false);
  if (!compiled.ok()) return system_error(compiled.status().message());
  verdict.set_compile_time_ms((*compiled)->compile_time_ms);
  auto compile_error = [&](const std::string& output) {
    verdict.set_verdict(v1::CE);
    verdict.set_compile_output(Truncate(output, 64 << 10));
    verdict.set_reward(RewardFor(v1::CE, options.rewards()));
    verdict.clear_tests();
    return verdict;
  };
  if (!(*compiled)->compile_ok) return compile_error((*compiled)->compile_output);
  CompiledProgram& program_state = **compiled;
  if (problem.function().style() != v1::FunctionCall::STYLE_UNSPECIFIED &&
      language.run_action != v1::RunRequest::PYTHON_RUN) {
    return absl::InvalidArgumentError(absl::StrCat(
        "problem \"", problem.id(), "\" is a function-call problem: it takes python3 programs, not ",
        program.language()));
  }
  bool check_pending = false;
  if (program_state.check_deferred) {
    std::lock_guard<std::mutex> lock(program_state.deferred_mu);
    if (program_state.deferred == CompiledProgram::Deferred::kError) {
      return compile_error(program_state.deferred_output);
    }
    check_pending = program_state.deferred == CompiledProgram::Deferred::kUnknown;
  }

  const bool function_call = problem.function().style() != v1::FunctionCall::STYLE_UNSPECIFIED;
  std::unique_ptr<Checker> builtin = MakeBuiltinChecker(problem.checker());
  std::shared_ptr<CompiledProgram> checker_program;
  if (function_call) {
    // The harness decides; the problem's checker does not apply.
    builtin.reset();
  } else if (builtin == nullptr) {
    const Language* checker_language = languages_.Find(problem.checker().language());
    if (checker_language == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("problem \"", problem.id(),
                                                     "\": checker.language: unknown language \"",
                                                     problem.checker().language(), "\""));
    }
    absl::StatusOr<std::shared_ptr<CompiledProgram>> c =
        Compile(*checker_language, problem.checker().source(), slot, /*as_checker=*/true);
    if (!c.ok()) return system_error(c.status().message());
    if (!(*c)->compile_ok) {
      return system_error(absl::StrCat("the problem's checker does not compile: ",
                                       Truncate((*c)->compile_output, 2048)));
    }
    checker_program = *std::move(c);
  }

  struct Selected {
    const v1::TestCase* test;
    bool is_public;
  };
  std::vector<Selected> tests;
  if (options.test_set() == v1::PUBLIC || options.test_set() == v1::ALL) {
    for (const v1::TestCase& t : problem.public_tests()) tests.push_back({&t, true});
  }
  if (options.test_set() == v1::HIDDEN || options.test_set() == v1::ALL) {
    for (const v1::TestCase& t : problem.tests()) tests.push_back({&t, false});
  }
  if (tests.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "problem \"", problem.id(), "\" has no ",
        options.test_set() == v1::PUBLIC ? "public" : "hidden", " tests to judge"));
  }
  const size_t returned = options.max_returned_output_bytes() > 0
                              ? std::min(options.max_returned_output_bytes(), 65536)
                              : config_.default_returned_output_bytes;
  const v1::SandboxLimits limits = RunLimits(problem, language);
  const RunBounds bounds{limits.cpu_time_ms(), limits.memory_bytes(), limits.max_file_bytes()};

  // One session for all tests: each test is a fresh process in the same sandbox.
  sandbox::SessionOptions session_options;
  session_options.work_dir = (*compiled)->dir;
  session_options.slot = slot;
  session_options.limits = limits;
  std::unique_ptr<sandbox::SandboxSession> session;
  int passed = 0;
  for (size_t i = 0; i < tests.size(); ++i) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("deadline reached after ", i, " of ", tests.size(), " tests"));
    }
    const v1::TestCase& test = *tests[i].test;
    sandbox::SandboxCommand cmd;
    cmd.argv = language.run_argv;
    cmd.action = language.run_action;
    cmd.python_script = "/work/" + language.source_file;
    cmd.stdin_data = test.input();
    cmd.max_stderr_bytes = std::max<size_t>(returned, 4096);
    cmd.report_compile_error = check_pending;
    std::string nonce, spec;  // cmd.stdin_data views spec
    if (function_call) {
      // The referee is exec'd with the harness as its script (the zygote runs the
      // program's own file); the compile check rides on the referee's PYTHON_CHECK below.
      nonce = MakeHarnessNonce();
      cmd.argv = {language.run_argv.front(), "-I", "-c", std::string(FunctionHarnessSource())};
      cmd.action = v1::RunRequest::EXEC;
      spec = FunctionTestSpec(problem, test, nonce);
      cmd.stdin_data = spec;
      cmd.report_compile_error = false;
    }
    absl::StatusOr<sandbox::SandboxOutput> out;
    if (session == nullptr) {
      absl::StatusOr<std::unique_ptr<sandbox::SandboxSession>> opened =
          sandbox_->OpenSession(session_options);
      if (opened.ok()) {
        session = *std::move(opened);
      } else {
        out = opened.status();
      }
    }
    if (session != nullptr && function_call && check_pending) {
      // The program's syntax check, once, before the first harness run.
      sandbox::SandboxCommand check;
      check.argv = language.compile_argv;
      check.action = language.compile_action;
      check.python_script = cmd.python_script;
      check.max_stderr_bytes = 64 << 10;
      absl::StatusOr<sandbox::SandboxOutput> checked = session->Run(check);
      if (checked.ok()) {
        const bool fails = checked->result.exit_code() != 0 || checked->result.term_signal() != 0;
        check_pending = false;
        std::lock_guard<std::mutex> lock(program_state.deferred_mu);
        if (fails) {
          program_state.deferred = CompiledProgram::Deferred::kError;
          program_state.deferred_output =
              checked->stderr_data.empty() ? checked->stdout_data : checked->stderr_data;
          return compile_error(program_state.deferred_output);
        }
        program_state.deferred = CompiledProgram::Deferred::kCompiles;
      } else {
        out = checked.status();
        session.reset();
      }
    }
    if (session != nullptr) out = session->Run(cmd);
    // A failed sandbox is not reused; the next test gets a new one.
    if (!out.ok()) session.reset();
    v1::TestResult result;
    if (out.ok() && check_pending) {
      check_pending = false;
      std::lock_guard<std::mutex> lock(program_state.deferred_mu);
      if (out->result.compile_error()) {
        program_state.deferred = CompiledProgram::Deferred::kError;
        program_state.deferred_output = out->stderr_data;
        return compile_error(out->stderr_data);
      }
      program_state.deferred = CompiledProgram::Deferred::kCompiles;
    }
    if (!out.ok()) {
      result.set_verdict(v1::SE);
      result.set_subtype(std::string(out.status().message()));
    } else {
      result = ClassifyRun(*out, bounds);
      if (result.verdict() == v1::OK && function_call) {
        v1::TestResult reported = ReadHarnessReport(out->stdout_data, nonce);
        result.set_verdict(reported.verdict());
        result.set_subtype(reported.subtype());
        result.set_checker_message(reported.checker_message());
      } else if (result.verdict() == v1::OK) {
        if (builtin != nullptr) {
          CheckOutcome check = builtin->Check(test.input(), test.output(), out->stdout_data);
          if (!check.accepted) {
            result.set_verdict(v1::WA);
            result.set_checker_message(check.message);
          }
        } else {
          v1::TestResult checked =
              RunCheckerProgram(*checker_program, test, out->stdout_data, problem, slot);
          result.set_verdict(checked.verdict());
          if (checked.verdict() == v1::SE) result.set_subtype(checked.subtype());
          result.set_checker_message(checked.checker_message());
        }
      }
      result.set_stdout(Truncate(out->stdout_data, returned));
      result.set_stderr(Truncate(out->stderr_data, returned));
    }
    result.set_index(static_cast<int32_t>(i));
    result.set_public_(tests[i].is_public);
    if (IsPass(result.verdict())) ++passed;
    const bool failed = !IsPass(result.verdict());
    *verdict.add_tests() = std::move(result);
    if (failed && options.stop_at_first_failure()) break;
  }
  const v1::VerdictCode code = CombineTestVerdicts(verdict.tests());
  verdict.set_verdict(code);
  for (const v1::TestResult& t : verdict.tests()) {
    if (t.verdict() == code && code != v1::OK) {
      verdict.set_subtype(t.subtype());
      break;
    }
  }
  verdict.set_tests_passed(passed);
  verdict.set_tests_total(static_cast<int32_t>(tests.size()));
  verdict.set_pass_fraction(static_cast<double>(passed) / static_cast<double>(tests.size()));
  verdict.set_reward(RewardFor(code, options.rewards()));
  return verdict;
}

}  // namespace crucible
