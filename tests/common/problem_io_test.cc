#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "common/bundled_problems.h"
#include "common/problem_io.h"

namespace crucible {
namespace {

// The example of DESIGN.md, verbatim.
constexpr char kDesignExample[] = R"({"id": "sum-two", "statement": "Read two integers, print their sum.",
 "time_limit_ms": 2000, "memory_limit_mib": 256,
 "checker": {"kind": "tokens"},
 "public_tests": [{"input": "1 2\n", "output": "3\n"}],
 "tests": [{"input": "-5 7\n", "output": "2\n"}],
 "solutions": [{"language": "python3", "source": "..."}],
 "incorrect_solutions": [{"language": "cpp17", "source": "..."}],
 "difficulty": "introductory", "source": "bundled"})";

std::string ErrorOf(absl::string_view text) {
  auto parsed = ParseProblemsJsonl(text, "p.jsonl");
  REQUIRE_FALSE(parsed.ok());
  CHECK(absl::IsInvalidArgument(parsed.status()));
  return std::string(parsed.status().message());
}

TEST_CASE("the DESIGN.md example parses field for field", "[problem_io]") {
  auto problems = ParseProblemsJsonl(kDesignExample, "design");
  REQUIRE(problems.ok());
  REQUIRE(problems->size() == 1);
  const v1::Problem& p = problems->front();
  CHECK(p.id() == "sum-two");
  CHECK(p.statement() == "Read two integers, print their sum.");
  CHECK(p.time_limit_ms() == 2000);
  CHECK(p.memory_limit_mib() == 256);
  CHECK(p.checker().kind() == v1::Checker::TOKENS);
  REQUIRE(p.public_tests_size() == 1);
  CHECK(p.public_tests(0).input() == "1 2\n");
  CHECK(p.public_tests(0).output() == "3\n");
  REQUIRE(p.tests_size() == 1);
  CHECK(p.tests(0).input() == "-5 7\n");
  CHECK(p.solutions(0).language() == "python3");
  CHECK(p.incorrect_solutions(0).language() == "cpp17");
  CHECK(p.difficulty() == "introductory");
  CHECK(p.source() == "bundled");
}

TEST_CASE("defaults and alternative spellings", "[problem_io]") {
  auto p = ParseProblemJson(R"({"id": "x", "tests": [{"input": "", "output": "1"}], "difficulty": 1800})", "x");
  REQUIRE(p.ok());
  CHECK(p->time_limit_ms() == kDefaultTimeLimitMs);
  CHECK(p->memory_limit_mib() == kDefaultMemoryLimitMib);
  CHECK(p->checker().kind() == v1::Checker::TOKENS);
  CHECK(p->difficulty() == "1800");
  auto f = ParseProblemJson(
      R"({"id": "f", "tests": [{"input": "", "output": "1"}], "checker": {"kind": "float"}})", "f");
  REQUIRE(f.ok());
  CHECK(f->checker().abs_tol() == 1e-6);
  CHECK(f->checker().rel_tol() == 1e-6);
  auto g = ParseProblemJson(R"json({"id": "g", "tests": [{"input": "", "output": "1"}],
      "checker": {"kind": "program", "language": "python3", "source": "print(1)"}, "extra_field": [1, 2]})json", "g");
  REQUIRE(g.ok());
  CHECK(g->checker().kind() == v1::Checker::PROGRAM);
  CHECK(g->checker().source() == "print(1)");
}

TEST_CASE("errors name the line and the field", "[problem_io]") {
  const std::string good = R"({"id": "a", "tests": [{"input": "1", "output": "1"}]})";
  CHECK(ErrorOf(good + "\n{not json\n") == ErrorOf(good + "\n{not json\n"));
  CHECK(absl::StrContains(ErrorOf(good + "\n{not json\n"), "p.jsonl:2: invalid JSON"));
  CHECK(absl::StrContains(ErrorOf(R"({"tests": []})"), "p.jsonl:1: id: missing"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": 5, "tests": []})"), "id: expected a string, got an integer"));
  CHECK(absl::StrContains(
      ErrorOf(good + "\n" + R"({"id": "b", "tests": [{"input": "1", "output": "1"}, {"input": "2", "output": 2}]})"),
      "p.jsonl:2: tests[1].output: expected a string, got an integer"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "c", "tests": [{"input": "1"}]})"), "tests[0].output: missing"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "d"})"), "has no tests"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "e", "tests": [{"input": "", "output": ""}], "time_limit_ms": -1})"),
                          "time_limit_ms: -1 is outside"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "e", "tests": [{"input": "", "output": ""}], "time_limit_ms": 1.5})"),
                          "time_limit_ms: expected an integer"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "e", "tests": [{"input": "", "output": ""}], "memory_limit_mib": 0})"),
                          "memory_limit_mib"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "f", "tests": [{"input": "", "output": ""}], "checker": {"kind": "fuzzy"}})"),
                          "checker.kind: unknown kind \"fuzzy\""));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "f", "tests": [{"input": "", "output": ""}], "checker": {"kind": "program"}})"),
                          "checker.language: missing"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "bad id!", "tests": [{"input": "", "output": ""}]})"),
                          "id: \"bad id!\" has a character"));
  CHECK(absl::StrContains(ErrorOf(good + "\n" + good), "p.jsonl:2: id: duplicate problem id \"a\""));
  CHECK(absl::StrContains(ErrorOf("[1, 2]"), "expected a JSON object, got an array"));
  CHECK(absl::StrContains(ErrorOf("\n\n  \n"), "no problems"));
  CHECK(absl::StrContains(ErrorOf(R"({"id": "s", "tests": [{"input": "", "output": ""}], "solutions": [{"language": "python3"}]})"),
                          "solutions[0].source: missing"));
  CHECK(absl::StrContains(ErrorOf("{\"id\": \"u\", \"tests\": [{\"input\": \"\xff\", \"output\": \"\"}]}"),
                          "invalid JSON"));
}

