#include "cli/launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <filesystem>
#include <map>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "actors/prompt.h"
#include "cli/run_report.h"
#include "cli/signals.h"
#include "common/files.h"
#include "common/metrics.h"
#include "common/problem_io.h"
#include "common/model/model_cli.h"
#include "common/tokenizer.h"
#include "nlohmann/json.hpp"

namespace crucible::cli {
namespace {

using nlohmann::json;

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The executable `name` on PATH, as execve needs it.
absl::StatusOr<std::string> FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(name, " is not on PATH"));
}

// A free TCP port on the loopback interface (bound, read back, released).
absl::StatusOr<int> FreePort(const std::string& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("no free port on ", address));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string ResolveDataPath(const std::string& path) {
  if (path.empty() || path[0] == '/' || Exists(path)) return path;
  // Relative to the source tree the binary was built in (build/bin/crucible).
  const std::string from_binary = absl::StrCat(ExecutableDir(), "/../../", path);
  return Exists(from_binary) ? from_binary : path;
}

std::string NewRunId() {
  std::random_device rd;
  return absl::StrCat(absl::FormatTime("run-%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()), "-",
                      absl::Hex(rd() & 0xffff, absl::kZeroPad4));
}

enum class Role { kJudge, kLearner, kActor };
const char* RoleName(Role r) { return r == Role::kJudge ? "judge" : r == Role::kLearner ? "learner" : "actor"; }

struct Process {
  Role role;
  int index = 0;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // added to the launcher's environment
  std::string log;
  int grpc_port = 0, metrics_port = 0;
  // supervisor.launcher srun: the Slurm node and job component it runs on ("": the
  // first of supervisor.gpu_nodes), and the address others reach it at. Local: "".
  std::string node, address;
  int het_group = -1;
  pid_t pid = -1;
  int restarts = 0;
  bool finished = false;         // exited 0 at the end of the run: not restarted
  absl::Time restart_at = absl::InfinitePast();
  absl::Duration backoff;
};

// fork + exec with the child's stdout and stderr appended to `log`, in its own process
// group (a terminal's Ctrl-C reaches only the launcher, which stops the children in
// order), killed if the launcher dies.
absl::StatusOr<pid_t> SpawnChild(const Process& p) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const std::string& x : p.env) overridden = overridden || x.substr(0, x.find('=')) == key;
    if (!overridden) env_strings.push_back(entry);
  }
  for (const std::string& x : p.env) env_strings.push_back(x);
  std::vector<char*> argv, envp;
  for (const std::string& a : p.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const int log_fd = ::open(p.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("open ", p.log, ": ", std::strerror(errno)));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("status ", status);
}

class Cluster {
 public:
  explicit Cluster(const LaunchOptions& o) : o_(o), c_(o.config) {}
  int Run();

 private:
  absl::Status Prepare();
  absl::Status PrepareModel();
  absl::Status AddInitTokenizer();
  absl::Status WarmStart();
  absl::Status PlanProcesses();
  absl::Status Start(Process& p);
  void WriteClusterFiles();
  std::string DiscoveryFile() const;  // ports.prometheus_targets_dir/<run id>.json
  void Signal(Role role, int sig);
  bool WaitRole(Role role, absl::Duration timeout);
  void KillAll();
  void Progress(bool final_line);
  int Finish(int code);
  absl::Status PrepareHeldout();
  absl::StatusOr<json> Evaluate(const std::string& name, const std::string& adapter);
  absl::Status EvaluateRun();
  int EvaluateStage();
  absl::StatusOr<int> RunChildToEnd(Process p, absl::Duration timeout);
  // The process as it is started: its own argv locally; with supervisor.launcher srun, an
  // srun step on its node.
  Process Placed(const Process& p) const;
  bool Stopping() const { return o_.stop != nullptr && o_.stop->load(); }

  const LaunchOptions& o_;
  RunConfig c_;
  std::string dir_, logs_, run_id_, model_dir_, init_adapter_;
  std::string srun_;  // supervisor.launcher srun: the srun executable
  std::map<std::string, std::string> heldout_source_;  // held-out problem id -> its source
  json eval_ = json::object();                         // eval.json
  std::vector<Process> procs_;
  absl::Time start_ = absl::Now(), rl_start_ = absl::Now(), rl_end_ = absl::InfiniteFuture();
  double warm_start_seconds_ = 0;
  absl::Time next_progress_ = absl::InfinitePast();
  double samples_seen_ = 0;  // the actors' samples, as last scraped
  // metrics.jsonl of this invocation, read as it grows: the newest line and the sums.
  void ReadNewMetrics();
  std::streamoff metrics_offset_ = 0;
  json last_metrics_;
  double trained_ = 0, idle_seconds_ = 0;
  bool tty_ = ::isatty(STDERR_FILENO) != 0;
};

absl::Status Cluster::Prepare() {
  dir_ = o_.run_dir;
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (absl::Status s = MakeDirs(dir_); !s.ok()) return s;
  logs_ = dir_ + "/logs";
  if (absl::Status s = MakeDirs(logs_); !s.ok()) return s;
  if (c_.supervisor.launcher == "srun") {
    absl::StatusOr<std::string> path = FindInPath("srun");
    if (!path.ok()) return absl::InvalidArgumentError(absl::StrCat("supervisor.launcher srun: ", path.status().message()));
    if (std::getenv("SLURM_JOB_ID") == nullptr) {
      return absl::InvalidArgumentError("supervisor.launcher srun runs inside a Slurm job (deploy/slurm/crucible.sbatch)");
    }
    srun_ = *path;
  }
  // The run id belongs to the directory: a second invocation continues the same run.
  const std::string id_file = dir_ + "/run_id";
  if (Exists(id_file)) {
    absl::StatusOr<std::string> id = ReadFile(id_file);
    if (!id.ok()) return id.status();
    run_id_ = std::string(absl::StripAsciiWhitespace(*id));
    if (!c_.run.id.empty() && c_.run.id != run_id_) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir_, " holds run \"", run_id_, "\"; run.id asks for \"", c_.run.id, "\""));
    }
  } else {
    run_id_ = c_.run.id.empty() ? NewRunId() : c_.run.id;
    if (absl::Status s = WriteFileAtomic(id_file, run_id_ + "\n"); !s.ok()) return s;
  }
  c_.run.id = run_id_;
  // Paths as every process of the run finds them, whatever its working directory.
  c_.model.init_config = ResolveDataPath(c_.model.init_config);
  c_.model.init_tokenizer = ResolveDataPath(c_.model.init_tokenizer);
  c_.problems.file = ResolveDataPath(c_.problems.file);
  c_.eval.problems_file = ResolveDataPath(c_.eval.problems_file);
  if (c_.model.tokenizer != "bytes") c_.model.tokenizer = ResolveDataPath(c_.model.tokenizer);
  if (absl::Status s = ValidatePromptTemplate(c_.actors.prompt_template); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("actors.prompt_template: ", s.message()));
  }
  if (absl::Status s = PrepareModel(); !s.ok()) return s;
  return WriteFileAtomic(dir_ + "/config.yaml", RunConfigToYaml(c_));
}

