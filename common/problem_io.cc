#include "common/problem_io.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "common/files.h"
#include "common/json_errors.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

using nlohmann::json;

// Reads an optional string field; absent leaves *out unchanged.
absl::Status GetString(const json& obj, const char* key, absl::string_view where,
                       absl::string_view field, std::string* out, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return JsonFieldError(where, field, "missing");
    return absl::OkStatus();
  }
  if (!it->is_string()) return JsonTypeError(where, field, "a string", *it);
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetInt(const json& obj, const char* key, absl::string_view where,
                    absl::string_view field, int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (it->is_number_integer() || it->is_number_unsigned()) {
    *out = it->get<int64_t>();
    return absl::OkStatus();
  }
  if (it->is_number_float()) {
    double v = it->get<double>();
    if (v == static_cast<double>(static_cast<int64_t>(v))) {
      *out = static_cast<int64_t>(v);
      return absl::OkStatus();
    }
  }
  return JsonTypeError(where, field, "an integer", *it);
}

absl::Status GetDouble(const json& obj, const char* key, absl::string_view where,
                       absl::string_view field, double* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) return JsonTypeError(where, field, "a number", *it);
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status ParseTests(const json& obj, const char* key, absl::string_view where,
                        bool output_optional,
                        google::protobuf::RepeatedPtrField<v1::TestCase>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return JsonTypeError(where, key, "an array of {input, output}", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    std::string field = absl::StrCat(key, "[", i, "]");
    if (!t.is_object()) return JsonTypeError(where, field, "an object {input, output}", t);
    v1::TestCase* test = out->Add();
    CRUCIBLE_RETURN_IF_ERROR(GetString(t, "input", where, field + ".input",
                                       test->mutable_input(), /*required=*/true));
    CRUCIBLE_RETURN_IF_ERROR(GetString(t, "output", where, field + ".output",
                                       test->mutable_output(), !output_optional));
  }
  return absl::OkStatus();
}

absl::Status ParsePrograms(const json& obj, const char* key, absl::string_view where,
                           google::protobuf::RepeatedPtrField<v1::Program>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return JsonTypeError(where, key, "an array of {language, source}", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& p = (*it)[i];
    std::string field = absl::StrCat(key, "[", i, "]");
    if (!p.is_object()) return JsonTypeError(where, field, "an object {language, source}", p);
    v1::Program* program = out->Add();
    CRUCIBLE_RETURN_IF_ERROR(GetString(p, "language", where, field + ".language",
                                       program->mutable_language(), true));
    CRUCIBLE_RETURN_IF_ERROR(GetString(p, "source", where, field + ".source",
                                       program->mutable_source(), true));
  }
  return absl::OkStatus();
}

absl::Status ParseChecker(const json& obj, absl::string_view where, v1::Checker* checker) {
  auto it = obj.find("checker");
  if (it == obj.end() || it->is_null()) {
    checker->set_kind(v1::Checker::TOKENS);
    return absl::OkStatus();
  }
  if (!it->is_object()) return JsonTypeError(where, "checker", "an object {kind, ...}", *it);
  std::string kind = "tokens";
  CRUCIBLE_RETURN_IF_ERROR(GetString(*it, "kind", where, "checker.kind", &kind, false));
  if (kind == "exact") {
    checker->set_kind(v1::Checker::EXACT);
  } else if (kind == "tokens") {
    checker->set_kind(v1::Checker::TOKENS);
  } else if (kind == "float") {
    checker->set_kind(v1::Checker::FLOAT);
  } else if (kind == "program") {
    checker->set_kind(v1::Checker::PROGRAM);
  } else {
    return JsonFieldError(where, "checker.kind",
                      absl::StrCat("unknown kind \"", kind,
                                   "\"; expected exact, tokens, float or program"));
  }
  double abs_tol = 0, rel_tol = 0;
  bool float_kind = checker->kind() == v1::Checker::FLOAT;
  if (float_kind) abs_tol = rel_tol = 1e-6;
  CRUCIBLE_RETURN_IF_ERROR(GetDouble(*it, "abs_tol", where, "checker.abs_tol", &abs_tol));
  CRUCIBLE_RETURN_IF_ERROR(GetDouble(*it, "rel_tol", where, "checker.rel_tol", &rel_tol));
  checker->set_abs_tol(abs_tol);
  checker->set_rel_tol(rel_tol);
  bool program = checker->kind() == v1::Checker::PROGRAM;
  CRUCIBLE_RETURN_IF_ERROR(GetString(*it, "language", where, "checker.language",
                                     checker->mutable_language(), program));
  CRUCIBLE_RETURN_IF_ERROR(GetString(*it, "source", where, "checker.source",
                                     checker->mutable_source(), program));
  return absl::OkStatus();
}

