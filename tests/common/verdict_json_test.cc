#include <catch2/catch.hpp>

#include "common/verdict_json.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

TEST_CASE("verdict JSON has the fields of DESIGN.md", "[verdict_json]") {
  v1::Verdict v;
  v.set_verdict(v1::WA);
  v.set_reward(-0.3);
  v.set_pass_fraction(0.6);
  v1::TestResult* t = v.add_tests();
  t->set_verdict(v1::OK);
  t->set_time_ms(12);
  t->set_memory_kib(9012);
  auto j = nlohmann::json::parse(VerdictToJson(v));
  CHECK(j["verdict"] == "WA");
  CHECK(j["subtype"] == "");
  CHECK(j["reward"] == -0.3);
  CHECK(j["pass_fraction"] == 0.6);
  CHECK(j["compile_output"] == "");
  REQUIRE(j["tests"].size() == 1);
  CHECK(j["tests"][0]["verdict"] == "OK");
  CHECK(j["tests"][0]["time_ms"] == 12);
  CHECK(j["tests"][0]["memory_kib"] == 9012);
  CHECK(j["tests"][0]["exit_code"] == 0);
  CHECK(j["tests"][0]["signal"] == 0);
}

TEST_CASE("verdict names round-trip", "[verdict_json]") {
  for (auto code : {v1::OK, v1::WA, v1::TLE, v1::MLE, v1::OLE, v1::RE, v1::CE, v1::SE}) {
    auto parsed = ParseVerdictName(VerdictName(code));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == code);
  }
  CHECK_FALSE(ParseVerdictName("AC").has_value());
}

}  // namespace
}  // namespace crucible
