#include "cli/rl_commands.h"

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "actors/actor.h"
#include "actors/local_judge.h"
#include "cli/launcher.h"
#include "cli/run_config.h"
#include "cli/signals.h"
#include "common/files.h"
#include "learner/online.h"

namespace crucible::cli {
namespace {

// What every process of the loop reads: the run config and the run directory.
struct RunArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string run_dir;
  void Declare(FlagSet& f, bool run_dir_required) {
    f.Add("config", &config, "the run's YAML (deploy/configs/default.yaml documents every key)");
    f.AddRepeated("set", &sets, "override a config key: --set actors.count=4 (repeatable)");
    f.Add("run-dir", &run_dir,
          run_dir_required ? "the run directory (checkpoints, logs, metrics)" : "the run directory");
  }
};

absl::StatusOr<RunConfig> Load(const RunArgs& a) { return LoadRunConfig(a.config, a.sets); }

int ConfigError(const std::string& command, const absl::Status& s) {
  std::fprintf(stderr, "crucible %s: %s\n", command.c_str(), std::string(s.message()).c_str());
  return 2;
}

v1::JudgeOptions JudgeOptionsOf(const RunConfig& c) {
  v1::JudgeOptions o;
  o.set_stop_at_first_failure(c.judges.stop_at_first_failure);
  v1::RewardConfig* r = o.mutable_rewards();
  r->set_compile_error(c.rewards.compile_error);
  r->set_runtime_error(c.rewards.runtime_error);
  r->set_time_limit(c.rewards.time_limit);
  r->set_memory_limit(c.rewards.memory_limit);
  r->set_output_limit(c.rewards.output_limit);
  r->set_wrong_answer(c.rewards.wrong_answer);
  r->set_ok(c.rewards.ok);
  return o;
}

Command RunCommand() {
  return {"run", "the RL loop on this machine: judges, actors and learner ranks as processes (the main job)",
          [](FlagSet& f) -> CommandRunner {
            auto a = std::make_shared<RunArgs>();
            auto steps = std::make_shared<int64_t>(0);
            auto stage = std::make_shared<std::string>("all");
            a->run_dir = "runs/default";
            a->Declare(f, false);
            f.Add("steps", steps.get(), "learner steps of the run (overrides run.steps; 0 = the config's)");
            f.Add("stage", stage.get(),
                  "all | prepare (model, warm start, held-out base eval; then exit) | evaluate (await the "
                  "last checkpoint, then final/, eval.json, report): prepare and evaluate frame a loop "
                  "whose processes another launcher runs (deploy/k8s)");
            return [a, steps, stage](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("run", positional)) return 2;
              if (*stage != "all" && *stage != "prepare" && *stage != "evaluate") {
                std::fprintf(stderr, "crucible run: --stage \"%s\": expected all, prepare or evaluate\n", stage->c_str());
                return 2;
              }
              std::vector<std::string> sets = a->sets;
              if (*steps > 0) sets.push_back(absl::StrCat("run.steps=", *steps));
              absl::StatusOr<RunConfig> c = LoadRunConfig(a->config, sets);
              if (!c.ok()) return ConfigError("run", c.status());
              InstallStopSignals();
              LaunchOptions o;
              o.run_dir = a->run_dir;
              o.config = *std::move(c);
              o.crucible_binary = ExecutableDir() + "/crucible";
              o.judge_binary = DefaultJudgeBinary();
              o.stop = &StopRequested();
              o.stage = *stage;
              return RunLocalCluster(o);
            };
          }};
}

