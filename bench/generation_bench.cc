// Generation throughput: new tokens per second of crucible's sampler (model::Generate)
// against the same model and sampling loop in Python PyTorch (bench/generation_baseline.py,
// written the way Hugging Face transformers runs it), measured in the same run on the same
// random checkpoint, the same prompts and the same number of threads.
//
//   generation_bench [--configs=tiny,small] [--batches=1,16,64] [--prompt_tokens=64]
//                    [--new_tokens=128] [--threads=N] [--python=true]
//
// For each config a random float32 checkpoint is written once; for each batch size a
// prompt set (lengths uniform in [prompt_tokens/2, prompt_tokens], so batches are
// left-padded) is written once and every side runs it in a fresh process of its own (so
// the peak RSS is that case's): a two-token warm-up, then one timed generation of
// new_tokens per sequence at temperature 0.8, top-p 0.95, no stop tokens. Reported:
// decode new tokens/s, prefill prompt tokens/s, peak RSS, and the decode ratios.
//
// The Python loop runs twice: with crucible's CPU runtime settings (common/model/runtime.h:
// one intra-op thread, N OpenBLAS threads, large blocks kept in the heap), so that its
// ratio measures the code alone, and with PyTorch's defaults (N intra-op threads, glibc's
// allocator), as a user would run it.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/model/checkpoint.h"
#include "common/model/runtime.h"
#include "common/model/sampler.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, configs, "tiny,small", "model configs under data/models (or paths to config.json files)");
ABSL_FLAG(std::string, batches, "1,16,64", "batch sizes");
ABSL_FLAG(int64_t, prompt_tokens, 64, "longest prompt; prompts are [n/2, n] tokens");
ABSL_FLAG(int64_t, new_tokens, 128, "new tokens per sequence");
ABSL_FLAG(int, threads, 0, "intra-op threads on both sides (0: every CPU)");
ABSL_FLAG(bool, python, true, "measure the Python baseline too");
// One measurement in this process (what the driver spawns).
ABSL_FLAG(bool, one_case, false, "internal: run one case and print its JSON");
ABSL_FLAG(std::string, checkpoint, "", "internal: checkpoint directory");
ABSL_FLAG(std::string, prompts, "", "internal: prompts JSON file");
ABSL_FLAG(std::string, profile, "", "with --one_case: write a Chrome trace of the timed generation here");

