#!/usr/bin/env python3
"""Builds the curriculum: a procedural problem family a small model can learn on a CPU.

Every problem reads one input (an integer, a list of integers, a string, or a number n
for a loop), applies a pipeline of stages and prints a result. A stage is an atomic
operation with constants drawn from the seed ("multiply it by 3", "keep only the numbers
greater than 4", "replace every 'a' with 'q'"); the statement says each stage in words,
and the Python 3 and C++17 references spell each stage as one line. A problem's kind is
its pipeline without constants ("int: mul, add, mod -> print").

Splits (data/README.md, "The curriculum"):
  train.jsonl                  problems of the training kinds
  heldout_instances.jsonl      unseen instances (new constants and tests) of training kinds
  heldout_compositions.jsonl   kinds that never occur in training, composed of stages that do
  heldout.jsonl                a fixed sample of both held-out files, for quick evaluation
  tokenizer.json               a byte-level BPE (scripts/bpe.py) trained on the training split,
  tokenizer_config.json        and its special tokens' roles (bos, eos, pad)
  model.json                   data/models/tiny.json with that tokenizer's vocabulary size and ids

Checks made here, before anything is written: every expected output comes from the
stage semantics below; the Python reference is executed on every test and must print it;
each known-wrong program (a constant or a stage changed) must fail at least one test.
The C++ references are cross-checked through the judge by the tests
(tests/common/curriculum_test.cc) and `crucible problems verify`.

    scripts/build_curriculum.py [--seed 0] [--out DIR] [--train N] [--heldout-sample N]

Deterministic: the same seed and sizes write byte-identical files.
"""
import argparse
import contextlib
import io
import itertools
import json
import os
import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bpe  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS_PER_PROBLEM = 6  # one public (the example in the prompt) and five hidden

CPP_HEAD = "#include <bits/stdc++.h>\nusing namespace std;\nint main() {\n"


# ---- stages ------------------------------------------------------------------------------
#
# A stage is (name, constant ranges) plus four renderings: its phrase in the statement
# (alternatives picked by the seed), its Python line, its C++ line and its semantics.

class Stage:
    def __init__(self, name, consts, phrases, py, cpp, fn):
        self.name, self.consts, self.phrases, self.py, self.cpp, self.fn = name, consts, phrases, py, cpp, fn


def floordiv(a, b):
    return a // b


INT_STAGES = [
    Stage("add", [(1, 9)], ["add {0}", "increase it by {0}"], "n = n + {0}", "n = n + {0};",
          lambda n, k: n + k),
    Stage("sub", [(1, 9)], ["subtract {0}", "decrease it by {0}"], "n = n - {0}", "n = n - {0};",
          lambda n, k: n - k),
    Stage("mul", [(2, 9)], ["multiply it by {0}", "multiply the number by {0}"], "n = n * {0}", "n = n * {0};",
          lambda n, k: n * k),
    Stage("div", [(2, 9)], ["divide it by {0} rounding down", "take the floor of it divided by {0}"],
          "n = n // {0}", "n = (n >= 0 ? n / {0} : -((-n + {0} - 1) / {0}));", floordiv),
    Stage("mod", [(2, 9)], ["take the remainder modulo {0}", "replace it by its remainder modulo {0}"],
          "n = n % {0}", "n = ((n % {0}) + {0}) % {0};", lambda n, k: n % k),
    Stage("square", [], ["square it", "multiply it by itself"], "n = n * n", "n = n * n;", lambda n: n * n),
    Stage("neg", [], ["negate it", "change its sign"], "n = -n", "n = -n;", lambda n: -n),
    Stage("abs", [], ["take its absolute value", "drop its sign"], "n = abs(n)", "n = llabs(n);", abs),
    Stage("min", [(-9, 9)], ["replace it by the smaller of it and {0}", "cap it at {0}"],
          "n = min(n, {0})", "n = min(n, {0}LL);", min),
    Stage("max", [(-9, 9)], ["replace it by the larger of it and {0}", "raise it to at least {0}"],
          "n = max(n, {0})", "n = max(n, {0}LL);", max),
]

