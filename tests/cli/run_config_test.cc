// The run configuration: deploy/configs/default.yaml is the schema's defaults, exactly and
// completely; a config round-trips through YAML; --set works for every type; errors name
// the file, line and key (or the --set argument); value and cross-field rules hold.
#include "cli/run_config.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "yaml-cpp/yaml.h"

namespace crucible::cli {
namespace {

const std::string kDefaultFile = std::string(CRUCIBLE_SOURCE_DIR) + "/deploy/configs/default.yaml";

std::string ErrorOf(const absl::StatusOr<RunConfig>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

std::string YamlError(const std::string& yaml) { return ErrorOf(ParseRunConfig(yaml, "run.yaml")); }

std::string SetError(const std::string& set) { return ErrorOf(ParseRunConfig("", "", {set})); }

TEST_CASE("config: deploy/configs/default.yaml loads to exactly the defaults", "[config]") {
  absl::StatusOr<RunConfig> loaded = LoadRunConfig(kDefaultFile);
  INFO(loaded.status().ToString());
  REQUIRE(loaded.ok());
  CHECK(*loaded == RunConfig{});
  CHECK(ValidateRunConfig(RunConfig{}).ok());
  // Loading nothing is the defaults too.
  absl::StatusOr<RunConfig> none = LoadRunConfig("");
  REQUIRE(none.ok());
  CHECK(*none == RunConfig{});
}

TEST_CASE("config: default.yaml has every schema key, and is the generated text", "[config]") {
  absl::StatusOr<std::string> text = ReadFile(kDefaultFile);
  REQUIRE(text.ok());
  const YAML::Node root = YAML::Load(*text);
  const std::vector<std::string> keys = RunConfigKeys();
  REQUIRE_FALSE(keys.empty());
  for (const std::string& key : keys) {
    INFO(key);
    const std::pair<std::string, std::string> parts = absl::StrSplit(key, '.');
    REQUIRE(root[parts.first].IsMap());
    CHECK(root[parts.first][parts.second].IsDefined());
  }
  // The file is written from the schema (with its comments); regenerate it with
  // `crucible config defaults --out deploy/configs/default.yaml` after changing the schema.
  CHECK(*text == DefaultRunConfigYaml());
  // A comment per key: the line above each key is a comment.
  const std::vector<std::string> lines = absl::StrSplit(*text, '\n');
  for (size_t i = 1; i < lines.size(); ++i) {
    if (absl::StartsWith(lines[i], "  ") && !absl::StartsWith(lines[i], "  #")) {
      INFO(lines[i]);
      CHECK(absl::StartsWith(lines[i - 1], "  #"));
    }
  }
}

TEST_CASE("config: the listed sections and keys are the interface", "[config]") {
  const std::vector<std::string> keys = RunConfigKeys();
  for (const char* key : {"run.id",
                          "run.seed",
                          "run.steps",
                          "model.path",
                          "model.init_config",
                          "model.init_tokenizer",
                          "model.tokenizer",
                          "model.device",
                          "model.dtype",
                          "model.lora_rank",
                          "model.lora_alpha",
                          "model.lora_target_modules",
                          "problems.file",
                          "problems.ids",
                          "problems.language",
                          "warm_start.sft_steps",
                          "warm_start.batch_size",
                          "warm_start.lr",
                          "warm_start.max_batch_tokens",
                          "actors.count",
                          "actors.problems_per_batch",
                          "actors.samples_per_problem",
                          "actors.temperature",
                          "actors.top_p",
                          "actors.top_k",
                          "actors.max_new_tokens",
                          "actors.prompt_template",
                          "actors.max_inflight_samples",
                          "actors.greedy_baseline",
                          "actors.threads",
                          "judges.local_count",
                          "judges.workers",
                          "judges.endpoints",
                          "judges.window",
                          "judges.timeout_ms",
                          "judges.stop_at_first_failure",
                          "learner.algorithm",
                          "learner.advantage",
                          "learner.ranks",
                          "learner.backend",
                          "learner.batch_size",
                          "learner.max_batch_tokens",
                          "learner.lr",
                          "learner.warmup_steps",
                          "learner.min_lr_ratio",
                          "learner.weight_decay",
                          "learner.max_grad_norm",
                          "learner.kl_coef",
                          "learner.kl_target",
                          "learner.kl_estimator",
                          "learner.gamma",
                          "learner.lambda",
                          "learner.clip_range",
                          "learner.value_coef",
                          "learner.entropy_coef",
                          "learner.whiten_advantages",
                          "learner.behaviour_weight_cap",
                          "learner.max_staleness_steps",
                          "learner.queue_capacity",
                          "learner.incomplete_group_timeout_s",
                          "learner.checkpoint_every_steps",
                          "learner.keep_checkpoints",
                          "learner.weight_dtype",
                          "learner.critic",
                          "learner.reward_model",
                          "learner.rl_weight",
                          "learner.ce_weight",
                          "learner.rest_threshold",
                          "learner.collective_timeout_s",
                          "learner.connect_timeout_s",
                          "rewards.compile_error",
                          "rewards.runtime_error",
                          "rewards.time_limit",
                          "rewards.memory_limit",
                          "rewards.output_limit",
                          "rewards.wrong_answer",
                          "rewards.ok",
                          "ports.bind_address",
                          "ports.base",
                          "ports.prometheus_targets_dir",
                          "eval.problems_file",
                          "eval.samples_per_problem",
                          "eval.temperature",
                          "eval.checkpoints",
                          "supervisor.max_restarts",
                          "supervisor.backoff_initial_ms",
                          "supervisor.backoff_max_ms",
                          "supervisor.drain_timeout_s",
                          "supervisor.progress_interval_s",
                          "supervisor.launcher",
                          "supervisor.judge_nodes",
                          "supervisor.gpu_nodes",
                          "supervisor.judge_het_group",
                          "supervisor.gpu_het_group"}) {
    INFO(key);
    CHECK(std::find(keys.begin(), keys.end(), key) != keys.end());
  }
  const RunConfig d;
  CHECK(d.run.steps == 600);
  CHECK(d.problems.file == "data/curriculum/train.jsonl");
  CHECK(d.eval.problems_file == "data/curriculum/heldout.jsonl");
  CHECK(d.model.lora_target_modules.size() == 7);
  CHECK(d.actors.prompt_template ==
        "# Problem\n{statement}\n# Example\n# input:\n{example_input}# output:\n{example_output}# "
        "Python 3 solution\n");
  CHECK(d.learner.advantage == "rloo");
  CHECK(d.rewards.compile_error == -1.0);
  CHECK(d.rewards.wrong_answer == -0.3);
}

TEST_CASE("config: a file names only what it changes, --set overrides it", "[config]") {
  absl::StatusOr<RunConfig> c = ParseRunConfig(
      "# a run\n"
      "run:\n"
      "  id: exp-1\n"
      "  seed: 7\n"
      "actors:\n"
      "  count: 3\n"
      "  greedy_baseline: yes\n"
      "problems:\n"
      "  ids: [sum-two, fizz]\n"
      "judges:\n"
      "  endpoints:\n"
      "    - a:1\n"
      "    - b:2\n"
      "ports:\n",
      "run.yaml", {"actors.count=5", "run.seed=9"});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  RunConfig expected;
  expected.run.id = "exp-1";
  expected.run.seed = 9;
  expected.actors.count = 5;
  expected.actors.greedy_baseline = true;
  expected.problems.ids = {"sum-two", "fizz"};
  expected.judges.endpoints = {"a:1", "b:2"};
  CHECK(*c == expected);
}

TEST_CASE("config: --set of every type", "[config]") {
  absl::StatusOr<RunConfig> c =
      ParseRunConfig("", "",
                     {"run.id=r1",                                  // string
                      "actors.greedy_baseline=true",                // bool
                      "judges.stop_at_first_failure=false",         // bool
                      "actors.count=4",                             // int
                      "run.steps=123456789012",                     // int64
                      "run.seed=18446744073709551615",              // uint64
                      "learner.lr=3e-5",                            // double
                      "rewards.wrong_answer=-0.25",                 // negative double
                      "model.lora_target_modules=q_proj,v_proj",    // list, comma-separated
                      "problems.ids=[a, \"b,c\"]",                  // list, YAML flow
                      "judges.endpoints=",                          // list, empty
                      "actors.prompt_template={statement} # x: y",  // string verbatim, YAML-ish
                      "model.tokenizer="});                         // string, empty
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->run.id == "r1");
  CHECK(c->actors.greedy_baseline);
  CHECK_FALSE(c->judges.stop_at_first_failure);
  CHECK(c->actors.count == 4);
  CHECK(c->run.steps == 123456789012);
  CHECK(c->run.seed == 18446744073709551615ull);
  CHECK(c->learner.lr == 3e-5);
  CHECK(c->rewards.wrong_answer == -0.25);
  CHECK(c->model.lora_target_modules == std::vector<std::string>{"q_proj", "v_proj"});
  CHECK(c->problems.ids == std::vector<std::string>{"a", "b,c"});
  CHECK(c->judges.endpoints.empty());
  CHECK(c->actors.prompt_template == "{statement} # x: y");
  CHECK(c->model.tokenizer.empty());
}

TEST_CASE("config: --set errors name the argument", "[config]") {
  CHECK(SetError("actors.count=two") ==
        "--set actors.count=two: actors.count: expected an integer, got 'two'");
  CHECK(SetError("actors.count") == "--set actors.count: expected key.path=value");
  CHECK(SetError("actors.cuont=2") ==
        "--set actors.cuont=2: actors.cuont: unknown key (did you mean actors.count?)");
  CHECK(SetError("actor.count=2") ==
        "--set actor.count=2: actor.count: unknown key (did you mean actors?)");
  CHECK(
      absl::StartsWith(SetError("actors=2"),
                       "--set actors=2: actors is a section; set one of its keys (actors.count, "));
  CHECK(SetError("run.seed=-1") ==
        "--set run.seed=-1: run.seed: expected a non-negative integer, got '-1'");
  CHECK(SetError("actors.count=0") ==
        "--set actors.count=0: actors.count: must be at least 1, got 0");
  CHECK(absl::StartsWith(SetError("problems.ids=[a, [b]]"),
                         "--set problems.ids=[a, [b]]: problems.ids: expected a list of strings"));
}

TEST_CASE("config: round trip through RunConfigToYaml", "[config]") {
  RunConfig c;
  c.run.id = "round.trip-1";
  c.run.seed = 18446744073709551615ull;
  c.run.steps = 1;
  c.model.path = "/models/with space/\"quoted\"";
  c.model.lora_alpha = 0.1 + 0.2;
  c.model.lora_target_modules = {"v_proj", "down_proj"};
  c.problems.ids = {"a", "b,c", "d: e", "#f", "true", "1"};
  c.problems.language = "cpp17";
  c.actors.prompt_template =
      "{statement}\n\t\"tab\" \\ back\\slash {example_input} \x01 caf\xc3\xa9 {not a placeholder}";
  c.actors.temperature = 1e-7;
  c.actors.greedy_baseline = true;
  c.judges.endpoints = {"[::1]:50051", "judge-0:7000"};
  c.judges.timeout_ms = 1;
  c.learner.lr = 1.4e-5;
  c.learner.max_grad_norm = -1;
  c.learner.rest_threshold = -12345.678901234567;
  c.learner.whiten_advantages = false;
  c.rewards.ok = 2;
  c.ports.base = 65535;
  REQUIRE(ValidateRunConfig(c).ok());
  const std::string yaml = RunConfigToYaml(c);
  INFO(yaml);
  absl::StatusOr<RunConfig> back = ParseRunConfig(yaml, "written.yaml");
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(*back == c);
  CHECK(back->actors.prompt_template == c.actors.prompt_template);
  CHECK(back->problems.ids == c.problems.ids);
  CHECK(*back != RunConfig{});
  // Every key is written, each once.
  for (const std::string& key : RunConfigKeys()) {
    const std::string leaf = key.substr(key.find('.') + 1);
    INFO(key);
    CHECK(absl::StrContains(yaml, absl::StrCat("\n  ", leaf, ": ")));
  }
}

TEST_CASE("config: equality covers every key", "[config]") {
  // Changing any one key by --set makes the config differ from the defaults.
  const RunConfig d;
  for (const char* set :
       {"run.seed=1", "model.lora_rank=8", "actors.greedy_baseline=true", "learner.lambda=0.9",
        "rewards.ok=0.5", "supervisor.progress_interval_s=1", "problems.ids=x",
        "ports.bind_address=0.0.0.0"}) {
    absl::StatusOr<RunConfig> c = ParseRunConfig("", "", {set});
    REQUIRE(c.ok());
    INFO(set);
    CHECK(*c != d);
  }
}

TEST_CASE("config: unknown sections and keys name the file and line", "[config]") {
  CHECK(YamlError("run:\n  seed: 1\nactors:\n  count: 2\n  cuont: 3\n") ==
        "run.yaml:5: actors.cuont: unknown key (did you mean actors.count?)");
  CHECK(YamlError("actor:\n  count: 2\n") ==
        "run.yaml:1: actor: unknown section (did you mean actors?)");
  CHECK(YamlError("actors:\n  lr: 0.1\n") ==
        "run.yaml:2: actors.lr: unknown key (did you mean warm_start.lr or learner.lr?)");
  CHECK(YamlError("run:\n  flavour: 1\n") == "run.yaml:2: run.flavour: unknown key");
  CHECK(absl::StrContains(YamlError("actors.count: 2\n"),
                          "run.yaml:1: actors.count: write keys nested under their section"));
  CHECK(YamlError("run:\n  seed: 1\n  seed: 2\n") ==
        "run.yaml:3: run.seed: duplicate key (first at line 2)");
}

TEST_CASE("config: wrong types name the key and what was expected", "[config]") {
  CHECK(YamlError("actors:\n  count: two\n") ==
        "run.yaml:2: actors.count: expected an integer, got 'two'");
  CHECK(YamlError("actors:\n  count: 2.5\n") ==
        "run.yaml:2: actors.count: expected an integer, got '2.5'");
  CHECK(YamlError("actors:\n  temperature: hot\n") ==
        "run.yaml:2: actors.temperature: expected a finite number, got 'hot'");
  CHECK(YamlError("actors:\n  temperature: .nan\n") ==
        "run.yaml:2: actors.temperature: expected a finite number, got '.nan'");
  CHECK(YamlError("actors:\n  greedy_baseline: sometimes\n") ==
        "run.yaml:2: actors.greedy_baseline: expected true or false, got 'sometimes'");
  CHECK(YamlError("model:\n  path: [a, b]\n") ==
        "run.yaml:2: model.path: expected a string, got a list");
  CHECK(YamlError("problems:\n  ids: {a: 1}\n") ==
        "run.yaml:2: problems.ids: expected a list of strings, got a mapping or a nested list");
  CHECK(YamlError("actors:\n  count:\n") ==
        "run.yaml:2: actors.count: expected an integer, got an empty value");
  CHECK(YamlError("actors: 3\n") == "run.yaml:1: actors: expected a mapping of keys, got '3'");
  CHECK(YamlError("- a\n- b\n") ==
        "run.yaml:1: expected a mapping of sections (run:, model:, ...)");
  CHECK(absl::StartsWith(YamlError("run:\n  seed: [1,\n"), "run.yaml:"));
  CHECK(absl::StrContains(YamlError("run:\n  seed: [1,\n"), "YAML syntax error"));
}

TEST_CASE("config: every problem is reported, one per line", "[config]") {
  const std::string e = YamlError("actors:\n  count: two\n  top_k: -1\nrun:\n  steps: 0\n");
  const std::vector<std::string> lines = absl::StrSplit(e, '\n');
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "run.yaml:2: actors.count: expected an integer, got 'two'");
  CHECK(lines[1] == "run.yaml:5: run.steps: must be at least 1, got 0");
  CHECK(lines[2] == "run.yaml:3: actors.top_k: must be at least 0, got -1");
}

TEST_CASE("config: values out of range or not among the names", "[config]") {
  struct Case {
    const char* set;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"actors.count=0", "actors.count: must be at least 1, got 0"},
           {"actors.samples_per_problem=0", "actors.samples_per_problem: must be at least 1"},
           {"learner.ranks=0", "learner.ranks: must be at least 1, got 0"},
           {"actors.top_p=0", "actors.top_p: must be in (0, 1], got 0"},
           {"actors.top_p=1.5", "actors.top_p: must be in (0, 1], got 1.5"},
           {"actors.temperature=0", "actors.temperature: must be > 0, got 0"},
           {"actors.temperature=-1", "actors.temperature: must be > 0, got -1"},
           {"problems.language=java",
            "problems.language: must be one of python3, cpp17; got 'java'"},
           {"learner.algorithm=a2c",
            "learner.algorithm: must be one of ppo, coderl, rest; got 'a2c'"},
           {"learner.advantage=vtrace", "learner.advantage: must be one of gae, rloo, grpo"},
           {"learner.backend=mpi", "learner.backend: must be one of auto, local, gloo, nccl"},
           {"learner.kl_estimator=k2", "learner.kl_estimator: must be one of k1, k3"},
           {"model.dtype=fp8", "model.dtype: must be one of float32, bfloat16, float16; got 'fp8'"},
           {"learner.weight_dtype=float16",
            "learner.weight_dtype: must be one of float32, bfloat16"},
           {"model.device=tpu", "model.device: must be cpu, cuda or cuda:N; got 'tpu'"},
           {"model.device=cuda:x", "model.device: must be cpu, cuda or cuda:N"},
           {"model.lora_target_modules=q_proj,embed",
            "model.lora_target_modules: 'embed' is not one of"},
           {"model.lora_target_modules=q_proj,q_proj",
            "model.lora_target_modules: lists 'q_proj' twice"},
           {"model.lora_target_modules=", "model.lora_target_modules: must name at least one of"},
           {"model.lora_alpha=0", "model.lora_alpha: must be > 0"},
           {"judges.endpoints=localhost",
            "judges.endpoints: expected host:port items, got 'localhost'"},
           {"judges.endpoints=a:0", "judges.endpoints: expected host:port items, got 'a:0'"},
           {"judges.window=0", "judges.window: must be at least 1"},
           {"run.id=a/b", "run.id: may hold only letters, digits"},
           {"ports.base=70000", "ports.base: must be in [0, 65535], got 70000"},
           {"learner.gamma=1.5", "learner.gamma: must be in [0, 1], got 1.5"},
           {"learner.min_lr_ratio=-0.1", "learner.min_lr_ratio: must be in [0, 1]"},
           {"learner.keep_checkpoints=0", "learner.keep_checkpoints: must be at least 1"},
           {"supervisor.drain_timeout_s=0", "supervisor.drain_timeout_s: must be > 0"},
           {"actors.prompt_template=no statement",
            "actors.prompt_template: must contain {statement}"},
           {"actors.prompt_template={statement}{example}",
            "actors.prompt_template: unknown placeholder {example}"},
           {"model.init_config=", "model.init_config: must not be empty"},
           {"problems.ids=a,a", "problems.ids: lists 'a' twice"},
       }) {
    INFO(c.set);
    const std::string e = SetError(c.set);
    CHECK(absl::StrContains(e, absl::StrCat("--set ", c.set, ": ", c.message)));
  }
  // Literal braces that are no placeholder are fine.
  CHECK(ParseRunConfig("", "", {"actors.prompt_template={statement} {} {a b} {"}).ok());
}

