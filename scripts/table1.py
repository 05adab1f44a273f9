#!/usr/bin/env python3
"""IotaCode "Table 1": every method from one warm start, with one sampling budget.

    scripts/table1.py --out DIR [--budget-minutes 10] [--seeds 3]
        [--methods sft,dpo,orpo,rest,ppo,ppo_rm,grpo,coderl] [--crucible build/bin/crucible]
        [--eval-n 10] [--set key=value ...] [--lr METHOD=LR ...]

Design, in the order the pieces run (each lands in DIR and is reused when present):

1. Warm start, once: `crucible run --run-dir DIR/warm --steps 1` with the run config.
   DIR/warm/base/ is the full-parameter warm-started model every method starts from
   (`--set model.path=DIR/warm/base --set warm_start.sft_steps=0`), DIR/warm/heldout.jsonl the
   held-out split, DIR/warm/eval.json "base" the base's numbers at the warm run's seed.
2. The budget, measured: a calibration run of the default RL config (DIR/calibrate,
   --calibration-steps learner steps, no evaluation) gives steps/second = steps / rl_seconds
   from its summary.json; every RL method then runs S = budget * rate learner steps
   (--rl-steps S skips the calibration). Its resolved config.yaml gives learner.batch_size B:
   the budget is S * B judged samples (DIR/budget.json).
3. The offline methods get judged samples of the same count, drawn once from the base:
   `crucible eval` on a seeded subset of ceil(S * B / 8) training problems, 8 samples each, at
   the actors' sampling settings (temperature, top-p 1, max_new_tokens, prompt template) into
   DIR/samples. From them (DIR/data/): DPO/ORPO pairs (per problem, a passing program over a
   failing one, cycling through both lists so every sample is used; --pairs reference-fill also
   lets the reference solution be "chosen" where no sample passed), critic trajectories (the
   verdict as outcome, plus the sampled problems' references as `reference: true`), RM
   Bradley-Terry pairs (per problem, every sample over each with a lower reward), and SFT
   examples (every training problem's reference). Prompts are built as actors/prompt.cc
   builds them, from the resolved actors.prompt_template. Completions are the program plus
   the end-of-sequence token, as the warm start writes them: as text ending in the eos token's
   text for a tokenizer.json model, as `*_tokens` byte ids + 257 for the byte tokenizer (whose
   eos has no text).
4. Methods, one run per seed (`--set run.seed=s`, `--seed s`), S optimizer steps of batch B,
   learner.lr and the LoRA shape of the run config:
     sft     learner offline --algo sft on the references (LoRA from the base: "more SFT")
     dpo     learner offline --algo dpo on the pairs
     orpo    learner offline --algo orpo on the pairs
     rest    crucible run, learner.algorithm=rest
     ppo     crucible run, learner.algorithm=ppo, advantage rloo
     grpo    crucible run, learner.algorithm=ppo, advantage grpo
     coderl  learner offline --algo critic on the critic data (S steps), then crucible run,
             learner.algorithm=coderl, learner.critic=<that checkpoint>, actors.greedy_baseline
     ppo_rm  learner offline --algo rm on the RM pairs (S steps: a Bradley-Terry reward model,
             LoRA + reward head on the base, as IotaCode), then crucible run,
             learner.algorithm=ppo, advantage rloo, learner.reward_model=<that checkpoint>:
             the reward model's score is the reward; the judge's verdicts only measure
5. Evaluation, uniform by construction: every number comes from `crucible eval` of
   DIR/warm/base (+ the method's adapter) on DIR/warm/heldout.jsonl, --n eval-n, --k 1,5
   (1 when eval-n < 5), temperature 0.8, the run config's max_new_tokens, prompt template and
   language, --seed s. For RL runs that eval is the one `crucible run` itself makes of final/
   (eval.json "final": the same command, forced by --set eval.samples_per_problem,
   eval.temperature; eval.checkpoints=false skips the intermediate checkpoints); it is re-run
   here only if that eval.json says other settings were used. The base row is the same eval
   without an adapter, per seed.
6. Output: DIR/table1.md (mean +- sd over seeds; the rule for "beyond the seed spread" is in
   its footer), DIR/table1.json (every raw number), DIR/curves.html (inline SVG, reward_mean
   over steps, moving average, first seed of each RL method).

Robustness: every command is printed with its log (DIR/logs/); a failed method is recorded
with its log and the others go on; a method/seed whose DIR/methods/<m>/seed-<s>/result.json
exists is not run again, and finished runs, checkpoints and evals underneath are reused.
Standard library only.
"""
import argparse
import html
import json
import math
import os
import pathlib
import random
import shlex
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
ALL_METHODS = ["sft", "dpo", "orpo", "rest", "ppo", "ppo_rm", "grpo", "coderl"]
OFFLINE_ALGO = {"sft": "sft", "dpo": "dpo", "orpo": "orpo"}
RL_SETS = {
    "rest": ["learner.algorithm=rest"],
    "ppo": ["learner.algorithm=ppo", "learner.advantage=rloo"],
    "ppo_rm": ["learner.algorithm=ppo", "learner.advantage=rloo"],
    "grpo": ["learner.algorithm=ppo", "learner.advantage=grpo"],
    "coderl": ["learner.algorithm=coderl", "actors.greedy_baseline=true"],
}
# Methods trained on the judged samples drawn once from the base (step 3).
SAMPLE_METHODS = {"dpo", "orpo", "coderl", "ppo_rm"}
EVAL_TEMPERATURE = 0.8
SAMPLES_PER_PROBLEM = 8  # offline data: samples drawn per training problem
BYTE_EOS = 257  # common/tokenizer.h ByteTokenizer::kEos
SMOOTH_WINDOW = 5
METRICS = ["pass@1", "pass@5", "compile_rate"]


