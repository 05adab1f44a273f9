// Eval throughput: samples judged per second by `crucible eval` with judging overlapped
// with generation (the default) against generating every sample first and then judging
// them all (--overlap=false), in the same run, alternating the order per repetition. Both
// produce the same samples (the eval is deterministic for a seed); only the schedule
// differs. Prints each repetition and the median ratio with its spread.
//
//   build/bin/eval_bench [--model DIR] [--n 8] [--max_new_tokens 64] [--reps 3]
//
// Without --model it uses a freshly initialised tiny model, whose programs are compile
// errors (cheap to judge): then the judge's share of the work, and so the gain, is small.
// A warm-started model (runs/<run>/warm_start/...) gives programs that run their tests.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, model, "", "model directory (default: a fresh tiny model)");
ABSL_FLAG(std::string, problems, "", "problem set (default: the bundled one)");
ABSL_FLAG(int, n, 8, "samples per problem");
ABSL_FLAG(int, max_new_tokens, 64, "tokens per sample at most");
ABSL_FLAG(int, reps, 3, "repetitions of each schedule");
ABSL_FLAG(int, judge_workers, 2, "workers of the local judge");

namespace crucible {
namespace {

std::string Crucible() { return ExecutableDir() + "/crucible"; }

// Seconds of wall time and samples judged of one eval.
std::pair<double, double> TimeEval(const std::string& model, const std::string& out, bool overlap) {
  std::vector<std::string> argv = {Crucible(), "eval", "--model", model, "--n",
                                   std::to_string(absl::GetFlag(FLAGS_n)), "--max-new-tokens",
                                   std::to_string(absl::GetFlag(FLAGS_max_new_tokens)),
                                   "--judge-workers", std::to_string(absl::GetFlag(FLAGS_judge_workers)),
                                   "--progress=false", absl::StrCat("--overlap=", overlap ? "true" : "false"),
                                   "--out", out};
  if (!absl::GetFlag(FLAGS_problems).empty()) {
    argv.push_back("--problems");
    argv.push_back(absl::GetFlag(FLAGS_problems));
  }
  absl::StatusOr<ProcessResult> r = RunProcess(argv, "", std::chrono::minutes(30));
  if (!r.ok() || r->exit_code != 0) {
    std::fprintf(stderr, "eval failed: %s\n", r.ok() ? r->stderr_data.c_str() : r.status().ToString().c_str());
    std::exit(1);
  }
  absl::StatusOr<std::string> text = ReadFile(out + "/report.json");
  if (!text.ok()) std::exit(1);
  nlohmann::json timing = nlohmann::json::parse(*text)["timing"];
  return {timing["wall_seconds"].get<double>(), timing["samples_judged"].get<double>()};
}

int Main() {
  absl::StatusOr<ScopedTempDir> dir = ScopedTempDir::Create(TempRoot(), "eval-bench");
  if (!dir.ok()) return 1;
  std::string model = absl::GetFlag(FLAGS_model);
  if (model.empty()) {
    model = dir->path() + "/tiny";
    absl::StatusOr<ProcessResult> init = RunProcess(
        {Crucible(), "model", "init", "--config", std::string(CRUCIBLE_SOURCE_DIR) + "/data/models/tiny.json",
         "--out", model, "--seed", "0"},
        "", std::chrono::minutes(2));
    if (!init.ok() || init->exit_code != 0) return 1;
  }
  std::vector<double> ratios;
  for (int rep = 0; rep < absl::GetFlag(FLAGS_reps); ++rep) {
    double rate[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const bool overlap = (rep + k) % 2 == 0;
      const std::string out = absl::StrCat(dir->path(), "/rep", rep, overlap ? "-overlap" : "-serial");
      auto [seconds, judged] = TimeEval(model, out, overlap);
      rate[overlap ? 0 : 1] = judged / seconds;
      std::printf("rep %d %-28s %6.0f samples %7.2f s %7.2f samples/s\n", rep,
                  overlap ? "overlapped" : "generate all, then judge", judged, seconds, judged / seconds);
    }
    ratios.push_back(rate[0] / rate[1]);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("overlapped / serial throughput: median %.2fx (min %.2fx, max %.2fx, %zu reps)\n",
              ratios[ratios.size() / 2], ratios.front(), ratios.back(), ratios.size());
  return 0;
}

}  // namespace
}  // namespace crucible

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return crucible::Main();
}
