#include "cli/critic_search.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "actors/prompt.h"
#include "cli/critic_sampling.h"
#include "cli/eval_judging.h"
#include "common/files.h"
#include "common/model/sampler.h"
#include "common/status_macros.h"
#include "common/verdict_json.h"

namespace crucible::cli {
namespace {

using nlohmann::json;

// One row of a stage: the model continues prompt + seed.
struct Row {
  size_t problem;
  int64_t sample;                // index within the stage, 0..N-1 per problem
  std::vector<int32_t> prompt;
  std::vector<int32_t> seed;     // completion tokens given (refining); generation follows them
  json extra;                    // stage, seed_sample, seed_tokens
};

// What the policy wrote for a program: the text before it (extra.completion_prefix, e.g. a
// fence line) and the program without the starter code the eval put in front.
std::string CompletionOf(const EvalOptions& o, const v1::Problem& problem, const EvalSample& s) {
  std::string prefix;
  if (s.extra.contains("completion_prefix") && s.extra["completion_prefix"].is_string()) {
    prefix = s.extra["completion_prefix"].get<std::string>();
  }
  if (o.prepend_starter_code && !problem.starter_code().empty() && absl::StartsWith(s.program, problem.starter_code())) {
    return prefix + s.program.substr(problem.starter_code().size());
  }
  return prefix + s.program;
}

class Search {
 public:
  explicit Search(CriticSearch& cs) : cs_(cs), o_(cs.options) {
    for (size_t i = 0; i < cs.problems.size(); ++i) index_[cs.problems[i].id()] = i;
  }

  // Rows refining `sources` (programs of problem p that pass its public tests).
  absl::StatusOr<std::vector<Row>> RefineRows(size_t p, const std::vector<const EvalSample*>& sources,
                                              const std::string& stage) {
    const v1::Problem& problem = cs_.problems[p];
    std::vector<std::vector<int32_t>> tokens;
    for (const EvalSample* s : sources) {
      std::vector<int32_t> t = cs_.tokenizer.Encode(CompletionOf(o_, problem, *s));
      // At least one new token must fit after the seed (the prompt plus max_new_tokens fits).
      const size_t cap = static_cast<size_t>(std::max<int64_t>(0, o_.max_new_tokens - 1));
      if (t.size() > cap) t.resize(cap);
      tokens.push_back(std::move(t));
    }
    std::vector<std::vector<int32_t>> seeds(sources.size());
    for (size_t begin = 0; begin < sources.size(); begin += static_cast<size_t>(o_.batch)) {
      const size_t end = std::min(sources.size(), begin + static_cast<size_t>(o_.batch));
      std::vector<std::vector<int32_t>> prompts, completions;
      std::vector<size_t> which;
      for (size_t i = begin; i < end; ++i) {
        if (tokens[i].empty()) continue;
        which.push_back(i);
        prompts.push_back(cs_.prompts[p]);
        completions.push_back(tokens[i]);
      }
      if (which.empty()) continue;
      absl::StatusOr<std::vector<std::vector<double>>> pass;
      try {
        pass = learner::CriticTokenTestPassProbabilities(cs_.critic, prompts, completions);
      } catch (const c10::Error& e) {
        pass = absl::InternalError(absl::StrCat("--critic ", o_.critic, ": scoring the seeds of problem \"",
                                                problem.id(), "\" failed: ", e.what_without_backtrace()));
      }
      CRUCIBLE_RETURN_IF_ERROR(pass.status());
      for (size_t j = 0; j < which.size(); ++j) {
        const std::vector<int32_t>& t = tokens[which[j]];
        seeds[which[j]].assign(t.begin(), t.begin() + static_cast<int64_t>(RefineSeedLength((*pass)[j])));
      }
    }
    std::vector<Row> rows;
    for (int64_t j = 0; j < o_.n; ++j) {
      const size_t src = SlotSource(static_cast<size_t>(j), sources.size());
      rows.push_back({p, j, cs_.prompts[p], seeds[src],
                      {{"stage", stage}, {"seed_sample", sources[src]->sample},
                       {"seed_tokens", seeds[src].size()}}});
    }
    return rows;
  }

