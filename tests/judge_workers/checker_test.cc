#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "judge_workers/checker.h"

namespace crucible {
namespace {

TEST_CASE("exact checker tolerates only line endings and one final newline", "[checker]") {
  auto c = MakeExactChecker();
  CHECK(c->Check("", "1 2\n", "1 2\n").accepted);
  CHECK(c->Check("", "1 2\n", "1 2").accepted);
  CHECK(c->Check("", "1 2", "1 2\n").accepted);
  CHECK(c->Check("", "a\nb\n", "a\r\nb\r\n").accepted);
  CHECK_FALSE(c->Check("", "1 2\n", "1  2\n").accepted);
  CHECK_FALSE(c->Check("", "1 2\n", "1 2\n\n").accepted);
  CHECK_FALSE(c->Check("", "1 2\n", " 1 2\n").accepted);
  CheckOutcome o = c->Check("", "line1\nline2\n", "line1\nlinX\n");
  CHECK_FALSE(o.accepted);
  CHECK(absl::StrContains(o.message, "line 2"));
}

TEST_CASE("tokens checker compares whitespace-separated tokens", "[checker]") {
  auto c = MakeTokensChecker();
  CHECK(c->Check("", "1 2 3\n", "1\n2\t3").accepted);
  CHECK(c->Check("", "1 2 3", "  1   2 3  \r\n\n").accepted);
  CHECK(c->Check("", "", "\n \n").accepted);
  CheckOutcome wrong = c->Check("", "1 2 3", "1 2 4");
  CHECK_FALSE(wrong.accepted);
  CHECK(absl::StrContains(wrong.message, "token 3"));
  CHECK(absl::StrContains(wrong.message, "\"3\""));
  CHECK(absl::StrContains(wrong.message, "\"4\""));
  CheckOutcome shorter = c->Check("", "1 2 3", "1 2");
  CHECK_FALSE(shorter.accepted);
  CHECK(absl::StrContains(shorter.message, "ends after 2 tokens"));
  CheckOutcome longer = c->Check("", "1 2", "1 2 3");
  CHECK_FALSE(longer.accepted);
  CHECK(absl::StrContains(longer.message, "extra output"));
  CHECK_FALSE(c->Check("", "YES", "yes").accepted);
  CHECK_FALSE(c->Check("", "1.0", "1").accepted);
}

TEST_CASE("float checker accepts either tolerance and compares words exactly", "[checker]") {
  auto c = MakeFloatChecker(1e-6, 1e-6);
  CHECK(c->Check("", "3.1415926", "3.14159265").accepted);
  CHECK(c->Check("", "1000000", "1000000.5").accepted);       // relative 5e-7
  CHECK_FALSE(c->Check("", "1000000", "1000002").accepted);   // relative 2e-6
  CHECK(c->Check("", "0.0000001", "0").accepted);             // absolute 1e-7
  CHECK_FALSE(c->Check("", "0.001", "0.0011").accepted);
  CHECK(c->Check("", "answer 2.5", "answer 2.5000001").accepted);
  CHECK_FALSE(c->Check("", "answer 2.5", "Answer 2.5").accepted);
  CHECK_FALSE(c->Check("", "2.5", "abc").accepted);
  CHECK_FALSE(c->Check("", "2.5", "nan").accepted);
  CHECK_FALSE(c->Check("", "2.5", "0x2.8p0").accepted);
  CHECK(c->Check("", "1e3", "1000.0000001").accepted);
  CHECK(c->Check("", "nan", "nan").accepted);  // non-numeric expected tokens match exactly
  auto strict = MakeFloatChecker(0, 0);
  CHECK_FALSE(strict->Check("", "0.1", "0.1000001").accepted);
  CheckOutcome o = c->Check("", "1 2", "1 3");
  CHECK(absl::StrContains(o.message, "difference"));
}

TEST_CASE("the problem's checker spec selects the built-in checker", "[checker]") {
  v1::Checker spec;
  spec.set_kind(v1::Checker::EXACT);
  CHECK_FALSE(MakeBuiltinChecker(spec)->Check("", "a b", "a  b").accepted);
  spec.set_kind(v1::Checker::KIND_UNSPECIFIED);
  CHECK(MakeBuiltinChecker(spec)->Check("", "a b", "a  b").accepted);
  spec.set_kind(v1::Checker::FLOAT);
  spec.set_abs_tol(0.1);
  CHECK(MakeBuiltinChecker(spec)->Check("", "1", "1.05").accepted);
  spec.set_kind(v1::Checker::PROGRAM);
  CHECK(MakeBuiltinChecker(spec) == nullptr);
}

}  // namespace
}  // namespace crucible
