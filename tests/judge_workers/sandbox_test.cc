#include <catch2/catch.hpp>

#include "common/files.h"
#include "judge_workers/sandbox/sandbox.h"

namespace crucible::sandbox {
namespace {

v1::SandboxLimits DefaultLimits() {
  v1::SandboxLimits l;
  l.set_cpu_time_ms(2000);
  l.set_wall_time_ms(4000);
  l.set_memory_bytes(256 << 20);
  l.set_max_processes(32);
  l.set_max_file_bytes(16 << 20);
  l.set_max_open_files(64);
  l.set_stack_bytes(64 << 20);
  l.set_tmp_bytes(16 << 20);
  return l;
}

TEST_CASE("sandbox runs a shell command", "[sandbox]") {
  auto sandbox = ForkServerSandbox::Start({});
  REQUIRE(sandbox.ok());
  auto dir = ScopedTempDir::Create(TempRoot(), "sbtest");
  REQUIRE(dir.ok());
  SandboxCommand cmd;
  cmd.argv = {"/bin/sh", "-c", "id; hostname; ls /; cat; ls /proc | head -5; echo err >&2"};
  cmd.work_dir = dir->path();
  cmd.stdin_data = "hello\n";
  auto out = (*sandbox)->Run(DefaultLimits(), cmd);
  if (!out.ok()) FAIL(out.status().ToString());
  INFO(out->stdout_data);
  INFO(out->stderr_data);
  INFO(out->result.DebugString());
  CHECK(out->result.exit_code() == 0);
  CHECK(false);
}

}  // namespace
}  // namespace crucible::sandbox
