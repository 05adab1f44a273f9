#include "cli/signals.h"

#include <signal.h>

#include <cstring>
#include <mutex>

namespace crucible::cli {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag must be lock-free");
static_assert(std::atomic<int>::is_always_lock_free, "the stop signal must be lock-free");

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

void OnStopSignal(int signal_number) {
  int none = 0;
  g_signal.compare_exchange_strong(none, signal_number);
  g_stop.store(true);
}

void Install(int signal_number, int flags) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a stop request must not fail a blocking read or write in flight.
  action.sa_flags = SA_RESTART | flags;
  sigaction(signal_number, &action, nullptr);
}

}  // namespace

void InstallStopSignals() {
  // Once only: installing again would re-arm a SIGINT handler the first Ctrl-C reset.
  static std::once_flag once;
  std::call_once(once, [] {
    Install(SIGTERM, 0);
    Install(SIGINT, SA_RESETHAND);
  });
}

const std::atomic<bool>& StopRequested() { return g_stop; }

int StopSignal() { return g_signal.load(); }

}  // namespace crucible::cli
