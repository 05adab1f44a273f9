// The dataset importers on small fixtures written in each dataset's published format
// (tests/data/datasets/<format>/): what each record becomes, how bad records are reported,
// skipped and refused, gzip detection, and that every problem survives the JSONL round trip.
#include "common/datasets.h"

#include <google/protobuf/util/message_differencer.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/problem_io.h"

namespace crucible {
namespace {

std::string Fixture(const std::string& relative) {
  return absl::StrCat(CRUCIBLE_SOURCE_DIR, "/tests/data/datasets/", relative);
}

ImportResult Import(DatasetFormat format, const std::string& path, ImportOptions options = {}) {
  absl::StatusOr<ImportResult> result = ImportDataset(format, path, options);
  INFO(path << ": " << result.status());
  REQUIRE(result.ok());
  for (const v1::Problem& p : result->problems) REQUIRE(ValidateProblem(p, p.id()).ok());
  return *std::move(result);
}

// The import's failure message; the import must fail.
std::string Refused(DatasetFormat format, const std::string& path) {
  ImportOptions options;
  options.refuse_bad_records = true;
  absl::StatusOr<ImportResult> result = ImportDataset(format, path, options);
  REQUIRE_FALSE(result.ok());
  CHECK(absl::IsInvalidArgument(result.status()));
  return std::string(result.status().message());
}

const v1::Problem& ById(const ImportResult& result, const std::string& id) {
  for (const v1::Problem& p : result.problems) {
    if (p.id() == id) return p;
  }
  FAIL("no problem " << id);
  return result.problems.front();
}

std::vector<std::string> Ids(const ImportResult& result) {
  std::vector<std::string> ids;
  for (const v1::Problem& p : result.problems) ids.push_back(p.id());
  return ids;
}

ScopedTempDir TempDir() {
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "datasets_test");
  REQUIRE(dir.ok());
  return *std::move(dir);
}

void Write(const std::string& path, const std::string& text) {
  REQUIRE(MakeDirs(path.substr(0, path.rfind('/'))).ok());
  REQUIRE(WriteFile(path, text).ok());
}

void WriteGzip(const std::string& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, text.data(), static_cast<unsigned>(text.size())) ==
          static_cast<int>(text.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

TEST_CASE("dataset format names", "[datasets]") {
  for (const char* name : {"apps", "codecontests", "mbpp", "humaneval"}) {
    absl::StatusOr<DatasetFormat> format = ParseDatasetFormat(name);
    REQUIRE(format.ok());
    CHECK(DatasetFormatName(*format) == name);
  }
  absl::StatusOr<DatasetFormat> unknown = ParseDatasetFormat("leetcode");
  REQUIRE_FALSE(unknown.ok());
  CHECK(absl::StrContains(unknown.status().message(), "apps, codecontests, mbpp or humaneval"));
}

TEST_CASE("APPS folder tree: stdio and call-based problems", "[datasets]") {
  const ImportResult r = Import(DatasetFormat::kApps, Fixture("apps/tree"));
  // Problem folders under train/ and test/ keep the split in their ids: both splits
  // number their problems from 0000.
  CHECK(Ids(r) == std::vector<std::string>{"apps/test/0000", "apps/train/0000", "apps/train/0001"});
  CHECK(r.skipped.empty());
  CHECK(r.dropped_solutions == 1);  // train/0001's lone-surrogate solution

  const v1::Problem& sum = ById(r, "apps/train/0000");
  CHECK(absl::StartsWith(sum.statement(), "You are given an array of $n$ integers."));
  CHECK(sum.difficulty() == "introductory");
  CHECK(sum.source() == "apps");
  CHECK(sum.time_limit_ms() == 4000);
  CHECK(sum.memory_limit_mib() == 256);
  CHECK(sum.checker().kind() == v1::Checker::TOKENS);
  CHECK(sum.function().style() == v1::FunctionCall::STYLE_UNSPECIFIED);
  REQUIRE(sum.tests_size() == 3);
  CHECK(sum.tests(2).input() == "4\n10 20 30 -60\n");
  CHECK(sum.tests(2).output() == "0\n");
  // The two examples of the statement are public; the third test is not in it.
  REQUIRE(sum.public_tests_size() == 2);
  CHECK(sum.public_tests(0).input() == "3\n1 2 3\n");
  CHECK(sum.public_tests(1).output() == "-5\n");
  REQUIRE(sum.solutions_size() == 2);
  CHECK(sum.solutions(0).language() == "python3");
  CHECK(sum.incorrect_solutions_size() == 0);

  // Lists of lines are joined with "\n" and end with one.
  const v1::Problem& words = ById(r, "apps/train/0001");
  REQUIRE(words.tests_size() == 3);
  CHECK(words.tests(0).input() == "2\nabc\nxy\n");
  CHECK(words.tests(0).output() == "cba\nyx\n");
  CHECK(words.tests(2).output() == "ba\nab\nracecar\n");
  CHECK(words.public_tests_size() == 1);
  CHECK(words.difficulty() == "interview");
  CHECK(words.solutions_size() == 1);

  const v1::Problem& stock = ById(r, "apps/test/0000");
  CHECK(stock.function().style() == v1::FunctionCall::CALL);
  CHECK(stock.function().name() == "maxProfit");
  CHECK(absl::StartsWith(stock.starter_code(), "class Solution:\n    def maxProfit("));
  CHECK(stock.public_tests_size() == 0);
  REQUIRE(stock.tests_size() == 3);
  CHECK(stock.tests(0).input() == "[[7,1,5,3,6,4]]");
  CHECK(stock.tests(0).output() == "5");
  CHECK(stock.tests(2).output() == "[2]");
  CHECK(stock.solutions_size() == 1);
}

TEST_CASE("APPS folder tree: one split, or one problem folder, as --in", "[datasets]") {
  CHECK(Ids(Import(DatasetFormat::kApps, Fixture("apps/tree/train"))) ==
        std::vector<std::string>{"apps/0000", "apps/0001"});
  CHECK(Ids(Import(DatasetFormat::kApps, Fixture("apps/tree/test/0000/"))) ==
        std::vector<std::string>{"apps/0000"});
  ImportOptions first;
  first.limit = 1;
  CHECK(Ids(Import(DatasetFormat::kApps, Fixture("apps/tree"), first)) ==
        std::vector<std::string>{"apps/test/0000"});
}

TEST_CASE("APPS folder tree: bad problems name the folder, file and field", "[datasets]") {
  ScopedTempDir dir = TempDir();
  const std::string root = dir.path();
  Write(root + "/0000/question.txt", "Print 1.");  // no input_output.json
  Write(root + "/0001/question.txt", "Echo.");
  Write(root + "/0001/input_output.json", R"({"inputs": ["a\n", "b\n"], "outputs": ["a\n"]})");
  Write(root + "/0002/question.txt", "Call f.");
  Write(root + "/0002/input_output.json", R"({"fn_name": "f", "inputs": [1], "outputs": [1]})");
  Write(root + "/0003/question.txt", "Echo.");
  Write(root + "/0003/input_output.json", R"({"inputs": ["a\n"], "outputs": ["a\n"]})");
  Write(root + "/0003/solutions.json", R"({"not": "a list"})");
  Write(root + "/0004/question.txt", "Echo.");
  Write(root + "/0004/input_output.json", R"({"inputs": [], "outputs": []})");
  Write(root + "/0005/question.txt", "Echo. Example: a");
  Write(root + "/0005/input_output.json", R"({"inputs": ["a\n"], "outputs": ["a\n"]})");
  Write(root + "/0005/solutions.json", R"js(["print(input())", "", "print('\u0000')"])js");
  const ImportResult r = Import(DatasetFormat::kApps, root);
  CHECK(Ids(r) == std::vector<std::string>{"apps/0005"});
  CHECK(r.dropped_solutions == 2);  // the empty one and the one with a NUL byte
  CHECK(ById(r, "apps/0005").public_tests_size() == 1);
  CHECK(
      r.skipped ==
      std::vector<std::string>{
          root + "/0000: input_output.json: missing (the problem has no tests)",
          root + "/0001/input_output.json: outputs: expected as many entries as inputs (2), got 1",
          root + "/0002/input_output.json: inputs[0]: expected an array of "
                 "arguments, got an integer",
          root + "/0003/solutions.json: expected a JSON array of strings",
          root + "/0004/input_output.json: inputs: empty (the problem has no tests)"});
  CHECK(Refused(DatasetFormat::kApps, root) == r.skipped.front());
}

TEST_CASE("APPS JSON lines: the Hugging Face release", "[datasets]") {
  const std::string path = Fixture("apps/apps.jsonl");
  const ImportResult r = Import(DatasetFormat::kApps, path);
  CHECK(Ids(r) == std::vector<std::string>{"apps/4000", "apps/4001"});
  const v1::Problem& max = ById(r, "apps/4000");
  CHECK(max.function().style() == v1::FunctionCall::STYLE_UNSPECIFIED);
  CHECK(max.tests_size() == 3);
  REQUIRE(max.public_tests_size() == 1);
  CHECK(max.public_tests(0).input() == "2 7\n");
  CHECK(max.solutions_size() == 2);
  const v1::Problem& vowels = ById(r, "apps/4001");
  CHECK(vowels.function().style() == v1::FunctionCall::CALL);
  CHECK(vowels.function().name() == "count_vowels");
  CHECK(vowels.starter_code() == "def count_vowels(s):\n\t");
  REQUIRE(vowels.tests_size() == 3);
  CHECK(vowels.tests(0).input() == R"(["Hello"])");
  CHECK(vowels.tests(0).output() == "[2]");
  const std::string bad = path + ":3: input_output.outputs: expected an array, got an integer";
  CHECK(r.skipped == std::vector<std::string>{bad});
  CHECK(Refused(DatasetFormat::kApps, path) == bad);
  CHECK(ImportSummary(DatasetFormat::kApps, r) ==
        absl::StrCat("imported 2 problems from apps (1 skipped: ", bad, ")"));
}

TEST_CASE("CodeContests: tests, languages, difficulty and limits", "[datasets]") {
  const std::string path = Fixture("codecontests/codecontests.jsonl");
  const ImportResult r = Import(DatasetFormat::kCodeContests, path);
  CHECK(Ids(r) == std::vector<std::string>{"codecontests/1000_A._Sum_of_Pairs",
                                           "codecontests/1001_B._Maximum_Pair_Product"});
  const v1::Problem& sum = r.problems[0];
  CHECK(absl::StartsWith(sum.statement(), "You are given t pairs"));
  CHECK(sum.source() == "codecontests");
  CHECK(sum.difficulty() == "800");  // cf_rating wins over the letter
  CHECK(sum.time_limit_ms() == 1500);
  CHECK(sum.memory_limit_mib() == 256);
  REQUIRE(sum.public_tests_size() == 1);
  CHECK(sum.public_tests(0).input() == "2\n1 2\n3 4\n");
  // Private tests first, then generated ones.
  REQUIRE(sum.tests_size() == 3);
  CHECK(sum.tests(0).input() == "1\n-5 5\n");
  CHECK(sum.tests(2).input() == "1\n100 23\n");
  // PYTHON3 and CPP kept; PYTHON (2) and JAVA left out.
  REQUIRE(sum.solutions_size() == 2);
  CHECK(sum.solutions(0).language() == "python3");
  CHECK(sum.solutions(1).language() == "cpp17");
  REQUIRE(sum.incorrect_solutions_size() == 2);
  CHECK(sum.incorrect_solutions(1).language() == "cpp17");

  const v1::Problem& product = r.problems[1];
  CHECK(product.difficulty() == "interview");  // MEDIUM, no rating
  CHECK(product.time_limit_ms() == 2000);      // time_limit null
  CHECK(product.memory_limit_mib() == 64);
  CHECK(product.tests_size() == 4);
  CHECK(product.incorrect_solutions_size() == 1);  // its Python 2 one left out
  CHECK(r.other_language_solutions == 3);

  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0] ==
        path + ":3: public_tests.input: expected an array of strings, got a string");
  CHECK(absl::StartsWith(r.skipped[1], path + ":4: invalid JSON: "));
  CHECK(Refused(DatasetFormat::kCodeContests, path) == r.skipped[0]);

