ID = "fahrenheit"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "float", "abs_tol": 1e-6, "rel_tol": 1e-6}
STATEMENT = """Convert n temperatures from Celsius to Fahrenheit: F = C * 9 / 5 + 32.

Input: n (1 <= n <= 1000), then n integers C with |C| <= 10^4.
Output: n numbers, one per line; an absolute or relative error of 10^-6 is accepted."""

def tests(rng):
    public = ["2\n0\n100\n"]
    hidden = ["1\n-40\n", "3\n37\n-273\n1\n", "1\n7\n"]
    for n in (10, 1000):
        hidden.append(f"{n}\n" + "\n".join(str(rng.randint(-10**4, 10**4)) for _ in range(n)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.read().split()
print("\n".join(repr(int(c) * 9 / 5 + 32) for c in data[1:]))
"""

REF_CPP = r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  for (int i = 0; i < n; ++i) {
    int c;
    std::scanf("%d", &c);
    std::printf("%.6f\n", c * 9.0 / 5.0 + 32.0);
  }
}
"""

WRONG = [
    ("cpp17", "integer division", r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  for (int i = 0; i < n; ++i) {
    int c;
    std::scanf("%d", &c);
    std::printf("%d\n", c * 9 / 5 + 32);
  }
}
"""),
    ("python3", "swaps the order of operations", r"""
import sys
data = sys.stdin.read().split()
print("\n".join(str((int(c) + 32) * 9 / 5) for c in data[1:]))
"""),
]
