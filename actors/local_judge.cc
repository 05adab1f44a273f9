#include "actors/local_judge.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/subprocess.h"

namespace crucible {

std::string DefaultJudgeBinary() { return ExecutableDir() + "/crucible-judge"; }

absl::StatusOr<std::unique_ptr<LocalJudge>> LocalJudge::Start(
    const std::string& binary, const std::vector<std::string>& extra_flags,
    absl::Duration timeout) {
  std::unique_ptr<LocalJudge> judge(new LocalJudge());
  judge->port_file_ = absl::StrCat(TempRoot(), "/crucible-judge-port.", ::getpid(), ".",
                                   reinterpret_cast<uintptr_t>(judge.get()));
  ::unlink(judge->port_file_.c_str());
  SpawnOptions spawn;
  spawn.argv = {binary, "serve", "--host=127.0.0.1", "--port=0", "--metrics_port=-1",
                "--port_file=" + judge->port_file_};
  for (const std::string& flag : extra_flags) spawn.argv.push_back(flag);
  absl::StatusOr<pid_t> pid = Spawn(spawn);
  if (!pid.ok()) return pid.status();
  judge->pid_ = *pid;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFile(judge->port_file_);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
      judge->address_ = absl::StrCat("127.0.0.1:", port);
      return judge;
    }
    int status = 0;
    if (::waitpid(judge->pid_, &status, WNOHANG) == judge->pid_) {
      judge->pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat(binary, " exited during start-up (status ", status, ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(binary, " did not start listening"));
}

LocalJudge::~LocalJudge() {
  if (pid_ > 0) Stop();
  ::unlink(port_file_.c_str());
}

int LocalJudge::Stop() {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  absl::StatusOr<int> status = WaitForPid(pid_);
  pid_ = -1;
  if (!status.ok()) return -1;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -WTERMSIG(*status);
}

void LocalJudge::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  WaitForPid(pid_).IgnoreError();
  pid_ = -1;
}

}  // namespace crucible
