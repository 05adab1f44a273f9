// The metrics behind `crucible eval`: the samples file it reads, the estimators it
// computes (pass@k, n@k after public-test filtering, compile rate) and the report it writes.
//
// Promises: every estimator is exact (no sampling) and returns "not available" (nullopt,
// null in JSON, `n/a` in Markdown) instead of a number whenever the samples cannot support
// it, e.g. pass@10 of a problem with 5 samples. A group's metric is the MACRO average over
// its problems, and it is null as soon as one problem of the group lacks it: a value is never
// averaged over a silently chosen subset. SE samples (the sandbox or infrastructure failed)
// are not the program's fault: they count only in `verdicts.SE` and `system_errors`, never
// in n, correct or the compile rate.
// Does not promise: anything about how samples were generated or judged; no torch here.
//
// Samples file (stable; scripts depend on it): JSONL, one judged sample per line.
//   required: problem_id (string), sample (int >= 0, index within the problem), language
//     (string), program (string), verdict ("OK" "WA" "TLE" "MLE" "OLE" "RE" "CE" "SE"),
//     reward (number), passed_public (bool; true when the problem has no public tests —
//     vacuously, so n@k then filters nothing).
//   optional: subtype (string), difficulty (string, or an integer rating read as its decimal
//     string), log_prob (number, sum of token log-probs), tokens (int), pass_fraction,
//     critic_score, reward_model_score (numbers), search (string; absent means "sample").
//   any other key is kept in EvalSample::extra and written back unchanged.
#ifndef CRUCIBLE_COMMON_EVAL_REPORT_H_
#define CRUCIBLE_COMMON_EVAL_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crucible/v1/judge.pb.h"
#include "nlohmann/json.hpp"

namespace crucible {

// The search a sample without a `search` key came from.
inline constexpr char kDefaultSearch[] = "sample";

struct EvalSample {
  std::string problem_id;
  int64_t sample = 0;
  std::string language;
  std::string program;
  v1::VerdictCode verdict = v1::VERDICT_UNSPECIFIED;
  double reward = 0;
  bool passed_public = false;
  // Optional keys. An empty string means the key was absent (and is not written back).
  std::string subtype;
  std::string difficulty;
  std::string search;  // "" reads as kDefaultSearch
  std::optional<double> log_prob;
  std::optional<int64_t> tokens;
  std::optional<double> pass_fraction;
  std::optional<double> critic_score;
  std::optional<double> reward_model_score;
  // Every key of the line that is not a field above, as parsed (always an object).
  nlohmann::json extra = nlohmann::json::object();

