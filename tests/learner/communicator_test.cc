// The Communicator: rendezvous from launcher environments, and one conformance suite run
// against every backend this machine can run, with real processes per rank.
#include <catch2/catch.hpp>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "learner/communicator.h"
#include "tests/learner/launch.h"

namespace crucible::learner {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST_CASE("rendezvous from torchrun, Slurm and nothing", "[communicator]") {
  auto single = RendezvousFromEnvironment(Env({}));
  REQUIRE(single.ok());
  CHECK(single->source == "single");
  CHECK(single->world_size == 1);
  CHECK(single->rank == 0);

  auto torchrun = RendezvousFromEnvironment(Env({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                                 {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "1234"},
                                                 {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}));
  REQUIRE(torchrun.ok());
  CHECK(torchrun->source == "torchrun");  // RANK wins over Slurm's variables
  CHECK(torchrun->rank == 3);
  CHECK(torchrun->world_size == 8);
  CHECK(torchrun->local_rank == 1);
  CHECK(torchrun->master_addr == "node7");
  CHECK(torchrun->master_port == 1234);

  auto slurm = RendezvousFromEnvironment(Env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "2"},
                                              {"SLURM_JOB_NODELIST", "gpu[03-05,9],cpu1"}, {"SLURM_JOB_ID", "123456"}}));
  REQUIRE(slurm.ok());
  CHECK(slurm->source == "slurm");
  CHECK(slurm->rank == 5);
  CHECK(slurm->world_size == 6);
  CHECK(slurm->local_rank == 2);
  CHECK(slurm->master_addr == "gpu03");
  CHECK(slurm->master_port == 20000 + 123456 % 20000);
  auto step = RendezvousFromEnvironment(Env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"},
                                             {"SLURM_STEP_NODELIST", "a1,b2"}, {"SLURM_JOB_NODELIST", "z[1-2]"},
                                             {"MASTER_PORT", "4000"}}));
  REQUIRE(step.ok());
  CHECK(step->master_addr == "a1");
  CHECK(step->master_port == 4000);

  CHECK(FirstSlurmHost("node17") == "node17");
  CHECK(FirstSlurmHost("rack[2-3]-n[07-09]") == "rack2-n[07-09]");
  CHECK(FirstSlurmHost("n[001,005]") == "n001");

  for (const auto& bad : std::vector<std::map<std::string, std::string>>{
           {{"RANK", "2"}, {"WORLD_SIZE", "2"}},
           {{"RANK", "-1"}, {"WORLD_SIZE", "2"}},
           {{"RANK", "0"}, {"WORLD_SIZE", "0"}},
           {{"RANK", "x"}, {"WORLD_SIZE", "2"}},
           {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}},
           {{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}}}) {
    auto r = RendezvousFromEnvironment(Env(bad));
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("factory: unknown backends and a local communicator for many ranks are errors", "[communicator]") {
  CommunicatorOptions options;
  options.backend = "mpi";
  CHECK(CreateCommunicator(options).status().code() == absl::StatusCode::kInvalidArgument);
  options.backend = "local";
  options.rendezvous.world_size = 2;
  CHECK(CreateCommunicator(options).status().code() == absl::StatusCode::kInvalidArgument);
  options.rendezvous.world_size = 1;
  options.backend = "auto";
  auto local = CreateCommunicator(options);
  REQUIRE(local.ok());
  CHECK((*local)->backend() == "local");
}

std::vector<ProcessResult> RunWorker(const std::string& backend, const std::string& mode, int world) {
  return testing::LaunchRanks({ExecutableDir() + "/learner_comm_worker", backend, mode}, world);
}

void RequireAllPassed(const std::vector<ProcessResult>& results) {
  for (size_t r = 0; r < results.size(); ++r) {
    INFO("rank " << r << " stdout: " << results[r].stdout_data << " stderr: " << results[r].stderr_data);
    CHECK(results[r].exit_code == 0);
    CHECK(results[r].stdout_data.find("conformance ok") != std::string::npos);
  }
}

TEST_CASE("conformance: local", "[communicator]") { RequireAllPassed(RunWorker("local", "conformance", 1)); }

TEST_CASE("conformance: gloo with 1, 2 and 3 ranks", "[communicator]") {
  for (int world : {1, 2, 3}) {
    INFO("world " << world);
    RequireAllPassed(RunWorker("gloo", "conformance", world));
  }
}

TEST_CASE("gloo: a rank that never joins times the collective out", "[communicator]") {
  std::vector<ProcessResult> results = RunWorker("gloo", "timeout", 2);
  INFO("rank 0: " << results[0].stdout_data << results[0].stderr_data);
  CHECK(results[0].exit_code == 0);
}

TEST_CASE("conformance: nccl (needs a GPU)", "[communicator][gpu]") {
  if (!NcclBuilt()) {
    std::printf("SKIPPED: built without NCCL\n");
    std::exit(77);
  }
  std::vector<ProcessResult> results = RunWorker("nccl", "conformance", 1);
  if (results[0].exit_code == 77) {
    std::printf("%s", results[0].stdout_data.c_str());
    std::exit(77);
  }
  RequireAllPassed(results);
}

}  // namespace
}  // namespace crucible::learner
