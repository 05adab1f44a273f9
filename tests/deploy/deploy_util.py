"""What the deploy tests share: failure collection, running a command, a free port, and the
tiny run (the tiny random model on six bundled problems, no warm start, small batches)
they train. Imported by the tests beside it (a script's directory is on sys.path).
Standard library only."""
import socket
import subprocess

FAILURES = []


def fail(message):
    """Records a failure and goes on: a test reports every problem it finds, then exits 1."""
    FAILURES.append(message)
    print(f"FAIL: {message}", flush=True)


def run(argv, **kw):
    """(exit status, stdout + stderr) of argv, its items str()'d."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    return r.returncode, r.stdout + r.stderr


def stop_process(proc, log=None, timeout=30):
    """SIGTERM, then SIGKILL after `timeout` s; closes the process's log file."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if log is not None:
        log.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The tiny run as `--set key=value` items; {src} is the repository root.
TINY_RUN = [
    "model.init_config={src}/data/models/tiny.json", "model.init_tokenizer=", "problems.file=",
    "problems.ids=[sum-two,max-of-list,count-vowels,reverse-words,fizzbuzz,palindrome]", "warm_start.sft_steps=0",
    "actors.problems_per_batch=1", "actors.samples_per_problem=4", "actors.max_new_tokens=32",
    "actors.max_inflight_samples=8", "learner.batch_size=8", "learner.max_staleness_steps=4",
]


def tiny_run(src):
    return [s.format(src=src) for s in TINY_RUN]
