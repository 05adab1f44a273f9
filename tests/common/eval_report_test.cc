#include "common/eval_report.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

using nlohmann::json;

const std::string kFixtureDir = std::string(CRUCIBLE_SOURCE_DIR) + "/tests/data/eval";

// C(n-c, k) / C(n, k) by the other telescoping product, C(n-k, c) / C(n, c) =
// prod_{i<c} (n-k-i) / (n-i): an independent check on PassAtK's prod_{i=n-c+1}^{n} (1 - k/i).
double FailureByOtherProduct(int n, int c, int k) {
  double fail = 1.0;
  for (int i = 0; i < c; ++i) fail *= static_cast<double>(n - k - i) / (n - i);
  return fail;
}

TEST_CASE("PassAtK matches hand-worked values", "[eval_report]") {
  // n=5, c=2, k=1: 1 - C(3,1)/C(5,1) = 1 - 3/5 = 0.4.
  CHECK(*PassAtK(5, 2, 1) == Approx(0.4).margin(1e-15));
  // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7.
  CHECK(*PassAtK(5, 2, 2) == Approx(0.7).margin(1e-15));
  // n=10, c=3, k=5: C(7,5) = 21, C(10,5) = 252: 1 - 21/252 = 11/12.
  CHECK(*PassAtK(10, 3, 5) == Approx(1.0 - 21.0 / 252.0).margin(1e-15));
  // n=4, c=2, k=2: 1 - C(2,2)/C(4,2) = 1 - 1/6.
  CHECK(*PassAtK(4, 2, 2) == Approx(5.0 / 6.0).margin(1e-15));
  // n=200, c=1, k=100: 1 - C(199,100)/C(200,100) = 1 - 100/200 = 0.5.
  CHECK(*PassAtK(200, 1, 100) == Approx(0.5).margin(1e-15));
}

TEST_CASE("PassAtK edge cases are exact or not available", "[eval_report]") {
  CHECK(PassAtK(5, 0, 1) == 0.0);             // no correct sample
  CHECK(PassAtK(5, 0, 5) == 0.0);             // k = n, c = 0
  CHECK(PassAtK(5, 5, 1) == 1.0);             // c = n
  CHECK(PassAtK(5, 1, 5) == 1.0);             // k = n, c >= 1: every draw holds the correct one
  CHECK(PassAtK(5, 3, 3) == 1.0);             // n - c = 2 < k = 3
  CHECK_FALSE(PassAtK(5, 2, 6).has_value());  // k > n: not available, not 1
  CHECK_FALSE(PassAtK(5, 5, 6).has_value());
  CHECK_FALSE(PassAtK(0, 0, 1).has_value());
  CHECK_FALSE(PassAtK(5, 2, 0).has_value());
  CHECK_FALSE(PassAtK(5, 6, 1).has_value());
}