  ImportOptions few;
  few.max_tests = 1;
  const ImportResult trimmed = Import(DatasetFormat::kCodeContests, path, few);
  REQUIRE(trimmed.problems[0].tests_size() == 1);
  CHECK(trimmed.problems[0].tests(0).input() == "1\n-5 5\n");
  CHECK(trimmed.problems[0].public_tests_size() == 1);
}

TEST_CASE("CodeContests: enum names, clamped limits, unique ids, file problems", "[datasets]") {
  ScopedTempDir dir = TempDir();
  const std::string path = dir.path() + "/cc.jsonl";
  const std::string tests = R"("public_tests": {"input": ["1\n"], "output": ["1\n"]})";
  Write(
      path,
      absl::StrCat(
          R"({"name": "7_C. Same Name", "difficulty": 9, "time_limit": {"seconds": 100}, )",
          R"("memory_limit_bytes": "1099511627776", )", tests, "}\n",
          R"({"name": "7_C. Same  Name!", "difficulty": "HARD", "time_limit": "0.25s", )",
          R"js("solutions": {"language": ["PYTHON3", "JAVA"], "solution": ["print(1)", "x"]}, )js",
          tests, "}\n", R"({"name": "8 A", "difficulty": "EXTERNAL", )", tests, "}\n",
          R"({"name": "8 B", "difficulty": 1, "input_file": "input.txt", )", tests, "}\n",
          R"({"name": "8 C", "difficulty": "EASY", "solutions": {"language": [3], )",
          R"("solution": []}, )", tests, "}\n"));
  const ImportResult r = Import(DatasetFormat::kCodeContests, path);
  CHECK(Ids(r) == std::vector<std::string>{"codecontests/7_C._Same_Name",
                                           "codecontests/7_C._Same_Name-2", "codecontests/8_A"});
  CHECK(r.problems[0].difficulty() == "competition");  // letter C
  CHECK(r.problems[0].time_limit_ms() == kMaxTimeLimitMs);
  CHECK(r.problems[0].memory_limit_mib() == kMaxMemoryLimitMib);
  CHECK(r.problems[1].difficulty() == "competition");  // HARD
  CHECK(r.problems[1].time_limit_ms() == 250);
  CHECK(r.problems[1].solutions_size() == 1);
  CHECK(r.problems[2].difficulty().empty());  // EXTERNAL: no grade
  // With only public tests, those are the hidden tests too.
  CHECK(r.problems[2].tests_size() == 1);
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0] == path +
                            ":4: input_file: the problem uses the file \"input.txt\"; only "
                            "stdin/stdout problems are imported");
  CHECK(r.skipped[1] ==
        path + ":5: solutions.solution: expected as many entries as language (1), got 0");
}

