# The function-call harness: runs one test of a function-call problem (problem.proto,
# FunctionCall) inside the sandbox, in a way the program under test cannot forge.
#
# Two processes. This one, the referee, reads the test from stdin, makes itself
# non-dumpable (so no other process of the sandbox's uid can read its memory or reopen its
# descriptors through /proc), and starts the program in a second interpreter, the player.
# The referee never runs the program's code. The player loads /work/main.py and answers
# calls over a pipe; every value crosses as typed JSON of builtin types only (an object of
# any other class, a subclass of int or list with its own __eq__, is refused), so what the
# referee compares are plain values it built itself. The referee then reports one line
#
#   <nonce> <OK|WA|RE> <detail as JSON>
#
# on its stdout. The nonce arrives on stdin, which the referee reads and closes before the
# player exists; the player's stdout is a pipe to the referee. A program that exits early,
# prints its own result lines, returns an object with a forged __eq__ or patches functions
# can only change the values it hands back, which is what answering the call means.
#
# The test on stdin: {"nonce", "style": "call"|"assert", "name", "setup_code", "input",
# "output"} (the fields of problem.proto). The judge reads the report line (judge.cc).

import ctypes
import json
import os
import signal
import subprocess
import sys

MAX_MESSAGE = 64 << 20

# The encoder of both processes: builtin types only, matched by exact type, so no
# subclass or object with its own __eq__ crosses. Run here and prepended to PLAYER.
ENCODER = r'''
MAX_DEPTH = 200

class Unserializable(Exception):
    pass

def enc(v, depth=0):
    if depth > MAX_DEPTH:
        raise Unserializable("a value nested too deeply")
    t = type(v)
    if v is None or t is bool or t is str or t is int:
        return v
    if t is float:
        if v != v:
            return {"f": "nan"}
        if v in (float("inf"), float("-inf")):
            return {"f": "inf" if v > 0 else "-inf"}
        return v
    if t is list:
        return [enc(x, depth + 1) for x in v]
    if t is tuple:
        return {"t": [enc(x, depth + 1) for x in v]}
    if t is dict:
        return {"d": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
    if t is set:
        return {"s": [enc(x, depth + 1) for x in v]}
    if t is frozenset:
        return {"fs": [enc(x, depth + 1) for x in v]}
    if t is bytes:
        return {"b": v.hex()}
    if t is complex:
        return {"c": [enc(v.real), enc(v.imag)]}
    raise Unserializable("a value of type " + t.__name__)
'''
exec(ENCODER)

PLAYER = ENCODER + r'''
import json, os, sys

def dec(v, depth=0):
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if isinstance(v, list):
        return [dec(x, depth + 1) for x in v]
    if isinstance(v, dict):
        (tag, x), = v.items()
        if tag == "t": return tuple(dec(y, depth + 1) for y in x)
        if tag == "d": return {dec(k, depth + 1): dec(y, depth + 1) for k, y in x}
        if tag == "s": return set(dec(y, depth + 1) for y in x)
        if tag == "fs": return frozenset(dec(y, depth + 1) for y in x)
        if tag == "f": return float(x)
        if tag == "b": return bytes.fromhex(x)
        if tag == "c": return complex(x[0], x[1])
        raise ValueError("unknown tag " + tag)
    return v

requests = os.fdopen(os.dup(0), "rb", buffering=0)
replies = os.fdopen(os.dup(1), "wb", buffering=0)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.dup2(2, 1)   # the program's prints go to stderr, never into the reply pipe

def send(obj):
    replies.write(json.dumps(obj, allow_nan=False).encode() + b"\n")

def failure(e):
    return {"type": type(e).__name__, "message": str(e)[:1000]}

module = {"__name__": "solution", "__builtins__": __builtins__}
sys.modules["solution"] = type(sys)("solution")
try:
    with open("/work/main.py", "rb") as f:
        source = f.read()
    exec(compile(source, "/work/main.py", "exec"), module)
    sys.modules["solution"].__dict__.update(module)
except BaseException as e:
    send({"load_error": failure(e)})
    sys.exit(0)
send({"ready": [k for k, v in module.items() if callable(v) and not k.startswith("__")]})

def resolve(name):
    if "." in name:
        cls, method = name.split(".", 1)
        return getattr(module[cls](), method)
    target = module.get(name)
    if callable(target):
        return target
    if callable(module.get("Solution")) and hasattr(module["Solution"], name):
        return getattr(module["Solution"](), name)
    raise NameError("the program defines no function " + name)

while True:
    line = requests.readline()
    if not line:
        break
    request = json.loads(line)
    try:
        fn = resolve(request["call"])
        result = fn(*dec(request["args"]))
    except BaseException as e:
        send({"raised": failure(e)})
        continue
    try:
        send({"ok": enc(result)})
    except Unserializable as e:
        send({"unserializable": str(e)})
'''


class ProgramRaised(BaseException):
    """The program raised (or died) inside a call; test code must not swallow it."""

    def __init__(self, kind, message):
        super().__init__(kind, message)
        self.kind = kind
        self.message = message


class BadAnswer(BaseException):
    """The program answered with something that is not a plain value."""


