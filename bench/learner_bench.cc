// Learner throughput: trained completion tokens per second of one PPO update (reference
// pass with adapters off, value pass, clipped-loss forward/backward, clipping, AdamW over
// LoRA + value head), against the same update in Python PyTorch (bench/learner_baseline.py)
// on the same random checkpoint and the same batch, measured in the same run.
//
//   learner_bench [--config=data/models/small.json] [--batch=4] [--prompt=32]
//                 [--completion=96] [--lora_rank=16] [--reps=3] [--threads=N] [--python=true]
//
// Also prints where crucible's update spends its time: a no-grad forward of the batch and a
// forward + backward, which bound the update's three passes.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/model/checkpoint.h"
#include "common/model/runtime.h"
#include "common/model/sampler.h"
#include "common/subprocess.h"
#include "learner/trainer.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, config, CRUCIBLE_SOURCE_DIR "/data/models/small.json", "model config");
ABSL_FLAG(int64_t, batch, 4, "sequences per update");
ABSL_FLAG(int64_t, prompt, 32, "prompt tokens per sequence");
ABSL_FLAG(int64_t, completion, 96, "completion tokens per sequence (trained)");
ABSL_FLAG(int64_t, lora_rank, 16, "LoRA rank on every projection");
ABSL_FLAG(int, reps, 3, "timed updates per side (after one warm-up)");
ABSL_FLAG(int, threads, 0, "threads on both sides (0: every CPU)");
ABSL_FLAG(bool, python, true, "measure the Python baseline too");