TEST_CASE("config: training samples need top_p 1 and top_k 0", "[config]") {
  const std::string p = YamlError("actors:\n  temperature: 0.8\n  top_p: 0.9\n");
  CHECK(absl::StartsWith(p,
                         "run.yaml:3: actors.top_p is 0.9, but training samples must use "
                         "actors.top_p 1 and actors.top_k 0"));
  CHECK(absl::StrContains(p, "the learner recomputes log-probs at the temperature only"));
  const std::string k = SetError("actors.top_k=40");
  CHECK(absl::StartsWith(k, "--set actors.top_k=40: actors.top_k is 40, but training samples"));
  CHECK(absl::StrContains(k, "recomputes log-probs at the temperature only"));
  CHECK(ParseRunConfig("", "", {"actors.temperature=0.7"}).ok());
}

TEST_CASE("config: group advantages need groups, and whole groups per step", "[config]") {
  CHECK(absl::StrContains(SetError("actors.samples_per_problem=1"),
                          "learner.advantage rloo takes its baseline from the other samples of a "
                          "problem: it needs actors.samples_per_problem >= 2, got 1"));
  const std::string grpo = YamlError(
      "learner:\n  advantage: grpo\n  batch_size: 6\nactors:\n  samples_per_problem: 4\n");
  CHECK(grpo ==
        "run.yaml:3: learner.batch_size 6 must be a multiple of actors.samples_per_problem 4 with "
        "learner.advantage grpo: a step trains whole groups");
  // GAE needs neither.
  CHECK(
      ParseRunConfig(
          "", "", {"learner.advantage=gae", "actors.samples_per_problem=1", "learner.batch_size=7"})
          .ok());
  CHECK(ParseRunConfig("", "", {"actors.samples_per_problem=2", "learner.batch_size=6"}).ok());
}

