// `crucible data import`: turn a public dataset's own files (APPS, CodeContests, MBPP,
// HumanEval) into crucible's problem format (common/datasets.h has the mapping). Writes
// the problems atomically, prints a summary on stdout and every skipped record on stderr;
// with --on-bad-record refuse the first bad record fails the import and nothing is written.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "actors/prompt.h"
#include "cli/commands.h"
#include "cli/run_config.h"
#include "common/bundled_problems.h"
#include "common/datasets.h"
#include "common/eval_report.h"
#include "common/files.h"
#include "common/model/model_cli.h"
#include "common/problem_io.h"
#include "common/tokenizer.h"
#include "common/verdict_json.h"
#include "nlohmann/json.hpp"

namespace crucible::cli {
namespace {

constexpr char kImport[] = "crucible data import";

int Fail(const std::string& message, int status) {
  std::fprintf(stderr, "%s: %s\n", kImport, message.c_str());
  return status;
}

Command Import() {
  return {
      "data import", "convert APPS, CodeContests, MBPP or HumanEval files into problems (JSONL)",
      [](FlagSet& flags) -> CommandRunner {
        struct Options {
          std::string format;
          std::string in;
          std::string out;
          std::string on_bad_record = "skip";
          int limit = 0;
          int max_tests = 0;
        };
        auto o = std::make_shared<Options>();
        flags.SetDescription(
            "Reads a dataset's published files and writes one problem per line; data/README.md "
            "(\"Importing datasets\") documents each format's mapping.");
        flags.Add("format", &o->format, "the dataset: apps, codecontests, mbpp or humaneval");
        flags.Add("in", &o->in, "the dataset's file (JSON lines, or .gz), or APPS's folder tree");
        flags.Add("out", &o->out, "the problem file to write (JSONL)");
        flags.Add("on-bad-record", &o->on_bad_record,
                  "skip: leave bad records out and list them; refuse: fail on the first");
        flags.Add("limit", &o->limit, "import at most this many problems (0: all)");
        flags.Add("max-tests", &o->max_tests,
                  "keep at most this many hidden tests per problem, in order (0: all)");
        return [o](const std::vector<std::string>& positional) {
          if (!NoPositionalArguments(kImport, positional)) return 2;
          absl::StatusOr<DatasetFormat> format = ParseDatasetFormat(o->format);
          if (!format.ok()) return Fail(std::string(format.status().message()), 2);
          if (o->in.empty() || o->out.empty()) return Fail("--in and --out are required", 2);
          if (o->on_bad_record != "skip" && o->on_bad_record != "refuse") {
            return Fail(
                "--on-bad-record: expected skip or refuse, got \"" + o->on_bad_record + "\"", 2);
          }
          if (o->limit < 0 || o->max_tests < 0) {
            return Fail("--limit and --max-tests must not be negative", 2);
          }
          ImportOptions options;
          options.refuse_bad_records = o->on_bad_record == "refuse";
          options.limit = o->limit;
          options.max_tests = o->max_tests;
          absl::StatusOr<ImportResult> result = ImportDataset(*format, o->in, options);
          if (!result.ok()) return Fail(std::string(result.status().message()), 1);
          for (const std::string& reason : result->skipped) {
            std::fprintf(stderr, "%s: skipped %s\n", kImport, reason.c_str());
          }
          const std::string summary = ImportSummary(*format, *result);
          if (result->problems.empty()) return Fail(summary + "; nothing written", 1);
          if (absl::Status s = WriteProblemsJsonl(o->out, result->problems); !s.ok()) {
            return Fail(std::string(s.message()), 1);
          }
          std::printf("%s\n", summary.c_str());
          return 0;
        };
      }};
}


constexpr char kRepairPairs[] = "crucible data repair-pairs";

// CodeRL's repair-model data (section 3.3.4, eq. 13): every judged sample that failed,
// turned into (problem, failing program, verdict, subtype) -> a reference program, as SFT
// examples for `crucible learner offline --algo sft`. The prompt is actors/prompt.h's
// RepairPrompt of the problem's prompt (--prompt-template), the program, its public verdict
// and subtype (the hidden ones for a sample judged without public tests); the completion is
// a reference solution in the sample's language (cycling through the problem's references)
// followed by the end-of-sequence token. Lines carry prompt/completion text and
// prompt_tokens/completion_tokens (the tokens win, so the eos is kept with any tokenizer).
Command RepairPairs() {
  return {
      "data repair-pairs",
      "build a repair model's SFT data from judged samples: (problem, failing program, error) -> reference",
      [](FlagSet& flags) -> CommandRunner {
        struct Options {
          std::vector<std::string> samples;
          std::string problems;
          std::string model;
          std::string tokenizer;
          std::string prompt_template;
          int max_per_problem = 0;
          std::string out;
        };
        auto o = std::make_shared<Options>();
        flags.SetDescription(
            "Reads samples files (crucible eval's samples.jsonl) and writes one SFT example per "
            "failing sample whose problem has a reference in its language; train the repair "
            "model with `crucible learner offline --algo sft --data OUT` and use it with "
            "`crucible eval --search critic --repair-adapter DIR`.");
        flags.Add("samples", &o->samples, "judged samples files (comma-separated)");
        flags.Add("problems", &o->problems, "the problems the samples are of (JSONL); \"\": the bundled set");
        flags.Add("model", &o->model, "model directory whose tokenizer encodes the examples");
        flags.Add("tokenizer", &o->tokenizer, "tokenizer.json (default: the model directory's)");
        flags.Add("prompt-template", &o->prompt_template,
                  "prompt template (actors/prompt.h); \"\": the run configuration's default");
        flags.Add("max-per-problem", &o->max_per_problem, "examples per problem at most (0: all)");
        flags.Add("out", &o->out, "the examples to write (JSONL)");
        return [o](const std::vector<std::string>& positional) {
          auto fail = [](const std::string& message, int status) {
            std::fprintf(stderr, "%s: %s\n", kRepairPairs, message.c_str());
            return status;
          };
          if (!NoPositionalArguments(kRepairPairs, positional)) return 2;
          if (o->samples.empty() || o->out.empty()) return fail("--samples and --out are required", 2);
          if (o->model.empty() && o->tokenizer.empty()) return fail("--model or --tokenizer is required", 2);
          if (o->max_per_problem < 0) return fail("--max-per-problem must not be negative", 2);
          const std::string prompt_template =
              o->prompt_template.empty() ? RunConfig().actors.prompt_template : o->prompt_template;
          if (absl::Status s = ValidatePromptTemplate(prompt_template); !s.ok()) {
            return fail(std::string(s.message()), 2);
          }
          std::vector<v1::Problem> problems;
          if (o->problems.empty()) {
            problems = BundledProblems();
          } else {
            absl::StatusOr<std::vector<v1::Problem>> loaded = LoadProblemsFile(o->problems);
            if (!loaded.ok()) return fail(std::string(loaded.status().message()), 1);
            problems = *std::move(loaded);
          }
          std::map<std::string, const v1::Problem*> by_id;
          for (const v1::Problem& p : problems) by_id[p.id()] = &p;
          absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
              Tokenizer::Load(o->tokenizer.empty() ? model::DefaultTokenizerFor(o->model) : o->tokenizer);
          if (!tokenizer.ok()) return fail(std::string(tokenizer.status().message()), 1);
          if (!(*tokenizer)->eos_id().has_value()) return fail("the tokenizer has no end-of-sequence token", 1);

          std::string text;
          int64_t written = 0, passed = 0, no_reference = 0, unknown = 0, empty = 0;
          std::map<std::string, int> per_problem;
          for (const std::string& path : o->samples) {
            absl::StatusOr<std::vector<EvalSample>> samples = ReadSamplesFile(path);
            if (!samples.ok()) return fail(std::string(samples.status().message()), 1);
            for (const EvalSample& s : *samples) {
              auto it = by_id.find(s.problem_id);
              if (it == by_id.end()) {
                ++unknown;
                continue;
              }
              const v1::Problem& problem = *it->second;
              const bool public_failed = !s.passed_public;
              if (s.verdict == v1::SE || (s.verdict == v1::OK && !public_failed)) {
                ++passed;
                continue;
              }
              if (s.program.empty()) {
                ++empty;
                continue;
              }
              std::vector<const v1::Program*> references;
              for (const v1::Program& ref : problem.solutions()) {
                if (ref.language() == s.language && !ref.source().empty()) references.push_back(&ref);
              }
              if (references.empty()) {
                ++no_reference;
                continue;
              }
              int& count = per_problem[s.problem_id];
              if (o->max_per_problem > 0 && count >= o->max_per_problem) continue;
              std::string verdict(VerdictName(s.verdict)), subtype = s.subtype;
              // The public tests' outcome, as the search shows a program that failed them; the
              // hidden one for a program that passed them (or was judged without them).
              if (public_failed && s.extra.contains("public_verdict") && s.extra["public_verdict"].is_string()) {
                verdict = s.extra["public_verdict"].get<std::string>();
                subtype = s.extra.contains("public_subtype") && s.extra["public_subtype"].is_string()
                              ? s.extra["public_subtype"].get<std::string>()
                              : std::string();
              }
              absl::StatusOr<std::string> prompt = BuildPrompt(prompt_template, problem, s.language);
              if (!prompt.ok()) return fail(std::string(prompt.status().message()), 2);
              const std::string repair = RepairPrompt(*prompt, s.program, verdict, subtype);
              const std::string& reference =
                  references[static_cast<size_t>(count) % references.size()]->source();
              std::vector<int32_t> completion = (*tokenizer)->Encode(reference);
              completion.push_back(static_cast<int32_t>(*(*tokenizer)->eos_id()));
              nlohmann::json line = {{"prompt", repair},
                                     {"completion", reference},
                                     {"prompt_tokens", (*tokenizer)->Encode(repair)},
                                     {"completion_tokens", completion},
                                     {"group_id", s.problem_id},
                                     {"source_sample", s.sample}};
              absl::StrAppend(&text, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "\n");
              ++count;
              ++written;
            }
          }
          if (written == 0) return fail("no failing sample with a reference; nothing written", 1);
          if (absl::Status s = WriteFileAtomic(o->out, text); !s.ok()) return fail(std::string(s.message()), 1);
          std::printf("%lld repair examples from %zu problems (skipped: %lld passing or SE, %lld without a "
                      "program, %lld without a reference, %lld of unknown problems)\n",
                      static_cast<long long>(written), per_problem.size(), static_cast<long long>(passed),
                      static_cast<long long>(empty), static_cast<long long>(no_reference),
                      static_cast<long long>(unknown));
          return 0;
        };
      }};
}

}  // namespace

std::vector<Command> DataCommands() { return {Import(), RepairPairs()}; }

}  // namespace crucible::cli