Command ActorCommand() {
  return {"actor", "one actor of the loop: samples, has programs judged, streams trajectories",
          [](FlagSet& f) -> CommandRunner {
            auto a = std::make_shared<RunArgs>();
            auto index = std::make_shared<int>(0);
            auto learner = std::make_shared<std::string>();
            auto judges = std::make_shared<std::vector<std::string>>();
            auto metrics_port = std::make_shared<int>(0);
            a->Declare(f, true);
            f.Add("index", index.get(), "this actor's index in [0, actors.count)");
            f.Add("learner", learner.get(), "the learner's rank 0: host:port");
            f.Add("judges", judges.get(), "judge endpoints host:port,... (default: judges.endpoints)");
            f.Add("metrics-port", metrics_port.get(), "Prometheus /metrics port (0: a free one)");
            return [a, index, learner, judges, metrics_port](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("actor", positional)) return 2;
              absl::StatusOr<RunConfig> c = Load(*a);
              if (!c.ok()) return ConfigError("actor", c.status());
              if (a->run_dir.empty() || learner->empty()) {
                std::fprintf(stderr, "crucible actor: --run-dir and --learner are required\n");
                return 2;
              }
              if (*index < 0 || *index >= c->actors.count) {
                std::fprintf(stderr, "crucible actor: --index %d is outside [0, %d)\n", *index, c->actors.count);
                return 2;
              }
              absl::StatusOr<std::vector<v1::Problem>> problems = LoadRunProblems(*c);
              if (!problems.ok()) return ConfigError("actor", problems.status());
              InstallStopSignals();
              ActorOptions o;
              o.actor_id = absl::StrCat("actor-", *index);
              o.index = *index;
              o.count = c->actors.count;
              o.run_id = c->run.id;
              o.model_dir = c->model.path;
              o.tokenizer = c->model.tokenizer;
              o.device = c->model.device;
              o.dtype = c->model.dtype;
              o.problems = *std::move(problems);
              o.language = c->problems.language;
              o.prompt_template = c->actors.prompt_template;
              o.problems_per_batch = c->actors.problems_per_batch;
              o.samples_per_problem = c->actors.samples_per_problem;
              o.temperature = c->actors.temperature;
              o.top_p = c->actors.top_p;
              o.top_k = c->actors.top_k;
              o.max_new_tokens = c->actors.max_new_tokens;
              o.max_inflight_samples = c->actors.max_inflight_samples;
              o.greedy_baseline = c->actors.greedy_baseline || c->learner.algorithm == "coderl";
              o.seed = c->run.seed;
              o.judge_endpoints = judges->empty() ? c->judges.endpoints : *judges;
              o.judge_window = c->judges.window;
              o.judge_timeout_ms = c->judges.timeout_ms;
              o.judge_resolve_interval_s = c->judges.resolve_interval_s;
              o.judge_options = JudgeOptionsOf(*c);
              o.learner_endpoint = *learner;
              o.outbox_dir = absl::StrCat(a->run_dir, "/actors/", o.actor_id);
              o.metrics_address = absl::StrCat(c->ports.bind_address, ":", *metrics_port);
              o.drain_timeout = absl::Seconds(c->supervisor.drain_timeout_s);
              o.stop = &StopRequested();
              if (o.run_id.empty() || o.model_dir.empty()) {
                std::fprintf(stderr, "crucible actor: run.id and model.path must be set (crucible run sets both)\n");
                return 2;
              }
              if (absl::Status s = MakeDirs(o.outbox_dir); !s.ok()) return ConfigError("actor", s);
              return RunActor(o);
            };
          }};
}

