// Function-call problems (problem.proto, FunctionCall): the program defines a function and
// each test calls it, through the harness in function_harness.py. The harness runs inside
// the sandbox as two processes, a referee that holds the test and a player that runs the
// program; values cross between them as typed JSON of builtin types, and the referee alone
// reports, on a line that starts with a nonce the program never sees. judge_workers/README.md
// lists what this defends against.
#ifndef CRUCIBLE_JUDGE_WORKERS_FUNCTION_HARNESS_H_
#define CRUCIBLE_JUDGE_WORKERS_FUNCTION_HARNESS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "crucible/v1/judge.pb.h"
#include "crucible/v1/problem.pb.h"

namespace crucible {

// The harness's Python source.
absl::string_view FunctionHarnessSource();

// A fresh random nonce (hex, 32 characters).
std::string MakeHarnessNonce();

// The harness's stdin for one test.
std::string FunctionTestSpec(const v1::Problem& problem, const v1::TestCase& test,
                             const std::string& nonce);

// The verdict the harness reported on `stdout_text` for a run that ended cleanly: OK, WA
// or RE with the harness's subtype and message in checker_message. Output without exactly
// one report line carrying `nonce` is not a pass: WA (no report: the referee did not
// finish) with a message saying so.
v1::TestResult ReadHarnessReport(absl::string_view stdout_text, const std::string& nonce);

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_FUNCTION_HARNESS_H_
