#include "cli/eval_judging.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/verdict_json.h"

namespace crucible::cli {

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), tty_(enabled && ::isatty(2)) {}

void Progress::Update(int64_t done, int64_t correct, double seconds) {
  if (!tty_) {
    // Without a terminal: a line at every tenth.
    const int64_t tenth = total_ > 0 ? done * 10 / total_ : 10;
    if (tenth == last_tenth_) return;
    last_tenth_ = tenth;
  }
  const int width = 30;
  const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::fprintf(stderr, "%s%s [%s] %lld/%lld judged  %.1f samples/s  correct %.1f%%%s", tty_ ? "\r" : "",
               label_.c_str(), bar.c_str(), static_cast<long long>(done), static_cast<long long>(total_), rate,
               done > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(done) : 0.0,
               tty_ ? "\033[K" : "\n");
  std::fflush(stderr);
}

void Progress::Finish() {
  if (tty_) std::fputc('\n', stderr);
}

Book::Book(const std::string& path, std::string label, int64_t total, bool progress)
    : path_(path), progress_(std::move(label), total, progress), start_(absl::Now()) {}

Book::~Book() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status Book::Open() {
  file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr) return ErrnoToStatus(errno, absl::StrCat("open ", path_));
  return absl::OkStatus();
}

void Book::Begin() {
  std::unique_lock<std::mutex> lock(mu_);
  ++inflight_;
}

void Book::Write(const EvalSample& sample, int64_t already_done) {
  std::string line = SampleToJson(sample) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
  ++written_;
  if (sample.verdict == v1::OK) ++correct_;
  --inflight_;
  progress_.Update(already_done + written_, correct_, absl::ToDoubleSeconds(absl::Now() - start_));
  cv_.notify_all();
}

void Book::WaitBelow(int64_t limit) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return inflight_ <= limit; });
}

int64_t Book::written() {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

namespace {

// One sample's two verdicts meet here; the last to arrive writes the sample.
struct Pending {
  EvalSample sample;
  std::mutex mu;
  int answers_left = 0;
};

void RecordHidden(EvalSample& s, const JudgeResult& r) {
  if (!r.status.ok()) {
    s.verdict = v1::SE;
    s.subtype = std::string(r.status.message()).substr(0, 200);
    s.reward = 0;
    return;
  }
  s.verdict = r.verdict.verdict();
  s.subtype = r.verdict.subtype();
  s.reward = r.verdict.reward();
  s.pass_fraction = r.verdict.pass_fraction();
}

}  // namespace

void JudgeAndWrite(EvalSample sample, const v1::Problem& problem, const v1::JudgeOptions& options,
                   const std::string& tag, Book& book, int64_t already_done, const SubmitFn& submit) {
  book.Begin();
  if (sample.program.empty() || sample.program.find('\0') != std::string::npos) {
    // Nothing to judge: the compile-error verdict, as the actors count it.
    sample.verdict = v1::CE;
    sample.subtype = sample.program.empty() ? "no program" : "NUL byte";
    sample.reward = -1.0;
    sample.passed_public = false;
    sample.pass_fraction = 0.0;
    book.Write(sample, already_done);
    return;
  }
  const bool has_public = problem.public_tests_size() > 0;
  const bool has_hidden = problem.tests_size() > 0;
  auto pending = std::make_shared<Pending>();
  pending->sample = std::move(sample);
  pending->answers_left = has_public ? 2 : 1;
  pending->sample.passed_public = !has_public;  // vacuous without public tests
  const EvalSample& s = pending->sample;
  auto answered = [pending, &book, already_done]() {
    if (--pending->answers_left == 0) book.Write(pending->sample, already_done);
  };
  auto request = [&](v1::TestSet set, const char* which) {
    v1::JudgeRequest r;
    r.set_request_id(absl::StrCat(problem.id(), "/", tag.empty() ? "" : tag + "/", s.sample, "/", which));
    r.set_problem_id(problem.id());
    r.mutable_program()->set_language(s.language);
    r.mutable_program()->set_source(s.program);
    *r.mutable_options() = options;
    r.mutable_options()->set_test_set(set);
    return r;
  };
  v1::JudgeRequest hidden = request(has_hidden ? v1::HIDDEN : v1::PUBLIC, "hidden");
  std::optional<v1::JudgeRequest> pub;
  if (has_public) pub = request(v1::PUBLIC, "public");
  submit(std::move(hidden), [pending, answered](JudgeResult r) {
    std::lock_guard<std::mutex> lock(pending->mu);
    RecordHidden(pending->sample, r);
    answered();
  });
  if (pub.has_value()) {
    submit(*std::move(pub), [pending, answered](JudgeResult r) {
      std::lock_guard<std::mutex> lock(pending->mu);
      EvalSample& s = pending->sample;
      s.passed_public = r.status.ok() && r.verdict.verdict() == v1::OK;
      s.extra["public_verdict"] = r.status.ok() ? std::string(VerdictName(r.verdict.verdict())) : "SE";
      if (r.status.ok() && !r.verdict.subtype().empty()) s.extra["public_subtype"] = r.verdict.subtype();
      answered();
    });
  }
}

absl::StatusOr<std::vector<EvalSample>> ResumeSamples(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return std::vector<EvalSample>();
  ReadInfo info;
  ReadOptions ro;
  ro.allow_truncated_tail = true;
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<EvalSample> samples, ReadSamplesFile(path, ro, &info));
  if (info.truncated_tail) {
    if (::truncate(path.c_str(), static_cast<off_t>(info.valid_bytes)) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("truncate ", path));
    }
    CRUCIBLE_LOG(Warning) << path << ": dropped a partial last line left by an interrupted eval";
  }
  if (info.missing_final_newline) {
    FILE* f = std::fopen(path.c_str(), "a");
    if (f == nullptr) return ErrnoToStatus(errno, absl::StrCat("open ", path));
    std::fputc('\n', f);
    std::fclose(f);
  }
  return samples;
}

uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (a + 1) * 0xbf58476d1ce4e5b9ULL + (b + 1) * 0x94d049bb133111ebULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace crucible::cli
