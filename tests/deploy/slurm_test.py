#!/usr/bin/env python3
"""deploy/slurm/crucible.sbatch on a real Slurm cluster (tests/deploy/slurm_cluster.sh: slurmctld
and two slurmd on this machine, munge auth, partitions cpu = c1 and gpu = g1).

    slurm_test.py --crucible BUILD/bin/crucible --source REPO

1. A heterogeneous job for a short run (tiny model, 2 actors, 1 judge, 2 Gloo learner ranks):
   it completes; metrics.jsonl has every step; checkpoints exist; the books balance; the
   judge ran on c1 and the learner ranks and actors on g1 (cluster.json), as srun steps.
2. A longer run, requeued (`scontrol requeue`) once it has trained a few steps: the job
   comes back as restart 1, the learner resumes from its newest checkpoint, and the run
   ends with every step once in metrics.jsonl (steps 1..S, policy versions increasing),
   exit code 0 and balanced books.
3. scripts/scale.py --launcher slurm on a two-point grid: one job per point, each measured
   from its processes' /metrics and stopped with scancel; both rows have samples/s and
   steps/s.
Standard library only; about 6 minutes (Slurm holds a requeued job ~2 minutes).
"""
import argparse
import csv
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

from deploy_util import FAILURES, fail, tiny_run


def sh(argv, env, check=True):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


CONFIG = """run:
  seed: 11
  steps: {steps}
model:
  init_config: {src}/data/models/tiny.json
  init_tokenizer: ""
problems:
  file: ""
  ids: [sum-two, max-of-list, count-vowels, reverse-words, fizzbuzz, palindrome]
warm_start:
  sft_steps: 0
actors:
  count: 2
  problems_per_batch: 1
  samples_per_problem: 4
  max_new_tokens: 32
  max_inflight_samples: 8
judges:
  local_count: 1
  workers: 2
learner:
  ranks: 2
  batch_size: 8
  checkpoint_every_steps: 2
eval:
  problems_file: ""
supervisor:
  progress_interval_s: 5
"""


def job_field(job, field, env):
    out = sh(["scontrol", "show", "job", job], env, check=False)
    m = re.search(rf"\b{field}=(\S+)", out)
    return m.group(1) if m else None


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(1)
    fail(f"timed out after {timeout} s waiting for {what}")
    return False


