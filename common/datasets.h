// Importers for public code datasets: each reads a dataset's own published files and
// returns crucible problems (problem.proto) that pass ValidateProblem. A record that
// cannot become a valid problem is a bad record, reported as "<file>:<line>: <field>:
// <what>" ("mbpp.jsonl:17: test_list: expected an array of strings"; a folder or an array
// element stands in for the line where there is none) and either skipped and listed, or,
// with refuse_bad_records, the whole import fails with that message. Unreadable input is
// an error either way. Ids are "<format>/<the dataset's own id>", made unique with a
// "-2", "-3" suffix. Input files may be gzip-compressed (detected by the magic bytes).
// Memory is 256 MiB unless the dataset says; the checker is `tokens`; languages python3
// and cpp17 only. data/README.md ("Importing datasets") has the user-facing version.
//
//  apps (hendrycks/apps). A folder tree (`--in` a directory whose subfolders, or their
//    subfolders as in train/0000, hold question.txt, input_output.json, solutions.json,
//    metadata.json, starter_code.py) or the JSON-lines release (codeparrot/apps: the same
//    fields, solutions and input_output JSON-encoded as strings). Id: the problem folder's
//    path under `--in` (apps/train/0000) or apps/<problem_id>. Stdio tests: string inputs
//    and outputs, or lists of lines joined with "\n" plus a final newline; public tests
//    are those whose stripped input appears verbatim in the question (its examples);
//    hidden tests are all tests. With fn_name: a CALL function problem, each input the
//    JSON argument list, no public tests, starter code kept. Every solution is a python3
//    reference; solutions that are not valid UTF-8, or hold NUL bytes, are dropped and
//    counted. Difficulty from metadata. 4000 ms (APPS gives no limit). No tests: bad.
//  codecontests (deepmind/code_contests, its records as JSON lines). Public tests
//    public_tests; hidden tests private_tests then generated_tests (public_tests when
//    both are empty). Solutions and incorrect_solutions in PYTHON3 and CPP kept (python3,
//    cpp17), others left out. Difficulty: cf_rating when > 0, else EASY introductory,
//    MEDIUM interview, HARD and above and Codeforces letters competition, others none.
//    Limits from time_limit and memory_limit_bytes (2000 ms / 256 MiB when absent),
//    clamped to problem_io.h's ranges. Id: the name with characters outside the id
//    alphabet replaced by '_'. A problem that reads a named input_file is bad.
//  mbpp (google-research/mbpp): mbpp.jsonl (JSON lines) or sanitized-mbpp.json (one
//    array), told apart by content. An ASSERT function problem named after the code's
//    function that the tests call; setup_code is test_setup_code or the test_imports.
//    Each assert is one test; public: the first of test_list (the statement shows all of
//    test_list, as the MBPP paper's prompt does); hidden: test_list then
//    challenge_test_list. Reference: code (CRLF line ends made LF). 3000 ms.
//  humaneval (openai/human-eval, HumanEval.jsonl or .jsonl.gz): an ASSERT problem named
//    entry_point with one hidden test, the dataset's `check` and its call; no public
//    tests, so n@k filtering on public tests keeps every sample. Statement and starter
//    code: the prompt; reference: prompt + canonical_solution. 3000 ms.
#ifndef CRUCIBLE_COMMON_DATASETS_H_
#define CRUCIBLE_COMMON_DATASETS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crucible/v1/problem.pb.h"

namespace crucible {

enum class DatasetFormat { kApps, kCodeContests, kMbpp, kHumanEval };

// "apps", "codecontests", "mbpp", "humaneval"; anything else is INVALID_ARGUMENT.
absl::StatusOr<DatasetFormat> ParseDatasetFormat(absl::string_view name);
absl::string_view DatasetFormatName(DatasetFormat format);

struct ImportOptions {
  bool refuse_bad_records = false;  // fail on the first bad record instead of skipping it
  int limit = 0;                    // stop after this many problems; 0: all
  int max_tests = 0;                // hidden tests kept per problem, in order; 0: all
};

struct ImportResult {
  std::vector<v1::Problem> problems;
  std::vector<std::string> skipped;  // one message per skipped record, in input order
  int dropped_solutions = 0;         // not valid UTF-8, NUL bytes or empty
  int other_language_solutions = 0;  // in a language crucible does not judge (CodeContests)
};

// Imports the dataset at `path` (a file, or for APPS's tree a directory). Fails on
// unreadable input, on a bad record when options.refuse_bad_records, and when the input
// holds no records at all.
absl::StatusOr<ImportResult> ImportDataset(DatasetFormat format, const std::string& path,
                                           const ImportOptions& options);

// "imported 412 problems from apps (3 skipped: <the first three reasons>; ...)".
std::string ImportSummary(DatasetFormat format, const ImportResult& result);

// One ProblemToJson line per problem, written atomically (temporary file and rename).
absl::Status WriteProblemsJsonl(const std::string& path, const std::vector<v1::Problem>& problems);

// The contents of a file, gunzipped when it starts with gzip's magic bytes.
absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_DATASETS_H_