Command LearnerOnlineCommand() {
  return {"learner", "the online learner of the loop (rank 0 serves the actors); see also `learner offline`",
          [](FlagSet& f) -> CommandRunner {
            auto a = std::make_shared<RunArgs>();
            auto port = std::make_shared<int>(0);
            auto metrics_port = std::make_shared<int>(0);
            auto port_file = std::make_shared<std::string>();
            auto init_adapter = std::make_shared<std::string>();
            a->Declare(f, true);
            f.Add("port", port.get(), "rank 0's gRPC port for actors (0: a free one, see --port-file)");
            f.Add("port-file", port_file.get(), "write rank 0's gRPC port here");
            f.Add("metrics-port", metrics_port.get(), "this rank's Prometheus /metrics port (0: a free one)");
            f.Add("init-adapter", init_adapter.get(), "start from this PEFT adapter (the warm start)");
            return [a, port, metrics_port, port_file, init_adapter](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("learner", positional)) return 2;
              absl::StatusOr<RunConfig> c = Load(*a);
              if (!c.ok()) return ConfigError("learner", c.status());
              if (a->run_dir.empty()) {
                std::fprintf(stderr, "crucible learner: --run-dir is required\n");
                return 2;
              }
              InstallStopSignals();
              const RunConfig::Learner& l = c->learner;
              learner::OnlineCommand o;
              o.run_id = c->run.id;
              o.algorithm = l.algorithm;
              o.advantage = l.advantage;
              o.kl_estimator = l.kl_estimator;
              o.model_dir = c->model.path;
              o.init_adapter = *init_adapter;
              o.critic = l.critic;
              o.reward_model = l.reward_model;
              o.checkpoint_dir = a->run_dir + "/checkpoints";
              o.backend = l.backend;
              o.device = c->model.device;
              o.dtype = c->model.dtype;
              o.lora_rank = c->model.lora_rank;
              o.lora_alpha = c->model.lora_alpha;
              o.lora_target_modules = c->model.lora_target_modules;
              o.steps = c->run.steps;
              o.save_every = l.checkpoint_every_steps;
              o.keep = l.keep_checkpoints;
              o.connect_timeout_s = l.connect_timeout_s;
              o.bind_address = c->ports.bind_address;
              o.port = *port;
              o.port_file = *port_file;
              o.metrics_address = absl::StrCat(c->ports.bind_address, ":", *metrics_port);
              o.metrics_jsonl = a->run_dir + "/metrics.jsonl";
              o.books_file = a->run_dir + "/learner/books.json";
              o.weight_dtype = l.weight_dtype;
              o.queue_capacity = l.queue_capacity;
              o.max_staleness_steps = l.max_staleness_steps;
              o.incomplete_group_timeout_s = l.incomplete_group_timeout_s;
              o.expected_actors = c->actors.count;
              o.drain_timeout_s = c->supervisor.drain_timeout_s;
              o.stop = &StopRequested();
              learner::TrainerOptions& t = o.trainer;
              t.batch_size = l.batch_size;
              t.max_batch_tokens = l.max_batch_tokens;
              t.seed = c->run.seed;
              t.temperature = c->actors.temperature;
              t.optimizer.schedule.base_lr = l.lr;
              t.optimizer.schedule.warmup_steps = l.warmup_steps;
              t.optimizer.schedule.min_ratio = l.min_lr_ratio;
              t.optimizer.weight_decay = l.weight_decay;
              t.optimizer.max_grad_norm = l.max_grad_norm;
              t.kl_coef = l.kl_coef;
              t.kl_target = l.kl_target;
              t.gamma = l.gamma;
              t.lambda = l.lambda;
              t.ppo.clip_range = l.clip_range;
              t.ppo.value_coef = l.value_coef;
              t.ppo.entropy_coef = l.entropy_coef;
              t.whiten_advantages = l.whiten_advantages;
              t.behaviour_weight_cap = l.behaviour_weight_cap;
              t.rl_weight = l.rl_weight;
              t.ce_weight = l.ce_weight;
              t.rest_threshold = l.rest_threshold;
              t.collective_timeout = absl::Seconds(l.collective_timeout_s);
              if (o.run_id.empty() || o.model_dir.empty()) {
                std::fprintf(stderr, "crucible learner: run.id and model.path must be set (crucible run sets both)\n");
                return 2;
              }
              if (absl::Status s = MakeDirs(a->run_dir + "/learner"); !s.ok()) return ConfigError("learner", s);
              return learner::RunOnline(o);
            };
          }};
}

}  // namespace

std::vector<Command> RlCommands() { return {RunCommand(), ActorCommand(), LearnerOnlineCommand()}; }

}  // namespace crucible::cli