TEST_CASE("PassAtK is stable for n = 10000", "[eval_report]") {
  // c=1, k=1: exactly c/n.
  CHECK(*PassAtK(10000, 1, 1) == Approx(1e-4).epsilon(1e-12));
  for (auto [c, k] : {std::pair{5000, 10}, {3, 1000}, {100, 50}, {9000, 500}, {1, 9999}}) {
    INFO("c=" << c << " k=" << k);
    const double expected = 1.0 - FailureByOtherProduct(10000, c, k);
    const double got = *PassAtK(10000, c, k);
    CHECK(got >= 0.0);
    CHECK(got <= 1.0);
    CHECK(got == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("NAtK matches a hand enumeration", "[eval_report]") {
  // N=4 samples: a (public, correct), b (public, wrong), c and d (fail public). n=1, k=2.
  // The 6 pairs: {a,b} keeps a,b, submits one at random: 1/2; {a,c}: keeps a: 1;
  // {a,d}: 1; {b,c}: keeps b: 0; {b,d}: 0; {c,d}: keeps none: 0. Mean = 2.5/6 = 5/12.
  CHECK(*NAtK(4, 2, 1, 1, 2) == Approx(5.0 / 12.0).margin(1e-15));
  // Same samples, k=1: a drawn with probability 1/4.
  CHECK(*NAtK(4, 2, 1, 1, 1) == Approx(0.25).margin(1e-15));
  // n=2 >= k=2: {a,b} now submits both: 1, so 3/6 = 1/2 = pass@2 over a alone.
  CHECK(*NAtK(4, 2, 1, 2, 2) == Approx(0.5).margin(1e-15));
  // N=5, P=2, C=1, n=1, k=5: both public-passing are always kept, one submitted: 1/2.
  CHECK(*NAtK(5, 2, 1, 1, 5) == Approx(0.5).margin(1e-15));
}

TEST_CASE("NAtK edge cases", "[eval_report]") {
  CHECK(NAtK(10, 0, 0, 1, 5) == 0.0);            // nothing passes the public tests
  CHECK(NAtK(10, 4, 0, 1, 5) == 0.0);            // public-passing, none correct
  CHECK(NAtK(5, 5, 5, 1, 3) == 1.0);             // everything correct
  CHECK_FALSE(NAtK(5, 2, 1, 1, 6).has_value());  // k > N
  CHECK_FALSE(NAtK(0, 0, 0, 1, 1).has_value());
  CHECK_FALSE(NAtK(5, 2, 3, 1, 1).has_value());  // C > P
}

TEST_CASE("NAtK with n_submit at least k is pass@k over the public-passing correct",
          "[eval_report]") {
  // Every kept sample is submitted, so solved iff a public-passing correct one is drawn.
  for (auto [big_n, p, c, k] : {std::array{10, 4, 2, 3},
                                {20, 20, 5, 7},
                                {8, 3, 3, 8},
                                {200, 50, 7, 10},
                                {10000, 4000, 50, 20}}) {
    INFO("N=" << big_n << " P=" << p << " C=" << c << " k=" << k);
    CHECK(*NAtK(big_n, p, c, k, k) == Approx(*PassAtK(big_n, c, k)).epsilon(1e-9));
    CHECK(*NAtK(big_n, p, c, k + 5, k) == Approx(*PassAtK(big_n, c, k)).epsilon(1e-9));
  }
}

TEST_CASE("NAtK with one submission is stable for N = 10000", "[eval_report]") {
  // With n_submit = 1: solved iff some public-passing sample is drawn (pass@k over the P)
  // and the one submitted, uniform over the P, is correct: (1 - C(N-P,k)/C(N,k)) * C/P.
  for (auto [p, c, k] :
       {std::array{4000, 50, 100}, {10000, 37, 100}, {3, 2, 5000}, {9999, 1, 10000}}) {
    INFO("P=" << p << " C=" << c << " k=" << k);
    const double expected = (1.0 - FailureByOtherProduct(10000, p, k)) * c / p;
    CHECK(*NAtK(10000, p, c, 1, k) == Approx(expected).epsilon(1e-9));
  }
}

// Draws every k-subset of N samples (bit i set = sample i drawn) and, when more than
// n_submit pass the public tests, every n_submit-subset of those; samples 0..C-1 pass the
// public tests and are correct, C..P-1 pass them and are wrong, the rest fail them.
double BruteForceNAtK(int big_n, int p, int c, int n_submit, int k) {
  const unsigned public_mask = (1u << p) - 1, correct_mask = (1u << c) - 1;
  double total = 0;
  int draws = 0;
  for (unsigned drawn = 0; drawn < (1u << big_n); ++drawn) {
    if (std::bitset<32>(drawn).count() != static_cast<size_t>(k)) continue;
    ++draws;
    const unsigned kept = drawn & public_mask;
    if (std::bitset<32>(kept).count() <= static_cast<size_t>(n_submit)) {
      total += (kept & correct_mask) != 0 ? 1.0 : 0.0;
      continue;
    }
    int choices = 0, solved = 0;
    for (unsigned sub = kept; sub != 0; sub = (sub - 1) & kept) {  // every non-empty submask
      if (std::bitset<32>(sub).count() != static_cast<size_t>(n_submit)) continue;
      ++choices;
      if ((sub & correct_mask) != 0) ++solved;
    }
    total += static_cast<double>(solved) / choices;
  }
  return total / draws;
}

TEST_CASE("NAtK equals a brute-force enumeration for N up to 8", "[eval_report]") {
  int compared = 0;
  for (int big_n = 1; big_n <= 8; ++big_n) {
    for (int p = 0; p <= big_n; ++p) {
      for (int c = 0; c <= p; ++c) {
        for (int n_submit = 1; n_submit <= 3; ++n_submit) {
          for (int k = 1; k <= big_n; ++k) {
            const std::optional<double> got = NAtK(big_n, p, c, n_submit, k);
            REQUIRE(got.has_value());
            const double want = BruteForceNAtK(big_n, p, c, n_submit, k);
            if (std::abs(*got - want) > 1e-12) {
              FAIL("N=" << big_n << " P=" << p << " C=" << c << " n=" << n_submit << " k=" << k
                        << ": NAtK " << *got << ", enumeration " << want);
            }
            ++compared;
          }
        }
      }
    }
  }
  // sum over N of (N+1)(N+2)/2 (P, C) pairs * 3 n_submit * N values of k.
  CHECK(compared == 2970);
}

// ------------------------------------------------------------------------------------
// The samples file.

class TempFiles {
 public:
  TempFiles() {
    auto dir = ScopedTempDir::Create(TempRoot(), "eval_report_test");
    REQUIRE(dir.ok());
    dir_ = std::move(*dir);
  }
  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = dir_.path() + "/" + name;
    REQUIRE(WriteFile(path, contents).ok());
    return path;
  }
  const std::string& dir() const { return dir_.path(); }

 private:
  ScopedTempDir dir_;
};

std::string Line(const std::string& problem, int sample, const std::string& verdict = "OK") {
  return absl::StrCat(R"({"problem_id": ")", problem, R"(", "sample": )", sample,
                      R"(, "language": "python3", "program": "print(1)\n", "verdict": ")", verdict,
                      R"(", "reward": 1.0, "passed_public": true})");
}

