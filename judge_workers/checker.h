// Checkers decide whether a program's output answers a test. The built-in ones compare
// text; a problem may instead bring a checker program, which the judge runs in the
// sandbox (see judge.h). Messages name the first difference.
#ifndef CRUCIBLE_JUDGE_WORKERS_CHECKER_H_
#define CRUCIBLE_JUDGE_WORKERS_CHECKER_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "crucible/v1/problem.pb.h"

namespace crucible {

struct CheckOutcome {
  bool accepted = false;
  std::string message;  // why not, or empty
};

class Checker {
 public:
  virtual ~Checker() = default;
  virtual CheckOutcome Check(absl::string_view input, absl::string_view expected,
                             absl::string_view actual) const = 0;
};

// Bytes equal, except that line endings may be \r\n and one final newline may be
// missing or extra.
std::unique_ptr<Checker> MakeExactChecker();
// Whitespace-separated tokens equal (spaces, tabs, newlines, \r, \v, \f).
std::unique_ptr<Checker> MakeTokensChecker();
// Tokens; where the expected token is a finite number, the actual one passes if it is a
// number within abs_tol absolutely or rel_tol relatively of it. Other tokens must match.
std::unique_ptr<Checker> MakeFloatChecker(double abs_tol, double rel_tol);

// The built-in checker for a problem's checker spec (kind PROGRAM has none: nullptr).
std::unique_ptr<Checker> MakeBuiltinChecker(const v1::Checker& spec);

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_CHECKER_H_
