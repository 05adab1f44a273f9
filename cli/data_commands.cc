// `crucible data import`: turn a public dataset's own files (APPS, CodeContests, MBPP,
// HumanEval) into crucible's problem format (common/datasets.h has the mapping). Writes
// the problems atomically, prints a summary on stdout and every skipped record on stderr;
// with --on-bad-record refuse the first bad record fails the import and nothing is written.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/datasets.h"

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

}  // namespace

std::vector<Command> DataCommands() { return {Import()}; }

}  // namespace crucible::cli
