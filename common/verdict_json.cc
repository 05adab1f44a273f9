#include "common/verdict_json.h"

#include "nlohmann/json.hpp"

namespace crucible {

absl::string_view VerdictName(v1::VerdictCode code) {
  switch (code) {
    case v1::OK: return "OK";
    case v1::WA: return "WA";
    case v1::TLE: return "TLE";
    case v1::MLE: return "MLE";
    case v1::OLE: return "OLE";
    case v1::RE: return "RE";
    case v1::CE: return "CE";
    case v1::SE: return "SE";
    default: return "UNSPECIFIED";
  }
}

std::optional<v1::VerdictCode> ParseVerdictName(absl::string_view name) {
  for (v1::VerdictCode code : {v1::OK, v1::WA, v1::TLE, v1::MLE, v1::OLE, v1::RE, v1::CE,
                               v1::SE}) {
    if (VerdictName(code) == name) return code;
  }
  return std::nullopt;
}

std::string VerdictToJson(const v1::Verdict& v) {
  using nlohmann::json;
  json tests = json::array();
  for (const v1::TestResult& t : v.tests()) {
    json test = {{"verdict", VerdictName(t.verdict())},
                 {"subtype", t.subtype()},
                 {"time_ms", t.time_ms()},
                 {"wall_time_ms", t.wall_time_ms()},
                 {"memory_kib", t.memory_kib()},
                 {"exit_code", t.exit_code()},
                 {"signal", t.signal()},
                 {"public", t.public_()}};
    if (!t.blocked_syscall().empty()) test["blocked_syscall"] = t.blocked_syscall();
    if (!t.checker_message().empty()) test["checker_message"] = t.checker_message();
    if (!t.stdout().empty()) test["stdout"] = t.stdout();
    if (!t.stderr().empty()) test["stderr"] = t.stderr();
    tests.push_back(std::move(test));
  }
  json out = {{"verdict", VerdictName(v.verdict())},
              {"subtype", v.subtype()},
              {"reward", v.reward()},
              {"pass_fraction", v.pass_fraction()},
              {"tests_passed", v.tests_passed()},
              {"tests_total", v.tests_total()},
              {"compile_output", v.compile_output()},
              {"compile_time_ms", v.compile_time_ms()},
              {"problem_id", v.problem_id()},
              {"language", v.language()},
              {"tests", std::move(tests)}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace crucible
