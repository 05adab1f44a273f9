ID = "average"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "float", "abs_tol": 1e-6, "rel_tol": 1e-9}
STATEMENT = """Print the minimum, the maximum and the mean of n integers.

Input: n (1 <= n <= 10^5), then n integers with |a_i| <= 10^9.
Output: min, max and mean on one line; the mean with an absolute error of at most 10^-6."""

def tests(rng):
    public = ["4\n1 2 3 4\n"]
    hidden = ["1\n5\n", "3\n-1 0 2\n", "2\n1000000000 1000000000\n", "3\n1 1 2\n"]
    for n in (100, 20000):
        hidden.append(f"{n}\n" + " ".join(str(rng.randint(-10**9, 10**9)) for _ in range(n)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
from fractions import Fraction
data = sys.stdin.buffer.read().split()
n = int(data[0])
a = list(map(int, data[1:1 + n]))
mean = Fraction(sum(a), n)
print(min(a), max(a), "%.9f" % mean)
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  long long lo = 0, hi = 0, sum = 0;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    if (i == 0 || x < lo) lo = x;
    if (i == 0 || x > hi) hi = x;
    sum += x;
  }
  long long q = sum / n, r = sum % n;
  std::printf("%lld %lld %.9f\n", lo, hi, static_cast<double>(q) + static_cast<double>(r) / n);
}
"""

WRONG = [
    ("python3", "integer mean", r"""
n = int(input())
a = list(map(int, input().split()))
print(min(a), max(a), sum(a) // n)
"""),
    ("cpp17", "sums in 32 bits", r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  int lo = 0, hi = 0, sum = 0;
  for (int i = 0; i < n; ++i) {
    int x;
    std::scanf("%d", &x);
    if (i == 0 || x < lo) lo = x;
    if (i == 0 || x > hi) hi = x;
    sum += x;
  }
  std::printf("%d %d %.9f\n", lo, hi, static_cast<double>(sum) / n);
}
"""),
]
