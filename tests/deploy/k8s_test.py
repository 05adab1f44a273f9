#!/usr/bin/env python3
"""deploy/k8s against Kubernetes' schemas and against the binaries the pods run.

    k8s_test.py --crucible BUILD/bin/crucible --judge BUILD/bin/crucible-judge --source REPO

1. Render: where kubectl exists, `kubectl kustomize` of each overlay must equal the
   committed deploy/k8s/rendered/<overlay>.yaml (deploy/k8s/render.sh writes them); without
   kubectl the committed files are checked as they are.
2. Schemas: every rendered object validates with kubernetes-models and with the strict pass
   that refuses unknown fields (deploy/k8s/schema/validate.mjs); a copy with one misspelt
   field and one bad enum value must fail it.
3. Binaries: every container that runs crucible or crucible-judge uses a real subcommand and
   only flags that subcommand has (from its --help); every $(VAR) is defined in the
   container's env; every --set and the ConfigMap's run.yaml load with `crucible config show`.
4. Wiring: the counts and names the pods rely on agree: learner.ranks = the learner Job's
   completions = parallelism = WORLD_SIZE; actors.count = the actor Job's completions;
   MASTER_ADDR is rank 0's pod under the learner's headless Service; --learner is rank 0's
   trajectory port; judges.endpoints names the judges' headless Service and its port, which
   is the judges' --port; each --metrics-port is the container's "metrics" port; every pod's
   run directory is the prepare Job's, and reads the ConfigMap or the config.yaml that Job
   writes; the pods' run-id label is run.id; the gpu overlay gives learner and actors a GPU
   and the NCCL backend.
5. Live: the cpu-only overlay's pods run here as processes, each with its container's own
   command line and env (the downward-API index as RANK / ACTOR_INDEX), with only the
   cluster's names and paths mapped to this machine (/runs -> a temporary directory, Service
   names -> 127.0.0.1, fixed ports -> free ones) and a tiny run given to the prepare Job as
   --set: prepare writes `prepared`; the judges, both learner ranks (Gloo), both actors and the
   evaluate Job then run at once; the learner and actor pods exit 0, evaluate writes final/,
   eval.json with base and final, and a summary whose books balance.
Standard library only.
"""
import argparse
import json
import pathlib
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time

from deploy_util import FAILURES, fail, free_port, run, stop_process, tiny_run


def parse_config_show(text):
    """`crucible config show` output -> {"section.key": value} (values are JSON literals)."""
    out, section = {}, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"(\w+):", line)
        if m:
            section = m.group(1)
            continue
        m = re.fullmatch(r"  (\w+): (.*)", line)
        if m and section:
            out[f"{section}.{m.group(1)}"] = json.loads(m.group(2))
    return out


def crucible_flags(crucible, words, cache={}):
    key = tuple(words)
    if key not in cache:
        code, out = run([crucible, *words, "--help"])
        if code != 0:
            cache[key] = None
        else:
            cache[key] = {m.replace("-", "_") for m in re.findall(r"^  --([a-z0-9-]+) \(", out, re.M)}
    return cache[key]


def judge_flags(judge, cache={}):
    if "flags" not in cache:
        _, out = run([judge, "--helpfull"])
        cache["flags"] = set(re.findall(r"^    --(?:\[no\])?([a-z0-9_]+) \(", out, re.M))
    return cache["flags"]


def flag_value(args, name):
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def containers(obj):
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec, spec.get("containers", []) + spec.get("initContainers", [])


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_render(src, overlays):
    k8s = src / "deploy/k8s"
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl not found: checking the committed deploy/k8s/rendered/ as it is", flush=True)
        return
    for overlay in overlays:
        code, out = run([kubectl, "kustomize", k8s / "overlays" / overlay])
        if code != 0:
            fail(f"kubectl kustomize overlays/{overlay}:\n{out}")
            continue
        committed = (k8s / "rendered" / f"{overlay}.yaml").read_text()
        body = committed.split("\n", 1)[1] if committed.startswith("# Rendered") else committed
        if body != out:
            fail(f"deploy/k8s/rendered/{overlay}.yaml is not kubectl kustomize's output: run deploy/k8s/render.sh")
        else:
            print(f"overlays/{overlay}: kubectl kustomize matches rendered/{overlay}.yaml", flush=True)


