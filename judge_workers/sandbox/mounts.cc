#include "judge_workers/sandbox/mounts.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace crucible::sandbox {
namespace {

// System directories offered read-only. On merged-/usr systems most are symlinks into
// /usr and are recreated as the same symlinks.
constexpr const char* kSystemPaths[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                                        "/libx32",
                                        // The only host files from /etc: the dynamic loader's
                                        // configuration and the alternatives links some
                                        // toolchains go through.
                                        "/etc/ld.so.cache", "/etc/ld.so.conf",
                                        "/etc/ld.so.conf.d", "/etc/alternatives"};

constexpr const char* kDevices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                                    "/dev/urandom"};

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    "sandbox:x:1000:1000:sandbox:/tmp:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
constexpr char kGroup[] = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n";

absl::Status PathError(absl::string_view what, absl::string_view path) {
  return ErrnoToStatus(errno, absl::StrCat(what, " ", path));
}

absl::Status Mount(const char* source, const std::string& target, const char* fstype,
                   unsigned long flags, const char* data) {
  if (::mount(source, target.c_str(), fstype, flags, data) != 0) {
    return PathError(absl::StrCat("mount ", source == nullptr ? "" : source, " on"), target);
  }
  return absl::OkStatus();
}

// Flags a bind inherits from its source and must keep across a remount inside a user
// namespace (the kernel refuses to clear locked flags).
unsigned long LockedFlags(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

absl::Status Bind(const std::string& source, const std::string& target, bool read_only,
                  unsigned long extra_flags) {
  CRUCIBLE_RETURN_IF_ERROR(Mount(source.c_str(), target, nullptr, MS_BIND, nullptr));
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | extra_flags | LockedFlags(source) |
                        (read_only ? MS_RDONLY : 0);
  return Mount(nullptr, target, nullptr, flags, nullptr);
}

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return PathError("mkdir", path);
  if (::chmod(path.c_str(), mode) != 0) return PathError("chmod", path);
  return absl::OkStatus();
}

absl::Status MakeFile(const std::string& path, absl::string_view contents) {
  return WriteFile(path, contents, 0644);
}

absl::Status MakeSymlink(const std::string& target, const std::string& link) {
  if (::symlink(target.c_str(), link.c_str()) != 0 && errno != EEXIST) {
    return PathError("symlink", link);
  }
  return absl::OkStatus();
}

// Mirrors one host path into the skeleton: a symlink as the same symlink, a directory
// or file as an empty mount point of the same kind, anything absent as nothing.
absl::Status MirrorIntoSkeleton(const std::string& root, const char* host_path) {
  struct stat st;
  if (::lstat(host_path, &st) != 0) return absl::OkStatus();
  std::string target = root + host_path;
  if (S_ISLNK(st.st_mode)) {
    char link[4096];
    ssize_t n = ::readlink(host_path, link, sizeof(link) - 1);
    if (n < 0) return PathError("readlink", host_path);
    link[n] = '\0';
    return MakeSymlink(link, target);
  }
  if (S_ISDIR(st.st_mode)) return MakeDir(target, 0755);
  if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) return MakeFile(target, "");
  return absl::OkStatus();
}

// Binds the host path over its mount point in the skeleton, if the skeleton has one.
absl::Status BindSystemPath(const std::string& root, const char* host_path) {
  struct stat host, mount_point;
  std::string target = root + host_path;
  if (::lstat(host_path, &host) != 0 || S_ISLNK(host.st_mode)) return absl::OkStatus();
  if (::lstat(target.c_str(), &mount_point) != 0 || S_ISLNK(mount_point.st_mode)) {
    return absl::OkStatus();
  }
  return Bind(host_path, target, /*read_only=*/true, MS_NODEV);
}

std::string TmpfsOptions(int64_t bytes) {
  return absl::StrCat("size=", bytes, ",mode=1777,nr_inodes=4096");
}

}  // namespace