TEST_CASE("MBPP: mbpp.jsonl", "[datasets]") {
  const std::string path = Fixture("mbpp/mbpp.jsonl");
  const ImportResult r = Import(DatasetFormat::kMbpp, path);
  CHECK(Ids(r) == std::vector<std::string>{"mbpp/1", "mbpp/2", "mbpp/3"});
  const v1::Problem& min = r.problems[0];
  CHECK(min.function().style() == v1::FunctionCall::ASSERT);
  CHECK(min.function().name() == "min_of_three");
  CHECK(min.function().setup_code().empty());
  CHECK(min.time_limit_ms() == 3000);
  CHECK(min.source() == "mbpp");
  CHECK(min.statement() ==
        "Write a function to find the minimum of three numbers.\n"
        "Your code should pass these tests:\n"
        "assert min_of_three(10,20,0)==0\nassert min_of_three(19,15,18)==15\n"
        "assert min_of_three(-10,-20,-30)==-30\n");
  REQUIRE(min.public_tests_size() == 1);
  CHECK(min.public_tests(0).input() == "assert min_of_three(10,20,0)==0\n");
  CHECK(min.public_tests(0).output().empty());
  CHECK(min.tests_size() == 3);
  REQUIRE(min.solutions_size() == 1);
  CHECK(min.solutions(0).source() == "def min_of_three(a, b, c):\n  return min(a, b, c)");
  // The asserts call circle_area inside math.isclose; the setup imports math.
  CHECK(r.problems[1].function().name() == "circle_area");
  CHECK(r.problems[1].function().setup_code() == "import math");
  // The code's first function is a helper the tests do not call; the challenge test last.
  const v1::Problem& evens = r.problems[2];
  CHECK(evens.function().name() == "count_evens");
  REQUIRE(evens.tests_size() == 4);
  CHECK(evens.tests(3).input() == "assert count_evens(list(range(1000))) == 500\n");
  const std::string bad = path + ":4: test_list: expected an array of strings, got a string";
  CHECK(r.skipped == std::vector<std::string>{bad});
  CHECK(Refused(DatasetFormat::kMbpp, path) == bad);
}

