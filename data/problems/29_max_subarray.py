ID = "max-subarray"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the largest sum of a non-empty contiguous subarray.

Input: n (1 <= n <= 2*10^5), then n integers with |a_i| <= 10^9.
Output: the largest sum."""

def tests(rng):
    public = ["9\n-2 1 -3 4 -1 2 1 -5 4\n"]
    hidden = ["1\n-5\n", "3\n-3 -1 -2\n", "4\n1 2 3 4\n", "5\n5 -10 5 -10 5\n"]
    hidden.append("30000\n" + " ".join(str(rng.randint(-10**6, 10**6)) for _ in range(30000)) + "\n")
    hidden.append("30000\n" + " ".join(str(rng.randint(-10**6, -1)) for _ in range(30000)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n = int(data[0])
best = cur = None
for x in map(int, data[1:1 + n]):
    cur = x if cur is None or cur < 0 else cur + x
    if best is None or cur > best:
        best = cur
print(best)
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  long long best = 0, cur = 0;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    cur = (i == 0 || cur < 0) ? x : cur + x;
    best = i == 0 ? cur : std::max(best, cur);
  }
  std::printf("%lld\n", best);
}
"""

WRONG = [
    ("cpp17", "allows the empty subarray", r"""
#include <algorithm>
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  long long best = 0, cur = 0;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    cur = std::max(0LL, cur + x);
    best = std::max(best, cur);
  }
  std::printf("%lld\n", best);
}
"""),
    ("python3", "tries every subarray (too slow)", r"""
n = int(input())
a = list(map(int, input().split()))
best = a[0]
for i in range(n):
    s = 0
    for j in range(i, n):
        s += a[j]
        if s > best:
            best = s
print(best)
"""),
]
