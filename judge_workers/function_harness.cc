#include "judge_workers/function_harness.h"

#include <sys/random.h>

#include <cstdint>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

extern "C" {
extern const char crucible_function_harness_begin[];
extern const char crucible_function_harness_end[];
}

namespace crucible {

using nlohmann::json;

absl::string_view FunctionHarnessSource() {
  return absl::string_view(crucible_function_harness_begin,
                           crucible_function_harness_end - crucible_function_harness_begin);
}

std::string MakeHarnessNonce() {
  uint8_t bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

std::string FunctionTestSpec(const v1::Problem& problem, const v1::TestCase& test,
                             const std::string& nonce) {
  const v1::FunctionCall& function = problem.function();
  json spec = {{"nonce", nonce},
               {"style", function.style() == v1::FunctionCall::CALL ? "call" : "assert"},
               {"name", function.name()},
               {"setup_code", function.setup_code()},
               {"input", test.input()},
               {"output", test.output()}};
  return spec.dump(-1, ' ', false, json::error_handler_t::replace);
}

v1::TestResult ReadHarnessReport(absl::string_view stdout_text, const std::string& nonce) {
  v1::TestResult result;
  const std::string prefix = nonce + " ";
  std::vector<absl::string_view> reports;
  for (absl::string_view line : absl::StrSplit(stdout_text, '\n')) {
    if (absl::StartsWith(line, prefix)) reports.push_back(line.substr(prefix.size()));
  }
  if (reports.size() != 1) {
    result.set_verdict(v1::WA);
    result.set_checker_message(reports.empty()
                                   ? "the harness made no report (the test did not finish)"
                                   : "more than one harness report");
    return result;
  }
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(reports[0], absl::MaxSplits(' ', 1));
  json detail = json::parse(parts.second, nullptr, /*allow_exceptions=*/false);
  std::string message, subtype;
  if (detail.is_object()) {
    if (detail.contains("message") && detail["message"].is_string()) {
      message = detail["message"].get<std::string>();
    }
    if (detail.contains("subtype") && detail["subtype"].is_string()) {
      subtype = detail["subtype"].get<std::string>();
    }
  }
  if (parts.first == "OK") {
    result.set_verdict(v1::OK);
  } else if (parts.first == "RE") {
    result.set_verdict(v1::RE);
    result.set_subtype(subtype);
  } else if (parts.first == "SE") {
    result.set_verdict(v1::SE);
    result.set_subtype(absl::StrCat("function harness: ", message));
  } else {
    result.set_verdict(v1::WA);
  }
  result.set_checker_message(message);
  return result;
}

}  // namespace crucible