namespace crucible {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct PyResult {
  bool ok = false;
  double seconds = 0, peak_mib = 0;
};

PyResult RunPython(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  PyResult r;
  auto run = RunProcess(argv, "", std::chrono::minutes(30), env);
  if (!run.ok() || run->exit_code != 0) {
    std::fprintf(stderr, "python baseline failed: %s\n", run.ok() ? run->stderr_data.c_str() : run.status().ToString().c_str());
    return r;
  }
  json j = json::parse(run->stdout_data, nullptr, false);
  if (j.is_discarded()) return r;
  r.ok = true;
  r.seconds = j["seconds_per_update"].get<double>();
  r.peak_mib = j["peak_rss_mib"].get<double>();
  return r;
}

int Main() {
  using namespace learner;
  if (absl::GetFlag(FLAGS_threads) > 0) ::setenv("CRUCIBLE_THREADS", std::to_string(absl::GetFlag(FLAGS_threads)).c_str(), 1);
  const model::CpuRuntime& runtime = model::ConfigureCpuRuntime();
  const int threads = runtime.cpus;
  std::printf("%s\n", runtime.Describe().c_str());
  const int64_t B = absl::GetFlag(FLAGS_batch), P = absl::GetFlag(FLAGS_prompt), C = absl::GetFlag(FLAGS_completion);
  const int reps = absl::GetFlag(FLAGS_reps);

  auto config = model::ModelConfig::FromFile(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return std::fprintf(stderr, "%s\n", config.status().ToString().c_str()), 2;
  auto dir = ScopedTempDir::Create(TempRoot(), "learner-bench");
  if (!dir.ok()) return 1;
  const std::string ck = dir->path() + "/model";
  if (absl::Status s = model::InitCheckpoint(*config, ck, 1, torch::kFloat32); !s.ok()) {
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }

  // One batch, written for the Python side too.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config->vocab_size - 1));
  std::uniform_real_distribution<float> lp(-6.0f, -0.1f);
  std::vector<Example> data(B);
  json py = {{"prompts", json::array()}, {"completions", json::array()}, {"logprobs", json::array()},
             {"rewards", json::array()}};
  for (int64_t b = 0; b < B; ++b) {
    Example& e = data[b];
    for (int64_t t = 0; t < P; ++t) e.prompt.push_back(token(rng));
    for (int64_t t = 0; t < C; ++t) {
      e.completion.push_back(token(rng));
      e.behaviour_logprobs.push_back(lp(rng));
    }
    e.reward = b % 2 ? 1.0 : -0.5;
    py["prompts"].push_back(e.prompt);
    py["completions"].push_back(e.completion);
    py["logprobs"].push_back(e.behaviour_logprobs);
    py["rewards"].push_back(e.reward);
  }
  const std::string data_file = dir->path() + "/batch.json";
  std::ofstream(data_file) << py.dump();

  auto m = model::LoadCausalLm(ck, model::ModelOptions{});
  if (!m.ok()) return 1;
  model::LoraConfig lora;
  lora.settings.rank = absl::GetFlag(FLAGS_lora_rank);
  lora.settings.alpha = 2.0 * lora.settings.rank;
  if (!model::AttachLora(*m, lora, 0).ok()) return 1;
  auto comm = MakeLocalCommunicator();
  TrainerOptions options;
  options.algorithm = Algorithm::kPpo;
  options.batch_size = B;
  options.max_batch_tokens = B * (P + C);  // one forward per pass, as the Python side
  options.shuffle = false;
  options.optimizer.schedule.base_lr = 1e-4;
  options.optimizer.schedule.total_steps = 1000;
  auto trainer = Trainer::Create(*m, data, *comm, options);
  if (!trainer.ok()) return std::fprintf(stderr, "%s\n", trainer.status().ToString().c_str()), 1;

  if (!(*trainer)->Step().ok()) return 1;  // warm-up
  Clock::time_point start = Clock::now();
  for (int r = 0; r < reps; ++r) {
    if (auto s = (*trainer)->Step(); !s.ok()) return std::fprintf(stderr, "%s\n", s.status().ToString().c_str()), 1;
  }
  const double update = Since(start) / reps;

  // Where the time goes: the same batch through the model without and with gradients.
  std::vector<model::PromptCompletion> pairs;
  for (const Example& e : data) pairs.push_back({e.prompt, e.completion});
  double no_grad_fwd = 0, fwd_bwd = 0;
  for (int r = 0; r < reps; ++r) {
    {
      torch::NoGradGuard no_grad;
      start = Clock::now();
      auto lp = model::CompletionLogProbs(*m, pairs, 1.0, B * (P + C));
      no_grad_fwd += Since(start);
    }
    start = Clock::now();
    auto lp = model::CompletionLogProbs(*m, pairs, 1.0, B * (P + C));
    torch::Tensor sum = torch::zeros({});
    for (const torch::Tensor& t : *lp) sum = sum + t.sum();
    sum.backward();
    fwd_bwd += Since(start);
  }
  no_grad_fwd /= reps;
  fwd_bwd /= reps;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double tokens = static_cast<double>(B * C);

  std::printf("PPO update: %s, batch %lld x (%lld prompt + %lld completion) tokens, LoRA r=%lld on every projection, "
              "%d threads, %d timed updates\n",
              absl::GetFlag(FLAGS_config).c_str(), static_cast<long long>(B), static_cast<long long>(P),
              static_cast<long long>(C), static_cast<long long>(lora.settings.rank), threads, reps);
  std::printf("crucible:        %7.3f s/update  %8.1f trained tokens/s  peak RSS %.0f MiB\n", update, tokens / update,
              usage.ru_maxrss / 1024.0);
  std::printf("  where it goes: no-grad forward with the LM head %.3f s, forward+backward %.3f s; the update is\n"
              "  a reference pass (no grad, adapters off) + a value pass (no grad, no LM head) + forward/backward +\n"
              "  AdamW: at most 2 x %.3f + %.3f = %.3f s, i.e. the model's GEMMs; GAE, whitening and AdamW are the rest\n",
              no_grad_fwd, fwd_bwd, no_grad_fwd, fwd_bwd, 2 * no_grad_fwd + fwd_bwd);
  std::fflush(stdout);
  if (!absl::GetFlag(FLAGS_python)) return 0;
  const std::vector<std::string> argv = {CRUCIBLE_PYTHON_EXECUTABLE, CRUCIBLE_SOURCE_DIR "/bench/learner_baseline.py",
                                         "--checkpoint", ck, "--data", data_file, "--reps", std::to_string(reps),
                                         "--lora-rank", std::to_string(lora.settings.rank)};
  std::vector<std::string> def = argv;
  def.insert(def.end(), {"--threads", std::to_string(threads)});
  PyResult py_default = RunPython(def, {});
  std::vector<std::string> tuned = argv;
  tuned.insert(tuned.end(), {"--threads", "1"});
  PyResult py_tuned = RunPython(tuned, {"OPENBLAS_NUM_THREADS=" + std::to_string(threads), "MALLOC_MMAP_MAX_=0",
                                        "MALLOC_TRIM_THRESHOLD_=1073741824"});
  for (const auto& [name, r] : {std::pair<const char*, PyResult>{"python (defaults)", py_default},
                                {"python (crucible's runtime settings)", py_tuned}}) {
    if (!r.ok) continue;
    std::printf("%-38s %7.3f s/update  %8.1f trained tokens/s  peak RSS %.0f MiB  crucible/python = %.2fx\n", name,
                r.seconds, tokens / r.seconds, r.peak_mib, r.seconds / update);
  }
  return 0;
}

}  // namespace
}  // namespace crucible

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return crucible::Main();
}