def metrics(run_dir):
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_finished(name, run_dir, job, steps, env, log):
    state, code = job_field(job, "JobState", env), job_field(job, "ExitCode", env)
    if state != "COMPLETED" or code != "0:0":
        fail(f"{name}: job {job} {state}, exit {code}:\n{log.read_text()[-3000:] if log.exists() else ''}")
        return
    lines = metrics(run_dir)
    if [m["step"] for m in lines] != list(range(1, steps + 1)):
        fail(f"{name}: metrics.jsonl steps {[m['step'] for m in lines]}, not 1..{steps}")
    versions = [m["policy_version"] for m in lines]
    if any(b <= a for a, b in zip(versions, versions[1:])):
        fail(f"{name}: policy versions do not increase: {versions}")
    summary = json.loads((run_dir / "summary.json").read_text())
    if summary.get("balanced") is not True or summary.get("steps") != steps:
        fail(f"{name}: summary {summary}")
    if not list((run_dir / "checkpoints").glob("step-*")):
        fail(f"{name}: no checkpoints")
    nodes = {(p["role"], p["index"]): p.get("node") for p in json.loads((run_dir / "cluster.json").read_text())["processes"]}
    expected = {("judge", 0): "c1", ("learner", 0): "g1", ("learner", 1): "g1", ("actor", 0): "g1", ("actor", 1): "g1"}
    if nodes != expected:
        fail(f"{name}: processes on {nodes}, expected {expected}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--crucible", required=True)
    p.add_argument("--source", required=True)
    args = p.parse_args()
    src = pathlib.Path(args.source).resolve()
    crucible = pathlib.Path(args.crucible).resolve()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="crucible-slurm-"))
    tmp.chmod(0o755)  # the munge user reaches its socket under it
    env = dict(os.environ, SLURM_CONF=str(tmp / "cluster/slurm.conf"), CRUCIBLE=str(crucible))
    cluster = src / "tests/deploy/slurm_cluster.sh"
    t0 = time.time()
    try:
        r = subprocess.run(["bash", cluster, "start", tmp / "cluster"], capture_output=True, text=True)
        print(r.stdout.strip(), flush=True)
        if r.returncode != 0:
            fail(f"the Slurm cluster did not start:\n{r.stdout}{r.stderr}")
            return
        sbatch = src / "deploy/slurm/crucible.sbatch"

        def submit(name, steps):
            (tmp / f"{name}.yaml").write_text(CONFIG.format(steps=steps, src=src))
            out = sh(["sbatch", "--parsable", f"--output={tmp / name}.out", sbatch, tmp / f"{name}.yaml",
                      tmp / name], env)
            return out.strip().split(";")[0], tmp / name, tmp / f"{name}.out"

        # 1. a short run.
        job, run_dir, log = submit("short", 12)
        if wait_for(lambda: job_field(job, "JobState", env) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"),
                    300, "the short job"):
            check_finished("short run", run_dir, job, 12, env, log)
        print(f"short run: {time.time() - t0:.0f} s", flush=True)

        # 2. requeued mid-run, resumed.
        job, run_dir, log = submit("requeued", 60)
        if not wait_for(lambda: len(metrics(run_dir)) >= 8, 300, "8 steps before the requeue"):
            return
        sh(["scontrol", "requeue", job], env)
        print(f"requeued job {job} at step {len(metrics(run_dir))}", flush=True)
        if wait_for(lambda: job_field(job, "Restarts", env) == "1" and
                    job_field(job, "JobState", env) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"),
                    600, "the requeued job to run again and end"):
            check_finished("requeued run", run_dir, job, 60, env, log)
            text = log.read_text()
            if "(restart 1)" not in text:
                fail("the job's output has no second start (restart 1)")
            learner_log = (run_dir / "logs/learner-0.log").read_text()
            if "resumed from" not in learner_log:
                fail("the learner did not resume from a checkpoint after the requeue")

        # 3. scripts/scale.py --launcher slurm: one job per grid point, measured from its
        # processes' /metrics across the nodes, stopped with scancel.
        scale_out = tmp / "scale"
        argv = ["/usr/bin/python3", src / "scripts/scale.py", "--out", scale_out, "--launcher", "slurm",
                "--crucible", crucible, "--grid", "actors=1,2", "judges=1", "workers=1", "ranks=1",
                "--seconds", "8", "--nodes", "1,4", "--node-cores", "2"]
        for t in tiny_run(src):
            argv += ["--set", t]
        r = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            fail(f"scale.py --launcher slurm exited {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        else:
            rows = list(csv.DictReader(open(scale_out / "scale.csv")))
            if [x["actors"] for x in rows] != ["1", "2"] or \
                    not all(float(x["samples_per_second"]) > 0 and float(x["steps_per_second"]) > 0 for x in rows):
                fail(f"scale.py --launcher slurm: rows {rows}")
            jobs = sorted(scale_out.glob("points/*/slurm-*.out"))
            if len(jobs) != 2:
                fail(f"scale.py --launcher slurm: expected a Slurm job per point, found {jobs}")
            print(f"scale.py on Slurm: {[x['samples_per_second'] for x in rows]} samples/s", flush=True)
    finally:
        subprocess.run(["bash", cluster, "stop", tmp / "cluster"], capture_output=True)
        print(f"{'FAILED' if FAILURES else 'passed'} in {time.time() - t0:.0f} s", flush=True)
        if FAILURES:
            print(f"kept {tmp} for inspection", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
