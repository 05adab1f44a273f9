// The RL loop through the real binaries: `crucible run` starts judges, actors and learner
// ranks as processes on loopback; these tests read what it writes (cluster.json,
// metrics.jsonl, summary.json, the logs) and kill its processes the way crashes do.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/metrics.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

using nlohmann::json;

std::string Crucible() { return ExecutableDir() + "/crucible"; }

// A small, quick loop: the tiny model without a warm start (its samples are mostly
// compile errors, which is all the mechanics need), few short samples per batch.
std::string TestConfig(int learner_ranks, int steps, const std::string& extra = "") {
  return absl::StrCat(R"(run:
  seed: 7
  steps: )", steps, R"(
model:
  init_config: )", CRUCIBLE_SOURCE_DIR, R"(/data/models/tiny.json
  init_tokenizer: ""
problems:
  file: ""
  ids: [sum-two, max-of-list, count-vowels, reverse-words, fizzbuzz, palindrome]
warm_start:
  sft_steps: 0
actors:
  count: 2
  problems_per_batch: 1
  samples_per_problem: 4
  max_new_tokens: 32
  max_inflight_samples: 8
judges:
  local_count: 1
  workers: 2
learner:
  ranks: )", learner_ranks, R"(
  batch_size: 8
  checkpoint_every_steps: 2
  max_staleness_steps: 4
  incomplete_group_timeout_s: 30
  connect_timeout_s: 60
  collective_timeout_s: 60
eval:
  problems_file: ""
supervisor:
  drain_timeout_s: 40
  progress_interval_s: 1
  backoff_initial_ms: 200
)", extra);
}

struct Run {
  ScopedTempDir dir;
  std::string run_dir, log;
  pid_t pid = -1;

