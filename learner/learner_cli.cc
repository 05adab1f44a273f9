#include "learner/learner_cli.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/model/checkpoint.h"
#include "common/model/heads.h"
#include "common/model/model_cli.h"
#include "common/model/runtime.h"
#include "learner/train_checkpoint.h"
#include "nlohmann/json.hpp"

namespace crucible::learner {
namespace {

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "crucible learner: %s\n", std::string(message).c_str());
  return code;
}

// Ranks sharing a node share its cores: each gets its part unless the user chose.
void SplitThreadsAmongLocalRanks() {
  if (std::getenv("CRUCIBLE_THREADS") != nullptr) return;
  const char* local = std::getenv("LOCAL_WORLD_SIZE");
  if (local == nullptr) local = std::getenv("SLURM_NTASKS_PER_NODE");
  const int n = local != nullptr ? std::atoi(local) : 1;
  if (n <= 1) return;
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  ::setenv("CRUCIBLE_THREADS", std::to_string(std::max(1u, cpus / n)).c_str(), 0);
}

std::string Bar(int64_t done, int64_t total) {
  const int width = 24;
  const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '.'), "]");
}

void PrintStep(const StepMetrics& m, int64_t total, bool json, bool tty) {
  if (json) {
    nlohmann::json j = {{"step", m.step},    {"loss", m.loss},     {"lr", m.lr},
                        {"grad_norm", m.grad_norm}, {"tokens", m.tokens}, {"examples", m.examples},
                        {"epoch", m.epoch},  {"seconds", m.seconds}};
    for (const auto& [k, v] : m.terms) j[k] = v;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::string line = absl::StrFormat("step %d/%d loss %.6f lr %.3g grad_norm %.4f tokens/s %.0f", m.step, total, m.loss,
                                       m.lr, m.grad_norm, m.tokens / std::max(1e-9, m.seconds));
    for (const auto& [k, v] : m.terms) absl::StrAppendFormat(&line, " %s %.5g", k, v);
    if (tty) line = absl::StrCat(Bar(m.step, total), " ", line);
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

absl::StatusOr<AdvantageEstimator> ParseAdvantage(const std::string& name) {
  if (name == "gae") return AdvantageEstimator::kGae;
  if (name == "rloo") return AdvantageEstimator::kRloo;
  if (name == "grpo") return AdvantageEstimator::kGrpo;
  return absl::InvalidArgumentError(absl::StrCat("unknown advantage estimator \"", name, "\" (gae, rloo, grpo)"));
}

}  // namespace

int RunOffline(const OfflineCommand& c) {
  if (c.data.empty() || c.checkpoint_dir.empty() || c.model_dir.empty()) {
    return Fail(2, "--data, --checkpoint and --model are required");
  }
  if (c.steps < 1) return Fail(2, "--steps must be at least 1");
  TrainerOptions options = c.trainer;
  absl::StatusOr<Algorithm> algorithm = ParseAlgorithm(c.algorithm);
  if (!algorithm.ok()) return Fail(2, algorithm.status().message());
  options.algorithm = *algorithm;
  absl::StatusOr<AdvantageEstimator> advantage = ParseAdvantage(c.advantage);
  if (!advantage.ok()) return Fail(2, advantage.status().message());
  options.advantage = *advantage;
  if (c.kl_estimator != "k1" && c.kl_estimator != "k3") return Fail(2, "--kl-estimator must be k1 or k3");
  options.kl_estimator = c.kl_estimator == "k3" ? KlEstimator::kK3 : KlEstimator::kK1;
  options.shuffle = c.shuffle;
  options.optimizer.schedule.total_steps = c.steps;

  absl::StatusOr<Rendezvous> rendezvous = RendezvousFromEnvironment();
  if (!rendezvous.ok()) return Fail(2, rendezvous.status().message());
  SplitThreadsAmongLocalRanks();
  model::ConfigureCpuRuntime();
  absl::StatusOr<model::ModelOptions> model_options = model::ParseModelOptions(c.device, c.dtype);
  if (!model_options.ok()) return Fail(2, model_options.status().message());
  if (model_options->device.is_cuda()) {
    model_options->device = torch::Device(torch::kCUDA, rendezvous->local_rank % torch::cuda::device_count());
  }

  CommunicatorOptions comm_options;
  comm_options.backend = c.backend;
  comm_options.rendezvous = *rendezvous;
  comm_options.connect_timeout = absl::Seconds(c.connect_timeout_s);
  absl::StatusOr<std::unique_ptr<Communicator>> comm = CreateCommunicator(comm_options);
  if (!comm.ok()) return Fail(comm.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1, comm.status().message());
  const bool leader = (*comm)->rank() == 0;

  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(c.tokenizer.empty() ? model::DefaultTokenizerFor(c.model_dir) : c.tokenizer);
  if (!tokenizer.ok()) return Fail(2, tokenizer.status().message());
  absl::StatusOr<model::CausalLm> model = model::LoadCausalLm(c.model_dir, *model_options);
  if (!model.ok()) return Fail(2, model.status().message());
  absl::StatusOr<std::vector<Example>> data =
      LoadExamples(c.data, DataKindOf(options.algorithm), **tokenizer, (*model)->config().vocab_size);
  if (!data.ok()) return Fail(2, data.status().message());

  model::LoraConfig lora;
  options.full_parameters = c.full_parameters;
  if (c.full_parameters) {
    if (!c.init_adapter.empty()) return Fail(2, "--full-parameters trains the model itself: no --init-adapter");
    lora.base_model_name_or_path = c.model_dir;
  } else if (!c.init_adapter.empty()) {
    absl::StatusOr<model::LoraConfig> loaded = model::LoadPeftAdapter(*model, c.init_adapter);
    if (!loaded.ok()) return Fail(2, loaded.status().message());
    lora = *loaded;
  } else {
    lora.settings.rank = c.lora_rank;
    lora.settings.alpha = c.lora_alpha;
    lora.base_model_name_or_path = c.model_dir;
    if (absl::StatusOr<int> n = model::AttachLora(*model, lora, options.seed); !n.ok()) return Fail(2, n.status().message());
  }

  std::optional<Critic> critic;
  if (!c.critic.empty()) {
    if (options.algorithm != Algorithm::kCodeRl) return Fail(2, "--critic is for --algo coderl");
    absl::StatusOr<Critic> loaded = LoadFrozenCritic(c.critic, c.model_dir, *model_options);
    if (!loaded.ok()) return Fail(2, loaded.status().message());
    critic = *std::move(loaded);
  }

  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*model, *std::move(data), **comm, options, critic ? &*critic : nullptr);
  if (!trainer.ok()) return Fail(2, trainer.status().message());

  absl::StatusOr<std::optional<std::string>> latest = LatestTrainCheckpoint(c.checkpoint_dir);
  if (!latest.ok()) return Fail(1, latest.status().message());
  if (latest->has_value()) {
    if (absl::Status s = RestoreTrainCheckpoint(**trainer, **latest); !s.ok()) return Fail(1, s.ToString());
    if (leader) std::fprintf(stderr, "crucible learner: resumed from %s (step %lld)\n", (*latest)->c_str(),
                             static_cast<long long>((*trainer)->step()));
  }
  if (leader) {
    std::fprintf(stderr, "crucible learner: %s on %d rank(s) (%s), batch %lld, steps %lld\n",
                 AlgorithmName(options.algorithm), (*comm)->size(), (*comm)->backend().c_str(),
                 static_cast<long long>(options.batch_size), static_cast<long long>(c.steps));
  }

  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  auto save = [&]() -> absl::Status {
    absl::Status s = leader ? SaveTrainCheckpoint(**trainer, c.checkpoint_dir, lora, c.keep) : absl::OkStatus();
    // Every rank waits for the write, so no rank runs ahead of a checkpoint that failed.
    torch::Tensor ok = torch::tensor({s.ok() ? 0.0 : 1.0}, torch::kFloat64);
    if (absl::Status r = AllReduceTensors(**comm, {ok}, ReduceOp::kSum, options.collective_timeout); !r.ok()) return r;
    if (!s.ok()) return s;
    if (ok.item<double>() != 0) return absl::InternalError("the checkpoint failed on rank 0");
    return absl::OkStatus();
  };
  int64_t taken = 0;
  while ((*trainer)->step() < c.steps) {
    absl::StatusOr<StepMetrics> m = (*trainer)->Step();
    if (!m.ok()) return Fail(1, m.status().ToString());
    ++taken;
    if (leader) PrintStep(*m, c.steps, c.json, tty);
    // Every rank stops at the same step: a stop seen by any rank stops all.
    const bool stop_here = c.stop != nullptr && c.stop->load();
    torch::Tensor stop = torch::tensor({stop_here ? 1.0 : 0.0}, torch::kFloat64);
    if (absl::Status s =
            AllReduceTensors(**comm, {stop}, ReduceOp::kSum, options.collective_timeout);
        !s.ok()) {
      return Fail(1, s.ToString());
    }
    const bool stopping = stop.item<double>() > 0;
    const bool done = (*trainer)->step() == c.steps;
    const bool paused = c.stop_after > 0 && taken >= c.stop_after;
    if (stopping || done || paused || (c.save_every > 0 && (*trainer)->step() % c.save_every == 0)) {
      if (absl::Status s = save(); !s.ok()) return Fail(1, s.ToString());
    }
    if (stopping) {
      if (leader) {
        std::fprintf(stderr, "crucible learner: stopped: checkpointed step %lld, exiting\n",
                     static_cast<long long>((*trainer)->step()));
      }
      return 143;
    }
    if (paused) break;
  }
  if (leader) {
    std::fprintf(stderr, "crucible learner: step %lld; checkpoint %s/%s\n", static_cast<long long>((*trainer)->step()),
                 c.checkpoint_dir.c_str(), StepDirName((*trainer)->step()).c_str());
  }
  return 0;
}

}  // namespace crucible::learner
