# Recursion through a C builtin consumes the C stack at every level.
import sys
sys.setrecursionlimit(10 ** 8)
def f(n):
    return list(map(f, [n + 1]))
f(0)
