#!/usr/bin/env python3
"""Scaling experiments: a grid of short runs of the loop, measured from the processes' own
metrics, a table, plots, and a calibrated model that projects past one machine.

    scripts/scale.py --out DIR [--grid actors=1,2,4 judges=1 workers=1,2 ranks=1,2]
        [--seconds 60] [--warmup-steps 2] [--launcher local|slurm] [--config RUN.yaml]
        [--set key=value ...] [--crucible build/bin/crucible] [--sbatch ARGS]
        [--nodes 1,2,4,...,512] [--node-cores 2] [--network-gbps 10] [--network-latency-us 50]
        [--projection-batch 512]

Each grid point (actors x judges x judge workers x learner ranks) is one run of the loop,
`crucible run` with --set actors.count, judges.local_count, judges.workers, learner.ranks
(locally, or `sbatch deploy/slurm/crucible.sbatch` with --launcher slurm: one job per point),
in DIR/points/<point>/. Once the learner has made --warmup-steps steps, every process's
/metrics (the run's prometheus_targets.json) is scraped, again --seconds later, and the run
is stopped (SIGTERM / scancel: it checkpoints and drains). From the counters' differences
over that window:

  samples/s         crucible_actor_samples_total
  judge execs/s     crucible_judge_executions_total (programs judged)
  steps/s           crucible_learner_steps_total (rank 0)
  trained tok/s     crucible_learner_trained_tokens_total
  learner idle      crucible_learner_idle_seconds_total / window
  actors paused     crucible_actor_paused_for_staleness_seconds_total / (window x actors)
  sync ms           mean of crucible_learner_publish_seconds (a version, publish to the last
                    subscriber byte) and of crucible_actor_weight_apply_seconds (an actor
                    copying it into its model)
  efficiency        (samples/s / samples/s of the smallest point) / (units / units of the
                    smallest point); units = actors + judges x workers + learner ranks, the
                    processes the grid adds. 1.0 is linear scaling.

The model (DIR/model.md), calibrated on the smallest point only, from the same window:
  r_a  samples per second of generation per actor (samples / generation seconds)
  s_j  judge worker-seconds per program (crucible_judge_busy_seconds_total / programs)
  t_1  learner seconds per step at one rank: its busy time per step (step, batching and
       publishing), less nothing: the smallest point is calibrated at its own rank count
  c    core-seconds per sample of the whole loop (this machine's busy CPU time over the
       window, from /proc/stat, for local runs; generation + judging + learner steps else)
  V    adapter bytes (the published version; also the gradient all-reduced per step)
Throughput of a shape = min over its parts, and the part that binds is the bottleneck:
  actors    A x r_a          judges   W / s_j
  learner   B / (t_1 B/B_0 / R + 2 (R-1)/R V / bw + 2 (R-1) lat)   (R <= B)
  sync      B x S / (A x V / bw)   (rank 0 sends every version to every actor; S = the
            staleness bound in steps)
  cpu       cores / c        (only where the parts share cores, as on one machine)
The check: the model predicts every measured point from the smallest point's costs (with
the cpu bound, since all share this machine's cores), and the table gives measured,
predicted and the error. The projection: N nodes of --node-cores cores each, every part one
process per core, on a network of --network-gbps and --network-latency-us (stated, not
measured here: this machine has loopback only) and a batch of --projection-batch samples
per step (the learner's cost per step scaled from the measured batch B_0); for each N the
split of cores into actors, judge workers and learner ranks (each a power of two, or what
balances actors against judges; cores left over go to judges) that maximises throughput,
its throughput and its bottleneck. Fewer than 3 cores share them (the cpu bound applies).

Outputs in DIR: scale.md, scale.csv, scale.json (every raw number), throughput.png and
efficiency.png (inline SVG rendered by headless Chromium; .svg beside them), model.md.
The model all points load is prepared once, by `crucible run --stage=prepare` into
DIR/prepare (the run config's warm start, if it has one). A point whose
DIR/points/<point>/point.json exists is not run again.
"""
import argparse
import csv
import itertools
import json
import math
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