std::string ReadError(const std::string& path, const ReadOptions& options = {}) {
  auto read = ReadSamplesFile(path, options);
  REQUIRE_FALSE(read.ok());
  return std::string(read.status().message());
}

TEST_CASE("ReadSamplesFile names file, line and field", "[eval_report]") {
  TempFiles files;
  const std::string good = Line("p", 0) + "\n";
  struct Case {
    std::string second_line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"problem_id": "p", "sample": 1,)", ":2: invalid JSON"},
      {R"([1, 2])", ":2: expected a JSON object, got an array"},
      {R"({"problem_id": "p", "sample": 1, "language": "c", "program": "", "verdict": 3,
          "reward": 0, "passed_public": true})",
       ":2: verdict: expected a string, got an integer"},
      {R"({"problem_id": "p", "sample": 1, "language": "c", "program": "", "verdict": "AC",
          "reward": 0, "passed_public": true})",
       ":2: verdict: unknown verdict code \"AC\""},
      {R"({"problem_id": "p", "sample": 1, "language": "c", "program": "", "verdict": "OK",
          "reward": 0})",
       ":2: passed_public: missing"},
      {R"({"problem_id": "p", "sample": 1, "language": "c", "program": "", "verdict": "OK",
          "reward": 0, "passed_public": "yes"})",
       ":2: passed_public: expected a boolean, got a string"},
      {R"({"problem_id": "p", "sample": -1, "language": "c", "program": "", "verdict": "OK",
          "reward": 0, "passed_public": true})",
       ":2: sample: expected >= 0, got -1"},
      {R"({"problem_id": "p", "sample": 1.5, "language": "c", "program": "", "verdict": "OK",
          "reward": 0, "passed_public": true})",
       ":2: sample: expected an integer, got a number"},
      {R"({"problem_id": "p", "sample": 1, "language": "c", "program": "", "verdict": "OK",
          "reward": "high", "passed_public": true})",
       ":2: reward: expected a number, got a string"},
      {R"({"problem_id": "p", "sample": 1, "language": "c", "program": "", "verdict": "RE",
          "subtype": 11, "reward": 0, "passed_public": true})",
       ":2: subtype: expected a string, got an integer"},
      {Line("p", 0), ":2: sample: duplicate (problem_id \"p\", sample 0); first on line 1"},
  };
  for (const Case& c : cases) {
    std::string second = c.second_line;
    // The multi-line raw strings above are one JSON line each once joined.
    second.erase(std::remove(second.begin(), second.end(), '\n'), second.end());
    const std::string path = files.Write("s.jsonl", good + second + "\n" + Line("q", 0) + "\n");
    const std::string message = ReadError(path, ReadOptions{/*allow_truncated_tail=*/true});
    INFO(message);
    CHECK(absl::StartsWith(message, path + c.message));
  }
  CHECK(absl::StrContains(ReadError(files.dir() + "/missing.jsonl"), "missing.jsonl"));
}