TEST_CASE("a problem file may be one pretty-printed object", "[problem_io]") {
  auto problems = ParseProblemsJsonl("{\n  \"id\": \"pretty\",\n  \"tests\": [\n    {\"input\": \"1\", \"output\": \"2\"}\n  ]\n}\n",
                                     "pretty.json");
  REQUIRE(problems.ok());
  CHECK(problems->front().id() == "pretty");
}

TEST_CASE("writing and reading back gives the same problem", "[problem_io]") {
  auto problems = ParseProblemsJsonl(kDesignExample, "design");
  REQUIRE(problems.ok());
  v1::Problem p = problems->front();
  p.mutable_checker()->set_kind(v1::Checker::FLOAT);
  p.mutable_checker()->set_abs_tol(0.5);
  p.mutable_checker()->set_rel_tol(0.25);
  p.mutable_tests(0)->set_input("quotes \" and unicode \u00e9 and\nnewlines\t");
  auto again = ParseProblemJson(ProblemToJson(p), "round-trip");
  REQUIRE(again.ok());
  CHECK(again->SerializeAsString() == p.SerializeAsString());
}

TEST_CASE("the bundled problem set is complete", "[problem_io][bundled]") {
  const std::vector<v1::Problem>& problems = BundledProblems();
  CHECK(problems.size() >= 40);
  int introductory = 0, interview = 0, competition = 0;
  for (const v1::Problem& p : problems) {
    INFO(p.id());
    CHECK(p.tests_size() >= 5);
    CHECK(p.public_tests_size() >= 1);
    CHECK(p.public_tests_size() <= 2);
    bool py = false, cpp = false;
    for (const v1::Program& s : p.solutions()) {
      py |= s.language() == "python3";
      cpp |= s.language() == "cpp17";
    }
    CHECK(py);
    CHECK(cpp);
    CHECK(p.incorrect_solutions_size() >= 1);
    CHECK_FALSE(p.statement().empty());
    introductory += p.difficulty() == "introductory";
    interview += p.difficulty() == "interview";
    competition += p.difficulty() == "competition";
  }
  CHECK(introductory >= 10);
  CHECK(interview >= 10);
  CHECK(competition >= 10);
}

TEST_CASE("function-call problems parse, validate and round-trip", "[problem_io][function]") {
  auto call = ParseProblemJson(
      R"({"id": "apps/1", "function": {"style": "call", "name": "Solution.solve"},
          "starter_code": "class Solution:\n", "tests": [{"input": "[1, [2, 3]]", "output": "[5]"}]})",
      "f.jsonl:1");
  REQUIRE(call.ok());
  CHECK(call->function().style() == v1::FunctionCall::CALL);
  CHECK(call->function().name() == "Solution.solve");
  CHECK(call->starter_code() == "class Solution:\n");
  auto again = ParseProblemJson(ProblemToJson(*call), "again");
  REQUIRE(again.ok());
  CHECK(again->SerializeAsString() == call->SerializeAsString());

  // Assert tests carry their expectations in the statements: output may be absent.
  auto asserts = ParseProblemJson(
      R"({"id": "mbpp/2", "function": {"style": "assert", "name": "f", "setup_code": "import math"},
          "tests": [{"input": "assert f(1) == 2\n"}]})",
      "f.jsonl:2");
  REQUIRE(asserts.ok());
  CHECK(asserts->function().setup_code() == "import math");
  CHECK(asserts->tests(0).output().empty());

  auto error = [](const char* json) {
    auto p = ParseProblemJson(json, "f.jsonl:3");
    REQUIRE_FALSE(p.ok());
    return std::string(p.status().message());
  };
  CHECK_THAT(error(R"({"id": "x", "function": {"style": "stdin", "name": "f"}, "tests": [{"input": "", "output": ""}]})"),
             Catch::Contains("f.jsonl:3: function.style: unknown style \"stdin\""));
  CHECK_THAT(error(R"({"id": "x", "function": {"style": "call"}, "tests": [{"input": "[]", "output": "1"}]})"),
             Catch::Contains("function.name: missing"));
  CHECK_THAT(error(R"({"id": "x", "function": {"style": "call", "name": "a.b.c"}, "tests": [{"input": "[]", "output": "1"}]})"),
             Catch::Contains("function.name"));
  CHECK_THAT(error(R"({"id": "x", "function": {"style": "call", "name": "f"}, "tests": [{"input": "1", "output": "1"}]})"),
             Catch::Contains("tests[0].input: a call test's input must be a JSON array"));
  CHECK_THAT(error(R"({"id": "x", "function": {"style": "call", "name": "f"}, "tests": [{"input": "[]", "output": "{bad"}]})"),
             Catch::Contains("tests[0].output: a call test's output must be JSON"));
  // Stdin problems still need outputs.
  CHECK_THAT(error(R"({"id": "x", "tests": [{"input": "1"}]})"), Catch::Contains("tests[0].output: missing"));
}

}  // namespace
}  // namespace crucible
