#include "cli/run_config.h"

#include <algorithm>

#include "common/problem_io.h"

#include "common/bundled_problems.h"

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <type_traits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/flags.h"
#include "common/endpoint.h"
#include "common/files.h"
#include "yaml-cpp/yaml.h"

namespace crucible::cli {
namespace {

// ---------------------------------------------------------------------------------------
// Values as written, before they are given a type.

struct RawValue {
  enum class Kind { kNull, kScalar, kList, kNested };
  Kind kind = Kind::kNull;
  std::string scalar;
  std::vector<std::string> items;
};

std::string Describe(const RawValue& v) {
  switch (v.kind) {
    case RawValue::Kind::kNull:
      return "an empty value";
    case RawValue::Kind::kScalar:
      return absl::StrCat("'", v.scalar, "'");
    case RawValue::Kind::kList:
      return "a list";
    case RawValue::Kind::kNested:
      return "a mapping or a nested list";
  }
  return "";
}

RawValue FromYaml(const YAML::Node& node) {
  RawValue v;
  if (node.IsNull()) return v;
  if (node.IsScalar()) {
    v.kind = RawValue::Kind::kScalar;
    v.scalar = node.Scalar();
    return v;
  }
  if (node.IsSequence()) {
    v.kind = RawValue::Kind::kList;
    for (const YAML::Node& item : node) {
      if (item.IsNull()) {
        v.items.emplace_back();
      } else if (item.IsScalar()) {
        v.items.push_back(item.Scalar());
      } else {
        v.kind = RawValue::Kind::kNested;
        return v;
      }
    }
    return v;
  }
  v.kind = RawValue::Kind::kNested;
  return v;
}

// Typed readers: "" on success, else what was expected and what was found.
std::string Expected(const char* what, const RawValue& v) {
  return absl::StrCat("expected ", what, ", got ", Describe(v));
}

std::string Read(const RawValue& v, std::string* out) {
  if (v.kind == RawValue::Kind::kNull) {
    out->clear();
    return "";
  }
  if (v.kind != RawValue::Kind::kScalar) return Expected("a string", v);
  *out = v.scalar;
  return "";
}

std::string Read(const RawValue& v, bool* out) {
  if (v.kind != RawValue::Kind::kScalar || !absl::SimpleAtob(v.scalar, out)) {
    return Expected("true or false", v);
  }
  return "";
}

template <typename T>
std::string ReadInteger(const RawValue& v, T* out, const char* what) {
  T parsed = 0;
  if (v.kind != RawValue::Kind::kScalar || !absl::SimpleAtoi(v.scalar, &parsed)) {
    return Expected(what, v);
  }
  *out = parsed;
  return "";
}

std::string Read(const RawValue& v, int* out) { return ReadInteger(v, out, "an integer"); }
std::string Read(const RawValue& v, int64_t* out) { return ReadInteger(v, out, "an integer"); }
std::string Read(const RawValue& v, uint64_t* out) {
  return ReadInteger(v, out, "a non-negative integer");
}

std::string Read(const RawValue& v, double* out) {
  double parsed = 0;
  if (v.kind != RawValue::Kind::kScalar || !absl::SimpleAtod(v.scalar, &parsed) ||
      !std::isfinite(parsed)) {
    return Expected("a finite number", v);
  }
  *out = parsed;
  return "";
}

std::string Read(const RawValue& v, std::vector<std::string>* out) {
  switch (v.kind) {
    case RawValue::Kind::kNull:
      out->clear();
      return "";
    case RawValue::Kind::kList:
      *out = v.items;
      return "";
    case RawValue::Kind::kScalar:
      // "a,b" as on a command line.
      out->clear();
      for (absl::string_view item : absl::StrSplit(v.scalar, ',', absl::SkipWhitespace())) {
        out->emplace_back(absl::StripAsciiWhitespace(item));
      }
      return "";
    case RawValue::Kind::kNested:
      break;
  }
  return Expected("a list of strings", v);
}

// ---------------------------------------------------------------------------------------
// Writing values as YAML, exactly: strings double-quoted with escapes, doubles with the
// shortest text that reads back equal.

std::string Yaml(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}
std::string Yaml(bool b) { return b ? "true" : "false"; }
std::string Yaml(int v) { return absl::StrCat(v); }
std::string Yaml(int64_t v) { return absl::StrCat(v); }
std::string Yaml(uint64_t v) { return absl::StrCat(v); }
std::string Yaml(double v) {
  std::string s = FormatDouble(v);
  // "1" -> "1.0": a number key reads as one at a glance.
  if (s.find_first_not_of("-0123456789") == std::string::npos) s += ".0";
  return s;
}
std::string Yaml(const std::vector<std::string>& list) {
  std::vector<std::string> items;
  for (const std::string& s : list) items.push_back(Yaml(s));
  return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
}

// A value in an error message.
std::string Show(const std::string& s) { return absl::StrCat("'", s, "'"); }
std::string Show(double v) { return FormatDouble(v); }
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
std::string Show(T v) {
  return absl::StrCat(v);
}

bool Finite(double v) { return std::isfinite(v); }
template <typename T>
bool Finite(const T&) {
  return true;
}

// ---------------------------------------------------------------------------------------
// Value checks: "" when the value is fine, else what is wrong with it.

template <typename T>
using Check = std::function<std::string(const T&)>;

template <typename T>
Check<T> AtLeast(T min) {
  return [min](const T& v) {
    return v >= min ? "" : absl::StrCat("must be at least ", Show(min), ", got ", Show(v));
  };
}

template <typename T>
Check<T> Between(T lo, T hi) {
  return [lo, hi](const T& v) {
    return v >= lo && v <= hi
               ? ""
               : absl::StrCat("must be in [", Show(lo), ", ", Show(hi), "], got ", Show(v));
  };
}

Check<double> Positive() {
  return [](const double& v) { return v > 0 ? "" : absl::StrCat("must be > 0, got ", Show(v)); };
}

Check<double> NonNegative() {
  return [](const double& v) { return v >= 0 ? "" : absl::StrCat("must be >= 0, got ", Show(v)); };
}

// (0, 1]
Check<double> Fraction() {
  return [](const double& v) {
    return v > 0 && v <= 1 ? "" : absl::StrCat("must be in (0, 1], got ", Show(v));
  };
}

Check<std::string> OneOf(std::vector<std::string> names) {
  return [names](const std::string& v) -> std::string {
    for (const std::string& n : names) {
      if (v == n) return "";
    }
    return absl::StrCat("must be one of ", absl::StrJoin(names, ", "), "; got ", Show(v));
  };
}

Check<std::string> NonEmpty() {
  return [](const std::string& v) -> std::string { return v.empty() ? "must not be empty" : ""; };
}

Check<std::string> DeviceName() {
  return [](const std::string& v) -> std::string {
    if (v == "cpu" || v == "cuda") return "";
    absl::string_view index = v;
    int n = 0;
    if (absl::ConsumePrefix(&index, "cuda:") && !index.empty() &&
        index.find_first_not_of("0123456789") == absl::string_view::npos &&
        absl::SimpleAtoi(index, &n)) {
      return "";
    }
    return absl::StrCat("must be cpu, cuda or cuda:N; got ", Show(v));
  };
}

// A name for a directory and a metric label.
Check<std::string> RunId() {
  return [](const std::string& v) -> std::string {
    for (const char c : v) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
        return absl::StrCat("may hold only letters, digits, '.', '_' and '-'; got ", Show(v));
      }
    }
    if (v == "." || v == "..") return absl::StrCat("must name a directory, got ", Show(v));
    return "";
  };
}