INT_TERMINALS = [
    Stage("print", [], ["Print the result."], "print(n)", 'cout << n << "\\n";', lambda n: str(n)),
    Stage("even", [], ["Print YES if the result is even, otherwise print NO."],
          'print("YES" if n % 2 == 0 else "NO")', 'cout << (n % 2 == 0 ? "YES" : "NO") << "\\n";',
          lambda n: "YES" if n % 2 == 0 else "NO"),
    Stage("greater", [(-9, 9)], ["Print YES if the result is greater than {0}, otherwise print NO."],
          'print("YES" if n > {0} else "NO")', 'cout << (n > {0} ? "YES" : "NO") << "\\n";',
          lambda n, k: "YES" if n > k else "NO"),
    Stage("divisible", [(2, 9)], ["Print YES if the result is divisible by {0}, otherwise print NO."],
          'print("YES" if n % {0} == 0 else "NO")', 'cout << (n % {0} == 0 ? "YES" : "NO") << "\\n";',
          lambda n, k: "YES" if n % k == 0 else "NO"),
]

LIST_FILTERS = [
    Stage("keep_greater", [(-5, 5)], ["keep only the numbers greater than {0}"],
          "a = [x for x in a if x > {0}]", "a.erase(remove_if(a.begin(), a.end(), [](long long x) {{ return !(x > {0}); }}), a.end());",
          lambda a, k: [x for x in a if x > k]),
    Stage("keep_less", [(-5, 5)], ["keep only the numbers less than {0}"],
          "a = [x for x in a if x < {0}]", "a.erase(remove_if(a.begin(), a.end(), [](long long x) {{ return !(x < {0}); }}), a.end());",
          lambda a, k: [x for x in a if x < k]),
    Stage("keep_even", [], ["keep only the even numbers"],
          "a = [x for x in a if x % 2 == 0]", "a.erase(remove_if(a.begin(), a.end(), [](long long x) {{ return !(x % 2 == 0); }}), a.end());",
          lambda a: [x for x in a if x % 2 == 0]),
    Stage("keep_odd", [], ["keep only the odd numbers"],
          "a = [x for x in a if x % 2 != 0]", "a.erase(remove_if(a.begin(), a.end(), [](long long x) {{ return !(x % 2 != 0); }}), a.end());",
          lambda a: [x for x in a if x % 2 != 0]),
    Stage("keep_positive", [], ["keep only the positive numbers"],
          "a = [x for x in a if x > 0]", "a.erase(remove_if(a.begin(), a.end(), [](long long x) {{ return !(x > 0); }}), a.end());",
          lambda a: [x for x in a if x > 0]),
]

LIST_MAPS = [
    Stage("map_add", [(1, 9)], ["add {0} to each number"], "a = [x + {0} for x in a]", "for (auto& x : a) x = x + {0};",
          lambda a, k: [x + k for x in a]),
    Stage("map_mul", [(2, 9)], ["multiply each number by {0}"], "a = [x * {0} for x in a]", "for (auto& x : a) x = x * {0};",
          lambda a, k: [x * k for x in a]),
    Stage("map_square", [], ["square each number"], "a = [x * x for x in a]", "for (auto& x : a) x = x * x;",
          lambda a: [x * x for x in a]),
    Stage("map_abs", [], ["replace each number by its absolute value"], "a = [abs(x) for x in a]",
          "for (auto& x : a) x = llabs(x);", lambda a: [abs(x) for x in a]),
    Stage("map_neg", [], ["negate each number"], "a = [-x for x in a]", "for (auto& x : a) x = -x;",
          lambda a: [-x for x in a]),
]