absl::Status BuildSkeleton(const std::string& root) {
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(root, 0755));
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(root + "/etc", 0755));
  for (const char* path : kSystemPaths) CRUCIBLE_RETURN_IF_ERROR(MirrorIntoSkeleton(root, path));
  CRUCIBLE_RETURN_IF_ERROR(MakeFile(root + "/etc/passwd", kPasswd));
  CRUCIBLE_RETURN_IF_ERROR(MakeFile(root + "/etc/group", kGroup));
  CRUCIBLE_RETURN_IF_ERROR(MakeFile(root + "/etc/hostname", "sandbox\n"));
  const std::string dev = root + "/dev";
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(dev, 0755));
  for (const char* device : kDevices) {
    if (::access(device, F_OK) == 0) CRUCIBLE_RETURN_IF_ERROR(MakeFile(root + device, ""));
  }
  CRUCIBLE_RETURN_IF_ERROR(MakeSymlink("/proc/self/fd", dev + "/fd"));
  CRUCIBLE_RETURN_IF_ERROR(MakeSymlink("/proc/self/fd/0", dev + "/stdin"));
  CRUCIBLE_RETURN_IF_ERROR(MakeSymlink("/proc/self/fd/1", dev + "/stdout"));
  CRUCIBLE_RETURN_IF_ERROR(MakeSymlink("/proc/self/fd/2", dev + "/stderr"));
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(dev + "/shm", 0755));
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(root + "/tmp", 0755));
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(root + "/work", 0755));
  CRUCIBLE_RETURN_IF_ERROR(MakeDir(root + "/precompiled", 0755));
  return MakeDir(root + "/proc", 0555);
}

absl::Status EnterSandboxRoot(const MountPlan& plan) {
  // Nothing done here may propagate back to the host's mount namespace.
  CRUCIBLE_RETURN_IF_ERROR(Mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
  const std::string& root = plan.skeleton;
  // The skeleton becomes a mount point of its own so it can be pivoted into.
  CRUCIBLE_RETURN_IF_ERROR(Mount(root.c_str(), root, nullptr, MS_BIND, nullptr));
  for (const char* path : kSystemPaths) CRUCIBLE_RETURN_IF_ERROR(BindSystemPath(root, path));
  for (const char* device : kDevices) {
    struct stat st;
    if (::stat((root + device).c_str(), &st) != 0) continue;
    // A bind keeps the host device's mount flags, so the node stays usable even though
    // device nodes are otherwise dead inside a user namespace.
    CRUCIBLE_RETURN_IF_ERROR(Mount(device, root + device, nullptr, MS_BIND, nullptr));
  }
  const std::string tmp_options = TmpfsOptions(plan.tmp_bytes);
  CRUCIBLE_RETURN_IF_ERROR(
      Mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_options.c_str()));
  CRUCIBLE_RETURN_IF_ERROR(
      Mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, tmp_options.c_str()));
  CRUCIBLE_RETURN_IF_ERROR(
      Bind(plan.work_dir, root + "/work", !plan.work_dir_writable, MS_NODEV));
  if (!plan.precompiled_dir.empty()) {
    CRUCIBLE_RETURN_IF_ERROR(
        Bind(plan.precompiled_dir, root + "/precompiled", /*read_only=*/true, MS_NODEV | MS_NOEXEC));
  }
  if (plan.mount_proc) {
    CRUCIBLE_RETURN_IF_ERROR(
        Mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
  }
  // pivot_root(".", ".") stacks the old root under the new one; detaching "." then
  // removes the host's tree from this namespace entirely.
  if (::chdir(root.c_str()) != 0) return PathError("chdir", root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return PathError("pivot_root", root);
  if (::umount2(".", MNT_DETACH) != 0) return PathError("umount old root", root);
  if (::chdir("/") != 0) return PathError("chdir", "/");
  // The skeleton itself is read-only: the program can write only /tmp, /dev/shm and, when
  // compiling, /work.
  return Mount(nullptr, "/", nullptr,
               MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | LockedFlags("/"), nullptr);
}

bool ProbeProcMount() {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) != 0) ::_exit(1);
    pid_t inner = ::fork();
    if (inner < 0) ::_exit(1);
    if (inner == 0) {
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(1);
      // Over the host's /proc, privately: only this throwaway namespace sees it.
      ::_exit(::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0
                  ? 0
                  : 1);
    }
    int status = 0;
    ::waitpid(inner, &status, 0);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace crucible::sandbox