constexpr const char* kPlaceholders[] = {"statement", "example_input", "example_output",
                                        "starter_code", "id", "language"};

// {statement} is required; any other {identifier} must be a known placeholder, so that a
// misspelt one is not sent to the model verbatim. Other braces are literal text.
Check<std::string> PromptTemplate() {
  return [](const std::string& v) -> std::string {
    bool statement = false;
    for (size_t open = v.find('{'); open != std::string::npos; open = v.find('{', open + 1)) {
      const size_t close = v.find('}', open);
      if (close == std::string::npos) break;
      const std::string name = v.substr(open + 1, close - open - 1);
      const bool identifier =
          !name.empty() &&
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") == std::string::npos;
      if (!identifier) continue;
      bool known = false;
      for (const char* p : kPlaceholders) known = known || name == p;
      if (!known) {
        return absl::StrCat("unknown placeholder {", name,
                            "} (known: {statement}, {example_input}, {example_output}, {starter_code}, {id}, "
                            "{language})");
      }
      statement = statement || name == "statement";
    }
    return statement ? "" : "must contain {statement}";
  };
}

Check<std::vector<std::string>> SubsetOf(std::vector<std::string> allowed) {
  return [allowed](const std::vector<std::string>& v) -> std::string {
    if (v.empty()) return absl::StrCat("must name at least one of ", absl::StrJoin(allowed, ", "));
    std::set<std::string> seen;
    for (const std::string& item : v) {
      bool ok = false;
      for (const std::string& a : allowed) ok = ok || item == a;
      if (!ok) {
        return absl::StrCat(Show(item), " is not one of ", absl::StrJoin(allowed, ", "));
      }
      if (!seen.insert(item).second) return absl::StrCat("lists ", Show(item), " twice");
    }
    return "";
  };
}

Check<std::vector<std::string>> DistinctNames() {
  return [](const std::vector<std::string>& v) -> std::string {
    std::set<std::string> seen;
    for (const std::string& item : v) {
      if (item.empty()) return "has an empty item";
      if (!seen.insert(item).second) return absl::StrCat("lists ", Show(item), " twice");
    }
    return "";
  };
}

Check<std::vector<std::string>> Endpoints() {
  return [](const std::vector<std::string>& v) -> std::string {
    for (const std::string& item : v) {
      const size_t colon = item.rfind(':');
      int port = 0;
      if (colon == std::string::npos || colon == 0 ||
          !absl::SimpleAtoi(absl::string_view(item).substr(colon + 1), &port) || port < 1 ||
          port > 65535) {
        return absl::StrCat("expected host:port items, got ", Show(item));
      }
      if (absl::StatusOr<std::optional<DnsName>> dns = ParseDnsEndpoint(item); !dns.ok()) {
        return absl::StrCat("expected dns:///host:port, got ", Show(item));
      }
    }
    return DistinctNames()(v);
  };
}

// ---------------------------------------------------------------------------------------
// The schema: one entry per key, generated from a pointer to its field so that reading,
// writing, comparing and checking cannot disagree with the struct.

struct KeySpec {
  std::string path;  // "actors.count"
  std::string help;
  bool is_list = false;
  std::function<std::string(const RawValue&, RunConfig*)> read;
  std::function<std::string(const RunConfig&)> write;
  std::function<bool(const RunConfig&, const RunConfig&)> equal;
  std::function<std::string(const RunConfig&)> check;
};

template <typename S, typename T>
KeySpec Key(const char* path, S RunConfig::*section, T S::*field, const char* help,
            Check<T> check = nullptr) {
  KeySpec k;
  k.path = path;
  k.help = help;
  k.is_list = std::is_same_v<T, std::vector<std::string>>;
  k.read = [section, field](const RawValue& v, RunConfig* c) {
    return Read(v, &((c->*section).*field));
  };
  k.write = [section, field](const RunConfig& c) { return Yaml((c.*section).*field); };
  k.equal = [section, field](const RunConfig& a, const RunConfig& b) {
    return (a.*section).*field == (b.*section).*field;
  };
  k.check = [section, field, check](const RunConfig& c) -> std::string {
    const T& v = (c.*section).*field;
    if (!Finite(v)) return "must be a finite number";
    return check ? check(v) : "";
  };
  return k;
}