class StepFailed(Exception):
    def __init__(self, message, log=None):
        super().__init__(message)
        self.log = log


# ---- small helpers ----------------------------------------------------------------------


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


def write_jsonl(path, rows):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def parse_scalar(text):
    try:
        return json.loads(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def read_run_config(path):
    """The resolved config.yaml of a run (two levels, JSON-compatible values) as {"a.b": v}."""
    config, section = {}, None
    for line in pathlib.Path(path).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line.startswith(" "):
            section = stripped.rstrip(":")
            continue
        key, _, value = stripped.partition(":")
        config[f"{section}.{key}"] = parse_scalar(value.strip())
    return config


def expand_prompt(template, problem, language):
    """actors/prompt.cc's Expand: {name} placeholders, {{ and }} for braces."""
    tests = problem.get("public_tests") or []
    values = {
        "statement": problem.get("statement", ""),
        "example_input": tests[0].get("input", "") if tests else "",
        "example_output": tests[0].get("output", "") if tests else "",
        "starter_code": problem.get("starter_code", ""),
        "id": problem.get("id", ""),
        "language": language,
    }
    out, i = [], 0
    while i < len(template):
        two = template[i:i + 2]
        if two in ("{{", "}}"):
            out.append(two[0])
            i += 2
        elif template[i] == "{":
            end = template.index("}", i)
            out.append(values[template[i + 1:end]])
            i = end + 1
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


def completion_encoder(model_dir):
    """field, text -> the JSON fields of text + end-of-sequence, for the model's tokenizer."""
    model_dir = pathlib.Path(model_dir)
    if not (model_dir / "tokenizer.json").exists():
        return lambda field, text: {field + "_tokens": list(text.encode("utf-8")) + [BYTE_EOS]}
    eos_id = read_json(model_dir / "config.json").get("eos_token_id")
    eos_text = None
    for token in read_json(model_dir / "tokenizer.json").get("added_tokens", []):
        if token.get("id") == eos_id:
            eos_text = token.get("content")
    if eos_text is None and (model_dir / "tokenizer_config.json").exists():
        eos_text = read_json(model_dir / "tokenizer_config.json").get("eos_token")
    if not eos_text:
        raise StepFailed(f"{model_dir}: no end-of-sequence token text in tokenizer.json")
    return lambda field, text: {field: text + eos_text}


def mean_sd(values):
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


# ---- the experiment ---------------------------------------------------------------------


class Experiment:
    def __init__(self, args):
        self.args = args
        self.out = pathlib.Path(args.out).resolve()
        self.logs = self.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.crucible = str(args.crucible)
        self.user_sets = list(args.set)
        self.base = self.out / "warm" / "base"
        self.heldout = self.out / "warm" / "heldout.jsonl"
        self._cache = {}

    # -- running commands

    def sh(self, name, argv):
        """Runs argv with its output in logs/<name>.log; its seconds, or StepFailed."""
        log = self.logs / f"{name}.log"
        print(f"[table1] {name}\n  $ {shlex.join(str(a) for a in argv)}\n  log: {log}", flush=True)
        start = time.monotonic()
        with open(log, "a") as f:
            f.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} $ {shlex.join(str(a) for a in argv)}\n")
            f.flush()
            rc = subprocess.run([str(a) for a in argv], stdout=f, stderr=subprocess.STDOUT,
                                cwd=REPO).returncode
        seconds = time.monotonic() - start
        if rc != 0:
            print(f"  FAILED (exit {rc}) after {seconds:.0f}s: see {log}", flush=True)
            raise StepFailed(f"{name} exited {rc}", log)
        print(f"  done in {seconds:.0f}s", flush=True)
        return seconds

    def once(self, key, fn):
        """fn() computed once per process; a failure is remembered and raised again."""
        if key not in self._cache:
            try:
                self._cache[key] = ("ok", fn())
            except StepFailed as e:
                self._cache[key] = ("failed", e)
        kind, value = self._cache[key]
        if kind == "failed":
            raise value
        return value

    def eval_sets(self):
        return [f"eval.samples_per_problem={self.args.eval_n}",
                f"eval.temperature={EVAL_TEMPERATURE}", "eval.checkpoints=false"]

    def run_argv(self, run_dir, steps, sets):
        argv = [self.crucible, "run", "--run-dir", run_dir, "--steps", steps]
        for s in self.user_sets + sets:
            argv += ["--set", s]
        return argv

    def from_base_sets(self, seed):
        return [f"model.path={self.base}", "warm_start.sft_steps=0", f"run.seed={seed}"]

    # -- 1. warm start

    def warm(self):
        return self.once("warm", self._warm)

    def _warm(self):
        wdir = self.out / "warm"
        if not (self.base / "config.json").exists() or not has_key(wdir / "eval.json", "base"):
            self.sh("warm", self.run_argv(wdir, 1, self.eval_sets()))
        config = read_run_config(wdir / "config.yaml")
        summary = read_json(wdir / "summary.json")
        return {"config": config, "eval": read_json(wdir / "eval.json"),
                "warm_start_seconds": summary.get("warm_start_seconds"),
                "wall_seconds": summary.get("wall_seconds")}

    def config(self, key):
        return self.warm()["config"][key]

    # -- 2. the budget

    def budget(self):
        return self.once("budget", self._budget)

    def _budget(self):
        path = self.out / "budget.json"
        if path.exists():
            return read_json(path)
        self.warm()
        if self.args.rl_steps:
            budget = self._budget_given()
        else:
            budget = self._budget_calibrated()
        budget["samples"] = budget["steps"] * budget["batch_size"]
        write_json(path, budget)
        print(f"[table1] budget: {budget['steps']} learner steps x {budget['batch_size']} = "
              f"{budget['samples']} judged samples per method", flush=True)
        return budget

    def _budget_given(self):
        return {"steps": self.args.rl_steps, "batch_size": int(self.config("learner.batch_size")),
                "source": "--rl-steps"}

    def _budget_calibrated(self):
        cdir = self.out / "calibrate"
        steps = self.args.calibration_steps
        if not finished_run(cdir):
            sets = self.from_base_sets(0) + ["eval.problems_file="]
            self.sh("calibrate", self.run_argv(cdir, steps, sets))
        summary = read_json(cdir / "summary.json")
        rate = summary["steps"] / summary["rl_seconds"]
        return {"steps": max(1, round(self.args.budget_minutes * 60 * rate)),
                "batch_size": int(read_run_config(cdir / "config.yaml")["learner.batch_size"]),
                "source": "calibration", "calibration_steps": summary["steps"],
                "calibration_rl_seconds": summary["rl_seconds"], "steps_per_second": rate,
                "calibration_trained": summary.get("books", {}).get("trained"),
                "budget_minutes": self.args.budget_minutes}

    # -- 3. offline data

    def train_problems(self):
        return self.once("train_problems", lambda: read_jsonl(REPO / self.config("problems.file")))

    def prompt(self, problem):
        return expand_prompt(self.config("actors.prompt_template"), problem,
                             self.config("problems.language"))

    def samples(self):
        return self.once("samples", self._samples)

    def _samples(self):
        budget = self.budget()
        problems = self.train_problems()
        count = min(len(problems), math.ceil(budget["samples"] / SAMPLES_PER_PROBLEM))
        ids = [p["id"] for p in random.Random(0).sample(problems, count)]
        out = self.out / "samples"
        seconds = None
        if not (out / "report.json").exists():
            seconds = self.sh("samples", [
                self.crucible, "eval", "--model", self.base,
                "--problems", REPO / self.config("problems.file"), "--problem-ids", ",".join(ids),
                "--n", SAMPLES_PER_PROBLEM, "--k", "1,5", "--temperature",
                self.config("actors.temperature"), "--top-p", "1.0",
                "--max-new-tokens", self.config("actors.max_new_tokens"),
                "--prompt-template", self.config("actors.prompt_template"),
                "--language", self.config("problems.language"), "--seed", 0, "--out", out,
                "--progress=false"])
            write_json(out / "table1_timing.json", {"seconds": seconds})
        elif (out / "table1_timing.json").exists():
            seconds = read_json(out / "table1_timing.json")["seconds"]
        rows = read_jsonl(out / "samples.jsonl")
        return {"problem_ids": ids, "rows": rows, "seconds": seconds,
                "overall": read_json(out / "report.json")["overall"]}

    def data(self):
        return self.once("data", self._data)

    def _data(self):
        encode = completion_encoder(self.base)
        by_id = {p["id"]: p for p in self.train_problems()}
        language = self.config("problems.language")
        d = self.out / "data"
        counts = {"sft": write_jsonl(d / "sft.jsonl", self._sft_rows(by_id.values(), language, encode))}
        if set(self.args.methods) & SAMPLE_METHODS:
            groups = self._sample_groups()
            pairs, from_ref = self._pair_rows(groups, by_id, language, encode)
            counts.update(pairs=write_jsonl(d / "pairs.jsonl", pairs), pairs_reference_chosen=from_ref,
                          rm=write_jsonl(d / "rm.jsonl", self._rm_rows(groups, by_id, encode)),
                          critic=write_jsonl(d / "critic.jsonl",
                                             self._critic_rows(groups, by_id, language, encode)))
        return counts

    def _sample_groups(self):
        """problem id -> its judged samples that hold a program (SE samples are no evidence)."""
        groups = {}
        for row in self.samples()["rows"]:
            if row.get("program") and row.get("verdict") != "SE":
                groups.setdefault(row["problem_id"], []).append(row)
        return groups

    def _references(self, problem, language):
        return [s["source"] for s in problem.get("solutions", []) if s.get("language") == language]

    def _sft_rows(self, problems, language, encode):
        return [{"prompt": self.prompt(p), **encode("completion", src)}
                for p in problems for src in self._references(p, language)]

    def _pair_rows(self, groups, by_id, language, encode):
        rows, from_reference = [], 0
        for pid, samples in sorted(groups.items()):
            chosen = [s["program"] for s in samples if s["verdict"] == "OK"]
            rejected = [s["program"] for s in samples if s["verdict"] != "OK"]
            if not chosen and self.args.pairs == "reference-fill":
                chosen = self._references(by_id[pid], language)[:1]
                from_reference += len(rejected) if chosen else 0
            prompt = self.prompt(by_id[pid])
            for i in range(max(len(chosen), len(rejected)) if chosen and rejected else 0):
                rows.append({"prompt": prompt, **encode("chosen", chosen[i % len(chosen)]),
                             **encode("rejected", rejected[i % len(rejected)])})
        return rows, from_reference

    def _rm_rows(self, groups, by_id, encode):
        rows = []
        for pid, samples in sorted(groups.items()):
            prompt = self.prompt(by_id[pid])
            for a in samples:
                for b in samples:
                    if a["reward"] > b["reward"]:
                        rows.append({"prompt": prompt, **encode("chosen", a["program"]),
                                     **encode("rejected", b["program"])})
        return rows

    def _critic_rows(self, groups, by_id, language, encode):
        rows = []
        for pid, samples in sorted(groups.items()):
            prompt = self.prompt(by_id[pid])
            for s in samples:
                rows.append({"prompt": prompt, **encode("completion", s["program"]),
                             "outcome": s["verdict"], "reward": s["reward"]})
            for src in self._references(by_id[pid], language):
                rows.append({"prompt": prompt, **encode("completion", src), "outcome": "passed",
                             "reward": 1.0, "reference": True})
        return rows

    # -- 5. evaluation

    def evaluate(self, out, seed, adapter=None):
        """crucible eval on the held-out split, as crucible run's own Evaluate does it."""
        out = pathlib.Path(out)
        seconds = 0.0
        if not (out / "report.json").exists():
            n = self.args.eval_n
            argv = [self.crucible, "eval", "--model", self.base, "--problems", self.heldout,
                    "--n", n, "--k", "1,5" if n >= 5 else "1", "--temperature", EVAL_TEMPERATURE,
                    "--max-new-tokens", self.config("actors.max_new_tokens"),
                    "--prompt-template", self.config("actors.prompt_template"),
                    "--language", self.config("problems.language"), "--seed", seed,
                    "--out", out, "--progress=false"]
            if adapter:
                argv += ["--adapter", adapter]
            seconds = self.sh(log_name(out, self.out), argv)
        overall = read_json(out / "report.json")["overall"]
        return {k: overall.get(k) for k in METRICS}, seconds

    # -- 4. methods

    def method_dir(self, method, seed):
        # Pairs of another kind are another experiment: they get their own results.
        name = method
        if method in ("dpo", "orpo") and self.args.pairs != "passing":
            name = f"{name}-{self.args.pairs}"
        if method in self.args.lr:  # so is another learning rate
            name = f"{name}-lr{self.args.lr[method]:g}"
        method = name
        return self.out / "methods" / method / f"seed-{seed}"

    def run_base(self, seed):
        warm = self.warm()
        ev = warm["eval"]
        if (int(warm["config"]["run.seed"]) == seed and ev.get("samples_per_problem") == self.args.eval_n
                and ev.get("temperature") == EVAL_TEMPERATURE):
            numbers = {k: ev["base"].get(k) for k in METRICS}
            eval_seconds, source = warm["wall_seconds"], str(self.out / "warm" / "eval.json")
        else:
            numbers, eval_seconds = self.evaluate(self.method_dir("base", seed) / "eval", seed)
            source = str(self.method_dir("base", seed) / "eval")
        return {**numbers, "train_seconds": warm["warm_start_seconds"],
                "wall_seconds": eval_seconds, "eval": source}

    def lr(self, method):
        """The method's learning rate: --lr METHOD=LR, else the run config's learner.lr."""
        return self.args.lr.get(method, self.config("learner.lr"))

    def train_offline(self, algo, data, ckpt, seed, tag, method):
        """learner offline for S steps from the base; (its final step dir, its seconds)."""
        budget = self.budget()
        steps = budget["steps"]
        final = pathlib.Path(ckpt) / f"step-{steps:08d}"
        timing = pathlib.Path(ckpt) / "table1_timing.json"
        if not (final / "state.json").exists():
            seconds = self.sh(tag, self.offline_argv(algo, data, ckpt, steps, seed, self.lr(method)))
            write_json(timing, {"seconds": seconds})
        return final, (read_json(timing)["seconds"] if timing.exists() else None)

    def offline_argv(self, algo, data, ckpt, steps, seed, lr):
        c = self.config
        return [self.crucible, "learner", "offline", "--algo", algo, "--data", data,
                "--model", self.base, "--checkpoint", ckpt, "--steps", steps,
                "--save-every", steps, "--batch-size", self.budget()["batch_size"],
                "--max-batch-tokens", c("learner.max_batch_tokens"), "--lr", lr,
                "--warmup-steps", c("learner.warmup_steps"),
                "--min-lr-ratio", c("learner.min_lr_ratio"),
                "--weight-decay", c("learner.weight_decay"),
                "--max-grad-norm", c("learner.max_grad_norm"),
                "--lora-rank", c("model.lora_rank"), "--lora-alpha", c("model.lora_alpha"),
                "--seed", seed, "--json"]

    def run_offline(self, method, seed):
        counts = self.data()
        data_name = "sft" if method == "sft" else "pairs"
        if counts[data_name] == 0:
            raise StepFailed(f"no training examples in data/{data_name}.jsonl (no problem had both a "
                             "passing and a failing sample; --pairs reference-fill lets references "
                             "be chosen)", str(self.out / "data" / f"{data_name}.jsonl"))
        mdir = self.method_dir(method, seed)
        final, train_seconds = self.train_offline(
            OFFLINE_ALGO[method], self.out / "data" / f"{data_name}.jsonl", mdir / "checkpoints",
            seed, f"{method}-seed{seed}-train", method)
        numbers, eval_seconds = self.evaluate(mdir / "eval", seed, final / "adapter")
        return {**numbers, "train_seconds": train_seconds,
                "wall_seconds": (train_seconds or 0) + eval_seconds, "adapter": str(final / "adapter"),
                "steps": self.budget()["steps"], "examples": counts[data_name],
                **({"pairs": self.args.pairs} if data_name == "pairs" else {}),
                **({"lr": self.args.lr[method]} if method in self.args.lr else {})}

    def run_rl(self, method, seed):
        budget = self.budget()
        mdir = self.method_dir(method, seed)
        sets = self.from_base_sets(seed) + RL_SETS[method] + self.eval_sets()
        if method in self.args.lr:
            sets.append(f"learner.lr={self.args.lr[method]}")
        extra = {}
        if method == "coderl":
            extra = self.train_aux("critic", "critic", seed)
            sets.append(f"learner.critic={extra['critic']}")
        elif method == "ppo_rm":
            extra = self.train_aux("rm", "reward_model", seed)
            sets.append(f"learner.reward_model={extra['reward_model']}")
        rdir = mdir / "run"
        if not finished_run(rdir) or not has_key(rdir / "eval.json", "final"):
            self.sh(f"{method}-seed{seed}-run", self.run_argv(rdir, budget["steps"], sets))
        summary = read_json(rdir / "summary.json")
        numbers, eval_seconds = self.rl_eval(rdir, seed)
        aux_seconds = extra.get("aux_seconds") or 0
        return {**numbers, "train_seconds": summary["rl_seconds"] + aux_seconds,
                "wall_seconds": summary["wall_seconds"] + aux_seconds + eval_seconds,
                "adapter": str(rdir / "final"), "steps": summary["steps"],
                "books": summary.get("books"), "run_dir": str(rdir), **extra,
                **({"lr": self.args.lr[method]} if method in self.args.lr else {})}

    def train_aux(self, data_name, key, seed):
        """The model an RL method reads (coderl's critic, ppo_rm's reward model): learner
        offline --algo <data_name> on data/<data_name>.jsonl for S steps from the base."""
        counts = self.data()
        if counts[data_name] == 0:
            raise StepFailed(f"no examples in data/{data_name}.jsonl", str(self.out / "data"))
        method = "coderl" if data_name == "critic" else "ppo_rm"
        ckpt = self.method_dir(method, seed) / key
        # The critic and the reward model train at the run config's rate, whatever --lr says
        # of the method that reads them.
        _, seconds = self.train_offline(data_name, self.out / "data" / f"{data_name}.jsonl", ckpt, seed,
                                        f"{method}-seed{seed}-{key}", None)
        return {key: str(ckpt), "aux_seconds": seconds}

    def rl_eval(self, rdir, seed):
        """eval.json "final" when its settings are the table's, else the table's own eval."""
        ev = read_json(rdir / "eval.json")
        if (ev.get("samples_per_problem") == self.args.eval_n
                and ev.get("temperature") == EVAL_TEMPERATURE):
            return {k: ev["final"].get(k) for k in METRICS}, 0.0
        return self.evaluate(rdir.parent / "eval", seed, rdir / "final")

    def run_method(self, method, seed):
        """The method's result for one seed: reused, computed, or a failure record."""
        path = self.method_dir(method, seed) / "result.json"
        if path.exists():
            print(f"[table1] {method} seed {seed}: done before ({path})", flush=True)
            return read_json(path)
        print(f"[table1] ==== {method} seed {seed}", flush=True)
        try:
            if method == "base":
                result = self.run_base(seed)
            elif method in OFFLINE_ALGO:
                result = self.run_offline(method, seed)
            else:
                result = self.run_rl(method, seed)
        except StepFailed as e:
            print(f"[table1] {method} seed {seed} FAILED: {e} (log: {e.log})", flush=True)
            return {"status": "failed", "error": str(e), "log": str(e.log) if e.log else None}
        except (OSError, KeyError, ValueError, ZeroDivisionError) as e:
            print(f"[table1] {method} seed {seed} FAILED: {e!r}", flush=True)
            return {"status": "failed", "error": repr(e), "log": None}
        result["status"] = "ok"
        write_json(path, result)
        return result


