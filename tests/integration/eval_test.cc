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
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
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

// Critic sampling end to end: a problem without public tests (every program passes them
// vacuously, so it is refined) and one whose public tests the random model never passes
// (so it is repaired), with a critic and a repair adapter trained for two steps each.
TEST_CASE("crucible eval --search critic refines and repairs through the real judge", "[eval][integration]") {
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "critic-search-test");
  REQUIRE(dir.ok());
  const std::string root = dir->path(), model = root + "/tiny", problems = root + "/problems.jsonl";
  REQUIRE(Run({"model", "init", "--config", std::string(CRUCIBLE_SOURCE_DIR) + "/data/models/tiny.json", "--out",
               model, "--seed", "0"})
              .exit_code == 0);
  std::string chosen;
  for (absl::string_view line :
       absl::StrSplit(Read(std::string(CRUCIBLE_SOURCE_DIR) + "/data/problems.jsonl"), '\n', absl::SkipEmpty())) {
    json p = json::parse(line);
    if (p["id"] == "sum-two") p.erase("public_tests");
    if (p["id"] == "sum-two" || p["id"] == "fizzbuzz") absl::StrAppend(&chosen, p.dump(), "\n");
  }
  REQUIRE(WriteFileAtomic(problems, chosen).ok());
  auto args = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"eval", "--model", model, "--problems", problems, "--n", "4", "--k", "1,2",
                                  "--n-submit", "1", "--max-new-tokens", "24", "--batch", "4",
                                  "--judge-workers", "2", "--seed", "5", "--out", out};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };

  // The first round, a critic and a repair model trained on it.
  REQUIRE(Run(args(root + "/first", {})).exit_code == 0);
  std::string critic_data;
  for (absl::string_view line : absl::StrSplit(Read(root + "/first/samples.jsonl"), '\n', absl::SkipEmpty())) {
    json s = json::parse(line);
    json example = {{"prompt", "# Problem\n"}, {"completion", s["program"]}, {"outcome", s["verdict"]}};
    absl::StrAppend(&critic_data, example.dump(-1, ' ', false, json::error_handler_t::replace), "\n");
  }
  REQUIRE(WriteFileAtomic(root + "/critic.jsonl", critic_data).ok());
  REQUIRE(Run({"learner", "offline", "--algo", "critic", "--data", root + "/critic.jsonl", "--model", model,
               "--checkpoint", root + "/critic", "--steps", "2", "--batch-size", "4"})
              .exit_code == 0);
  ProcessResult pairs = Run({"data", "repair-pairs", "--samples", root + "/first/samples.jsonl", "--problems",
                             problems, "--model", model, "--out", root + "/repair.jsonl"});
  REQUIRE(pairs.exit_code == 0);
  CHECK(absl::StrContains(pairs.stdout_data, "repair examples"));
  {
    std::vector<std::string> lines = absl::StrSplit(Read(root + "/repair.jsonl"), '\n', absl::SkipEmpty());
    REQUIRE(!lines.empty());
    for (const std::string& line : lines) {
      json e = json::parse(line);
      CHECK(absl::StrContains(e["prompt"].get<std::string>(), "# Verdict: "));
      CHECK(absl::StrContains(e["prompt"].get<std::string>(), "# Fixed solution\n"));
      CHECK(e["completion_tokens"].size() > 1);
    }
  }
  REQUIRE(Run({"learner", "offline", "--algo", "sft", "--data", root + "/repair.jsonl", "--model", model,
               "--checkpoint", root + "/repair", "--steps", "2", "--batch-size", "2"})
              .exit_code == 0);
  const std::vector<std::string> search = {"--search", "critic", "--critic", root + "/critic",
                                           "--repair-adapter", root + "/repair/step-00000002/adapter"};

  ProcessResult cs = Run(args(root + "/a", search));
  REQUIRE(cs.exit_code == 0);
  CHECK(absl::StrContains(cs.stdout_data, "Critic sampling"));
  // The first round is the plain eval's, scored by the critic.
  {
    std::vector<std::string> plain = absl::StrSplit(Read(root + "/first/samples.jsonl"), '\n', absl::SkipEmpty());
    std::vector<std::string> scored = absl::StrSplit(Read(root + "/a/samples.jsonl"), '\n', absl::SkipEmpty());
    REQUIRE(scored.size() == plain.size());
    for (size_t i = 0; i < plain.size(); ++i) {
      const json a = json::parse(scored[i]);
      CHECK(a["program"] == json::parse(plain[i])["program"]);
      if (!a["program"].get<std::string>().empty()) {
        REQUIRE(a.contains("critic_score"));
        CHECK(a["critic_score"].get<double>() >= 0.0);
        CHECK(a["critic_score"].get<double>() <= 1.0);
      }
    }
  }
  const std::string final_samples = Read(root + "/a/critic_samples.jsonl");
  std::vector<std::string> lines = absl::StrSplit(final_samples, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 8);
  std::map<std::string, std::set<std::string>> stages;
  for (const std::string& line : lines) {
    json s = json::parse(line);
    CHECK(s["search"] == "critic");
    stages[s["problem_id"].get<std::string>()].insert(s["stage"].get<std::string>());
  }
  CHECK(stages["sum-two"] == std::set<std::string>{"refine"});
  CHECK((stages["fizzbuzz"] == std::set<std::string>{"repair"} ||
         stages["fizzbuzz"] == std::set<std::string>{"repair_refine"}));
  std::vector<std::string> refine = absl::StrSplit(Read(root + "/a/search/refine.jsonl"), '\n', absl::SkipEmpty());
  REQUIRE(refine.size() == 4);
  {
    // Each refined program continues its seed: with the byte tokenizer, the first
    // seed_tokens bytes of the program it was cut from (sum-two has no starter code).
    std::map<int64_t, std::string> first_round;
    for (absl::string_view line : absl::StrSplit(Read(root + "/a/samples.jsonl"), '\n', absl::SkipEmpty())) {
      json s = json::parse(line);
      if (s["problem_id"] == "sum-two") first_round[s["sample"].get<int64_t>()] = s["program"];
    }
    for (const std::string& line : refine) {
      json s = json::parse(line);
      REQUIRE(first_round.count(s["seed_sample"].get<int64_t>()) == 1);
      const std::string& source = first_round[s["seed_sample"].get<int64_t>()];
      const size_t seed = s["seed_tokens"].get<size_t>();
      REQUIRE(seed <= source.size());
      // A seed may end inside a UTF-8 character, which the samples file writes as U+FFFD.
      size_t whole = seed;
      while (whole > 0 && whole < source.size() && (static_cast<unsigned char>(source[whole]) & 0xC0) == 0x80) --whole;
      INFO("seed " << seed << " of " << source);
      CHECK(absl::StartsWith(s["program"].get<std::string>(),
                             absl::StripTrailingAsciiWhitespace(source.substr(0, whole))));
      CHECK(s["tokens"].get<int64_t>() + static_cast<int64_t>(seed) <= 24);  // one budget with the seed
    }
  }
  std::vector<std::string> repaired = absl::StrSplit(Read(root + "/a/search/repair.jsonl"), '\n', absl::SkipEmpty());
  CHECK(repaired.size() == 4);
  json r = ReadJson(root + "/a/report.json")["critic_sampling"];
  CHECK(r["problems"]["refined"] == 1);
  CHECK(r["problems"]["repaired"].get<int>() + r["problems"]["repaired_then_refined"].get<int>() == 1);
  CHECK(r["programs_generated"]["refine"] == 4);
  CHECK(r["programs_generated"]["repair"] == 4);
  CHECK(r["without"]["pass@1"].is_number());
  CHECK(r["with"]["pass@1"].is_number());
  CHECK(r["with"]["n"].get<int>() == 8);
  // The final samples' report is what --samples recomputes.
  REQUIRE(Run({"eval", "--samples", root + "/a/critic_samples.jsonl", "--k", "1,2", "--n-submit", "1", "--out",
               root + "/recomputed"})
              .exit_code == 0);
  CHECK(ReadJson(root + "/recomputed/report.json")["overall"]["pass@1"] == r["with"]["pass@1"]);

  SECTION("deterministic for a seed") {
    REQUIRE(Run(args(root + "/b", search)).exit_code == 0);
    CHECK(Read(root + "/b/critic_samples.jsonl") == final_samples);
    for (const char* stage : {"refine", "repair", "repair_refine"}) {
      INFO(stage);
      CHECK(Read(absl::StrCat(root, "/b/search/", stage, ".jsonl")) ==
            Read(absl::StrCat(root, "/a/search/", stage, ".jsonl")));
    }
    CHECK(ReadJson(root + "/b/report.json")["critic_sampling"] == r);
  }

  SECTION("a killed search resumes to the same samples") {
    // Stages cut off mid-line, as a kill leaves them, and the final file never written.
    const std::string refine_all = Read(root + "/a/search/refine.jsonl");
    const std::string repair_all = Read(root + "/a/search/repair.jsonl");
    REQUIRE(WriteFileAtomic(root + "/a/search/refine.jsonl",
                            refine[0] + "\n" + refine[1].substr(0, refine[1].size() / 2)).ok());
    REQUIRE(WriteFileAtomic(root + "/a/search/repair.jsonl", repaired[2] + "\n" + repaired[0]).ok());
    REQUIRE(::unlink((root + "/a/critic_samples.jsonl").c_str()) == 0);
    REQUIRE(Run(args(root + "/a", search)).exit_code == 0);
    CHECK(Read(root + "/a/critic_samples.jsonl") == final_samples);
    CHECK(Read(root + "/a/search/refine.jsonl") == refine_all);
    CHECK(Read(root + "/a/search/repair.jsonl") == repair_all);
  }

  SECTION("other search options in the same directory are refused") {
    ProcessResult other = Run(args(root + "/a", {"--search", "critic", "--critic", root + "/critic"}));
    CHECK(other.exit_code == 2);
    CHECK(absl::StrContains(other.stderr_data, "repair_adapter"));
  }

  SECTION("bad search options are errors") {
    ProcessResult no_critic = Run(args(root + "/x", {"--search", "critic"}));
    CHECK(no_critic.exit_code == 2);
    CHECK(absl::StrContains(no_critic.stderr_data, "--critic"));
    CHECK(Run(args(root + "/x", {"--repair-adapter", root + "/repair/step-00000002/adapter"})).exit_code == 2);
    CHECK(Run(args(root + "/x", {"--search", "critic", "--critic", root + "/critic", "--repair-top-m", "0"}))
              .exit_code == 2);
    ProcessResult recompute = Run({"eval", "--samples", root + "/a/samples.jsonl", "--search", "critic", "--critic",
                                   root + "/critic", "--out", root + "/x"});
    CHECK(recompute.exit_code == 2);
    CHECK(absl::StrContains(recompute.stderr_data, "critic_samples.jsonl"));
  }
}

}  // namespace
}  // namespace crucible