struct SectionSpec {
  std::string name;
  std::string help;
};

const std::vector<SectionSpec>& Sections() {
  static const auto* sections = new std::vector<SectionSpec>{
      {"run", "The run as a whole."},
      {"model",
       "The policy: a base model with LoRA adapters, which the learner trains and "
       "publishes to the actors."},
      {"problems", "The problem set actors sample programs for."},
      {"warm_start",
       "Supervised fine-tuning on the reference solutions before RL, so that "
       "early samples compile."},
      {"actors",
       "Sampling processes: each samples programs for problems, has them judged and "
       "sends the trajectories to the learner."},
      {"judges", "Sandboxed judges (crucible-judge) that run programs against the tests."},
      {"learner",
       "Training: objective, optimizer, data-parallel ranks, trajectory queue, "
       "checkpoints, published weights."},
      {"rewards", "Reward per verdict (CodeRL's values by default)."},
      {"ports", "Network addresses of the local cluster's services."},
      {"eval",
       "Held-out evaluation (`crucible eval`) of the warm-started base and of the trained "
       "adapter, written to eval.json and report.html."},
      {"supervisor", "The launcher's supervision of its processes: restarts, drain, progress."},
  };
  return *sections;
}

const std::vector<std::string>& LoraModules() {
  static const auto* modules = new std::vector<std::string>{
      "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return *modules;
}

const std::vector<KeySpec>& Schema() {
  using C = RunConfig;
  static const auto* schema = new std::vector<KeySpec>{
      // run
      Key("run.id", &C::run, &C::Run::id,
          "Run name: the run directory's name and a label on metrics; \"\" = generated by the "
          "launcher. Letters, digits, '.', '_' and '-'.",
          RunId()),
      Key("run.seed", &C::run, &C::Run::seed,
          "Random seed: sampling, LoRA initialisation and data order follow from it."),
      Key("run.steps", &C::run, &C::Run::steps,
          "Learner optimizer steps of the RL loop; the run ends after the last one.",
          AtLeast<int64_t>(1)),
      // model
      Key("model.path", &C::model, &C::Model::path,
          "Base model directory (Hugging Face config.json + safetensors); \"\" = initialise "
          "model.init_config into the run directory."),
      Key("model.init_config", &C::model, &C::Model::init_config,
          "Hugging Face config.json a fresh model is initialised from when model.path is \"\".",
          NonEmpty()),
      Key("model.init_tokenizer", &C::model, &C::Model::init_tokenizer,
          "tokenizer.json copied into a fresh model (with the tokenizer_config.json beside it); its "
          "vocabulary must fit model.init_config's vocab_size; \"\" = bytes."),
      Key("model.tokenizer", &C::model, &C::Model::tokenizer,
          "tokenizer.json or \"bytes\"; \"\" = the model directory's tokenizer.json if it has "
          "one, else bytes."),
      Key("model.device", &C::model, &C::Model::device,
          "Where actors and learner ranks run the model: cpu, cuda or cuda:N (learner ranks "
          "take the GPU of their local rank).",
          DeviceName()),
      Key("model.dtype", &C::model, &C::Model::dtype,
          "Compute dtype the base weights are loaded in: float32, bfloat16 or float16.",
          OneOf({"float32", "bfloat16", "float16"})),
      Key("model.lora_rank", &C::model, &C::Model::lora_rank, "LoRA rank of fresh adapters.",
          AtLeast<int64_t>(1)),
      Key("model.lora_alpha", &C::model, &C::Model::lora_alpha,
          "LoRA alpha of fresh adapters (updates are scaled by alpha / rank).", Positive()),
      Key("model.lora_target_modules", &C::model, &C::Model::lora_target_modules,
          "Linear layers that get adapters, by PEFT module name: any of q_proj, k_proj, v_proj, "
          "o_proj, gate_proj, up_proj, down_proj.",
          SubsetOf(LoraModules())),
      // problems
      Key("problems.file", &C::problems, &C::Problems::file,
          "Problem set (JSONL, one problem per line); \"\" = the bundled set."),
      Key("problems.ids", &C::problems, &C::Problems::ids,
          "Ids of the problems to train on; [] = every problem of the set.", DistinctNames()),
      Key("problems.language", &C::problems, &C::Problems::language,
          "Language of the sampled programs: python3 or cpp17.", OneOf({"python3", "cpp17"})),
      // warm_start
      Key("warm_start.sft_steps", &C::warm_start, &C::WarmStart::sft_steps,
          "Optimizer steps of supervised fine-tuning on the reference solutions before RL; "
          "0 = none.",
          AtLeast<int64_t>(0)),
      Key("warm_start.batch_size", &C::warm_start, &C::WarmStart::batch_size,
          "Examples per warm-start step, over all learner ranks.", AtLeast<int64_t>(1)),
      Key("warm_start.lr", &C::warm_start, &C::WarmStart::lr, "Warm-start peak learning rate.",
          Positive()),
      Key("warm_start.max_batch_tokens", &C::warm_start, &C::WarmStart::max_batch_tokens,
          "Padded tokens per warm-start forward pass.", AtLeast<int64_t>(1)),
      Key("warm_start.full_parameters", &C::warm_start, &C::WarmStart::full_parameters,
          "Train every weight in the warm start (the result is the base the RL loop's LoRA "
          "adapters train on); false = a LoRA adapter the RL loop continues from."),
      // actors
      Key("actors.count", &C::actors, &C::Actors::count, "Actor processes.", AtLeast(1)),
      Key("actors.problems_per_batch", &C::actors, &C::Actors::problems_per_batch,
          "Problems an actor samples for at once.", AtLeast(1)),
      Key("actors.samples_per_problem", &C::actors, &C::Actors::samples_per_problem,
          "Programs sampled per problem: one group, whose rewards rloo and grpo compare.",
          AtLeast(1)),
      Key("actors.temperature", &C::actors, &C::Actors::temperature,
          "Sampling temperature; the learner recomputes log-probs at this temperature.",
          Positive()),
      Key("actors.top_p", &C::actors, &C::Actors::top_p,
          "Nucleus sampling mass, in (0, 1]; training samples need 1.", Fraction()),
      Key("actors.top_k", &C::actors, &C::Actors::top_k,
          "Top-k sampling; 0 = off; training samples need 0.", AtLeast<int64_t>(0)),
      Key("actors.max_new_tokens", &C::actors, &C::Actors::max_new_tokens,
          "Tokens generated per program at most.", AtLeast<int64_t>(1)),
      Key("actors.prompt_template", &C::actors, &C::Actors::prompt_template,
          "Prompt of a problem: {statement}, {example_input} and {example_output} become the "
          "problem's statement and its first public test.",
          PromptTemplate()),
      Key("actors.max_inflight_samples", &C::actors, &C::Actors::max_inflight_samples,
          "Samples an actor has in flight (sampled, not yet acknowledged by the learner) at "
          "most; sampling waits at the limit.",
          AtLeast(1)),
      Key("actors.greedy_baseline", &C::actors, &C::Actors::greedy_baseline,
          "Also decode each problem greedily and send its reward as the group's baseline "
          "(CodeRL's baseline)."),
      Key("actors.threads", &C::actors, &C::Actors::threads,
          "CPU threads each actor gives the model.", AtLeast(1)),
      // judges
      Key("judges.local_count", &C::judges, &C::Judges::local_count,
          "crucible-judge processes started locally when judges.endpoints is [].", AtLeast(0)),
      Key("judges.workers", &C::judges, &C::Judges::workers,
          "Sandboxed executors per local judge; 0 = one per CPU.", AtLeast(0)),
      Key("judges.endpoints", &C::judges, &C::Judges::endpoints,
          "Running judges to use, as host:port, or dns:///host:port for every address the "
          "name resolves to (a headless Service); [] = start judges.local_count locally.",
          Endpoints()),
      Key("judges.resolve_interval_s", &C::judges, &C::Judges::resolve_interval_s,
          "Seconds between resolutions of dns:/// endpoints (judges that appear or go).",
          AtLeast(1)),
      Key("judges.window", &C::judges, &C::Judges::window,
          "Unanswered requests per judge endpoint (the judge client's window).", AtLeast(1)),
      Key("judges.timeout_ms", &C::judges, &C::Judges::timeout_ms,
          "Milliseconds a judge request may take before it is retried on another endpoint.",
          AtLeast<int64_t>(1)),
      Key("judges.stop_at_first_failure", &C::judges, &C::Judges::stop_at_first_failure,
          "Stop running a program's tests at its first failure (the verdict is the same; the "
          "pass fraction counts only the tests run)."),
      // learner
      Key("learner.algorithm", &C::learner, &C::Learner::algorithm,
          "RL objective: ppo, coderl or rest (ReST-EM).", OneOf({"ppo", "coderl", "rest"})),
      Key("learner.advantage", &C::learner, &C::Learner::advantage,
          "Advantage estimator: gae (value head), rloo or grpo (baselines from the other "
          "samples of the problem).",
          OneOf({"gae", "rloo", "grpo"})),
      Key("learner.ranks", &C::learner, &C::Learner::ranks, "Data-parallel learner processes.",
          AtLeast(1)),
      Key("learner.backend", &C::learner, &C::Learner::backend,
          "Communicator between learner ranks: auto, local, gloo or nccl.",
          OneOf({"auto", "local", "gloo", "nccl"})),
      Key("learner.batch_size", &C::learner, &C::Learner::batch_size,
          "Trajectories per optimizer step, over all ranks.", AtLeast<int64_t>(1)),
      Key("learner.max_batch_tokens", &C::learner, &C::Learner::max_batch_tokens,
          "Padded tokens per forward pass (the micro-batch budget).", AtLeast<int64_t>(1)),
      Key("learner.lr", &C::learner, &C::Learner::lr,
          "Peak learning rate (cosine decay over run.steps).", Positive()),
      Key("learner.warmup_steps", &C::learner, &C::Learner::warmup_steps,
          "Linear learning-rate warm-up steps.", AtLeast<int64_t>(0)),
      Key("learner.min_lr_ratio", &C::learner, &C::Learner::min_lr_ratio,
          "Cosine floor as a fraction of learner.lr.", Between(0.0, 1.0)),
      Key("learner.weight_decay", &C::learner, &C::Learner::weight_decay,
          "AdamW decoupled weight decay.", NonNegative()),
      Key("learner.max_grad_norm", &C::learner, &C::Learner::max_grad_norm,
          "Global gradient-norm clip; <= 0 = off."),
      Key("learner.kl_coef", &C::learner, &C::Learner::kl_coef,
          "Coefficient of the KL penalty to the reference policy (the initial one when "
          "learner.kl_target > 0).",
          NonNegative()),
      Key("learner.kl_target", &C::learner, &C::Learner::kl_target,
          "> 0 adapts learner.kl_coef towards this KL per token; 0 = a fixed coefficient.",
          NonNegative()),
      Key("learner.kl_estimator", &C::learner, &C::Learner::kl_estimator, "KL estimator: k1 or k3.",
          OneOf({"k1", "k3"})),
      Key("learner.gamma", &C::learner, &C::Learner::gamma, "Discount.", Between(0.0, 1.0)),
      Key("learner.lambda", &C::learner, &C::Learner::lambda, "GAE lambda.", Between(0.0, 1.0)),
      Key("learner.clip_range", &C::learner, &C::Learner::clip_range, "PPO policy-ratio clip.",
          Positive()),
      Key("learner.value_coef", &C::learner, &C::Learner::value_coef, "Weight of the value loss.",
          NonNegative()),
      Key("learner.entropy_coef", &C::learner, &C::Learner::entropy_coef,
          "Weight of the entropy bonus.", NonNegative()),
      Key("learner.whiten_advantages", &C::learner, &C::Learner::whiten_advantages,
          "Whiten advantages over the batch."),
      Key("learner.behaviour_weight_cap", &C::learner, &C::Learner::behaviour_weight_cap,
          "Cap on the importance weight of a sample from an older policy (current over "
          "behaviour probability).",
          Positive()),
      Key("learner.max_staleness_steps", &C::learner, &C::Learner::max_staleness_steps,
          "Trajectories from a policy more than this many optimizer steps old are dropped.",
          AtLeast<int64_t>(0)),
      Key("learner.queue_capacity", &C::learner, &C::Learner::queue_capacity,
          "Trajectories the learner queues at most; actors wait beyond it.", AtLeast(1)),
      Key("learner.incomplete_group_timeout_s", &C::learner,
          &C::Learner::incomplete_group_timeout_s,
          "Seconds a partly arrived group waits for its other samples before it is dropped.",
          Positive()),
      Key("learner.checkpoint_every_steps", &C::learner, &C::Learner::checkpoint_every_steps,
          "Checkpoint every this many steps, and at the end and on a stop; 0 = only then.",
          AtLeast<int64_t>(0)),
      Key("learner.keep_checkpoints", &C::learner, &C::Learner::keep_checkpoints,
          "Checkpoints kept; older ones are deleted.", AtLeast(1)),
      Key("learner.weight_dtype", &C::learner, &C::Learner::weight_dtype,
          "dtype of the LoRA weights published to actors: float32 or bfloat16.",
          OneOf({"float32", "bfloat16"})),
      Key("learner.critic", &C::learner, &C::Learner::critic,
          "CodeRL critic checkpoint (from `crucible learner offline --algo critic`); \"\" = "
          "none."),
      Key("learner.reward_model", &C::learner, &C::Learner::reward_model,
          "ppo: a Bradley-Terry reward model checkpoint (from `crucible learner offline --algo rm`) whose "
          "score replaces the verdict's reward in training (verdicts stay in the metrics); \"\" = "
          "verdict rewards."),
      Key("learner.rl_weight", &C::learner, &C::Learner::rl_weight, "CodeRL: weight of L_rl.",
          NonNegative()),
      Key("learner.ce_weight", &C::learner, &C::Learner::ce_weight, "CodeRL: weight of L_ce.",
          NonNegative()),
      Key("learner.rest_threshold", &C::learner, &C::Learner::rest_threshold,
          "ReST-EM: trajectories with a lower reward are not trained on."),
      Key("learner.collective_timeout_s", &C::learner, &C::Learner::collective_timeout_s,
          "Seconds a collective waits for the other ranks before the step fails.", Positive()),
      Key("learner.connect_timeout_s", &C::learner, &C::Learner::connect_timeout_s,
          "Seconds every rank has to reach the rendezvous.", Positive()),
      // rewards
      Key("rewards.compile_error", &C::rewards, &C::Rewards::compile_error,
          "CE: a C++ compile error, or a Python program that does not compile to bytecode."),
      Key("rewards.runtime_error", &C::rewards, &C::Rewards::runtime_error,
          "RE: the program crashed or exited non-zero."),
      Key("rewards.time_limit", &C::rewards, &C::Rewards::time_limit,
          "TLE: the program ran past the problem's time limit."),
      Key("rewards.memory_limit", &C::rewards, &C::Rewards::memory_limit,
          "MLE: the program used more than the problem's memory limit."),
      Key("rewards.output_limit", &C::rewards, &C::Rewards::output_limit,
          "OLE: the program wrote more output than allowed."),
      Key("rewards.wrong_answer", &C::rewards, &C::Rewards::wrong_answer,
          "WA: the program failed a test."),
      Key("rewards.ok", &C::rewards, &C::Rewards::ok, "OK: the program passed every test."),
      // ports
      Key("ports.bind_address", &C::ports, &C::Ports::bind_address,
          "Address the local cluster's services listen on.", NonEmpty()),
      Key("ports.base", &C::ports, &C::Ports::base,
          "First of consecutive ports for the services; 0 = free ports chosen at start.",
          Between(0, 65535)),
      Key("ports.prometheus_targets_dir", &C::ports, &C::Ports::prometheus_targets_dir,
          "Directory a Prometheus discovers runs in (deploy/prometheus/prometheus.yml reads "
          "<dir>/*.json): the run's targets are also written there as <run id>.json while it "
          "runs, and removed when it ends; \"\" = only the run directory's "
          "prometheus_targets.json."),
      // eval
      Key("eval.problems_file", &C::eval, &C::Eval::problems_file,
          "Held-out problems (JSONL) the base and the final policy are evaluated on after the "
          "loop, copied into the run directory as heldout.jsonl; \"\" = no evaluation."),
      Key("eval.samples_per_problem", &C::eval, &C::Eval::samples_per_problem,
          "Programs sampled per held-out problem (pass@k is reported for k up to this).",
          AtLeast(1)),
      Key("eval.temperature", &C::eval, &C::Eval::temperature,
          "Sampling temperature of the evaluation.", Positive()),
      Key("eval.checkpoints", &C::eval, &C::Eval::checkpoints,
          "Also evaluate the kept intermediate checkpoints, for the held-out curve of "
          "report.html."),
      // supervisor
      Key("supervisor.max_restarts", &C::supervisor, &C::Supervisor::max_restarts,
          "Restarts of each process before the run fails.", AtLeast(0)),
      Key("supervisor.backoff_initial_ms", &C::supervisor, &C::Supervisor::backoff_initial_ms,
          "Milliseconds before the first restart of a process; doubled per restart.",
          AtLeast<int64_t>(0)),
      Key("supervisor.backoff_max_ms", &C::supervisor, &C::Supervisor::backoff_max_ms,
          "Longest wait between restarts, in milliseconds.", AtLeast<int64_t>(0)),
      Key("supervisor.drain_timeout_s", &C::supervisor, &C::Supervisor::drain_timeout_s,
          "Seconds processes have to drain and checkpoint after a stop before they are killed.",
          Positive()),
      Key("supervisor.progress_interval_s", &C::supervisor, &C::Supervisor::progress_interval_s,
          "Seconds between progress lines.", Positive()),
      Key("supervisor.launcher", &C::supervisor, &C::Supervisor::launcher,
          "How processes start: local (children of crucible run) or srun (each a step of the "
          "Slurm job crucible run runs in, on the nodes below; deploy/slurm/crucible.sbatch).",
          OneOf({"local", "srun"})),
      Key("supervisor.judge_nodes", &C::supervisor, &C::Supervisor::judge_nodes,
          "srun: the Slurm nodes judges run on, round robin, as name or name@address (the "
          "address others connect to; default the name)."),
      Key("supervisor.gpu_nodes", &C::supervisor, &C::Supervisor::gpu_nodes,
          "srun: the Slurm nodes of learner ranks (in blocks, rank 0 first), actors (round "
          "robin), the warm start and evaluations, as name or name@address."),
      Key("supervisor.judge_het_group", &C::supervisor, &C::Supervisor::judge_het_group,
          "srun: the heterogeneous job component of judge_nodes; -1 = not a heterogeneous job.",
          AtLeast(-1)),
      Key("supervisor.gpu_het_group", &C::supervisor, &C::Supervisor::gpu_het_group,
          "srun: the heterogeneous job component of gpu_nodes; -1 = not a heterogeneous job.",
          AtLeast(-1)),
  };
  return *schema;
}

const KeySpec* FindKey(absl::string_view path) {
  static const auto* index = [] {
    auto* m = new std::map<std::string, const KeySpec*, std::less<>>;
    for (const KeySpec& k : Schema()) (*m)[k.path] = &k;
    return m;
  }();
  auto it = index->find(path);
  return it == index->end() ? nullptr : it->second;
}

bool IsSection(absl::string_view name) {
  for (const SectionSpec& s : Sections()) {
    if (s.name == name) return true;
  }
  return false;
}

// "(did you mean actors.count?)" for a misspelt key or section, or " (it is learner.lr)"
// for a key put in the wrong section; "" when nothing is close.
std::string Suggestion(absl::string_view section, absl::string_view name) {
  if (name.empty()) {
    std::vector<std::string> sections;
    for (const SectionSpec& s : Sections()) sections.push_back(s.name);
    const std::string close = ClosestMatch(section, sections);
    return close.empty() ? "" : absl::StrCat(" (did you mean ", close, "?)");
  }
  std::vector<std::string> in_section;
  std::vector<std::string> elsewhere;
  for (const KeySpec& k : Schema()) {
    const std::pair<std::string, std::string> parts = absl::StrSplit(k.path, '.');
    if (parts.first == section) in_section.push_back(parts.second);
    if (parts.first != section && parts.second == name) elsewhere.push_back(k.path);
  }
  const std::string close = ClosestMatch(name, in_section);
  if (!close.empty()) return absl::StrCat(" (did you mean ", section, ".", close, "?)");
  if (!elsewhere.empty()) {
    return absl::StrCat(" (did you mean ", absl::StrJoin(elsewhere, " or "), "?)");
  }
  return "";
}

// A rule between keys; the error is placed at the first of `keys` that was set explicitly.
struct Rule {
  std::vector<std::string> keys;
  std::function<std::string(const RunConfig&)> check;
};

const std::vector<Rule>& Rules() {
  static const auto* rules = new std::vector<Rule>{
      {{"actors.top_p", "actors.temperature"},
       [](const RunConfig& c) -> std::string {
         if (c.actors.top_p == 1.0) return "";
         return absl::StrCat(
             "actors.top_p is ", Show(c.actors.top_p),
             ", but training samples must use actors.top_p 1 and actors.top_k 0: the learner "
             "recomputes log-probs at the temperature only (actors.temperature ",
             Show(c.actors.temperature),
             "), so samples from a truncated distribution would get wrong importance ratios");
       }},
      {{"actors.top_k", "actors.temperature"},
       [](const RunConfig& c) -> std::string {
         if (c.actors.top_k == 0) return "";
         return absl::StrCat(
             "actors.top_k is ", c.actors.top_k,
             ", but training samples must use actors.top_p 1 and actors.top_k 0: the learner "
             "recomputes log-probs at the temperature only (actors.temperature ",
             Show(c.actors.temperature),
             "), so samples from a truncated distribution would get wrong importance ratios");
       }},
      {{"learner.advantage", "actors.samples_per_problem"},
       [](const RunConfig& c) -> std::string {
         const std::string& a = c.learner.advantage;
         if ((a != "rloo" && a != "grpo") || c.actors.samples_per_problem >= 2) return "";
         return absl::StrCat("learner.advantage ", a,
                             " takes its baseline from the other samples of a problem: it needs "
                             "actors.samples_per_problem >= 2, got ",
                             c.actors.samples_per_problem);
       }},
      {{"learner.batch_size", "actors.samples_per_problem", "learner.advantage"},
       [](const RunConfig& c) -> std::string {
         const std::string& a = c.learner.advantage;
         if (a != "rloo" && a != "grpo") return "";
         if (c.actors.samples_per_problem < 1 ||
             c.learner.batch_size % c.actors.samples_per_problem == 0) {
           return "";
         }
         return absl::StrCat("learner.batch_size ", c.learner.batch_size,
                             " must be a multiple of actors.samples_per_problem ",
                             c.actors.samples_per_problem, " with learner.advantage ", a,
                             ": a step trains whole groups");
       }},
      {{"judges.local_count", "judges.endpoints"},
       [](const RunConfig& c) -> std::string {
         if (c.judges.local_count >= 1 || !c.judges.endpoints.empty()) return "";
         return "judges.local_count is 0 and judges.endpoints is []: no judge would run the "
                "programs";
       }},
      {{"supervisor.launcher", "supervisor.gpu_nodes", "supervisor.judge_nodes", "ports.base"},
       [](const RunConfig& c) -> std::string {
         if (c.supervisor.launcher != "srun") return "";
         if (c.supervisor.gpu_nodes.empty()) return "supervisor.launcher srun needs supervisor.gpu_nodes";
         if (c.judges.endpoints.empty() && c.judges.local_count > 0 && c.supervisor.judge_nodes.empty()) {
           return "supervisor.launcher srun starts judges on supervisor.judge_nodes, which is []";
         }
         if (c.ports.base == 0) {
           return "supervisor.launcher srun needs fixed ports (ports.base > 0): free ports cannot be "
                  "chosen on other nodes";
         }
         return "";
       }},
      {{"supervisor.backoff_max_ms", "supervisor.backoff_initial_ms"},
       [](const RunConfig& c) -> std::string {
         if (c.supervisor.backoff_max_ms >= c.supervisor.backoff_initial_ms) return "";
         return absl::StrCat("supervisor.backoff_max_ms ", c.supervisor.backoff_max_ms,
                             " is less than supervisor.backoff_initial_ms ",
                             c.supervisor.backoff_initial_ms);
       }},
  };
  return *rules;
}

// Loading: every problem is collected, so that one run of the loader reports them all.
class Loader {
 public:
  void LoadYaml(absl::string_view text, const std::string& source);
  void ApplySet(const std::string& arg);
  absl::StatusOr<RunConfig> Finish();
  // Value checks and rules over `config_` as it stands.
  void Validate();

  RunConfig& config() { return config_; }

 private:
  void Assign(const KeySpec& key, const RawValue& value, const std::string& where);
  void Error(const std::string& where, absl::string_view message) {
    errors_.push_back(where.empty() ? std::string(message) : absl::StrCat(where, ": ", message));
  }

  RunConfig config_;
  std::map<std::string, std::string> where_;  // key -> "file:line" or "--set k=v"
  std::set<std::string> failed_;              // keys whose value could not be read
  std::vector<std::string> errors_;
};

std::string At(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return absl::StrCat(source, ":", mark.line + 1);
}

void Loader::Assign(const KeySpec& key, const RawValue& value, const std::string& where) {
  where_[key.path] = where;
  const std::string problem = key.read(value, &config_);
  if (problem.empty()) {
    failed_.erase(key.path);
    return;
  }
  failed_.insert(key.path);
  Error(where, absl::StrCat(key.path, ": ", problem));
}

void Loader::LoadYaml(absl::string_view text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    Error(At(source, e.mark), absl::StrCat("YAML syntax error: ", e.msg));
    return;
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) {
    Error(At(source, root.Mark()), "expected a mapping of sections (run:, model:, ...)");
    return;
  }
  std::map<std::string, int> section_lines;
  for (const auto& entry : root) {
    const YAML::Node& name_node = entry.first;
    const YAML::Node& body = entry.second;
    const std::string where = At(source, name_node.Mark());
    const std::string section = name_node.IsScalar() ? name_node.Scalar() : "";
    if (!IsSection(section)) {
      if (FindKey(section) != nullptr) {
        const std::pair<std::string, std::string> parts = absl::StrSplit(section, '.');
        Error(where, absl::StrCat(section, ": write keys nested under their section, as ",
                                  parts.first, ": {", parts.second, ": ...}"));
      } else {
        Error(where, absl::StrCat(section, ": unknown section", Suggestion(section, "")));
      }
      continue;
    }
    if (auto [it, inserted] = section_lines.emplace(section, name_node.Mark().line + 1);
        !inserted) {
      Error(where, absl::StrCat(section, ": duplicate section (first at line ", it->second, ")"));
      continue;
    }
    if (body.IsNull()) continue;
    if (!body.IsMap()) {
      Error(At(source, body.Mark()),
            absl::StrCat(section, ": expected a mapping of keys, got ", Describe(FromYaml(body))));
      continue;
    }
    std::map<std::string, int> key_lines;
    for (const auto& item : body) {
      const std::string name = item.first.IsScalar() ? item.first.Scalar() : "";
      const std::string path = absl::StrCat(section, ".", name);
      const std::string key_where = At(source, item.first.Mark());
      const KeySpec* key = FindKey(path);
      if (key == nullptr) {
        Error(key_where, absl::StrCat(path, ": unknown key", Suggestion(section, name)));
        continue;
      }
      if (auto [it, inserted] = key_lines.emplace(name, item.first.Mark().line + 1); !inserted) {
        Error(key_where, absl::StrCat(path, ": duplicate key (first at line ", it->second, ")"));
        continue;
      }
      Assign(*key, FromYaml(item.second), key_where);
    }
  }
}