def check_schemas(src, rendered, tmp):
    schema = src / "deploy/k8s/schema"
    if not (schema / "node_modules/kubernetes-models").exists():
        fail(f"{schema}/node_modules is missing: scripts/setup.sh installs it (npm ci)")
        return None
    objects_json = tmp / "objects.json"
    code, out = run(["node", "validate.mjs", "--json", objects_json, *rendered], cwd=schema)
    print(out.strip().splitlines()[-1] if out.strip() else "(no output)", flush=True)
    if code != 0:
        fail(f"the rendered manifests do not validate:\n{out}")
    # The validator must refuse what the API server would: a misspelt field, a bad enum.
    text = rendered[0].read_text()
    broken = text.replace("backoffLimit: 12", "backofLimit: 12", 1).replace("restartPolicy: OnFailure",
                                                                          "restartPolicy: Sometimes", 1)
    if broken == text:
        fail("the negative control found nothing to break")
    bad = tmp / "broken.yaml"
    bad.write_text(broken)
    code, out = run(["node", "validate.mjs", bad], cwd=schema)
    if code == 0 or '"backofLimit"' not in out or "restartPolicy" not in out:
        fail(f"a manifest with a misspelt field and a bad enum value validated:\n{out}")
    return json.loads(objects_json.read_text()) if objects_json.exists() else None


