#!/usr/bin/env python3
"""Builds data/problems.jsonl from the problem sources in data/problems/*.py.

For every problem: generates the tests from its seeded generator, runs both reference
solutions (Python with the system interpreter, C++ compiled with g++ -O2) on every test,
requires them to agree under the problem's checker, and records the Python reference's
output as the expected output. Every wrong solution must fail at least one test (a wrong
output, a crash, or running past twice the time limit). Each reference must run within a
quarter of the time limit. Maintainer tooling: nothing in the
training loop runs it; the JSONL it writes is checked in.

    scripts/build_problem_set.py [--only ID] [--check]   (--check: verify, write nothing)
"""
import argparse
import concurrent.futures
import importlib.util
import json
import math
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ROOT / "data" / "problems"
OUTPUT = ROOT / "data" / "problems.jsonl"
PYTHON = "/usr/bin/python3"
CXX = ["g++", "-std=gnu++17", "-O2", "-pipe"]


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokens_equal(expected, actual):
    return expected.split() == actual.split()


def float_equal(expected, actual, abs_tol, rel_tol):
    e, a = expected.split(), actual.split()
    if len(e) != len(a):
        return False
    for x, y in zip(e, a):
        try:
            fx = float(x)
            if not math.isfinite(fx):
                raise ValueError
        except ValueError:
            if x != y:
                return False
            continue
        try:
            fy = float(y)
        except ValueError:
            return False
        d = abs(fx - fy)
        if not (d <= abs_tol or d <= rel_tol * abs(fx)):
            return False
    return True


def exact_equal(expected, actual):
    norm = lambda s: s.replace("\r\n", "\n").removesuffix("\n")
    return norm(expected) == norm(actual)


def accepts(problem, test_input, expected, actual):
    checker = problem.CHECKER
    kind = checker.get("kind", "tokens")
    if kind == "exact":
        return exact_equal(expected, actual)
    if kind == "float":
        return float_equal(expected, actual, checker.get("abs_tol", 1e-6), checker.get("rel_tol", 1e-6))
    if kind == "program":
        return problem.check(test_input, actual)
    return tokens_equal(expected, actual)


