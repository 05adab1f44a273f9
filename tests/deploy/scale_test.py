#!/usr/bin/env python3
"""scripts/scale.py on real runs: a grid of two points of the tiny model on this machine.

    scale_test.py --crucible BUILD/bin/crucible --source REPO

Runs the grid actors=1,2 (1 judge of 1 worker, 1 learner rank), 8 s per point, and checks:
scale.csv and scale.md have both points with positive samples/s, judge executions/s,
steps/s and trained tokens/s, idle fractions in [0, 1], weight-sync times; the smallest point
has efficiency 1 and the other its measured ratio; the model was calibrated (positive costs,
adapter bytes from the run's checkpoint), predicts both points (the first exactly up to its
cpu bound) and projects 1..512 nodes with a bottleneck each, throughput never falling as
nodes are added; the plots are PNG files. Standard library only.
"""
import argparse
import csv
import json
import pathlib
import subprocess
import sys
import tempfile

from deploy_util import tiny_run



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    src = pathlib.Path(a.source).resolve()
    failures = []

    def check(ok, message):
        if not ok:
            failures.append(message)
            print(f"FAIL: {message}", flush=True)

    with tempfile.TemporaryDirectory() as t:
        out = pathlib.Path(t) / "scale"
        argv = [sys.executable, src / "scripts/scale.py", "--out", out, "--crucible", a.crucible,
                "--grid", "actors=1,2", "judges=1", "workers=1", "ranks=1", "--seconds", "8", "--warmup-steps", "2",
                "--nodes", "1,2,8,64,512", "--node-cores", "2"]
        for s in tiny_run(src):
            argv += ["--set", s]
        r = subprocess.run([str(v) for v in argv], capture_output=True, text=True, timeout=600)
        print(r.stdout[-4000:], r.stderr[-3000:], flush=True)
        check(r.returncode == 0, f"scale.py exited {r.returncode}")
        if r.returncode != 0:
            return 1
        rows = list(csv.DictReader(open(out / "scale.csv")))
        check(len(rows) == 2 and [r["actors"] for r in rows] == ["1", "2"], f"scale.csv rows {rows}")
        for row in rows:
            where = f"point actors={row['actors']}"
            for k in ("samples_per_second", "judge_executions_per_second", "steps_per_second",
                      "trained_tokens_per_second", "publish_ms", "apply_ms"):
                check(row[k] != "" and float(row[k]) > 0, f"{where}: {k} = {row[k]!r}")
            for k in ("learner_idle_fraction", "actor_paused_fraction"):
                check(row[k] != "" and -0.01 <= float(row[k]) <= 1.01, f"{where}: {k} = {row[k]!r}")
            check(row["predicted_bottleneck"] in ("actors", "judges", "learner", "sync", "cpu"),
                  f"{where}: bottleneck {row['predicted_bottleneck']!r}")
        if len(rows) == 2:
            s0, s1 = float(rows[0]["samples_per_second"]), float(rows[1]["samples_per_second"])
            check(abs(float(rows[0]["efficiency"]) - 1) < 1e-9, f"smallest point efficiency {rows[0]['efficiency']}")
            expected = (s1 / s0) / (4 / 3)  # units 3 -> 4
            check(abs(float(rows[1]["efficiency"]) - expected) < 1e-6,
                  f"efficiency {rows[1]['efficiency']}, measured ratio gives {expected}")
        data = json.loads((out / "scale.json").read_text())
        k = data["calibration"]
        for key in ("r_a", "s_j", "t_1", "batch", "c", "V"):
            check(isinstance(k.get(key), (int, float)) and k[key] > 0, f"calibration {key} = {k.get(key)}")
        first = data["points"][0]
        # The smallest point's own parts bound it at what was measured or above; the cpu
        # bound (cores / core-seconds per sample) is what it measured.
        check(first["predicted_samples_per_second"] <= 2 / k["c"] * 1.0001, "prediction above the cpu bound")
        proj = data["projection"]
        check([p["nodes"] for p in proj] == [1, 2, 8, 64, 512], f"projection nodes {[p['nodes'] for p in proj]}")
        check(all(p["bottleneck"] in ("actors", "judges", "learner", "sync") for p in proj), f"projection {proj}")
        check(all(b["samples_per_second"] >= a["samples_per_second"] * 0.999 for a, b in zip(proj, proj[1:])),
              f"projected throughput falls with more nodes: {proj}")
        model = (out / "model.md").read_text()
        check("| 512 |" in model and "mean absolute error" in model, "model.md lacks the projection or the check")
        for png in ("throughput.png", "efficiency.png", "projection.png"):
            path = out / png
            check(path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("scale: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