  std::string Path(const std::string& name) const { return run_dir + "/" + name; }
  // Lines of metrics.jsonl so far.
  std::vector<json> Metrics() const {
    std::vector<json> out;
    std::ifstream in(Path("metrics.jsonl"));
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  json Cluster() const {
    absl::StatusOr<std::string> text = ReadFile(Path("cluster.json"));
    return text.ok() ? json::parse(*text, nullptr, false) : json();
  }
  pid_t Pid(const std::string& role, int index) const {
    json c = Cluster();
    if (!c.is_object()) return -1;
    for (const json& p : c["processes"]) {
      if (p["role"] == role && p["index"] == index) return p["pid"].get<pid_t>();
    }
    return -1;
  }
  // Waits until `done` holds (true) or the timeout passes (false).
  template <typename Fn>
  bool WaitFor(Fn done, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }
  // The exit status of `crucible run` (waits at most `timeout`, then kills it: -1).
  int Wait(absl::Duration timeout) {
    int status = 0;
    const absl::Time deadline = absl::Now() + timeout;
    while (::waitpid(pid, &status, WNOHANG) != pid) {
      if (absl::Now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string Output() const { return ReadFile(log).value_or(""); }
  json Summary() const {
    absl::StatusOr<std::string> text = ReadFile(Path("summary.json"));
    return text.ok() ? json::parse(*text, nullptr, false) : json();
  }
};

Run StartRun(const std::string& config) {
  Run r;
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "rl-loop");
  REQUIRE(dir.ok());
  r.dir = *std::move(dir);
  r.run_dir = r.dir.path() + "/run";
  r.log = r.dir.path() + "/crucible-run.log";
  REQUIRE(WriteFile(r.dir.path() + "/config.yaml", config).ok());
  const int fd = ::open(r.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  SpawnOptions s;
  s.argv = {Crucible(), "run", "--run-dir=" + r.run_dir, "--config=" + r.dir.path() + "/config.yaml"};
  s.stdout_fd = fd;
  s.stderr_fd = fd;
  absl::StatusOr<pid_t> pid = Spawn(s);
  ::close(fd);
  REQUIRE(pid.ok());
  r.pid = *pid;
  return r;
}

bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// Every process the run ever listed is gone.
void CheckNoProcessLeft(const Run& r) {
  json c = r.Cluster();
  REQUIRE(c.is_object());
  for (const json& p : c["processes"]) {
    const pid_t pid = p["pid"].get<pid_t>();
    INFO(p.dump());
    CHECK(!Alive(pid));
  }
}

void CheckBooks(const json& summary) {
  INFO(summary.dump(2));
  REQUIRE(summary.is_object());
  const json& b = summary["books"];
  REQUIRE(b.is_object());
  for (const char* key : {"produced", "trained", "dropped_stale", "dropped_incomplete", "queued", "duplicates_dropped"}) {
    REQUIRE(b.contains(key));
  }
  CHECK(b["produced"].get<int64_t>() > 0);
  CHECK(b["produced"].get<int64_t>() == b["trained"].get<int64_t>() + b["dropped_stale"].get<int64_t>() +
                                            b["dropped_incomplete"].get<int64_t>() + b["queued"].get<int64_t>());
  CHECK(summary["balanced"] == true);
}

// Versions published, in the order of the metrics lines: strictly increasing, across
// learner restarts too.
void CheckVersionsIncrease(const std::vector<json>& metrics) {
  for (size_t i = 1; i < metrics.size(); ++i) {
    INFO("line " << i << ": " << metrics[i].dump());
    CHECK(metrics[i]["policy_version"].get<int64_t>() > metrics[i - 1]["policy_version"].get<int64_t>());
  }
}

// The version each actor sampled with last (from its log's closing line).
int64_t LastActorVersion(const Run& r, int index) {
  const std::string log = ReadFile(r.Path(absl::StrCat("logs/actor-", index, ".log"))).value_or("");
  int64_t version = -1;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    const size_t at = line.find("; last version ");
    if (at == absl::string_view::npos) continue;
    absl::string_view rest = line.substr(at + std::strlen("; last version "));
    rest = rest.substr(0, rest.find(';'));
    int64_t v;
    if (absl::SimpleAtoi(rest, &v)) version = v;
  }
  return version;
}

TEST_CASE("a short run with 2 actors, 1 judge and 2 Gloo learner ranks trains and balances its books",
          "[integration][rl]") {
  Run r = StartRun(TestConfig(/*learner_ranks=*/2, /*steps=*/6));
  const int code = r.Wait(absl::Minutes(4));
  INFO(r.Output());
  REQUIRE(code == 0);
  const json summary = r.Summary();
  CheckBooks(summary);
  CHECK(summary["steps"] == 6);
  const std::vector<json> metrics = r.Metrics();
  REQUIRE(metrics.size() == 6);
  CheckVersionsIncrease(metrics);
  for (const json& m : metrics) {
    CHECK(m["trajectories"].get<int64_t>() == 8);
    CHECK(m.contains("reward_mean"));
    CHECK(m.contains("staleness_max"));
    CHECK(m["staleness_max"].get<int64_t>() <= 4);
  }
  // Every actor moved past the first version while it sampled.
  for (int a = 0; a < 2; ++a) CHECK(LastActorVersion(r, a) > 0);
  // Files of the run directory, in their stable shapes.
  const json cluster = r.Cluster();
  std::set<std::string> roles;
  for (const json& p : cluster["processes"]) {
    roles.insert(p["role"].get<std::string>());
    for (const char* key : {"role", "index", "pid", "grpc_port", "metrics_port"}) CHECK(p.contains(key));
  }
  CHECK(roles == std::set<std::string>{"judge", "actor", "learner"});
  CHECK(ReadFile(r.Path("prometheus_targets.json")).ok());
  CHECK(ReadFile(r.Path("config.yaml")).ok());
  CheckNoProcessLeft(r);
}

TEST_CASE("a judge and an actor killed mid-run are restarted, and nothing is lost or doubled",
          "[integration][rl]") {
  Run r = StartRun(TestConfig(1, 10));
  REQUIRE(r.WaitFor([&] { return r.Metrics().size() >= 2; }, absl::Minutes(2)));
  const pid_t judge = r.Pid("judge", 0), actor = r.Pid("actor", 1);
  REQUIRE(Alive(judge));
  REQUIRE(Alive(actor));
  ::kill(judge, SIGKILL);
  ::kill(actor, SIGKILL);
  const int code = r.Wait(absl::Minutes(4));
  INFO(r.Output());
  REQUIRE(code == 0);
  const json summary = r.Summary();
  CheckBooks(summary);
  CHECK(summary["steps"] == 10);
  CHECK(summary["restarts"]["judge"].get<int>() >= 1);
  CHECK(summary["restarts"]["actor"].get<int>() >= 1);
  // The restarted actor picked up the learner's current version, not the first one.
  CHECK(LastActorVersion(r, 1) > 2);
  CheckVersionsIncrease(r.Metrics());
  CheckNoProcessLeft(r);
}

TEST_CASE("a killed learner resumes from its checkpoint, versions keep increasing, the books balance",
          "[integration][rl]") {
  Run r = StartRun(TestConfig(1, 10));
  REQUIRE(r.WaitFor([&] { return r.Metrics().size() >= 5; }, absl::Minutes(2)));
  const pid_t learner = r.Pid("learner", 0);
  REQUIRE(Alive(learner));
  ::kill(learner, SIGKILL);
  const int code = r.Wait(absl::Minutes(4));
  INFO(r.Output());
  REQUIRE(code == 0);
  const json summary = r.Summary();
  CheckBooks(summary);
  CHECK(summary["steps"] == 10);
  CHECK(summary["restarts"]["learner"].get<int>() >= 1);
  const std::vector<json> metrics = r.Metrics();
  CheckVersionsIncrease(metrics);
  // Steps after the restart repeat from the checkpoint (every 2 steps), so there are more
  // lines than steps, and some step number appears twice.
  CHECK(metrics.size() > 10);
  CheckNoProcessLeft(r);
}

TEST_CASE("SIGTERM to crucible run stops everything cleanly, with a checkpoint", "[integration][rl]") {
  Run r = StartRun(TestConfig(/*learner_ranks=*/2, 1000));
  REQUIRE(r.WaitFor([&] { return r.Metrics().size() >= 2; }, absl::Minutes(2)));
  // Every learner rank serves /metrics: rank 0 the run's totals and its own share, rank 1
  // only its share, so sums over the run's learner series count each step once.
  int learners = 0;
  const json cluster = r.Cluster();
  for (const json& p : cluster["processes"]) {
    if (p["role"] != "learner") continue;
    ++learners;
    const int rank = p["index"].get<int>();
    const int port = p["metrics_port"].get<int>();
    INFO("learner rank " << rank << ", metrics port " << port);
    REQUIRE(port > 0);
    // Retried: one scrape of a busy 2-core machine may time out.
    std::string text;
    CHECK(r.WaitFor([&] {
      text = ScrapeMetrics("127.0.0.1", port);
      return absl::StrContains(text, "crucible_learner_rank_steps_total");
    }, absl::Seconds(30)));
    CHECK(absl::StrContains(text, absl::StrCat("crucible_learner_rank_steps_total{rank=\"", rank, "\"}")));
    CHECK(MetricSum(text, "crucible_learner_rank_steps_total") >= 1);
    CHECK(MetricSum(text, "crucible_learner_rank_examples_total") >= 8);
    CHECK(absl::StrContains(text, "crucible_learner_rank_step_seconds_count"));
    CHECK(absl::StrContains(text, "crucible_learner_steps_total") == (rank == 0));
  }
  CHECK(learners == 2);
  ::kill(r.pid, SIGTERM);
  const int code = r.Wait(absl::Minutes(2));
  INFO(r.Output());
  CHECK(code == 128 + SIGTERM);
  const json summary = r.Summary();
  CheckBooks(summary);
  CHECK(summary["steps"].get<int64_t>() >= 2);
  CHECK(summary["steps"].get<int64_t>() < 1000);
  // The learner checkpointed the step it stopped at.
  const std::string step_dir =
      r.Path(absl::StrFormat("checkpoints/step-%08d", summary["steps"].get<int64_t>()));
  CHECK(ReadFile(step_dir + "/state.json").ok());
  CHECK(ReadFile(step_dir + "/online.json").ok());
  CheckNoProcessLeft(r);
}

// PPO with a learned reward model (IotaCode's SFT + PPO + RM): a Bradley-Terry model trained
// offline on the same base scores every trajectory, on two ranks that each score their share.
TEST_CASE("PPO trains on a reward model's scores, and verdicts stay in the metrics", "[integration][rl]") {
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "rl-rm");
  REQUIRE(dir.ok());
  const std::string base = dir->path() + "/base", rm = dir->path() + "/rm", pairs = dir->path() + "/pairs.jsonl";
  absl::StatusOr<ProcessResult> init =
      RunProcess({Crucible(), "model", "init", "--config", absl::StrCat(CRUCIBLE_SOURCE_DIR, "/data/models/tiny.json"),
                  "--out", base, "--seed", "7"},
                 "", std::chrono::minutes(1));
  REQUIRE(init.ok());
  REQUIRE(init->exit_code == 0);
  std::string data;
  for (int i = 0; i < 8; ++i) {
    absl::StrAppend(&data, json{{"prompt", absl::StrCat("# Problem ", i, "\n")},
                                {"chosen", "print(sum(map(int, input().split())))\n"},
                                {"rejected", absl::StrCat("print(", i, ")\n")}}.dump(), "\n");
  }
  REQUIRE(WriteFile(pairs, data).ok());
  absl::StatusOr<ProcessResult> trained =
      RunProcess({Crucible(), "learner", "offline", "--algo", "rm", "--data", pairs, "--model", base, "--checkpoint",
                  rm, "--steps", "3", "--batch-size", "4", "--lora-rank", "4"},
                 "", std::chrono::minutes(2));
  REQUIRE(trained.ok());
  INFO(trained->stderr_data);
  REQUIRE(trained->exit_code == 0);

  const std::string config = absl::StrReplaceAll(
      TestConfig(/*learner_ranks=*/2, /*steps=*/3),
      {{"  init_tokenizer: \"\"\n", absl::StrCat("  init_tokenizer: \"\"\n  path: ", base, "\n")},
       {"learner:\n", absl::StrCat("learner:\n  reward_model: ", rm, "\n")}});
  Run r = StartRun(config);
  const int code = r.Wait(absl::Minutes(4));
  INFO(r.Output());
  REQUIRE(code == 0);
  CheckBooks(r.Summary());
  const std::vector<json> metrics = r.Metrics();
  REQUIRE(metrics.size() == 3);
  for (const json& m : metrics) {
    INFO(m.dump());
    REQUIRE(m.contains("rm_reward_mean"));
    CHECK(std::isfinite(m["rm_reward_mean"].get<double>()));
    CHECK(m["rm_reward_mean"].get<double>() != 0.0);
    CHECK(m.contains("reward_mean"));  // the verdicts' mean, as without a reward model
    CHECK(m.contains("pass_rate"));
  }
  CheckNoProcessLeft(r);


  // A reward model is for ppo, and must exist.
  Run rest = StartRun(absl::StrReplaceAll(config, {{"learner:\n", "learner:\n  algorithm: rest\n"}}));
  CHECK(rest.Wait(absl::Minutes(2)) != 0);
  CHECK(absl::StrContains(ReadFile(rest.Path("logs/learner-0.log")).value_or(""), "a reward model is for ppo"));
  Run missing = StartRun(absl::StrReplaceAll(config, {{rm, dir->path() + "/no-such-rm"}}));
  CHECK(missing.Wait(absl::Minutes(2)) != 0);
  CHECK(absl::StrContains(ReadFile(missing.Path("logs/learner-0.log")).value_or(""), "no reward model checkpoint"));
}

// Eight single-stage integer problems of the curriculum's training split ("add 5, print the
// result"), one per kind, in file order.
std::vector<std::string> LearnableProblems() {
  std::vector<std::string> ids;
  std::set<std::string> kinds;
  std::ifstream in(absl::StrCat(CRUCIBLE_SOURCE_DIR, "/data/curriculum/train.jsonl"));
  for (std::string line; std::getline(in, line) && ids.size() < 8;) {
    const json p = json::parse(line);
    const std::string id = p["id"];
    const std::string kind = id.substr(0, id.rfind('/'));
    if (p["difficulty"] == "level1" && absl::StartsWith(id, "cur/train/int-") && absl::EndsWith(kind, "-print") &&
        kinds.insert(kind).second) {
      ids.push_back(id);
    }
  }
  return ids;
}

// Learning, not mechanics: the default model, tokenizer and algorithm. A short warm start
// on the whole curriculum gives a base that rarely solves anything; RL then trains on eight
// problems from it. The pass rate of the last 50 steps must exceed that of the first 50 by
// more than 2.5 standard errors of the difference (per-step pass rates as the samples;
// Welch's t > 2.5 is a one-sided chance under 1% if nothing were learnt). Measured here:
// 0.034 -> 0.087, t = 3.9. The deadlines only catch a hang: the run takes about 6 minutes
// alone, and the warm start alone has taken over 6 beside the rest of the suite on 2 cores.
TEST_CASE("the RL loop learns: the pass rate rises over the run on the training problems",
          "[integration][rl][learning][slow]") {
  Run warm = StartRun(R"(run:
  seed: 3
  steps: 1
warm_start:
  sft_steps: 400
eval:
  problems_file: ""
)");
  REQUIRE(warm.Wait(absl::Minutes(13)) == 0);
  const std::vector<std::string> ids = LearnableProblems();
  REQUIRE(ids.size() == 8);
  Run r = StartRun(absl::StrCat(R"(run:
  seed: 3
  steps: 200
model:
  path: )", warm.Path("base"), R"(
problems:
  ids: [)", absl::StrJoin(ids, ", "), R"(]
warm_start:
  sft_steps: 0
eval:
  problems_file: ""
supervisor:
  progress_interval_s: 5
)"));
  REQUIRE(r.Wait(absl::Minutes(15)) == 0);
  INFO(r.Output());
  const std::vector<json> metrics = r.Metrics();
  REQUIRE(metrics.size() == 200);
  auto stats = [&](size_t begin, size_t end) {
    double sum = 0, sq = 0;
    for (size_t i = begin; i < end; ++i) {
      const double v = metrics[i]["pass_rate"].get<double>();
      sum += v;
      sq += v * v;
    }
    const double n = static_cast<double>(end - begin), mean = sum / n;
    return std::pair<double, double>{mean, (sq - n * mean * mean) / (n - 1) / n};  // mean, variance of the mean
  };
  const auto [first, first_var] = stats(0, 50);
  const auto [last, last_var] = stats(150, 200);
  const double t = (last - first) / std::sqrt(first_var + last_var + 1e-12);
  INFO("pass rate: first 50 steps " << first << ", last 50 steps " << last << ", Welch t " << t);
  CHECK(last > first);
  CHECK(t > 2.5);
}

}  // namespace
}  // namespace crucible