  // Rows repairing the candidates (failing programs of problem p, best first); candidates
  // whose repair prompt leaves no room for max_new_tokens are left out and counted.
  std::vector<Row> RepairRows(size_t p, const std::vector<const EvalSample*>& candidates, int64_t context) {
    std::vector<std::pair<const EvalSample*, std::vector<int32_t>>> kept;
    for (const EvalSample* s : candidates) {
      // The public tests' outcome only (RepairCandidates chose samples that have one).
      const std::string verdict = s->extra["public_verdict"].get<std::string>();
      const std::string subtype = s->extra.contains("public_subtype") && s->extra["public_subtype"].is_string()
                                      ? s->extra["public_subtype"].get<std::string>()
                                      : std::string();
      std::vector<int32_t> prompt =
          cs_.tokenizer.Encode(RepairPrompt(cs_.prompt_texts[p], s->program, verdict, subtype));
      if (static_cast<int64_t>(prompt.size()) + o_.max_new_tokens > context) {
        ++repair_skipped_too_long_;
        continue;
      }
      kept.emplace_back(s, std::move(prompt));
    }
    std::vector<Row> rows;
    if (kept.empty()) return rows;
    for (int64_t j = 0; j < o_.n; ++j) {
      const auto& [source, prompt] = kept[SlotSource(static_cast<size_t>(j), kept.size())];
      rows.push_back({p, j, prompt, {}, {{"stage", "repair"}, {"seed_sample", source->sample}}});
    }
    return rows;
  }