absl::string_view FunctionStyleName(v1::FunctionCall::Style style) {
  switch (style) {
    case v1::FunctionCall::CALL: return "call";
    case v1::FunctionCall::ASSERT: return "assert";
    default: return "";
  }
}

absl::Status ParseFunction(const json& obj, absl::string_view where, v1::Problem* problem) {
  auto it = obj.find("function");
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return JsonTypeError(where, "function", "an object {style, name, ...}", *it);
  v1::FunctionCall* function = problem->mutable_function();
  std::string style;
  CRUCIBLE_RETURN_IF_ERROR(GetString(*it, "style", where, "function.style", &style, true));
  if (style == "call") {
    function->set_style(v1::FunctionCall::CALL);
  } else if (style == "assert") {
    function->set_style(v1::FunctionCall::ASSERT);
  } else {
    return JsonFieldError(where, "function.style",
                      absl::StrCat("unknown style \"", style, "\"; expected call or assert"));
  }
  CRUCIBLE_RETURN_IF_ERROR(
      GetString(*it, "name", where, "function.name", function->mutable_name(), true));
  return GetString(*it, "setup_code", where, "function.setup_code",
                   function->mutable_setup_code(), false);
}

bool IsPythonIdentifier(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

// A CALL test's input must be a JSON array (the arguments) and its output JSON.
absl::Status ValidateCallTests(const google::protobuf::RepeatedPtrField<v1::TestCase>& tests,
                               absl::string_view key, absl::string_view where) {
  for (int i = 0; i < tests.size(); ++i) {
    json args = json::parse(tests[i].input(), nullptr, /*allow_exceptions=*/false);
    if (args.is_discarded() || !args.is_array()) {
      return JsonFieldError(where, absl::StrCat(key, "[", i, "].input"),
                        "a call test's input must be a JSON array of arguments");
    }
    json expected = json::parse(tests[i].output(), nullptr, /*allow_exceptions=*/false);
    if (expected.is_discarded()) {
      return JsonFieldError(where, absl::StrCat(key, "[", i, "].output"),
                        "a call test's output must be JSON (the expected return value)");
    }
  }
  return absl::OkStatus();
}

bool IsValidIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '/' || c == ':' || c == '+';
}

}  // namespace

absl::string_view CheckerKindName(v1::Checker::Kind kind) {
  switch (kind) {
    case v1::Checker::EXACT: return "exact";
    case v1::Checker::FLOAT: return "float";
    case v1::Checker::PROGRAM: return "program";
    default: return "tokens";
  }
}

