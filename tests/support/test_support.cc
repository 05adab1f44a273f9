#include "tests/support/test_support.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <atomic>
#include <mutex>
#include <thread>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/verdict_json.h"

#ifndef CRUCIBLE_SOURCE_DIR
#error "CRUCIBLE_SOURCE_DIR must be defined"
#endif

namespace crucible::testing {

std::shared_ptr<sandbox::ForkServerSandbox> SharedSandbox() {
  static std::shared_ptr<sandbox::ForkServerSandbox>* sandbox = [] {
    auto started = sandbox::ForkServerSandbox::Start({});
    if (!started.ok()) CRUCIBLE_LOG(Fatal) << "cannot start the sandbox: " << started.status();
    return new std::shared_ptr<sandbox::ForkServerSandbox>(std::move(*started));
  }();
  return *sandbox;
}

Judge& SharedJudge() {
  static Judge* judge = [] {
    auto created = Judge::Create(JudgeConfig{}, SharedSandbox(),
                                 LanguageRegistry::Default(CRUCIBLE_PYTHON_EXECUTABLE));
    if (!created.ok()) CRUCIBLE_LOG(Fatal) << "cannot create the judge: " << created.status();
    return created->release();
  }();
  return *judge;
}

std::vector<pid_t> ProcessesWithUids(uid_t first, int count) {
  std::vector<pid_t> out;
  for (const std::string& name : ListDir("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(name, &pid)) continue;
    std::ifstream status("/proc/" + name + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Uid:", 0) != 0) continue;
      std::vector<std::string> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      uid_t uid = 0;
      if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &uid) && uid >= first &&
          uid < first + static_cast<uid_t>(count)) {
        out.push_back(pid);
      }
      break;
    }
  }
  return out;
}

std::vector<std::string> LeftoverCgroups(const sandbox::Sandbox& sandbox) {
  std::vector<std::string> out;
  for (const std::string& dir : sandbox.info().cgroup_dirs()) {
    for (const std::string& name : ListDir(dir)) {
      if (name.rfind("run-", 0) == 0) out.push_back(dir + "/" + name);
    }
  }
  return out;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  return out;
}

v1::Problem MakeProblem(const std::string& id,
                        const std::vector<std::pair<std::string, std::string>>& tests,
                        int64_t time_limit_ms, int64_t memory_limit_mib) {
  v1::Problem p;
  p.set_id(id);
  p.set_time_limit_ms(time_limit_ms);
  p.set_memory_limit_mib(memory_limit_mib);
  p.mutable_checker()->set_kind(v1::Checker::TOKENS);
  for (const auto& [input, output] : tests) {
    v1::TestCase* t = p.add_tests();
    t->set_input(input);
    t->set_output(output);
  }
  return p;
}

v1::Program MakeProgram(const std::string& language, const std::string& source) {
  v1::Program p;
  p.set_language(language);
  p.set_source(source);
  return p;
}

std::string SourceDir() { return CRUCIBLE_SOURCE_DIR; }

std::string ReadTestFile(const std::string& relative_path) {
  auto text = ReadFile(SourceDir() + "/" + relative_path);
  if (!text.ok()) CRUCIBLE_LOG(Fatal) << text.status();
  return *text;
}

v1::SandboxLimits TestLimits() {
  v1::SandboxLimits l;
  // Generous: these limits must never end a test that is not about them, even on
  // a loaded two-core CI machine. Tests of the limits set their own.
  l.set_cpu_time_ms(10000);
  l.set_wall_time_ms(30000);
  l.set_memory_bytes(256 << 20);
  l.set_max_processes(32);
  l.set_max_file_bytes(16 << 20);
  l.set_max_open_files(64);
  l.set_stack_bytes(64 << 20);
  l.set_tmp_bytes(16 << 20);
  return l;
}

ReferenceCheck JudgeReferences(const std::vector<v1::Problem>& problems,
                               const std::function<v1::Program(const v1::Problem&)>& extra_wrong) {
  struct Job {
    const v1::Problem* problem;
    v1::Program program;
    bool reference;
  };
  std::vector<Job> jobs;
  for (const v1::Problem& p : problems) {
    for (const v1::Program& s : p.solutions()) jobs.push_back({&p, s, true});
    for (const v1::Program& s : p.incorrect_solutions()) jobs.push_back({&p, s, false});
    if (extra_wrong) jobs.push_back({&p, extra_wrong(p), false});
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  ReferenceCheck check;
  check.judged = jobs.size();
  std::vector<std::thread> workers;
  for (int slot = 0; slot < 2; ++slot) {
    workers.emplace_back([&, slot] {
      for (size_t i = next++; i < jobs.size(); i = next++) {
        const Job& job = jobs[i];
        v1::JudgeOptions options;
        options.set_test_set(v1::ALL);
        // A wrong solution only has to fail once.
        options.set_stop_at_first_failure(!job.reference);
        auto verdict = SharedJudge().Evaluate(*job.problem, job.program, options, slot);
        const bool ok = verdict.ok() && verdict->verdict() == v1::OK;
        const bool sound = verdict.ok() && verdict->verdict() != v1::SE;
        if (!sound || ok != job.reference) {
          std::lock_guard<std::mutex> lock(mu);
          check.unexpected.push_back(absl::StrCat(
              job.problem->id(), " ", job.program.language(), job.reference ? " reference: " : " wrong: ",
              verdict.ok() ? VerdictToJson(*verdict).substr(0, 600) : verdict.status().ToString()));
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return check;
}

}  // namespace crucible::testing