def run(cmd, stdin, timeout):
    """Runs cmd on stdin: (stdout or None, error, CPU seconds). CPU time, as the sandbox
    limits it: wall time would count the other jobs of --jobs against each run."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = [], []

    def feed():
        try:
            p.stdin.write(stdin.encode())
            p.stdin.close()
        except BrokenPipeError:
            pass

    io = [threading.Thread(target=feed),
          threading.Thread(target=lambda: out.append(p.stdout.read())),
          threading.Thread(target=lambda: err.append(p.stderr.read()))]
    for t in io:
        t.start()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            p.returncode = -9
            for t in io:
                t.join()
            return None, "timeout", timeout
        time.sleep(0.002)
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in io:
        t.join()
    cpu = usage.ru_utime + usage.ru_stime
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {err[0].decode(errors='replace')[-300:]}", cpu
    return out[0].decode(), "", cpu


def compile_cpp(source, workdir, name):
    src = workdir / f"{name}.cpp"
    exe = workdir / name
    src.write_text(source)
    p = subprocess.run(CXX + ["-o", str(exe), str(src)], capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"{name}: compile error:\n{p.stderr.decode()}")
    return [str(exe)]


def program_command(language, source, workdir, name):
    if language == "python3":
        path = workdir / f"{name}.py"
        path.write_text(source)
        return [PYTHON, str(path)]
    if language == "cpp17":
        return compile_cpp(source, workdir, name)
    raise SystemExit(f"{name}: unknown language {language}")


def build(path, workdir):
    problem = load(path)
    seed = zlib.crc32(problem.ID.encode())
    public, hidden = problem.tests(random.Random(seed))
    assert 1 <= len(public) <= 2, f"{problem.ID}: {len(public)} public tests"
    assert len(hidden) >= 5, f"{problem.ID}: only {len(hidden)} hidden tests"
    limit = problem.TIME_LIMIT_MS / 1000
    ref_py = program_command("python3", problem.REF_PY.lstrip("\n"), workdir, "ref_py")
    ref_cpp = program_command("cpp17", problem.REF_CPP.lstrip("\n"), workdir, "ref_cpp")
    notes = []
    cases = []
    slowest = 0.0
    for is_public, inputs in ((True, public), (False, hidden)):
        for test_input in inputs:
            out_py, err, t_py = run(ref_py, test_input, 10 * limit)
            if out_py is None:
                raise SystemExit(f"{problem.ID}: Python reference failed: {err}")
            out_cpp, err, t_cpp = run(ref_cpp, test_input, 10 * limit)
            if out_cpp is None:
                raise SystemExit(f"{problem.ID}: C++ reference failed: {err}")
            slowest = max(slowest, t_py, t_cpp)
            if not accepts(problem, test_input, out_py, out_cpp):
                raise SystemExit(f"{problem.ID}: references disagree on {test_input[:80]!r}:\n"
                                 f"python: {out_py[:200]!r}\ncpp: {out_cpp[:200]!r}")
            if problem.CHECKER.get("kind") == "program" and not accepts(problem, test_input, out_py, out_py):
                raise SystemExit(f"{problem.ID}: the checker rejects the Python reference")
            cases.append((is_public, test_input, out_py))
    # The tests judge the references in the sandbox beside other work; a reference close to
    # its limit there times out (divisor-pair's at half its limit did in CI).
    if slowest > limit / 4:
        raise SystemExit(f"{problem.ID}: the slowest reference run, {slowest:.2f}s of CPU, is over a "
                         f"quarter of the {limit}s limit")
    for index, (language, what, source) in enumerate(problem.WRONG):
        cmd = program_command(language, source.lstrip("\n"), workdir, f"wrong{index}")
        failed = None
        for is_public, test_input, expected in cases:
            out, err, _ = run(cmd, test_input, 2 * limit)
            if out is None:
                failed = err.split(":")[0]
            elif not accepts(problem, test_input, expected, out):
                failed = "wrong answer"
            if failed:
                break
        if not failed:
            raise SystemExit(f"{problem.ID}: wrong solution {index} ({what}) passes every test")
        notes.append(f"wrong{index} ({language}, {what}): {failed}")
    record = {
        "id": problem.ID,
        "statement": problem.STATEMENT,
        "time_limit_ms": problem.TIME_LIMIT_MS,
        "memory_limit_mib": problem.MEMORY_LIMIT_MIB,
        "checker": problem.CHECKER,
        "public_tests": [{"input": i, "output": o} for p, i, o in cases if p],
        "tests": [{"input": i, "output": o} for p, i, o in cases if not p],
        "solutions": [{"language": "python3", "source": problem.REF_PY.lstrip("\n")},
                      {"language": "cpp17", "source": problem.REF_CPP.lstrip("\n")}],
        "incorrect_solutions": [{"language": lang, "source": src.lstrip("\n")}
                                for lang, _, src in problem.WRONG],
        "difficulty": problem.DIFFICULTY,
        "source": "bundled",
    }
    return record, notes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="build one problem id and print its notes")
    parser.add_argument("--check", action="store_true", help="verify without writing")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    paths = sorted(SOURCES.glob("[0-9]*.py"))
    if args.only:
        paths = [p for p in paths if load(p).ID == args.only]
    with tempfile.TemporaryDirectory() as tmp:
        def one(path):
            workdir = pathlib.Path(tmp) / path.stem
            workdir.mkdir()
            return build(path, workdir)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(one, paths))
    ids = set()
    for record, notes in results:
        assert record["id"] not in ids, f"duplicate id {record['id']}"
        ids.add(record["id"])
        print(f"{record['id']:24} {record['difficulty']:13} {len(record['tests'])} hidden, "
              f"{len(record['public_tests'])} public; " + "; ".join(notes))
    if args.check or args.only:
        return
    with open(OUTPUT, "w") as f:
        for record, _ in results:
            f.write(json.dumps(record, separators=(",", ":")) + "\n")
    print(f"wrote {len(results)} problems to {OUTPUT.relative_to(ROOT)} ({OUTPUT.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