void Loader::ApplySet(const std::string& arg) {
  const std::string where = absl::StrCat("--set ", arg);
  const size_t eq = arg.find('=');
  if (eq == std::string::npos) {
    Error(where, "expected key.path=value");
    return;
  }
  const std::string path(absl::StripAsciiWhitespace(absl::string_view(arg).substr(0, eq)));
  const std::string text = arg.substr(eq + 1);
  const KeySpec* key = FindKey(path);
  if (key == nullptr) {
    if (IsSection(path)) {
      std::vector<std::string> keys;
      for (const KeySpec& k : Schema()) {
        if (absl::StartsWith(k.path, path + ".")) keys.push_back(k.path);
      }
      Error(where, absl::StrCat(path, " is a section; set one of its keys (",
                                absl::StrJoin(keys, ", "), ")"));
      return;
    }
    const std::pair<std::string, std::string> parts = absl::StrSplit(path, absl::MaxSplits('.', 1));
    const std::string hint = IsSection(parts.first) ? Suggestion(parts.first, parts.second)
                                                    : Suggestion(parts.first, "");
    Error(where, absl::StrCat(path, ": unknown key", hint));
    return;
  }
  RawValue value;
  if (key->is_list && absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), "[")) {
    try {
      value = FromYaml(YAML::Load(text));
    } catch (const YAML::Exception& e) {
      Error(where, absl::StrCat(path, ": expected a list such as [a, b]: ", e.msg));
      return;
    }
  } else if (key->is_list && absl::StripAsciiWhitespace(text).empty()) {
    value.kind = RawValue::Kind::kNull;
  } else {
    value.kind = RawValue::Kind::kScalar;
    value.scalar = text;
  }
  Assign(*key, value, where);
}

