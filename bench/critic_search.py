#!/usr/bin/env python3
"""Critic sampling's gain (CodeRL Table 4's shape): pass@k and n@k of one model on the held-out
curriculum without a search, with program refining only, and with refining + repairing, on the
same N samples per problem. Measured, never asserted; not part of CI (it trains for minutes).

    python3 bench/critic_search.py --out DIR [--crucible build/bin/crucible] [--n 8]
        [--train-problems 200] [--critic-steps 200] [--repair-steps 200] [--seeds 0,1,2]
        [--base DIR --heldout FILE]    (an existing warm start instead of making one)

What runs (each step's output lands in DIR and is reused when present):

1. The base: `crucible run --run-dir DIR/warm --steps 1` (the default job's full-parameter warm
   start; DIR/warm/base and DIR/warm/heldout.jsonl), unless --base and --heldout are given.
2. The base's judged samples on a seeded subset of training problems (`crucible eval`, N per
   problem, the actors' sampling settings): DIR/train_eval.
3. A CodeRL critic on them (`learner offline --algo critic`: the verdicts as outcomes, the
   references as "passed"), and a repair model (`crucible data repair-pairs`, then
   `learner offline --algo sft`): DIR/critic, DIR/repair.
4. Per seed, on the held-out problems: `crucible eval --search critic` with the critic only
   (refining) and with the repair adapter too (refining + repairing). The second reuses the
   first's first round (same options, same samples): its samples.jsonl and eval_config.json are
   copied in before it runs, which the eval's resume accepts.
5. DIR/critic_search.md and .json: per metric, without / refine / refine + repair, mean and
   spread over the seeds, and the problems each path touched.
Standard library only.
"""
import argparse
import importlib.util
import json
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("table1", REPO / "scripts" / "table1.py")
table1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table1)

TEMPLATE = ("# Problem\n{statement}\n# Example\n# input:\n{example_input}# output:\n"
            "{example_output}# Python 3 solution\n")
SAMPLING = ["--temperature", "1.0", "--top-p", "1.0", "--max-new-tokens", "96"]