TEST_CASE("MBPP: sanitized-mbpp.json, told apart by content", "[datasets]") {
  const ImportResult r = Import(DatasetFormat::kMbpp, Fixture("mbpp/sanitized-mbpp.json"));
  CHECK(Ids(r) == std::vector<std::string>{"mbpp/11", "mbpp/17"});
  CHECK(r.problems[0].function().name() == "remove_Occ");
  CHECK(r.problems[0].function().setup_code().empty());
  CHECK(absl::StartsWith(r.problems[0].statement(),
                         "Write a python function to remove first and last occurrence"));
  CHECK(r.problems[1].function().setup_code() == "import math");
  CHECK(r.skipped.empty());

  ScopedTempDir dir = TempDir();
  const std::string path = dir.path() + "/sanitized.json";
  Write(path, R"([{"task_id": 5, "prompt": "p", "code": "def f(x):\n  return x",
                   "test_imports": [], "test_list": ["assert g(1) == 1"]}, 7])");
  const ImportResult bad = Import(DatasetFormat::kMbpp, path);
  CHECK(bad.skipped == std::vector<std::string>{
                           path + ": [0]: test_list: the tests call no function that code defines",
                           path + ": [1]: expected an object, got an integer"});
}

TEST_CASE("HumanEval: prompt, check and entry point", "[datasets]") {
  const ImportResult r = Import(DatasetFormat::kHumanEval, Fixture("humaneval/HumanEval.jsonl"));
  CHECK(Ids(r) == std::vector<std::string>{"humaneval/0", "humaneval/2"});
  const v1::Problem& close = r.problems[0];
  CHECK(close.function().style() == v1::FunctionCall::ASSERT);
  CHECK(close.function().name() == "has_close_elements");
  CHECK(close.public_tests_size() == 0);
  REQUIRE(close.tests_size() == 1);
  CHECK(absl::StrContains(close.tests(0).input(), "def check(candidate):\n"));
  CHECK(absl::EndsWith(close.tests(0).input(), "\ncheck(has_close_elements)\n"));
  CHECK(close.tests(0).output().empty());
  CHECK(absl::StartsWith(close.statement(), "from typing import List\n"));
  CHECK(close.starter_code() == close.statement());
  REQUIRE(close.solutions_size() == 1);
  CHECK(absl::StartsWith(close.solutions(0).source(), close.starter_code()));
  CHECK(absl::EndsWith(close.solutions(0).source(), "    return False\n"));
  CHECK(close.time_limit_ms() == 3000);
  CHECK(close.source() == "humaneval");

  const std::string path = Fixture("humaneval/HumanEval_bad.jsonl");
  const ImportResult bad = Import(DatasetFormat::kHumanEval, path);
  CHECK(Ids(bad) == std::vector<std::string>{"humaneval/0"});
  CHECK(bad.skipped == std::vector<std::string>{path + ":2: entry_point: missing"});
  CHECK(Refused(DatasetFormat::kHumanEval, path) == path + ":2: entry_point: missing");
}

