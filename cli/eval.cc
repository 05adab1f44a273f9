#include "cli/eval.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "actors/judge_client.h"
#include "actors/local_judge.h"
#include "actors/prompt.h"
#include "cli/run_config.h"
#include "common/bundled_problems.h"
#include "common/eval_report.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/model/checkpoint.h"
#include "common/model/model_cli.h"
#include "common/model/runtime.h"
#include "common/model/sampler.h"
#include "common/problem_io.h"
#include "common/status_macros.h"
#include "common/tokenizer.h"
#include "common/verdict_json.h"
#include "learner/train_checkpoint.h"
#include "learner/trainer.h"
#include "nlohmann/json.hpp"

namespace crucible::cli {
namespace {

using nlohmann::json;

int Fail(int code, const absl::Status& status) {
  std::fprintf(stderr, "crucible eval: %s\n", std::string(status.message()).c_str());
  return code;
}

// A unit: samples [begin, end) of one problem. A call: consecutive units, one generation.
struct Unit {
  size_t problem;
  int begin, end;
};
struct Call {
  std::vector<Unit> units;
  uint64_t seed;
};

std::vector<Call> PackCalls(size_t problems, int n, int batch, uint64_t seed) {
  std::vector<Call> calls;
  Call current;
  int rows = 0;
  for (size_t p = 0; p < problems; ++p) {
    for (int begin = 0; begin < n; begin += batch) {
      const int end = std::min(n, begin + batch);
      if (rows + (end - begin) > batch && !current.units.empty()) {
        calls.push_back(std::move(current));
        current = Call();
        rows = 0;
      }
      current.units.push_back({p, begin, end});
      rows += end - begin;
    }
  }
  if (!current.units.empty()) calls.push_back(std::move(current));
  // splitmix64 of (seed, call index): stable across processes, unlike absl's salted hash.
  for (size_t i = 0; i < calls.size(); ++i) {
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (i + 1) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    calls[i].seed = z ^ (z >> 31);
  }
  return calls;
}

// What produced the samples; a resumed eval must match it.
json EvalFingerprint(const EvalOptions& o, const std::string& prompt_template) {
  json f = {{"model", o.model_dir},
          {"adapter", o.adapter_dir},
          {"tokenizer", o.tokenizer},
          {"problems", o.problems_file.empty() ? "bundled" : o.problems_file},
          {"problem_ids", o.problem_ids},
          {"n", o.n},
          {"temperature", o.temperature},
          {"top_p", o.top_p},
          {"top_k", o.top_k},
          {"max_new_tokens", o.max_new_tokens},
          {"prompt_template", prompt_template},
          {"prepend_starter_code", o.prepend_starter_code},
          {"language", o.language},
          {"seed", o.seed},
          {"batch", o.batch},
          {"dtype", o.dtype},
          {"stop_at_first_failure", o.stop_at_first_failure},
          {"critic", o.critic}};
  // Only when given: evals written before the option existed still resume.
  if (!o.reward_model.empty()) f["reward_model"] = o.reward_model;
  return f;
}

absl::Status CheckFingerprint(const std::string& path, const json& fingerprint) {
  if (::access(path.c_str(), F_OK) != 0) {
    return WriteFileAtomic(path, fingerprint.dump(2) + "\n");
  }
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json stored = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!stored.is_object()) return absl::DataLossError(absl::StrCat(path, ": not a JSON object"));
  for (auto it = fingerprint.begin(); it != fingerprint.end(); ++it) {
    if (!stored.contains(it.key()) || stored[it.key()] != it.value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, ": this directory holds an eval with ", it.key(), " = ",
          stored.contains(it.key()) ? stored[it.key()].dump() : "(unset)", ", not ",
          it.value().dump(), "; resume with the same options or use another --out"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Problem>> SelectProblems(const EvalOptions& o) {
  std::vector<v1::Problem> all;
  if (o.problems_file.empty()) {
    all = BundledProblems();
  } else {
    CRUCIBLE_ASSIGN_OR_RETURN(all, LoadProblemsFile(o.problems_file));
  }
  if (o.problem_ids.empty()) return all;
  std::map<std::string, const v1::Problem*> by_id;
  for (const v1::Problem& p : all) by_id[p.id()] = &p;
  std::vector<v1::Problem> chosen;
  std::set<std::string> seen;
  for (const std::string& id : o.problem_ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) return absl::NotFoundError(absl::StrCat("--problem-ids: no problem \"", id, "\""));
    if (seen.insert(id).second) chosen.push_back(*it->second);
  }
  return chosen;
}

// Where a kill may have left samples.jsonl: cut off a partial last line, end with a newline.
absl::StatusOr<std::vector<EvalSample>> ResumeSamples(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return std::vector<EvalSample>();
  ReadInfo info;
  ReadOptions ro;
  ro.allow_truncated_tail = true;
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<EvalSample> samples, ReadSamplesFile(path, ro, &info));
  if (info.truncated_tail) {
    if (::truncate(path.c_str(), static_cast<off_t>(info.valid_bytes)) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("truncate ", path));
    }
    CRUCIBLE_LOG(Warning) << path << ": dropped a partial last line left by an interrupted eval";
  }
  if (info.missing_final_newline) {
    FILE* f = std::fopen(path.c_str(), "a");
    if (f == nullptr) return ErrnoToStatus(errno, absl::StrCat("open ", path));
    std::fputc('\n', f);
    std::fclose(f);
  }
  return samples;
}

class Progress {
 public:
  Progress(int64_t total, bool enabled) : total_(total), tty_(enabled && ::isatty(2)) {}
  void Update(int64_t done, int64_t correct, double seconds) {
    if (!tty_) {
      // Without a terminal: a line at every tenth.
      const int64_t tenth = total_ > 0 ? done * 10 / total_ : 10;
      if (tenth == last_tenth_) return;
      last_tenth_ = tenth;
    }
    const int width = 30;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), '.');
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    std::fprintf(stderr, "%seval [%s] %lld/%lld judged  %.1f samples/s  correct %.1f%%%s",
                 tty_ ? "\r" : "", bar.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), rate,
                 done > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(done) : 0.0,
                 tty_ ? "\033[K" : "\n");
    std::fflush(stderr);
  }
  void Finish() {
    if (tty_) std::fputc('\n', stderr);
  }

 private:
  const int64_t total_;
  const bool tty_;
  int64_t last_tenth_ = -1;
};