TEST_CASE("ReadSamplesFile skips blank lines and counts them", "[eval_report]") {
  TempFiles files;
  const std::string path =
      files.Write("s.jsonl", Line("p", 0) + "\n\n  \n" + Line("p", 1) + "\n\n" + Line("p", 0));
  CHECK(absl::StartsWith(ReadError(path), path + ":6: sample: duplicate"));
}

TEST_CASE("ReadSamplesFile reports a truncated last line so a run can resume", "[eval_report]") {
  TempFiles files;
  const std::string whole = Line("p", 0) + "\n" + Line("p", 1) + "\n";
  const std::string cut = Line("p", 2).substr(0, 40);
  const std::string path = files.Write("s.jsonl", whole + cut);

  SECTION("refused by default") {
    const std::string message = ReadError(path);
    CHECK(absl::StartsWith(message, path + ":3: the last line is cut off"));
  }
  SECTION("accepted when allowed, with the length to truncate to") {
    ReadInfo info;
    auto read = ReadSamplesFile(path, ReadOptions{/*allow_truncated_tail=*/true}, &info);
    REQUIRE(read.ok());
    CHECK(read->size() == 2);
    CHECK(info.truncated_tail);
    CHECK_FALSE(info.missing_final_newline);
    CHECK(info.valid_bytes == whole.size());
    // What a resuming writer does: cut the file there and append.
    const std::string resumed = files.Write("s.jsonl", whole + Line("p", 2) + "\n");
    auto again = ReadSamplesFile(resumed, {}, &info);
    REQUIRE(again.ok());
    CHECK(again->size() == 3);
    CHECK_FALSE(info.truncated_tail);
    CHECK(info.valid_bytes == whole.size() + Line("p", 2).size() + 1);
  }
  SECTION("a bad line that is not the last is an error even when allowed") {
    const std::string middle = files.Write("m.jsonl", Line("p", 0) + "\n" + cut + "\n");
    CHECK(absl::StartsWith(ReadError(middle, ReadOptions{true}), middle + ":2: invalid JSON"));
  }
  SECTION("a valid last line without a newline is kept and flagged") {
    const std::string no_newline = files.Write("n.jsonl", whole + Line("p", 2));
    ReadInfo info;
    auto read = ReadSamplesFile(no_newline, {}, &info);
    REQUIRE(read.ok());
    CHECK(read->size() == 3);
    CHECK_FALSE(info.truncated_tail);
    CHECK(info.missing_final_newline);
    CHECK(info.valid_bytes == whole.size() + Line("p", 2).size());
  }
}

