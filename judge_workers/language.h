// Languages a program may be written in. Each is a small registry entry: the file the
// source is saved as, an optional compile step (run once per distinct source, with the
// work directory writable and limits of its own), and the run command. Python's compile
// step is the CodeRL-style check that the source compiles to bytecode; both steps can be
// served by the sandbox's Python zygote.
#ifndef CRUCIBLE_JUDGE_WORKERS_LANGUAGE_H_
#define CRUCIBLE_JUDGE_WORKERS_LANGUAGE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "crucible/v1/sandbox.pb.h"

namespace crucible {

struct Language {
  std::string name;         // "python3"
  std::string source_file;  // "main.py", placed in /work
  // Empty: no compile step.
  std::vector<std::string> compile_argv;
  v1::RunRequest::Action compile_action = v1::RunRequest::EXEC;
  v1::SandboxLimits compile_limits;
  bool compile_writes_work_dir = false;  // the compiler leaves its output in /work
  // Headers the judge precompiles once (JudgeConfig::precompiled_dir) and offers to every
  // compile read-only at /precompiled, e.g. "bits/stdc++.h". precompile_argv builds one:
  // "{source}" stands for a file holding only `#include <header>`, "{output}" for the
  // precompiled file. compile_argv must search /precompiled first; a compiler that finds
  // no usable precompiled file there (flags or macros differ, not the first include)
  // reads the header as usual, so the result never depends on it.
  std::vector<std::string> precompiled_headers;
  std::vector<std::string> precompile_argv;
  std::vector<std::string> run_argv;
  v1::RunRequest::Action run_action = v1::RunRequest::EXEC;
  // Multiplies a problem's time limit for this language.
  double time_limit_factor = 1.0;

  bool compiled() const { return !compile_argv.empty(); }
};

class LanguageRegistry {
 public:
  // Adds or replaces an entry.
  void Register(Language language);
  const Language* Find(const std::string& name) const;
  std::vector<std::string> Names() const;

  // python3 (the given system interpreter) and cpp17 (g++), each only if its tool exists.
  static LanguageRegistry Default(const std::string& python_executable,
                                  const std::string& cxx_compiler = "/usr/bin/g++");

 private:
  std::map<std::string, Language> languages_;
};

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_LANGUAGE_H_
