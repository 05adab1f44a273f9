#!/usr/bin/env python3
"""The monitoring stack of deploy/ against the real thing.

    prometheus_grafana_test.py --crucible BUILD/bin/crucible --source REPO

Static: promtool check config (the three Prometheus configs), check rules, test rules
(deploy/prometheus/tests/alerts_test.yml); the dashboards are build_dashboards.py's output
and validate against @grafana/schema's Dashboard (deploy/grafana/schema/validate.mjs).

Live: Debian's prometheus on a loopback port, configured by deploy/prometheus/prometheus.yml
(the targets directory pointed at a temporary one, which the run writes to through
ports.prometheus_targets_dir; scrape, evaluation and file-discovery
intervals at 1 s so a short run yields enough points), scrapes a real `crucible run` (the
tiny model, 2 actors, 1 judge, 1 learner rank). While it runs every target must be up;
afterwards every query of every dashboard panel, with $run_id the run's id and
$__rate_interval 10s, must return data over the run's time range, the run_id variable's
label_values must list the run, and every recording and alerting rule must have evaluated
without error. Standard library only.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from deploy_util import FAILURES, fail, free_port, run, stop_process


def static_checks(src):
    prom = src / "deploy/prometheus"
    for config in ["prometheus.yml", "prometheus.static.yml", "prometheus.kubernetes.yml"]:
        code, out = run(["promtool", "check", "config", prom / config])
        if code != 0 and "field kubernetes_sd_configs not found" in out:
            # Debian builds Prometheus without Kubernetes discovery: check everything else
            # (the relabelling above all) with a static target in its place.
            text = (prom / config).read_text()
            sd = "    kubernetes_sd_configs:\n      - role: pod\n"
            if sd not in text:
                fail(f"{config}: expected {sd!r}")
                continue
            copy = prom / f".{config}.check.yml"
            copy.write_text(text.replace(sd, "    static_configs:\n      - targets: [\"pod:9400\"]\n"))
            try:
                code, out = run(["promtool", "check", "config", copy])
            finally:
                copy.unlink()
            print(f"{config}: this promtool has no kubernetes_sd; the rest checked with a static target",
                  flush=True)
        if code != 0:
            fail(f"promtool check config {config}:\n{out}")
    rules = sorted((prom / "rules").glob("*.yml"))
    code, out = run(["promtool", "check", "rules", *rules])
    if code != 0:
        fail(f"promtool check rules:\n{out}")
    code, out = run(["promtool", "test", "rules", "tests/alerts_test.yml"], cwd=prom)
    if code != 0:
        fail(f"promtool test rules:\n{out}")
    grafana = src / "deploy/grafana"
    code, out = run([sys.executable, grafana / "build_dashboards.py", "--check"])
    if code != 0:
        fail(f"dashboards are not build_dashboards.py's output:\n{out}")
    schema = grafana / "schema"
    if not (schema / "node_modules/@grafana/schema").exists():
        fail(f"{schema}/node_modules is missing: scripts/setup.sh installs it (npm ci)")
    else:
        dashboards = sorted((grafana / "dashboards").glob("*.json"))
        code, out = run(["node", "validate.mjs", *dashboards], cwd=schema)
        print(out.strip(), flush=True)
        if code != 0 or len(dashboards) != 4:
            fail(f"dashboards do not validate against @grafana/schema:\n{out}")


class Prometheus:
    def __init__(self, root, src):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        shutil.copytree(src / "deploy/prometheus/rules", root / "rules")
        text = (src / "deploy/prometheus/prometheus.yml").read_text()
        for old, new in [("/var/lib/crucible/prometheus-targets", str(root / "targets")), ("15s", "1s"), ("30s", "1s")]:
            if old not in text:
                raise SystemExit(f"deploy/prometheus/prometheus.yml no longer holds {old!r}: update this test")
            text = text.replace(old, new)
        (root / "prometheus.yml").write_text(text)
        self.log = open(root / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/-/ready", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.3)
        raise SystemExit("prometheus did not become ready:\n" + (root / "prometheus.log").read_text())

    def api(self, path, **params):
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params, doseq=True)}"
        with urllib.request.urlopen(url, timeout=30) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body}")
        return body["data"]

    def stop(self):
        stop_process(self.proc, self.log)


RUN_CONFIG = """run:
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
ports:
  prometheus_targets_dir: {targets}
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
  ranks: 1
  batch_size: 8
  checkpoint_every_steps: 0
  max_staleness_steps: 4