void Loader::Validate() {
  const size_t before = errors_.size();
  for (const KeySpec& key : Schema()) {
    if (failed_.count(key.path) > 0) continue;
    const std::string problem = key.check(config_);
    if (problem.empty()) continue;
    auto it = where_.find(key.path);
    Error(it == where_.end() ? "" : it->second, absl::StrCat(key.path, ": ", problem));
  }
  // Rules between keys only mean something once each key is valid on its own.
  if (errors_.size() != before || !failed_.empty()) return;
  for (const Rule& rule : Rules()) {
    const std::string problem = rule.check(config_);
    if (problem.empty()) continue;
    std::string where;
    for (const std::string& k : rule.keys) {
      if (auto it = where_.find(k); it != where_.end()) {
        where = it->second;
        break;
      }
    }
    Error(where, problem);
  }
}

absl::StatusOr<RunConfig> Loader::Finish() {
  Validate();
  if (!errors_.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
  return config_;
}

// Comment lines of at most ~96 columns.
void AppendComment(std::string* out, absl::string_view indent, absl::string_view text) {
  constexpr size_t kWidth = 96;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && indent.size() + 2 + line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(out, indent, "# ", line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(out, indent, "# ", line, "\n");
}

}  // namespace

bool operator==(const RunConfig& a, const RunConfig& b) {
  for (const KeySpec& key : Schema()) {
    if (!key.equal(a, b)) return false;
  }
  return true;
}

bool operator!=(const RunConfig& a, const RunConfig& b) { return !(a == b); }

absl::StatusOr<RunConfig> ParseRunConfig(absl::string_view yaml, const std::string& source,
                                         const std::vector<std::string>& sets) {
  Loader loader;
  loader.LoadYaml(yaml, source);
  for (const std::string& set : sets) loader.ApplySet(set);
  return loader.Finish();
}

absl::StatusOr<RunConfig> LoadRunConfig(const std::string& path,
                                        const std::vector<std::string>& sets) {
  std::string text;
  if (!path.empty()) {
    absl::StatusOr<std::string> read = ReadFile(path);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat("run config ", path, ": ", read.status().message()));
    }
    text = *std::move(read);
  }
  return ParseRunConfig(text, path.empty() ? "(defaults)" : path, sets);
}