def finished_run(run_dir):
    path = pathlib.Path(run_dir) / "summary.json"
    return path.exists() and read_json(path).get("exit_code") == 0


def has_key(path, key):
    return pathlib.Path(path).exists() and key in read_json(path)


def log_name(path, root):
    return str(pathlib.Path(path).relative_to(root)).replace("/", "-")


# ---- 6. the table -----------------------------------------------------------------------


def summarize(per_seed):
    ok = [r for r in per_seed.values() if r.get("status") == "ok"]
    s = {"seeds_ok": len(ok), "seeds": len(per_seed)}
    for k in METRICS + ["train_seconds", "wall_seconds"]:
        s[k] = mean_sd([r.get(k) for r in ok])
    s["pass@1_values"] = [r.get("pass@1") for r in ok]
    return s


def beyond_spread(a, b):
    """(diff, verdict): is |mean_a - mean_b| > 2 * pooled sd (both over >= 2 seeds)?"""
    (ma, sa), (mb, sb) = a["pass@1"], b["pass@1"]
    if ma is None or mb is None:
        return None, "n/a"
    diff = ma - mb
    if sa is None or sb is None:
        return diff, "n/a (1 seed)"
    pooled = math.sqrt((sa * sa + sb * sb) / 2)
    return diff, ("yes" if abs(diff) > 2 * pooled else "no")