// A node of supervisor.judge_nodes / gpu_nodes: "name" or "name@address".
std::pair<std::string, std::string> NodeAndAddress(const std::string& entry) {
  const size_t at = entry.find('@');
  if (at == std::string::npos) return {entry, entry};
  return {entry.substr(0, at), entry.substr(at + 1)};
}

Process Cluster::Placed(const Process& p) const {
  if (c_.supervisor.launcher != "srun") return p;
  Process placed = p;
  std::string node = p.node;
  int group = p.het_group;
  if (node.empty()) {
    node = NodeAndAddress(c_.supervisor.gpu_nodes.at(0)).first;
    group = c_.supervisor.gpu_het_group;
  }
  // One task on one node, sharing the allocation's CPUs with the other steps (--overlap);
  // srun forwards SIGTERM to the task and exits with its status, so supervision is the same.
  placed.argv = {srun_, "--nodes=1", "--ntasks=1", "--nodelist=" + node, "--overlap", "--quiet",
                 absl::StrCat("--job-name=crucible-", RoleName(p.role), "-", p.index)};
  if (group >= 0) placed.argv.push_back(absl::StrCat("--het-group=", group));
  placed.argv.push_back("--");
  placed.argv.insert(placed.argv.end(), p.argv.begin(), p.argv.end());
  return placed;
}