// The samples being judged: each has a public and a hidden request in flight and is
// written once both are answered.
class Book {
 public:
  Book(const std::string& path, int64_t total, bool progress)
      : path_(path), progress_(total, progress), start_(absl::Now()) {}

  absl::Status Open() {
    file_ = std::fopen(path_.c_str(), "a");
    if (file_ == nullptr) return ErrnoToStatus(errno, absl::StrCat("open ", path_));
    return absl::OkStatus();
  }
  ~Book() {
    if (file_ != nullptr) std::fclose(file_);
  }

  void Begin() {
    std::unique_lock<std::mutex> lock(mu_);
    ++inflight_;
  }
  void Write(const EvalSample& sample, int64_t already_done) {
    std::string line = SampleToJson(sample) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
    ++written_;
    if (sample.verdict == v1::OK) ++correct_;
    --inflight_;
    progress_.Update(already_done + written_, correct_, absl::ToDoubleSeconds(absl::Now() - start_));
    cv_.notify_all();
  }
  // Blocks while more than `limit` samples are unjudged.
  void WaitBelow(int64_t limit) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return inflight_ <= limit; });
  }
  int64_t written() {
    std::lock_guard<std::mutex> lock(mu_);
    return written_;
  }
  void Finish() { progress_.Finish(); }

 private:
  const std::string path_;
  FILE* file_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t inflight_ = 0, written_ = 0, correct_ = 0;
  Progress progress_;
  const absl::Time start_;
};

// One sample's two verdicts meet here; the last to arrive writes the sample.
struct Pending {
  EvalSample sample;
  std::mutex mu;
  int answers_left = 0;
};

void RecordHidden(EvalSample& s, const JudgeResult& r) {
  if (!r.status.ok()) {
    s.verdict = v1::SE;
    s.subtype = std::string(r.status.message()).substr(0, 200);
    s.reward = 0;
    return;
  }
  s.verdict = r.verdict.verdict();
  s.subtype = r.verdict.subtype();
  s.reward = r.verdict.reward();
  s.pass_fraction = r.verdict.pass_fraction();
}

absl::StatusOr<ReportOptions> ReportOptionsOf(const EvalOptions& o) {
  ReportOptions ro;
  CRUCIBLE_ASSIGN_OR_RETURN(ro.ks, ParseIntList(o.k, "--k"));
  CRUCIBLE_ASSIGN_OR_RETURN(ro.n_submit, ParseIntList(o.n_submit, "--n-submit"));
  return ro;
}