def pct(m_sd):
    m, sd = m_sd
    if m is None:
        return "n/a"
    return f"{100 * m:.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "")


def seconds_cell(m_sd):
    m, sd = m_sd
    if m is None:
        return "n/a"
    return f"{m:.0f}" + (f" ± {sd:.0f}" if sd is not None else "")


def diff_cell(row, ref):
    if ref is None or ref["seeds_ok"] == 0:
        return "n/a"
    diff, verdict = beyond_spread(row, ref)
    return "n/a" if diff is None else f"{100 * diff:+.1f} ({verdict})"


def table_row(name, row, base, sft):
    if row["seeds_ok"] == 0:
        return f"| {name} | — | — | — | — | — | — | — | failed: {row['failures']} |"
    vs_base = "—" if name == "base" else diff_cell(row, base)
    vs_sft = "—" if name in ("base", "sft") else diff_cell(row, sft)
    note = f"failed seeds: {row['failures']}" if row.get("failures") else ""
    if row.get("pairs") not in (None, "passing"):
        note = f"pairs: {row['pairs']}; {note}".rstrip("; ")
    if row.get("lr") is not None:
        note = f"lr {row['lr']:g}; {note}".rstrip("; ")
    return (f"| {name} | {pct(row['pass@1'])} | {pct(row['pass@5'])} | {pct(row['compile_rate'])} "
            f"| {seconds_cell(row['train_seconds'])} | {seconds_cell(row['wall_seconds'])} "
            f"| {vs_base} | {vs_sft} | {note} |")