SRC = pathlib.Path(__file__).resolve().parent.parent
DIMENSIONS = ["actors", "judges", "workers", "ranks"]
CONFIG_KEY = {"actors": "actors.count", "judges": "judges.local_count", "workers": "judges.workers",
              "ranks": "learner.ranks"}


def log(message):
    print(f"scale: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Measuring one point.

def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def scrape(run_dir):
    """{role: [metrics of each process]} from the run's prometheus_targets.json."""
    targets = json.loads((run_dir / "prometheus_targets.json").read_text())
    out = {}
    for t in targets:
        role = t["labels"]["role"]
        for address in t["targets"]:
            try:
                with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
                    out.setdefault(role, []).append(parse_metrics(r.read().decode()))
            except OSError as e:
                raise RuntimeError(f"scraping {role} at {address}: {e}")
    return out


def total(scraped, role, name):
    return sum(v for m in scraped.get(role, []) for (n, _), v in m.items() if n == name)


def learner_steps(run_dir):
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def busy_core_seconds():
    """This machine's CPU time spent not idle, all cores (/proc/stat), in seconds."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure_window(run_dir, seconds, alive):
    before, t0, cpu0 = scrape(run_dir), time.time(), busy_core_seconds()
    while time.time() - t0 < seconds:
        if not alive():
            raise RuntimeError("the run ended inside the measurement window")
        time.sleep(0.5)
    after, t1, cpu1 = scrape(run_dir), time.time(), busy_core_seconds()
    window = t1 - t0

    def d(role, name):
        return total(after, role, name) - total(before, role, name)

    samples = d("actor", "crucible_actor_samples_total")
    programs = d("judge", "crucible_judge_executions_total")
    steps = d("learner", "crucible_learner_steps_total")
    publish_n = d("learner", "crucible_learner_publish_seconds_count")
    apply_n = d("actor", "crucible_actor_weight_apply_seconds_count")
    actors = max(1, len(after.get("actor", [])))
    return {
        "window_seconds": window,
        "samples": samples,
        "samples_per_second": samples / window,
        "programs_per_second": programs / window,
        "judge_executions_per_second": d("judge", "crucible_judge_executions_total") / window,
        "steps_per_second": steps / window,
        "trained_tokens_per_second": d("learner", "crucible_learner_trained_tokens_total") / window,
        "generated_tokens_per_second": d("actor", "crucible_actor_generated_tokens_total") / window,
        "learner_idle_fraction": d("learner", "crucible_learner_idle_seconds_total") / window,
        "actor_paused_fraction": d("actor", "crucible_actor_paused_for_staleness_seconds_total") / (window * actors),
        "publish_ms": 1000 * d("learner", "crucible_learner_publish_seconds_sum") / publish_n if publish_n else None,
        "apply_ms": 1000 * d("actor", "crucible_actor_weight_apply_seconds_sum") / apply_n if apply_n else None,
        # For the model: busy times over the same window.
        "generation_seconds": d("actor", "crucible_actor_generation_seconds_sum"),
        "judge_busy_seconds": d("judge", "crucible_judge_busy_seconds_total"),
        "programs": programs,
        "steps": steps,
        "step_seconds": d("learner", "crucible_learner_step_seconds_sum"),
        "busy_core_seconds": cpu1 - cpu0,  # this machine's: meaningful for --launcher local
    }


def point_name(p):
    return "-".join(f"{k[0]}{p[k]}" for k in DIMENSIONS)


def adapter_bytes(run_dir):
    sizes = [f.stat().st_size for f in run_dir.glob("checkpoints/step-*/adapter/adapter_model.safetensors")]
    return max(sizes) if sizes else None


def run_point(args, p, base_sets):
    pdir = args.out / "points" / point_name(p)
    done = pdir / "point.json"
    if done.exists():
        return json.loads(done.read_text())
    run_dir = pdir / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    pdir.mkdir(parents=True, exist_ok=True)
    sets = base_sets + [f"{CONFIG_KEY[k]}={p[k]}" for k in DIMENSIONS]
    set_args = [a for s in sets for a in ("--set", s)]
    logf = open(pdir / "run.log", "w")
    if args.launcher == "local":
        argv = [str(args.crucible), "run", f"--run-dir={run_dir}", *set_args]
        if args.config:
            argv.append(f"--config={args.config}")
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        alive = lambda: proc.poll() is None

        def stop():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    else:
        config = args.config or str(SRC / "deploy/configs/default.yaml")
        argv = ["sbatch", "--parsable", f"--job-name=crucible-scale-{point_name(p)}", f"--output={pdir}/slurm-%j.out",
                *args.sbatch.split(),
                str(SRC / "deploy/slurm/crucible.sbatch"), config, str(run_dir), *set_args]
        job = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip().split(";")[0]
        log(f"{point_name(p)}: Slurm job {job}")

        def alive():
            r = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True)
            # One line per component of a heterogeneous job.
            states = set(r.stdout.split())
            return bool(states & {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED"})

        def stop():
            subprocess.run(["scancel", "--signal=TERM", "--batch", job])
            for _ in range(240):
                if not alive():
                    return
                time.sleep(0.5)
            subprocess.run(["scancel", job])
    started = time.time()
    try:
        while learner_steps(run_dir) < args.warmup_steps:
            if not alive():
                raise RuntimeError(f"the run ended before {args.warmup_steps} learner steps; see {pdir}/run.log")
            if time.time() - started > args.start_timeout:
                raise RuntimeError(f"no {args.warmup_steps} learner steps in {args.start_timeout} s; see {pdir}/run.log")
            time.sleep(0.5)
        m = measure_window(run_dir, args.seconds, alive)
    finally:
        stop()
        logf.close()
    m.update(p)
    m["launcher"] = args.launcher
    m["units"] = p["actors"] + p["judges"] * p["workers"] + p["ranks"]
    m["adapter_bytes"] = adapter_bytes(run_dir)
    resolved = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").exists() else ""
    for key, name in (("batch_size", "learner"), ("max_staleness_steps", "learner"), ("threads", "actors")):
        mm = re.search(rf"^{name}:\n(?:(?:  .*|\s*)\n)*?  {key}: (\S+)", resolved, re.M)
        m[f"{name}.{key}"] = float(mm.group(1)) if mm else None
    done.write_text(json.dumps(m, indent=1) + "\n")
    log(f"{point_name(p)}: {m['samples_per_second']:.2f} samples/s, {m['steps_per_second']:.3f} steps/s, "
        f"learner idle {m['learner_idle_fraction']:.2f}")
    return m


# ---------------------------------------------------------------------------------------
# The model.

def calibrate(m0, cores):
    """Per-component costs from one measured point (the smallest)."""
    samples = max(m0["samples"], 1e-9)
    per_actor_busy = m0["generation_seconds"] / max(m0["actors"], 1)
    r_a = (samples / m0["actors"]) / per_actor_busy if per_actor_busy > 0 else float("inf")
    s_j = m0["judge_busy_seconds"] / m0["programs"] if m0["programs"] > 0 else 0.0
    # The learner's whole cycle per step while it is not waiting for data: the step itself
    # plus batching and publishing (its busy time over the window, per step).
    busy = m0["window_seconds"] * (1 - m0["learner_idle_fraction"])
    t_step = busy / m0["steps"] if m0["steps"] > 0 else float("inf")
    ranks = m0["ranks"]
    batch = m0.get("learner.batch_size") or samples / max(m0["steps"], 1e-9)
    # Core-seconds per sample of the whole loop: this machine's busy CPU over the window when
    # the run was local, else what each part kept busy.
    if m0.get("launcher") == "local":
        c = m0["busy_core_seconds"] / samples
    else:
        c = (m0["generation_seconds"] + m0["judge_busy_seconds"] + m0["step_seconds"] * ranks) / samples
    tokens = m0.get("generated_tokens_per_second", 0) * m0["window_seconds"]
    tok_s = tokens / m0["actors"] / per_actor_busy if per_actor_busy > 0 else None
    publish_s = (m0.get("publish_ms") or 0) / 1000
    return {"r_a": r_a, "tokens_per_second_per_actor": tok_s, "tokens_per_sample": tokens / samples,
            "publish_seconds": publish_s, "s_j": s_j, "t_step": t_step, "t_1": t_step * ranks, "batch": batch, "c": c,
            "V": m0.get("adapter_bytes") or 0, "staleness": m0.get("learner.max_staleness_steps") or 1,
            "cores": cores}


def capacities(k, actors, workers, ranks, bw_bytes, latency, cpu_cores=None, batch=None):
    batch = batch or k["batch"]
    t = k["t_1"] * batch / k["batch"] / ranks
    if ranks > 1:
        t += 2 * (ranks - 1) / ranks * k["V"] / bw_bytes + 2 * (ranks - 1) * latency
    caps = {
        "actors": actors * k["r_a"],
        "judges": workers / k["s_j"] if k["s_j"] > 0 else float("inf"),
        "learner": batch / t,
        "sync": batch * k["staleness"] / (actors * k["V"] / bw_bytes) if k["V"] else float("inf"),
    }
    if cpu_cores is not None:
        caps["cpu"] = cpu_cores / k["c"]
    return caps


def predict(k, actors, workers, ranks, bw_bytes, latency, cpu_cores=None, batch=None):
    caps = capacities(k, actors, workers, ranks, bw_bytes, latency, cpu_cores, batch)
    part = min(caps, key=caps.get)
    return caps[part], part, caps


def project(k, nodes, node_cores, bw_bytes, latency, batch):
    """The best split of N x node_cores cores into actors, judge workers and learner ranks."""
    total_cores = nodes * node_cores
    if total_cores < 3:
        # One of each, sharing the cores.
        x, part, _ = predict(k, 1, 1, 1, bw_bytes, latency, cpu_cores=total_cores, batch=batch)
        return (x, part, 1, 1, 1)
    best = None
    ranks = 1
    while ranks <= min(total_cores - 2, batch):
        rest = total_cores - ranks
        # Actors against judge workers: powers of two, and the balance a x r_a = w / s_j;
        # every core left goes to the judges.
        share = k["s_j"] * k["r_a"]
        a0 = max(1, round(rest / (1 + share)))
        candidates = {a0 - 1, a0, a0 + 1} | {2 ** i for i in range(int(math.log2(rest)) + 1)}
        for actors in candidates:
            workers = rest - actors
            if actors < 1 or workers < 1:
                continue
            x, part, _ = predict(k, actors, workers, ranks, bw_bytes, latency, batch=batch)
            if best is None or x > best[0] * 1.0000001:
                best = (x, part, actors, workers, ranks)
        ranks *= 2
    return best


# ---------------------------------------------------------------------------------------
# Output.

def fmt(v, digits=2):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def svg_chart(title, xlabel, ylabel, series, width=720, height=420, log_x=False):
    """Inline SVG: `series` = [(name, [(x, y)...])]."""
    pad_l, pad_r, pad_t, pad_b = 84, 170, 40, 50
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts if y is not None]
    if not xs or not ys:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"></svg>'
    fx = (lambda x: math.log2(x)) if log_x else (lambda x: x)
    x0, x1 = fx(min(xs)), fx(max(xs))
    if x1 == x0:
        x1 = x0 + 1
    y1 = max(ys) * 1.1 or 1
    px = lambda x: pad_l + (fx(x) - x0) / (x1 - x0) * (width - pad_l - pad_r)
    py = lambda y: height - pad_b - y / y1 * (height - pad_t - pad_b)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2 - pad_r / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
             f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - pad_r}" y2="{height - pad_b}" stroke="#333"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}" stroke="#333"/>',
             f'<text x="{(pad_l + width - pad_r) / 2}" y="{height - 12}" text-anchor="middle">{xlabel}</text>',
             f'<text x="14" y="{(pad_t + height - pad_b) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 14 {(pad_t + height - pad_b) / 2})">{ylabel}</text>']
    for i in range(5):
        y = y1 * i / 4
        parts.append(f'<line x1="{pad_l - 4}" y1="{py(y):.1f}" x2="{width - pad_r}" y2="{py(y):.1f}" stroke="#ddd"/>')
        label = f"{y:,.0f}" if y >= 100 else f"{y:.3g}"
        parts.append(f'<text x="{pad_l - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{label}</text>')
    for x in sorted(set(xs)):
        parts.append(f'<text x="{px(x):.1f}" y="{height - pad_b + 16}" text-anchor="middle">{x:g}</text>')
    for i, (name, pts) in enumerate(series):
        colour = colours[i % len(colours)]
        pts = [(x, y) for x, y in sorted(pts) if y is not None]
        # A line only through one point per x: several grid points of one size stay dots.
        if len(pts) > 1 and len({x for x, _ in pts}) == len(pts):
            d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            parts.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
        parts.append(f'<rect x="{width - pad_r + 12}" y="{pad_t + 18 * i}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{width - pad_r + 30}" y="{pad_t + 18 * i + 10}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_png(svg, png, width=720, height=420):
    """Renders the SVG with headless Chromium; False where there is none."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    svg_path = png.with_suffix(".svg")
    svg_path.write_text(svg)
    if browser is None:
        log(f"no Chromium: {svg_path} only")
        return False
    html = png.with_suffix(".html")
    html.write_text(f'<!doctype html><html><body style="margin:0">{svg}</body></html>')
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={png}", f"--window-size={width},{height}", f"file://{html}"],
                       capture_output=True, text=True, timeout=120)
    html.unlink()
    if r.returncode != 0 or not png.exists():
        log(f"Chromium did not render {png}: {r.stderr[-500:]}")
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--grid", nargs="*", default=["actors=1,2", "judges=1", "workers=1,2", "ranks=1,2"],
                    help="DIM=v1,v2,... for actors, judges, workers, ranks")
    ap.add_argument("--seconds", type=float, default=60, help="measurement window per point")
    ap.add_argument("--warmup-steps", type=int, default=2, help="learner steps before the window opens")
    ap.add_argument("--start-timeout", type=float, default=900)
    ap.add_argument("--launcher", choices=["local", "slurm"], default="local")
    ap.add_argument("--sbatch", default="", help="extra sbatch arguments (partitions, nodes) for --launcher slurm")
    ap.add_argument("--config", default="", help="the run YAML (default: the built-in default)")
    ap.add_argument("--set", action="append", default=[], dest="sets", help="key=value for every point")
    ap.add_argument("--crucible", type=pathlib.Path, default=SRC / "build/bin/crucible")
    ap.add_argument("--nodes", default="1,2,4,8,16,32,64,128,256,512")
    ap.add_argument("--node-cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--network-gbps", type=float, default=10.0)
    ap.add_argument("--network-latency-us", type=float, default=50.0)
    ap.add_argument("--projection-batch", type=int, default=512, help="samples per learner step, projected")
    args = ap.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)

    grid = {k: [1] for k in DIMENSIONS}
    for g in args.grid:
        k, _, values = g.partition("=")
        if k not in grid:
            ap.error(f"--grid {g}: expected one of {DIMENSIONS}")
        grid[k] = [int(v) for v in values.split(",") if v]
    points = [dict(zip(DIMENSIONS, combo)) for combo in itertools.product(*(grid[k] for k in DIMENSIONS))]
    points.sort(key=lambda p: (p["actors"] + p["judges"] * p["workers"] + p["ranks"], point_name(p)))
    # Long enough for the window: the run is stopped, not finished. Checkpoints give the sync
    # model the adapter's size.
    base_sets = ["run.steps=1000000", "eval.problems_file=", "learner.checkpoint_every_steps=1000000"] + args.sets
    # One model for every point: the run's prepare stage (model, warm start) once, here.
    prepared = args.out / "prepare"
    if not (prepared / "prepared").exists():
        log(f"preparing the model once: crucible run --stage=prepare ({prepared}/prepare.log)")
        prepared.mkdir(parents=True, exist_ok=True)
        argv = [str(args.crucible), "run", "--stage=prepare", f"--run-dir={prepared}",
                *[a for s in base_sets for a in ("--set", s)]]
        if args.config:
            argv.append(f"--config={args.config}")
        with open(prepared / "prepare.log", "w") as f:
            if subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT).returncode != 0:
                log(f"the prepare stage failed: see {prepared}/prepare.log")
                return 1
    model = json.loads((prepared / "prepared").read_text())["model"]
    base_sets += [f"model.path={model}", "warm_start.sft_steps=0"]
    log(f"{len(points)} points, {args.seconds:.0f} s each, {args.launcher}, model {model}")

    rows = []
    for p in points:
        try:
            rows.append(run_point(args, p, base_sets))
        except (RuntimeError, subprocess.CalledProcessError) as e:
            log(f"{point_name(p)}: FAILED: {e}")
            rows.append(dict(p, error=str(e)))
    ok = [r for r in rows if "error" not in r]
    if not ok:
        log("no point was measured")
        return 1
    base = ok[0]
    for r in ok:
        r["speedup"] = r["samples_per_second"] / base["samples_per_second"] if base["samples_per_second"] else None
        r["efficiency"] = r["speedup"] / (r["units"] / base["units"]) if r["speedup"] is not None else None

    # The model, calibrated on the smallest point; the check on every measured point.
    bw = args.network_gbps * 1e9 / 8
    latency = args.network_latency_us * 1e-6
    k = calibrate(base, args.node_cores)
    # The adapter's size is the same at every point: any point's last checkpoint gives it (a
    # Slurm point stopped by scancel may have been killed before writing one).
    k["V"] = max([r.get("adapter_bytes") or 0 for r in ok] + [k["V"]])
    # What one version's publish achieved here (loopback, one subscriber per actor).
    k["sync_bandwidth_measured"] = k["V"] * base["actors"] / k["publish_seconds"] if k["publish_seconds"] else None
    for r in ok:
        x, part, _ = predict(k, r["actors"], r["judges"] * r["workers"], r["ranks"], bw, latency,
                             cpu_cores=args.node_cores)
        r["predicted_samples_per_second"] = x
        r["predicted_bottleneck"] = part
        r["prediction_error"] = (x - r["samples_per_second"]) / r["samples_per_second"] if r["samples_per_second"] else None

    columns = ["actors", "judges", "workers", "ranks", "units", "samples_per_second", "judge_executions_per_second",
               "steps_per_second", "trained_tokens_per_second", "learner_idle_fraction", "actor_paused_fraction",
               "publish_ms", "apply_ms", "speedup", "efficiency", "predicted_samples_per_second",
               "predicted_bottleneck", "prediction_error"]
    with open(args.out / "scale.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns + ["error"])
        for r in rows:
            w.writerow([r.get(c, "") if r.get(c) is not None else "" for c in columns] + [r.get("error", "")])
    (args.out / "scale.json").write_text(json.dumps({"points": rows, "calibration": k, "args": {
        "seconds": args.seconds, "warmup_steps": args.warmup_steps, "launcher": args.launcher, "sets": args.sets,
        "node_cores": args.node_cores, "network_gbps": args.network_gbps,
        "network_latency_us": args.network_latency_us, "projection_batch": args.projection_batch}}, indent=1, default=str) + "\n")

    head = ["actors", "judges", "workers", "ranks", "samples/s", "judge execs/s", "steps/s", "trained tok/s",
            "learner idle", "actors paused", "publish ms", "apply ms", "efficiency", "model samples/s",
            "model bottleneck", "model error"]
    md = [f"# Scaling on this machine ({args.node_cores} cores), {args.seconds:.0f} s per point", "",
          "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if "error" in r:
            md.append("| " + " | ".join(str(r[d]) for d in DIMENSIONS) + " | failed: " +
                      r["error"].replace("|", "/")[:120] + " |" + " |" * (len(head) - 5))
            continue
        md.append("| " + " | ".join([str(r[d]) for d in DIMENSIONS] + [
            fmt(r["samples_per_second"]), fmt(r["judge_executions_per_second"]), fmt(r["steps_per_second"], 3),
            fmt(r["trained_tokens_per_second"], 0), fmt(r["learner_idle_fraction"]), fmt(r["actor_paused_fraction"]),
            fmt(r["publish_ms"], 1), fmt(r["apply_ms"], 1), fmt(r["efficiency"]),
            fmt(r["predicted_samples_per_second"]), r["predicted_bottleneck"],
            f"{100 * r['prediction_error']:+.0f}%" if r["prediction_error"] is not None else "n/a"]) + " |")
    md += ["", "Efficiency: (samples/s over the smallest point's) / (units over its units), units = actors + "
           "judges x workers + learner ranks. Model: calibrated on the first row only (model.md)."]
    (args.out / "scale.md").write_text("\n".join(md) + "\n")

    # The projection past one machine.
    proj = []
    for n in [int(v) for v in args.nodes.split(",") if v]:
        best = project(k, n, args.node_cores, bw, latency, args.projection_batch)
        if best:
            proj.append({"nodes": n, "samples_per_second": best[0], "bottleneck": best[1], "actors": best[2],
                         "judge_workers": best[3], "learner_ranks": best[4]})
    errors = [abs(r["prediction_error"]) for r in ok[1:] if r["prediction_error"] is not None]
    model = ["# The loop's calibrated model", "",
             f"Calibrated on the smallest point ({point_name(base)}), {args.seconds:.0f} s window:", "",
             "| cost | value |", "|---|---|",
             f"| r_a: samples per generation-second per actor | {k['r_a']:.3f} |",
             f"| generation tokens/s per actor (while generating) | {fmt(k['tokens_per_second_per_actor'], 0)} |",
             f"| tokens per sample | {k['tokens_per_sample']:.1f} |",
             f"| s_j: judge worker-seconds per program | {k['s_j'] * 1000:.1f} ms |",
             f"| t_1: learner busy seconds per step (step, batching, publishing), one rank | {k['t_1']:.3f} s |",
             f"| B: samples per step | {k['batch']:.0f} |",
             f"| c: core-seconds per sample, whole loop | {k['c']:.3f} |",
             f"| V: adapter bytes (sync and all-reduce) | {k['V']:,} |",
             f"| sync: publish time per version, measured bandwidth | {1000 * k['publish_seconds']:.1f} ms, "
             f"{fmt((k['sync_bandwidth_measured'] or 0) / 1e9, 2)} GB/s (loopback: not used for the projection) |", "",
             f"Check on this machine: the model predicts the other {len(ok) - 1} measured points with a mean "
             f"absolute error of {100 * sum(errors) / len(errors):.0f}% (max {100 * max(errors):.0f}%)." if errors else
             "Check on this machine: only one point was measured; nothing to check against.", "",
             f"Projection: nodes of {args.node_cores} cores, one process per core, network "
             f"{args.network_gbps:g} Gb/s and {args.network_latency_us:g} us (stated, not measured here), "
             f"{args.projection_batch} samples per learner step.", "",
             "| nodes | samples/s | bottleneck | actors | judge workers | learner ranks |", "|---|---|---|---|---|---|"]
    for p in proj:
        model.append(f"| {p['nodes']} | {p['samples_per_second']:.1f} | {p['bottleneck']} | {p['actors']} | "
                     f"{p['judge_workers']} | {p['learner_ranks']} |")
    (args.out / "model.md").write_text("\n".join(model) + "\n")
    data = json.loads((args.out / "scale.json").read_text())
    data["projection"] = proj
    (args.out / "scale.json").write_text(json.dumps(data, indent=1, default=str) + "\n")

    # Plots: throughput and efficiency against units, measured and modelled.
    write_png(svg_chart("Throughput", "units (actors + judge workers + learner ranks)", "samples/s", [
        ("measured", [(r["units"], r["samples_per_second"]) for r in ok]),
        ("model", [(r["units"], r["predicted_samples_per_second"]) for r in ok]),
        ("linear", sorted({(r["units"], base["samples_per_second"] * r["units"] / base["units"]) for r in ok}))]),
        args.out / "throughput.png")
    write_png(svg_chart("Scaling efficiency", "units (actors + judge workers + learner ranks)",
                        "efficiency (1 = linear)", [("measured", [(r["units"], r["efficiency"]) for r in ok]),
                                                    ("linear", sorted({(r["units"], 1.0) for r in ok}))]),
              args.out / "efficiency.png")
    write_png(svg_chart(f"Model: nodes of {args.node_cores} cores", "nodes", "samples/s",
                        [("projected", [(p["nodes"], p["samples_per_second"]) for p in proj])], log_x=True),
              args.out / "projection.png")
    print((args.out / "scale.md").read_text())
    print((args.out / "model.md").read_text())
    return 0 if len(ok) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