eval:
  problems_file: ""
supervisor:
  progress_interval_s: 5
"""


def dashboard_queries(src):
    """(dashboard, panel title, expr) of every target of every panel."""
    out = []
    for path in sorted((src / "deploy/grafana/dashboards").glob("*.json")):
        d = json.loads(path.read_text())
        for p in d["panels"]:
            for t in p.get("targets", []):
                out.append((d["uid"], p["title"], t["expr"]))
    return out


def live_checks(src, crucible, steps):
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="crucible-deploy-"))
    prom = None
    try:
        prom = Prometheus(tmp, src)
        run_dir = tmp / "runs" / "r1"
        (tmp / "run.yaml").write_text(RUN_CONFIG.format(steps=steps, src=src, targets=tmp / "targets"))
        start = time.time()
        log = open(tmp / "crucible-run.log", "w")
        proc = subprocess.Popen([str(crucible), "run", f"--run-dir={run_dir}", f"--config={tmp / 'run.yaml'}"],
                                stdout=log, stderr=subprocess.STDOUT)
        # While it runs: every process of the run is discovered and up.
        roles_up, seen_up = set(), False
        while proc.poll() is None:
            time.sleep(1)
            try:
                targets = prom.api("targets", state="active")["activeTargets"]
            except (OSError, RuntimeError):
                continue
            ours = [t for t in targets if t["labels"].get("job", "").startswith("crucible-")]
            up = [t for t in ours if t["health"] == "up"]
            if ours and len(up) == len(ours):
                roles_up |= {t["labels"]["role"] for t in up}
                seen_up = seen_up or len(up) >= 4  # 1 judge + 2 actors + 1 learner
            if time.time() - start > 600:
                proc.kill()
                fail("crucible run took more than 10 minutes")
        end = time.time()
        log.close()
        if proc.returncode != 0:
            fail(f"crucible run exited {proc.returncode}:\n{(tmp / 'crucible-run.log').read_text()[-3000:]}")
            return
        if not seen_up or roles_up != {"judge", "actor", "learner"}:
            fail(f"not every process was discovered and up at once (roles up: {sorted(roles_up)})")
        if list((tmp / "targets").glob("*.json")):
            fail("the run's discovery file outlived the run")
        time.sleep(3)  # the last scrapes and rule evaluations
        run_id = (run_dir / "run_id").read_text().strip()
        print(f"run {run_id}: {steps} steps in {end - start:.0f} s", flush=True)

        values = prom.api("label/run_id/values", **{"match[]": 'up{job=~"crucible-.*"}'})
        if run_id not in values:
            fail(f"the run_id variable's label_values lists {values}, not {run_id}")

        queries = dashboard_queries(src)
        empty = []
        for uid, title, expr in queries:
            q = expr.replace("$run_id", run_id).replace("$__rate_interval", "10s")
            try:
                result = prom.api("query_range", query=q, start=f"{start:.3f}", end=f"{time.time():.3f}", step="1")
            except (OSError, RuntimeError) as e:
                fail(f"{uid} / {title}: {q}: {e}")
                continue
            if not any(series.get("values") for series in result["result"]):
                empty.append(f"{uid} / {title}: {q}")
        for e in empty:
            fail(f"no data: {e}")
        print(f"{len(queries) - len(empty)} of {len(queries)} dashboard queries returned data", flush=True)

        groups = prom.api("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        bad = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
        if len(rules) < 18 or bad:
            fail(f"{len(rules)} rules loaded; not healthy: {bad}")
        print(f"{len(rules)} rules evaluated, all healthy" if not bad else "", flush=True)
    finally:
        if prom:
            prom.stop()
        if FAILURES:
            print(f"kept {tmp} for inspection", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--crucible", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    src = pathlib.Path(args.source).resolve()
    t0 = time.time()
    static_checks(src)
    live_checks(src, pathlib.Path(args.crucible).resolve(), args.steps)
    print(f"{'FAILED' if FAILURES else 'passed'} in {time.time() - t0:.0f} s", flush=True)
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
