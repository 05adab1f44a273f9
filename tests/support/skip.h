// Skipping a test with its reason: the test process prints the reason and exits with
// kSkipExitCode, which CTest reports as "Skipped" (SKIP_RETURN_CODE on every test).
#ifndef CRUCIBLE_TESTS_SUPPORT_SKIP_H_
#define CRUCIBLE_TESTS_SUPPORT_SKIP_H_

#include <cstdio>
#include <cstdlib>

namespace crucible::testing {

inline constexpr int kSkipExitCode = 77;

[[noreturn]] inline void Skip(const char* reason) {
  std::printf("SKIPPED: %s\n", reason);
  std::fflush(stdout);
  std::exit(kSkipExitCode);
}

}  // namespace crucible::testing

#endif  // CRUCIBLE_TESTS_SUPPORT_SKIP_H_
