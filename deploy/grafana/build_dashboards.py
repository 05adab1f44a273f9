#!/usr/bin/env python3
"""Writes crucible's Grafana dashboards (deploy/grafana/dashboards/*.json) from one place.

    deploy/grafana/build_dashboards.py [--out DIR] [--check]

Four dashboards, each with a `datasource` variable (any Prometheus; no datasource uid is
written into the files) and a `run_id` variable (label_values of the run_id label that
`crucible run` puts on every target):

  crucible-overview    the run at a glance: progress, reward, throughput, processes up
  crucible-training    reward (mean, by verdict), pass rate, KL, loss terms, entropy, clip
                       fraction, importance weights, policy versions and staleness
  crucible-throughput  samples/s, tokens/s, judge executions/s, trained tokens/s, idle
                       fractions of learner and actors, per-rank learner time (step,
                       batch wait, checkpoints), weight-sync latency
  crucible-judges      queue depth, latency percentiles, verdict mix, sandbox errors,
                       per-endpoint load

Heavy queries read the recording rules of deploy/prometheus/rules/recording.yml. The JSON is
Grafana's dashboard model (schemaVersion 42); tests/deploy/prometheus_grafana_test.py checks
it against @grafana/schema, checks that the files are this script's output (--check), and
runs every query against a Prometheus scraping a real run. Standard library only.
"""
import argparse
import json
import pathlib
import sys

SCHEMA_VERSION = 42
DS = {"type": "prometheus", "uid": "${datasource}"}
RUN = 'run_id="$run_id"'
RATE = "$__rate_interval"


def target(expr, legend="", ref="A"):
    t = {"datasource": DS, "expr": expr, "refId": ref}
    if legend:
        t["legendFormat"] = legend
    return t


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.x = self.y = self.row_h = 0
        self.next_id = 1

    def place(self, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def new_row(self):
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0

    def id(self):
        self.next_id += 1
        return self.next_id - 1


def panel(layout, kind, title, targets, unit=None, description="", w=12, h=8, stack=False,
          minimum=None, maximum=None):
    refs = "ABCDEFGHIJ"
    defaults = {}
    if unit:
        defaults["unit"] = unit
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if kind == "timeseries":
        defaults["custom"] = {"lineWidth": 1, "fillOpacity": 10 if stack else 0, "showPoints": "never",
                              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
        options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "none"}}
    else:  # stat
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                   "orientation": "auto", "textMode": "auto"}
    p = {"id": layout.id(), "type": kind, "title": title, "datasource": DS,
         "gridPos": layout.place(w, h),
         "targets": [dict(t, refId=refs[i]) for i, t in enumerate(targets)],
         "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options}
    if description:
        p["description"] = description
    return p


def row(layout, title):
    layout.new_row()
    return {"id": layout.id(), "type": "row", "title": title, "collapsed": False,
            "gridPos": layout.place(24, 1), "panels": []}


def variables():
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "refresh": 1, "hide": 0, "includeAll": False, "multi": False, "options": []},
        {"name": "run_id", "label": "Run", "type": "query", "datasource": DS,
         "query": {"qryType": 1, "query": 'label_values(up{job=~"crucible-.*"}, run_id)', "refId": "run_id"},
         "refresh": 2, "hide": 0, "includeAll": False, "multi": False, "sort": 2, "options": []},
    ]}


def dashboard(uid, title, description, panels):
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["crucible"], "editable": True, "graphTooltip": 1, "timezone": "browser",
        "refresh": "30s", "schemaVersion": SCHEMA_VERSION, "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m"]},
        "templating": variables(),
        "annotations": {"list": []},
        "links": [{"title": "crucible", "type": "dashboards", "tags": ["crucible"], "asDropdown": True,
                   "includeVars": True, "keepTime": True, "icon": "external link", "tooltip": "",
                   "url": "", "targetBlank": False}],
        "panels": panels,
    }


def loss_term(term):
    return f'crucible_learner_loss{{{RUN},term="{term}"}}'


