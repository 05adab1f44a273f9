// The public problem format (DESIGN.md, "Public formats"): one JSON object per line.
// Parsing turns a line into a crucible.v1.Problem and rejects anything malformed with a
// message naming the file, line and field ("problems.jsonl:12: tests[3].output: expected a
// string"). Unknown fields are ignored so the format can grow. Languages are not checked
// here: which languages exist is the judge's business. Function-call problems (`function`,
// `starter_code`) are documented in judge_workers/README.md.
#ifndef CRUCIBLE_COMMON_PROBLEM_IO_H_
#define CRUCIBLE_COMMON_PROBLEM_IO_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "crucible/v1/problem.pb.h"

namespace crucible {

inline constexpr int64_t kDefaultTimeLimitMs = 2000;
inline constexpr int64_t kDefaultMemoryLimitMib = 256;
inline constexpr int64_t kMaxTimeLimitMs = 60'000;
inline constexpr int64_t kMaxMemoryLimitMib = 16'384;

// Parses one JSON object. `where` prefixes error messages ("file.jsonl:3").
absl::StatusOr<v1::Problem> ParseProblemJson(absl::string_view json, absl::string_view where);

// Checks the invariants every consumer relies on: a non-empty id of printable characters,
// limits in range, at least one test, a well-formed checker.
absl::Status ValidateProblem(const v1::Problem& problem, absl::string_view where);

// Parses JSONL text: every non-blank line is a problem. A text that is one JSON object
// spread over several lines is accepted too. Duplicate ids are an error.
absl::StatusOr<std::vector<v1::Problem>> ParseProblemsJsonl(absl::string_view text,
                                                            absl::string_view source_name);

absl::StatusOr<std::vector<v1::Problem>> LoadProblemsFile(const std::string& path);

// The inverse of ParseProblemJson: one line of JSON, no trailing newline.
std::string ProblemToJson(const v1::Problem& problem);

absl::string_view CheckerKindName(v1::Checker::Kind kind);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_PROBLEM_IO_H_