// report["rerank"] when --search rerank.
absl::Status AddSearch(const EvalOptions& o, const std::vector<EvalSample>& samples, json& report) {
  if (o.search == "none") return absl::OkStatus();
  RerankOptions ro;
  ro.score = o.rerank_score;
  ro.public_first = o.rerank_public_first;
  ro.log_prob_weight = o.rerank_log_prob_weight;
  CRUCIBLE_ASSIGN_OR_RETURN(report["rerank"], RerankReport(samples, ro));
  return absl::OkStatus();
}

absl::Status CheckSearch(const EvalOptions& o) {
  if (o.search == "none" || o.search == "rerank") return absl::OkStatus();
  if (o.search == "critic") {
    return absl::UnimplementedError("--search critic (CodeRL's critic sampling) is not built yet");
  }
  return absl::InvalidArgumentError(absl::StrCat("--search \"", o.search, "\": expected none or rerank"));
}

int Recompute(const EvalOptions& o) {
  if (o.out_dir.empty()) return Fail(2, absl::InvalidArgumentError("--out is required"));
  absl::StatusOr<ReportOptions> ro = ReportOptionsOf(o);
  if (!ro.ok()) return Fail(2, ro.status());
  if (absl::Status s = CheckSearch(o); !s.ok()) return Fail(2, s);
  absl::StatusOr<std::vector<EvalSample>> samples = ReadSamplesFile(o.samples_file);
  if (!samples.ok()) return Fail(1, samples.status());
  json report = BuildReport(*samples, *ro);
  if (absl::Status s = AddSearch(o, *samples, report); !s.ok()) return Fail(2, s);
  if (absl::Status s = WriteReport(o.out_dir, report); !s.ok()) return Fail(1, s);
  std::printf("%s", ReportMarkdown(report).c_str());
  return 0;
}

}  // namespace