def render_table(rows, info):
    base, sft = rows.get("base"), rows.get("sft")
    lines = ["# Table 1: methods from one warm start, one sampling budget", "",
             "| method | pass@1 (%) | pass@5 (%) | compile rate (%) | train s | wall s "
             "| Δ pass@1 vs base | Δ pass@1 vs sft | notes |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [table_row(name, row, base, sft) for name, row in rows.items()]
    lines += ["", *footer(info)]
    return "\n".join(lines) + "\n"


def footer(info):
    b, d, s = info["budget"], info.get("data") or {}, info.get("samples") or {}
    seeds = ", ".join(str(x) for x in info["seeds"])
    return [
        f"Mean ± sample sd over seeds {seeds} (no ± with one seed); held-out split: "
        f"{info['heldout']} ({info['heldout_problems']} problems), {info['eval_n']} samples per "
        f"problem, temperature {EVAL_TEMPERATURE}, same `crucible eval` for every row.",
        "",
        "Δ columns: mean pass@1 difference in points; \"yes\" when |Δ| > 2 × pooled sd, pooled "
        "sd = sqrt((sd₁² + sd₂²) / 2) of the two rows' per-seed pass@1, i.e. the difference "
        "exceeds the seed-to-seed spread; \"no\" otherwise; \"n/a (1 seed)\" when a row has "
        "fewer than two seeds, so no spread is measured.",
        "",
        f"Budget: {b.get('steps')} learner steps × batch {b.get('batch_size')} = "
        f"{b.get('samples')} judged samples per method ({budget_source(b)}). RL methods sample "
        "them online; dpo/orpo, coderl's critic and ppo_rm's reward model train on the same "
        "number sampled once from the "
        f"base ({s.get('count', 'n/a')} samples on {s.get('problems', 'n/a')} training problems, "
        f"{fmt_seconds(s.get('seconds'))}, not in the rows' times); sft trains the same number "
        f"of steps on {d.get('sft', 'n/a')} reference solutions. Pairs: {d.get('pairs', 'n/a')} "
        f"(--pairs {info['pairs']}; reference as chosen: {d.get('pairs_reference_chosen', 0)}); "
        f"critic examples: "
        f"{d.get('critic', 'n/a')}; reward-model (Bradley-Terry) pairs: {d.get('rm', 'n/a')}.",
        "",
        f"Samples trained by the RL runs (books, per seed): {per_method(info['rl_trained'])}; "
        "produced by their actors, including what was in flight or queued at the end: "
        f"{per_method(info['rl_produced'])}.",
        "",
        "train s: RL = the loop's rl_seconds (coderl adds its critic's training, ppo_rm its "
        "reward model's); offline = "
        "the `learner offline` run; base = the warm start. wall s: everything the method ran "
        "(RL: the whole `crucible run` including its start and held-out eval; offline: "
        "training + eval; base: the warm run, or its eval for a seed the warm run did not use).",
    ]


def per_method(counts):
    return ", ".join(f"{m} {'/'.join(str(v) for v in vs)}" for m, vs in counts.items()) or "n/a"


def budget_source(b):
    if b.get("source") == "calibration":
        return (f"{b['calibration_steps']} calibration steps in {b['calibration_rl_seconds']:.0f} s"
                f" = {b['steps_per_second']:.3f} steps/s × {b['budget_minutes']} min")
    return b.get("source", "n/a")


def fmt_seconds(s):
    return "n/a" if s is None else f"{s:.0f} s"


# ---- curves -----------------------------------------------------------------------------

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


def reward_curve(metrics_path):
    by_step = {}
    for row in read_jsonl(metrics_path):
        if "step" in row and isinstance(row.get("reward_mean"), (int, float)):
            by_step[row["step"]] = row["reward_mean"]
    steps = sorted(by_step)
    values = [by_step[s] for s in steps]
    smooth = [statistics.mean(values[max(0, i - SMOOTH_WINDOW + 1):i + 1]) for i in range(len(values))]
    return list(zip(steps, smooth))


def svg_plot(curves, width=760, height=420):
    left, right, top, bottom = 60, 150, 20, 45
    points = [p for c in curves.values() for p in c]
    if not points:
        return "<p>No RL method left a metrics.jsonl.</p>"
    xmin, xmax = min(p[0] for p in points), max(p[0] for p in points)
    ymin, ymax = min(p[1] for p in points), max(p[1] for p in points)
    xmax, ymax = (xmax if xmax > xmin else xmin + 1), (ymax if ymax > ymin else ymin + 0.1)
    sx = lambda x: left + (x - xmin) / (xmax - xmin) * (width - left - right)
    sy = lambda y: height - bottom - (y - ymin) / (ymax - ymin) * (height - top - bottom)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" '
             f'height="{height - top - bottom}" fill="none" stroke="#888"/>']
    digits = max(2, 1 - math.floor(math.log10(ymax - ymin)))  # tick labels that differ
    for i in range(5):
        y = ymin + (ymax - ymin) * i / 4
        x = xmin + (xmax - xmin) * i / 4
        parts.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.{digits}f}</text>')
        parts.append(f'<text x="{sx(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:.0f}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle">'
                 'learner step</text>')
    parts.append(f'<text x="14" y="{(top + height - bottom) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(top + height - bottom) / 2})">reward_mean</text>')
    for i, (name, curve) in enumerate(curves.items()):
        color = COLORS[i % len(COLORS)]
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in curve)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        ly = top + 16 + 18 * i
        parts.append(f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 36}" '
                     f'y2="{ly}" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 42}" y="{ly + 4}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_curves(curves, seed):
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Table 1: reward curves"
            "</title></head><body>\n<h1>Training reward of the RL methods</h1>\n"
            f"<p>reward_mean per learner step (metrics.jsonl, seed {seed}), trailing moving "
            f"average over {SMOOTH_WINDOW} steps.</p>\n{svg_plot(curves)}\n</body></html>\n")


