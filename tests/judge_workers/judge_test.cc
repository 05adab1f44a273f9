// The Judge: compile, run, check and combine, in both languages.
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/verdict_json.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

using testing::MakeProblem;
using testing::MakeProgram;
using testing::SharedJudge;

const char kSumPy[] = "a, b = map(int, input().split())\nprint(a + b)\n";
const char kSumCpp[] =
    "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}\n";

v1::Problem SumProblem() {
  v1::Problem p = MakeProblem("sum", {{"1 2\n", "3\n"}, {"-5 7\n", "2\n"}, {"100 200\n", "300\n"}});
  v1::TestCase* pub = p.add_public_tests();
  pub->set_input("2 2\n");
  pub->set_output("4\n");
  return p;
}

v1::Verdict Judge(const v1::Problem& problem, const std::string& language, const std::string& source,
                  v1::JudgeOptions options = v1::JudgeOptions()) {
  auto verdict = SharedJudge().Evaluate(problem, MakeProgram(language, source), options, 0);
  if (!verdict.ok()) FAIL(verdict.status().ToString());
  INFO(VerdictToJson(*verdict).substr(0, 3000));
  return *std::move(verdict);
}

TEST_CASE("correct programs pass in both languages", "[judge]") {
  for (auto [lang, src] : {std::pair{"python3", kSumPy}, std::pair{"cpp17", kSumCpp}}) {
    v1::Verdict v = Judge(SumProblem(), lang, src);
    CHECK(v.verdict() == v1::OK);
    CHECK(v.reward() == 1.0);
    CHECK(v.pass_fraction() == 1.0);
    CHECK(v.tests_passed() == 3);
    CHECK(v.tests_total() == 3);
    REQUIRE(v.tests_size() == 3);
    CHECK(v.tests(0).stdout() == "3\n");
    CHECK(v.tests(0).memory_kib() > 0);
    CHECK_FALSE(v.tests(0).public_());
  }
}

TEST_CASE("a wrong answer is WA with the checker's reason", "[judge]") {
  v1::Verdict v = Judge(SumProblem(), "python3", "a, b = map(int, input().split())\nprint(a * b)\n");
  CHECK(v.verdict() == v1::WA);
  CHECK(v.reward() == -0.3);
  CHECK(v.tests_passed() == 0);
  REQUIRE(v.tests_size() == 3);
  CHECK(absl::StrContains(v.tests(0).checker_message(), "expected \"3\", got \"2\""));
  CHECK(v.tests(2).verdict() == v1::WA);
}

TEST_CASE("compile errors are CE with the compiler's message", "[judge]") {
  v1::Verdict py = Judge(SumProblem(), "python3", "def f(:\n  pass\n");
  CHECK(py.verdict() == v1::CE);
  CHECK(py.reward() == -1.0);
  CHECK(py.tests_size() == 0);
  CHECK(absl::StrContains(py.compile_output(), "SyntaxError"));
  v1::Verdict indent = Judge(SumProblem(), "python3", "if True:\nprint(1)\n");
  CHECK(indent.verdict() == v1::CE);
  CHECK(absl::StrContains(indent.compile_output(), "IndentationError"));
  v1::Verdict cpp = Judge(SumProblem(), "cpp17", "int main() { return undefined_name; }\n");
  CHECK(cpp.verdict() == v1::CE);
  CHECK(absl::StrContains(cpp.compile_output(), "undefined_name"));
  CHECK(absl::StrContains(cpp.compile_output(), "error"));
  v1::Verdict link = Judge(SumProblem(), "cpp17", "int f(); int main() { return f(); }\n");
  CHECK(link.verdict() == v1::CE);
}

TEST_CASE("runtime errors name the exception or the signal", "[judge]") {
  CHECK(Judge(SumProblem(), "python3", "x = [1]\nprint(x[5])\n").subtype() == "IndexError");
  CHECK(Judge(SumProblem(), "python3", "print(int('abc'))\n").subtype() == "ValueError");
  CHECK(Judge(SumProblem(), "python3", "import sys\nsys.exit(4)\n").subtype() == "NZEC");
  v1::Verdict segv =
      Judge(SumProblem(), "cpp17", "int main(){ volatile int* p = nullptr; return *p; }\n");
  CHECK(segv.verdict() == v1::RE);
  CHECK(segv.subtype() == "SIGSEGV");
  CHECK(segv.reward() == -0.6);
  v1::Verdict thrown = Judge(SumProblem(), "cpp17",
                             "#include <stdexcept>\nint main(){ throw std::runtime_error(\"x\"); }\n");
  CHECK(thrown.subtype() == "SIGABRT");
  v1::Verdict fpe = Judge(SumProblem(), "cpp17", "int main(){ volatile int z = 0; return 7 / z; }\n");
  CHECK(fpe.subtype() == "SIGFPE");
  v1::Verdict exit_code = Judge(SumProblem(), "cpp17", "int main(){ return 3; }\n");
  CHECK(exit_code.subtype() == "NZEC");
  CHECK(exit_code.tests(0).exit_code() == 3);
}

