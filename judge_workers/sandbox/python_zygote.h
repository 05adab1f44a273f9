// The Python zygote: the sandbox server embeds the system interpreter's own libpython,
// initialises it once the way /usr/bin/python3 initialises itself (same prefix, sys.path,
// site, stdio setup, C.UTF-8 locale) and pre-imports the standard modules contest programs
// use. Each run is a fork of that initialised interpreter, made inside a fresh sandbox with
// the same isolation as an exec'd program, so the ~15-20 ms interpreter start-up is paid
// once per server rather than once per test.
//
// Differences from a fresh `python3 main.py`, by design: the string hash seed is shared by
// all runs of one server (dict and set order is stable across runs), and modules the
// zygote pre-imported are already in sys.modules. `random` is reseeded in every fork.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_PYTHON_ZYGOTE_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_PYTHON_ZYGOTE_H_

#include <string>

#include "absl/status/statusor.h"

namespace crucible::sandbox {

// Initialises the interpreter as `python_executable` (e.g. /usr/bin/python3.11) would.
// Returns the interpreter's version string.
absl::StatusOr<std::string> InitializePythonZygote(const std::string& python_executable);

// Brackets every fork made by the server while the interpreter is live.
void PythonBeforeFork();
void PythonAfterForkInParent();

// In a sandboxed child: compiles (check_only) or runs the script like `python3 script`
// would, then exits with the status python3 would. With compile_error_fd >= 0, a script
// that does not compile is reported by writing "C" to that descriptor before exiting;
// otherwise the descriptor is closed before any of the script runs.
[[noreturn]] void RunPythonAndExit(bool check_only, const std::string& script_path,
                                   int compile_error_fd);

// The same compile check for exec'd interpreters (`python3 -c <script> <path>`), used
// when no zygote is available. Compile errors print as python3 prints a SyntaxError.
inline constexpr char kPythonCheckScript[] =
    "import sys, traceback\n"
    "p = sys.argv[1]\n"
    "try:\n"
    "    compile(open(p, 'rb').read(), p, 'exec', dont_inherit=True)\n"
    "except (SyntaxError, ValueError) as e:\n"
    "    traceback.print_exception(type(e), e, None)\n"
    "    sys.exit(1)\n";

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_PYTHON_ZYGOTE_H_