TEST_CASE("gzip-compressed files are detected by their magic bytes", "[datasets]") {
  absl::StatusOr<std::string> plain = ReadFile(Fixture("humaneval/HumanEval.jsonl"));
  REQUIRE(plain.ok());
  ScopedTempDir dir = TempDir();
  const ImportResult expected =
      Import(DatasetFormat::kHumanEval, Fixture("humaneval/HumanEval.jsonl"));
  // Named .gz, and compressed under a plain name.
  for (const std::string name : {"HumanEval.jsonl.gz", "HumanEval.jsonl"}) {
    const std::string path = dir.path() + "/" + name;
    WriteGzip(path, *plain);
    absl::StatusOr<std::string> read = ReadMaybeGzipFile(path);
    REQUIRE(read.ok());
    CHECK(*read == *plain);
    const ImportResult r = Import(DatasetFormat::kHumanEval, path);
    REQUIRE(r.problems.size() == expected.problems.size());
    for (size_t i = 0; i < r.problems.size(); ++i) {
      CHECK(
          google::protobuf::util::MessageDifferencer::Equals(r.problems[i], expected.problems[i]));
    }
  }
  // A truncated gzip file is an error, not a short dataset.
  absl::StatusOr<std::string> gz = ReadFile(dir.path() + "/HumanEval.jsonl.gz");
  REQUIRE(gz.ok());
  const std::string truncated = dir.path() + "/truncated.jsonl.gz";
  REQUIRE(WriteFile(truncated, gz->substr(0, gz->size() / 2)).ok());
  absl::StatusOr<ImportResult> r = ImportDataset(DatasetFormat::kHumanEval, truncated, {});
  REQUIRE_FALSE(r.ok());
  CHECK(absl::StrContains(r.status().message(), truncated));
}