TEST_CASE("samples round-trip through SampleToJson with their extra keys", "[eval_report]") {
  auto contents = ReadFile(kFixtureDir + "/samples.jsonl");
  REQUIRE(contents.ok());
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(*contents, '\n', absl::SkipEmpty())) {
    auto sample = ParseSampleJson(line, "fixture");
    REQUIRE(sample.ok());
    const std::string written = SampleToJson(*sample);
    CHECK(written.find('\n') == std::string::npos);
    CHECK(json::parse(written) == json::parse(line));
    ++lines;
  }
  CHECK(lines == 20);

  auto s = ParseSampleJson(
      R"({"problem_id": "x", "sample": 3, "language": "cpp17", "program": "p",
          "verdict": "RE", "subtype": "SIGSEGV", "reward": -0.6, "passed_public": false,
          "difficulty": "competition", "log_prob": -3.5, "tokens": 7, "pass_fraction": 0.25,
          "search": "repair", "critic_score": 0.1, "reward_model_score": -1.5,
          "seed": 1234, "meta": {"temperature": 0.8, "tags": ["a", "b"]}})",
      "inline");
  REQUIRE(s.ok());
  CHECK(s->problem_id == "x");
  CHECK(s->sample == 3);
  CHECK(s->verdict == v1::RE);
  CHECK(s->subtype == "SIGSEGV");
  CHECK(s->difficulty == "competition");
  CHECK(s->log_prob == -3.5);
  CHECK(s->tokens == 7);
  CHECK(s->pass_fraction == 0.25);
  CHECK(s->search == "repair");
  CHECK(s->critic_score == 0.1);
  CHECK(s->reward_model_score == -1.5);
  CHECK(s->extra == json::parse(R"({"seed": 1234, "meta": {"temperature": 0.8,
                                    "tags": ["a", "b"]}})"));
  CHECK(json::parse(SampleToJson(*s))["meta"]["tags"][1] == "b");

  // Absent search reads as "sample"; an integer difficulty (a rating) as its string.
  auto rated = ParseSampleJson(
      R"({"problem_id": "y", "sample": 0, "language": "c", "program": "", "verdict": "OK",
          "reward": 1, "passed_public": true, "difficulty": 1800})",
      "inline");
  REQUIRE(rated.ok());
  CHECK(rated->search_or_default() == "sample");
  CHECK(rated->difficulty == "1800");
}

// ------------------------------------------------------------------------------------
// The report.

// Compares JSON values, numbers to 1e-9; every difference goes into *diffs with its path.
void CompareJson(const json& actual, const json& expected, const std::string& path,
                 std::vector<std::string>* diffs) {
  if (actual.is_number() && expected.is_number()) {
    if (std::abs(actual.get<double>() - expected.get<double>()) > 1e-9) {
      diffs->push_back(absl::StrCat(path, ": ", actual.dump(), " != ", expected.dump()));
    }
    return;
  }
  if (actual.type() != expected.type()) {
    diffs->push_back(absl::StrCat(path, ": ", actual.dump(), " != ", expected.dump()));
    return;
  }
  if (actual.is_object()) {
    for (const auto& [key, value] : expected.items()) {
      if (!actual.contains(key)) {
        diffs->push_back(absl::StrCat(path, ".", key, ": missing"));
      } else {
        CompareJson(actual[key], value, path + "." + key, diffs);
      }
    }
    for (const auto& [key, value] : actual.items()) {
      if (!expected.contains(key)) diffs->push_back(absl::StrCat(path, ".", key, ": unexpected"));
    }
  } else if (actual.is_array()) {
    if (actual.size() != expected.size()) {
      diffs->push_back(
          absl::StrCat(path, ": ", actual.size(), " elements, expected ", expected.size()));
      return;
    }
    for (size_t i = 0; i < actual.size(); ++i) {
      CompareJson(actual[i], expected[i], absl::StrCat(path, "[", i, "]"), diffs);
    }
  } else if (actual != expected) {
    diffs->push_back(absl::StrCat(path, ": ", actual.dump(), " != ", expected.dump()));
  }
}

json FixtureReport() {
  auto samples = ReadSamplesFile(kFixtureDir + "/samples.jsonl");
  REQUIRE(samples.ok());
  ReportOptions options;
  options.ks = {1, 2, 5};
  options.n_submit = {1};
  return BuildReport(*samples, options);
}

