// Precompiled headers for the languages that name some (Language::precompiled_headers),
// built once per machine and compiler into a cache directory and offered read-only to
// every compile of the language at /precompiled.
//
// A header is built in the sandbox like any compile (its own slot, larger limits), from a
// file holding only `#include <header>`, with the language's precompile_argv: the same
// compiler, the same view of the system headers and the same flags as the compiles that
// read it. The result appears in the cache under a name that covers the compiler's
// identity and the flags, by an atomic rename, so a compile sees a whole file or none.
// Judges on one machine share the cache; a missing header is built in the background
// while judging goes on (compiles before it lands parse the header as usual).
//
// The compiler itself decides whether a precompiled file applies (the first include names
// it, and no macro or option that would change it differs); otherwise it reads the
// header, so verdicts never depend on the cache.
#ifndef CRUCIBLE_JUDGE_WORKERS_PRECOMPILED_HEADERS_H_
#define CRUCIBLE_JUDGE_WORKERS_PRECOMPILED_HEADERS_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "judge_workers/language.h"
#include "judge_workers/sandbox/sandbox.h"

namespace crucible {

class PrecompiledHeaders {
 public:
  // The sandbox slot of the builds; judge workers use the slots below it.
  static constexpr int kSlot = 255;

  // `cache_dir` is created if missing. It is refused unless it is a directory owned by
  // this user and writable by no one else (a header in it is trusted by every compile).
  // Build directories left by judges that died are removed. Starts the builds of the
  // headers the cache lacks on a thread of its own.
  static absl::StatusOr<std::unique_ptr<PrecompiledHeaders>> Start(
      const std::string& cache_dir, const LanguageRegistry& languages,
      std::shared_ptr<sandbox::Sandbox> sandbox);
  // Cancels a build in progress (its sandbox run is killed) and waits for the thread.
  ~PrecompiledHeaders();

  // The host directory a compile of `language` mounts at /precompiled; empty if the
  // language names no headers.
  std::string DirFor(const std::string& language) const;

  struct Counts {
    int reused = 0;  // found in the cache
    int built = 0;   // built by this judge
    int failed = 0;  // could not be built (logged); compiles read the header instead
  };
  // Waits until every build has ended, up to `timeout`; false if some are still running.
  bool WaitUntilBuilt(absl::Duration timeout, Counts* counts = nullptr);

 private:
  struct Job {
    std::string language;
    std::string header;  // e.g. "bits/stdc++.h"
    std::string dir;     // the language's directory in the cache
    const Language* spec = nullptr;
  };

  PrecompiledHeaders(std::string cache_dir, LanguageRegistry languages,
                     std::shared_ptr<sandbox::Sandbox> sandbox);
  void BuildAll(std::vector<Job> jobs);
  absl::Status Build(const Job& job, int serial, bool* reused);

  const std::string cache_dir_;
  const LanguageRegistry languages_;
  std::shared_ptr<sandbox::Sandbox> sandbox_;
  std::map<std::string, std::string> dirs_;  // language -> directory in the cache

  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  sandbox::SandboxSession* running_ ABSL_GUARDED_BY(mu_) = nullptr;
  Counts counts_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The default cache: /var/cache/crucible/precompiled for root, else
// $XDG_CACHE_HOME/crucible/precompiled (~/.cache when unset).
std::string DefaultPrecompiledCacheDir();

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_PRECOMPILED_HEADERS_H_