# Strict: the player's reply is untrusted input. Only the shapes enc produces decode, into
# builtin types.
def dec(v, depth=0):
    if depth > MAX_DEPTH:
        raise BadAnswer("nested too deeply")
    t = type(v)
    if v is None or t is bool or t is str or t is int or t is float:
        return v
    if t is list:
        return [dec(x, depth + 1) for x in v]
    if t is dict and len(v) == 1:
        (tag, x), = v.items()
        try:
            if tag == "t" and type(x) is list:
                return tuple(dec(y, depth + 1) for y in x)
            if tag == "d" and type(x) is list:
                return {dec(k, depth + 1): dec(y, depth + 1) for k, y in x}
            if tag == "s" and type(x) is list:
                return set(dec(y, depth + 1) for y in x)
            if tag == "fs" and type(x) is list:
                return frozenset(dec(y, depth + 1) for y in x)
            if tag == "f" and x in ("nan", "inf", "-inf"):
                return float(x)
            if tag == "b" and type(x) is str:
                return bytes.fromhex(x)
            if tag == "c" and type(x) is list and len(x) == 2:
                return complex(dec(x[0]), dec(x[1]))
        except (TypeError, ValueError) as e:
            raise BadAnswer(str(e))
    raise BadAnswer("a malformed value")


def describe(v, limit=200):
    text = repr(v)
    return text if len(text) <= limit else text[:limit] + "..."


class Player:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", PLAYER], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=None, close_fds=True, cwd="/work")
        hello = self.receive()
        if "load_error" in hello:
            e = hello["load_error"]
            raise ProgramRaised(str(e.get("type", "Exception")), str(e.get("message", "")))
        if "ready" not in hello or type(hello["ready"]) is not list:
            raise BadAnswer("the program's player did not start")
        self.callables = [n for n in hello["ready"] if type(n) is str and n.isidentifier()]

    def receive(self):
        line = self.proc.stdout.readline(MAX_MESSAGE)
        if not line.endswith(b"\n"):
            self.proc.wait()
            code = self.proc.returncode
            if code is not None and code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = "signal %d" % -code
                raise ProgramRaised(name, "the program was killed by " + name)
            raise ProgramRaised("SystemExit", "the program exited (code %s) during the test" % code)
        try:
            reply = json.loads(line)
        except ValueError:
            raise BadAnswer("the program's reply is not JSON")
        if type(reply) is not dict or len(reply) != 1:
            raise BadAnswer("the program's reply is malformed")
        return reply

    def call(self, name, args):
        message = json.dumps({"call": name, "args": enc(list(args))}, allow_nan=False)
        try:
            self.proc.stdin.write(message.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the player is gone; receive() says how
        reply = self.receive()
        if "ok" in reply:
            return dec(reply["ok"])
        if "raised" in reply and type(reply["raised"]) is dict:
            e = reply["raised"]
            raise ProgramRaised(str(e.get("type", "Exception")), str(e.get("message", "")))
        if "unserializable" in reply:
            raise BadAnswer("returned " + str(reply["unserializable"]) +
                            ", which is not a plain value (None, bool, int, float, str, bytes,"
                            " complex, list, tuple, dict, set)")
        raise BadAnswer("the program's reply is malformed")

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.kill()
        self.proc.wait()


def deep_lists(v):
    if type(v) in (list, tuple):
        return [deep_lists(x) for x in v]
    if type(v) is dict:
        return {k: deep_lists(x) for k, x in v.items()}
    return v


# APPS's call-based comparison: a tuple equals a list, and a result equal to the sole
# element of a one-element expected list passes.
def call_matches(result, expected):
    got = deep_lists(result)
    if got == expected:
        return True
    return type(expected) is list and len(expected) == 1 and got == expected[0]


def run_call(player, test):
    args = json.loads(test["input"])
    expected = json.loads(test["output"])
    result = player.call(test["name"], args)
    if call_matches(result, expected):
        return "OK", ""
    return "WA", "expected %s, got %s" % (describe(expected), describe(result))


def run_assert(player, test):
    scope = {"__name__": "__crucible_test__", "__builtins__": __builtins__}

    def proxy(name):
        def call(*args, **kwargs):
            if kwargs:
                raise TypeError("keyword arguments are not supported across the harness")
            return player.call(name, args)
        call.__name__ = name
        return call

    for name in player.callables:
        scope[name] = proxy(name)
    if test.get("name") and test["name"] not in scope and "." not in test["name"]:
        scope[test["name"]] = proxy(test["name"])
    try:
        if test.get("setup_code"):
            exec(compile(test["setup_code"], "setup_code", "exec"), scope)
        exec(compile(test["input"], "test", "exec"), scope)
    except (ProgramRaised, BadAnswer):
        raise
    except AssertionError as e:
        return "WA", "assertion failed" + (": " + describe(str(e)) if str(e) else "")
    except Exception as e:
        return "WA", "the test raised %s: %s" % (type(e).__name__, describe(str(e)))
    return "OK", ""


def main():
    raw = sys.stdin.buffer.read()
    os.close(0)
    test = json.loads(raw)
    nonce = test["nonce"]
    out = os.dup(1)

    def report(verdict, detail):
        os.write(out, ("\n%s %s %s\n" % (nonce, verdict, json.dumps(detail))).encode())

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE, 0
            raise OSError(ctypes.get_errno(), "prctl")
    except Exception as e:
        report("SE", {"message": "the harness cannot protect itself: %s" % e})
        return
    player = None
    try:
        player = Player()
        if test["style"] == "call":
            verdict, message = run_call(player, test)
        else:
            verdict, message = run_assert(player, test)
        report(verdict, {"message": message})
    except ProgramRaised as e:
        report("RE", {"subtype": e.kind, "message": e.message[:1000]})
    except BadAnswer as e:
        report("WA", {"message": str(e)})
    except Unserializable as e:
        report("SE", {"message": "the test passes %s" % e})
    finally:
        if player is not None:
            player.close()


main()
