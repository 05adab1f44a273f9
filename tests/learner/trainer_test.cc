// The learner end to end, through the real `crucible learner offline` binary: bit-identical
// resume (after --stop-after and after SIGTERM), two Gloo ranks equal to one rank, keep-K
// checkpoints with a loadable PEFT adapter, and bad input. Plus the data format and order.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/model/model_cli.h"
#include "common/model/safetensors.h"
#include "common/subprocess.h"
#include "common/tokenizer.h"
#include "learner/data.h"
#include "learner/objectives.h"
#include "learner/train_checkpoint.h"
#include "nlohmann/json.hpp"
#include "tests/learner/launch.h"

namespace crucible::learner {
namespace {

using nlohmann::json;

std::vector<std::string> ListDirectory(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    closedir(d);
  }
  return out;
}

std::string Crucible() { return ExecutableDir() + "/crucible"; }

// A tiny model and data files in a temporary directory, shared by the tests of a process.
struct Workspace {
  ScopedTempDir dir;
  std::string model, trajectories, preferences;
  Workspace() {
    auto d = ScopedTempDir::Create(TempRoot(), "learner");
    REQUIRE(d.ok());
    dir = *std::move(d);
    model = dir.path() + "/tiny";
    auto init = RunProcess({Crucible(), "model", "init", "--config", std::string(CRUCIBLE_SOURCE_DIR) + "/data/models/tiny.json",
                            "--out", model, "--seed", "7"},
                           "", std::chrono::minutes(1));
    REQUIRE(init.ok());
    REQUIRE(init->exit_code == 0);
    // Trajectories with behaviour log-probs (so the PPO ratio and KL are not trivial),
    // verdict outcomes, groups and a reference solution.
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> lp(-4.0f, -0.5f);
    const char* outcomes[] = {"passed", "failed_test", "runtime_error", "compile_error"};
    trajectories = dir.path() + "/trajectories.jsonl";
    std::ofstream t(trajectories);
    for (int i = 0; i < 24; ++i) {
      const std::string completion = absl::StrCat(" return x", std::string(i % 6, '+'), i % 3 ? "1" : "2", "\n");
      json j = {{"prompt", absl::StrCat("def f", i % 5, "(x):\n")}, {"completion", completion},
                {"reward", i % 4 == 0 ? 1.0 : (i % 4 == 1 ? -0.3 : -0.6)}, {"outcome", outcomes[i % 4]},
                {"group_id", absl::StrCat("p", i % 5)}, {"baseline_reward", -0.3}};
      std::vector<float> lps;
      for (size_t k = 0; k < completion.size(); ++k) lps.push_back(lp(rng));  // bytes tokenizer: 1 token per byte
      j["behaviour_logprobs"] = lps;
      t << j.dump() << "\n";
    }
    preferences = dir.path() + "/preferences.jsonl";
    std::ofstream p(preferences);
    for (int i = 0; i < 12; ++i) {
      p << json{{"prompt", absl::StrCat("def g", i, "(x):\n")}, {"chosen", " return 2 * x\n"},
                {"rejected", absl::StrCat(" return x", std::string(i % 4 + 1, '-'), "\n")}}
               .dump()
        << "\n";
    }
  }
};

Workspace& Shared() {
  static Workspace* w = new Workspace();
  return *w;
}

std::vector<std::string> Offline(const std::string& algo, const std::string& data, const std::string& checkpoint,
                                 std::vector<std::string> extra) {
  std::vector<std::string> argv = {Crucible(), "learner", "offline", "--algo", algo, "--data", data, "--model",
                                   Shared().model, "--checkpoint", checkpoint, "--json", "--lora-rank", "4",
                                   "--lora-alpha", "8", "--lr", "3e-3", "--seed", "5", "--batch-size", "8"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

ProcessResult Run(const std::vector<std::string>& argv) {
  auto r = RunProcess(argv, "", std::chrono::minutes(3));
  REQUIRE(r.ok());
  return *std::move(r);
}

// The JSON loss lines by step.
std::map<int64_t, json> Lines(const std::string& out) {
  std::map<int64_t, json> lines;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    json j = json::parse(line, nullptr, false);
    REQUIRE(!j.is_discarded());
    lines[j["step"].get<int64_t>()] = j;
  }
  return lines;
}

std::map<std::string, torch::Tensor> StateTensors(const std::string& step_dir, const std::string& prefix) {
  auto file = model::SafetensorsFile::Open(step_dir + "/state.safetensors");
  REQUIRE(file.ok());
  std::map<std::string, torch::Tensor> out;
  for (const std::string& name : (*file)->names()) {
    if (!absl::StartsWith(name, prefix)) continue;
    auto t = (*file)->Get(name);
    REQUIRE(t.ok());
    out[name] = t->clone();
  }
  return out;
}

TEST_CASE("resume: stopped after step 10, steps 11..20 are bit-identical to an uninterrupted run", "[learner][slow]") {
  Workspace& w = Shared();
  for (const std::string algo : {"ppo", "dpo"}) {
    INFO(algo);
    const std::string data = algo == "dpo" ? w.preferences : w.trajectories;
    const std::string a = w.dir.path() + "/resume-a-" + algo, b = w.dir.path() + "/resume-b-" + algo;
    // Adaptive KL and a warm-up + cosine schedule: every piece of state matters.
    const std::vector<std::string> flags = {"--steps", "20", "--save-every", "5", "--kl-target", "0.5",
                                            "--warmup-steps", "3", "--entropy-coef", "0.01"};
    ProcessResult whole = Run(Offline(algo, data, a, flags));
    INFO(whole.stderr_data);
    REQUIRE(whole.exit_code == 0);
    std::vector<std::string> first = flags;
    first.insert(first.end(), {"--stop-after", "10"});
    ProcessResult part1 = Run(Offline(algo, data, b, first));
    REQUIRE(part1.exit_code == 0);
    ProcessResult part2 = Run(Offline(algo, data, b, flags));
    INFO(part2.stderr_data);
    REQUIRE(part2.exit_code == 0);
    CHECK(absl::StrContains(part2.stderr_data, "resumed from"));
    std::map<int64_t, json> expected = Lines(whole.stdout_data), resumed = Lines(part2.stdout_data);
    REQUIRE(expected.size() == 20);
    REQUIRE(resumed.size() == 10);
    for (int64_t step = 11; step <= 20; ++step) {
      INFO("step " << step);
      CHECK(resumed[step]["loss"].get<double>() == expected[step]["loss"].get<double>());  // bit-identical
      CHECK(resumed[step]["grad_norm"].get<double>() == expected[step]["grad_norm"].get<double>());
      CHECK(resumed[step]["lr"].get<double>() == expected[step]["lr"].get<double>());
    }
    // The loss moved (a run that learns nothing would also "resume" exactly).
    CHECK(expected[1]["loss"].get<double>() != expected[20]["loss"].get<double>());
    auto ta = StateTensors(a + "/step-00000020", ""), tb = StateTensors(b + "/step-00000020", "");
    REQUIRE(ta.size() == tb.size());
    for (auto& [name, t] : ta) {
      INFO(name);
      if (name == "rng.cpu") continue;
      CHECK(t.equal(tb[name]));
    }
  }
}

TEST_CASE("SIGTERM: checkpoint at the step reached, exit 143, resume continues the same run", "[learner][slow]") {
  Workspace& w = Shared();
  const std::string a = w.dir.path() + "/term-a", b = w.dir.path() + "/term-b";
  const std::vector<std::string> flags = {"--steps", "100000", "--save-every", "0"};
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  SpawnOptions spawn;
  spawn.argv = Offline("sft", w.trajectories, b, flags);
  spawn.stdout_fd = out[1];
  auto pid = Spawn(spawn);
  REQUIRE(pid.ok());
  close(out[1]);
  std::string text;
  char buf[4096];
  // Wait for a few steps, then stop it the way a scheduler does.
  while (std::count(text.begin(), text.end(), '\n') < 3) {
    const ssize_t n = read(out[0], buf, sizeof(buf));
    REQUIRE(n > 0);
    text.append(buf, n);
  }
  kill(*pid, SIGTERM);
  for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;) text.append(buf, n);
  close(out[0]);
  auto status = WaitForPid(*pid);
  REQUIRE(status.ok());
  REQUIRE(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 143);
  std::map<int64_t, json> before = Lines(text);
  const int64_t last = before.rbegin()->first;
  INFO("stopped at step " << last);
  CHECK(access((b + "/" + absl::StrCat("step-", std::string(8 - std::to_string(last).size(), '0'), last)).c_str(),
               F_OK) == 0);

  std::vector<std::string> resume = flags;
  resume.insert(resume.end(), {"--stop-after", "3"});
  ProcessResult after = Run(Offline("sft", w.trajectories, b, resume));
  REQUIRE(after.exit_code == 0);
  std::vector<std::string> straight = flags;
  straight.insert(straight.end(), {"--stop-after", std::to_string(last + 3)});
  ProcessResult whole = Run(Offline("sft", w.trajectories, a, straight));
  REQUIRE(whole.exit_code == 0);
  std::map<int64_t, json> expected = Lines(whole.stdout_data), resumed = Lines(after.stdout_data);
  REQUIRE(resumed.size() == 3);
  for (auto& [step, line] : resumed) {
    INFO("step " << step);
    CHECK(line["loss"].get<double>() == expected[step]["loss"].get<double>());
  }
}

TEST_CASE("data parallel: two Gloo ranks on halves of each batch equal one rank on all of it", "[learner][slow]") {
  Workspace& w = Shared();
  for (const std::string algo : {"ppo", "dpo", "critic"}) {
    INFO(algo);
    const std::string data = algo == "dpo" ? w.preferences : w.trajectories;
    const std::string one = w.dir.path() + "/dp1-" + algo, two = w.dir.path() + "/dp2-" + algo;
    // A small token budget: both runs split into several micro-batches, differently.
    const std::vector<std::string> flags = {"--steps", "4", "--max-batch-tokens", "64"};
    ProcessResult single = Run(Offline(algo, data, one, flags));
    INFO(single.stderr_data);
    REQUIRE(single.exit_code == 0);
    std::vector<std::string> gloo = flags;
    gloo.insert(gloo.end(), {"--backend", "gloo"});
    std::vector<ProcessResult> ranks = testing::LaunchRanks(Offline(algo, data, two, gloo), 2);
    for (const ProcessResult& r : ranks) {
      INFO(r.stderr_data);
      REQUIRE(r.exit_code == 0);
    }
    CHECK(ranks[1].stdout_data.empty());  // only rank 0 reports
    std::map<int64_t, json> a = Lines(single.stdout_data), b = Lines(ranks[0].stdout_data);
    REQUIRE(a.size() == 4);
    REQUIRE(b.size() == 4);
    for (int64_t step = 1; step <= 4; ++step) {
      INFO("step " << step);
      CHECK(b[step]["loss"].get<double>() == Approx(a[step]["loss"].get<double>()).epsilon(1e-4).margin(1e-6));
      CHECK(b[step]["grad_norm"].get<double>() == Approx(a[step]["grad_norm"].get<double>()).epsilon(1e-4));
    }
    auto ta = StateTensors(one + "/step-00000004", ""), tb = StateTensors(two + "/step-00000004", "");
    int compared = 0;
    double worst_element = 0, worst_relative = 0;
    for (auto& [name, t] : ta) {
      if (absl::StartsWith(name, "rng.")) continue;
      INFO(name);
      REQUIRE(tb.count(name) == 1);
      // Float summation order differs between the runs, and Adam's m / sqrt(v) magnifies it
      // for elements whose gradient is ~0; so: each element within a small fraction of one
      // step's size (lr), and the tensor as a whole within 1e-3 relative.
      const double worst = (t - tb[name]).abs().max().item<double>();
      const double relative = (t - tb[name]).norm().item<double>() / std::max(1e-12, t.norm().item<double>());
      worst_element = std::max(worst_element, worst);
      worst_relative = std::max(worst_relative, relative);
      CHECK(worst <= 0.05 * 3e-3);
      CHECK(relative <= 1e-3);
      ++compared;
    }
    CHECK(compared > 10);
    std::printf("%s: 2 ranks vs 1: max |diff| %.3g, max relative norm %.3g\n", algo.c_str(), worst_element, worst_relative);
  }
}

// Reads lines from fd until `lines` newlines arrived (or EOF); returns what was read.
std::string ReadLines(int fd, int lines) {
  std::string text;
  char buf[4096];
  while (std::count(text.begin(), text.end(), '\n') < lines) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    text.append(buf, n);
  }
  return text;
}

