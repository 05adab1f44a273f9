#include "judge_workers/precompiled_headers.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace crucible {
namespace {

constexpr char kBuildPrefix[] = ".build-";

// FNV-1a, 64 bits: a stable name for (compiler, flags) across processes and builds.
uint64_t Fnv1a(absl::string_view bytes, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The cache directory's name for a language: its precompile command plus the identity
// of the compiler binary (an upgraded compiler gets a new directory; the compiler would
// refuse the old files anyway).
std::string CacheName(const Language& language) {
  uint64_t h = Fnv1a(language.name);
  for (const std::string& arg : language.precompile_argv) h = Fnv1a(arg + '\0', h);
  struct stat st;
  if (!language.precompile_argv.empty() && ::stat(language.precompile_argv[0].c_str(), &st) == 0) {
    h = Fnv1a(absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtime), h);
  }
  return absl::StrCat(language.name, "-", absl::Hex(h, absl::kZeroPad16));
}

absl::Status CheckOwnDirectory(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return ErrnoToStatus(errno, absl::StrCat("stat ", path));
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is owned by uid ", st.st_uid, ", not by this judge's uid ", ::geteuid()));
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is writable by others"));
  }
  return absl::OkStatus();
}

// Creates `path` as a directory of this user's, mode 0755 (readable by the sandbox
// users), unless it exists; either way it must pass CheckOwnDirectory.
absl::Status EnsureOwnDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) {
    if (::chmod(path.c_str(), 0755) != 0) return ErrnoToStatus(errno, absl::StrCat("chmod ", path));
  } else if (errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("mkdir ", path));
  }
  return CheckOwnDirectory(path);
}

bool IsNonEmptyFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// Makes `dir` and its parents up to `top` (inclusive) mode 0755, whatever the umask made
// them: the sandbox users read through them.
absl::Status OpenUpTo(std::string dir, const std::string& top) {
  while (true) {
    if (::chmod(dir.c_str(), 0755) != 0) return ErrnoToStatus(errno, absl::StrCat("chmod ", dir));
    if (dir.size() <= top.size()) return absl::OkStatus();
    dir = Dirname(dir);
  }
}

// A header name must stay inside the directory it is built in.
bool IsSafeHeaderName(const std::string& header) {
  if (header.empty() || header[0] == '/') return false;
  for (absl::string_view part : absl::StrSplit(header, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace

std::string DefaultPrecompiledCacheDir() {
  if (::geteuid() == 0) return "/var/cache/crucible/precompiled";
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/crucible/precompiled");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return absl::StrCat(home, "/.cache/crucible/precompiled");
  return absl::StrCat(TempRoot(), "/crucible-precompiled-", ::geteuid());
}

PrecompiledHeaders::PrecompiledHeaders(std::string cache_dir, LanguageRegistry languages,
                                       std::shared_ptr<sandbox::Sandbox> sandbox)
    : cache_dir_(std::move(cache_dir)), languages_(std::move(languages)), sandbox_(std::move(sandbox)) {}

absl::StatusOr<std::unique_ptr<PrecompiledHeaders>> PrecompiledHeaders::Start(
    const std::string& cache_dir, const LanguageRegistry& languages,
    std::shared_ptr<sandbox::Sandbox> sandbox) {
  if (cache_dir.empty() || cache_dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("precompiled header cache \"", cache_dir,
                                                   "\" is not an absolute path"));
  }
  const std::string parent = Dirname(cache_dir);
  if (!parent.empty()) CRUCIBLE_RETURN_IF_ERROR(MakeDirs(parent));
  CRUCIBLE_RETURN_IF_ERROR(EnsureOwnDirectory(cache_dir));
  // Build directories of judges killed mid-build.
  RemoveEntriesOfDeadProcesses(cache_dir, kBuildPrefix, '-');

  auto headers = std::unique_ptr<PrecompiledHeaders>(
      new PrecompiledHeaders(cache_dir, languages, std::move(sandbox)));
  std::vector<Job> jobs;
  for (const std::string& name : headers->languages_.Names()) {
    const Language* language = headers->languages_.Find(name);
    if (language->precompiled_headers.empty()) continue;
    if (language->precompile_argv.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("language ", name, " names precompiled headers but no precompile_argv"));
    }
    const std::string dir = absl::StrCat(cache_dir, "/", CacheName(*language));
    CRUCIBLE_RETURN_IF_ERROR(EnsureOwnDirectory(dir));
    headers->dirs_[name] = dir;
    for (const std::string& header : language->precompiled_headers) {
      if (!IsSafeHeaderName(header)) {
        return absl::InvalidArgumentError(
            absl::StrCat("language ", name, ": bad precompiled header name \"", header, "\""));
      }
      Job job{name, header, dir, language};
      if (IsNonEmptyFile(absl::StrCat(dir, "/", header, ".gch"))) {
        ++headers->counts_.reused;
      } else {
        jobs.push_back(std::move(job));
      }
    }
  }
  if (jobs.empty()) {
    headers->done_ = true;
  } else {
    PrecompiledHeaders* self = headers.get();
    headers->thread_ = std::thread([self, jobs = std::move(jobs)]() mutable {
      self->BuildAll(std::move(jobs));
    });
  }
  return headers;
}

PrecompiledHeaders::~PrecompiledHeaders() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (running_ != nullptr) running_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

std::string PrecompiledHeaders::DirFor(const std::string& language) const {
  auto it = dirs_.find(language);
  return it == dirs_.end() ? "" : it->second;
}

bool PrecompiledHeaders::WaitUntilBuilt(absl::Duration timeout, Counts* counts) {
  absl::MutexLock lock(&mu_);
  const bool done = mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  if (counts != nullptr) *counts = counts_;
  return done;
}

void PrecompiledHeaders::BuildAll(std::vector<Job> jobs) {
  int serial = 0;
  for (const Job& job : jobs) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    const absl::Time start = absl::Now();
    bool reused = false;
    absl::Status status = Build(job, serial++, &reused);
    absl::MutexLock lock(&mu_);
    if (status.ok() && reused) {
      ++counts_.reused;
    } else if (status.ok()) {
      ++counts_.built;
      CRUCIBLE_LOG(Info) << "precompiled " << job.header << " for " << job.language << " in "
                         << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)));
    } else {
      ++counts_.failed;
      if (!stopping_) {
        CRUCIBLE_LOG(Warning) << "precompiling " << job.header << " for " << job.language
                              << " failed (compiles read the header instead): " << status;
      }
    }
  }
  absl::MutexLock lock(&mu_);
  done_ = true;
}

