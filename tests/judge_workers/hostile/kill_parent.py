# Signals everything it can name except itself, then reports that it is still alive.
import os, signal
me = os.getpid()
for pid in [os.getppid(), 1] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if pid == me:
        continue
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
print("alive")