TEST_CASE("the fixture's report matches the hand-worked values", "[eval_report]") {
  const json report = FixtureReport();
  // The arithmetic is in tests/data/eval/README.md.
  const json& overall = report["overall"];
  CHECK(overall["problems"] == 4);
  CHECK(overall["n"] == 19);
  CHECK(overall["correct"] == 5);
  CHECK(overall["system_errors"] == 1);
  CHECK(overall["pass@1"].get<double>() == Approx(1.1 / 4).margin(1e-12));
  CHECK(overall["pass@2"].get<double>() == Approx(29.0 / 60).margin(1e-12));
  CHECK(overall["pass@5"].is_null());  // max-of-three has 4 non-SE samples
  CHECK(overall["1@1"].get<double>() == Approx(0.85 / 4).margin(1e-12));
  CHECK(overall["1@2"].get<double>() == Approx(11.0 / 30).margin(1e-12));
  CHECK(overall["1@5"].is_null());
  CHECK(overall["compile_rate"].get<double>() == Approx(0.9).margin(1e-12));
  CHECK(overall["micro_compile_rate"].get<double>() == Approx(17.0 / 19).margin(1e-12));
  CHECK(overall["verdicts"] == json::parse(R"({"OK": 5, "WA": 6, "TLE": 1, "MLE": 1,
                                               "OLE": 1, "RE": 3, "CE": 2, "SE": 1})"));
  CHECK(overall["re_subtypes"] == json::parse(R"({"IndexError": 1, "SIGSEGV": 1, "unknown": 1})"));

  const json& b = report["problems"]["max-of-three"];
  CHECK(b["n"] == 4);
  CHECK(b["pass@2"].get<double>() == Approx(5.0 / 6).margin(1e-12));  // 1 - C(2,2)/C(4,2)
  CHECK(b["1@2"].get<double>() == Approx(5.0 / 12).margin(1e-12));    // (4/6 + 1/6) / 2
  CHECK(b["verdicts"]["SE"] == 1);
  CHECK(report["problems"]["sum-two"]["pass@5"] == 1.0);
  CHECK(report["problems"]["longest-path"]["pass@5"] == 0.0);

  const json& intro = report["by_difficulty"]["introductory"];
  CHECK(intro["pass@2"].get<double>() == Approx(23.0 / 30).margin(1e-12));
  CHECK(intro["1@2"].get<double>() == Approx(67.0 / 120).margin(1e-12));
  const json& interview = report["by_difficulty"]["interview"];
  CHECK(interview["pass@5"].get<double>() == Approx(0.5).margin(1e-12));
  CHECK(interview["1@5"].get<double>() == Approx(0.25).margin(1e-12));

  REQUIRE(report.contains("by_search"));
  CHECK(report["by_search"]["sample"]["pass@1"].get<double>() == Approx(0.225).margin(1e-12));
  CHECK(report["by_search"]["sample"]["compile_rate"].get<double>() ==
        Approx(13.0 / 15).margin(1e-12));
  CHECK(report["by_search"]["refine"]["problems"] == 2);
  CHECK(report["by_search"]["refine"]["1@1"].get<double>() == Approx(0.25).margin(1e-12));
  CHECK(report["by_search"]["refine"]["pass@2"].is_null());
  CHECK(report["options"] == json::parse(R"({"k": [1, 2, 5], "n_submit": [1]})"));
}

TEST_CASE("the fixture's report equals expected_report.json", "[eval_report]") {
  const json report = FixtureReport();
  auto expected_text = ReadFile(kFixtureDir + "/expected_report.json");
  REQUIRE(expected_text.ok());
  std::vector<std::string> diffs;
  CompareJson(report, json::parse(*expected_text), "report", &diffs);
  if (!diffs.empty()) {
    // Leave the actual report where a maintainer can diff it against the fixture.
    const std::string actual_path = TempRoot() + "/eval_expected_report.actual.json";
    (void)WriteFile(actual_path, report.dump(2) + "\n");
    FAIL(diffs.size() << " differences (actual report in " << actual_path
                      << "), first: " << diffs.front());
  }
}