# ---- main -------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output directory (re-running reuses it)")
    p.add_argument("--budget-minutes", type=float, default=10.0, help="RL wall budget per method")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument("--methods", default=",".join(ALL_METHODS))
    p.add_argument("--crucible", default="build/bin/crucible")
    p.add_argument("--eval-n", type=int, default=10, help="held-out samples per problem")
    p.add_argument("--set", action="append", default=[], help="key=value for every crucible run")
    p.add_argument("--calibration-steps", type=int, default=40,
                   help="learner steps of the calibration run that measures steps/second")
    p.add_argument("--rl-steps", type=int, default=0, help="learner steps S (skips calibration)")
    p.add_argument("--lr", action="append", default=[], metavar="METHOD=LR",
                   help="another learning rate for one method (its results get their own "
                        "directory, methods/<method>-lr<LR>); default: the run config's learner.lr")
    p.add_argument("--pairs", choices=["passing", "reference-fill"], default="passing",
                   help="DPO/ORPO chosen programs: passing samples only, or also the reference "
                        "where no sample of a problem passed")
    args = p.parse_args(argv)
    lrs = {}
    for item in args.lr:
        method, _, value = item.partition("=")
        try:
            lrs[method] = float(value)
        except ValueError:
            p.error(f"--lr {item!r}: METHOD=LR with a number")
        if method not in ALL_METHODS:
            p.error(f"--lr {item!r}: unknown method {method!r}")
    args.lr = lrs
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in args.methods if m not in ALL_METHODS]
    if unknown:
        p.error(f"unknown methods {unknown}; known: {','.join(ALL_METHODS)}")
    crucible = pathlib.Path(args.crucible)
    if not crucible.is_absolute():
        crucible = crucible.resolve() if crucible.exists() else (REPO / crucible)
    args.crucible = crucible
    return args


