// File helpers: what dead processes left behind is removed, nothing else.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace crucible {
namespace {

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

TEST_CASE("files: entries named for dead processes are removed, the rest kept", "[files]") {
  auto dir = ScopedTempDir::Create(TempRoot(), "files-test");
  REQUIRE(dir.ok());
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  REQUIRE(dead > 0);
  ::waitpid(dead, nullptr, 0);
  const std::string root = dir->path();
  const std::string dead_dir = absl::StrCat(root, "/job-", dead, "-1");
  const std::string dead_file = absl::StrCat(root, "/job-", dead, "-2");
  const std::string live = absl::StrCat(root, "/job-", ::getpid(), "-1");
  const std::string other_prefix = absl::StrCat(root, "/other-", dead, "-1");
  const std::string no_separator = absl::StrCat(root, "/job-", dead);
  const std::string not_a_pid = absl::StrCat(root, "/job-x-1");
  REQUIRE(MakeDirs(dead_dir + "/inside").ok());
  for (const std::string& f : {dead_file, live, other_prefix, no_separator, not_a_pid}) {
    REQUIRE(WriteFile(f, "x").ok());
  }
  RemoveEntriesOfDeadProcesses(root, "job-", '-');
  CHECK_FALSE(Exists(dead_dir));
  CHECK_FALSE(Exists(dead_file));
  CHECK(Exists(live));
  CHECK(Exists(other_prefix));
  CHECK(Exists(no_separator));
  CHECK(Exists(not_a_pid));
  RemoveEntriesOfDeadProcesses(root + "/missing", "job-", '-');  // no directory: nothing
}

}  // namespace
}  // namespace crucible