TEST_CASE("limits: TLE, MLE and OLE in both languages", "[judge]") {
  v1::Problem p = MakeProblem("limits", {{"", "0\n"}}, /*time_limit_ms=*/500, /*memory_limit_mib=*/64);
  CHECK(Judge(p, "python3", "while True: pass\n").verdict() == v1::TLE);
  CHECK(Judge(p, "cpp17", "int main(){ for(;;); }\n").verdict() == v1::TLE);
  CHECK(Judge(p, "python3", "x = bytearray(200 * 1024 * 1024)\n").verdict() == v1::MLE);
  CHECK(Judge(p, "cpp17",
              "#include <vector>\nint main(){ std::vector<char> v(200u << 20, 1); return v[7]; }\n")
            .verdict() == v1::MLE);
  CHECK(Judge(p, "python3", "import sys\nwhile True: sys.stdout.write('y' * 65536)\n").verdict() ==
        v1::OLE);
  v1::Verdict tle = Judge(p, "python3", "import time\ntime.sleep(30)\n");
  CHECK(tle.verdict() == v1::TLE);
  CHECK(tle.tests(0).wall_time_ms() < 5000);
}

TEST_CASE("stop at first failure and the precedence of verdicts", "[judge]") {
  v1::Problem p = MakeProblem("mixed", {{"1\n", "1\n"}, {"2\n", "2\n"}, {"3\n", "3\n"}, {"4\n", "4\n"}});
  // Wrong on test 2, crashes on test 3.
  const char* src = "n = int(input())\nif n == 2: print(0)\nelif n == 3: raise KeyError(n)\nelse: print(n)\n";
  v1::Verdict all = Judge(p, "python3", src);
  CHECK(all.verdict() == v1::RE);  // a runtime error anywhere outranks a wrong answer
  CHECK(all.subtype() == "KeyError");
  CHECK(all.tests_size() == 4);
  CHECK(all.tests_passed() == 2);
  CHECK(all.pass_fraction() == 0.5);
  v1::JudgeOptions stop;
  stop.set_stop_at_first_failure(true);
  v1::Verdict first = Judge(p, "python3", src, stop);
  CHECK(first.verdict() == v1::WA);
  CHECK(first.tests_size() == 2);
  CHECK(first.tests_passed() == 1);
  CHECK(first.tests_total() == 4);
  CHECK(first.pass_fraction() == 0.25);
}

TEST_CASE("test sets: hidden, public, all", "[judge]") {
  v1::JudgeOptions options;
  options.set_test_set(v1::PUBLIC);
  v1::Verdict pub = Judge(SumProblem(), "python3", kSumPy, options);
  CHECK(pub.tests_total() == 1);
  CHECK(pub.tests(0).public_());
  options.set_test_set(v1::ALL);
  v1::Verdict all = Judge(SumProblem(), "python3", kSumPy, options);
  CHECK(all.tests_total() == 4);
  CHECK(all.tests(0).public_());
  CHECK_FALSE(all.tests(1).public_());
  v1::Problem hidden_only = MakeProblem("h", {{"1 1\n", "2\n"}});
  options.set_test_set(v1::PUBLIC);
  auto none = SharedJudge().Evaluate(hidden_only, MakeProgram("python3", kSumPy), options, 0);
  CHECK(absl::IsInvalidArgument(none.status()));
}

TEST_CASE("float and exact checkers", "[judge]") {
  v1::Problem p = MakeProblem("third", {{"1\n", "0.333333333\n"}});
  p.mutable_checker()->set_kind(v1::Checker::FLOAT);
  p.mutable_checker()->set_abs_tol(1e-6);
  p.mutable_checker()->set_rel_tol(1e-6);
  CHECK(Judge(p, "python3", "print(1/3)\n").verdict() == v1::OK);
  CHECK(Judge(p, "python3", "print(0.3334)\n").verdict() == v1::WA);
  v1::Problem exact = MakeProblem("exact", {{"", "a  b\n"}});
  exact.mutable_checker()->set_kind(v1::Checker::EXACT);
  CHECK(Judge(exact, "python3", "print('a  b')\n").verdict() == v1::OK);
  CHECK(Judge(exact, "python3", "print('a b')\n").verdict() == v1::WA);
}