TEST_CASE("config: judges and supervisor rules", "[config]") {
  CHECK(absl::StrContains(SetError("judges.local_count=0"),
                          "judges.local_count is 0 and judges.endpoints is []"));
  CHECK(ParseRunConfig("", "", {"judges.local_count=0", "judges.endpoints=host:5000"}).ok());
  CHECK(SetError("supervisor.backoff_max_ms=100") ==
        "--set supervisor.backoff_max_ms=100: supervisor.backoff_max_ms 100 is less than "
        "supervisor.backoff_initial_ms 500");
}

TEST_CASE("config: a config built in code is validated without locations", "[config]") {
  RunConfig c;
  c.actors.count = 0;
  absl::Status s = ValidateRunConfig(c);
  CHECK(s.message() == "actors.count: must be at least 1, got 0");
  c = RunConfig{};
  c.actors.top_p = 0.5;
  CHECK(absl::StartsWith(ValidateRunConfig(c).message(), "actors.top_p is 0.5"));
  c = RunConfig{};
  c.learner.lr = std::nan("");
  CHECK(ValidateRunConfig(c).message() == "learner.lr: must be a finite number");
}

TEST_CASE("config: files that cannot be read", "[config]") {
  absl::StatusOr<RunConfig> missing = LoadRunConfig("/nonexistent/run.yaml");
  REQUIRE_FALSE(missing.ok());
  CHECK(absl::StrContains(missing.status().message(), "/nonexistent/run.yaml"));
  // An empty file, or one with only comments, is the defaults.
  absl::StatusOr<RunConfig> empty = ParseRunConfig("# nothing\n", "empty.yaml");
  REQUIRE(empty.ok());
  CHECK(*empty == RunConfig{});
}

TEST_CASE("config: WriteDefaultRunConfig writes the default text", "[config]") {
  absl::StatusOr<std::string> dir = MakeTempDir(TempRoot(), "run_config_test");
  REQUIRE(dir.ok());
  const std::string path = *dir + "/default.yaml";
  REQUIRE(WriteDefaultRunConfig(path).ok());
  absl::StatusOr<std::string> text = ReadFile(path);
  REQUIRE(text.ok());
  CHECK(*text == DefaultRunConfigYaml());
  absl::StatusOr<RunConfig> loaded = LoadRunConfig(path);
  REQUIRE(loaded.ok());
  CHECK(*loaded == RunConfig{});
  CHECK(RemoveTree(*dir).ok());
}

}  // namespace
}  // namespace crucible::cli
