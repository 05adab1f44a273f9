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
#include "cli/critic_search.h"
#include "cli/eval_judging.h"
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

absl::StatusOr<ReportOptions> ReportOptionsOf(const EvalOptions& o) {
  ReportOptions ro;
  CRUCIBLE_ASSIGN_OR_RETURN(ro.ks, ParseIntList(o.k, "--k"));
  CRUCIBLE_ASSIGN_OR_RETURN(ro.n_submit, ParseIntList(o.n_submit, "--n-submit"));
  return ro;
}

// report["rerank"] when --search rerank.
absl::Status AddSearch(const EvalOptions& o, const std::vector<EvalSample>& samples, json& report) {
  if (o.search != "rerank") return absl::OkStatus();
  RerankOptions ro;
  ro.score = o.rerank_score;
  ro.public_first = o.rerank_public_first;
  ro.log_prob_weight = o.rerank_log_prob_weight;
  CRUCIBLE_ASSIGN_OR_RETURN(report["rerank"], RerankReport(samples, ro));
  return absl::OkStatus();
}

absl::Status CheckSearch(const EvalOptions& o) {
  if (o.search != "critic" && (!o.repair_model.empty() || !o.repair_adapter.empty())) {
    return absl::InvalidArgumentError("--repair-model and --repair-adapter need --search critic");
  }
  if (o.search == "none" || o.search == "rerank") return absl::OkStatus();
  if (o.search == "critic") {
    if (o.critic.empty()) {
      return absl::InvalidArgumentError(
          "--search critic needs --critic (a checkpoint of learner offline --algo critic)");
    }
    if (o.repair_top_m < 1) return absl::InvalidArgumentError("--repair-top-m must be at least 1");
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("--search \"", o.search, "\": expected none, rerank or critic"));
}