absl::Status ValidateProblem(const v1::Problem& problem, absl::string_view where) {
  if (problem.id().empty()) return JsonFieldError(where, "id", "must not be empty");
  if (problem.id().size() > 256) return JsonFieldError(where, "id", "longer than 256 characters");
  for (char c : problem.id()) {
    if (!IsValidIdChar(c)) {
      return JsonFieldError(where, "id",
                        absl::StrCat("\"", problem.id(),
                                     "\" has a character outside [A-Za-z0-9-_.:/+]"));
    }
  }
  if (problem.time_limit_ms() <= 0 || problem.time_limit_ms() > kMaxTimeLimitMs) {
    return JsonFieldError(where, "time_limit_ms",
                      absl::StrCat(problem.time_limit_ms(), " is outside 1..", kMaxTimeLimitMs));
  }
  if (problem.memory_limit_mib() <= 0 || problem.memory_limit_mib() > kMaxMemoryLimitMib) {
    return JsonFieldError(where, "memory_limit_mib",
                      absl::StrCat(problem.memory_limit_mib(), " is outside 1..",
                                   kMaxMemoryLimitMib));
  }
  if (problem.tests_size() == 0 && problem.public_tests_size() == 0) {
    return JsonFieldError(where, "tests", "the problem has no tests (tests and public_tests are empty)");
  }
  const v1::Checker& checker = problem.checker();
  if (checker.abs_tol() < 0 || checker.rel_tol() < 0) {
    return JsonFieldError(where, "checker", "tolerances must not be negative");
  }
  if (checker.kind() == v1::Checker::PROGRAM &&
      (checker.language().empty() || checker.source().empty())) {
    return JsonFieldError(where, "checker", "kind program needs a language and a source");
  }
  const v1::FunctionCall& function = problem.function();
  if (function.style() != v1::FunctionCall::STYLE_UNSPECIFIED) {
    std::vector<absl::string_view> parts = absl::StrSplit(function.name(), '.');
    if (parts.size() > 2 || !std::all_of(parts.begin(), parts.end(), IsPythonIdentifier)) {
      return JsonFieldError(where, "function.name",
                        absl::StrCat("\"", function.name(),
                                     "\" is not a Python identifier or Class.method"));
    }
    if (function.style() == v1::FunctionCall::CALL) {
      CRUCIBLE_RETURN_IF_ERROR(ValidateCallTests(problem.public_tests(), "public_tests", where));
      CRUCIBLE_RETURN_IF_ERROR(ValidateCallTests(problem.tests(), "tests", where));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Problem> ParseProblemJson(absl::string_view text, absl::string_view where) {
  json obj = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) {
    // Re-parse with exceptions to get the parser's position and reason.
    try {
      json reparsed = json::parse(text.begin(), text.end());
      (void)reparsed;
    } catch (const json::parse_error& e) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON: ", e.what()));
    }
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON"));
  }
  if (!obj.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a JSON object, got ", JsonTypeName(obj)));
  }
  v1::Problem p;
  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "id", where, "id", p.mutable_id(), true));
  CRUCIBLE_RETURN_IF_ERROR(
      GetString(obj, "statement", where, "statement", p.mutable_statement(), false));
  int64_t time_limit = kDefaultTimeLimitMs, memory_limit = kDefaultMemoryLimitMib;
  CRUCIBLE_RETURN_IF_ERROR(GetInt(obj, "time_limit_ms", where, "time_limit_ms", &time_limit));
  CRUCIBLE_RETURN_IF_ERROR(
      GetInt(obj, "memory_limit_mib", where, "memory_limit_mib", &memory_limit));
  p.set_time_limit_ms(time_limit);
  p.set_memory_limit_mib(memory_limit);
  CRUCIBLE_RETURN_IF_ERROR(ParseChecker(obj, where, p.mutable_checker()));
  CRUCIBLE_RETURN_IF_ERROR(ParseFunction(obj, where, &p));
  // An assert test's statements carry their own expectations.
  const bool output_optional = p.function().style() == v1::FunctionCall::ASSERT;
  CRUCIBLE_RETURN_IF_ERROR(
      ParseTests(obj, "public_tests", where, output_optional, p.mutable_public_tests()));
  CRUCIBLE_RETURN_IF_ERROR(ParseTests(obj, "tests", where, output_optional, p.mutable_tests()));
  CRUCIBLE_RETURN_IF_ERROR(
      GetString(obj, "starter_code", where, "starter_code", p.mutable_starter_code(), false));
  CRUCIBLE_RETURN_IF_ERROR(ParsePrograms(obj, "solutions", where, p.mutable_solutions()));
  CRUCIBLE_RETURN_IF_ERROR(
      ParsePrograms(obj, "incorrect_solutions", where, p.mutable_incorrect_solutions()));
  if (auto it = obj.find("difficulty"); it != obj.end() && !it->is_null()) {
    if (it->is_string()) {
      p.set_difficulty(it->get<std::string>());
    } else if (it->is_number_integer() || it->is_number_unsigned()) {
      p.set_difficulty(std::to_string(it->get<int64_t>()));
    } else {
      return JsonTypeError(where, "difficulty", "a string or an integer rating", *it);
    }
  }
  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "source", where, "source", p.mutable_source(), false));
  CRUCIBLE_RETURN_IF_ERROR(ValidateProblem(p, absl::StrCat(where, " (problem \"", p.id(), "\")")));
  return p;
}