absl::StatusOr<int> Cluster::RunChildToEnd(Process p, absl::Duration timeout) {
  absl::StatusOr<pid_t> pid = SpawnChild(Placed(p));
  if (!pid.ok()) return pid.status();
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(*pid, &status, WNOHANG);
    if (r == *pid) break;
    if (Stopping() || absl::Now() > deadline) {
      ::kill(*pid, Stopping() ? SIGTERM : SIGKILL);
      ::waitpid(*pid, &status, 0);
      return absl::CancelledError(Stopping() ? "stopped" : absl::StrCat(p.argv[0], " ran past its time"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// A fresh model is initialised into base/ when nothing trains it before the loop, else
// into init/, from which the full-parameter warm start writes base/.
absl::Status Cluster::PrepareModel() {
  if (!c_.model.path.empty()) {
    model_dir_ = c_.model.path;
    return absl::OkStatus();
  }
  const bool warm_base = c_.warm_start.sft_steps > 0 && c_.warm_start.full_parameters;
  model_dir_ = dir_ + (warm_base ? "/init" : "/base");
  if (!warm_base) c_.model.path = model_dir_;  // else the warm start names base/
  if (Exists(model_dir_ + "/config.json") || (warm_base && Exists(dir_ + "/base/config.json"))) {
    return absl::OkStatus();
  }
  Process init;
  init.role = Role::kLearner;
  init.argv = {o_.crucible_binary, "model", "init", "--config", c_.model.init_config,
               "--out", model_dir_, "--seed", absl::StrCat(c_.run.seed), "--dtype", c_.model.dtype};
  init.log = logs_ + "/model-init.log";
  absl::StatusOr<int> code = RunChildToEnd(init, absl::Minutes(10));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("initialising the model failed (", init.log, ")"));
  return AddInitTokenizer();
}

// A tokenizer.json, and the tokenizer_config.json beside it when there is one (it names the
// special tokens' roles), into the model directory `to`.
absl::Status CopyTokenizerFiles(const std::string& tokenizer, const std::string& to) {
  const std::string dir = tokenizer.substr(0, tokenizer.find_last_of('/') + 1);
  for (const auto& [from, name] : {std::pair{tokenizer, "tokenizer.json"},
                                   std::pair{dir + "tokenizer_config.json", "tokenizer_config.json"}}) {
    if (!Exists(from)) continue;
    absl::StatusOr<std::string> bytes = ReadFile(from);
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = WriteFileAtomic(to + "/" + name, *bytes); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// model.init_tokenizer (and the tokenizer_config.json beside it, which names the special
// tokens) into the fresh model, so that every process and base/ find it there.
absl::Status Cluster::AddInitTokenizer() {
  const std::string& tokenizer = c_.model.init_tokenizer;
  if (tokenizer.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = Tokenizer::Load(tokenizer);
  if (!loaded.ok()) return absl::InvalidArgumentError(absl::StrCat("model.init_tokenizer: ", loaded.status().message()));
  absl::StatusOr<std::string> config = ReadFile(model_dir_ + "/config.json");
  if (!config.ok()) return config.status();
  const int64_t vocab = json::parse(*config, nullptr, false).value("vocab_size", int64_t{0});
  if ((*loaded)->vocab_size() > vocab) {
    return absl::InvalidArgumentError(absl::StrCat("model.init_tokenizer ", tokenizer, " has ", (*loaded)->vocab_size(),
                                                   " tokens, more than model.init_config's vocab_size ", vocab));
  }
  return CopyTokenizerFiles(tokenizer, model_dir_);
}

// Copies the regular files `names` of `from` that exist into the new directory `to`,
// through a temporary directory renamed into place: `to` is complete or absent.
absl::Status CopyModelFiles(const std::string& from, const std::string& to, const std::vector<std::string>& names) {
  const std::string tmp = to + ".tmp";
  (void)RemoveTree(tmp);
  if (absl::Status s = MakeDirs(tmp); !s.ok()) return s;
  for (const std::string& name : names) {
    if (!Exists(from + "/" + name)) continue;
    absl::StatusOr<std::string> bytes = ReadFile(from + "/" + name);
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = WriteFile(tmp + "/" + name, *bytes); !s.ok()) return s;
  }
  (void)RemoveTree(to);
  if (::rename(tmp.c_str(), to.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp, " to ", to, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

const std::vector<std::string>& ModelFiles() {
  static const auto* names = new std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json",
                                                          "tokenizer_config.json"};
  return *names;
}

// SFT on the reference solutions: prompt from the template, completion = the reference
// and the end-of-sequence token, so the policy's first samples can be programs at all.
// Full-parameter: the result is the run's base/ (the model the actors load, the loop's
// reference policy; fresh adapters on it). Otherwise its adapter is where the loop's
// adapter starts. Cached: a run directory that has the result skips it.
absl::Status Cluster::WarmStart() {
  if (c_.warm_start.sft_steps <= 0) return absl::OkStatus();
  const std::string wdir = dir_ + "/warm_start";
  const std::string ckpt = wdir + "/checkpoints";
  const std::string done = absl::StrCat(ckpt, "/step-", absl::StrFormat("%08d", c_.warm_start.sft_steps));
  const bool full = c_.warm_start.full_parameters;
  const std::string base = dir_ + "/base";
  auto use_result = [&]() {
    if (full) {
      model_dir_ = base;
      c_.model.path = base;
    } else {
      init_adapter_ = done + "/adapter";
    }
    return WriteFileAtomic(dir_ + "/config.yaml", RunConfigToYaml(c_));
  };
  if (full ? Exists(base + "/config.json") : Exists(done + "/adapter/adapter_config.json")) {
    std::fprintf(stderr, "crucible run: warm start: done before (%s)\n", full ? base.c_str() : done.c_str());
    return use_result();
  }
  if (absl::Status s = MakeDirs(wdir); !s.ok()) return s;
  absl::StatusOr<std::vector<v1::Problem>> problems = LoadRunProblems(c_);
  if (!problems.ok()) return problems.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(c_.model.tokenizer.empty() ? model::DefaultTokenizerFor(model_dir_) : c_.model.tokenizer);
  if (!tokenizer.ok()) return tokenizer.status();
  std::string data;
  int examples = 0;
  for (const v1::Problem& p : *problems) {
    absl::StatusOr<std::string> prompt = BuildPrompt(c_.actors.prompt_template, p, c_.problems.language);
    if (!prompt.ok()) return prompt.status();
    for (const v1::Program& s : p.solutions()) {
      if (s.language() != c_.problems.language) continue;
      std::vector<int32_t> completion = (*tokenizer)->Encode(s.source());
      if ((*tokenizer)->eos_id().has_value()) completion.push_back(*(*tokenizer)->eos_id());
      data += json({{"prompt_tokens", (*tokenizer)->Encode(*prompt)}, {"completion_tokens", completion}}).dump() + "\n";
      ++examples;
    }
  }
  if (examples == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the warm start has no reference solutions in ", c_.problems.language));
  }
  if (absl::Status s = WriteFileAtomic(wdir + "/data.jsonl", data); !s.ok()) return s;
  Process sft;
  sft.role = Role::kLearner;
  sft.argv = {o_.crucible_binary,
              "learner",
              "offline",
              "--algo=sft",
              "--data=" + wdir + "/data.jsonl",
              "--model=" + model_dir_,
              "--checkpoint=" + ckpt,
              absl::StrCat("--steps=", c_.warm_start.sft_steps),
              absl::StrCat("--save-every=", c_.warm_start.sft_steps),
              absl::StrCat("--batch-size=", c_.warm_start.batch_size),
              absl::StrCat("--max-batch-tokens=", c_.warm_start.max_batch_tokens),
              absl::StrCat("--lr=", c_.warm_start.lr),
              absl::StrCat("--lora-rank=", c_.model.lora_rank),
              absl::StrCat("--lora-alpha=", c_.model.lora_alpha),
              absl::StrCat("--seed=", c_.run.seed),
              absl::StrCat("--full-parameters=", full ? "true" : "false"),
              "--json"};
  sft.env = {"CRUCIBLE_THREADS=" + std::to_string(std::max(1u, std::thread::hardware_concurrency()))};
  sft.log = logs_ + "/warm-start.log";
  std::fprintf(stderr, "crucible run: warm start: SFT on %d reference solutions, %lld steps (%s)\n", examples,
               static_cast<long long>(c_.warm_start.sft_steps), sft.log.c_str());
  const absl::Time start = absl::Now();
  absl::StatusOr<int> code = RunChildToEnd(sft, absl::Hours(2));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("the warm start failed (", sft.log, ")"));
  warm_start_seconds_ = absl::ToDoubleSeconds(absl::Now() - start);
  const std::string result = full ? done + "/model" : done + "/adapter";
  if (!Exists(result)) return absl::InternalError(absl::StrCat("the warm start left nothing at ", result));
  if (full) {
    // The tokenizer (and its special tokens' roles) go with the weights trained on its ids:
    // base/ is a whole model, renamed into place complete.
    const std::string tokenizer = c_.model.tokenizer.empty() || c_.model.tokenizer == "bytes"
                                      ? model_dir_ + "/tokenizer.json"
                                      : c_.model.tokenizer;
    if (absl::Status s = CopyTokenizerFiles(tokenizer, result); !s.ok()) return s;
    if (absl::Status s = CopyModelFiles(result, base, ModelFiles()); !s.ok()) return s;
  }
  // The resolved config names the base the loop's processes load.
  return use_result();
}

// heldout.jsonl: the held-out problems, copied into the run directory so that anyone can
// re-evaluate base/ and final/ against exactly them.
absl::Status Cluster::PrepareHeldout() {
  if (c_.eval.problems_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<v1::Problem>> problems = LoadProblemsFile(c_.eval.problems_file);
  if (!problems.ok()) return problems.status();
  for (const v1::Problem& p : *problems) heldout_source_[p.id()] = p.source().empty() ? "unknown" : p.source();
  absl::StatusOr<std::string> text = ReadFile(c_.eval.problems_file);
  if (!text.ok()) return text.status();
  return WriteFileAtomic(dir_ + "/heldout.jsonl", *text);
}

// `crucible eval` of the base (with `adapter` unless "") on heldout.jsonl into eval/<name>/
// (resumable: a killed run's samples are kept), summarised for eval.json: pass@1, pass@5,
// compile rate, and the same by problem source (the macro average over its problems).
absl::StatusOr<json> Cluster::Evaluate(const std::string& name, const std::string& adapter) {
  const std::string out = dir_ + "/eval/" + name;
  Process p;
  p.role = Role::kLearner;
  p.argv = {o_.crucible_binary,
            "eval",
            "--model=" + model_dir_,
            "--problems=" + dir_ + "/heldout.jsonl",
            absl::StrCat("--n=", c_.eval.samples_per_problem),
            absl::StrCat("--k=1", c_.eval.samples_per_problem >= 5 ? ",5" : ""),
            absl::StrCat("--temperature=", c_.eval.temperature),
            absl::StrCat("--max-new-tokens=", c_.actors.max_new_tokens),
            "--prompt-template=" + c_.actors.prompt_template,
            "--language=" + c_.problems.language,
            absl::StrCat("--seed=", c_.run.seed),
            "--out=" + out};
  if (!adapter.empty()) p.argv.push_back("--adapter=" + adapter);
  if (!c_.model.tokenizer.empty()) p.argv.push_back("--tokenizer=" + c_.model.tokenizer);
  p.env = {"CRUCIBLE_THREADS=" + std::to_string(std::max(1u, std::thread::hardware_concurrency()))};
  p.log = logs_ + "/eval-" + name + ".log";
  std::fprintf(stderr, "crucible run: evaluating %s on %zu held-out problems (%s)\n", name.c_str(),
               heldout_source_.size(), p.log.c_str());
  absl::StatusOr<int> code = RunChildToEnd(p, absl::Hours(2));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("evaluating ", name, " failed (", p.log, ")"));
  absl::StatusOr<std::string> text = ReadFile(out + "/report.json");
  if (!text.ok()) return text.status();
  const json report = json::parse(*text, nullptr, false);
  if (!report.is_object()) return absl::InternalError(absl::StrCat(out, "/report.json is not JSON"));
  const std::vector<std::string> keys = {"pass@1", "pass@5", "compile_rate"};
  json summary = json::object();
  for (const std::string& k : keys) summary[k] = report["overall"].value(k, json(nullptr));
  summary["problems"] = report["overall"].value("problems", json(nullptr));
  summary["n"] = report["overall"].value("n", json(nullptr));
  std::map<std::string, std::vector<const json*>> by_source;
  for (const auto& [id, block] : report["problems"].items()) {
    auto it = heldout_source_.find(id);
    by_source[it == heldout_source_.end() ? "unknown" : it->second].push_back(&block);
  }
  for (const auto& [source, blocks] : by_source) {
    json group = {{"problems", blocks.size()}};
    for (const std::string& k : keys) {
      double sum = 0;
      bool available = true;
      for (const json* b : blocks) {
        const json& v = (*b).value(k, json(nullptr));
        available = available && v.is_number();
        if (v.is_number()) sum += v.get<double>();
      }
      group[k] = available ? json(sum / static_cast<double>(blocks.size())) : json(nullptr);
    }
    summary["by_source"][source] = group;
  }
  return summary;
}

// After the loop: the kept checkpoints (for the held-out curve) and the last one, which
// becomes final/; eval.json, eval_curve.jsonl and the numbers on stderr.
absl::Status Cluster::EvaluateRun() {
  std::vector<std::pair<int64_t, std::string>> checkpoints;  // step, adapter directory
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/checkpoints", ec)) {
    const std::string name = entry.path().filename().string();
    int64_t step;
    if (!absl::StartsWith(name, "step-") || !absl::SimpleAtoi(name.substr(5), &step)) continue;
    const std::string adapter = dir_ + "/checkpoints/" + name + "/adapter";
    if (Exists(adapter + "/adapter_config.json")) checkpoints.emplace_back(step, adapter);
  }
  if (checkpoints.empty()) return absl::FailedPreconditionError("the run left no checkpoint to evaluate");
  std::sort(checkpoints.begin(), checkpoints.end());
  const auto [final_step, final_adapter] = checkpoints.back();
  if (absl::Status s = CopyModelFiles(final_adapter, dir_ + "/final", {"adapter_config.json", "adapter_model.safetensors"});
      !s.ok()) {
    return s;
  }
  if (c_.eval.problems_file.empty()) return absl::OkStatus();
  std::string curve;
  auto point = [&](int64_t step, const std::string& label, const json& summary) {
    curve += json({{"step", step}, {"label", label}, {"pass@1", summary["pass@1"]}, {"pass@5", summary["pass@5"]}}).dump() + "\n";
  };
  point(0, "base", eval_["base"]);
  if (c_.eval.checkpoints) {
    for (size_t i = 0; i + 1 < checkpoints.size(); ++i) {
      const std::string label = absl::StrCat("step-", checkpoints[i].first);
      absl::StatusOr<json> summary = Evaluate(label, checkpoints[i].second);
      if (!summary.ok()) return summary.status();
      point(checkpoints[i].first, label, *summary);
    }
  }
  absl::StatusOr<json> final_summary = Evaluate("final", dir_ + "/final");
  if (!final_summary.ok()) return final_summary.status();
  point(final_step, "final", *final_summary);
  eval_["final"] = *final_summary;
  eval_["final_step"] = final_step;
  eval_["heldout"] = "heldout.jsonl";
  eval_["samples_per_problem"] = c_.eval.samples_per_problem;
  eval_["temperature"] = c_.eval.temperature;
  if (absl::Status s = WriteFileAtomic(dir_ + "/eval_curve.jsonl", curve); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomic(dir_ + "/eval.json", eval_.dump(2) + "\n"); !s.ok()) return s;
  auto pct = [](const json& v) { return v.is_number() ? absl::StrFormat("%.1f%%", 100 * v.get<double>()) : std::string("n/a"); };
  for (const char* k : {"pass@1", "pass@5", "compile_rate"}) {
    const json& b = eval_["base"][k];
    const json& f = eval_["final"][k];
    std::string delta;
    if (b.is_number() && f.is_number()) delta = absl::StrFormat("  (%+.1f points)", 100 * (f.get<double>() - b.get<double>()));
    std::fprintf(stderr, "crucible run: held-out %-12s base %7s  final %7s%s\n", k, pct(b).c_str(), pct(f).c_str(),
                 delta.c_str());
  }
  return absl::OkStatus();
}

absl::Status Cluster::PlanProcesses() {
  const std::string& host = c_.ports.bind_address;
  const bool srun = c_.supervisor.launcher == "srun";
  // Where process k of a role runs, and the address others reach it at.
  auto place = [&](Process& p, const std::vector<std::string>& nodes, size_t k, int group) {
    if (!srun) {
      p.address = host;
      return;
    }
    std::tie(p.node, p.address) = NodeAndAddress(nodes[k % nodes.size()]);
    p.het_group = group;
  };
  const std::vector<std::string>& gpu = c_.supervisor.gpu_nodes;
  const int ranks_per_node =
      srun ? (c_.learner.ranks + static_cast<int>(gpu.size()) - 1) / static_cast<int>(gpu.size()) : c_.learner.ranks;
  int next_fixed = c_.ports.base;
  auto port = [&]() -> absl::StatusOr<int> {
    if (next_fixed > 0) return next_fixed++;
    return FreePort(host);
  };
  const std::string config = dir_ + "/config.yaml";
  std::vector<std::string> judge_endpoints = c_.judges.endpoints;
  if (judge_endpoints.empty()) {
    for (int i = 0; i < c_.judges.local_count; ++i) {
      Process p;
      p.role = Role::kJudge;
      p.index = i;
      absl::StatusOr<int> g = port(), m = port();
      if (!g.ok()) return g.status();
      if (!m.ok()) return m.status();
      p.grpc_port = *g;
      p.metrics_port = *m;
      place(p, c_.supervisor.judge_nodes, static_cast<size_t>(i), c_.supervisor.judge_het_group);
      p.argv = {o_.judge_binary, "serve", "--host=" + host, absl::StrCat("--port=", p.grpc_port),
                absl::StrCat("--metrics_port=", p.metrics_port), absl::StrCat("--workers=", c_.judges.workers),
                absl::StrCat("--name=judge-", i)};
      judge_endpoints.push_back(absl::StrCat(p.address, ":", p.grpc_port));
      procs_.push_back(std::move(p));
    }
  }
  absl::StatusOr<int> learner_port = port(), master_port = port();
  if (!learner_port.ok()) return learner_port.status();
  if (!master_port.ok()) return master_port.status();
  Process rank0;
  place(rank0, gpu, 0, c_.supervisor.gpu_het_group);
  const std::string learner_endpoint = absl::StrCat(rank0.address, ":", *learner_port);
  for (int r = 0; r < c_.learner.ranks; ++r) {
    Process p;
    p.role = Role::kLearner;
    p.index = r;
    place(p, gpu, static_cast<size_t>(r / ranks_per_node), c_.supervisor.gpu_het_group);
    if (r == 0) p.grpc_port = *learner_port;
    absl::StatusOr<int> m = port();  // every rank serves /metrics
    if (!m.ok()) return m.status();
    p.metrics_port = *m;
    p.argv = {o_.crucible_binary, "learner", "--config=" + config, "--run-dir=" + dir_};
    if (r == 0) p.argv.push_back(absl::StrCat("--port=", p.grpc_port));
    p.argv.push_back(absl::StrCat("--metrics-port=", p.metrics_port));
    if (!init_adapter_.empty()) p.argv.push_back("--init-adapter=" + init_adapter_);
    p.env = {absl::StrCat("RANK=", r), absl::StrCat("WORLD_SIZE=", c_.learner.ranks),
             absl::StrCat("LOCAL_RANK=", r % ranks_per_node), absl::StrCat("LOCAL_WORLD_SIZE=", ranks_per_node),
             "MASTER_ADDR=" + (srun ? rank0.address : std::string("127.0.0.1")),
             absl::StrCat("MASTER_PORT=", *master_port), "CRUCIBLE_THREADS=1"};
    procs_.push_back(std::move(p));
  }
  for (int i = 0; i < c_.actors.count; ++i) {
    Process p;
    p.role = Role::kActor;
    p.index = i;
    absl::StatusOr<int> m = port();
    if (!m.ok()) return m.status();
    p.metrics_port = *m;
    place(p, gpu, static_cast<size_t>(i), c_.supervisor.gpu_het_group);
    p.argv = {o_.crucible_binary,
              "actor",
              "--config=" + config,
              "--run-dir=" + dir_,
              absl::StrCat("--index=", i),
              "--learner=" + learner_endpoint,
              "--judges=" + absl::StrJoin(judge_endpoints, ","),
              absl::StrCat("--metrics-port=", p.metrics_port)};
    p.env = {absl::StrCat("CRUCIBLE_THREADS=", c_.actors.threads)};
    procs_.push_back(std::move(p));
  }
  for (Process& p : procs_) {
    p.log = absl::StrCat(logs_, "/", RoleName(p.role), "-", p.index, ".log");
    p.backoff = absl::Milliseconds(c_.supervisor.backoff_initial_ms);
  }
  return absl::OkStatus();
}

absl::Status Cluster::Start(Process& p) {
  {
    std::ofstream log(p.log, std::ios::app);
    log << "---- crucible run: starting " << RoleName(p.role) << " " << p.index << " (start " << p.restarts + 1
        << "): " << absl::StrJoin(p.argv, " ") << "\n";
  }
  absl::StatusOr<pid_t> pid = SpawnChild(Placed(p));
  if (!pid.ok()) return pid.status();
  p.pid = *pid;
  WriteClusterFiles();
  return absl::OkStatus();
}

void Cluster::WriteClusterFiles() {
  json processes = json::array();
  json targets = json::array();
  for (const Process& p : procs_) {
    processes.push_back({{"role", RoleName(p.role)},
                         {"index", p.index},
                         {"pid", p.pid},
                         {"grpc_port", p.grpc_port},
                         {"metrics_port", p.metrics_port},
                         {"node", p.node},
                         {"restarts", p.restarts},
                         {"log", p.log}});
    if (p.metrics_port > 0) {
      targets.push_back({{"targets", {absl::StrCat(p.address, ":", p.metrics_port)}},
                         {"labels",
                          {{"job", absl::StrCat("crucible-", RoleName(p.role))},
                           {"role", RoleName(p.role)},
                           {"index", std::to_string(p.index)},
                           {"run_id", run_id_}}}});
    }
  }
  (void)WriteFileAtomic(dir_ + "/cluster.json", json({{"run_id", run_id_}, {"processes", processes}}).dump(2) + "\n");
  (void)WriteFileAtomic(dir_ + "/prometheus_targets.json", targets.dump(2) + "\n");
  if (!c_.ports.prometheus_targets_dir.empty()) {
    // Discovery for a Prometheus watching every run: <dir>/<run id>.json while this runs.
    (void)MakeDirs(c_.ports.prometheus_targets_dir);
    (void)WriteFileAtomic(DiscoveryFile(), targets.dump(2) + "\n");
  }
}

std::string Cluster::DiscoveryFile() const {
  return absl::StrCat(c_.ports.prometheus_targets_dir, "/", run_id_, ".json");
}

void Cluster::Signal(Role role, int sig) {
  for (Process& p : procs_) {
    if (p.role == role && p.pid > 0) ::kill(p.pid, sig);
  }
}

// Reaps the processes of `role` until none runs; false if the timeout passed first.
bool Cluster::WaitRole(Role role, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    bool running = false;
    for (Process& p : procs_) {
      if (p.role != role || p.pid <= 0) continue;
      int status;
      if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
        p.pid = -1;
        p.finished = true;
      } else {
        running = true;
      }
    }
    if (!running) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

void Cluster::KillAll() {
  for (Process& p : procs_) {
    if (p.pid > 0) {
      ::kill(-p.pid, SIGKILL);  // its process group: anything it started goes too
      ::kill(p.pid, SIGKILL);
      int status;
      ::waitpid(p.pid, &status, 0);
      p.pid = -1;
    }
  }
}

void Cluster::ReadNewMetrics() {
  std::ifstream in(dir_ + "/metrics.jsonl");
  if (!in || !in.seekg(metrics_offset_)) return;
  std::string line;
  // Only whole lines: the learner may be writing the last one.
  while (std::getline(in, line) && !in.eof()) {
    metrics_offset_ += static_cast<std::streamoff>(line.size()) + 1;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.value("unix_ms", int64_t{0}) < absl::ToUnixMillis(rl_start_)) continue;  // an earlier invocation's
    trained_ += j.value("trajectories", 0.0);
    idle_seconds_ += j.value("idle_seconds", 0.0);
    last_metrics_ = std::move(j);
  }
}

void Cluster::Progress(bool final_line) {
  if (!final_line && absl::Now() < next_progress_) return;
  next_progress_ = absl::Now() + absl::Seconds(c_.supervisor.progress_interval_s);
  ReadNewMetrics();
  const json& last = last_metrics_;
  const double trained = trained_;
  double samples = 0;
  for (const Process& p : procs_) {
    if (p.role == Role::kActor && p.pid > 0) {
      samples += MetricSum(ScrapeMetrics(p.address, p.metrics_port), "crucible_actor_samples_total");
    }
  }
  if (samples > 0) samples_seen_ = std::max(samples_seen_, samples);
  const double elapsed = std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - rl_start_));
  int restarts = 0;
  for (const Process& p : procs_) restarts += p.restarts;
  std::string line;
  if (last.is_null()) {
    line = absl::StrFormat("step 0/%d  waiting for the first batch  %.0fs", c_.run.steps, elapsed);
  } else {
    line = absl::StrFormat(
        "step %d/%d  reward %+.3f  pass %.3f  version %d  staleness %.1f/%d  samples/s %.2f  trained/s %.2f  "
        "restarts %d  %.0fs",
        last.value("step", 0), c_.run.steps, last.value("reward_mean", 0.0), last.value("pass_rate", 0.0),
        last.value("policy_version", 0), last.value("staleness_mean", 0.0), last.value("staleness_max", 0),
        samples_seen_ / elapsed, trained / elapsed, restarts, elapsed);
  }
  if (tty_ && !final_line) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
  } else {
    std::fprintf(stderr, "%s%s\n", tty_ ? "\r" : "", line.c_str());
  }
  std::fflush(stderr);
}

int Cluster::Finish(int code) {
  if (rl_end_ == absl::InfiniteFuture()) Progress(true);
  KillAll();
  // A run that ended is no target: Prometheus would report its processes down.
  if (!c_.ports.prometheus_targets_dir.empty()) (void)::unlink(DiscoveryFile().c_str());
  json books = json::object();
  json learner_books;
  {
    absl::StatusOr<std::string> text = ReadFile(dir_ + "/learner/books.json");
    if (text.ok()) learner_books = json::parse(*text, nullptr, false);
  }
  int64_t steps = 0;
  bool balanced = false;
  if (learner_books.is_object()) {
    for (const char* k : {"produced", "trained", "dropped_stale", "dropped_incomplete", "queued", "duplicates_dropped"}) {
      books[k] = learner_books.value(k, int64_t{0});
    }
    steps = learner_books.value("steps", int64_t{0});
    balanced = books["produced"].get<int64_t>() ==
               books["trained"].get<int64_t>() + books["dropped_stale"].get<int64_t>() +
                   books["dropped_incomplete"].get<int64_t>() + books["queued"].get<int64_t>();
  }
  json restarts = json::object();
  for (const Process& p : procs_) restarts[RoleName(p.role)] = restarts.value(RoleName(p.role), 0) + p.restarts;
  ReadNewMetrics();
  const double idle = idle_seconds_;
  const double rl_seconds = absl::ToDoubleSeconds(std::min(absl::Now(), rl_end_) - rl_start_);
  json summary = {{"run_id", run_id_},
                  {"steps", steps},
                  {"wall_seconds", absl::ToDoubleSeconds(absl::Now() - start_)},
                  {"warm_start_seconds", warm_start_seconds_},
                  {"rl_seconds", rl_seconds},
                  {"samples_per_second", samples_seen_ / std::max(1e-9, rl_seconds)},
                  {"learner_idle_fraction", idle / std::max(1e-9, rl_seconds)},
                  {"books", books},
                  {"balanced", balanced},
                  {"restarts", restarts},
                  {"exit_code", code}};
  (void)WriteFileAtomic(dir_ + "/summary.json", summary.dump(2) + "\n");
  std::fprintf(stderr, "crucible run: %s\n", summary.dump().c_str());
  if (code == 0 && !balanced) {
    std::fprintf(stderr, "crucible run: the books do not balance\n");
    return 1;
  }
  return code;
}

int Cluster::Run() {
  if (absl::Status s = Prepare(); !s.ok()) {
    std::fprintf(stderr, "crucible run: %s\n", std::string(s.message()).c_str());
    return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::fprintf(stderr, "crucible run: %s in %s\n", run_id_.c_str(), dir_.c_str());
  if (absl::Status s = WarmStart(); !s.ok()) {
    std::fprintf(stderr, "crucible run: %s\n", std::string(s.message()).c_str());
    return Stopping() ? 128 + SIGTERM : (s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1);
  }
  if (absl::Status s = PrepareHeldout(); !s.ok()) {
    std::fprintf(stderr, "crucible run: eval.problems_file: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (o_.stage == "evaluate") return EvaluateStage();
  if (!c_.eval.problems_file.empty()) {
    absl::StatusOr<json> base = Evaluate("base", init_adapter_);
    if (!base.ok()) {
      std::fprintf(stderr, "crucible run: %s\n", std::string(base.status().message()).c_str());
      return Stopping() ? 128 + SIGTERM : 1;
    }
    eval_["base"] = *base;
  }
  if (o_.stage == "prepare") {
    (void)::unlink((dir_ + "/learner/books.json").c_str());  // the loop's, written at its end
    const json marker = {{"run_id", run_id_}, {"model", c_.model.path}, {"init_adapter", init_adapter_},
                         {"unix_ms", absl::ToUnixMillis(absl::Now())}};
    if (absl::Status s = WriteFileAtomic(dir_ + "/eval.json", eval_.dump(2) + "\n"); !s.ok()) return 1;
    if (absl::Status s = WriteFileAtomic(dir_ + "/prepared", marker.dump() + "\n"); !s.ok()) return 1;
    std::fprintf(stderr, "crucible run: prepared %s (%s/config.yaml names base/)\n", run_id_.c_str(), dir_.c_str());
    return 0;
  }
  if (absl::Status s = PlanProcesses(); !s.ok()) {
    std::fprintf(stderr, "crucible run: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (absl::Status s = MakeDirs(dir_ + "/learner"); !s.ok()) return 1;
  (void)::unlink((dir_ + "/learner/books.json").c_str());
  rl_start_ = absl::Now();
  for (Process& p : procs_) {
    if (absl::Status s = Start(p); !s.ok()) {
      std::fprintf(stderr, "crucible run: %s\n", std::string(s.message()).c_str());
      KillAll();
      return 1;
    }
  }

  bool learner_done = false, stopping = false;
  int code = 0;
  absl::Time drain_deadline = absl::InfiniteFuture();
  while (true) {
    if (Stopping() && !stopping) {
      // The learner checkpoints and tells the actors to stop; they drain and exit.
      stopping = true;
      std::fprintf(stderr, "%scrucible run: stopping: the learner checkpoints, actors drain\n", tty_ ? "\n" : "");
      Signal(Role::kLearner, SIGTERM);
      drain_deadline = absl::Now() + absl::Seconds(c_.supervisor.drain_timeout_s + 30);
    }
    for (Process& p : procs_) {
      if (p.pid <= 0) {
        if (!p.finished && !learner_done && !stopping && absl::Now() >= p.restart_at && p.restart_at != absl::InfinitePast()) {
          p.restart_at = absl::InfinitePast();
          if (absl::Status s = Start(p); !s.ok()) std::fprintf(stderr, "crucible run: restart: %s\n", std::string(s.message()).c_str());
        }
        continue;
      }
      int status;
      if (::waitpid(p.pid, &status, WNOHANG) != p.pid) continue;
      const pid_t dead = p.pid;
      p.pid = -1;
      const bool clean = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || (stopping && WEXITSTATUS(status) == 143));
      if (p.role == Role::kLearner && p.index == 0 && clean) {
        learner_done = true;
        p.finished = true;
        continue;
      }
      // Nothing is restarted once the run is ending; an actor or a learner rank that exits
      // cleanly has finished (a judge never exits on its own).
      if (learner_done || stopping || (clean && p.role != Role::kJudge)) {
        p.finished = true;
        continue;
      }
      std::fprintf(stderr, "%scrucible run: %s %d (pid %d) died: %s; see %s\n", tty_ ? "\n" : "", RoleName(p.role), p.index,
                   dead, DescribeExit(status).c_str(), p.log.c_str());
      // Exit status 2 is bad input (a configuration error): starting again cannot help.
      const bool bad_input = WIFEXITED(status) && WEXITSTATUS(status) == 2;
      if (bad_input || p.restarts >= c_.supervisor.max_restarts) {
        if (bad_input) {
          std::fprintf(stderr, "crucible run: %s %d refused its input (exit 2): not restarted\n", RoleName(p.role), p.index);
        } else {
          std::fprintf(stderr, "crucible run: %s %d gave up after %d restarts\n", RoleName(p.role), p.index, p.restarts);
        }
        code = 1;
        stopping = true;
        Signal(Role::kLearner, SIGTERM);
        drain_deadline = absl::Now() + absl::Seconds(c_.supervisor.drain_timeout_s + 30);
        continue;
      }
      ++p.restarts;
      p.restart_at = absl::Now() + p.backoff;
      p.backoff = std::min(p.backoff * 2, absl::Milliseconds(c_.supervisor.backoff_max_ms));
      if (p.role == Role::kLearner) {
        // The ranks form one job: all go down and come back together, from the checkpoint.
        for (Process& q : procs_) {
          if (q.role != Role::kLearner) continue;
          if (q.pid > 0) {
            ::kill(q.pid, SIGKILL);
            int s2;
            ::waitpid(q.pid, &s2, 0);
            q.pid = -1;
          }
          if (&q != &p) {
            q.restart_at = p.restart_at;
            ++q.restarts;
          }
        }
      }
    }
    // The run is over when the learner is done and every actor has delivered and exited.
    bool actors_running = false;
    for (const Process& p : procs_) actors_running = actors_running || (p.role == Role::kActor && p.pid > 0);
    bool learners_running = false;
    for (const Process& p : procs_) learners_running = learners_running || (p.role == Role::kLearner && p.pid > 0);
    if (learner_done && drain_deadline == absl::InfiniteFuture()) {
      drain_deadline = absl::Now() + absl::Seconds(c_.supervisor.drain_timeout_s);
    }
    if ((learner_done || stopping) && !actors_running && !learners_running) break;
    if (absl::Now() > drain_deadline) {
      std::fprintf(stderr, "%scrucible run: processes still running at the drain deadline: killed\n", tty_ ? "\n" : "");
      if (code == 0 && !stopping) code = 1;
      break;
    }
    if (stopping && !learners_running && actors_running) Signal(Role::kActor, SIGTERM);
    Progress(false);
    absl::SleepFor(absl::Milliseconds(100));
  }
  Signal(Role::kJudge, SIGTERM);
  if (!WaitRole(Role::kJudge, absl::Seconds(10))) KillAll();
  if (!c_.ports.prometheus_targets_dir.empty()) (void)::unlink(DiscoveryFile().c_str());
  rl_end_ = absl::Now();
  Progress(true);
  if (code == 0 && !Stopping()) {
    if (absl::Status s = EvaluateRun(); !s.ok()) {
      std::fprintf(stderr, "crucible run: %s\n", std::string(s.message()).c_str());
      code = 1;
    }
  }
  // The curves so far, also for a stopped or failed run.
  if (absl::Status s = WriteRunReport(dir_); !s.ok()) {
    std::fprintf(stderr, "crucible run: report.html: %s\n", std::string(s.message()).c_str());
  } else {
    std::fprintf(stderr, "crucible run: curves in %s/report.html and report.png\n", dir_.c_str());
  }
  if (Stopping() && code == 0) code = 128 + (StopSignal() != 0 ? StopSignal() : SIGTERM);
  return Finish(code);
}

// The stage after a loop that others ran: the base's held-out numbers from the prepare
// stage (evaluated again when absent), the learner's last checkpoint awaited, then what
// "all" does after its loop.
int Cluster::EvaluateStage() {
  if (!c_.eval.problems_file.empty()) {
    absl::StatusOr<std::string> text = ReadFile(dir_ + "/eval.json");
    json previous = text.ok() ? json::parse(*text, nullptr, false) : json();
    if (previous.is_object() && previous.contains("base")) {
      eval_["base"] = previous["base"];
    } else {
      absl::StatusOr<json> base = Evaluate("base", init_adapter_);
      if (!base.ok()) {
        std::fprintf(stderr, "crucible run: %s\n", std::string(base.status().message()).c_str());
        return Stopping() ? 128 + SIGTERM : 1;
      }
      eval_["base"] = *base;
    }
  }
  const std::string last = absl::StrFormat("%s/checkpoints/step-%08d/adapter/adapter_config.json", dir_, c_.run.steps);
  std::fprintf(stderr, "crucible run: waiting for the learner's last checkpoint (%s)\n", last.c_str());
  while (!Exists(last)) {
    if (Stopping()) return 128 + (StopSignal() != 0 ? StopSignal() : SIGTERM);
    absl::SleepFor(absl::Seconds(2));
  }
  // Rank 0 writes its books after the actors' final counts (or its drain timeout).
  const absl::Time books_deadline = absl::Now() + absl::Seconds(c_.supervisor.drain_timeout_s + 60);
  while (absl::Now() < books_deadline && !Stopping()) {
    absl::StatusOr<std::string> text = ReadFile(dir_ + "/learner/books.json");
    json books = text.ok() ? json::parse(*text, nullptr, false) : json();
    if (books.is_object() && books.value("steps", int64_t{0}) >= c_.run.steps) break;
    absl::SleepFor(absl::Seconds(1));
  }
  // The loop's span, from its metrics: every line of the run counts.
  rl_start_ = absl::InfinitePast();
  ReadNewMetrics();
  if (!last_metrics_.is_null()) {
    std::ifstream in(dir_ + "/metrics.jsonl");
    std::string first;
    if (std::getline(in, first)) {
      json j = json::parse(first, nullptr, false);
      if (!j.is_discarded()) rl_start_ = absl::FromUnixMillis(j.value("unix_ms", int64_t{0}));
    }
    rl_end_ = absl::FromUnixMillis(last_metrics_.value("unix_ms", int64_t{0}));
  }
  if (rl_start_ == absl::InfinitePast()) rl_start_ = rl_end_ = absl::Now();
  samples_seen_ = trained_;
  int code = 0;
  if (absl::Status s = EvaluateRun(); !s.ok()) {
    std::fprintf(stderr, "crucible run: %s\n", std::string(s.message()).c_str());
    code = 1;
  }
  if (absl::Status s = WriteRunReport(dir_); !s.ok()) {
    std::fprintf(stderr, "crucible run: report.html: %s\n", std::string(s.message()).c_str());
  }
  return Finish(code);
}

}  // namespace

int RunLocalCluster(const LaunchOptions& options) {
  Cluster cluster(options);
  return cluster.Run();
}

}  // namespace crucible::cli
