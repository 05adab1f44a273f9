// Function-call problems: the harness's verdicts for honest programs, and the forgery
// corpus in hostile/function/, judged in both styles.
#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/problem_io.h"
#include "common/verdict_json.h"
#include "judge_workers/function_harness.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

using testing::MakeProgram;
using testing::SharedJudge;

// add(a, b) = a + b, as APPS call tests and as MBPP-style asserts.
v1::Problem AddProblem(v1::FunctionCall::Style style) {
  v1::Problem p;
  p.set_id(style == v1::FunctionCall::CALL ? "add-call" : "add-assert");
  p.set_time_limit_ms(1000);
  p.set_memory_limit_mib(256);
  p.mutable_function()->set_style(style);
  p.mutable_function()->set_name("add");
  if (style == v1::FunctionCall::CALL) {
    for (auto [in, out] : {std::pair{"[1, 2]", "3"}, std::pair{"[-5, 7]", "2"},
                           std::pair{"[[1], [2, 3]]", "[1, 2, 3]"}}) {
      v1::TestCase* t = p.add_tests();
      t->set_input(in);
      t->set_output(out);
    }
  } else {
    p.mutable_function()->set_setup_code("import math\n");
    for (const char* code : {"assert add(1, 2) == 3\n", "assert add(-5, 7) == 2\n",
                             "assert math.isclose(add(0.1, 0.2), 0.3)\n"}) {
      p.add_tests()->set_input(code);
    }
  }
  REQUIRE(ValidateProblem(p, "test").ok());
  return p;
}

v1::Verdict Judge(const v1::Problem& problem, const std::string& source,
                  bool stop_at_first_failure = false) {
  v1::JudgeOptions options;
  options.set_stop_at_first_failure(stop_at_first_failure);
  auto verdict = SharedJudge().Evaluate(problem, MakeProgram("python3", source), options, 0);
  if (!verdict.ok()) FAIL(verdict.status().ToString());
  INFO(VerdictToJson(*verdict).substr(0, 3000));
  return *std::move(verdict);
}

const v1::FunctionCall::Style kStyles[] = {v1::FunctionCall::CALL, v1::FunctionCall::ASSERT};

TEST_CASE("function harness: a correct function passes in both styles", "[judge][function]") {
  for (v1::FunctionCall::Style style : kStyles) {
    v1::Verdict v = Judge(AddProblem(style), "def add(a, b):\n    return a + b\n");
    CHECK(v.verdict() == v1::OK);
    CHECK(v.tests_passed() == 3);
    // A program's own prints do not disturb the harness.
    v = Judge(AddProblem(style), "print('hello')\ndef add(a, b):\n    print(a, b)\n    return a + b\n");
    CHECK(v.verdict() == v1::OK);
  }
}

TEST_CASE("function harness: methods, Solution classes and tuples", "[judge][function]") {
  v1::Problem p = AddProblem(v1::FunctionCall::CALL);
  CHECK(Judge(p, "class Solution:\n    def add(self, a, b):\n        return a + b\n").verdict() ==
        v1::OK);
  p.mutable_function()->set_name("Calc.add");
  CHECK(Judge(p, "class Calc:\n    def add(self, a, b):\n        return a + b\n").verdict() ==
        v1::OK);
  // APPS's leniency: a tuple equals a list; a sole-element expected list matches its element.
  v1::Problem pair = AddProblem(v1::FunctionCall::CALL);
  pair.clear_tests();
  v1::TestCase* t = pair.add_tests();
  t->set_input("[2, 3]");
  t->set_output("[[5, 6]]");
  CHECK(Judge(pair, "def add(a, b):\n    return (a + b, a * b)\n").verdict() == v1::OK);
  CHECK(Judge(pair, "def add(a, b):\n    return (a + b, a)\n").verdict() == v1::WA);
}