absl::Status PrecompiledHeaders::Build(const Job& job, int serial, bool* reused) {
  // One judge of a machine builds a language's headers at a time; another waits for it
  // and then finds the header built.
  // Beside the directory, not in it: compiles see only precompiled files.
  const std::string lock_path = job.dir + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", lock_path));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock_fd};
  while (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return ErrnoToStatus(errno, absl::StrCat("flock ", lock_path));
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(100))) {
      return absl::CancelledError("the judge is stopping");
    }
  }
  if (IsNonEmptyFile(absl::StrCat(job.dir, "/", job.header, ".gch"))) {
    *reused = true;
    return absl::OkStatus();
  }
  const std::string work = absl::StrCat(cache_dir_, "/", kBuildPrefix, ::getpid(), "-", serial);
  RemoveTree(work).IgnoreError();
  struct Cleanup {
    std::string path;
    ~Cleanup() { RemoveTree(path).IgnoreError(); }
  } cleanup{work};
  const std::string source = absl::StrCat(work, "/src/", job.header);
  const std::string output = absl::StrCat(work, "/out/", job.header, ".gch");
  CRUCIBLE_RETURN_IF_ERROR(MakeDirs(Dirname(source)));
  CRUCIBLE_RETURN_IF_ERROR(MakeDirs(Dirname(output)));
  CRUCIBLE_RETURN_IF_ERROR(WriteFile(source, absl::StrCat("#include <", job.header, ">\n"), 0644));
  // The compiler writes as the slot's sandbox user: /work/out and below are its.
  if (::geteuid() == 0) {
    auto [uid, gid] = sandbox_->OutsideIds(kSlot);
    for (std::string dir = Dirname(output); dir.size() >= work.size() + 4; dir = Dirname(dir)) {
      if (::chown(dir.c_str(), uid, gid) != 0) return ErrnoToStatus(errno, absl::StrCat("chown ", dir));
    }
  }
  CRUCIBLE_RETURN_IF_ERROR(OpenUpTo(Dirname(source), work));

  sandbox::SessionOptions session;
  session.work_dir = work;
  session.work_dir_writable = true;
  session.slot = kSlot;
  session.pin_cpu = false;
  session.limits = job.spec->compile_limits;
  // A header set costs several times a program's compile.
  session.limits.set_cpu_time_ms(std::max<int64_t>(session.limits.cpu_time_ms(), 120'000));
  session.limits.set_wall_time_ms(2 * session.limits.cpu_time_ms());
  session.limits.set_memory_bytes(std::max<int64_t>(session.limits.memory_bytes(), int64_t{2} << 30));
  session.limits.set_max_file_bytes(
      std::max<int64_t>(session.limits.max_file_bytes(), int64_t{1} << 30));
  sandbox::SandboxCommand command;
  for (const std::string& arg : job.spec->precompile_argv) {
    command.argv.push_back(absl::StrReplaceAll(
        arg, {{"{source}", "/work/src/" + job.header}, {"{output}", "/work/out/" + job.header + ".gch"}}));
  }
  CRUCIBLE_ASSIGN_OR_RETURN(std::unique_ptr<sandbox::SandboxSession> running,
                            sandbox_->OpenSession(session));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("the judge is stopping");
    running_ = running.get();
  }
  absl::StatusOr<sandbox::SandboxOutput> out = running->Run(command);
  {
    absl::MutexLock lock(&mu_);
    running_ = nullptr;
  }
  running.reset();
  if (!out.ok()) return out.status();
  const v1::SandboxResult& r = out->result;
  if (r.exit_code() != 0 || r.term_signal() != 0 || !IsNonEmptyFile(output)) {
    return absl::InternalError(absl::StrCat("exit ", r.exit_code(), ", signal ", r.term_signal(),
                                            r.oom_killed() ? ", out of memory" : "",
                                            r.wall_timeout() ? ", timed out" : "", ": ",
                                            out->stderr_data.substr(0, 2048)));
  }
  // Owned by the judge from here on, read-only to everyone else.
  if (::geteuid() == 0 && ::chown(output.c_str(), 0, 0) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("chown ", output));
  }
  if (::chmod(output.c_str(), 0644) != 0) return ErrnoToStatus(errno, absl::StrCat("chmod ", output));
  const std::string target = absl::StrCat(job.dir, "/", job.header, ".gch");
  CRUCIBLE_RETURN_IF_ERROR(MakeDirs(Dirname(target)));
  CRUCIBLE_RETURN_IF_ERROR(OpenUpTo(Dirname(target), job.dir));
  if (::rename(output.c_str(), target.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("rename ", output, " to ", target));
  }
  return absl::OkStatus();
}

}  // namespace crucible
