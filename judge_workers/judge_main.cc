// crucible-judge: the sandboxed judge service, and a one-shot mode for people and scripts.
//
//   crucible-judge serve [--port=50051] [--workers=N] [--metrics_port=9464] ...
//   crucible-judge check --problem FILE [--problem-id ID] --language python3|cpp17
//                        --source FILE [--test-set hidden|public|all] [--stop-at-first-failure]
//
// Dashed and underscored flag spellings are both accepted.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/flags_util.h"
#include "judge_workers/check_command.h"
#include "judge_workers/judge_server.h"
#include "judge_workers/precompiled_headers.h"

ABSL_FLAG(std::string, problem, "", "check: problem file (JSONL, one line or many, or one JSON object)");
ABSL_FLAG(std::string, problem_id, "", "check: which problem of the file");
ABSL_FLAG(std::string, language, "", "check: python3 or cpp17");
ABSL_FLAG(std::string, source, "", "check: the program's source file");
ABSL_FLAG(std::string, test_set, "hidden", "check: hidden, public or all");
ABSL_FLAG(bool, stop_at_first_failure, false, "check: stop at the first failing test");

ABSL_FLAG(std::string, host, "0.0.0.0", "serve: address to listen on");
ABSL_FLAG(int, port, 50051, "serve: gRPC port (0 picks a free one)");
ABSL_FLAG(std::string, port_file, "", "serve: write the chosen port to this file");
ABSL_FLAG(int, metrics_port, 9464, "serve: Prometheus /metrics port (0 picks one; -1 disables)");
ABSL_FLAG(int, workers, 0, "serve: concurrent evaluations (0: one per CPU)");
ABSL_FLAG(int, stream_window, 0, "serve: unanswered requests per stream (0: 2 x workers)");
ABSL_FLAG(int, drain_timeout_s, 30, "serve: how long SIGTERM waits for work in flight");
ABSL_FLAG(std::string, name, "", "serve: this worker's name in responses (default host:port, the bound port)");
ABSL_FLAG(int64_t, max_problems, 100000, "serve: problems a judge holds at most (re-registering one does not count)");

ABSL_FLAG(std::string, work_dir, "", "directory for program files (default: under $TMPDIR)");
ABSL_FLAG(int64_t, max_output_mib, 32, "per-run stdout/stderr limit (OLE beyond it)");
ABSL_FLAG(int64_t, max_processes, 64, "processes and threads per run");
ABSL_FLAG(std::string, python, "", "system Python interpreter (default: the one built against)");
ABSL_FLAG(bool, python_zygote, true, "serve Python runs from a pre-initialised interpreter");
ABSL_FLAG(bool, precompiled_headers, true,
          "serve: precompile the languages' common headers (bits/stdc++.h, iostream) once per "
          "machine and compiler, and offer them to every compile");
ABSL_FLAG(std::string, precompiled_dir, "",
          "serve, precompile: the precompiled header cache (default: /var/cache/crucible/precompiled for "
          "root, else ~/.cache/crucible/precompiled); shared by the judges of a machine");
ABSL_FLAG(std::string, cgroup_parent, "", "a delegated cgroup v2 directory to use");
ABSL_FLAG(int64_t, sandbox_uid_base, 1000000000,
          "first uid of the blocks sandboxes take when the judge runs as root");