TEST_CASE("data parallel: batches that repeat an example (larger than the data) shard exactly", "[learner][slow]") {
  Workspace& w = Shared();
  const std::string few = w.dir.path() + "/five.jsonl";
  {
    std::ifstream in(w.trajectories);
    std::ofstream out(few);
    std::string line;
    for (int i = 0; i < 5 && std::getline(in, line); ++i) out << line << "\n";
  }
  // Batch 8 over 5 examples: every batch holds some example twice, on one rank or on both.
  const std::vector<std::string> flags = {"--steps", "3", "--kl-coef", "0.2"};
  ProcessResult single = Run(Offline("ppo", few, w.dir.path() + "/dup1", flags));
  INFO(single.stderr_data);
  REQUIRE(single.exit_code == 0);
  std::vector<std::string> gloo = flags;
  gloo.insert(gloo.end(), {"--backend", "gloo"});
  std::vector<ProcessResult> ranks = testing::LaunchRanks(Offline("ppo", few, w.dir.path() + "/dup2", gloo), 2);
  for (const ProcessResult& r : ranks) {
    INFO(r.stderr_data);
    REQUIRE(r.exit_code == 0);
  }
  std::map<int64_t, json> a = Lines(single.stdout_data), b = Lines(ranks[0].stdout_data);
  REQUIRE(b.size() == 3);
  for (int64_t step = 1; step <= 3; ++step) {
    INFO("step " << step);
    for (const char* key : {"loss", "value", "kl", "grad_norm"}) {
      INFO(key);
      CHECK(b[step][key].get<double>() == Approx(a[step][key].get<double>()).epsilon(1e-4).margin(1e-7));
    }
  }
}