def training():
    L = Layout()
    return dashboard("crucible-training", "crucible / training",
                     "What the learner trains on and how the policy moves: rewards, pass rate, KL, "
                     "PPO's diagnostics, policy versions and staleness.", [
        row(L, "Reward"),
        panel(L, "timeseries", "Reward mean (last batch)", [
            target(f"crucible_learner_reward_mean{{{RUN}}}", "verdict reward"),
            target(f"crucible_learner_reward_model_mean{{{RUN}}}", "reward model score")],
            description="Mean verdict reward of each trained batch; with learner.reward_model also "
                        "the reward model's mean score (the reward PPO trains on)."),
        panel(L, "timeseries", "Trained trajectories by verdict", [
            target(f"sum by (verdict) (rate(crucible_learner_verdicts_total{{{RUN}}}[{RATE}]))",
                   "{{verdict}}")], unit="short", stack=True,
            description="Trajectories per second entering training, by the judge's verdict."),
        panel(L, "timeseries", "Pass rate (last batch)", [
            target(f"crucible_learner_pass_rate{{{RUN}}}", "pass rate")],
            unit="percentunit", minimum=0, maximum=1),
        panel(L, "timeseries", "Reward distribution", [
            target(f"histogram_quantile(0.5, sum by (le) (rate(crucible_learner_reward_bucket{{{RUN}}}[{RATE}])))",
                   "p50"),
            target(f"histogram_quantile(0.9, sum by (le) (rate(crucible_learner_reward_bucket{{{RUN}}}[{RATE}])))",
                   "p90")]),
        row(L, "Policy update"),
        panel(L, "timeseries", "KL to the reference", [
            target(loss_term("kl"), "kl (per token)"),
            target(loss_term("approx_kl"), "approx kl (to the behaviour policy)"),
            target(loss_term("kl_coef"), "kl coefficient")], w=8),
        panel(L, "timeseries", "Loss terms", [
            target(f'crucible_learner_loss{{{RUN},term=~"loss|policy|value|ce|rl|nll"}}', "{{term}}")], w=8),
        panel(L, "timeseries", "Entropy", [target(loss_term("entropy"), "entropy")], w=8,
              description="Mean per-token entropy of the policy on the trained samples."),
        panel(L, "timeseries", "Clip fraction", [target(loss_term("clip_fraction"), "clipped")],
              unit="percentunit", w=8),
        panel(L, "timeseries", "Importance weights", [
            target(loss_term("iw_mean"), "mean"), target(loss_term("iw_max"), "max"),
            target(loss_term("iw_truncated_fraction"), "truncated fraction")], w=8,
            description="pi / mu of the decoupled PPO objective: how far behaviour and trained "
                        "policies are apart."),
        panel(L, "timeseries", "Gradient steps per second", [
            target(f"run_id:crucible_learner_steps:rate1m{{{RUN}}}", "steps/s")], w=8),
        row(L, "Versions and staleness"),
        panel(L, "timeseries", "Policy version", [
            target(f"crucible_learner_policy_version{{{RUN}}}", "learner (published)"),
            target(f"crucible_actor_policy_version{{{RUN}}}", "actor {{index}}")]),
        panel(L, "timeseries", "Staleness of trained trajectories (versions)", [
            target(f"histogram_quantile(0.5, sum by (le) (rate(crucible_learner_staleness_versions_bucket{{{RUN}}}[{RATE}])))",
                   "p50"),
            target(f"histogram_quantile(0.99, sum by (le) (rate(crucible_learner_staleness_versions_bucket{{{RUN}}}[{RATE}])))",
                   "p99")],
            description="Trained version minus the version of a trajectory's first token; bounded by "
                        "learner.max_staleness_steps."),
    ])


def by_rank(counter):
    """A learner rank counter's rate, one series per rank."""
    return [target(f"sum by (rank) (rate({counter}{{{RUN}}}[{RATE}]))", "rank {{rank}}")]


