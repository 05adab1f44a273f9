// Small file-system helpers with Status errors that name the path. WriteFileAtomic writes a
// temporary file beside the target and renames it, so readers see the old or the new file,
// never a partial one.
#ifndef CRUCIBLE_COMMON_FILES_H_
#define CRUCIBLE_COMMON_FILES_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crucible {

absl::StatusOr<std::string> ReadFile(const std::string& path);
absl::Status WriteFile(const std::string& path, absl::string_view contents, int mode = 0644);
absl::Status WriteFileAtomic(const std::string& path, absl::string_view contents, int mode = 0644);

// Creates a fresh directory "<parent>/<prefix>XXXXXX" and returns its path.
absl::StatusOr<std::string> MakeTempDir(const std::string& parent, const std::string& prefix);

// Removes a directory tree; a missing path is not an error.
absl::Status RemoveTree(const std::string& path);

// What processes that died left behind: removes (files or whole trees) the entries of
// `dir` named "<prefix><pid><separator>..." whose pid no longer runs. Entries of live
// processes, this one included, and names that do not parse are kept.
void RemoveEntriesOfDeadProcesses(const std::string& dir, absl::string_view prefix, char separator);

// mkdir -p: every missing directory of `path` (mode 0755); existing ones are fine.
absl::Status MakeDirs(const std::string& path);

// The directory for temporary files: $TMPDIR or /tmp.
std::string TempRoot();

// The directory holding the running executable (from /proc/self/exe).
std::string ExecutableDir();

// A directory removed with everything in it when the object goes away.
class ScopedTempDir {
 public:
  ScopedTempDir() = default;
  ~ScopedTempDir();
  ScopedTempDir(ScopedTempDir&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  ScopedTempDir& operator=(ScopedTempDir&& other) noexcept;
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  static absl::StatusOr<ScopedTempDir> Create(const std::string& parent,
                                              const std::string& prefix);
  const std::string& path() const { return path_; }

 private:
  explicit ScopedTempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_FILES_H_