TEST_CASE("unreadable or empty input fails the import", "[datasets]") {
  ScopedTempDir dir = TempDir();
  absl::StatusOr<ImportResult> missing =
      ImportDataset(DatasetFormat::kMbpp, dir.path() + "/nope.jsonl", {});
  REQUIRE_FALSE(missing.ok());
  CHECK(absl::StrContains(missing.status().message(), "nope.jsonl"));
  Write(dir.path() + "/empty.jsonl", "\n\n");
  absl::StatusOr<ImportResult> empty =
      ImportDataset(DatasetFormat::kCodeContests, dir.path() + "/empty.jsonl", {});
  REQUIRE_FALSE(empty.ok());
  CHECK(absl::StrContains(empty.status().message(), "no codecontests records found"));
}

TEST_CASE("imported problems survive the JSONL round trip", "[datasets]") {
  std::vector<v1::Problem> all;
  for (const auto& [format, path] : std::vector<std::pair<DatasetFormat, std::string>>{
           {DatasetFormat::kApps, "apps/tree"},
           {DatasetFormat::kApps, "apps/apps.jsonl"},
           {DatasetFormat::kCodeContests, "codecontests/codecontests.jsonl"},
           {DatasetFormat::kMbpp, "mbpp/mbpp.jsonl"},
           {DatasetFormat::kMbpp, "mbpp/sanitized-mbpp.json"},
           {DatasetFormat::kHumanEval, "humaneval/HumanEval.jsonl"}}) {
    for (v1::Problem& p : Import(format, Fixture(path)).problems) all.push_back(std::move(p));
  }
  REQUIRE(all.size() == 14);
  for (const v1::Problem& p : all) {
    absl::StatusOr<v1::Problem> back = ParseProblemJson(ProblemToJson(p), p.id());
    INFO(p.id() << ": " << back.status());
    REQUIRE(back.ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(*back, p));
  }
  ScopedTempDir dir = TempDir();
  const std::string out = dir.path() + "/problems.jsonl";
  REQUIRE(WriteProblemsJsonl(out, all).ok());
  absl::StatusOr<std::vector<v1::Problem>> loaded = LoadProblemsFile(out);
  REQUIRE(loaded.ok());
  CHECK(loaded->size() == all.size());
}

}  // namespace
}  // namespace crucible
