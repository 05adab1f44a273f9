#include "judge_workers/check_command.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/problem_io.h"
#include "common/verdict_json.h"
#include "judge_workers/judge.h"

namespace crucible {
namespace {

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "crucible-judge check: %s\n", std::string(message).c_str());
  return code;
}

}  // namespace

int RunCheckCommand(const CheckCommandOptions& options) {
  if (options.problem_file.empty() || options.language.empty() || options.source_file.empty()) {
    return Fail(2, "--problem, --language and --source are required");
  }
  absl::StatusOr<std::vector<v1::Problem>> problems = LoadProblemsFile(options.problem_file);
  if (!problems.ok()) return Fail(2, problems.status().message());
  const v1::Problem* problem = nullptr;
  if (!options.problem_id.empty()) {
    for (const v1::Problem& p : *problems) {
      if (p.id() == options.problem_id) problem = &p;
    }
    if (problem == nullptr) {
      return Fail(2, absl::StrCat("no problem with id \"", options.problem_id, "\" in ",
                                  options.problem_file));
    }
  } else if (problems->size() == 1) {
    problem = &problems->front();
  } else {
    return Fail(2, absl::StrCat(options.problem_file, " holds ", problems->size(),
                                " problems; choose one with --problem-id"));
  }
  absl::StatusOr<std::string> source = ReadFile(options.source_file);
  if (!source.ok()) return Fail(2, source.status().message());

  absl::StatusOr<std::unique_ptr<sandbox::ForkServerSandbox>> sandbox =
      sandbox::ForkServerSandbox::Start(options.sandbox);
  if (!sandbox.ok()) return Fail(3, sandbox.status().message());
  LanguageRegistry languages =
      LanguageRegistry::Default(options.sandbox.python_executable.empty()
                                    ? CRUCIBLE_PYTHON_EXECUTABLE
                                    : options.sandbox.python_executable);
  absl::StatusOr<std::unique_ptr<Judge>> judge =
      Judge::Create(JudgeConfig{}, std::move(*sandbox), std::move(languages));
  if (!judge.ok()) return Fail(3, judge.status().message());
  v1::Program program;
  program.set_language(options.language);
  program.set_source(*std::move(source));
  absl::StatusOr<v1::Verdict> verdict = (*judge)->Evaluate(*problem, program, options.judge, 0);
  if (!verdict.ok()) return Fail(2, verdict.status().message());
  std::printf("%s\n", VerdictToJson(*verdict).c_str());
  std::fflush(stdout);
  return verdict->verdict() == v1::SE ? 3 : 0;
}

}  // namespace crucible
