// The sandbox on its own: what a program inside can see and do, how it ends, and that
// nothing of it outlives the run.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "judge_workers/sandbox/python_zygote.h"
#include "common/files.h"
#include "tests/support/test_support.h"

namespace crucible::sandbox {
namespace {

using crucible::testing::SharedSandbox;
using crucible::testing::TestLimits;

class WorkDir {
 public:
  WorkDir() {
    auto dir = ScopedTempDir::Create(TempRoot(), "sandbox-test");
    REQUIRE(dir.ok());
    dir_ = std::move(*dir);
    ::chmod(dir_.path().c_str(), 0755);
  }
  const std::string& path() const { return dir_.path(); }
  void Write(const std::string& name, const std::string& text) {
    REQUIRE(WriteFile(path() + "/" + name, text).ok());
  }

 private:
  ScopedTempDir dir_;
};

SessionOptions Session(const std::string& dir, const v1::SandboxLimits& limits = TestLimits()) {
  SessionOptions options;
  options.work_dir = dir;
  options.limits = limits;
  return options;
}

SandboxOutput RunShell(const std::string& script, const v1::SandboxLimits& limits = TestLimits(),
                       const std::string& stdin_data = "") {
  WorkDir dir;
  SandboxCommand cmd;
  cmd.argv = {"/bin/sh", "-c", script};
  cmd.stdin_data = stdin_data;
  auto out = SharedSandbox()->RunOnce(Session(dir.path(), limits), cmd);
  if (!out.ok()) FAIL(out.status().ToString());
  return *std::move(out);
}

SandboxOutput RunPython(const std::string& source, bool zygote = true,
                        const v1::SandboxLimits& limits = TestLimits(),
                        const std::string& stdin_data = "") {
  WorkDir dir;
  dir.Write("main.py", source);
  SandboxCommand cmd;
  cmd.argv = {CRUCIBLE_PYTHON_EXECUTABLE, "/work/main.py"};
  cmd.action = zygote ? v1::RunRequest::PYTHON_RUN : v1::RunRequest::EXEC;
  cmd.python_script = "/work/main.py";
  cmd.stdin_data = stdin_data;
  auto out = SharedSandbox()->RunOnce(Session(dir.path(), limits), cmd);
  if (!out.ok()) FAIL(out.status().ToString());
  return *std::move(out);
}

void RequireNothingLeft() {
  auto sandbox = SharedSandbox();
  auto [uid, gid] = sandbox->OutsideIds(0);
  if (::geteuid() == 0) {
    CHECK(crucible::testing::ProcessesWithUids(uid, ForkServerSandbox::kUidBlock).empty());
  }
  CHECK(crucible::testing::LeftoverCgroups(*sandbox).empty());
}

TEST_CASE("stdin, stdout, stderr and the exit code come through", "[sandbox]") {
  SandboxOutput out = RunShell("read x; echo \"got $x\"; echo oops >&2; exit 7", TestLimits(), "42\n");
  CHECK(out.stdout_data == "got 42\n");
  CHECK(out.stderr_data == "oops\n");
  CHECK(out.result.exit_code() == 7);
  CHECK(out.result.term_signal() == 0);
  CHECK_FALSE(out.result.wall_timeout());
  RequireNothingLeft();
}

TEST_CASE("the program runs as an unprivileged user alone in its namespaces", "[sandbox]") {
  SandboxOutput out = RunShell(
      "id -u; id -g; hostname; echo $$; ls /proc | grep -c '^[0-9]'; cat /proc/net/dev | wc -l; "
      "grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; "
      "grep Seccomp: /proc/self/status");
  INFO(out.stdout_data << out.stderr_data);
  std::vector<std::string> lines = absl::StrSplit(out.stdout_data, '\n');
  REQUIRE(lines.size() >= 9);
  CHECK(lines[0] == "1000");
  CHECK(lines[1] == "1000");
  CHECK(lines[2] == "sandbox");
  CHECK(lines[3] == "2");  // pid 1 is the sandbox's init
  // Only this namespace's processes are visible: init, the shell and its pipeline.
  int visible = std::stoi(lines[4]);
  CHECK(visible <= 5);
  CHECK(lines[5] == "3");  // header lines plus loopback only: no network device
  CHECK(absl::StrContains(lines[6], "0000000000000000"));
  CHECK(absl::StrContains(lines[7], "1"));
  CHECK(absl::StrContains(lines[8], "2"));  // filter mode
}

TEST_CASE("the file system view holds only system directories and private scratch space",
          "[sandbox]") {
  SandboxOutput out = RunShell(
      "ls /; echo ---; ls /etc; echo ---; "
      "touch /usr/x 2>/dev/null && echo usr-writable; "
      "touch /etc/x 2>/dev/null && echo etc-writable; "
      "touch /work/x 2>/dev/null && echo work-writable; "
      "touch /x 2>/dev/null && echo root-writable; "
      "echo data > /tmp/scratch && cat /tmp/scratch; "
      "ls /root /home /var 2>&1 | head -3");
  INFO(out.stdout_data << out.stderr_data);
  std::vector<std::string> parts = absl::StrSplit(out.stdout_data, "---\n");
  REQUIRE(parts.size() == 3);
  for (const char* absent : {"root\n", "home\n", "var\n", "sys\n", "run\n", "opt\n"}) {
    CHECK_FALSE(absl::StrContains(parts[0], absent));
  }
  CHECK(absl::StrContains(parts[0], "usr\n"));
  CHECK(absl::StrContains(parts[0], "tmp\n"));
  CHECK(absl::StrContains(parts[0], "work\n"));
  CHECK_FALSE(absl::StrContains(parts[1], "shadow"));
  CHECK_FALSE(absl::StrContains(parts[1], "hosts"));
  CHECK_FALSE(absl::StrContains(out.stdout_data, "writable"));
  CHECK(absl::StrContains(parts[2], "data\n"));
  CHECK(absl::StrContains(out.stdout_data, "No such file"));
}

TEST_CASE("a secret file of the host cannot be read from inside", "[sandbox]") {
  auto secret_dir = ScopedTempDir::Create(TempRoot(), "secret");
  REQUIRE(secret_dir.ok());
  ::chmod(secret_dir->path().c_str(), 0755);
  const std::string secret = secret_dir->path() + "/token";
  REQUIRE(WriteFile(secret, "s3cr3t-value\n", 0644).ok());
  SandboxOutput out = RunShell(absl::StrCat("cat ", secret, " /proc/1/environ /proc/1/root/etc/passwd 2>&1; "
                                            "cat /etc/passwd"));
  CHECK_FALSE(absl::StrContains(out.stdout_data, "s3cr3t-value"));
  CHECK(absl::StrContains(out.stdout_data, "sandbox:x:1000"));
  CHECK_FALSE(absl::StrContains(out.stdout_data, "daemon:"));
}

TEST_CASE("the wall-clock limit stops a sleeping program and everything it started",
          "[sandbox]") {
  v1::SandboxLimits limits = TestLimits();
  limits.set_wall_time_ms(500);
  SandboxOutput out = RunShell("sleep 100 & sleep 100", limits);
  CHECK(out.result.wall_timeout());
  CHECK(out.result.term_signal() == SIGKILL);
  CHECK(out.result.wall_time_us() < 3'000'000);
  RequireNothingLeft();
}

TEST_CASE("the CPU limit stops a busy loop", "[sandbox]") {
  v1::SandboxLimits limits = TestLimits();
  limits.set_cpu_time_ms(300);
  limits.set_wall_time_ms(10000);
  SandboxOutput out = RunShell("while :; do :; done", limits);
  // RLIMIT_CPU rounds up to whole seconds: SIGXCPU arrives after about 2 s of CPU.
  CHECK(out.result.term_signal() == SIGXCPU);
  CHECK(out.result.cpu_time_us() > 300'000);
  CHECK_FALSE(out.result.wall_timeout());
}

TEST_CASE("background processes do not outlive the program", "[sandbox]") {
  SandboxOutput out = RunShell("(sleep 1000 &) ; (sh -c 'while :; do sleep 1; done' &); echo started");
  CHECK(out.stdout_data == "started\n");
  CHECK(out.result.exit_code() == 0);
  RequireNothingLeft();
}

TEST_CASE("the output limit ends a flood with SIGXFSZ", "[sandbox]") {
  v1::SandboxLimits limits = TestLimits();
  limits.set_max_file_bytes(1 << 20);
  WorkDir dir;
  SandboxCommand cmd;
  cmd.argv = {"/usr/bin/yes", "flood"};
  auto run = SharedSandbox()->RunOnce(Session(dir.path(), limits), cmd);
  REQUIRE(run.ok());
  SandboxOutput out = *std::move(run);
  CHECK(out.result.term_signal() == SIGXFSZ);
  CHECK(out.stdout_bytes == (1 << 20));
}

TEST_CASE("the process limit contains a fork bomb", "[sandbox]") {
  v1::SandboxLimits limits = TestLimits();
  limits.set_max_processes(16);
  limits.set_wall_time_ms(3000);
  SandboxOutput out = RunPython(
      "import os, time\n"
      "children = failures = 0\n"
      "for i in range(200):\n"
      "    try:\n"
      "        pid = os.fork()\n"
      "    except OSError:\n"
      "        failures += 1\n"
      "        continue\n"
      "    if pid == 0:\n"
      "        time.sleep(100)\n"
      "        os._exit(0)\n"
      "    children += 1\n"
      "print(children, failures > 0)\n",
      /*zygote=*/true, limits);
  INFO(out.stdout_data << out.stderr_data.substr(0, 500));
  CHECK(out.result.exit_code() == 0);
  CHECK(absl::EndsWith(out.stdout_data, " True\n"));
  CHECK(std::stoi(out.stdout_data) < 16);
  // The sleeping children went with the run.
  RequireNothingLeft();
}

TEST_CASE("memory beyond the limit is refused or killed", "[sandbox]") {
  v1::SandboxLimits limits = TestLimits();
  limits.set_memory_bytes(64 << 20);
  SandboxOutput out =
      RunPython("x = bytearray(10 * 1024 * 1024)\nchunks = []\nwhile True:\n"
                "    chunks.append(bytearray(8 * 1024 * 1024))\n",
                /*zygote=*/true, limits);
  const bool cgroup = SharedSandbox()->info().cgroup_mode() != "none";
  INFO(out.result.DebugString() << out.stderr_data);
  if (cgroup) {
    CHECK((out.result.oom_killed() || absl::StrContains(out.stderr_data, "MemoryError")));
    CHECK(out.result.memory_from_cgroup());
  } else {
    CHECK(absl::StrContains(out.stderr_data, "MemoryError"));
  }
  CHECK(out.result.peak_memory_bytes() > (32 << 20));
}

TEST_CASE("seccomp refuses sockets with EPERM and reports the call", "[sandbox][seccomp]") {
  SandboxOutput out = RunPython(
      "import socket\n"
      "try:\n    socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
      "except PermissionError as e:\n    print('refused', e.errno)\n"
      "import socket as s2\na, b = s2.socketpair()\nprint('unix ok')\n");
  INFO(out.stderr_data);
  CHECK(out.stdout_data == "refused 1\nunix ok\n");
  CHECK(out.result.exit_code() == 0);
  if (SharedSandbox()->info().seccomp_notify()) {
    CHECK(out.result.blocked_syscall() == "socket");
    CHECK_FALSE(out.result.seccomp_killed());
  }
}

TEST_CASE("seccomp kills a program that calls ptrace, mount or unshare", "[sandbox][seccomp]") {
  for (const char* call : {"ptrace", "mount", "unshare"}) {
    std::string source =
        absl::StrCat("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n", "print('before', flush=True)\n",
                     call == std::string("ptrace") ? "libc.ptrace(0, 0, 0, 0)\n"
                     : call == std::string("mount")
                         ? "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\n"
                         : "libc.unshare(0x10000000)\n",
                     "print('after')\n");
    SandboxOutput out = RunPython(source);
    INFO(call << ": " << out.result.DebugString() << out.stderr_data);
    CHECK(out.stdout_data == "before\n");
    if (SharedSandbox()->info().seccomp_notify()) {
      CHECK(out.result.blocked_syscall() == call);
      CHECK(out.result.seccomp_killed());
      CHECK(out.result.term_signal() == SIGKILL);
    } else {
      CHECK(out.result.term_signal() == SIGSYS);
    }
  }
  RequireNothingLeft();
}

TEST_CASE("the python zygote behaves like python3 main.py", "[sandbox][python]") {
  const std::string source =
      "import sys, os, random\n"
      "print(__name__, sys.argv, sys.path[0], os.getcwd())\n"
      "print(sorted(k for k in os.environ))\n"
      "print(sys.stdin.read().split())\n"
      "print(random.random())\n";
  SandboxOutput a = RunPython(source, true, TestLimits(), "1 2\n3\n");
  SandboxOutput b = RunPython(source, true, TestLimits(), "1 2\n3\n");
  SandboxOutput exec = RunPython(source, false, TestLimits(), "1 2\n3\n");
  INFO(a.stdout_data << a.stderr_data << exec.stdout_data << exec.stderr_data);
  std::vector<std::string> za = absl::StrSplit(a.stdout_data, '\n');
  std::vector<std::string> zb = absl::StrSplit(b.stdout_data, '\n');
  std::vector<std::string> ex = absl::StrSplit(exec.stdout_data, '\n');
  REQUIRE(za.size() == 5);
  REQUIRE(ex.size() == 5);
  CHECK(za[0] == "__main__ ['/work/main.py'] /work /work");
  CHECK(za[0] == ex[0]);
  CHECK(za[1] == ex[1]);  // the same environment
  CHECK(za[2] == "['1', '2', '3']");
  CHECK(za[3] != zb[3]);  // each fork is reseeded
}

TEST_CASE("python exit statuses and tracebacks match python3", "[sandbox][python]") {
  struct Case {
    std::string source;
    int exit_code;
    std::string stderr_tail;
  };
  std::vector<Case> cases = {
      {"import sys\nsys.exit(3)\n", 3, ""},
      {"raise SystemExit('bye')\n", 1, "bye\n"},
      {"def f():\n    return [][1]\nf()\n", 1, "IndexError: list index out of range\n"},
      {"import atexit\natexit.register(lambda: print('at exit'))\nprint('main')\n", 0, ""},
      {"import threading, time\n"
       "t = threading.Thread(target=lambda: (time.sleep(0.2), print('thread done')))\n"
       "t.start()\nprint('main done')\n",
       0, ""},
  };
  for (const Case& c : cases) {
    for (bool zygote : {true, false}) {
      SandboxOutput out = RunPython(c.source, zygote);
      INFO(c.source << " zygote=" << zygote << "\n" << out.stderr_data);
      CHECK(out.result.exit_code() == c.exit_code);
      CHECK(absl::EndsWith(out.stderr_data, c.stderr_tail));
      if (c.exit_code == 1 && !c.stderr_tail.empty() && c.stderr_tail[0] == 'I') {
        CHECK(absl::StrContains(out.stderr_data, "File \"/work/main.py\", line 2, in f"));
        CHECK_FALSE(absl::StrContains(out.stderr_data, "crucible"));
      }
    }
  }
  SandboxOutput threads = RunPython(cases[4].source);
  CHECK(threads.stdout_data == "main done\nthread done\n");
  SandboxOutput at_exit = RunPython(cases[3].source);
  CHECK(at_exit.stdout_data == "main\nat exit\n");
}

TEST_CASE("python compile check reports syntax errors as python3 does", "[sandbox][python]") {
  for (bool zygote : {true, false}) {
    WorkDir dir;
    dir.Write("main.py", "x = (1,\nprint(x)\n");
    SandboxCommand cmd;
    cmd.argv = {CRUCIBLE_PYTHON_EXECUTABLE, "-c", kPythonCheckScript, "/work/main.py"};
    cmd.action = zygote ? v1::RunRequest::PYTHON_CHECK : v1::RunRequest::EXEC;
    cmd.python_script = "/work/main.py";
    auto out = SharedSandbox()->RunOnce(Session(dir.path()), cmd);
    REQUIRE(out.ok());
    INFO(out->stderr_data);
    CHECK(out->result.exit_code() == 1);
    CHECK(absl::StrContains(out->stderr_data, "SyntaxError: '(' was never closed"));
    CHECK(absl::StrContains(out->stderr_data, "File \"/work/main.py\", line 1"));
  }
}

// True once `pid` has exited: its /proc entry is gone or it is a zombie.
bool ProcessExited(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z' || line[paren + 2] == 'X';
}

TEST_CASE("a dead sandbox server is replaced", "[sandbox]") {
  auto sandbox = SharedSandbox();
  pid_t before = sandbox->server_pid();
  REQUIRE(before > 0);
  WorkDir dir;
  SandboxCommand cmd;
  cmd.argv = {"/bin/true"};
  auto session = sandbox->OpenSession(Session(dir.path()));
  REQUIRE(session.ok());
  REQUIRE((*session)->Run(cmd).ok());
  ::kill(before, SIGKILL);
  // SIGKILL is asynchronous: wait until the server has exited (a zombie, or reaped), by
  // which time the kernel has sent the session's init its parent-death SIGKILL.
  for (int i = 0; i < 500 && !ProcessExited(before); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(ProcessExited(before));
  // The open session dies with the server (its init is killed with it) and says so.
  auto broken = (*session)->Run(cmd);
  CHECK_FALSE(broken.ok());
  // The first session after the crash may find the server gone; the next one succeeds.
  (void)sandbox->RunOnce(Session(dir.path()), cmd);
  auto out = sandbox->RunOnce(Session(dir.path()), cmd);
  REQUIRE(out.ok());
  CHECK(out->result.exit_code() == 0);
  CHECK(sandbox->server_pid() != before);
  RequireNothingLeft();
}

TEST_CASE("a cancelled session kills its run at once and stays closed", "[sandbox]") {
  WorkDir dir;
  v1::SandboxLimits limits = TestLimits();
  limits.set_wall_time_ms(60'000);
  auto session = SharedSandbox()->OpenSession(Session(dir.path(), limits));
  REQUIRE(session.ok());
  SandboxCommand cmd;
  cmd.argv = {"/bin/sh", "-c", "sleep 100 & (sleep 100 &); while :; do :; done"};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    (*session)->Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto out = (*session)->Run(cmd);
  const auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  CHECK(absl::IsCancelled(out.status()));
  CHECK(took < std::chrono::seconds(10));
  cmd.argv = {"/bin/true"};
  CHECK_FALSE((*session)->Run(cmd).ok());
  // The init killed everything of the run; the server goes on serving.
  for (int i = 0; i < 200 && ::geteuid() == 0 && !crucible::testing::ProcessesWithUids(
                                  SharedSandbox()->OutsideIds(0).first, 1).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RequireNothingLeft();
  SandboxOutput again = RunShell("echo served");
  CHECK(again.stdout_data == "served\n");
}

TEST_CASE("the precompiled directory is offered read-only, and only when a session asks",
          "[sandbox]") {
  WorkDir offered;
  offered.Write("marker", "precompiled-marker\n");
  WorkDir dir;
  SessionOptions options = Session(dir.path());
  options.precompiled_dir = offered.path();
  SandboxCommand cmd;
  cmd.argv = {"/bin/sh", "-c",
              "cat /precompiled/marker; touch /precompiled/x 2>/dev/null && echo writable; "
              "echo x >> /precompiled/marker 2>/dev/null && echo appendable; "
              "cp /bin/true /tmp/t; ls /precompiled"};
  auto out = SharedSandbox()->RunOnce(options, cmd);
  REQUIRE(out.ok());
  INFO(out->stdout_data << out->stderr_data);
  CHECK(out->stdout_data == "precompiled-marker\nmarker\n");
  CHECK(ReadFile(offered.path() + "/marker").value_or("") == "precompiled-marker\n");
  SandboxOutput bare = RunShell("ls -A /precompiled | wc -l");
  CHECK(bare.stdout_data == "0\n");
  options.precompiled_dir = "relative/dir";
  CHECK_FALSE(SharedSandbox()->RunOnce(options, cmd).ok());
  RequireNothingLeft();
}

TEST_CASE("a bad request is a sandbox error, not a crash", "[sandbox]") {
  SandboxCommand cmd;
  cmd.argv = {"/bin/true"};
  auto out = SharedSandbox()->RunOnce(Session("relative/dir"), cmd);
  CHECK_FALSE(out.ok());
  WorkDir dir;
  cmd.argv = {"/no/such/binary"};
  out = SharedSandbox()->RunOnce(Session(dir.path()), cmd);
  REQUIRE_FALSE(out.ok());
  CHECK(absl::StrContains(out.status().message(), "execve /no/such/binary"));
  v1::SandboxLimits no_time = TestLimits();
  no_time.set_cpu_time_ms(0);
  CHECK_FALSE(SharedSandbox()->RunOnce(Session(dir.path(), no_time), cmd).ok());
  cmd.argv = {"/bin/true"};
  out = SharedSandbox()->RunOnce(Session(dir.path()), cmd);
  REQUIRE(out.ok());
  RequireNothingLeft();
}

TEST_CASE("runs of one session start clean: fresh scratch, IPC and processes",
          "[sandbox][session]") {
  WorkDir dir;
  auto session = SharedSandbox()->OpenSession(Session(dir.path()));
  REQUIRE(session.ok());
  SandboxCommand leave;
  leave.argv = {"/bin/sh", "-c",
                "echo left > /tmp/note; echo left > /dev/shm/note; (sleep 1000 &); "
                "ls /proc/sysvipc/shm >/dev/null 2>&1; echo $$"};
  auto first = (*session)->Run(leave);
  REQUIRE(first.ok());
  CHECK(first->result.exit_code() == 0);
  SandboxCommand look;
  look.argv = {"/bin/sh", "-c",
               "cat /tmp/note /dev/shm/note 2>&1; ps -e 2>/dev/null | grep -c sleep; "
               "ls /proc | grep -c '^[0-9]'"};
  auto second = (*session)->Run(look);
  REQUIRE(second.ok());
  INFO(second->stdout_data);
  CHECK_FALSE(absl::StrContains(second->stdout_data, "left"));
  CHECK(absl::StrContains(second->stdout_data, "No such file"));
  // Python in the same session: System V shared memory left by one run is gone in the
  // next, which has an IPC namespace of its own.
  SandboxCommand make_shm;
  make_shm.argv = {CRUCIBLE_PYTHON_EXECUTABLE, "-c",
                   "import ctypes; libc = ctypes.CDLL(None); "
                   "print(libc.shmget(0x1234, 4096, 0o1666) >= 0)"};
  auto made = (*session)->Run(make_shm);
  REQUIRE(made.ok());
  CHECK(made->stdout_data == "True\n");
  SandboxCommand find_shm;
  find_shm.argv = {CRUCIBLE_PYTHON_EXECUTABLE, "-c",
                   "import ctypes; libc = ctypes.CDLL(None); print(libc.shmget(0x1234, 0, 0))"};
  auto found = (*session)->Run(find_shm);
  REQUIRE(found.ok());
  CHECK(found->stdout_data == "-1\n");
  // Each run's CPU time and memory are its own.
  SandboxCommand busy;
  busy.argv = {CRUCIBLE_PYTHON_EXECUTABLE, "-c",
               "x = bytearray(60 * 1024 * 1024)\nfor i in range(0, len(x), 4096): x[i] = 1"};
  auto heavy = (*session)->Run(busy);
  REQUIRE(heavy.ok());
  SandboxCommand idle;
  idle.argv = {"/bin/true"};
  auto light = (*session)->Run(idle);
  REQUIRE(light.ok());
  CHECK(heavy->result.peak_memory_bytes() > (50 << 20));
  if (light->result.memory_from_cgroup()) CHECK(light->result.peak_memory_bytes() < (20 << 20));
  CHECK(light->result.cpu_time_us() < heavy->result.cpu_time_us());
  session->reset();
  RequireNothingLeft();
}

}  // namespace
}  // namespace crucible::sandbox
