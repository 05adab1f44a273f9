ID = "longest-increasing-subsequence"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the length of the longest strictly increasing subsequence of n integers.

Input: n (1 <= n <= 10^5), then n integers with |a_i| <= 10^9.
Output: the length."""

def tests(rng):
    public = ["8\n10 9 2 5 3 7 101 18\n"]
    hidden = ["1\n5\n", "5\n5 4 3 2 1\n", "5\n2 2 2 2 2\n", "6\n1 3 2 4 3 5\n"]
    for n in (1000, 30000):
        hidden.append(f"{n}\n" + " ".join(str(rng.randint(-10**9, 10**9)) for _ in range(n)) + "\n")
    hidden.append("30000\n" + " ".join(str(i) for i in range(30000)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
from bisect import bisect_left
data = sys.stdin.buffer.read().split()
n = int(data[0])
tails = []
for x in map(int, data[1:1 + n]):
    i = bisect_left(tails, x)
    if i == len(tails):
        tails.append(x)
    else:
        tails[i] = x
print(len(tails))
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<long long> tails;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    auto it = std::lower_bound(tails.begin(), tails.end(), x);
    if (it == tails.end()) tails.push_back(x); else *it = x;
  }
  std::printf("%zu\n", tails.size());
}
"""

WRONG = [
    ("python3", "quadratic dynamic programming (too slow)", r"""
n = int(input())
a = list(map(int, input().split()))
best = [1] * n
for i in range(n):
    for j in range(i):
        if a[j] < a[i] and best[j] + 1 > best[i]:
            best[i] = best[j] + 1
print(max(best))
"""),
    ("cpp17", "non-decreasing instead of increasing", r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<long long> tails;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    auto it = std::upper_bound(tails.begin(), tails.end(), x);
    if (it == tails.end()) tails.push_back(x); else *it = x;
  }
  std::printf("%zu\n", tails.size());
}
"""),
]