int RunEval(const EvalOptions& o, const std::atomic<bool>* stop) {
  if (!o.samples_file.empty()) return Recompute(o);
  if (o.model_dir.empty()) return Fail(2, absl::InvalidArgumentError("--model is required"));
  if (o.out_dir.empty()) return Fail(2, absl::InvalidArgumentError("--out is required"));
  if (o.n < 1) return Fail(2, absl::InvalidArgumentError("--n must be at least 1"));
  if (o.batch < 1) return Fail(2, absl::InvalidArgumentError("--batch must be at least 1"));
  if (!(o.temperature > 0)) return Fail(2, absl::InvalidArgumentError("--temperature must be positive"));
  if (!(o.top_p > 0 && o.top_p <= 1)) return Fail(2, absl::InvalidArgumentError("--top-p must be in (0, 1]"));
  if (absl::Status s = CheckSearch(o); !s.ok()) return Fail(2, s);
  absl::StatusOr<ReportOptions> ro = ReportOptionsOf(o);
  if (!ro.ok()) return Fail(2, ro.status());
  const std::string prompt_template =
      o.prompt_template.empty() ? RunConfig().actors.prompt_template : o.prompt_template;
  if (absl::Status s = ValidatePromptTemplate(prompt_template); !s.ok()) return Fail(2, s);

  absl::StatusOr<std::vector<v1::Problem>> selected = SelectProblems(o);
  if (!selected.ok()) return Fail(2, selected.status());
  const std::vector<v1::Problem> problems = *std::move(selected);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < problems.size(); ++i) index[problems[i].id()] = i;

  if (absl::Status s = MakeDirs(o.out_dir); !s.ok()) return Fail(1, s);
  if (absl::Status s = CheckFingerprint(o.out_dir + "/eval_config.json", EvalFingerprint(o, prompt_template));
      !s.ok()) {
    return Fail(2, s);
  }
  const std::string samples_path = o.out_dir + "/samples.jsonl";
  absl::StatusOr<std::vector<EvalSample>> previous = ResumeSamples(samples_path);
  if (!previous.ok()) return Fail(1, previous.status());
  std::set<std::pair<size_t, int64_t>> done;
  for (const EvalSample& s : *previous) {
    auto it = index.find(s.problem_id);
    if (it == index.end() || s.sample >= o.n) {
      return Fail(2, absl::FailedPreconditionError(absl::StrCat(
                         samples_path, ": sample ", s.sample, " of problem \"", s.problem_id,
                         "\" is not part of this eval; use another --out")));
    }
    done.insert({it->second, s.sample});
  }
  const int64_t total = static_cast<int64_t>(problems.size()) * o.n;

  // The model, with the adapter merged in: sampling needs no separate LoRA matmuls.
  model::ConfigureCpuRuntime();
  absl::StatusOr<model::ModelOptions> mo = model::ParseModelOptions(o.device, o.dtype);
  if (!mo.ok()) return Fail(2, mo.status());
  absl::StatusOr<model::CausalLm> loaded = model::LoadCausalLm(o.model_dir, *mo);
  if (!loaded.ok()) return Fail(1, loaded.status());
  model::CausalLm lm = *std::move(loaded);
  lm->eval();
  if (!o.adapter_dir.empty()) {
    absl::StatusOr<model::LoraConfig> adapter = model::LoadPeftAdapter(lm, o.adapter_dir);
    if (!adapter.ok()) return Fail(1, adapter.status());
    model::MergeAdapters(lm);
  }
  std::optional<learner::Critic> critic;
  if (!o.critic.empty()) {
    absl::StatusOr<learner::Critic> loaded_critic = learner::LoadFrozenCritic(o.critic, o.model_dir, *mo);
    if (!loaded_critic.ok()) return Fail(1, loaded_critic.status());
    critic = *std::move(loaded_critic);
  }
  std::optional<learner::RewardModel> reward_model;
  if (!o.reward_model.empty()) {
    absl::StatusOr<learner::RewardModel> loaded = learner::LoadFrozenRewardModel(o.reward_model, o.model_dir, *mo);
    if (!loaded.ok()) return Fail(1, loaded.status());
    reward_model = *std::move(loaded);
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(o.tokenizer.empty() ? model::DefaultTokenizerFor(o.model_dir) : o.tokenizer);
  if (!tokenizer.ok()) return Fail(1, tokenizer.status());
  if (!(*tokenizer)->eos_id().has_value()) {
    return Fail(1, absl::InvalidArgumentError("the tokenizer has no end-of-sequence token"));
  }

  // Prompts, once per problem; a prompt that leaves no room to generate is an error.
  std::vector<std::vector<int32_t>> prompts(problems.size());
  const int64_t context = lm->config().max_position_embeddings;
  for (size_t p = 0; p < problems.size(); ++p) {
    absl::StatusOr<std::string> prompt = BuildPrompt(prompt_template, problems[p], o.language);
    if (!prompt.ok()) return Fail(2, prompt.status());
    prompts[p] = (*tokenizer)->Encode(*prompt);
    if (prompts[p].empty() || static_cast<int64_t>(prompts[p].size()) + o.max_new_tokens > context) {
      return Fail(2, absl::InvalidArgumentError(absl::StrCat(
                         "problem \"", problems[p].id(), "\": a prompt of ", prompts[p].size(),
                         " tokens and --max-new-tokens ", o.max_new_tokens,
                         " exceed the model's context of ", context, " tokens")));
    }
  }

  std::unique_ptr<LocalJudge> local;
  std::vector<std::string> endpoints = o.judges;
  if (endpoints.empty()) {
    std::vector<std::string> flags;
    if (o.judge_workers > 0) flags.push_back(absl::StrCat("--workers=", o.judge_workers));
    absl::StatusOr<std::unique_ptr<LocalJudge>> started = LocalJudge::Start(DefaultJudgeBinary(), flags);
    if (!started.ok()) return Fail(1, started.status());
    local = *std::move(started);
    endpoints = {local->address()};
  }
  JudgeClientOptions jo;
  jo.endpoints = endpoints;
  absl::StatusOr<std::unique_ptr<JudgeClient>> client = JudgeClient::Create(jo);
  if (!client.ok()) return Fail(1, client.status());
  if (absl::Status s = (*client)->RegisterProblems(problems); !s.ok()) return Fail(1, s);

  Book book(samples_path, total, o.progress);
  if (absl::Status s = book.Open(); !s.ok()) return Fail(1, s);
  const int64_t already = static_cast<int64_t>(done.size());
  const absl::Time start = absl::Now();
  double generation_seconds = 0;
  int64_t generated = 0;
  bool stopped = false;

  v1::JudgeOptions judge_options;
  judge_options.set_stop_at_first_failure(o.stop_at_first_failure);
  // Without overlap, submissions wait here until generation is over.
  std::vector<std::function<void()>> deferred;
  auto submit = [&](v1::JudgeRequest request, std::function<void(JudgeResult)> done) {
    auto go = [&client, request = std::move(request), done = std::move(done)]() mutable {
      (*client)->Submit(std::move(request), std::move(done));
    };
    if (o.overlap) {
      go();
    } else {
      deferred.push_back(std::move(go));
    }
  };
  for (const Call& call : PackCalls(problems.size(), o.n, o.batch, o.seed)) {
    bool complete = true;
    for (const Unit& u : call.units) {
      for (int s = u.begin; s < u.end; ++s) complete = complete && done.count({u.problem, s}) > 0;
    }
    if (complete) continue;
    if (stop != nullptr && stop->load()) {
      stopped = true;
      break;
    }
    std::vector<std::vector<int32_t>> rows;
    for (const Unit& u : call.units) {
      for (int s = u.begin; s < u.end; ++s) rows.push_back(prompts[u.problem]);
    }
    model::SamplingOptions so;
    so.max_new_tokens = o.max_new_tokens;
    so.temperature = o.temperature;
    so.top_p = o.top_p;
    so.top_k = o.top_k;
    so.stop_token_ids = {*(*tokenizer)->eos_id()};
    so.seed = call.seed;
    const absl::Time t0 = absl::Now();
    absl::StatusOr<std::vector<model::Completion>> out;
    try {
      out = model::Generate(lm, rows, so, tokenizer->get());
    } catch (const c10::Error& e) {
      out = absl::InternalError(absl::StrCat("generation failed: ", e.what_without_backtrace()));
    }
    if (!out.ok()) {
      (*client)->Shutdown();
      return Fail(1, out.status());
    }
    generation_seconds += absl::ToDoubleSeconds(absl::Now() - t0);
    generated += static_cast<int64_t>(rows.size());
    // Scores of the programs the models can read (a completion of no tokens stays unscored).
    std::vector<std::optional<double>> critic_scores(rows.size()), reward_model_scores(rows.size());
    if (critic.has_value() || reward_model.has_value()) {
      std::vector<std::vector<int32_t>> score_prompts, completions;
      std::vector<size_t> scored_rows;
      for (size_t i = 0; i < out->size(); ++i) {
        if ((*out)[i].tokens.empty()) continue;
        scored_rows.push_back(i);
        score_prompts.push_back(rows[i]);
        completions.push_back((*out)[i].tokens);
      }
      absl::Status scored;
      auto keep = [&](const absl::StatusOr<std::vector<double>>& got, std::vector<std::optional<double>>& into) {
        if (got.ok()) {
          for (size_t j = 0; j < scored_rows.size(); ++j) into[scored_rows[j]] = (*got)[j];
        }
        scored.Update(got.status());
      };
      try {
        if (critic.has_value() && !scored_rows.empty()) {
          keep(learner::CriticPassProbabilities(*critic, score_prompts, completions), critic_scores);
        }
        if (reward_model.has_value() && !scored_rows.empty() && scored.ok()) {
          keep(learner::RewardModelScores(*reward_model, score_prompts, completions), reward_model_scores);
        }
      } catch (const c10::Error& e) {
        scored = absl::InternalError(absl::StrCat("scoring failed: ", e.what_without_backtrace()));
      }
      if (!scored.ok()) {
        (*client)->Shutdown();
        return Fail(1, scored);
      }
    }

    size_t row = 0;
    for (const Unit& u : call.units) {
      const v1::Problem& problem = problems[u.problem];
      for (int s = u.begin; s < u.end; ++s, ++row) {
        if (done.count({u.problem, s}) > 0) continue;
        const model::Completion& c = (*out)[row];
        auto pending = std::make_shared<Pending>();
        EvalSample& sample = pending->sample;
        sample.problem_id = problem.id();
        sample.sample = s;
        sample.language = o.language;
        sample.program = ExtractProgram(c.text);
        if (o.prepend_starter_code && !problem.starter_code().empty() && !sample.program.empty()) {
          sample.program = problem.starter_code() + sample.program;
        }
        sample.difficulty = problem.difficulty();
        double log_prob = 0;
        for (float lp : c.logprobs) log_prob += lp;
        sample.log_prob = log_prob;
        sample.tokens = static_cast<int64_t>(c.tokens.size());
        sample.extra["finish_reason"] = model::FinishReasonName(c.finish_reason);
        sample.critic_score = critic_scores[row];
        sample.reward_model_score = reward_model_scores[row];
        book.Begin();
        if (sample.program.empty() || sample.program.find('\0') != std::string::npos) {
          // Nothing to judge: the compile-error verdict, as the actors count it.
          sample.verdict = v1::CE;
          sample.subtype = sample.program.empty() ? "no program" : "NUL byte";
          sample.reward = -1.0;
          sample.passed_public = false;
          sample.pass_fraction = 0.0;
          book.Write(sample, already);
          continue;
        }
        const bool has_public = problem.public_tests_size() > 0;
        const bool has_hidden = problem.tests_size() > 0;
        pending->answers_left = has_public ? 2 : 1;
        sample.passed_public = !has_public;  // vacuous without public tests
        auto answered = [pending, &book, already]() {
          if (--pending->answers_left == 0) book.Write(pending->sample, already);
        };
        auto request = [&](v1::TestSet set, const std::string& tag) {
          v1::JudgeRequest r;
          r.set_request_id(absl::StrCat(problem.id(), "/", s, "/", tag));
          r.set_problem_id(problem.id());
          r.mutable_program()->set_language(o.language);
          r.mutable_program()->set_source(sample.program);
          *r.mutable_options() = judge_options;
          r.mutable_options()->set_test_set(set);
          return r;
        };
        const v1::TestSet verdict_set = has_hidden ? v1::HIDDEN : v1::PUBLIC;
        submit(request(verdict_set, "hidden"), [pending, answered](JudgeResult r) {
          std::lock_guard<std::mutex> lock(pending->mu);
          RecordHidden(pending->sample, r);
          answered();
        });
        if (has_public) {
          submit(request(v1::PUBLIC, "public"), [pending, answered](JudgeResult r) {
            std::lock_guard<std::mutex> lock(pending->mu);
            pending->sample.passed_public = r.status.ok() && r.verdict.verdict() == v1::OK;
            pending->sample.extra["public_verdict"] =
                r.status.ok() ? std::string(VerdictName(r.verdict.verdict())) : "SE";
            answered();
          });
        }
      }
    }
    if (o.overlap) book.WaitBelow(o.max_inflight);
  }
  for (auto& go : deferred) go();
  book.WaitBelow(0);
  book.Finish();
  (*client)->Shutdown();
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t judged = book.written();
  if (local != nullptr) local->Stop();

  if (stopped) {
    std::fprintf(stderr, "crucible eval: stopped after %lld new samples; run the same command to resume\n",
                 static_cast<long long>(judged));
    return 130;
  }
  // Sorted by problem order then sample: the same file for the same options.
  absl::StatusOr<std::vector<EvalSample>> all = ReadSamplesFile(samples_path);
  if (!all.ok()) return Fail(1, all.status());
  std::sort(all->begin(), all->end(), [&](const EvalSample& a, const EvalSample& b) {
    return std::make_pair(index[a.problem_id], a.sample) < std::make_pair(index[b.problem_id], b.sample);
  });
  std::string text;
  for (const EvalSample& s : *all) absl::StrAppend(&text, SampleToJson(s), "\n");
  if (absl::Status s = WriteFileAtomic(samples_path, text); !s.ok()) return Fail(1, s);

  json report = BuildReport(*all, *ro);
  if (absl::Status s = AddSearch(o, *all, report); !s.ok()) return Fail(2, s);
  report["timing"] = {{"wall_seconds", wall},
                      {"generation_seconds", generation_seconds},
                      {"samples_generated", generated},
                      {"samples_judged", judged},
                      {"samples_per_second", wall > 0 ? static_cast<double>(judged) / wall : 0.0}};
  if (absl::Status s = WriteReport(o.out_dir, report); !s.ok()) return Fail(1, s);
  std::printf("%s", ReportMarkdown(report).c_str());
  std::printf("\n%lld samples judged in %.1f s (%.2f samples/s; generation %.1f s); wrote %s/report.json\n",
              static_cast<long long>(judged), wall, wall > 0 ? static_cast<double>(judged) / wall : 0.0,
              generation_seconds, o.out_dir.c_str());
  return 0;
}

}  // namespace crucible::cli