def sh(log_dir, name, argv):
    log = log_dir / f"{name}.log"
    argv = [str(a) for a in argv]
    shown = " ".join(a if len(a) < 200 else a[:80] + "..." for a in argv)
    print(f"[critic_search] {name}: {shown}", flush=True)
    start = time.monotonic()
    with open(log, "w") as f:
        rc = subprocess.call(argv, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
    seconds = time.monotonic() - start
    if rc != 0:
        sys.exit(f"[critic_search] {name} failed (exit {rc}); see {log}")
    print(f"[critic_search] {name}: {seconds:.0f} s", flush=True)
    return seconds


def last_step(ckpt):
    steps = sorted(p for p in pathlib.Path(ckpt).glob("step-*") if (p / "state.json").exists())
    return steps[-1] if steps else None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--crucible", default=str(REPO / "build" / "bin" / "crucible"))
    ap.add_argument("--base", type=pathlib.Path)
    ap.add_argument("--heldout", type=pathlib.Path)
    ap.add_argument("--train", type=pathlib.Path, default=REPO / "data" / "curriculum" / "train.jsonl")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--train-problems", type=int, default=200)
    ap.add_argument("--critic-steps", type=int, default=200)
    ap.add_argument("--repair-steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", default="5e-4")
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    c = args.crucible
    seeds = [int(s) for s in args.seeds.split(",")]
    ks = "1,5" if args.n >= 5 else "1"
    seconds = {}

    # 1. the base
    if args.base:
        base, heldout = args.base.resolve(), args.heldout.resolve()
    else:
        base, heldout = out / "warm" / "base", out / "warm" / "heldout.jsonl"
        if not (base / "config.json").exists():
            seconds["warm_start"] = sh(logs, "warm", [c, "run", "--run-dir", out / "warm", "--steps", 1,
                                                      "--set", "eval.samples_per_problem=1",
                                                      "--set", "eval.checkpoints=false"])

    # 2. judged samples of the base on training problems
    train = table1.read_jsonl(args.train)
    by_id = {p["id"]: p for p in train}
    ids = sorted(by_id)
    random.Random(0).shuffle(ids)
    ids = sorted(ids[:args.train_problems])
    train_eval = out / "train_eval"
    if not (train_eval / "report.json").exists():
        seconds["train_eval"] = sh(logs, "train_eval", [c, "eval", "--model", base, "--problems", args.train,
                                                        "--problem-ids", ",".join(ids), "--n", args.n,
                                                        "--k", ks, "--n-submit", "1", *SAMPLING,
                                                        "--seed", 0, "--no-progress", "--out", train_eval])
    samples = table1.read_jsonl(train_eval / "samples.jsonl")

    # 3. the critic and the repair model
    encode = table1.completion_encoder(base)
    critic_rows = []
    for s in samples:
        prompt = table1.expand_prompt(TEMPLATE, by_id[s["problem_id"]], "python3")
        critic_rows.append({"prompt": prompt, **encode("completion", s["program"]), "outcome": s["verdict"]})
    for pid in ids:
        for ref in by_id[pid].get("solutions", []):
            if ref.get("language") == "python3":
                critic_rows.append({"prompt": table1.expand_prompt(TEMPLATE, by_id[pid], "python3"),
                                    **encode("completion", ref["source"]), "outcome": "passed",
                                    "reference": True})
    table1.write_jsonl(out / "critic.jsonl", critic_rows)
    offline = ["--model", base, "--batch-size", args.batch_size, "--lr", args.lr, "--warmup-steps", 10,
               "--seed", 0]
    if last_step(out / "critic") is None:
        seconds["critic"] = sh(logs, "critic", [c, "learner", "offline", "--algo", "critic", "--data",
                                                out / "critic.jsonl", "--checkpoint", out / "critic",
                                                "--steps", args.critic_steps, "--save-every", args.critic_steps,
                                                *offline])
    if last_step(out / "repair") is None:
        sh(logs, "repair_pairs", [c, "data", "repair-pairs", "--samples", train_eval / "samples.jsonl",
                                  "--problems", args.train, "--model", base, "--out", out / "repair.jsonl"])
        seconds["repair"] = sh(logs, "repair", [c, "learner", "offline", "--algo", "sft", "--data",
                                                out / "repair.jsonl", "--checkpoint", out / "repair",
                                                "--steps", args.repair_steps, "--save-every", args.repair_steps,
                                                *offline])
    critic, repair = last_step(out / "critic"), last_step(out / "repair") / "adapter"

    # 4. the searches on the held-out problems
    results = {}
    for seed in seeds:
        common = [c, "eval", "--model", base, "--problems", heldout, "--n", args.n, "--k", ks, "--n-submit", "1",
                  *SAMPLING, "--seed", seed, "--no-progress", "--critic", critic, "--search", "critic"]
        refine, both = out / f"refine-{seed}", out / f"refine_repair-{seed}"
        if not (refine / "report.json").exists():
            seconds[f"refine-{seed}"] = sh(logs, f"refine-{seed}", [*common, "--out", refine])
        if not (both / "report.json").exists():
            both.mkdir(parents=True, exist_ok=True)
            for name in ("samples.jsonl", "eval_config.json"):
                shutil.copy(refine / name, both / name)
            seconds[f"refine_repair-{seed}"] = sh(logs, f"refine_repair-{seed}",
                                                  [*common, "--repair-adapter", repair, "--out", both])
        a = table1.read_json(refine / "report.json")["critic_sampling"]
        b = table1.read_json(both / "report.json")["critic_sampling"]
        seeds_used = [row.get("seed_tokens", 0) for row in table1.read_jsonl(refine / "search" / "refine.jsonl")]
        results[seed] = {"without": a["without"], "refine": a["with"], "refine_repair": b["with"],
                         "problems_refine": a["problems"], "problems_refine_repair": b["problems"],
                         "refine_rows": len(seeds_used),
                         "refine_rows_seeded": sum(1 for t in seeds_used if t > 0),
                         "refine_mean_seed_tokens": statistics.mean(seeds_used) if seeds_used else 0.0}

    # 5. the table
    metrics = [m for m in ("pass@1", "pass@5", "1@1", "1@5", "compile_rate")
               if isinstance(results[seeds[0]]["without"].get(m), (int, float))]

    def cell(column, metric):
        values = [100 * results[s][column][metric] for s in seeds]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.1f} ± {spread:.1f}", values

    lines = ["# Critic sampling on the held-out curriculum", "",
             f"{len(table1.read_jsonl(heldout))} problems, N = {args.n} samples per problem, seeds "
             f"{args.seeds}; critic: {args.critic_steps} steps on {len(samples)} judged samples of "
             f"{len(ids)} training problems; repair model: {args.repair_steps} SFT steps. Percentages, "
             "mean ± sd over seeds.", "",
             "| metric | without | refine | refine + repair |", "| --- | ---: | ---: | ---: |"]
    table = {}
    for m in metrics:
        row = {col: cell(col, m) for col in ("without", "refine", "refine_repair")}
        table[m] = {col: v[1] for col, v in row.items()}
        lines.append(f"| {m} | {row['without'][0]} | {row['refine'][0]} | {row['refine_repair'][0]} |")
    first = results[seeds[0]]
    lines += ["", f"Refine rows with a non-empty seed (first seed): {first['refine_rows_seeded']} of "
              f"{first['refine_rows']}, {first['refine_mean_seed_tokens']:.1f} seed tokens on average."]
    lines += ["", "Problems per path (first seed): refine only " + json.dumps(results[seeds[0]]["problems_refine"]) +
              "; refine + repair " + json.dumps(results[seeds[0]]["problems_refine_repair"]), ""]
    (out / "critic_search.md").write_text("\n".join(lines))
    table1.write_json(out / "critic_search.json", {"results": results, "table": table, "seconds": seconds})
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
