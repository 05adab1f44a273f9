#include "judge_workers/language.h"

#include <unistd.h>

#include "common/logging.h"
#include "judge_workers/sandbox/python_zygote.h"

namespace crucible {
namespace {

v1::SandboxLimits CompileLimits(int64_t cpu_ms, int64_t memory_mib) {
  v1::SandboxLimits l;
  l.set_cpu_time_ms(cpu_ms);
  l.set_wall_time_ms(2 * cpu_ms);
  l.set_memory_bytes(memory_mib << 20);
  l.set_max_processes(32);
  l.set_max_file_bytes(128 << 20);
  l.set_max_open_files(256);
  l.set_stack_bytes(64 << 20);
  l.set_tmp_bytes(256 << 20);
  return l;
}

}  // namespace

void LanguageRegistry::Register(Language language) {
  std::string name = language.name;
  languages_[name] = std::move(language);
}

const Language* LanguageRegistry::Find(const std::string& name) const {
  auto it = languages_.find(name);
  return it == languages_.end() ? nullptr : &it->second;
}

std::vector<std::string> LanguageRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, language] : languages_) names.push_back(name);
  return names;
}

LanguageRegistry LanguageRegistry::Default(const std::string& python_executable,
                                           const std::string& cxx_compiler) {
  LanguageRegistry registry;
  if (::access(python_executable.c_str(), X_OK) == 0) {
    Language python;
    python.name = "python3";
    python.source_file = "main.py";
    python.compile_argv = {python_executable, "-c", sandbox::kPythonCheckScript, "/work/main.py"};
    python.compile_action = v1::RunRequest::PYTHON_CHECK;
    python.compile_limits = CompileLimits(/*cpu_ms=*/5000, /*memory_mib=*/512);
    python.run_argv = {python_executable, "/work/main.py"};
    python.run_action = v1::RunRequest::PYTHON_RUN;
    registry.Register(std::move(python));
  } else {
    CRUCIBLE_LOG(Warning) << "language python3 unavailable: " << python_executable
                          << " is not executable";
  }
  if (::access(cxx_compiler.c_str(), X_OK) == 0) {
    Language cpp;
    cpp.name = "cpp17";
    cpp.source_file = "main.cpp";
    // The flags that decide whether a precompiled header is usable are the same in both.
    const std::vector<std::string> flags = {"-std=gnu++17", "-O2", "-DONLINE_JUDGE"};
    cpp.compile_argv = {cxx_compiler};
    cpp.compile_argv.insert(cpp.compile_argv.end(), flags.begin(), flags.end());
    for (const char* arg : {"-pipe", "-fdiagnostics-color=never", "-fmax-errors=20",
                            "-I/precompiled"}) {
      cpp.compile_argv.push_back(arg);
    }
    // gold links these programs 1.3-3x faster than bfd (the link is half of a small
    // program's build); same output format and libraries.
    if (::access("/usr/bin/ld.gold", X_OK) == 0) cpp.compile_argv.push_back("-fuse-ld=gold");
    for (const char* arg : {"-o", "/work/main", "/work/main.cpp"}) cpp.compile_argv.push_back(arg);
    cpp.compile_limits = CompileLimits(/*cpu_ms=*/15000, /*memory_mib=*/1024);
    // The two first includes competitive programs use most; each saves 0.4-1.6 s of
    // parsing per compile.
    cpp.precompiled_headers = {"bits/stdc++.h", "iostream"};
    cpp.precompile_argv = {cxx_compiler};
    cpp.precompile_argv.insert(cpp.precompile_argv.end(), flags.begin(), flags.end());
    for (const char* arg : {"-x", "c++-header", "{source}", "-o", "{output}"}) {
      cpp.precompile_argv.push_back(arg);
    }
    cpp.compile_writes_work_dir = true;
    cpp.run_argv = {"/work/main"};
    registry.Register(std::move(cpp));
  } else {
    CRUCIBLE_LOG(Warning) << "language cpp17 unavailable: " << cxx_compiler
                          << " is not executable";
  }
  return registry;
}

}  // namespace crucible
