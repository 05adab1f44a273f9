# Tries to carry something from one test to the next: marks /tmp and /dev/shm, and leaves a
# detached daemon that copies any other process's stdin (a later test's input) into /tmp.
# Every test must start clean, so each prints its sum; a trace of an earlier one, "leaked".
import os, sys, time

data = sys.stdin.read()
for mark in ("/tmp/seen", "/tmp/spy", "/dev/shm/spy"):
    if os.path.exists(mark):
        print("leaked", mark)
        sys.exit(0)
with open("/tmp/seen", "w") as f:
    f.write(data)
try:
    with open("/dev/shm/spy", "w") as f:
        f.write(data)
except OSError:
    pass

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        me, end = os.getpid(), time.time() + 60
        while time.time() < end:
            for name in os.listdir("/proc"):
                if not name.isdigit() or int(name) == me:
                    continue
                try:
                    with open("/proc/%s/fd/0" % name) as other:
                        seen = other.read(4096)
                    if seen and seen != data:
                        with open("/tmp/spy", "a") as f:
                            f.write(seen)
                except OSError:
                    pass
            time.sleep(0.005)
    os._exit(0)
os.wait()
print(sum(map(int, data.split())))