  // Generates and judges one stage's rows into `path`, resuming what it holds.
  absl::StatusOr<std::vector<EvalSample>> RunStage(model::CausalLm& lm, const std::string& stage, uint64_t salt,
                                                   const std::vector<Row>& rows, bool* stopped) {
    const std::string path = o_.out_dir + "/search/" + stage + ".jsonl";
    generated_[stage] = static_cast<int64_t>(rows.size());
    CRUCIBLE_ASSIGN_OR_RETURN(std::vector<EvalSample> previous, ResumeSamples(path));
    std::set<std::pair<std::string, int64_t>> wanted, done;
    for (const Row& r : rows) wanted.insert({cs_.problems[r.problem].id(), r.sample});
    for (const EvalSample& s : previous) {
      if (wanted.count({s.problem_id, s.sample}) == 0) {
        return absl::FailedPreconditionError(absl::StrCat(path, ": sample ", s.sample, " of problem \"", s.problem_id,
                                                          "\" is not part of this search; use another --out"));
      }
      done.insert({s.problem_id, s.sample});
    }
    Book book(path, "critic " + stage, static_cast<int64_t>(rows.size()), o_.progress);
    CRUCIBLE_RETURN_IF_ERROR(book.Open());
    const int64_t already = static_cast<int64_t>(done.size());
    const SubmitFn submit = [this](v1::JudgeRequest r, std::function<void(JudgeResult)> d) {
      cs_.client.Submit(std::move(r), std::move(d));
    };
    const int64_t context = lm->config().max_position_embeddings;
    const size_t batch = static_cast<size_t>(o_.batch);
    absl::Status failed;
    for (size_t begin = 0, call = 0; begin < rows.size(); begin += batch, ++call) {
      const size_t end = std::min(rows.size(), begin + batch);
      bool complete = true;
      for (size_t i = begin; i < end; ++i) {
        complete = complete && done.count({cs_.problems[rows[i].problem].id(), rows[i].sample}) > 0;
      }
      if (complete) continue;
      if (cs_.stop != nullptr && cs_.stop->load()) {
        *stopped = true;
        break;
      }
      // Each row's own budget, whatever shares its call: the seed and the new tokens together
      // get max_new_tokens, as a first-round completion does, within the model's context.
      std::vector<std::vector<int32_t>> inputs;
      std::vector<int64_t> budget;
      int64_t widest = 0;
      for (size_t i = begin; i < end; ++i) {
        std::vector<int32_t> input = rows[i].prompt;
        input.insert(input.end(), rows[i].seed.begin(), rows[i].seed.end());
        budget.push_back(std::min<int64_t>(o_.max_new_tokens - static_cast<int64_t>(rows[i].seed.size()),
                                           context - static_cast<int64_t>(input.size())));
        if (budget.back() < 1) {
          failed = absl::InternalError(absl::StrCat("critic ", stage, ": problem \"", cs_.problems[rows[i].problem].id(),
                                                    "\": a row of ", input.size(), " tokens leaves no room to generate"));
          break;
        }
        widest = std::max(widest, budget.back());
        inputs.push_back(std::move(input));
      }
      if (!failed.ok()) break;
      model::SamplingOptions so;
      so.max_new_tokens = widest;
      so.temperature = o_.temperature;
      so.top_p = o_.top_p;
      so.top_k = o_.top_k;
      so.stop_token_ids = {*cs_.tokenizer.eos_id()};
      so.seed = MixSeed(o_.seed, salt, call);
      absl::StatusOr<std::vector<model::Completion>> out;
      try {
        out = model::Generate(lm, inputs, so, &cs_.tokenizer);
      } catch (const c10::Error& e) {
        out = absl::InternalError(absl::StrCat("critic ", stage, ": generation failed: ", e.what_without_backtrace()));
      }
      if (!out.ok()) {
        failed = out.status();
        break;
      }
      for (size_t i = begin; i < end; ++i) {
        const Row& row = rows[i];
        const v1::Problem& problem = cs_.problems[row.problem];
        if (done.count({problem.id(), row.sample}) > 0) continue;
        model::Completion c = (*out)[i - begin];
        const size_t own = static_cast<size_t>(budget[i - begin]);
        if (c.tokens.size() > own) {  // past this row's budget: cut, as if it had run out there
          c.tokens.resize(own);
          c.logprobs.resize(own);
          c.finish_reason = model::FinishReason::kLength;
        }
        std::vector<int32_t> completion = row.seed;
        completion.insert(completion.end(), c.tokens.begin(), c.tokens.end());
        const std::string text = cs_.tokenizer.Decode(completion, /*skip_special_tokens=*/true);
        EvalSample s;
        s.problem_id = problem.id();
        s.sample = row.sample;
        s.language = o_.language;
        s.program = ExtractProgram(text);
        if (const size_t offset = ProgramOffset(text); offset > 0 && !s.program.empty()) {
          s.extra["completion_prefix"] = text.substr(0, offset);
        }
        // The repair model writes whole programs (its references are); the policy continues
        // its own prompt, after which the eval puts the starter code.
        if (o_.prepend_starter_code && stage != "repair" && !problem.starter_code().empty() && !s.program.empty()) {
          s.program = problem.starter_code() + s.program;
        }
        s.difficulty = problem.difficulty();
        s.search = "critic";
        double log_prob = 0;
        for (float lp : c.logprobs) log_prob += lp;
        s.log_prob = log_prob;  // of the generated tokens; the seed's are in extra.seed_tokens
        s.tokens = static_cast<int64_t>(c.tokens.size());
        for (auto it = row.extra.begin(); it != row.extra.end(); ++it) s.extra[it.key()] = it.value();
        s.extra["finish_reason"] = model::FinishReasonName(c.finish_reason);
        JudgeAndWrite(std::move(s), problem, cs_.judge_options, stage, book, already, submit);
      }
      book.WaitBelow(o_.max_inflight);
    }
    book.WaitBelow(0);
    book.Finish();
    CRUCIBLE_RETURN_IF_ERROR(failed);
    if (*stopped) return std::vector<EvalSample>();
    CRUCIBLE_ASSIGN_OR_RETURN(std::vector<EvalSample> all, ReadSamplesFile(path));
    std::sort(all.begin(), all.end(), [&](const EvalSample& a, const EvalSample& b) {
      return std::make_pair(index_[a.problem_id], a.sample) < std::make_pair(index_[b.problem_id], b.sample);
    });
    // Rewritten sorted: the same file for the same options, however the verdicts arrived.
    std::string text;
    for (const EvalSample& s : all) absl::StrAppend(&text, SampleToJson(s), "\n");
    CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(path, text));
    return all;
  }

  // Samples by problem index.
  std::map<size_t, std::vector<const EvalSample*>> ByProblem(const std::vector<EvalSample>& samples) {
    std::map<size_t, std::vector<const EvalSample*>> by;
    for (const EvalSample& s : samples) {
      auto it = index_.find(s.problem_id);
      if (it != index_.end()) by[it->second].push_back(&s);
    }
    return by;
  }

