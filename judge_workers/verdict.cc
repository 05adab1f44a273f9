#include "judge_workers/verdict.h"

#include <signal.h>
#include <string.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace crucible {
namespace {

bool IsIdentifierChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// "pkg.mod.Name" -> "Name", or "" when text is not a dotted identifier.
std::string LastDottedComponent(absl::string_view text) {
  if (text.empty()) return "";
  for (char c : text) {
    if (!IsIdentifierChar(c) && c != '.') return "";
  }
  if (absl::ascii_isdigit(static_cast<unsigned char>(text[0]))) return "";
  size_t dot = text.rfind('.');
  absl::string_view name = dot == absl::string_view::npos ? text : text.substr(dot + 1);
  return std::string(name);
}

}  // namespace

std::string SignalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  if (abbrev == nullptr) return absl::StrCat("SIG", signal);
  return absl::StrCat("SIG", abbrev);
}

std::string PythonExceptionName(absl::string_view stderr_text) {
  // The traceback's last line: "ValueError: message", "ZeroDivisionError", or
  // "json.decoder.JSONDecodeError: ...". A traceback must be present, so that a C++
  // program printing "Error: ..." does not pass for a Python exception.
  if (!absl::StrContains(stderr_text, "Traceback (most recent call last)")) return "";
  std::vector<absl::string_view> lines = absl::StrSplit(stderr_text, '\n', absl::SkipEmpty());
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    absl::string_view line = absl::StripTrailingAsciiWhitespace(*it);
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') return "";
    size_t colon = line.find(':');
    std::string name = LastDottedComponent(line.substr(0, colon));
    if (name.empty()) return "";
    // A bare word is an exception only if it looks like one ("KeyboardInterrupt").
    if (colon == absl::string_view::npos && !absl::EndsWith(name, "Error") &&
        !absl::EndsWith(name, "Exception") && !absl::EndsWith(name, "Interrupt") &&
        !absl::EndsWith(name, "Exit") && name != "StopIteration") {
      return "";
    }
    return name;
  }
  return "";
}

v1::TestResult ClassifyRun(const sandbox::SandboxOutput& run, const RunBounds& bounds) {
  const v1::SandboxResult& r = run.result;
  v1::TestResult t;
  t.set_time_ms(r.cpu_time_us() / 1000);
  t.set_wall_time_ms(r.wall_time_us() / 1000);
  t.set_memory_kib(r.peak_memory_bytes() / 1024);
  t.set_exit_code(r.exit_code());
  t.set_signal(r.term_signal());
  t.set_blocked_syscall(r.blocked_syscall());

  const bool failed = r.term_signal() != 0 || r.exit_code() != 0;
  const std::string exception = failed ? PythonExceptionName(run.stderr_data) : "";
  const bool bad_alloc = r.term_signal() == SIGABRT &&
                         absl::StrContains(run.stderr_data, "std::bad_alloc");
  const bool at_memory_limit =
      bounds.memory_bytes > 0 && r.peak_memory_bytes() >= bounds.memory_bytes;
  if (r.oom_killed() || (failed && at_memory_limit) || exception == "MemoryError" ||
      bad_alloc) {
    t.set_verdict(v1::MLE);
    return t;
  }
  if (r.wall_timeout() || r.cpu_time_us() > bounds.cpu_time_ms * 1000 ||
      r.term_signal() == SIGXCPU) {
    t.set_verdict(v1::TLE);
    return t;
  }
  if ((bounds.output_bytes > 0 &&
       (run.stdout_bytes >= bounds.output_bytes || run.stderr_bytes >= bounds.output_bytes)) ||
      r.term_signal() == SIGXFSZ) {
    t.set_verdict(v1::OLE);
    return t;
  }
  if (r.term_signal() != 0) {
    t.set_verdict(v1::RE);
    t.set_subtype(SignalName(r.term_signal()));
    return t;
  }
  if (r.exit_code() != 0) {
    t.set_verdict(v1::RE);
    t.set_subtype(exception.empty() ? "NZEC" : exception);
    return t;
  }
  t.set_verdict(v1::OK);
  return t;
}

v1::VerdictCode CombineTestVerdicts(
    const google::protobuf::RepeatedPtrField<v1::TestResult>& tests) {
  bool any_wa = false;
  for (const v1::TestResult& t : tests) {
    if (t.verdict() == v1::SE) return v1::SE;
  }
  for (const v1::TestResult& t : tests) {
    switch (t.verdict()) {
      case v1::RE:
      case v1::TLE:
      case v1::MLE:
      case v1::OLE: return t.verdict();
      case v1::WA: any_wa = true; break;
      default: break;
    }
  }
  return any_wa ? v1::WA : v1::OK;
}

double RewardFor(v1::VerdictCode verdict, const v1::RewardConfig& o) {
  const double runtime_error = o.has_runtime_error() ? o.runtime_error() : -0.6;
  switch (verdict) {
    case v1::OK: return o.has_ok() ? o.ok() : 1.0;
    case v1::WA: return o.has_wrong_answer() ? o.wrong_answer() : -0.3;
    case v1::CE: return o.has_compile_error() ? o.compile_error() : -1.0;
    case v1::RE: return runtime_error;
    case v1::TLE: return o.has_time_limit() ? o.time_limit() : runtime_error;
    case v1::MLE: return o.has_memory_limit() ? o.memory_limit() : runtime_error;
    case v1::OLE: return o.has_output_limit() ? o.output_limit() : runtime_error;
    default: return 0.0;
  }
}

}  // namespace crucible
