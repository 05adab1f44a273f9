#include "judge_workers/sandbox/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace crucible::sandbox {
namespace {

bool ReadSmallFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

absl::Status WriteCgroupFile(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", path));
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return ErrnoToStatus(n < 0 ? err : EIO, absl::StrCat("write \"", value, "\" to ", path));
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

struct Mount {
  std::string point;
  std::string fstype;
  std::string super_options;
};

std::vector<Mount> CgroupMounts() {
  std::vector<Mount> mounts;
  std::string text;
  if (!ReadSmallFile("/proc/self/mountinfo", &text)) return mounts;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    // "... mount_point options ... - fstype source super_options"
    size_t dash = line.find(" - ");
    if (dash == absl::string_view::npos) continue;
    std::vector<absl::string_view> left = absl::StrSplit(line.substr(0, dash), ' ');
    std::vector<absl::string_view> right = absl::StrSplit(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
    mounts.push_back({std::string(left[4]), std::string(right[0]), std::string(right[2])});
  }
  return mounts;
}

// Our own cgroup path per controller ("memory" -> "/a/b"; "" -> the v2 path).
std::string OwnCgroupPath(absl::string_view controller) {
  std::string text;
  if (!ReadSmallFile("/proc/self/cgroup", &text)) return "";
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    if (controller.empty() ? parts[0] == "0" && parts[1].empty()
                           : absl::StrContains(absl::StrCat(",", parts[1], ","),
                                               absl::StrCat(",", controller, ","))) {
      return std::string(parts[2]);
    }
  }
  return "";
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (b.empty() || b == "/") return a;
  return absl::StrCat(a, b.front() == '/' ? "" : "/", b);
}

bool HasControllers(const std::string& dir, std::initializer_list<absl::string_view> wanted,
                    const char* file) {
  std::string text;
  if (!ReadSmallFile(dir + "/" + file, &text)) return false;
  std::vector<absl::string_view> have = absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  for (absl::string_view w : wanted) {
    if (std::find(have.begin(), have.end(), w) == have.end()) return false;
  }
  return true;
}

absl::Status MakeGroupDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("mkdir ", dir));
  }
  return absl::OkStatus();
}

absl::Status RemoveGroupDir(const std::string& dir) {
  // A group whose last process just died can be busy for a moment while the kernel
  // finishes; 2 s is far beyond what that takes.
  for (int attempt = 0; attempt < 2000; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ErrnoToStatus(errno, absl::StrCat("rmdir ", dir));
}

// Removes every child group of dir, then dir itself, killing anything still inside.
void RemoveTreeOfGroups(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> children;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (e->d_type == DT_DIR && name != "." && name != "..") children.push_back(dir + "/" + name);
    }
    ::closedir(d);
    for (const std::string& child : children) RemoveTreeOfGroups(child);
  }
  std::string procs;
  if (ReadSmallFile(dir + "/cgroup.procs", &procs)) {
    for (absl::string_view pid_text : absl::StrSplit(procs, '\n', absl::SkipEmpty())) {
      int pid = 0;
      if (absl::SimpleAtoi(pid_text, &pid) && pid > 0) ::kill(pid, SIGKILL);
    }
  }
  RemoveGroupDir(dir).IgnoreError();
}

// Tries to make `base` able to hand the memory and pids controllers to children.
absl::Status EnableV2Controllers(const std::string& base) {
  if (HasControllers(base, {"memory", "pids"}, "cgroup.subtree_control")) return absl::OkStatus();
  if (WriteCgroupFile(base + "/cgroup.subtree_control", "+memory +pids").ok()) {
    return absl::OkStatus();
  }
  // EBUSY: base holds processes ("no internal processes"). If the only one is this
  // server, it moves into a leaf of its own and the controllers can be enabled.
  std::string procs;
  ReadSmallFile(base + "/cgroup.procs", &procs);
  std::vector<absl::string_view> pids = absl::StrSplit(procs, '\n', absl::SkipEmpty());
  if (pids.size() == 1 && pids[0] == std::to_string(::getpid())) {
    std::string leaf = base + "/crucible-server-" + std::to_string(::getpid());
    CRUCIBLE_RETURN_IF_ERROR(MakeGroupDir(leaf));
    CRUCIBLE_RETURN_IF_ERROR(WriteCgroupFile(leaf + "/cgroup.procs", std::to_string(::getpid())));
    return WriteCgroupFile(base + "/cgroup.subtree_control", "+memory +pids");
  }
  return absl::FailedPreconditionError(absl::StrCat(
      base, " holds other processes, so the memory and pids controllers cannot be delegated "
            "below it (run the judge in a delegated cgroup, e.g. systemd Delegate=yes, or "
            "pass --cgroup_parent)"));
}

}  // namespace