# Terminals that need a non-empty list say so; the test generator keeps such lists non-empty.
LIST_TERMINALS = [
    Stage("sum", [], ["Print their sum."], "print(sum(a))", 'cout << accumulate(a.begin(), a.end(), 0LL) << "\\n";',
          lambda a: str(sum(a))),
    Stage("count", [], ["Print how many numbers are left.", "Print how many there are."], "print(len(a))",
          'cout << a.size() << "\\n";', lambda a: str(len(a))),
    Stage("max", [], ["Print the largest of them."], "print(max(a))", 'cout << *max_element(a.begin(), a.end()) << "\\n";',
          lambda a: str(max(a))),
    Stage("min", [], ["Print the smallest of them."], "print(min(a))", 'cout << *min_element(a.begin(), a.end()) << "\\n";',
          lambda a: str(min(a))),
    Stage("sorted", [], ["Print them in increasing order, separated by spaces."], "print(*sorted(a))",
          'sort(a.begin(), a.end());\n  for (size_t i = 0; i < a.size(); ++i) cout << a[i] << (i + 1 < a.size() ? " " : "");\n  cout << "\\n";',
          lambda a: " ".join(map(str, sorted(a)))),
    Stage("reversed", [], ["Print them in reverse order, separated by spaces."], "print(*a[::-1])",
          'reverse(a.begin(), a.end());\n  for (size_t i = 0; i < a.size(); ++i) cout << a[i] << (i + 1 < a.size() ? " " : "");\n  cout << "\\n";',
          lambda a: " ".join(map(str, a[::-1]))),
]
NONEMPTY_TERMINALS = {"max", "min"}

LETTERS = "abcdefghijklmnopqrstuvwxyz"

STRING_STAGES = [
    Stage("reverse", [], ["reverse it"], "s = s[::-1]", "reverse(s.begin(), s.end());", lambda s: s[::-1]),
    Stage("upper", [], ["convert it to upper case"], "s = s.upper()", "for (auto& c : s) c = toupper(c);",
          lambda s: s.upper()),
    Stage("lower", [], ["convert it to lower case"], "s = s.lower()", "for (auto& c : s) c = tolower(c);",
          lambda s: s.lower()),
    Stage("replace", ["letter", "letter"], ["replace every '{0}' with '{1}'"], 's = s.replace("{0}", "{1}")',
          "replace(s.begin(), s.end(), '{0}', '{1}');", lambda s, a, b: s.replace(a, b)),
    Stage("remove", ["letter"], ["remove every '{0}'"], 's = s.replace("{0}", "")',
          "s.erase(remove(s.begin(), s.end(), '{0}'), s.end());", lambda s, a: s.replace(a, "")),
    Stage("first", [(1, 6)], ["keep its first {0} characters"], "s = s[:{0}]",
          "s = s.substr(0, min<size_t>(s.size(), {0}));", lambda s, k: s[:k]),
    Stage("last", [(1, 6)], ["keep its last {0} characters"], "s = s[-{0}:]",
          "s = s.substr(s.size() - min<size_t>(s.size(), {0}));", lambda s, k: s[-k:]),
    Stage("repeat", [(2, 3)], ["repeat it {0} times"], "s = s * {0}",
          "{{ string t; for (int i = 0; i < {0}; ++i) t += s; s = t; }}", lambda s, k: s * k),
    Stage("append", ["letter"], ["append '{0}' to it"], 's = s + "{0}"', "s += '{0}';", lambda s, a: s + a),
]

STRING_TERMINALS = [
    Stage("print", [], ["Print the result."], "print(s)", 'cout << s << "\\n";', lambda s: s),
    Stage("length", [], ["Print its length."], "print(len(s))", 'cout << s.size() << "\\n";', lambda s: str(len(s))),
    Stage("count", ["letter"], ["Print how many times '{0}' occurs in it."], 'print(s.count("{0}"))',
          "cout << count(s.begin(), s.end(), '{0}') << \"\\n\";", lambda s, a: str(s.count(a))),
]

