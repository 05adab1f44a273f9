// The bundled problem set, judged through the real sandbox: every reference solution in
// both languages passes, every known-wrong solution fails.
#include <catch2/catch.hpp>

#include "common/bundled_problems.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

TEST_CASE("every bundled reference passes and every wrong solution fails", "[bundled][slow]") {
  const testing::ReferenceCheck check = testing::JudgeReferences(BundledProblems());
  for (const std::string& u : check.unexpected) UNSCOPED_INFO(u);
  CHECK(check.unexpected.empty());
  CHECK(check.judged >= 160);
}

}  // namespace
}  // namespace crucible