namespace crucible::model {
namespace {

using nlohmann::json;

double PeakRssMib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

int RunOneCase(int threads) {
  ::setenv("CRUCIBLE_THREADS", std::to_string(threads).c_str(), 1);
  ConfigureCpuRuntime();
  absl::StatusOr<CausalLm> model = LoadCausalLm(absl::GetFlag(FLAGS_checkpoint), ModelOptions{});
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::string> text = ReadFile(absl::GetFlag(FLAGS_prompts));
  if (!text.ok()) return 1;
  const auto prompts = json::parse(*text).get<std::vector<std::vector<int32_t>>>();
  SamplingOptions o;
  o.temperature = 0.8;
  o.top_p = 0.95;
  o.seed = 0;
  o.max_new_tokens = 2;
  if (!Generate(*model, prompts, o).ok()) return 1;  // warm-up
  o.max_new_tokens = absl::GetFlag(FLAGS_new_tokens);
  GenerationStats stats;
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
  if (!absl::GetFlag(FLAGS_profile).empty()) {
    profile = std::make_unique<torch::autograd::profiler::RecordProfile>(absl::GetFlag(FLAGS_profile));
  }
  absl::StatusOr<std::vector<Completion>> out = Generate(*model, prompts, o, nullptr, nullptr, &stats);
  profile.reset();
  if (!out.ok()) {
    std::fprintf(stderr, "%s\n", std::string(out.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", json({{"prompt_tokens", stats.prompt_tokens},
                            {"new_tokens", stats.new_tokens},
                            {"prefill_seconds", stats.prefill_seconds},
                            {"decode_seconds", stats.decode_seconds},
                            {"peak_rss_mib", PeakRssMib()}})
                          .dump()
                          .c_str());
  return 0;
}

struct Measurement {
  bool ok = false;
  double decode_tps = 0, prefill_tps = 0, peak_mib = 0;
};

// This process's environment plus `extra` (NAME=value).
std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

Measurement Measure(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
  Measurement m;
  auto run = RunProcess(argv, "", std::chrono::minutes(20), Environment(extra_env));
  if (!run.ok() || run->exit_code != 0) {
    std::fprintf(stderr, "failed: %s\n%s\n", argv[0].c_str(),
                 run.ok() ? run->stderr_data.c_str() : std::string(run.status().message()).c_str());
    return m;
  }
  json j = json::parse(run->stdout_data);
  m.ok = true;
  m.decode_tps = j["new_tokens"].get<double>() / j["decode_seconds"].get<double>();
  m.prefill_tps = j["prompt_tokens"].get<double>() / j["prefill_seconds"].get<double>();
  m.peak_mib = j["peak_rss_mib"].get<double>();
  return m;
}

std::string ConfigPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  return absl::StrCat(CRUCIBLE_SOURCE_DIR, "/data/models/", name, ".json");
}

int Main() {
  const int threads = absl::GetFlag(FLAGS_threads) > 0 ? absl::GetFlag(FLAGS_threads)
                                                       : static_cast<int>(std::thread::hardware_concurrency());
  if (absl::GetFlag(FLAGS_one_case)) return RunOneCase(threads);

  std::vector<int64_t> batches;
  for (absl::string_view b : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',', absl::SkipEmpty())) {
    int64_t n;
    if (!absl::SimpleAtoi(b, &n) || n <= 0) {
      std::fprintf(stderr, "bad --batches\n");
      return 2;
    }
    batches.push_back(n);
  }
  auto tmp = ScopedTempDir::Create(TempRoot(), "genbench");
  if (!tmp.ok()) return 1;
  const int64_t prompt_tokens = absl::GetFlag(FLAGS_prompt_tokens), new_tokens = absl::GetFlag(FLAGS_new_tokens);
  const std::string self = ExecutableDir() + "/generation_bench";
  std::printf("generation: %lld new tokens per sequence after prompts of %lld-%lld tokens, %d threads, "
              "temperature 0.8, top-p 0.95\n",
              static_cast<long long>(new_tokens), static_cast<long long>(std::max<int64_t>(1, prompt_tokens / 2)),
              static_cast<long long>(prompt_tokens), threads);
  std::printf("%s\n", ConfigureCpuRuntime().Describe().c_str());
  std::printf("py: the Python loop with crucible's CPU runtime settings; py-def: with PyTorch's defaults\n");
  std::printf("%-6s %5s | %29s | %14s | %29s | %20s\n", "", "", "decode new tokens/s", "ratio", "prefill prompt tokens/s",
              "peak RSS MiB");
  std::printf("%-6s %5s | %9s %9s %9s | %7s %6s | %9s %9s %9s | %6s %6s %6s\n", "config", "batch", "crucible", "py",
              "py-def", "vs py", "vs def", "crucible", "py", "py-def", "cruc", "py", "py-def");
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_configs), ',', absl::SkipEmpty())) {
    absl::StatusOr<ModelConfig> config = ModelConfig::FromFile(ConfigPath(std::string(name)));
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
      return 2;
    }
    const std::string checkpoint = absl::StrCat(tmp->path(), "/", name);
    if (absl::Status s = InitCheckpoint(*config, checkpoint, 0, torch::kFloat32); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }
    for (int64_t batch : batches) {
      std::mt19937_64 rng(static_cast<uint64_t>(batch));
      std::uniform_int_distribution<int64_t> length(std::max<int64_t>(1, prompt_tokens / 2), prompt_tokens);
      std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config->vocab_size - 1));
      std::vector<std::vector<int32_t>> prompts(batch);
      for (auto& p : prompts) {
        p.resize(length(rng));
        for (int32_t& t : p) t = token(rng);
      }
      const std::string prompts_file = absl::StrCat(tmp->path(), "/prompts-", batch, ".json");
      if (!WriteFileAtomic(prompts_file, json(prompts).dump()).ok()) return 1;
      const std::string nt = std::to_string(new_tokens), th = std::to_string(threads);
      Measurement c = Measure({self, "--one_case", "--checkpoint", checkpoint, "--prompts", prompts_file,
                               "--new_tokens", nt, "--threads", th});
      Measurement py_default, py_tuned;
      if (absl::GetFlag(FLAGS_python)) {
        const std::vector<std::string> py = {CRUCIBLE_PYTHON_EXECUTABLE,
                                             absl::StrCat(CRUCIBLE_SOURCE_DIR, "/bench/generation_baseline.py"),
                                             "--checkpoint", checkpoint, "--prompts", prompts_file,
                                             "--new-tokens", nt};
        // As a user runs it: torch.set_num_threads(N), glibc's allocator defaults.
        std::vector<std::string> argv = py;
        argv.insert(argv.end(), {"--threads", th});
        py_default = Measure(argv);
        // With crucible's CPU runtime settings (runtime.h), so that the ratio is the code's.
        argv = py;
        argv.insert(argv.end(), {"--threads", "1"});
        py_tuned = Measure(argv, {"OPENBLAS_NUM_THREADS=" + th, "MALLOC_MMAP_MAX_=0",
                                  "MALLOC_TRIM_THRESHOLD_=1073741824"});
      }
      auto ratio = [&](const Measurement& p) { return p.ok && c.ok ? c.decode_tps / p.decode_tps : 0.0; };
      std::printf("%-6s %5lld | %9.1f %9.1f %9.1f | %6.2fx %6.2fx | %9.1f %9.1f %9.1f | %6.0f %6.0f %6.0f\n",
                  std::string(name).c_str(), static_cast<long long>(batch), c.decode_tps, py_tuned.decode_tps,
                  py_default.decode_tps, ratio(py_tuned), ratio(py_default), c.prefill_tps, py_tuned.prefill_tps,
                  py_default.prefill_tps, c.peak_mib, py_tuned.peak_mib, py_default.peak_mib);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace crucible::model

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return crucible::model::Main();
}
