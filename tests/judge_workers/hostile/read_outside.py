# Input: a secret file's host path. Nothing outside the sandbox may be readable.
import glob, os
secret = input().strip()
leaked = []
for path in [secret, "/etc/shadow", "/etc/hosts", "/root/.bashrc", "/proc/1/environ",
             "/proc/1/root/etc/hostname", "/sys/kernel/notes"] + glob.glob("/home/*/*"):
    try:
        with open(path, "rb") as f:
            f.read(16)
        leaked.append(path)
    except OSError:
        pass
for directory in ["/root", "/home", "/var", "/tmp/..", os.path.dirname(secret)]:
    try:
        if os.listdir(directory) and directory != "/tmp/..":
            leaked.append(directory)
    except OSError:
        pass
print(" ".join(leaked) if leaked else "none")