TEST_CASE("checker programs run in the sandbox, in either language", "[judge]") {
  // Any permutation of 1..n is accepted.
  v1::Problem p = MakeProblem("perm", {{"3\n", "1 2 3\n"}, {"4\n", "4 3 2 1\n"}});
  const std::string checker_py =
      "import sys\n"
      "n = int(open(sys.argv[1]).read())\n"
      "got = open(sys.argv[2]).read().split()\n"
      "ok = sorted(got) == sorted(str(i) for i in range(1, n + 1))\n"
      "print('ok' if ok else 'not a permutation: %r' % got[:5])\n"
      "sys.exit(0 if ok else 1)\n";
  const std::string checker_cpp =
      "#include <fstream>\n#include <set>\nint main(int c, char** v){ std::ifstream in(v[1]), out(v[2]);"
      " int n; in >> n; std::set<int> s; int x; while (out >> x) { if (x < 1 || x > n) return 1;"
      " s.insert(x);} return (int)s.size() == n ? 0 : 1; }\n";
  for (auto [lang, src] : {std::pair{"python3", checker_py}, std::pair{"cpp17", checker_cpp}}) {
    p.mutable_checker()->set_kind(v1::Checker::PROGRAM);
    p.mutable_checker()->set_language(lang);
    p.mutable_checker()->set_source(src);
    CHECK(Judge(p, "python3", "n = int(input())\nprint(*range(n, 0, -1))\n").verdict() == v1::OK);
    v1::Verdict wrong = Judge(p, "python3", "n = int(input())\nprint(*range(n))\n");
    CHECK(wrong.verdict() == v1::WA);
  }
  // A checker that crashes is the problem's fault, never the program's: SE.
  p.mutable_checker()->set_language("python3");
  p.mutable_checker()->set_source("raise RuntimeError('broken checker')\n");
  v1::Verdict broken = Judge(p, "python3", "print(1)\n");
  CHECK(broken.verdict() == v1::SE);
  CHECK(broken.reward() == 0.0);
  p.mutable_checker()->set_source("def broken(:\n");
  CHECK(Judge(p, "python3", "print(1)\n").verdict() == v1::SE);
}

TEST_CASE("bad programs are rejected with a clear INVALID_ARGUMENT", "[judge]") {
  auto judge = [](const std::string& lang, const std::string& src) {
    return SharedJudge().Evaluate(SumProblem(), MakeProgram(lang, src), v1::JudgeOptions(), 0).status();
  };
  absl::Status unknown = judge("cobol", "DISPLAY 'HI'.");
  CHECK(absl::IsInvalidArgument(unknown));
  CHECK(absl::StrContains(unknown.message(), "unknown language \"cobol\""));
  absl::Status nul = judge("python3", std::string("print(1)\0", 9));
  CHECK(absl::IsInvalidArgument(nul));
  CHECK(absl::StrContains(nul.message(), "NUL byte at offset 8"));
  absl::Status big = judge("python3", std::string(2 << 20, '#'));
  CHECK(absl::IsInvalidArgument(big));
  CHECK(absl::StrContains(big.message(), "exceeds the limit"));
  CHECK(absl::IsInvalidArgument(judge("python3", "")));
}

TEST_CASE("rewards can be overridden per request", "[judge]") {
  v1::JudgeOptions options;
  options.mutable_rewards()->set_wrong_answer(-0.5);
  options.mutable_rewards()->set_ok(0.8);
  CHECK(Judge(SumProblem(), "python3", "print(0)\n", options).reward() == -0.5);
  CHECK(Judge(SumProblem(), "python3", kSumPy, options).reward() == 0.8);
}

TEST_CASE("a program is compiled once, even when judged concurrently", "[judge]") {
  const std::string src = absl::StrCat(kSumCpp, "// unique ", absl::ToUnixNanos(absl::Now()), "\n");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::vector<int64_t> compile_ms(4);
  std::vector<std::string> outcomes(4);
  for (int slot = 0; slot < 4; ++slot) {
    threads.emplace_back([&, slot] {
      auto v = SharedJudge().Evaluate(SumProblem(), MakeProgram("cpp17", src), v1::JudgeOptions(), slot);
      if (v.ok() && v->verdict() == v1::OK) ++ok;
      if (v.ok()) compile_ms[slot] = v->compile_time_ms();
      outcomes[slot] = v.ok() ? VerdictToJson(*v) : v.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  INFO(outcomes[0] << "\n" << outcomes[1] << "\n" << outcomes[2] << "\n" << outcomes[3]);
  CHECK(ok == 4);
  // All four report the one compilation's time.
  CHECK(compile_ms[0] == compile_ms[1]);
  CHECK(compile_ms[1] == compile_ms[2]);
  CHECK(compile_ms[2] == compile_ms[3]);
}

TEST_CASE("a passed deadline stops judging", "[judge]") {
  auto v = SharedJudge().Evaluate(SumProblem(), MakeProgram("python3", kSumPy), v1::JudgeOptions(), 0,
                                  absl::Now() - absl::Seconds(1));
  CHECK(absl::IsDeadlineExceeded(v.status()));
}

}  // namespace
}  // namespace crucible