TEST_CASE("function harness: wrong, raising, timing out, not compiling", "[judge][function]") {
  for (v1::FunctionCall::Style style : kStyles) {
    v1::Problem p = AddProblem(style);
    v1::Verdict wrong = Judge(p, "def add(a, b):\n    return b\n");
    CHECK(wrong.verdict() == v1::WA);
    CHECK(wrong.reward() == -0.3);
    if (style == v1::FunctionCall::CALL) {
      CHECK(absl::StrContains(wrong.tests(0).checker_message(), "expected 3, got 2"));
    } else {
      CHECK(absl::StrContains(wrong.tests(0).checker_message(), "assertion failed"));
    }
    v1::Verdict raising = Judge(p, "def add(a, b):\n    return [][a]\n");
    CHECK(raising.verdict() == v1::RE);
    CHECK(raising.subtype() == "IndexError");
    v1::Verdict at_import = Judge(p, "import nonexistent_module_xyz\ndef add(a, b):\n    return a + b\n");
    CHECK(at_import.verdict() == v1::RE);
    CHECK(at_import.subtype() == "ModuleNotFoundError");
    v1::Verdict missing = Judge(p, "def plus(a, b):\n    return a + b\n");
    CHECK(missing.verdict() != v1::OK);
    v1::Verdict slow = Judge(p, "def add(a, b):\n    while True:\n        pass\n",
                            /*stop_at_first_failure=*/true);
    CHECK(slow.verdict() == v1::TLE);
    v1::Verdict ce = Judge(p, "def add(a, b)\n    return a + b\n");
    CHECK(ce.verdict() == v1::CE);
    CHECK(absl::StrContains(ce.compile_output(), "SyntaxError"));
  }
}

TEST_CASE("function harness: only python3 programs", "[judge][function]") {
  auto verdict = SharedJudge().Evaluate(AddProblem(v1::FunctionCall::CALL),
                                        MakeProgram("cpp17", "int main() {}\n"),
                                        v1::JudgeOptions(), 0);
  REQUIRE_FALSE(verdict.ok());
  CHECK(absl::StrContains(verdict.status().message(), "function-call problem"));
}

TEST_CASE("function harness: forgeries are never OK", "[judge][function][hostile]") {
  const std::string dir = testing::SourceDir() + "/tests/judge_workers/hostile/function";
  int judged = 0;
  for (const char* name :
       {"exit_at_import.py", "os_exit_in_call.py", "sys_exit_in_call.py", "raise_system_exit.py",
        "raise_keyboard_interrupt.py", "print_fake_results.py", "eq_override.py",
        "int_subclass.py", "patch_harness.py", "reach_the_referee.py", "kill_the_referee.py",
        "stop_the_referee.py"}) {
    auto source = ReadFile(absl::StrCat(dir, "/", name));
    REQUIRE(source.ok());
    for (v1::FunctionCall::Style style : kStyles) {
      INFO(name << " in style " << (style == v1::FunctionCall::CALL ? "call" : "assert"));
      v1::Verdict v = Judge(AddProblem(style), *source, /*stop_at_first_failure=*/true);
      CHECK(v.verdict() != v1::OK);
      CHECK(v.verdict() != v1::SE);  // a forgery is the program's fault, never the judge's
      CHECK(v.tests_passed() == 0);
      ++judged;
    }
  }
  CHECK(judged == 24);
}

TEST_CASE("function harness: a report needs the nonce, exactly once", "[judge][function]") {
  const std::string nonce = MakeHarnessNonce();
  CHECK(nonce.size() == 32);
  CHECK(nonce != MakeHarnessNonce());
  CHECK(ReadHarnessReport(absl::StrCat("x\n", nonce, " OK {}\n"), nonce).verdict() == v1::OK);
  CHECK(ReadHarnessReport("OK\n", nonce).verdict() == v1::WA);
  CHECK(ReadHarnessReport(absl::StrCat(MakeHarnessNonce(), " OK {}\n"), nonce).verdict() ==
        v1::WA);
  CHECK(ReadHarnessReport(absl::StrCat(nonce, " OK {}\n", nonce, " OK {}\n"), nonce).verdict() ==
        v1::WA);
  v1::TestResult re =
      ReadHarnessReport(absl::StrCat(nonce, " RE {\"subtype\": \"ValueError\"}\n"), nonce);
  CHECK(re.verdict() == v1::RE);
  CHECK(re.subtype() == "ValueError");
}

}  // namespace
}  // namespace crucible