  absl::StatusOr<json> Run(const std::vector<EvalSample>& first_round, const ReportOptions& report_options,
                           bool* stopped) {
    const auto first = ByProblem(first_round);
    std::map<std::string, SearchPath> paths;
    std::vector<Row> refine_rows, repair_rows;
    const int64_t repair_context = cs_.repair != nullptr ? (*cs_.repair)->config().max_position_embeddings : 0;
    for (size_t p = 0; p < cs_.problems.size(); ++p) {
      const std::string& id = cs_.problems[p].id();
      paths[id] = SearchPath::kUnchanged;
      auto it = first.find(p);
      if (it == first.end()) continue;
      const std::vector<const EvalSample*> passing = RefineSources(it->second);
      if (!passing.empty()) {
        CRUCIBLE_ASSIGN_OR_RETURN(std::vector<Row> rows, RefineRows(p, passing, "refine"));
        refine_rows.insert(refine_rows.end(), rows.begin(), rows.end());
        paths[id] = SearchPath::kRefined;
      } else if (cs_.repair != nullptr) {
        std::vector<const EvalSample*> candidates;
        for (size_t i : RepairCandidates(it->second, o_.repair_top_m)) candidates.push_back(it->second[i]);
        std::vector<Row> rows = RepairRows(p, candidates, repair_context);
        if (rows.empty()) continue;
        repair_rows.insert(repair_rows.end(), rows.begin(), rows.end());
        paths[id] = SearchPath::kRepaired;
      }
    }
    CRUCIBLE_ASSIGN_OR_RETURN(std::vector<EvalSample> refined, RunStage(cs_.policy, "refine", 1, refine_rows, stopped));
    if (*stopped) return json();
    std::vector<EvalSample> repaired;
    if (cs_.repair != nullptr) {
      CRUCIBLE_ASSIGN_OR_RETURN(repaired, RunStage(*cs_.repair, "repair", 2, repair_rows, stopped));
      if (*stopped) return json();
    }
    const auto repaired_by = ByProblem(repaired);
    std::vector<Row> repair_refine_rows;
    for (const auto& [p, samples] : repaired_by) {
      const std::vector<const EvalSample*> passing = RefineSources(samples);
      if (passing.empty()) continue;
      CRUCIBLE_ASSIGN_OR_RETURN(std::vector<Row> rows, RefineRows(p, passing, "repair_refine"));
      repair_refine_rows.insert(repair_refine_rows.end(), rows.begin(), rows.end());
      paths[cs_.problems[p].id()] = SearchPath::kRepairedThenRefined;
    }
    std::vector<EvalSample> repair_refined;
    if (cs_.repair != nullptr) {
      CRUCIBLE_ASSIGN_OR_RETURN(repair_refined, RunStage(cs_.policy, "repair_refine", 3, repair_refine_rows, stopped));
      if (*stopped) return json();
    }

    // The final N samples of each problem, from the last stage its path went through.
    const auto refined_by = ByProblem(refined), repair_refined_by = ByProblem(repair_refined);
    std::vector<EvalSample> final_samples;
    for (size_t p = 0; p < cs_.problems.size(); ++p) {
      const SearchPath path = paths[cs_.problems[p].id()];
      const auto& from = path == SearchPath::kRefined                ? refined_by
                         : path == SearchPath::kRepaired             ? repaired_by
                         : path == SearchPath::kRepairedThenRefined ? repair_refined_by
                                                                     : first;
      auto it = from.find(p);
      if (it == from.end()) continue;
      for (const EvalSample* s : it->second) {
        EvalSample copy = *s;
        copy.search = "critic";
        if (path == SearchPath::kUnchanged) copy.extra["stage"] = "sample";
        final_samples.push_back(std::move(copy));
      }
    }
    std::string text;
    for (const EvalSample& s : final_samples) absl::StrAppend(&text, SampleToJson(s), "\n");
    CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(o_.out_dir + "/critic_samples.jsonl", text));
    generated_["sample"] = static_cast<int64_t>(first_round.size());
    return CriticSamplingReport(first_round, final_samples, paths, generated_, cs_.repair != nullptr,
                                o_.repair_top_m, repair_skipped_too_long_, report_options);
  }

 private:
  CriticSearch& cs_;
  const EvalOptions& o_;
  std::map<std::string, size_t> index_;
  std::map<std::string, int64_t> generated_;
  int64_t repair_skipped_too_long_ = 0;
};

}  // namespace

absl::StatusOr<json> RunCriticSearch(CriticSearch& search, const std::vector<EvalSample>& first_round,
                                     const ReportOptions& report_options, bool* stopped) {
  *stopped = false;
  CRUCIBLE_RETURN_IF_ERROR(MakeDirs(search.options.out_dir + "/search"));
  return Search(search).Run(first_round, report_options, stopped);
}

}  // namespace crucible::cli