TEST_CASE("data parallel under Slurm's variables only: same result as torchrun's", "[learner][slow]") {
  Workspace& w = Shared();
  // srun sets SLURM_PROCID / SLURM_NTASKS / SLURM_JOB_NODELIST / SLURM_JOB_ID; the port is
  // 20000 + job id % 20000, so pick a job id whose port is free.
  int job = -1;
  for (int attempt = 0; attempt < 500 && job < 0; ++attempt) {
    const int port = testing::FreePort();
    if (port >= 20000 && port < 40000) job = port - 20000;
  }
  if (job < 0) {
    std::printf("SKIPPED: no free port in [20000, 40000)\n");
    std::exit(77);
  }
  const std::vector<std::string> flags = {"--steps", "2", "--backend", "gloo"};
  std::vector<std::string> argv = Offline("sft", w.trajectories, w.dir.path() + "/slurm", flags);
  std::vector<ProcessResult> results(2);
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      std::vector<std::string> env;
      for (const std::string& e : testing::RankEnvironment(r, 2, 0)) {
        if (!absl::StartsWith(e, "RANK=") && !absl::StartsWith(e, "WORLD_SIZE=") && !absl::StartsWith(e, "LOCAL_") &&
            !absl::StartsWith(e, "MASTER_")) {
          env.push_back(e);
        }
      }
      env.insert(env.end(), {absl::StrCat("SLURM_PROCID=", r), "SLURM_NTASKS=2", absl::StrCat("SLURM_LOCALID=", r),
                             "SLURM_NTASKS_PER_NODE=2", "SLURM_JOB_NODELIST=localhost",
                             absl::StrCat("SLURM_JOB_ID=", job)});
      auto result = RunProcess(argv, "", std::chrono::minutes(2), env);
      if (result.ok()) results[r] = *std::move(result);
    });
  }
  for (std::thread& t : ranks) t.join();
  for (const ProcessResult& r : results) {
    INFO(r.stderr_data);
    REQUIRE(r.exit_code == 0);
  }
  CHECK(absl::StrContains(results[0].stderr_data, "2 rank(s) (gloo)"));
  ProcessResult single = Run(Offline("sft", w.trajectories, w.dir.path() + "/slurm-one", {"--steps", "2"}));
  REQUIRE(single.exit_code == 0);
  std::map<int64_t, json> a = Lines(single.stdout_data), b = Lines(results[0].stdout_data);
  REQUIRE(b.size() == 2);
  for (int64_t step : {1, 2}) {
    CHECK(b[step]["loss"].get<double>() == Approx(a[step]["loss"].get<double>()).epsilon(1e-4));
  }
}

