#include "judge_workers/work_root.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace crucible {

absl::StatusOr<ClaimedDir> MakeClaimedDir(const std::string& parent, const std::string& prefix) {
  ClaimedDir claimed;
  CRUCIBLE_ASSIGN_OR_RETURN(claimed.path, MakeTempDir(parent, prefix));
  const std::string lock = absl::StrCat(claimed.path, "/", kWorkRootLockFile);
  claimed.lock_fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (claimed.lock_fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", lock));
  if (::flock(claimed.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(claimed.lock_fd);
    return ErrnoToStatus(error, absl::StrCat("flock ", lock));
  }
  return claimed;
}

int SweepAbandonedWorkRoots(const std::string& parent, const std::string& prefix, absl::Duration min_age) {
  DIR* dir = ::opendir(parent.c_str());
  if (dir == nullptr) return 0;
  std::vector<std::string> candidates;
  while (const dirent* entry = ::readdir(dir)) {
    if (absl::StartsWith(entry->d_name, prefix)) candidates.push_back(absl::StrCat(parent, "/", entry->d_name));
  }
  ::closedir(dir);
  const uid_t me = ::geteuid();
  const time_t now = std::time(nullptr);
  int removed = 0;
  for (const std::string& path : candidates) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != me) continue;
    const std::string lock = absl::StrCat(path, "/", kWorkRootLockFile);
    struct stat lock_st;
    if (::lstat(lock.c_str(), &lock_st) != 0 || !S_ISREG(lock_st.st_mode)) continue;
    if (absl::Seconds(static_cast<double>(now - lock_st.st_mtime)) < min_age) continue;
    const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      // Held while removing: a judge cannot claim this directory again (it makes fresh ones).
      if (absl::Status s = RemoveTree(path); s.ok()) {
        ++removed;
      } else {
        CRUCIBLE_LOG(Warning) << "could not remove the abandoned judge directory " << path << ": " << s;
      }
    }
    ::close(fd);
  }
  return removed;
}

}  // namespace crucible
