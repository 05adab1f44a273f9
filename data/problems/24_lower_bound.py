ID = "lower-bound-queries"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """A sorted array of n integers answers q queries: for each x, the smallest index i
(1-based) with a_i >= x, or -1 if there is none.

Input: n and q (1 <= n, q <= 2*10^5), the n sorted integers, then the q queries (all values
|v| <= 10^9).
Output: q answers on one line."""

def tests(rng):
    public = ["5 4\n1 3 3 5 9\n3 4 10 0\n"]
    hidden = ["1 2\n5\n5 6\n", "3 3\n2 2 2\n1 2 3\n", "4 2\n-5 -1 0 7\n-1 8\n"]
    n = q = 20000
    a = sorted(rng.randint(-10**6, 10**6) for _ in range(n))
    qs = [rng.choice(a) if rng.random() < 0.5 else rng.randint(-10**6, 10**6) for _ in range(q)]
    hidden.append(f"{n} {q}\n" + " ".join(map(str, a)) + "\n" + " ".join(map(str, qs)) + "\n")
    a = sorted(rng.randint(0, 100) for _ in range(1000))
    qs = [rng.randint(-5, 105) for _ in range(1000)]
    hidden.append("1000 1000\n" + " ".join(map(str, a)) + "\n" + " ".join(map(str, qs)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
from bisect import bisect_left
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
a = list(map(int, data[2:2 + n]))
out = []
for x in map(int, data[2 + n:2 + n + q]):
    i = bisect_left(a, x)
    out.append(i + 1 if i < n else -1)
print(" ".join(map(str, out)))
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  std::vector<long long> a(n);
  for (auto& x : a) std::scanf("%lld", &x);
  for (int i = 0; i < q; ++i) {
    long long x;
    std::scanf("%lld", &x);
    long long k = std::lower_bound(a.begin(), a.end(), x) - a.begin();
    std::printf("%lld%c", k < n ? k + 1 : -1LL, i + 1 < q ? ' ' : '\n');
  }
}
"""

WRONG = [
    ("cpp17", "finds the first element greater than x", r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  std::vector<long long> a(n);
  for (auto& x : a) std::scanf("%lld", &x);
  for (int i = 0; i < q; ++i) {
    long long x;
    std::scanf("%lld", &x);
    long long k = std::upper_bound(a.begin(), a.end(), x) - a.begin();
    std::printf("%lld ", k < n ? k + 1 : -1LL);
  }
  std::printf("\n");
}
"""),
    ("python3", "linear scan per query (too slow)", r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
a = list(map(int, data[2:2 + n]))
out = []
for x in map(int, data[2 + n:2 + n + q]):
    k = 0
    while k < n and a[k] < x:
        k += 1
    out.append(k + 1 if k < n else -1)
print(*out)
"""),
]
