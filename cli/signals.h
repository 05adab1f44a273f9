// The process-wide stop request of the `crucible` command. InstallStopSignals() makes
// SIGTERM and SIGINT set a flag instead of killing the process; long-running subcommands
// call it in their runner and hand &StopRequested() to the library, which polls it at safe
// points (between training steps, between batches) and winds down: checkpoint, drain,
// exit. Libraries never install signal handlers themselves; a library that is given no
// stop flag simply runs to the end.
//
// The handler only stores to lock-free atomics, which is async-signal-safe. SIGTERM may
// arrive any number of times (schedulers repeat it) and only ever sets the flag; a second
// SIGINT gets the default action, so a second Ctrl-C ends a process that is slow to stop.
#ifndef CRUCIBLE_CLI_SIGNALS_H_
#define CRUCIBLE_CLI_SIGNALS_H_

#include <atomic>

namespace crucible::cli {

// Installs the SIGTERM and SIGINT handlers; idempotent.
void InstallStopSignals();

// True once SIGTERM or SIGINT arrived after InstallStopSignals().
const std::atomic<bool>& StopRequested();

// The signal that requested the stop first (SIGTERM or SIGINT), or 0 if none has.
int StopSignal();

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_SIGNALS_H_