TEST_CASE("data parallel: a rank killed mid-run makes the other fail fast, not hang", "[learner][slow]") {
  Workspace& w = Shared();
  const int port = testing::FreePort();
  std::vector<std::string> argv = Offline("sft", w.trajectories, w.dir.path() + "/killed",
                                          {"--steps", "100000", "--save-every", "0", "--backend", "gloo",
                                           "--collective-timeout-s", "20"});
  int out[2], err[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(pipe2(err, O_CLOEXEC) == 0);
  SpawnOptions leader, follower;
  leader.argv = follower.argv = argv;
  leader.env = testing::RankEnvironment(0, 2, port);
  follower.env = testing::RankEnvironment(1, 2, port);
  leader.stdout_fd = out[1];
  leader.stderr_fd = err[1];
  auto p0 = Spawn(leader);
  auto p1 = Spawn(follower);
  REQUIRE(p0.ok());
  REQUIRE(p1.ok());
  close(out[1]);
  close(err[1]);
  const std::string first = ReadLines(out[0], 3);  // three steps taken together
  REQUIRE(std::count(first.begin(), first.end(), '\n') >= 3);
  kill(*p1, SIGKILL);
  (void)WaitForPid(*p1);
  const auto killed = std::chrono::steady_clock::now();
  auto status = WaitForPid(*p0);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::string errors = ReadLines(err[0], 1000);
  close(out[0]);
  close(err[0]);
  REQUIRE(status.ok());
  INFO(errors);
  REQUIRE(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 1);
  CHECK(absl::StrContains(errors, "gloo"));
  CHECK(took < 25);  // within the collective timeout, in practice at once (connection closed)
}

TEST_CASE("data parallel: a rank that never arrives fails the rendezvous after the timeout", "[learner][slow]") {
  Workspace& w = Shared();
  std::vector<std::string> argv = Offline("sft", w.trajectories, w.dir.path() + "/alone",
                                          {"--steps", "1", "--backend", "gloo", "--connect-timeout-s", "3"});
  const auto start = std::chrono::steady_clock::now();
  auto r = RunProcess(argv, "", std::chrono::minutes(1), testing::RankEnvironment(0, 2, testing::FreePort()));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(r.ok());
  INFO(r->stderr_data);
  CHECK(r->exit_code == 1);
  CHECK(absl::StrContains(r->stderr_data, "rendezvous"));
  CHECK(took < 30);
}

TEST_CASE("checkpoints: only the newest K, no temporaries, a PEFT adapter the model loads", "[learner]") {
  Workspace& w = Shared();
  const std::string ck = w.dir.path() + "/keep";
  ProcessResult r = Run(Offline("rest", w.trajectories, ck, {"--steps", "6", "--save-every", "2", "--keep", "2",
                                                             "--rest-threshold", "0.5"}));
  INFO(r.stderr_data);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> entries = ListDirectory(ck);
  std::sort(entries.begin(), entries.end());
  CHECK(entries == std::vector<std::string>{"step-00000004", "step-00000006"});
  for (const char* f : {"state.json", "state.safetensors", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"}) {
    CHECK(access((ck + "/step-00000006/" + f).c_str(), R_OK) == 0);
  }
  auto base = Run({Crucible(), "model", "logits", "--checkpoint", w.model, "--token-ids", "100,101,102"});
  auto tuned = Run({Crucible(), "model", "logits", "--checkpoint", w.model, "--token-ids", "100,101,102", "--adapter",
                    ck + "/step-00000006/adapter"});
  INFO(tuned.stderr_data);
  REQUIRE(base.exit_code == 0);
  REQUIRE(tuned.exit_code == 0);
  CHECK(base.stdout_data != tuned.stdout_data);  // the adapter changed the model

  // A CodeRL run with the critic trained here (its adapter and outcome head).
  const std::string critic = w.dir.path() + "/critic";
  REQUIRE(Run(Offline("critic", w.trajectories, critic, {"--steps", "2"})).exit_code == 0);
  ProcessResult coderl = Run(Offline("coderl", w.trajectories, w.dir.path() + "/coderl", {"--steps", "2", "--critic", critic}));
  INFO(coderl.stderr_data);
  CHECK(coderl.exit_code == 0);
  CHECK(Lines(coderl.stdout_data).size() == 2);
}

TEST_CASE("reward model: trained with --algo rm, loaded frozen, it ranks chosen over rejected", "[learner]") {
  Workspace& w = Shared();
  const std::string ck = w.dir.path() + "/rm";
  ProcessResult r = Run(Offline("rm", w.preferences, ck, {"--steps", "25", "--save-every", "25"}));
  INFO(r.stderr_data);
  REQUIRE(r.exit_code == 0);
  CHECK(::access((ck + "/step-00000025/reward_head.safetensors").c_str(), R_OK) == 0);

  absl::StatusOr<RewardModel> rm = LoadFrozenRewardModel(ck, w.model, model::ModelOptions{});
  REQUIRE(rm.ok());
  for (auto& p : rm->model->parameters()) CHECK_FALSE(p.requires_grad());
  auto tokenizer = Tokenizer::Load(model::DefaultTokenizerFor(w.model));
  REQUIRE(tokenizer.ok());
  std::vector<std::vector<int32_t>> prompts, chosen, rejected;
  std::ifstream in(w.preferences);
  for (std::string line; std::getline(in, line);) {
    absl::StatusOr<Example> e = ParseExample(line, DataKind::kPreferences, **tokenizer);
    REQUIRE(e.ok());
    prompts.push_back(e->prompt);
    chosen.push_back(e->completion);
    rejected.push_back(e->rejected);
  }
  REQUIRE(prompts.size() == 12);
  absl::StatusOr<std::vector<double>> good = RewardModelScores(*rm, prompts, chosen);
  absl::StatusOr<std::vector<double>> bad = RewardModelScores(*rm, prompts, rejected);
  REQUIRE(good.ok());
  REQUIRE(bad.ok());
  REQUIRE(good->size() == 12);
  // The head the checkpoint trained, not a fresh one: every pair it learned is ordered.
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("pair " << i << ": " << (*good)[i] << " vs " << (*bad)[i]);
    CHECK((*good)[i] > (*bad)[i]);
  }
  // A row's score does not depend on the batch it is padded into.
  absl::StatusOr<std::vector<double>> alone = RewardModelScores(*rm, {prompts[3]}, {rejected[3]});
  REQUIRE(alone.ok());
  CHECK(std::abs((*alone)[0] - (*bad)[3]) < 1e-4);
  // A step directory loads like the checkpoint root (its newest step).
  absl::StatusOr<RewardModel> step = LoadFrozenRewardModel(ck + "/step-00000025", w.model, model::ModelOptions{});
  REQUIRE(step.ok());
  absl::StatusOr<std::vector<double>> again = RewardModelScores(*step, {prompts[3]}, {rejected[3]});
  REQUIRE(again.ok());
  CHECK((*again)[0] == (*alone)[0]);

  CHECK(RewardModelScores(*rm, {prompts[0]}, {}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(RewardModelScores(*rm, {prompts[0]}, {{}}).status().code() == absl::StatusCode::kInvalidArgument);
  // A checkpoint without a reward head (a critic's) is not a reward model.
  const std::string critic = w.dir.path() + "/critic-for-rm";
  REQUIRE(Run(Offline("critic", w.trajectories, critic, {"--steps", "1"})).exit_code == 0);
  CHECK_FALSE(LoadFrozenRewardModel(critic, w.model, model::ModelOptions{}).ok());
  CHECK(LoadFrozenRewardModel(w.dir.path() + "/nothing-here", w.model, model::ModelOptions{}).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("full-parameter SFT trains every weight and checkpoints a model directory that loads", "[learner]") {
  Workspace& w = Shared();
  const std::string ck = w.dir.path() + "/full";
  ProcessResult r = Run(Offline("sft", w.trajectories, ck, {"--steps", "6", "--save-every", "6", "--full-parameters"}));
  INFO(r.stderr_data);
  REQUIRE(r.exit_code == 0);
  const std::map<int64_t, json> lines = Lines(r.stdout_data);
  REQUIRE(lines.size() == 6);
  CHECK(lines.at(6)["loss"].get<double>() < lines.at(1)["loss"].get<double>());
  const std::string step = ck + "/step-00000006";
  // Every base weight is trained (with its AdamW moments); no adapter is written.
  const auto full = StateTensors(step, "full.");
  CHECK(full.count("full.model.embed_tokens.weight") == 1);
  CHECK(full.count("full.model.layers.0.self_attn.q_proj.weight") == 1);
  CHECK(StateTensors(step, "adam.exp_avg.full.model.layers.3.mlp.down_proj.weight").size() == 1);
  CHECK(StateTensors(step, "lora.").empty());
  CHECK(::access((step + "/adapter").c_str(), F_OK) != 0);
  // model/ is a Hugging Face directory the model tools load, with other logits than the base.
  auto logits = [&](const std::string& model) {
    ProcessResult l = Run({Crucible(), "model", "logits", "--checkpoint", model, "--token-ids", "100,101,102"});
    REQUIRE(l.exit_code == 0);
    return json::parse(l.stdout_data);
  };
  CHECK(logits(step + "/model") != logits(w.model));
  // Resuming continues from the saved state; PPO (whose reference is the frozen base) and an
  // initial adapter are refused with full-parameter training.
  ProcessResult more = Run(Offline("sft", w.trajectories, ck, {"--steps", "8", "--save-every", "8", "--full-parameters"}));
  REQUIRE(more.exit_code == 0);
  CHECK(Lines(more.stdout_data).begin()->first == 7);
  CHECK(Run(Offline("ppo", w.trajectories, w.dir.path() + "/full-ppo", {"--steps", "2", "--full-parameters"})).exit_code == 2);
}

TEST_CASE("bad input: exit 2 with the reason", "[learner]") {
  Workspace& w = Shared();
  const std::string bad = w.dir.path() + "/bad.jsonl";
  {
    std::ofstream f(bad);
    f << json{{"prompt", "a"}, {"completion", "b"}}.dump() << "\n" << "{not json\n";
  }
  ProcessResult r = Run(Offline("sft", bad, w.dir.path() + "/bad-ck", {"--steps", "1"}));
  CHECK(r.exit_code == 2);
  CHECK(absl::StrContains(r.stderr_data, "bad.jsonl:2"));
  ProcessResult kind = Run(Offline("dpo", w.trajectories, w.dir.path() + "/bad-ck", {"--steps", "1"}));
  CHECK(kind.exit_code == 2);
  CHECK(absl::StrContains(kind.stderr_data, "missing \"chosen\""));
  ProcessResult algo = Run(Offline("a2c", w.trajectories, w.dir.path() + "/bad-ck", {"--steps", "1"}));
  CHECK(algo.exit_code == 2);
  ProcessResult critic = Run(Offline("critic", w.preferences, w.dir.path() + "/bad-ck", {"--steps", "1"}));
  CHECK(critic.exit_code == 2);
  // A checkpoint of another algorithm is refused, not silently mixed in.
  const std::string sft = w.dir.path() + "/mixed";
  REQUIRE(Run(Offline("sft", w.trajectories, sft, {"--steps", "1"})).exit_code == 0);
  ProcessResult mixed = Run(Offline("rest", w.trajectories, sft, {"--steps", "2"}));
  CHECK(mixed.exit_code == 1);
  CHECK(absl::StrContains(mixed.stderr_data, "\"sft\" checkpoint"));
}

TEST_CASE("data: parsing, validation and the batch order", "[learner]") {
  ByteTokenizer bytes;
  auto e = ParseExample(R"({"prompt_tokens":[1,2],"completion":"ab","reward":0.5,"outcome":"TLE",
                             "behaviour_logprobs":[-1,-2],"group_id":"p","reference":false})",
                        DataKind::kTrajectories, bytes);
  REQUIRE(e.ok());
  CHECK(e->prompt == std::vector<int32_t>{1, 2});
  CHECK(e->completion == bytes.Encode("ab", false));
  CHECK(e->outcome == kRuntimeError);
  auto ref = ParseExample(R"({"prompt":"p","completion":"c","reference":true})", DataKind::kTrajectories, bytes);
  REQUIRE(ref.ok());
  CHECK(ref->outcome == kPassed);
  for (const char* bad : {R"({"prompt":"p"})", R"({"prompt":"","completion":"c"})", R"([1,2])",
                          R"({"prompt":"p","completion":"ab","behaviour_logprobs":[-1]})",
                          R"({"prompt":"p","completion":"a","behaviour_logprobs":[0.5]})",
                          R"({"prompt":"p","completion":"a","outcome":"maybe"})",
                          R"({"prompt":"p","completion":"a","reward":"high"})",
                          R"({"prompt_tokens":[1,"x"],"completion":"a"})"}) {
    INFO(bad);
    CHECK(ParseExample(bad, DataKind::kTrajectories, bytes).status().code() == absl::StatusCode::kInvalidArgument);
  }

  DataOrder order(5, 9, true), again(5, 9, true), other(5, 10, true);
  std::vector<int64_t> first = order.Next(7);  // crosses into epoch 1
  CHECK(first == again.Next(7));
  std::vector<int64_t> epoch0(first.begin(), first.begin() + 5);
  std::sort(epoch0.begin(), epoch0.end());
  CHECK(epoch0 == std::vector<int64_t>{0, 1, 2, 3, 4});  // a permutation
  CHECK(order.epoch() == 1);
  DataOrder resumed(5, 9, true);
  resumed.set_consumed(7);
  CHECK(resumed.Next(6) == order.Next(6));  // the cursor is the whole state
  CHECK(other.Next(10) != DataOrder(5, 9, true).Next(10));
  DataOrder plain(3, 9, false);
  CHECK(plain.Next(4) == std::vector<int64_t>{0, 1, 2, 0});
}

}  // namespace
}  // namespace crucible::learner
