// `crucible eval` through the real binary: a local judge, the tiny model, the bundled set.
// The tiny model is random, so its programs are compile errors: the metrics themselves are
// checked on worked fixtures (tests/common/eval_report_test.cc); here the mechanics are:
// the files' shapes, determinism for a seed, resuming after a kill, refusing to resume with
// other options, recomputing from a samples file, stopping on SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

using nlohmann::json;

std::string Crucible() { return ExecutableDir() + "/crucible"; }

ProcessResult Run(std::vector<std::string> args) {
  args.insert(args.begin(), Crucible());
  absl::StatusOr<ProcessResult> r = RunProcess(args, "", std::chrono::minutes(5));
  REQUIRE(r.ok());
  INFO(r->stderr_data.substr(0, 4000));
  return *r;
}

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  REQUIRE(text.ok());
  return *text;
}

json ReadJson(const std::string& path) { return json::parse(Read(path)); }

// Everything but the run's timing.
json Metrics(json report) {
  report.erase("timing");
  return report;
}

const std::vector<std::string> kProblems = {"--problem-ids", "sum-two,fizzbuzz,max-of-list"};

std::vector<std::string> EvalArgs(const std::string& model, const std::string& out,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"eval", "--model", model, "--n", "4", "--k", "1,2,5",
                                   "--n-submit", "1", "--max-new-tokens", "24", "--batch", "3",
                                   "--judge-workers", "2", "--seed", "11", "--out", out};
  args.insert(args.end(), kProblems.begin(), kProblems.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST_CASE("crucible eval: shapes, determinism, resume, recompute", "[eval][integration]") {
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "eval-test");
  REQUIRE(dir.ok());
  const std::string model = dir->path() + "/tiny", a = dir->path() + "/a", b = dir->path() + "/b";
  ProcessResult init = Run({"model", "init", "--config",
                            std::string(CRUCIBLE_SOURCE_DIR) + "/data/models/tiny.json", "--out",
                            model, "--seed", "0"});
  REQUIRE(init.exit_code == 0);

  ProcessResult first = Run(EvalArgs(model, a));
  REQUIRE(first.exit_code == 0);
  CHECK(absl::StrContains(first.stdout_data, "pass@1"));
  const std::string samples = Read(a + "/samples.jsonl");
  std::vector<std::string> lines = absl::StrSplit(samples, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 12);
  for (const std::string& line : lines) {
    json s = json::parse(line);
    for (const char* key : {"problem_id", "sample", "language", "program", "verdict", "reward",
                            "passed_public"}) {
      INFO(key << " in " << line.substr(0, 300));
      CHECK(s.contains(key));
    }
  }
  CHECK(json::parse(lines[0])["problem_id"] == "sum-two");  // sorted in problem order
  CHECK(json::parse(lines[0])["sample"] == 0);
  json report = ReadJson(a + "/report.json");
  REQUIRE(report.contains("overall"));
  REQUIRE(report["problems"].size() == 3);
  CHECK(report["overall"]["pass@1"].is_number());
  CHECK(report["overall"]["pass@5"].is_null());  // k > n: not available, never 1
  CHECK(report["overall"].contains("compile_rate"));
  CHECK(report["overall"].contains("1@2"));
  CHECK(report["problems"]["fizzbuzz"].contains("correct"));
  CHECK(absl::StrContains(Read(a + "/report.md"), "pass@1"));

  SECTION("the same seed gives the same samples") {
    REQUIRE(Run(EvalArgs(model, b)).exit_code == 0);
    CHECK(Read(b + "/samples.jsonl") == samples);
    REQUIRE(Run(EvalArgs(model, dir->path() + "/c", {"--seed", "12"})).exit_code == 0);
    CHECK(Read(dir->path() + "/c/samples.jsonl") != samples);
  }

  SECTION("a killed eval resumes to the same samples") {
    REQUIRE(MakeDirs(b).ok());
    REQUIRE(WriteFileAtomic(b + "/eval_config.json", Read(a + "/eval_config.json")).ok());
    // Five whole lines and half of the sixth, as a kill mid-write leaves them.
    std::string cut;
    for (int i = 0; i < 5; ++i) absl::StrAppend(&cut, lines[static_cast<size_t>(i)], "\n");
    absl::StrAppend(&cut, lines[5].substr(0, lines[5].size() / 2));
    REQUIRE(WriteFileAtomic(b + "/samples.jsonl", cut).ok());
    ProcessResult resumed = Run(EvalArgs(model, b));
    REQUIRE(resumed.exit_code == 0);
    CHECK(Read(b + "/samples.jsonl") == samples);
    CHECK(Metrics(ReadJson(b + "/report.json")) == Metrics(report));
  }

  SECTION("resuming with other options is refused") {
    ProcessResult other = Run(EvalArgs(model, a, {"--temperature", "0.5"}));
    CHECK(other.exit_code == 2);
    CHECK(absl::StrContains(other.stderr_data, "temperature"));
    CHECK(Read(a + "/samples.jsonl") == samples);
  }

  SECTION("--samples recomputes the report without sampling") {
    ProcessResult again = Run({"eval", "--samples", a + "/samples.jsonl", "--k", "1,2,5",
                               "--n-submit", "1", "--out", b});
    REQUIRE(again.exit_code == 0);
    CHECK(ReadJson(b + "/report.json") == Metrics(report));
  }

  SECTION("--search rerank compares the best-scored sample with random and oracle") {
    ProcessResult rerank = Run({"eval", "--samples", a + "/samples.jsonl", "--k", "1",
                                "--search", "rerank", "--rerank-score", "mean_log_prob",
                                "--out", b});
    REQUIRE(rerank.exit_code == 0);
    json r = ReadJson(b + "/report.json")["rerank"];
    CHECK(r["problems"] == 3);
    CHECK(r["score"] == "mean_log_prob");
    CHECK(r["reranked_pass@1"].get<double>() <= r["oracle_pass@1"].get<double>());
    CHECK(absl::StrContains(Read(b + "/report.md"), "Reranking"));
    ProcessResult critic = Run({"eval", "--samples", a + "/samples.jsonl", "--search", "rerank",
                                "--rerank-score", "critic_score", "--out", b});
    CHECK(critic.exit_code == 2);  // these samples carry no critic scores
    CHECK(absl::StrContains(critic.stderr_data, "critic_score"));
  }

  SECTION("--critic scores every sample with a trained CodeRL critic") {
    // A critic trained for two steps on the eval's own judged samples.
    std::string data;
    for (const std::string& line : lines) {
      json s = json::parse(line);
      json example = {{"prompt", "# Problem\n"}, {"completion", s["program"]}, {"outcome", s["verdict"]}};
      absl::StrAppend(&data, example.dump(-1, ' ', false, json::error_handler_t::replace), "\n");
    }
    REQUIRE(WriteFileAtomic(dir->path() + "/critic.jsonl", data).ok());
    const std::string critic = dir->path() + "/critic";
    ProcessResult trained = Run({"learner", "offline", "--algo", "critic", "--data",
                                 dir->path() + "/critic.jsonl", "--model", model, "--checkpoint",
                                 critic, "--steps", "2", "--batch-size", "4"});
    REQUIRE(trained.exit_code == 0);
    ProcessResult scored = Run(EvalArgs(model, b, {"--critic", critic, "--search", "rerank",
                                                   "--rerank-score", "critic_score"}));
    REQUIRE(scored.exit_code == 0);
    std::vector<std::string> with = absl::StrSplit(Read(b + "/samples.jsonl"), '\n', absl::SkipEmpty());
    REQUIRE(with.size() == lines.size());
    for (size_t i = 0; i < with.size(); ++i) {
      json s = json::parse(with[i]);
      REQUIRE(s.contains("critic_score"));
      CHECK(s["critic_score"].get<double>() >= 0.0);
      CHECK(s["critic_score"].get<double>() <= 1.0);
      // The critic only adds a score: the samples are the same.
      CHECK(s["program"] == json::parse(lines[i])["program"]);
    }
    json r = ReadJson(b + "/report.json")["rerank"];
    CHECK(r["score"] == "critic_score");
    CHECK(r["unscored"] == 0);
  }

  SECTION("--reward-model scores every sample with a trained Bradley-Terry reward model") {
    // Pairs from the eval's own judged samples: a passing program over a failing one, else
    // any two different programs (the scores only need to exist and rank).
    std::string data;
    for (size_t i = 0; i + 1 < lines.size(); i += 2) {
      const json a = json::parse(lines[i]), b = json::parse(lines[i + 1]);
      json pair = {{"prompt", "# Problem\n"}, {"chosen", a["program"]}, {"rejected", b["program"]}};
      absl::StrAppend(&data, pair.dump(-1, ' ', false, json::error_handler_t::replace), "\n");
    }
    REQUIRE(WriteFileAtomic(dir->path() + "/pairs.jsonl", data).ok());
    const std::string rm = dir->path() + "/rm";
    ProcessResult trained = Run({"learner", "offline", "--algo", "rm", "--data", dir->path() + "/pairs.jsonl",
                                 "--model", model, "--checkpoint", rm, "--steps", "2", "--batch-size", "2"});
    REQUIRE(trained.exit_code == 0);
    ProcessResult scored = Run(EvalArgs(model, b, {"--reward-model", rm, "--search", "rerank",
                                                   "--rerank-score", "reward_model_score"}));
    INFO(scored.stderr_data);
    REQUIRE(scored.exit_code == 0);
    std::vector<std::string> with = absl::StrSplit(Read(b + "/samples.jsonl"), '\n', absl::SkipEmpty());
    REQUIRE(with.size() == lines.size());
    std::set<double> distinct;
    for (size_t i = 0; i < with.size(); ++i) {
      json s = json::parse(with[i]);
      REQUIRE(s.contains("reward_model_score"));
      CHECK(std::isfinite(s["reward_model_score"].get<double>()));
      distinct.insert(s["reward_model_score"].get<double>());
      CHECK_FALSE(s.contains("critic_score"));
      CHECK(s["program"] == json::parse(lines[i])["program"]);
    }
    CHECK(distinct.size() > 1);  // a score of the program, not a constant
    json r = ReadJson(b + "/report.json")["rerank"];
    CHECK(r["score"] == "reward_model_score");
    CHECK(r["unscored"] == 0);
    // Not a reward model: a directory without a checkpoint.
    ProcessResult missing = Run(EvalArgs(model, dir->path() + "/x", {"--reward-model", dir->path() + "/none"}));
    CHECK(missing.exit_code != 0);
    CHECK(absl::StrContains(missing.stderr_data, "no reward model checkpoint"));
  }

  SECTION("bad flags and files are errors") {
    CHECK(Run({"eval", "--samples", a + "/samples.jsonl", "--search", "beam", "--out", b}).exit_code == 2);
    CHECK(Run({"eval", "--samples", a + "/samples.jsonl", "--k", "0", "--out", b}).exit_code == 2);
    CHECK(Run(EvalArgs(model, b, {"--problem-ids", "no-such-problem"})).exit_code == 2);
    REQUIRE(WriteFileAtomic(dir->path() + "/bad.jsonl", "{\"problem_id\": 3}\n").ok());
    ProcessResult bad = Run({"eval", "--samples", dir->path() + "/bad.jsonl", "--out", b});
    CHECK(bad.exit_code == 1);
    CHECK(absl::StrContains(bad.stderr_data, "bad.jsonl:1: problem_id"));
  }

  SECTION("SIGTERM stops at a call boundary, and the eval resumes") {
    std::vector<std::string> args = EvalArgs(model, b, {"--n", "16", "--max-new-tokens", "48"});
    args.insert(args.begin(), Crucible());
    SpawnOptions so;
    so.argv = args;
    absl::StatusOr<pid_t> pid = Spawn(so);
    REQUIRE(pid.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    ::kill(*pid, SIGTERM);
    absl::StatusOr<int> status = WaitForPid(*pid);
    REQUIRE(status.ok());
    REQUIRE(WIFEXITED(*status));
    CHECK((WEXITSTATUS(*status) == 130 || WEXITSTATUS(*status) == 0));
    REQUIRE(Run(EvalArgs(model, b, {"--n", "16", "--max-new-tokens", "48"})).exit_code == 0);
    std::vector<std::string> all = absl::StrSplit(Read(b + "/samples.jsonl"), '\n', absl::SkipEmpty());
    CHECK(all.size() == 48);
  }
}

}  // namespace
}  // namespace crucible