TEST_CASE("SE samples are left out of n and rates, empty difficulty is unknown", "[eval_report]") {
  std::vector<EvalSample> samples;
  auto add = [&](const std::string& id, int index, v1::VerdictCode verdict,
                 const std::string& difficulty) {
    EvalSample s;
    s.problem_id = id;
    s.sample = index;
    s.verdict = verdict;
    s.passed_public = verdict == v1::OK;
    s.difficulty = difficulty;
    samples.push_back(s);
  };
  add("a", 0, v1::OK, "");
  add("a", 1, v1::SE, "");
  add("a", 2, v1::CE, "");
  add("b", 0, v1::SE, "hard");
  ReportOptions options;
  options.ks = {1};
  options.n_submit = {1};
  const json report = BuildReport(samples, options);
  const json& a = report["problems"]["a"];
  CHECK(a["n"] == 2);
  CHECK(a["system_errors"] == 1);
  CHECK(a["pass@1"] == 0.5);
  CHECK(a["compile_rate"] == 0.5);
  CHECK(a["difficulty"] == "");
  const json& b = report["problems"]["b"];
  CHECK(b["n"] == 0);
  CHECK(b["pass@1"].is_null());
  CHECK(b["1@1"].is_null());
  CHECK(b["compile_rate"].is_null());
  CHECK(b["verdicts"]["SE"] == 1);
  // One problem without pass@1 makes the group's null: never a mean over a subset.
  CHECK(report["overall"]["pass@1"].is_null());
  CHECK(report["overall"]["compile_rate"].is_null());
  CHECK(report["overall"]["micro_compile_rate"] == 0.5);
  CHECK(report["overall"]["system_errors"] == 2);
  CHECK(report["by_difficulty"]["unknown"]["pass@1"] == 0.5);
  CHECK(report["by_difficulty"]["hard"]["pass@1"].is_null());
  CHECK_FALSE(report.contains("by_search"));  // one search value only
}

TEST_CASE("ReportMarkdown has the tables and n/a for unavailable metrics", "[eval_report]") {
  const std::string md = ReportMarkdown(FixtureReport());
  INFO(md);
  CHECK(absl::StartsWith(md, "# Evaluation report\n"));
  CHECK(absl::StrContains(md, "| metric | value |"));
  CHECK(absl::StrContains(md, "| pass@1 | 27.5% |"));
  CHECK(absl::StrContains(md, "| pass@5 | n/a |"));
  CHECK(absl::StrContains(md, "| 1@2 | 36.7% |"));
  CHECK(absl::StrContains(
      md,
      "| difficulty | problems | n | pass@1 | pass@2 | pass@5 | 1@1 | 1@2 | 1@5 | compile "
      "rate |"));
  CHECK(absl::StrContains(md, "| interview | 2 | 10 | 10.0% | 20.0% | 50.0% |"));
  CHECK(absl::StrContains(md, "| verdict | count | share |"));
  CHECK(absl::StrContains(md, "| SE | 1 | 5.0% |"));
  CHECK(absl::StrContains(md, "| RE subtype | count |"));
  CHECK(absl::StrContains(md, "| SIGSEGV | 1 |"));
  CHECK(absl::StrContains(md, "| search | problems |"));
  CHECK(absl::StrContains(md, "## Hardest problems"));
  // Lowest pass@1 first: longest-path (0%), then grid-paths (20%).
  const size_t hardest = md.find("## Hardest problems");
  REQUIRE(hardest != std::string::npos);
  CHECK(md.find("| longest-path |", hardest) < md.find("| grid-paths |", hardest));
  CHECK(md.find("| grid-paths |", hardest) < md.find("| sum-two |", hardest));
}

TEST_CASE("WriteReport writes report.json and report.md", "[eval_report]") {
  TempFiles files;
  const json report = FixtureReport();
  const std::string dir = files.dir() + "/out/eval";
  REQUIRE(WriteReport(dir, report).ok());
  auto written = ReadFile(dir + "/report.json");
  REQUIRE(written.ok());
  CHECK(json::parse(*written) == report);
  CHECK(absl::StartsWith(*written, "{\n  \"by_difficulty\": {\n"));
  auto md = ReadFile(dir + "/report.md");
  REQUIRE(md.ok());
  CHECK(*md == ReportMarkdown(report));
}