# Loops: atomic problems over a number n (1 <= n <= 12), one stage each.
LOOP_STAGES = [
    Stage("count_up", [], ["Read an integer n. Print the numbers from 1 to n, one per line."],
          "for i in range(1, n + 1):\n    print(i)", 'for (long long i = 1; i <= n; ++i) cout << i << "\\n";',
          lambda n: "\n".join(str(i) for i in range(1, n + 1))),
    Stage("count_down", [], ["Read an integer n. Print the numbers from n down to 1, one per line."],
          "for i in range(n, 0, -1):\n    print(i)", 'for (long long i = n; i >= 1; --i) cout << i << "\\n";',
          lambda n: "\n".join(str(i) for i in range(n, 0, -1))),
    Stage("multiples", [(2, 9)], ["Read an integer n. Print the first n multiples of {0}, one per line."],
          "for i in range(1, n + 1):\n    print(i * {0})", 'for (long long i = 1; i <= n; ++i) cout << i * {0} << "\\n";',
          lambda n, k: "\n".join(str(i * k) for i in range(1, n + 1))),
    Stage("sum_to", [], ["Read an integer n. Print the sum of the numbers from 1 to n."],
          "print(sum(range(1, n + 1)))", 'cout << n * (n + 1) / 2 << "\\n";', lambda n: str(n * (n + 1) // 2)),
    Stage("repeat_word", ["word"], ["Read an integer n. Print the word {0} n times, one per line."],
          "for i in range(n):\n    print(\"{0}\")", 'for (long long i = 0; i < n; ++i) cout << "{0}" << "\\n";',
          lambda n, w: "\n".join([w] * n)),
    Stage("factorial_mod", [(5, 9)], ["Read an integer n. Print n factorial modulo {0}."],
          "f = 1\nfor i in range(1, n + 1):\n    f = f * i % {0}\nprint(f)",
          'long long f = 1;\n  for (long long i = 1; i <= n; ++i) f = f * i % {0};\n  cout << f << "\\n";',
          lambda n, k: str(fact_mod(n, k))),
]
WORDS = ["cat", "dog", "sun", "tree", "code", "star", "moon", "fish"]

# Off-by-one versions of the loops without constants, as their known-wrong programs.
LOOP_WRONG = {
    "count_up": Stage("count_up", [], [""], "for i in range(1, n):\n    print(i)",
                      'for (long long i = 1; i < n; ++i) cout << i << "\\n";', None),
    "count_down": Stage("count_down", [], [""], "for i in range(n, 1, -1):\n    print(i)",
                        'for (long long i = n; i > 1; --i) cout << i << "\\n";', None),
    "sum_to": Stage("sum_to", [], [""], "print(sum(range(1, n)))", 'cout << n * (n - 1) / 2 << "\\n";', None),
}


def fact_mod(n, k):
    f = 1
    for i in range(1, n + 1):
        f = f * i % k
    return f


# ---- families ----------------------------------------------------------------------------
#
# A family is an input type with its stages and terminals, the statement's opening, the
# programs' first lines and a test-input generator.

class Family:
    def __init__(self, name, opening, py_read, cpp_read, stages, terminals, max_stages, make_input, parse):
        self.name, self.opening, self.py_read, self.cpp_read = name, opening, py_read, cpp_read
        self.stages, self.terminals, self.max_stages = stages, terminals, max_stages
        self.make_input, self.parse = make_input, parse


def int_input(rng):
    return f"{rng.randint(-50, 50)}\n"


def list_input(rng):
    n = rng.randint(1, 8)
    return f"{n}\n" + " ".join(str(rng.randint(-9, 9)) for _ in range(n)) + "\n"


def string_input(rng):
    n = rng.randint(1, 10)
    pool = LETTERS[:8] + LETTERS[:8].upper()  # few letters, so replace/remove/count hit
    return "".join(rng.choice(pool) for _ in range(n)) + "\n"


def loop_input(rng):
    return f"{rng.randint(1, 12)}\n"


def parse_list(text):
    lines = text.split("\n")
    return [int(x) for x in lines[1].split()]


FAMILIES = {
    "int": Family("int", "Read an integer n.", "n = int(input())", "  long long n;\n  cin >> n;\n",
                  INT_STAGES, INT_TERMINALS, 2, int_input, lambda t: int(t)),
    "list": Family("list", "Read an integer n and then n integers.", "n = int(input())\na = list(map(int, input().split()))",
                   "  int n;\n  cin >> n;\n  vector<long long> a(n);\n  for (auto& x : a) cin >> x;\n",
                   LIST_FILTERS + LIST_MAPS, LIST_TERMINALS, 2, list_input, parse_list),
    "string": Family("string", "Read a string s.", "s = input()", "  string s;\n  cin >> s;\n",
                     STRING_STAGES, STRING_TERMINALS, 2, string_input, lambda t: t.rstrip("\n")),
    "loop": Family("loop", "", "n = int(input())", "  long long n;\n  cin >> n;\n",
                   LOOP_STAGES, [], 1, loop_input, lambda t: int(t)),
}


def stage_by_name(family, name):
    for s in family.stages + family.terminals:
        if s.name == name:
            return s
    raise KeyError(name)


def kinds(family):
    """Every kind of a family: (stage names, terminal name), shortest first."""
    out = []
    if family.name == "loop":
        return [((s.name,), None) for s in family.stages]
    names = [s.name for s in family.stages]
    for length in range(1, family.max_stages + 1):
        for seq in itertools.product(names, repeat=length):
            if family.name == "list":
                # A list pipeline filters at most once, then maps at most once.
                filters = [n for n in seq if n.startswith("keep_")]
                if len(filters) > 1 or len(seq) - len(filters) > 1 or (filters and seq[0] != filters[0]):
                    continue
            if len(set(seq)) < len(seq):
                continue  # a stage twice in a row teaches nothing new
            for t in family.terminals:
                out.append((seq, t.name))
    if family.name == "list":
        out = [((), t.name) for t in family.terminals] + out
    return out


# ---- one problem -------------------------------------------------------------------------

def draw_consts(stage, rng):
    out = []
    for c in stage.consts:
        if c == "letter":
            out.append(rng.choice(LETTERS[:8]))
        elif c == "word":
            out.append(rng.choice(WORDS))
        else:
            lo, hi = c
            out.append(rng.randint(lo, hi))
    return out


def render(family, pipeline, rng):
    """Statement, Python and C++ programs and semantics of a pipeline [(stage, consts)]."""
    if family.name == "loop":
        stage, consts = pipeline[0]
        statement = rng.choice(stage.phrases).format(*consts)
        py = family.py_read + "\n" + stage.py.format(*consts) + "\n"
        cpp = CPP_HEAD + family.cpp_read + "  " + stage.cpp.format(*consts) + "\n}\n"
        return statement, py, cpp, lambda v: stage.fn(v, *consts)
    *steps, (terminal, tconsts) = pipeline
    words = [rng.choice(s.phrases).format(*c) for s, c in steps]
    statement = family.opening
    if words:
        body = ", then ".join(words)
        statement += " " + body[0].upper() + body[1:] + "."
    statement += " " + rng.choice(terminal.phrases).format(*tconsts)
    py = family.py_read + "\n" + "".join(s.py.format(*c) + "\n" for s, c in steps) + terminal.py.format(*tconsts) + "\n"
    cpp = (CPP_HEAD + family.cpp_read + "".join("  " + s.cpp.format(*c) + "\n" for s, c in steps) + "  " +
           terminal.cpp.format(*tconsts) + "\n}\n")

    def semantics(v):
        for s, c in steps:
            v = s.fn(v, *c)
        return terminal.fn(v, *tconsts)

    return statement, py, cpp, semantics


def run_python(source, stdin):
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<reference>", "exec"), {"__name__": "__main__"})
    except Exception as e:  # a wrong program may crash: that is a failed test
        return f"<{type(e).__name__}>"
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


def make_tests(family, kind_names, semantics, rng):
    """Test inputs with distinct expected outputs where the generator allows."""
    needs_nonempty = family.name == "list" and kind_names[1] in NONEMPTY_TERMINALS
    tests, seen = [], set()
    for _ in range(200):
        if len(tests) == TESTS_PER_PROBLEM:
            break
        text = family.make_input(rng)
        if text in seen:
            continue
        value = family.parse(text)
        try:
            expected = semantics(value)
        except ValueError:  # max/min of an empty list
            continue
        if needs_nonempty and not expected:
            continue
        seen.add(text)
        tests.append({"input": text, "output": expected + "\n"})
    if len(tests) < TESTS_PER_PROBLEM:
        return None
    return tests


def mutations(family, pipeline, rng):
    """Known-wrong pipelines: one constant changed (a number off by one, another letter or
    word), the first transform dropped, or a loop off by one."""
    out = []
    for i, (stage, consts) in enumerate(pipeline):
        for j, c in enumerate(consts):
            changed = list(consts)
            if isinstance(c, int):
                changed[j] = c + 1
            elif c in WORDS:
                changed[j] = WORDS[(WORDS.index(c) + 1) % len(WORDS)]
            else:
                changed[j] = LETTERS[(LETTERS.index(c) + 1) % 8]
            out.append(pipeline[:i] + [(stage, changed)] + pipeline[i + 1:])
        if stage.name in LOOP_WRONG and family.name == "loop":
            out.append([(LOOP_WRONG[stage.name], consts)])
    if len(pipeline) >= 2 and family.name != "loop":
        out.append(pipeline[1:])
    rng.shuffle(out)
    return out


def build_problem(family, kind, rng, pid, source):
    seq, tname = kind
    pipeline = [(stage_by_name(family, n), None) for n in seq]
    if tname is not None:
        pipeline.append((stage_by_name(family, tname), None))
    pipeline = [(s, draw_consts(s, rng)) for s, _ in pipeline]
    statement, py, cpp, semantics = render(family, pipeline, rng)
    tests = make_tests(family, (seq, tname), semantics, rng)
    if tests is None:
        return None
    for t in tests:
        got = run_python(py, t["input"])
        if got != t["output"]:
            raise SystemExit(f"{pid}: the Python reference prints {got!r} for {t['input']!r}, expected {t['output']!r}")
    wrong = []
    for bad in mutations(family, pipeline, rng):
        _, bad_py, bad_cpp, _ = render(family, bad, random.Random(0))
        if bad_py == py:
            continue
        if any(run_python(bad_py, t["input"]) != t["output"] for t in tests):
            wrong = [{"language": "python3", "source": bad_py}, {"language": "cpp17", "source": bad_cpp}]
            break
    level = len(seq) + (0 if tname in (None, "print") else 1)
    return {
        "id": pid,
        "statement": statement,
        "time_limit_ms": 2000,
        "memory_limit_mib": 256,
        "checker": {"kind": "tokens"},
        "public_tests": tests[:1],
        "tests": tests[1:],
        "solutions": [{"language": "python3", "source": py}, {"language": "cpp17", "source": cpp}],
        "incorrect_solutions": wrong,
        "difficulty": f"level{max(1, level)}",
        "source": source,
    }


def kind_label(family, kind):
    seq, tname = kind
    return family.name + ":" + ",".join(seq) + (f"->{tname}" if tname else "")


def kind_slug(family, kind):
    seq, tname = kind
    return "-".join([family.name, *seq] + ([tname] if tname else []))


def build(seed, train_size, heldout_sample):
    rng = random.Random(seed)
    all_kinds = [(f, k) for f in FAMILIES.values() for k in kinds(f)]
    # Held-out compositions: a tenth of the kinds with two or more transforms. Every stage
    # they use also occurs in a training kind (checked below).
    multi = [fk for fk in all_kinds if len(fk[1][0]) >= 2]
    held_comp = set(kind_label(*fk) for fk in rng.sample(multi, len(multi) // 10))
    train_kinds = [fk for fk in all_kinds if kind_label(*fk) not in held_comp]
    comp_kinds = [fk for fk in all_kinds if kind_label(*fk) in held_comp]
    seen_stages = {(f.name, n) for f, (seq, t) in train_kinds for n in seq + ((t,) if t else ())}
    for f, (seq, t) in comp_kinds:
        for n in seq + ((t,) if t else ()):
            assert (f.name, n) in seen_stages, (f.name, n)

    # Short kinds are the curriculum's foundation: every atomic kind gets many instances;
    # longer kinds (hundreds) are sampled, each family equally often.
    def sample_kinds(pool, count):
        short = [fk for fk in pool if len(fk[1][0]) <= 1]
        long_ = [fk for fk in pool if len(fk[1][0]) > 1]
        per_short = max(1, count // (2 * len(short)))
        picks = [fk for fk in short for _ in range(per_short)]
        by_family = {}
        for fk in long_:
            by_family.setdefault(fk[0].name, []).append(fk)
        families = sorted(by_family)
        picks += [rng.choice(by_family[rng.choice(families)]) for _ in range(count - len(picks))]
        return picks

    statements = set()

    def make(picks, prefix, source):
        out = []
        for i, (f, k) in enumerate(picks):
            for _ in range(20):
                p = build_problem(f, k, rng, f"{prefix}/{kind_slug(f, k)}/{i:05d}", source)
                if p is not None and p["statement"] + p["public_tests"][0]["input"] not in statements:
                    statements.add(p["statement"] + p["public_tests"][0]["input"])
                    out.append(p)
                    break
        return out

    train = make(sample_kinds(train_kinds, train_size), "cur/train", "curriculum")
    instances = make(sample_kinds(train_kinds, max(heldout_sample, train_size // 10)), "cur/inst",
                     "curriculum-unseen-instances")
    compositions = make([rng.choice(comp_kinds) for _ in range(max(heldout_sample, train_size // 10))], "cur/comp",
                        "curriculum-unseen-compositions")
    half = heldout_sample // 2
    heldout = rng.sample(instances, half) + rng.sample(compositions, heldout_sample - half)
    return train, instances, compositions, heldout, held_comp


def write_jsonl(path, problems):
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        for p in problems:
            f.write(json.dumps(p, separators=(",", ":")) + "\n")
    os.replace(tmp, path)


# The default prompt template's own text (cli/run_config.h), so its words are tokens too.
TEMPLATE_TEXT = "# Problem\n\n# Example\n# input:\n# output:\n# Python 3 solution\n"


def tokenizer_texts(problems):
    texts = [TEMPLATE_TEXT]
    for p in problems:
        texts.append(p["statement"])
        for t in p["public_tests"]:
            texts += [t["input"], t["output"]]
        texts += [s["source"] for s in p["solutions"]]
    return texts


def write_model_files(out, train, vocab_size):
    tokenizer = bpe.train(tokenizer_texts(train), vocab_size)
    specials = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    with open(ROOT / "data" / "models" / "tiny.json") as f:
        config = json.load(f)
    config.update(vocab_size=max(specials.values()) + 1, bos_token_id=specials["<|bos|>"],
                  eos_token_id=specials["<|eos|>"], pad_token_id=specials["<|pad|>"])
    # Special-token roles: tokenizer_config.json beside tokenizer.json, as HF keeps them.
    roles = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|bos|>", "eos_token": "<|eos|>",
             "pad_token": "<|pad|>", "add_bos_token": False, "add_eos_token": False}
    for name, value in (("tokenizer.json", tokenizer), ("tokenizer_config.json", roles), ("model.json", config)):
        tmp = out / (name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(value, f, indent=None if name == "tokenizer.json" else 1, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, out / name)
    return config["vocab_size"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "data" / "curriculum"))
    ap.add_argument("--train", type=int, default=3000, help="training problems")
    ap.add_argument("--heldout-sample", type=int, default=120, help="problems in heldout.jsonl (half of each kind)")
    ap.add_argument("--vocab-size", type=int, default=512, help="tokens of the BPE tokenizer, specials included")
    args = ap.parse_args()
    train, instances, compositions, heldout, held_comp = build(args.seed, args.train, args.heldout_sample)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "heldout_instances.jsonl", instances)
    write_jsonl(out / "heldout_compositions.jsonl", compositions)
    write_jsonl(out / "heldout.jsonl", heldout)
    vocab = write_model_files(out, train, args.vocab_size)
    kinds_seen = len({p["id"].split("/")[2] for p in train})
    print(f"curriculum: {len(train)} train problems of {kinds_seen} kinds, {len(instances)} unseen instances, "
          f"{len(compositions)} of {len(held_comp)} unseen compositions, {len(heldout)} in heldout.jsonl, a {vocab}-token tokenizer -> {out}")


if __name__ == "__main__":
    main()