def collect(exp, methods, seeds):
    results = {}
    for method in ["base"] + methods:
        results[method] = {str(s): exp.run_method(method, s) for s in seeds}
    return results


def summaries(results):
    rows = {}
    for method, per_seed in results.items():
        rows[method] = summarize(per_seed)
        rows[method]["pairs"] = next((r["pairs"] for r in per_seed.values() if "pairs" in r), None)
        rows[method]["lr"] = next((r["lr"] for r in per_seed.values() if "lr" in r), None)
        failed = [f"seed {s}: {r.get('error')}" + (f" ({r['log']})" if r.get("log") else "")
                  for s, r in per_seed.items() if r.get("status") != "ok"]
        rows[method]["failures"] = "; ".join(failed)
    return rows


def rl_books(results):
    """Per RL method, the trained and produced sample counts of its runs (over seeds)."""
    trained, produced = {}, {}
    for method, per_seed in results.items():
        books = [r["books"] for r in per_seed.values() if isinstance(r, dict) and r.get("books")]
        if method in RL_SETS and books:
            trained[method] = [b.get("trained") for b in books]
            produced[method] = [b.get("produced") for b in books]
    return {"rl_trained": trained, "rl_produced": produced}


def safe(fn):
    try:
        return fn()
    except StepFailed:
        return None


