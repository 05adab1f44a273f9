ID = "max-of-list"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Given n integers, print the largest.

Input: n (1 <= n <= 10^5), then n integers with |a_i| <= 10^9.
Output: the maximum."""

def tests(rng):
    public = ["5\n3 1 4 1 5\n"]
    hidden = ["1\n-7\n", "4\n-3 -1 -4 -2\n", "3\n0 0 0\n"]
    for n in (10, 1000, 20000):
        hidden.append(f"{n}\n" + " ".join(str(rng.randint(-10**9, 10**9)) for _ in range(n)) + "\n")
    hidden.append("6\n-1000000000 -999999999 -5 -6 -7 -8\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n = int(data[0])
print(max(map(int, data[1:1 + n])))
"""

REF_CPP = r"""
#include <climits>
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  long long best = LLONG_MIN;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    if (x > best) best = x;
  }
  std::printf("%lld\n", best);
}
"""

WRONG = [
    ("python3", "starts the maximum at 0", r"""
n = int(input())
best = 0
for x in map(int, input().split()):
    if x > best:
        best = x
print(best)
"""),
    ("cpp17", "skips the last element", r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  long long best = -2000000000, x;
  for (int i = 0; i < n; ++i) {
    std::scanf("%lld", &x);
    if (i + 1 < n && x > best) best = x;
  }
  if (n == 1) best = x;
  std::printf("%lld\n", best);
}
"""),
]