def throughput():
    L = Layout()
    return dashboard("crucible-throughput", "crucible / throughput",
                     "Where the loop's time goes: sampling, judging, training, waiting, weight sync.", [
        row(L, "Rates"),
        panel(L, "timeseries", "Samples per second", [
            target(f"run_id:crucible_actor_samples:rate1m{{{RUN}}}", "all actors"),
            target(f"sum by (index) (rate(crucible_actor_samples_total{{{RUN}}}[{RATE}]))", "actor {{index}}")],
            unit="short", w=8),
        panel(L, "timeseries", "Generated tokens per second", [
            target(f"run_id:crucible_actor_generated_tokens:rate1m{{{RUN}}}", "all actors")], unit="short", w=8),
        panel(L, "timeseries", "Judge executions per second", [
            target(f"run_id:crucible_judge_executions:rate1m{{{RUN}}}", "all judges")], unit="short", w=8),
        panel(L, "timeseries", "Trained tokens per second", [
            target(f"run_id:crucible_learner_trained_tokens:rate1m{{{RUN}}}", "learner")], unit="short", w=8),
        panel(L, "timeseries", "Learner steps per second", [
            target(f"run_id:crucible_learner_steps:rate1m{{{RUN}}}", "steps/s")], w=8),
        panel(L, "timeseries", "Trajectory books", [
            target(f"crucible_learner_trajectories{{{RUN}}}", "{{entry}}")], unit="short", w=8,
            description="produced = trained + dropped (stale, incomplete) + queued."),
        row(L, "Waiting"),
        panel(L, "timeseries", "Idle fractions", [
            target(f"run_id:crucible_learner_idle:ratio_rate1m{{{RUN}}}", "learner waiting for batches"),
            target(f"run_id:crucible_actor_paused:ratio_rate1m{{{RUN}}}", "actors paused (staleness bound)")],
            unit="percentunit", minimum=0, maximum=1),
        panel(L, "timeseries", "Queues", [
            target(f"crucible_learner_trajectory_queue_depth{{{RUN}}}", "learner trajectory queue"),
            target(f"sum(crucible_actor_inflight_samples{{{RUN}}})", "samples in flight at the judges"),
            target(f"sum(crucible_actor_outbox_pending{{{RUN}}})", "actor outboxes")], unit="short"),
        row(L, "Learner ranks"),
        panel(L, "timeseries", "Step time by rank (p95)", [
            target(f"histogram_quantile(0.95, sum by (rank, le) (rate(crucible_learner_rank_step_seconds_bucket{{{RUN}}}[{RATE}])))",
                   "rank {{rank}}")], unit="s", w=8,
            description="Forward, backward, gradient all-reduce and optimizer on each rank; a slow rank holds "
                        "every other one at the all-reduce."),
        panel(L, "timeseries", "Batch wait by rank", by_rank("crucible_learner_rank_batch_wait_seconds_total"),
              unit="percentunit", minimum=0, maximum=1, w=8,
            description="Share of time in the broadcasts that bring the next batch from rank 0, its wait for "
                        "trajectories included."),
        panel(L, "timeseries", "Checkpoint time by rank", by_rank("crucible_learner_rank_checkpoint_seconds_total"),
              unit="percentunit", minimum=0, maximum=1, w=8,
            description="Share of time in checkpoints: rank 0 writes them, the others wait for it."),
        panel(L, "timeseries", "Trajectories per second by rank", by_rank("crucible_learner_rank_examples_total"),
              unit="short", w=12,
            description="Trajectories of the global batches each rank received; each trains on its shard."),
        panel(L, "timeseries", "Steps per second by rank", by_rank("crucible_learner_rank_steps_total"),
              w=12,
            description="Every rank takes part in every step: the lines coincide unless a rank restarted."),
        row(L, "Latency"),
        panel(L, "timeseries", "Weight sync latency (p95)", [
            target(f"run_id:crucible_learner_publish_seconds:p95_1m{{{RUN}}}", "publish to last subscriber byte"),
            target(f"run_id:crucible_actor_weight_apply_seconds:p95_1m{{{RUN}}}", "actor applies a version")],
            unit="s"),
        panel(L, "timeseries", "Batch times (p95)", [
            target(f"histogram_quantile(0.95, sum by (le) (rate(crucible_actor_generation_seconds_bucket{{{RUN}}}[{RATE}])))",
                   "actor: sample a batch"),
            target(f"histogram_quantile(0.95, sum by (le) (rate(crucible_learner_step_seconds_bucket{{{RUN}}}[{RATE}])))",
                   "learner: one step"),
            target(f"histogram_quantile(0.95, sum by (le) (rate(crucible_actor_judge_latency_seconds_bucket{{{RUN}}}[{RATE}])))",
                   "actor: program to verdict")], unit="s"),
    ])