int Recompute(const EvalOptions& o) {
  if (o.out_dir.empty()) return Fail(2, absl::InvalidArgumentError("--out is required"));
  absl::StatusOr<ReportOptions> ro = ReportOptionsOf(o);
  if (!ro.ok()) return Fail(2, ro.status());
  if (absl::Status s = CheckSearch(o); !s.ok()) return Fail(2, s);
  if (o.search == "critic") {
    return Fail(2, absl::InvalidArgumentError(
                       "--search critic samples new programs and needs --model; the report of its "
                       "final samples is --samples OUT/critic_samples.jsonl"));
  }
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
  // The repair model of critic sampling: its own copy of a base, with its adapter merged.
  std::optional<model::CausalLm> repair;
  if (!o.repair_model.empty() || !o.repair_adapter.empty()) {
    absl::StatusOr<model::CausalLm> base =
        model::LoadCausalLm(o.repair_model.empty() ? o.model_dir : o.repair_model, *mo);
    if (!base.ok()) return Fail(1, base.status());
    (*base)->eval();
    if (!o.repair_adapter.empty()) {
      absl::StatusOr<model::LoraConfig> adapter = model::LoadPeftAdapter(*base, o.repair_adapter);
      if (!adapter.ok()) return Fail(1, adapter.status());
      model::MergeAdapters(*base);
    }
    if ((*base)->config().vocab_size != lm->config().vocab_size) {
      return Fail(2, absl::InvalidArgumentError(absl::StrCat(
                         "--repair-model/--repair-adapter: the repair model's vocabulary (", (*base)->config().vocab_size,
                         ") is not the policy's (", lm->config().vocab_size, "): they share one tokenizer")));
    }
    repair = *std::move(base);
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load(o.tokenizer.empty() ? model::DefaultTokenizerFor(o.model_dir) : o.tokenizer);
  if (!tokenizer.ok()) return Fail(1, tokenizer.status());
  if (!(*tokenizer)->eos_id().has_value()) {
    return Fail(1, absl::InvalidArgumentError("the tokenizer has no end-of-sequence token"));
  }

  if (o.search == "critic") {
    // What produced the search's stage files (search/*.jsonl), checked like eval_config.json;
    // written only once the models have loaded, so a mistyped path does not claim the --out.
    const json search_fingerprint = {{"repair_model", o.repair_model},
                                     {"repair_adapter", o.repair_adapter},
                                     {"repair_top_m", o.repair_top_m}};
    if (absl::Status s = MakeDirs(o.out_dir + "/search"); !s.ok()) return Fail(1, s);
    if (absl::Status s = CheckFingerprint(o.out_dir + "/search/search_config.json", search_fingerprint); !s.ok()) {
      return Fail(2, s);
    }
  }
  // Prompts, once per problem; a prompt that leaves no room to generate is an error.
  std::vector<std::vector<int32_t>> prompts(problems.size());
  std::vector<std::string> prompt_texts(problems.size());
  const int64_t context = lm->config().max_position_embeddings;
  for (size_t p = 0; p < problems.size(); ++p) {
    absl::StatusOr<std::string> prompt = BuildPrompt(prompt_template, problems[p], o.language);
    if (!prompt.ok()) return Fail(2, prompt.status());
    prompts[p] = (*tokenizer)->Encode(*prompt);
    prompt_texts[p] = *prompt;
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

  Book book(samples_path, "eval", total, o.progress);
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
  // Sends what waits and blocks until every sample is written.
  auto drain = [&] {
    for (auto& go : deferred) go();
    deferred.clear();
    book.WaitBelow(0);
  };
  const SubmitFn submit = [&](v1::JudgeRequest request, std::function<void(JudgeResult)> done) {
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
      drain();  // the judged samples are kept; none is cut off as SE
      (*client)->Shutdown();
      if (local != nullptr) local->Stop();
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
        drain();
        (*client)->Shutdown();
        if (local != nullptr) local->Stop();
        return Fail(1, scored);
      }
    }

    size_t row = 0;
    for (const Unit& u : call.units) {
      const v1::Problem& problem = problems[u.problem];
      for (int s = u.begin; s < u.end; ++s, ++row) {
        if (done.count({u.problem, s}) > 0) continue;
        const model::Completion& c = (*out)[row];
        EvalSample sample;
        sample.problem_id = problem.id();
        sample.sample = s;
        sample.language = o.language;
        sample.program = ExtractProgram(c.text);
        // What came before the program (a fence line), so that critic sampling's seeds
        // continue the completion as it was written.
        if (const size_t offset = ProgramOffset(c.text); offset > 0 && !sample.program.empty()) {
          sample.extra["completion_prefix"] = c.text.substr(0, offset);
        }
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
        JudgeAndWrite(std::move(sample), problem, judge_options, "", book, already, submit);
      }
    }
    if (o.overlap) book.WaitBelow(o.max_inflight);
  }
  drain();
  book.Finish();
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t judged = book.written();
  // The client and the local judge stop on every way out from here.
  struct JudgesDown {
    JudgeClient* client;
    LocalJudge* local;
    ~JudgesDown() {
      client->Shutdown();
      if (local != nullptr) local->Stop();
    }
  } judges_down{client->get(), local.get()};

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

  std::optional<json> critic_sampling;
  double search_seconds = 0;
  if (o.search == "critic") {
    const absl::Time search_start = absl::Now();
    CriticSearch cs{o, problems, prompts, prompt_texts, **tokenizer, lm, *critic,
                    repair.has_value() ? &*repair : nullptr, **client, judge_options, stop};
    bool search_stopped = false;
    absl::StatusOr<json> result = RunCriticSearch(cs, *all, *ro, &search_stopped);
    if (!result.ok()) return Fail(1, result.status());
    if (search_stopped) {
      std::fprintf(stderr, "crucible eval: critic sampling stopped; run the same command to resume\n");
      return 130;
    }
    critic_sampling = *std::move(result);
    search_seconds = absl::ToDoubleSeconds(absl::Now() - search_start);
  }

  json report = BuildReport(*all, *ro);
  if (absl::Status s = AddSearch(o, *all, report); !s.ok()) return Fail(2, s);
  if (critic_sampling.has_value()) report["critic_sampling"] = *std::move(critic_sampling);
  report["timing"] = {{"wall_seconds", wall},
                      {"search_seconds", search_seconds},
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
