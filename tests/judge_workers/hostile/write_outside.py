# Every write here must fail; /tmp is the program's own scratch space.
import os
wrote = []
for path in ["/usr/crucible-evil", "/etc/crucible-evil", "/work/crucible-evil", "/crucible-evil",
             "/dev/crucible-evil", "/proc/crucible-evil", "/usr/bin/python3", "/bin/sh"]:
    try:
        with open(path, "a") as f:
            f.write("pwned")
        wrote.append(path)
    except OSError:
        pass
try:
    os.symlink("/usr", "/work/link")
    wrote.append("/work/link")
except OSError:
    pass
with open("/tmp/mine", "w") as f:
    f.write("fine")
print(" ".join(wrote) if wrote else "none")
