// `crucible learner offline`: flags bound to learner/learner_cli.h's OfflineCommand, the
// same names as before per-command flag sets (scripts and Slurm jobs call them). The
// runner installs the stop signals, so SIGTERM checkpoints and exits 143.
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "learner/learner_cli.h"

namespace crucible::cli {
namespace {

Command Offline() {
  return {"learner offline",
          "train from a trajectory or preference file; checkpoints, resumes, stops on SIGTERM",
          [](FlagSet& flags) -> CommandRunner {
            struct Options {
              learner::OfflineCommand command;
              double collective_timeout_s = 600;
            };
            auto o = std::make_shared<Options>();
            learner::OfflineCommand& c = o->command;
            learner::TrainerOptions& t = c.trainer;
            // The command line's default differs from the library's (IotaCode's 1.4e-5).
            t.optimizer.schedule.base_lr = 1e-4;
            flags.Add("algo", &c.algorithm, "sft, ppo, coderl, critic, rm, dpo, orpo or rest");
            flags.Add("data", &c.data,
                      "trajectory or preference file (JSON lines, learner/README.md)");
            flags.Add("checkpoint", &c.checkpoint_dir, "the training checkpoint directory");
            flags.Add("model", &c.model_dir, "the base model directory");
            flags.Add("tokenizer", &c.tokenizer,
                      "tokenizer.json or 'bytes' (default: the model directory's)");
            flags.Add("init-adapter", &c.init_adapter, "start from this PEFT adapter");
            flags.Add("critic", &c.critic, "coderl: a critic checkpoint (from --algo critic)");
            flags.Add("backend", &c.backend, "communicator: auto, local, gloo or nccl");
            flags.Add("device", &c.device, "cpu, cuda or cuda:N");
            flags.Add("dtype", &c.dtype, "compute dtype: float32, bfloat16, float16");
            flags.Add("steps", &c.steps, "optimizer steps in the run (the schedule's length)");
            flags.Add("stop-after", &c.stop_after,
                      "stop after this many steps in this process (with a checkpoint)");
            flags.Add("save-every", &c.save_every,
                      "checkpoint every N steps (and at the end and on SIGTERM)");
            flags.Add("keep", &c.keep, "checkpoints to keep");
            flags.Add("connect-timeout-s", &c.connect_timeout_s,
                      "seconds for every rank to reach the rendezvous");
            flags.Add("collective-timeout-s", &o->collective_timeout_s,
                      "seconds a collective may wait for the other ranks");
            flags.Add("json", &c.json, "JSON loss lines");
            flags.Add("seed", &t.seed, "random seed (LoRA initialisation, data order)");
            flags.Add("shuffle", &c.shuffle, "shuffle each epoch (by --seed)");
            flags.Add("batch-size", &t.batch_size, "examples (pairs) per step over all ranks");
            flags.Add("max-batch-tokens", &t.max_batch_tokens, "padded tokens per forward pass");
            flags.Add("temperature", &t.temperature,
                      "the sampling temperature the behaviour log-probs were taken at");
            flags.Add("lr", &t.optimizer.schedule.base_lr, "peak learning rate");
            flags.Add("warmup-steps", &t.optimizer.schedule.warmup_steps, "linear warm-up steps");
            flags.Add("min-lr-ratio", &t.optimizer.schedule.min_ratio,
                      "cosine floor as a fraction of --lr");
            flags.Add("weight-decay", &t.optimizer.weight_decay, "AdamW decoupled weight decay");
            flags.Add("max-grad-norm", &t.optimizer.max_grad_norm,
                      "global gradient-norm clip (<= 0: off)");
            flags.Add("full-parameters", &c.full_parameters,
                      "train every weight instead of LoRA adapters (sft, rest, coderl, critic, rm, orpo); "
                      "checkpoints hold model/, a Hugging Face directory");
            flags.Add("lora-rank", &c.lora_rank, "LoRA rank of fresh adapters");
            flags.Add("lora-alpha", &c.lora_alpha, "LoRA alpha of fresh adapters");
            flags.Add("advantage", &c.advantage, "ppo: gae (value head), rloo or grpo");
            flags.Add("kl-estimator", &c.kl_estimator, "ppo: k1 or k3");
            flags.Add("kl-coef", &t.kl_coef, "ppo: KL penalty coefficient (initial, if adaptive)");
            flags.Add("kl-target", &t.kl_target,
                      "ppo: > 0 adapts the KL coefficient towards this KL per token");
            flags.Add("gamma", &t.gamma, "ppo: discount");
            flags.Add("lam", &t.lambda, "ppo: GAE lambda");
            flags.Add("clip-range", &t.ppo.clip_range, "ppo: policy ratio clip");
            flags.Add("value-coef", &t.ppo.value_coef, "ppo: value loss weight");
            flags.Add("entropy-coef", &t.ppo.entropy_coef, "ppo: entropy bonus");
            flags.Add("whiten", &t.whiten_advantages, "ppo: whiten GAE advantages over the batch");
            flags.Add("rl-weight", &t.rl_weight, "coderl: weight of L_rl");
            flags.Add("ce-weight", &t.ce_weight, "coderl: weight of L_ce");
            flags.Add("beta", &t.dpo_beta, "dpo: beta");
            flags.Add("orpo-lambda", &t.orpo_lambda, "orpo: lambda");
            flags.Add("rest-threshold", &t.rest_threshold, "rest: minimum reward kept");
            return [o](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible learner offline", positional)) return 2;
              o->command.trainer.collective_timeout = absl::Seconds(o->collective_timeout_s);
              InstallStopSignals();
              o->command.stop = &StopRequested();
              return learner::RunOffline(o->command);
            };
          }};
}

}  // namespace

std::vector<Command> LearnerOfflineCommands() { return {Offline()}; }

}  // namespace crucible::cli