absl::Status RunCgroup::AddProcess(pid_t pid) const {
  for (const std::string& dir : dirs_) {
    CRUCIBLE_RETURN_IF_ERROR(WriteCgroupFile(dir + "/cgroup.procs", std::to_string(pid)));
  }
  return absl::OkStatus();
}

absl::StatusOr<CgroupStatFds> RunCgroup::OpenStatFds() const {
  CgroupStatFds fds;
  fds.mode = mode_;
  if (mode_ == CgroupMode::kNone) return fds;
  const bool v2 = mode_ == CgroupMode::kV2;
  std::string peak = dirs_[0] + (v2 ? "/memory.peak" : "/memory.max_usage_in_bytes");
  std::string events = dirs_[0] + (v2 ? "/memory.events" : "/memory.oom_control");
  fds.peak_fd = ::open(peak.c_str(), O_RDWR | O_CLOEXEC);
  if (fds.peak_fd < 0) fds.peak_fd = ::open(peak.c_str(), O_RDONLY | O_CLOEXEC);
  fds.events_fd = ::open(events.c_str(), O_RDONLY | O_CLOEXEC);
  if (fds.events_fd < 0) {
    int err = errno;
    if (fds.peak_fd >= 0) ::close(fds.peak_fd);
    return ErrnoToStatus(err, absl::StrCat("open ", events));
  }
  return fds;
}

namespace {

int64_t PreadInt(int fd, int64_t fallback) {
  char buf[64];
  ssize_t n = fd < 0 ? -1 : ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return fallback;
  buf[n] = '\0';
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &value)) return fallback;
  return value;
}

int64_t PreadKeyedValue(int fd, absl::string_view key) {
  char buf[1024];
  ssize_t n = fd < 0 ? -1 : ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(buf, n), '\n')) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t value = 0;
    if (parts.size() == 2 && parts[0] == key && absl::SimpleAtoi(parts[1], &value)) return value;
  }
  return 0;
}

}  // namespace

CgroupStats ReadStats(const CgroupStatFds& fds) {
  CgroupStats stats;
  if (fds.mode == CgroupMode::kNone) return stats;
  stats.peak_memory_bytes = PreadInt(fds.peak_fd, -1);
  stats.oom_kills = PreadKeyedValue(fds.events_fd, "oom_kill");
  return stats;
}

bool ResetPeak(const CgroupStatFds& fds) {
  if (fds.peak_fd < 0) return false;
  return ::pwrite(fds.peak_fd, "0", 1, 0) == 1;
}

absl::Status RunCgroup::Remove() const {
  absl::Status status;
  for (const std::string& dir : dirs_) status.Update(RemoveGroupDir(dir));
  return status;
}

absl::string_view Cgroups::mode_name() const {
  switch (mode_) {
    case CgroupMode::kV2: return "v2";
    case CgroupMode::kV1: return "v1";
    default: return "none";
  }
}