def main(argv):
    args = parse_args(argv)
    exp = Experiment(args)
    seeds = list(range(args.seeds))
    start = time.monotonic()
    try:
        exp.warm()
    except StepFailed as e:
        sys.exit(f"[table1] the warm start failed ({e.log}); nothing can run without it")
    results = collect(exp, args.methods, seeds)
    rows = summaries(results)
    samples = safe(exp.samples) if set(args.methods) & SAMPLE_METHODS else None
    info = {"budget": safe(exp.budget) or {}, "data": safe(exp.data),
            "samples": samples and {"count": len(samples["rows"]), "seconds": samples["seconds"],
                                    "problems": len(samples["problem_ids"]),
                                    "overall": samples["overall"]},
            "seeds": seeds, "eval_n": args.eval_n, "pairs": args.pairs,
            **rl_books(results), "heldout": str(exp.heldout),
            "heldout_problems": len(read_jsonl(exp.heldout))}
    (exp.out / "table1.md").write_text(render_table(rows, info))
    rl = [m for m in args.methods if m in RL_SETS
          and (exp.method_dir(m, seeds[0]) / "run" / "metrics.jsonl").exists()]
    curves = {m: reward_curve(exp.method_dir(m, seeds[0]) / "run" / "metrics.jsonl") for m in rl}
    (exp.out / "curves.html").write_text(render_curves(curves, seeds[0]))
    write_json(exp.out / "table1.json", {
        "args": {k: str(v) if isinstance(v, pathlib.Path) else v for k, v in vars(args).items()},
        "info": info, "results": results, "summary": rows, "curves": curves,
        "seconds_this_invocation": time.monotonic() - start})
    print((exp.out / "table1.md").read_text())
    print(f"[table1] wrote {exp.out}/table1.md, table1.json, curves.html", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
