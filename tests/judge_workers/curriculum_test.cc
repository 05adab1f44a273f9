// The curriculum builder (scripts/build_curriculum.py): deterministic for a seed, its
// splits disjoint (held-out compositions are kinds training never shows, made of stages
// it does show), and its programs judged through the real sandbox: the Python 3 and C++17
// references pass every test and the known-wrong programs fail, for a set of problems that
// covers every stage of every family.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/problem_io.h"
#include "common/subprocess.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

const char* const kSplits[] = {"train.jsonl", "heldout_instances.jsonl", "heldout_compositions.jsonl",
                               "heldout.jsonl"};

// Builds a small curriculum into `dir`; the builder's exit status must be 0.
void Build(const std::string& dir, int seed) {
  absl::StatusOr<ProcessResult> r = RunProcess(
      {CRUCIBLE_PYTHON_EXECUTABLE, testing::SourceDir() + "/scripts/build_curriculum.py",
       absl::StrCat("--seed=", seed), "--train=400", "--heldout-sample=40", "--out=" + dir},
      "", std::chrono::minutes(2));
  REQUIRE(r.ok());
  INFO(r->stdout_data << r->stderr_data);
  REQUIRE(r->exit_code == 0);
}

ScopedTempDir TempDir() {
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "curriculum_test");
  REQUIRE(dir.ok());
  return std::move(*dir);
}

std::vector<v1::Problem> Load(const std::string& path) {
  absl::StatusOr<std::vector<v1::Problem>> problems = LoadProblemsFile(path);
  INFO(path << ": " << problems.status());
  REQUIRE(problems.ok());
  return *problems;
}

// "cur/train/int-add-print/00000" -> "int-add-print"
std::string Kind(const v1::Problem& p) {
  std::vector<std::string> parts = absl::StrSplit(p.id(), '/');
  REQUIRE(parts.size() == 4);
  return parts[2];
}

TEST_CASE("curriculum: the same seed builds the same files, another seed others", "[curriculum]") {
  ScopedTempDir a = TempDir(), b = TempDir(), c = TempDir();
  Build(a.path(), 3);
  Build(b.path(), 3);
  Build(c.path(), 4);
  for (const char* split : kSplits) {
    INFO(split);
    absl::StatusOr<std::string> x = ReadFile(a.path() + "/" + split);
    absl::StatusOr<std::string> y = ReadFile(b.path() + "/" + split);
    absl::StatusOr<std::string> z = ReadFile(c.path() + "/" + split);
    REQUIRE(x.ok());
    REQUIRE(y.ok());
    REQUIRE(z.ok());
    CHECK(*x == *y);
    CHECK(*x != *z);
  }
}

TEST_CASE("curriculum: splits are disjoint, held-out compositions are unseen kinds of seen stages",
          "[curriculum]") {
  ScopedTempDir dir = TempDir();
  Build(dir.path(), 0);
  const std::vector<v1::Problem> train = Load(dir.path() + "/train.jsonl");
  const std::vector<v1::Problem> instances = Load(dir.path() + "/heldout_instances.jsonl");
  const std::vector<v1::Problem> compositions = Load(dir.path() + "/heldout_compositions.jsonl");
  const std::vector<v1::Problem> heldout = Load(dir.path() + "/heldout.jsonl");
  CHECK(train.size() == 400);
  CHECK(heldout.size() == 40);

  std::set<std::string> ids, texts, train_kinds, train_stages;
  for (const std::vector<v1::Problem>* split : {&train, &instances, &compositions}) {
    for (const v1::Problem& p : *split) {
      CHECK(ids.insert(p.id()).second);
      // The prompt shows the statement and the first public test: no two problems share both.
      CHECK(texts.insert(p.statement() + "\n" + p.public_tests(0).input()).second);
    }
  }
  for (const v1::Problem& p : train) {
    const std::string kind = Kind(p);
    train_kinds.insert(kind);
    std::vector<std::string> parts = absl::StrSplit(kind, '-');
    for (size_t i = 1; i < parts.size(); ++i) train_stages.insert(parts[0] + "-" + parts[i]);
    CHECK(p.source() == "curriculum");
  }
  for (const v1::Problem& p : instances) {
    INFO(p.id());
    CHECK(train_kinds.count(Kind(p)) == 1);
    CHECK(p.source() == "curriculum-unseen-instances");
  }
  for (const v1::Problem& p : compositions) {
    INFO(p.id());
    const std::string kind = Kind(p);
    CHECK(train_kinds.count(kind) == 0);
    std::vector<std::string> parts = absl::StrSplit(kind, '-');
    CHECK(parts.size() >= 3);  // a family and at least two stages
    for (size_t i = 1; i < parts.size(); ++i) CHECK(train_stages.count(parts[0] + "-" + parts[i]) == 1);
    CHECK(p.source() == "curriculum-unseen-compositions");
  }
  for (const v1::Problem& p : heldout) CHECK(ids.count(p.id()) == 1);
}

TEST_CASE("curriculum: references pass and known-wrong programs fail, through the sandbox",
          "[curriculum][judge]") {
  ScopedTempDir dir = TempDir();
  Build(dir.path(), 0);
  std::vector<v1::Problem> all = Load(dir.path() + "/train.jsonl");
  for (const v1::Problem& p : Load(dir.path() + "/heldout_compositions.jsonl")) all.push_back(p);
  // A greedy cover: every (family, stage) pair in at least one judged problem, with a
  // known-wrong pair wherever the builder made one.
  std::set<std::string> covered;
  std::vector<v1::Problem> judged;
  for (const v1::Problem& p : all) {
    std::vector<std::string> parts = absl::StrSplit(Kind(p), '-');
    bool adds = false;
    for (size_t i = 1; i < parts.size(); ++i) adds = adds || covered.count(parts[0] + "-" + parts[i]) == 0;
    if (!adds || p.incorrect_solutions_size() == 0) continue;
    for (size_t i = 1; i < parts.size(); ++i) covered.insert(parts[0] + "-" + parts[i]);
    judged.push_back(p);
  }
  INFO(judged.size() << " problems cover " << covered.size() << " stages");
  CHECK(covered.size() == 48);  // every stage of every family (scripts/build_curriculum.py)
  testing::ReferenceCheck check = testing::JudgeReferences(judged);
  for (const std::string& line : check.unexpected) UNSCOPED_INFO(line);
  CHECK(check.unexpected.empty());
  CHECK(check.judged == 4 * judged.size());
}

}  // namespace
}  // namespace crucible
