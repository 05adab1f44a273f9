// Judge: one program against one problem, start to verdict. Validates the program,
// compiles it once per distinct (language, source) — compiled programs are cached and
// shared by concurrent evaluations — runs the selected tests in the sandbox, checks each
// output, and combines the results as verdict.h documents.
//
// Thread-safe. Each concurrent Evaluate call must use its own slot in [0, slots): a slot
// is a sandbox identity (uid, CPU), never shared by two runs at once.
#ifndef CRUCIBLE_JUDGE_WORKERS_JUDGE_H_
#define CRUCIBLE_JUDGE_WORKERS_JUDGE_H_

#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crucible/v1/judge.pb.h"
#include "crucible/v1/problem.pb.h"
#include "judge_workers/language.h"
#include "judge_workers/precompiled_headers.h"
#include "judge_workers/sandbox/sandbox.h"

namespace crucible {

struct JudgeConfig {
  std::string work_root;                     // default: a fresh directory under $TMPDIR
  int64_t max_source_bytes = 1 << 20;
  int64_t max_output_bytes = 32 << 20;       // per stream and run: beyond it, OLE
  int64_t max_processes = 64;                // processes and threads per run
  int64_t max_open_files = 128;
  int64_t tmp_bytes = 64 << 20;              // the run's private /tmp
  int64_t max_stack_bytes = 256 << 20;       // stack = min(memory limit, this)
  size_t program_cache_entries = 512;
  int64_t program_cache_source_bytes = 64 << 20;
  int default_returned_output_bytes = 256;
  // Where precompiled headers are cached (precompiled_headers.h); empty: none are used.
  // Judges on one machine may share it.
  std::string precompiled_dir;
};

class Judge {
 public:
  static absl::StatusOr<std::unique_ptr<Judge>> Create(JudgeConfig config,
                                                       std::shared_ptr<sandbox::Sandbox> sandbox,
                                                       LanguageRegistry languages);
  ~Judge();

  // INVALID_ARGUMENT naming the problem: unknown language, source over the size limit,
  // NUL bytes, empty source.
  absl::Status ValidateProgram(const v1::Program& program) const;

  // Judges `program` on `problem` (already validated with ValidateProblem). Sandbox
  // failures are SE verdicts, not errors; errors are INVALID_ARGUMENT (bad program) and
  // DEADLINE_EXCEEDED (deadline reached between steps).
  absl::StatusOr<v1::Verdict> Evaluate(const v1::Problem& problem, const v1::Program& program,
                                       const v1::JudgeOptions& options, int slot,
                                       absl::Time deadline = absl::InfiniteFuture());

  const LanguageRegistry& languages() const { return languages_; }
  const std::string& work_root() const { return config_.work_root; }
  const sandbox::Sandbox& sandbox() const { return *sandbox_; }
  // Null unless JudgeConfig::precompiled_dir is set (and usable).
  PrecompiledHeaders* precompiled_headers() const { return precompiled_.get(); }

 private:
  struct CompiledProgram;
  class ProgramCache;

  Judge(JudgeConfig config, std::shared_ptr<sandbox::Sandbox> sandbox, LanguageRegistry languages);

  // The compiled form of a program, compiling it on first use.
  absl::StatusOr<std::shared_ptr<CompiledProgram>> Compile(const Language& language,
                                                           const std::string& source, int slot,
                                                           bool as_checker);
  v1::SandboxLimits RunLimits(const v1::Problem& problem, const Language& language) const;
  // Runs the problem's checker program on one test.
  v1::TestResult RunCheckerProgram(const CompiledProgram& checker, const v1::TestCase& test,
                                   const std::string& output, const v1::Problem& problem,
                                   int slot);

  const JudgeConfig config_;
  std::shared_ptr<sandbox::Sandbox> sandbox_;
  const LanguageRegistry languages_;
  std::unique_ptr<ProgramCache> cache_;
  std::unique_ptr<PrecompiledHeaders> precompiled_;
  int work_root_lock_fd_ = -1;  // the claim on a work root this judge made (work_root.h)
};

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_JUDGE_H_