namespace {

crucible::sandbox::SandboxOptions SandboxOptionsFromFlags() {
  crucible::sandbox::SandboxOptions s;
  s.python_executable = absl::GetFlag(FLAGS_python);
  s.python_zygote = absl::GetFlag(FLAGS_python_zygote);
  s.cgroup_parent = absl::GetFlag(FLAGS_cgroup_parent);
  s.uid_base = static_cast<uid_t>(absl::GetFlag(FLAGS_sandbox_uid_base));
  return s;
}

bool ParseTestSet(const std::string& text, crucible::v1::TestSet* out) {
  if (text == "hidden") *out = crucible::v1::HIDDEN;
  else if (text == "public") *out = crucible::v1::PUBLIC;
  else if (text == "all") *out = crucible::v1::ALL;
  else return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "crucible-judge serve [flags] | crucible-judge check --problem FILE [--problem-id ID] "
      "--language python3|cpp17 --source FILE | crucible-judge precompile [--precompiled_dir DIR]");
  std::vector<std::string> args = crucible::NormalizeDashedFlags(argc, argv);
  std::vector<char*> arg_ptrs = crucible::ArgvPointers(args);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), arg_ptrs.data());
  std::string command = positional.size() > 1 ? positional[1] : "";

  crucible::v1::TestSet test_set;
  if (!ParseTestSet(absl::GetFlag(FLAGS_test_set), &test_set)) {
    std::fprintf(stderr, "crucible-judge: --test-set must be hidden, public or all\n");
    return 2;
  }
  if (command == "check") {
    crucible::CheckCommandOptions options;
    options.problem_file = absl::GetFlag(FLAGS_problem);
    options.problem_id = absl::GetFlag(FLAGS_problem_id);
    options.language = absl::GetFlag(FLAGS_language);
    options.source_file = absl::GetFlag(FLAGS_source);
    options.judge.set_test_set(test_set);
    options.judge.set_stop_at_first_failure(absl::GetFlag(FLAGS_stop_at_first_failure));
    options.sandbox = SandboxOptionsFromFlags();
    return crucible::RunCheckCommand(options);
  }
  if (command == "precompile") {
    // Fills the cache now (at image build or set-up time), so judges started later find it.
    const std::string dir = absl::GetFlag(FLAGS_precompiled_dir).empty()
                                ? crucible::DefaultPrecompiledCacheDir()
                                : absl::GetFlag(FLAGS_precompiled_dir);
    crucible::sandbox::SandboxOptions sandbox_options = SandboxOptionsFromFlags();
    auto sandbox = crucible::sandbox::ForkServerSandbox::Start(sandbox_options);
    if (!sandbox.ok()) {
      std::fprintf(stderr, "crucible-judge: %s\n", sandbox.status().ToString().c_str());
      return 3;
    }
    auto headers = crucible::PrecompiledHeaders::Start(
        dir,
        crucible::LanguageRegistry::Default(sandbox_options.python_executable.empty()
                                                ? CRUCIBLE_PYTHON_EXECUTABLE
                                                : sandbox_options.python_executable),
        std::move(*sandbox));
    if (!headers.ok()) {
      std::fprintf(stderr, "crucible-judge: %s\n", headers.status().ToString().c_str());
      return 2;
    }
    crucible::PrecompiledHeaders::Counts counts;
    if (!(*headers)->WaitUntilBuilt(absl::Minutes(30), &counts)) {
      std::fprintf(stderr, "crucible-judge: precompiling did not finish in 30 minutes\n");
      return 1;
    }
    std::printf("precompiled headers in %s: %d built, %d reused, %d failed\n", dir.c_str(),
                counts.built, counts.reused, counts.failed);
    return counts.failed == 0 ? 0 : 1;
  }
  if (command == "serve") {
    crucible::JudgeServerOptions options;
    options.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
    int metrics_port = absl::GetFlag(FLAGS_metrics_port);
    options.metrics_address =
        metrics_port < 0 ? "" : absl::StrCat(absl::GetFlag(FLAGS_host), ":", metrics_port);
    options.port_file = absl::GetFlag(FLAGS_port_file);
    options.drain_timeout = absl::Seconds(absl::GetFlag(FLAGS_drain_timeout_s));
    int workers = absl::GetFlag(FLAGS_workers);
    if (workers <= 0) workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    options.service.workers = workers;
    options.service.stream_window = absl::GetFlag(FLAGS_stream_window);
    // "" = host:port, with the port the server bound (also for --port=0).
    options.service.worker_name = absl::GetFlag(FLAGS_name);
    if (absl::GetFlag(FLAGS_max_problems) < 1) {
      std::fprintf(stderr, "crucible-judge: --max_problems must be at least 1\n");
      return 2;
    }
    options.service.max_problems = static_cast<size_t>(absl::GetFlag(FLAGS_max_problems));
    options.judge.work_root = absl::GetFlag(FLAGS_work_dir);
    if (absl::GetFlag(FLAGS_precompiled_headers)) {
      options.judge.precompiled_dir = absl::GetFlag(FLAGS_precompiled_dir);
      if (options.judge.precompiled_dir.empty()) {
        options.judge.precompiled_dir = crucible::DefaultPrecompiledCacheDir();
      }
    }
    options.judge.max_output_bytes = absl::GetFlag(FLAGS_max_output_mib) << 20;
    options.judge.max_processes = absl::GetFlag(FLAGS_max_processes);
    options.sandbox = SandboxOptionsFromFlags();
    return crucible::RunJudgeServer(options);
  }
  std::fprintf(stderr, "usage: %s\n", absl::ProgramUsageMessage().data());
  return 2;
}