def check_overlay(name, objects, crucible, judge, tmp):
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    jobs = by_kind.get("Job", {})
    services = by_kind.get("Service", {})
    configmaps = list(by_kind.get("ConfigMap", {}).values())
    where = f"overlays/{name}"
    for job in ["crucible-prepare", "crucible-learner", "crucible-actor", "crucible-evaluate"]:
        if job not in jobs:
            fail(f"{where}: no Job {job}")
    if "crucible-judge" not in by_kind.get("Deployment", {}) or len(configmaps) != 1:
        fail(f"{where}: expected the judge Deployment and one ConfigMap")
        return
    run_yaml = tmp / f"{name}-run.yaml"
    run_yaml.write_text(configmaps[0]["data"]["run.yaml"])
    configmap_name = configmaps[0]["metadata"]["name"]

    # The prepare Job's --set and the ConfigMap make the config every later pod reads.
    prepare = jobs["crucible-prepare"]
    _, pc = containers(prepare)
    prepare_args = pc[0]["args"]
    sets = [a.split("=", 1)[1] for a in prepare_args if a.startswith("--set=")]
    code, out = run([crucible, "config", "show", "--config", run_yaml, *sum((["--set", s] for s in sets), [])])
    if code != 0:
        fail(f"{where}: the run config does not load:\n{out}")
        return
    config = parse_config_show(out)
    run_dir = flag_value(prepare_args, "run-dir")
    mounts = {m["name"]: m["mountPath"] for m in pc[0].get("volumeMounts", [])}
    volumes = {v["name"]: v for v in prepare["spec"]["template"]["spec"].get("volumes", [])}
    config_mount = next((mounts[n] for n, v in volumes.items() if v.get("configMap", {}).get("name") == configmap_name),
                        None)
    allowed_configs = {f"{config_mount}/run.yaml", f"{run_dir}/config.yaml"}

    # Every crucible / crucible-judge command line against the binaries.
    workloads = list(jobs.values()) + list(by_kind.get("Deployment", {}).values())
    for w in workloads:
        pod, cs = containers(w)
        label = w["spec"]["template"]["metadata"].get("labels", {}).get("crucible.dev/run-id")
        if label != config["run.id"]:
            fail(f"{where}: {w['metadata']['name']}: run-id label {label!r}, run.id {config['run.id']!r}")
        for c in cs:
            argv = c.get("command", []) + c.get("args", [])
            what = f"{where}: {w['metadata']['name']}/{c['name']}"
            env = env_of(c)
            for ref in re.findall(r"\$\((\w+)\)", " ".join(argv)):
                if ref not in env:
                    fail(f"{what}: $({ref}) is not in the container's env")
            if not argv or argv[0] not in ("crucible", "crucible-judge"):
                continue
            if argv[0] == "crucible":
                words = [a for a in argv[1:3] if not a.startswith("-")]
                words = words[:2] if words[:1] in (["model"], ["learner"], ["config"], ["data"]) and len(words) > 1 and \
                    crucible_flags(crucible, words[:2]) is not None else words[:1]
                known = crucible_flags(crucible, words)
                flags = [a for a in argv[1 + len(words):]]
            else:
                words = [argv[1]] if len(argv) > 1 else []
                known = judge_flags(judge) if words == ["serve"] else None
                flags = argv[2:]
            if known is None:
                fail(f"{what}: {' '.join(argv[:3])}: no such subcommand")
                continue
            for a in flags:
                m = re.fullmatch(r"--(?:no-?)?([a-z0-9_-]+)(=.*)?", a)
                if not m:
                    fail(f"{what}: {a!r} is not a --flag")
                elif m.group(1).replace("-", "_") not in known:
                    fail(f"{what}: {argv[0]} {' '.join(words)} has no flag --{m.group(1)}")
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            metrics = flag_value(flags, "metrics-port") or flag_value(flags, "metrics_port")
            if metrics is not None and ports.get("metrics") != int(metrics):
                fail(f"{what}: --metrics-port {metrics} but the metrics port is {ports.get('metrics')}")
            if argv[0] == "crucible":
                if flag_value(flags, "run-dir") != run_dir:
                    fail(f"{what}: --run-dir {flag_value(flags, 'run-dir')}, the prepare Job's is {run_dir}")
                if flag_value(flags, "config") not in allowed_configs:
                    fail(f"{what}: --config {flag_value(flags, 'config')} is neither of {sorted(allowed_configs)}")
                if w["metadata"]["name"] != "crucible-prepare" and any(a.startswith("--set") for a in flags):
                    fail(f"{what}: --set outside the prepare Job does not reach config.yaml")

    # The learner ranks.
    learner = jobs["crucible-learner"]
    ls, lcs = containers(learner)
    lc = next(c for c in lcs if c["name"] == "learner")
    lenv = {k: v.get("value") for k, v in env_of(lc).items()}
    ranks = config["learner.ranks"]
    spec = learner["spec"]
    if not (spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get("parallelism") == ranks
            and lenv.get("WORLD_SIZE") == str(ranks)):
        fail(f"{where}: learner.ranks {ranks}, Job completions {spec.get('completions')}, parallelism "
             f"{spec.get('parallelism')}, WORLD_SIZE {lenv.get('WORLD_SIZE')}, mode {spec.get('completionMode')}")
    rank_ref = env_of(lc).get("RANK", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
    if "job-completion-index" not in rank_ref:
        fail(f"{where}: RANK is not the completion index ({rank_ref!r})")
    subdomain = ls.get("subdomain")
    headless = services.get(subdomain or "")
    if headless is None or headless["spec"].get("clusterIP") != "None":
        fail(f"{where}: the learner's subdomain {subdomain!r} is no headless Service")
    elif headless["spec"]["selector"].get("app.kubernetes.io/component") != "learner":
        fail(f"{where}: Service {subdomain} does not select the learner pods")
    rank0 = f"{learner['metadata']['name']}-0.{subdomain}"
    if lenv.get("MASTER_ADDR") != rank0:
        fail(f"{where}: MASTER_ADDR {lenv.get('MASTER_ADDR')}, rank 0 is {rank0}")
    lports = {p["name"]: p["containerPort"] for p in lc.get("ports", [])}
    if lports.get("rendezvous") != int(lenv.get("MASTER_PORT", 0)):
        fail(f"{where}: MASTER_PORT {lenv.get('MASTER_PORT')} is not the rendezvous port {lports.get('rendezvous')}")
    learner_port = flag_value(lc["args"], "port")

    # The actors.
    actor = jobs["crucible-actor"]
    _, acs = containers(actor)
    ac = next(c for c in acs if c["name"] == "actor")
    aspec = actor["spec"]
    if not (aspec.get("completionMode") == "Indexed" and aspec.get("completions") == aspec.get("parallelism")
            == config["actors.count"]):
        fail(f"{where}: actors.count {config['actors.count']}, actor Job completions {aspec.get('completions')}")
    if flag_value(ac["args"], "learner") != f"{rank0}:{learner_port}":
        fail(f"{where}: --learner {flag_value(ac['args'], 'learner')}, rank 0 serves {rank0}:{learner_port}")
    index_ref = re.fullmatch(r"\$\((\w+)\)", flag_value(ac["args"], "index") or "")
    if not index_ref or "job-completion-index" not in \
            env_of(ac).get(index_ref.group(1), {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", ""):
        fail(f"{where}: the actor's --index is not its completion index")

    # The judges.
    jd = by_kind["Deployment"]["crucible-judge"]
    _, jcs = containers(jd)
    jport = int(flag_value(jcs[0]["args"], "port"))
    endpoints = config["judges.endpoints"]
    svc = services.get("crucible-judge")
    m = re.fullmatch(r"dns:///([^:]+):(\d+)", endpoints[0]) if len(endpoints) == 1 else None
    if not m or svc is None:
        fail(f"{where}: judges.endpoints {endpoints} should be dns:/// the judges' Service")
    else:
        sports = {p["port"] for p in svc["spec"]["ports"]}
        if m.group(1) != "crucible-judge" or int(m.group(2)) != jport or jport not in sports or \
                svc["spec"].get("clusterIP") != "None":
            fail(f"{where}: judges.endpoints {endpoints[0]}, judge --port {jport}, Service ports {sports}")
    if config["judges.local_count"] != 0:
        fail(f"{where}: judges.local_count should be 0 (the judges are the Deployment)")
    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get("crucible-judge")
    if hpa is None or hpa["spec"]["scaleTargetRef"]["name"] != "crucible-judge":
        fail(f"{where}: no HPA on the judges")
    pm = by_kind.get("PodMonitor", {}).get("crucible")
    if pm is None or pm["spec"]["podMetricsEndpoints"][0]["port"] != "metrics":
        fail(f"{where}: no PodMonitor on the metrics ports")

    if name == "gpu":
        for c, job in ((lc, "learner"), (ac, "actor")):
            if str(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")) != "1":
                fail(f"{where}: the {job} has no GPU limit")
        if config["learner.backend"] != "nccl" or config["model.device"] != "cuda":
            fail(f"{where}: learner.backend {config['learner.backend']}, model.device {config['model.device']}")
    print(f"{where}: {len(objects)} objects wired consistently ({ranks} learner ranks, "
          f"{config['actors.count']} actors, judges at {endpoints})", flush=True)


# The tiny run, plus what the pods' run needs: an end, checkpoints for evaluate, a small
# held-out eval, and the judge's loopback name.
LIVE_RUN = [
    "run.steps=6", "learner.checkpoint_every_steps=3", "eval.problems_file={heldout}", "eval.samples_per_problem=2",
    "eval.checkpoints=false", "judges.endpoints=[dns:///localhost:{judge_port}]", "judges.resolve_interval_s=1",
    "supervisor.drain_timeout_s=30",
]


class Pod:
    def __init__(self, name, argv, env, log):
        self.name = name
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        stop_process(self.proc, self.log)


def live_pods(objects, crucible, judge, src, tmp):
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    root = tmp / "cluster"
    runs = root / "runs"
    runs.mkdir(parents=True)
    configmap = next(o for o in objects if o["kind"] == "ConfigMap")
    etc = root / "etc-crucible"
    etc.mkdir()
    (etc / "run.yaml").write_text(configmap["data"]["run.yaml"])
    heldout = root / "heldout.jsonl"
    heldout.write_text("".join((src / "data/curriculum/heldout.jsonl").read_text().splitlines(True)[:4]))
    ports = {}  # the manifests' fixed ports -> free ones, per pod where each pod has its own
    judge_port, learner_port, master_port = free_port(), free_port(), free_port()

    def mapped(text, metrics_port):
        text = text.replace("/runs", str(runs)).replace("/etc/crucible", str(etc))
        text = text.replace("crucible-learner-0.crucible-learner", "127.0.0.1")
        text = re.sub(r"(--port=)7070\b", rf"\g<1>{judge_port}", text)
        text = re.sub(r"(--port=|:)7071\b", rf"\g<1>{learner_port}", text)
        text = re.sub(r"(--metrics[-_]port=)9400\b", rf"\g<1>{metrics_port}", text)
        return text.replace("--host=0.0.0.0", "--host=127.0.0.1")

    def start(kind, name, index, extra=()):
        obj = by_name[(kind, name)]
        c = obj["spec"]["template"]["spec"]["containers"][0]
        metrics = free_port()
        argv = [mapped(a, metrics) for a in c.get("command", []) + c.get("args", [])] + list(extra)
        env = dict(os.environ)
        pod = f"{name}-{index}"
        for e in c.get("env", []):
            if "value" in e:
                value = e["value"]
            else:
                path = e["valueFrom"]["fieldRef"]["fieldPath"]
                value = str(index) if "job-completion-index" in path else pod
            env[e["name"]] = value
        if "MASTER_ADDR" in env:
            env["MASTER_ADDR"], env["MASTER_PORT"] = "127.0.0.1", str(master_port)
        for k, v in list(env.items()):
            env[k] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), v)
        argv = [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a) for a in argv]
        argv[0] = {"crucible": str(crucible), "crucible-judge": str(judge)}[argv[0]]
        ports[pod] = metrics
        return Pod(pod, argv, env, root / f"{pod}.log")

    def tail(pod):
        return (root / f"{pod.name}.log").read_text()[-3000:]

    sets = [f"--set={s}" for s in tiny_run(src)]
    sets += [f"--set={s.format(heldout=heldout, judge_port=judge_port)}" for s in LIVE_RUN]
    t0 = time.time()
    prepare = start("Job", "crucible-prepare", 0, sets)
    code = prepare.wait(600)
    prepare.stop()
    run_dir = runs / "crucible"
    if code != 0 or not (run_dir / "prepared").exists():
        fail(f"live: prepare exited {code}:\n{tail(prepare)}")
        return
    print(f"live: prepare done in {time.time() - t0:.0f} s", flush=True)
    pods = []
    try:
        judge_pod = start("Deployment", "crucible-judge", 0, ["--workers=2"])
        pods.append(judge_pod)
        learner = by_name[("Job", "crucible-learner")]
        actor = by_name[("Job", "crucible-actor")]
        learners = [start("Job", "crucible-learner", r) for r in range(learner["spec"]["completions"])]
        actors = [start("Job", "crucible-actor", i) for i in range(actor["spec"]["completions"])]
        evaluate = start("Job", "crucible-evaluate", 0)
        pods += learners + actors + [evaluate]
        for p in learners + actors + [evaluate]:
            code = p.wait(600)
            if code != 0:
                fail(f"live: {p.name} exited {code}:\n{tail(p)}")
                return
        print(f"live: the loop and evaluate done in {time.time() - t0:.0f} s", flush=True)
    finally:
        for p in pods:
            p.stop()
    summary = json.loads((run_dir / "summary.json").read_text())
    evaluation = json.loads((run_dir / "eval.json").read_text())
    steps = [json.loads(l)["step"] for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    if steps != list(range(1, 7)):
        fail(f"live: metrics.jsonl steps {steps}")
    if not summary.get("balanced") or summary.get("steps") != 6 or summary.get("exit_code") != 0:
        fail(f"live: summary {summary}")
    for k in ("base", "final"):
        if not isinstance(evaluation.get(k, {}).get("pass@1"), (int, float)):
            fail(f"live: eval.json has no {k} pass@1: {evaluation}")
    if not (run_dir / "final/adapter_model.safetensors").exists():
        fail("live: no final/ adapter")
    print(f"live: steps 1..6, books balanced ({summary['books']}), held-out pass@1 base "
          f"{evaluation['base']['pass@1']} final {evaluation['final']['pass@1']}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", required=True)
    ap.add_argument("--judge", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    src = pathlib.Path(a.source).resolve()
    overlays = sorted(p.name for p in (src / "deploy/k8s/overlays").iterdir() if p.is_dir())
    rendered = [src / "deploy/k8s/rendered" / f"{o}.yaml" for o in overlays]
    for r in rendered:
        if not r.exists():
            fail(f"{r} is missing: run deploy/k8s/render.sh")
    if FAILURES:
        return 1
    check_render(src, overlays)
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        parsed = check_schemas(src, rendered, tmp)
        if parsed is not None:
            for overlay, file in zip(overlays, rendered):
                check_overlay(overlay, parsed[str(file)], a.crucible, a.judge, tmp)
            if not FAILURES and "cpu-only" in overlays:
                live_pods(parsed[str(rendered[overlays.index("cpu-only")])], pathlib.Path(a.crucible).resolve(),
                          pathlib.Path(a.judge).resolve(), src, tmp)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("deploy/k8s: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