def judges():
    L = Layout()
    return dashboard("crucible-judges", "crucible / judges",
                     "The judge pool: load, latency, verdicts and sandbox health per endpoint.", [
        row(L, "Load"),
        panel(L, "timeseries", "Queue depth", [
            target(f"crucible_judge_queue_depth{{{RUN}}}", "{{instance}}")], unit="short", w=8),
        panel(L, "timeseries", "Busy workers", [
            target(f"crucible_judge_running{{{RUN}}}", "running {{instance}}"),
            target(f"crucible_judge_workers{{{RUN}}}", "workers {{instance}}")], unit="short", w=8),
        panel(L, "timeseries", "Executions per endpoint", [
            target(f"sum by (instance) (rate(crucible_judge_executions_total{{{RUN}}}[{RATE}]))", "{{instance}}")],
            unit="short", w=8, stack=True),
        row(L, "Latency"),
        panel(L, "timeseries", "Request latency", [
            target(f"run_id:crucible_judge_request_latency_seconds:p50_1m{{{RUN}}}", "p50"),
            target(f"run_id:crucible_judge_request_latency_seconds:p95_1m{{{RUN}}}", "p95"),
            target(f"run_id:crucible_judge_request_latency_seconds:p99_1m{{{RUN}}}", "p99")], unit="s",
            description="Arrival to verdict, queueing included."),
        panel(L, "timeseries", "One sandboxed test run (p95)", [
            target(f"histogram_quantile(0.95, sum by (le, instance) (rate(crucible_judge_test_run_seconds_bucket{{{RUN}}}[{RATE}])))",
                   "{{instance}}")], unit="s"),
        row(L, "Verdicts and errors"),
        panel(L, "timeseries", "Verdict mix (5m)", [
            target(f"run_id_verdict:crucible_judge_executions:ratio_rate5m{{{RUN}}}", "{{verdict}}")],
            unit="percentunit", stack=True, minimum=0, maximum=1),
        panel(L, "timeseries", "Sandbox errors and failed requests", [
            target(f"sum by (instance) (rate(crucible_judge_sandbox_errors_total{{{RUN}}}[{RATE}]))",
                   "SE {{instance}}"),
            target(f'sum by (status) (rate(crucible_judge_requests_total{{{RUN}}}[{RATE}]))', "requests {{status}}")],
            unit="short"),
    ])


def overview():
    L = Layout()
    return dashboard("crucible-overview", "crucible / overview",
                     "One run at a glance; the other crucible dashboards are in the links.", [
        panel(L, "stat", "Learner steps", [target(f"sum(crucible_learner_steps_total{{{RUN}}})")], w=4, h=4),
        panel(L, "stat", "Policy version", [target(f"max(crucible_learner_policy_version{{{RUN}}})")], w=4, h=4),
        panel(L, "stat", "Pass rate", [target(f"crucible_learner_pass_rate{{{RUN}}}")], unit="percentunit",
              w=4, h=4),
        panel(L, "stat", "Samples/s", [target(f"run_id:crucible_actor_samples:rate1m{{{RUN}}}")], w=4, h=4),
        panel(L, "stat", "Learner idle", [target(f"run_id:crucible_learner_idle:ratio_rate1m{{{RUN}}}")],
              unit="percentunit", w=4, h=4),
        panel(L, "stat", "Processes up", [
            target(f"count by (role) (up{{{RUN}}} == 1)", "{{role}}")], w=4, h=4),
        panel(L, "timeseries", "Reward mean and pass rate", [
            target(f"crucible_learner_reward_mean{{{RUN}}}", "reward mean"),
            target(f"crucible_learner_pass_rate{{{RUN}}}", "pass rate")]),
        panel(L, "timeseries", "Throughput", [
            target(f"run_id:crucible_actor_samples:rate1m{{{RUN}}}", "samples/s"),
            target(f"run_id:crucible_judge_executions:rate1m{{{RUN}}}", "judge executions/s")], unit="short"),
        panel(L, "timeseries", "Firing alerts", [
            target(f'sum by (alertname) (ALERTS{{alertstate="firing",{RUN}}}) or vector(0)', "{{alertname}}")],
            unit="short", w=24, h=6,
            description="The alerts of deploy/prometheus/rules/alerts.yml firing for this run (0: none)."),
    ])


DASHBOARDS = {"overview": overview, "training": training, "throughput": throughput, "judges": judges}


def render(name):
    return json.dumps(DASHBOARDS[name](), indent=2) + "\n"


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent / "dashboards"))
    p.add_argument("--check", action="store_true", help="fail if the files differ from this script's output")
    args = p.parse_args(argv)
    out = pathlib.Path(args.out)
    stale = []
    for name in DASHBOARDS:
        path = out / f"crucible-{name}.json"
        text = render(name)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        sys.exit("stale dashboards (run deploy/grafana/build_dashboards.py): " + ", ".join(stale))


if __name__ == "__main__":
    main(sys.argv[1:])