Cgroups Cgroups::Setup(const std::string& explicit_parent) {
  Cgroups cg;
  const std::string own_name = absl::StrCat("crucible-", ::getpid());
  std::vector<Mount> mounts = CgroupMounts();
  std::vector<std::string> reasons;

  // cgroup v2: the unified hierarchy, if it carries memory and pids.
  std::string v2_base = explicit_parent;
  if (v2_base.empty()) {
    for (const Mount& m : mounts) {
      if (m.fstype == "cgroup2") v2_base = JoinPath(m.point, OwnCgroupPath(""));
    }
  }
  if (!v2_base.empty()) {
    if (!HasControllers(v2_base, {"memory", "pids"}, "cgroup.controllers")) {
      reasons.push_back(absl::StrCat("v2 at ", v2_base, " lacks the memory/pids controllers"));
    } else if (absl::Status s = EnableV2Controllers(v2_base); !s.ok()) {
      reasons.push_back(std::string(s.message()));
    } else {
      std::string parent = v2_base + "/" + own_name;
      absl::Status made = MakeGroupDir(parent);
      if (made.ok()) made = WriteCgroupFile(parent + "/cgroup.subtree_control", "+memory +pids");
      if (made.ok()) {
        cg.mode_ = CgroupMode::kV2;
        cg.parents_ = {parent};
        cg.detail_ = parent;
        return cg;
      }
      RemoveGroupDir(parent).IgnoreError();
      reasons.push_back(std::string(made.message()));
    }
  }

  // cgroup v1: separate memory and pids hierarchies.
  std::string memory_root, pids_root;
  for (const Mount& m : mounts) {
    if (m.fstype != "cgroup") continue;
    std::string opts = absl::StrCat(",", m.super_options, ",");
    if (absl::StrContains(opts, ",memory,")) memory_root = m.point;
    if (absl::StrContains(opts, ",pids,")) pids_root = m.point;
  }
  if (!memory_root.empty() && !pids_root.empty()) {
    std::string memory_parent = JoinPath(memory_root, OwnCgroupPath("memory")) + "/" + own_name;
    std::string pids_parent = JoinPath(pids_root, OwnCgroupPath("pids")) + "/" + own_name;
    absl::Status made = MakeGroupDir(memory_parent);
    if (made.ok()) made = MakeGroupDir(pids_parent);
    if (made.ok()) {
      cg.mode_ = CgroupMode::kV1;
      cg.parents_ = {memory_parent, pids_parent};
      cg.detail_ = absl::StrCat(memory_parent, " and ", pids_parent);
      return cg;
    }
    RemoveGroupDir(memory_parent).IgnoreError();
    reasons.push_back(std::string(made.message()));
  } else if (v2_base.empty()) {
    reasons.push_back("no cgroup v1 memory and pids hierarchies are mounted");
  }
  cg.detail_ = absl::StrJoin(reasons, "; ");
  if (cg.detail_.empty()) cg.detail_ = "no cgroup hierarchy found";
  return cg;
}

absl::StatusOr<RunCgroup> Cgroups::CreateRun(const std::string& name, int64_t memory_bytes,
                                             int64_t max_pids) const {
  if (mode_ == CgroupMode::kNone) return RunCgroup();
  std::vector<std::string> dirs;
  for (const std::string& parent : parents_) dirs.push_back(parent + "/" + name);
  RunCgroup run(mode_, dirs);
  for (const std::string& dir : dirs) {
    absl::Status made = MakeGroupDir(dir);
    if (!made.ok()) {
      run.Remove().IgnoreError();
      return made;
    }
  }
  absl::Status status;
  const std::string memory = std::to_string(memory_bytes);
  const std::string pids = std::to_string(max_pids);
  if (mode_ == CgroupMode::kV2) {
    const std::string& dir = dirs[0];
    status.Update(WriteCgroupFile(dir + "/memory.max", memory));
    if (Exists(dir + "/memory.swap.max")) status.Update(WriteCgroupFile(dir + "/memory.swap.max", "0"));
    // One OOM kill takes the whole run down, so MLE is one clean event.
    if (Exists(dir + "/memory.oom.group")) status.Update(WriteCgroupFile(dir + "/memory.oom.group", "1"));
    status.Update(WriteCgroupFile(dir + "/pids.max", pids));
  } else {
    status.Update(WriteCgroupFile(dirs[0] + "/memory.limit_in_bytes", memory));
    if (Exists(dirs[0] + "/memory.memsw.limit_in_bytes")) {
      status.Update(WriteCgroupFile(dirs[0] + "/memory.memsw.limit_in_bytes", memory));
    }
    status.Update(WriteCgroupFile(dirs[1] + "/pids.max", pids));
  }
  if (!status.ok()) {
    run.Remove().IgnoreError();
    return status;
  }
  return run;
}

void Cgroups::Teardown() const {
  for (const std::string& parent : parents_) RemoveTreeOfGroups(parent);
}

void Cgroups::RemoveStaleGroups() const {
  for (const std::string& parent : parents_) {
    std::string dir = parent.substr(0, parent.rfind('/'));
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    std::vector<std::string> stale;
    while (dirent* e = ::readdir(d)) {
      absl::string_view name = e->d_name;
      int pid = 0;
      if (!absl::ConsumePrefix(&name, "crucible-") || !absl::SimpleAtoi(name, &pid)) continue;
      if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
        stale.push_back(dir + "/" + e->d_name);
      }
    }
    ::closedir(d);
    for (const std::string& s : stale) RemoveTreeOfGroups(s);
  }
}

}  // namespace crucible::sandbox