  const std::string& search_or_default() const;
};

// Parses one line. `where` prefixes error messages ("samples.jsonl:7").
absl::StatusOr<EvalSample> ParseSampleJson(absl::string_view line, absl::string_view where);

// One line of JSON, no trailing newline: `extra` plus the typed fields.
std::string SampleToJson(const EvalSample& sample);

struct ReadOptions {
  // Accept a last line that has no trailing newline and is not valid JSON (what a writer
  // killed mid-line leaves) instead of failing; it is dropped and reported in ReadInfo.
  bool allow_truncated_tail = false;
};

struct ReadInfo {
  // Bytes of the file that hold whole, valid lines: truncate the file to this length
  // before appending when resuming. Equals the file size unless truncated_tail.
  uint64_t valid_bytes = 0;
  bool truncated_tail = false;
  // The file's last line is valid but has no '\n': a resuming writer must write one first.
  bool missing_final_newline = false;
};

// Reads a samples file. Blank lines are skipped. Errors name the file, line and field
// ("samples.jsonl:7: verdict: expected a string, got an integer"); an unknown verdict code or
// a second line with the same (problem_id, sample) is an error. `info` may be null.
absl::StatusOr<std::vector<EvalSample>> ReadSamplesFile(const std::string& path,
                                                        const ReadOptions& options = {},
                                                        ReadInfo* info = nullptr);

// pass@k, the unbiased estimator of the Codex paper (Chen et al. 2021) for n samples of
// which c are correct: 1 - C(n-c, k) / C(n, k), computed as the stable product
// 1 - prod_{i=n-c+1}^{n} (1 - k/i). Exactly 0 when c == 0, exactly 1 when n - c < k.
// nullopt (not available, never 1) when n == 0 or k > n; also for arguments outside
// 0 <= c <= n, k >= 1.
std::optional<double> PassAtK(int n, int c, int k);

// n@k with public-test filtering (AlphaCode; CodeRL): draw k of the `total` samples
// uniformly without replacement, keep those that pass the public tests, submit up to
// `n_submit` of the kept ones (a uniformly random subset when more are kept); solved if a
// submitted one is correct on the hidden tests. `pass_public_and_correct` counts only the
// correct samples that also pass the public tests: a correct sample that fails them is
// never submitted. The exact expectation, with N = total, P = pass_public,
// C = pass_public_and_correct and X ~ Hypergeometric(N, P, k) the public-passing drawn:
//   given X = x, the x kept form a uniform x-subset of the P, so the m = min(n_submit, x)
//   submitted form a uniform m-subset of the P: P(solved | x) = 1 - C(P-C, m) / C(P, m);
//   n@k = sum_x P(X = x) * (1 - C(P-C, m) / C(P, m)), the x = 0 term being 0.
// P(X = x) is evaluated in log space (lgamma), stable for N up to 10^4 and beyond.
// With n_submit >= k it equals PassAtK(N, C, k). nullopt when N == 0 or k > N; also for
// arguments outside 0 <= C <= P <= N, k >= 1, n_submit >= 1.
std::optional<double> NAtK(int total, int pass_public, int pass_public_and_correct, int n_submit,
                           int k);

struct ReportOptions {
  std::vector<int> ks = {1, 5, 10};    // pass@K for each K
  std::vector<int> n_submit = {1, 5};  // N@K for each N here and K in ks with N <= K
};

// The report (nlohmann's std::map key order; metric keys spelled "pass@5", "1@5"):
// {
//   "options": {"k": [1, 5, 10], "n_submit": [1, 5]},
//   "problems": {"<id>": {"difficulty": "interview", "n": 5, "correct": 2,
//       "system_errors": 0, "pass@1": 0.4, ..., "1@5": 0.4, ..., "compile_rate": 0.8,
//       "verdicts": {"OK": 2, "WA": 1, "TLE": 0, "MLE": 0, "OLE": 0, "RE": 1, "CE": 1,
//                    "SE": 0},
//       "re_subtypes": {"IndexError": 1}}},
//   "overall": GROUP,
//   "by_difficulty": {"<difficulty, or unknown>": GROUP},
//   "by_search": {"<search>": GROUP}   // only when the samples name two or more searches
// }
// GROUP = {"problems": 4, "n": 19, "correct": 5, "system_errors": 1, "pass@K": macro mean
//   or null, "N@K": macro mean or null, "compile_rate": macro mean or null,
//   "micro_compile_rate": non-CE / n over all samples or null, "verdicts": totals,
//   "re_subtypes": totals}.
// Per problem, n and correct exclude SE; compile_rate is null when n == 0; an RE sample
// without a subtype counts under "unknown"; a problem's difficulty is the first non-empty
// one among its samples. ks and n_submit are used sorted and deduplicated.
nlohmann::json BuildReport(const std::vector<EvalSample>& samples, const ReportOptions& options);

// Markdown for people: title, overall table, by-difficulty table, verdicts with RE subtypes,
// by-search table when present, and the 20 hardest problems (lowest pass@ at the smallest
// K). Values are percentages with one decimal; a null metric reads `n/a`.
std::string ReportMarkdown(const nlohmann::json& report);

// Writes <dir>/report.json (2-space indent, trailing newline) and <dir>/report.md, each
// atomically (temporary file + rename); creates `dir` if missing.
absl::Status WriteReport(const std::string& dir, const nlohmann::json& report);

// Best-of-n reranking (a learned verifier, LEVER-style): per problem, the judged samples
// (SE excluded) are ordered by a score and the first is "submitted".
//   score: a sample field, "log_prob", "mean_log_prob" (log_prob / tokens), "critic_score"
//          or "reward_model_score"; plus log_prob_weight * mean_log_prob when the score is
//          a model's;
//   public_first: samples that pass the public tests come before those that do not.
// Ties go to the lower sample index. The result compares pass@1 of the reranked choice
// with a random choice (c / n, the expectation) and with the oracle (any correct sample):
//   {"score", "public_first", "log_prob_weight", "problems" (count), "unscored" (samples
//    without the score, ranked last), "reranked_pass@1", "random_pass@1", "oracle_pass@1",
//    "chosen": {id: {"sample", "correct"}}}
// Means are over problems with at least one judged sample. INVALID_ARGUMENT for an unknown
// score, or when no sample carries it.
struct RerankOptions {
  std::string score = "mean_log_prob";
  bool public_first = true;
  double log_prob_weight = 0;
};
absl::StatusOr<nlohmann::json> RerankReport(const std::vector<EvalSample>& samples,
                                            const RerankOptions& options);

// Parses a flag value such as "1,5,10": positive, distinct integers, returned ascending.
// Errors name the flag ("--k: \"0\" is not a positive integer").
absl::StatusOr<std::vector<int>> ParseIntList(absl::string_view text, absl::string_view flag);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_EVAL_REPORT_H_