TEST_CASE("ParseIntList reads positive distinct integers in ascending order", "[eval_report]") {
  auto ks = ParseIntList("10, 1,5", "--k");
  REQUIRE(ks.ok());
  CHECK(*ks == std::vector<int>{1, 5, 10});
  auto one = ParseIntList("7", "--k");
  REQUIRE(one.ok());
  CHECK(*one == std::vector<int>{7});
  for (const char* bad : {"", "1,,5", "0", "-1", "1,x", "2,2", "1.5"}) {
    auto parsed = ParseIntList(bad, "--n_submit");
    INFO(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(absl::StartsWith(parsed.status().message(), "--n_submit: "));
  }
}

// Three problems, scores and verdicts chosen so each option picks differently.
std::vector<EvalSample> RerankSamples() {
  struct Row {
    const char* id;
    int sample;
    v1::VerdictCode verdict;
    bool passed_public;
    double critic;
    std::optional<double> log_prob;
    int64_t tokens;
  };
  const Row rows[] = {
      {"a", 0, v1::OK, true, 0.8, -10, 10},  {"a", 1, v1::WA, true, 0.6, -2, 4},
      {"a", 2, v1::CE, false, 0.95, -1, 10}, {"b", 0, v1::WA, false, 0.9, -3, 3},
      {"b", 1, v1::OK, true, 0.2, -8, 4},    {"b", 2, v1::SE, false, 1.0, -1, 1},
      {"c", 0, v1::WA, true, 0.5, std::nullopt, 5}, {"c", 1, v1::WA, false, 0.5, std::nullopt, 5}};
  std::vector<EvalSample> out;
  for (const Row& r : rows) {
    EvalSample s;
    s.problem_id = r.id;
    s.sample = r.sample;
    s.language = "python3";
    s.program = "x";
    s.verdict = r.verdict;
    s.passed_public = r.passed_public;
    s.critic_score = r.critic;
    s.log_prob = r.log_prob;
    s.tokens = r.tokens;
    out.push_back(s);
  }
  return out;
}

TEST_CASE("RerankReport picks by score, public tests first, against random and oracle",
          "[eval_report][rerank]") {
  const std::vector<EvalSample> samples = RerankSamples();
  RerankOptions critic;
  critic.score = "critic_score";
  absl::StatusOr<nlohmann::json> r = RerankReport(samples, critic);
  REQUIRE(r.ok());
  // a: public-passing {0: .8, 1: .6} -> 0 (OK); b: public-passing {1} -> OK; c: tie at .5
  // among the public-passing {0} -> 0 (WA). Reranked 2/3.
  CHECK((*r)["reranked_pass@1"].get<double>() == Approx(2.0 / 3));
  // Random: a 1/3, b 1/2 (the SE sample is not judged), c 0 -> (1/3 + 1/2) / 3 = 5/18.
  CHECK((*r)["random_pass@1"].get<double>() == Approx(5.0 / 18));
  CHECK((*r)["oracle_pass@1"].get<double>() == Approx(2.0 / 3));
  CHECK((*r)["chosen"]["a"]["sample"] == 0);
  CHECK((*r)["problems"] == 3);

  // Without the public tests: a -> 2 (.95, CE), b -> 0 (.9; the SE sample's 1.0 does not
  // count), c -> the tie goes to sample 0. Nothing correct.
  critic.public_first = false;
  r = RerankReport(samples, critic);
  REQUIRE(r.ok());
  CHECK((*r)["reranked_pass@1"].get<double>() == 0.0);
  CHECK((*r)["chosen"]["a"]["sample"] == 2);
  CHECK((*r)["chosen"]["b"]["sample"] == 0);

  // Mean log-prob: a's public-passing -1 vs -0.5 -> 1 (WA); b -> 1 (OK); c has no
  // log-probs (2 unscored) and falls back to its public-passing sample 0.
  RerankOptions lp;
  r = RerankReport(samples, lp);
  REQUIRE(r.ok());
  CHECK((*r)["reranked_pass@1"].get<double>() == Approx(1.0 / 3));
  CHECK((*r)["unscored"] == 2);
  CHECK((*r)["chosen"]["a"]["sample"] == 1);

  RerankOptions bad;
  bad.score = "vibes";
  CHECK_FALSE(RerankReport(samples, bad).ok());
  bad.score = "reward_model_score";  // no sample carries it
  CHECK_FALSE(RerankReport(samples, bad).ok());
}

}  // namespace
}  // namespace crucible