absl::Status ValidateRunConfig(const RunConfig& config) {
  Loader loader;
  loader.config() = config;
  return loader.Finish().status();
}

std::string RunConfigToYaml(const RunConfig& config) {
  std::string out;
  for (const SectionSpec& section : Sections()) {
    if (!out.empty()) out += "\n";
    AppendComment(&out, "", section.help);
    absl::StrAppend(&out, section.name, ":\n");
    for (const KeySpec& key : Schema()) {
      const std::pair<absl::string_view, absl::string_view> parts =
          absl::StrSplit(key.path, absl::MaxSplits('.', 1));
      if (parts.first != section.name) continue;
      AppendComment(&out, "  ", key.help);
      absl::StrAppend(&out, "  ", parts.second, ": ", key.write(config), "\n");
    }
  }
  return out;
}

std::string DefaultRunConfigYaml() {
  return absl::StrCat(
      "# crucible run configuration: every key, with its default value.\n"
      "#\n"
      "# One YAML file describes a run. A run's file need only name the keys it changes;\n"
      "# `--set key.path=value` arguments override the file. Units are in the key names\n"
      "# (_ms, _s, _steps, _tokens).\n"
      "#\n"
      "# Generated from the schema in cli/run_config.cc by `crucible config defaults`, and\n"
      "# checked against it by tests/cli/run_config_test.cc: edit the schema, then\n"
      "# regenerate this file.\n"
      "\n",
      RunConfigToYaml(RunConfig{}));
}

absl::Status WriteDefaultRunConfig(const std::string& path) {
  return WriteFile(path, DefaultRunConfigYaml());
}

std::vector<std::string> RunConfigKeys() {
  std::vector<std::string> keys;
  for (const KeySpec& key : Schema()) keys.push_back(key.path);
  return keys;
}

absl::StatusOr<std::vector<v1::Problem>> LoadRunProblems(const RunConfig& c) {
  std::vector<v1::Problem> all;
  if (c.problems.file.empty()) {
    all = BundledProblems();
  } else {
    absl::StatusOr<std::vector<v1::Problem>> loaded = LoadProblemsFile(c.problems.file);
    if (!loaded.ok()) return loaded.status();
    all = *std::move(loaded);
  }
  if (c.problems.ids.empty()) return all;
  std::vector<v1::Problem> chosen;
  for (const std::string& id : c.problems.ids) {
    auto it = std::find_if(all.begin(), all.end(), [&](const v1::Problem& p) { return p.id() == id; });
    if (it == all.end()) return absl::NotFoundError(absl::StrCat("problems.ids: no problem \"", id, "\""));
    chosen.push_back(*it);
  }
  return chosen;
}

}  // namespace crucible::cli