absl::StatusOr<std::vector<v1::Problem>> ParseProblemsJsonl(absl::string_view text,
                                                            absl::string_view source_name) {
  std::vector<v1::Problem> problems;
  std::set<std::string> ids;
  auto add = [&](v1::Problem p, absl::string_view where) -> absl::Status {
    if (!ids.insert(p.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": id: duplicate problem id \"", p.id(), "\""));
    }
    problems.push_back(std::move(p));
    return absl::OkStatus();
  };
  int line_number = 0;
  absl::Status first_error;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    std::string where = absl::StrCat(source_name, ":", line_number);
    auto problem = ParseProblemJson(line, where);
    if (!problem.ok()) {
      first_error = problem.status();
      break;
    }
    CRUCIBLE_RETURN_IF_ERROR(add(*std::move(problem), where));
  }
  if (!first_error.ok()) {
    // A single object pretty-printed over several lines is a valid problem file too.
    const bool several_lines =
        absl::string_view(text).find('\n') < absl::StripTrailingAsciiWhitespace(text).size();
    if (problems.empty() && several_lines) {
      json whole = json::parse(text.begin(), text.end(), nullptr, false);
      if (!whole.is_discarded() && whole.is_object()) {
        problems.clear();
        ids.clear();
        CRUCIBLE_ASSIGN_OR_RETURN(v1::Problem p, ParseProblemJson(text, source_name));
        CRUCIBLE_RETURN_IF_ERROR(add(std::move(p), source_name));
        return problems;
      }
    }
    return first_error;
  }
  if (problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": no problems in the file"));
  }
  return problems;
}

absl::StatusOr<std::vector<v1::Problem>> LoadProblemsFile(const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseProblemsJsonl(text, path);
}

std::string ProblemToJson(const v1::Problem& p) {
  auto tests = [](const auto& list) {
    json out = json::array();
    for (const auto& t : list) out.push_back({{"input", t.input()}, {"output", t.output()}});
    return out;
  };
  auto programs = [](const auto& list) {
    json out = json::array();
    for (const auto& s : list) {
      out.push_back({{"language", s.language()}, {"source", s.source()}});
    }
    return out;
  };
  json checker = {{"kind", CheckerKindName(p.checker().kind())}};
  if (p.checker().kind() == v1::Checker::FLOAT) {
    checker["abs_tol"] = p.checker().abs_tol();
    checker["rel_tol"] = p.checker().rel_tol();
  }
  if (p.checker().kind() == v1::Checker::PROGRAM) {
    checker["language"] = p.checker().language();
    checker["source"] = p.checker().source();
  }
  json obj = {{"id", p.id()},
              {"statement", p.statement()},
              {"time_limit_ms", p.time_limit_ms()},
              {"memory_limit_mib", p.memory_limit_mib()},
              {"checker", checker},
              {"public_tests", tests(p.public_tests())},
              {"tests", tests(p.tests())},
              {"solutions", programs(p.solutions())},
              {"incorrect_solutions", programs(p.incorrect_solutions())}};
  if (!p.difficulty().empty()) obj["difficulty"] = p.difficulty();
  if (!p.source().empty()) obj["source"] = p.source();
  if (p.function().style() != v1::FunctionCall::STYLE_UNSPECIFIED) {
    json function = {{"style", FunctionStyleName(p.function().style())},
                     {"name", p.function().name()}};
    if (!p.function().setup_code().empty()) function["setup_code"] = p.function().setup_code();
    obj["function"] = function;
  }
  if (!p.starter_code().empty()) obj["starter_code"] = p.starter_code();
  return obj.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace crucible
