// What `crucible eval` and its searches share to judge samples: each sample is judged twice
// through the judge pool (public tests, for n@k filtering and the searches; hidden tests, for
// the verdict) and appended to its samples file once both are answered, with a progress bar.
#ifndef CRUCIBLE_CLI_EVAL_JUDGING_H_
#define CRUCIBLE_CLI_EVAL_JUDGING_H_

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "actors/judge_client.h"
#include "common/eval_report.h"
#include "crucible/v1/judge.pb.h"
#include "crucible/v1/problem.pb.h"

namespace crucible::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled);
  void Update(int64_t done, int64_t correct, double seconds);
  void Finish();

 private:
  const std::string label_;
  const int64_t total_;
  const bool tty_;
  int64_t last_tenth_ = -1;
};

// The samples being judged, appended to `path` as their verdicts arrive.
class Book {
 public:
  Book(const std::string& path, std::string label, int64_t total, bool progress);
  ~Book();
  absl::Status Open();

  void Begin();
  void Write(const EvalSample& sample, int64_t already_done);
  // Blocks while more than `limit` samples are unjudged.
  void WaitBelow(int64_t limit);
  int64_t written();
  void Finish() { progress_.Finish(); }

 private:
  const std::string path_;
  FILE* file_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t inflight_ = 0, written_ = 0, correct_ = 0;
  Progress progress_;
  const absl::Time start_;
};

// Sends one judge request; the callback runs on the client's thread.
using SubmitFn = std::function<void(v1::JudgeRequest, std::function<void(JudgeResult)>)>;

// Judges `sample` (problem_id, sample, language and program set) on `problem`: its public
// tests set passed_public, extra.public_verdict and extra.public_subtype; its hidden tests
// (the public ones when it has none) set verdict, subtype, reward and pass_fraction. The
// sample is written through `book` once both are answered. A sample with no program, or
// one holding a NUL byte, is written at once as a compile error (reward -1), as the actors
// count it. `tag` keeps request ids apart between searches ("" for the first round).
void JudgeAndWrite(EvalSample sample, const v1::Problem& problem, const v1::JudgeOptions& options,
                   const std::string& tag, Book& book, int64_t already_done, const SubmitFn& submit);

// The samples a killed eval left in `path` (none when it does not exist): a partial last
// line is cut off and a missing final newline written, so the file can be appended to.
absl::StatusOr<std::vector<EvalSample>> ResumeSamples(const std::string& path);

// splitmix64 of (seed, a, b): stable across processes, unlike absl's salted hash.
uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b = 0);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_EVAL_JUDGING_H_
