ID = "sliding-window-maximum"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the maximum of every window of k consecutive elements.

Input: n and k (1 <= k <= n <= 2*10^5), then n integers with |a_i| <= 10^9.
Output: n - k + 1 maxima on one line."""

def tests(rng):
    public = ["8 3\n1 3 -1 -3 5 3 6 7\n"]
    hidden = ["1 1\n5\n", "3 3\n1 2 3\n", "4 1\n4 3 2 1\n", "5 2\n5 4 3 2 1\n"]
    n = 30000
    hidden.append(f"{n} 15000\n" + " ".join(str(rng.randint(-10**6, 10**6)) for _ in range(n)) + "\n")
    hidden.append(f"{n} 7\n" + " ".join(str(rng.randint(-10, 10)) for _ in range(n)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
from collections import deque
data = sys.stdin.buffer.read().split()
n, k = int(data[0]), int(data[1])
a = list(map(int, data[2:2 + n]))
dq = deque()
out = []
for i, x in enumerate(a):
    while dq and a[dq[-1]] <= x:
        dq.pop()
    dq.append(i)
    if dq[0] <= i - k:
        dq.popleft()
    if i >= k - 1:
        out.append(a[dq[0]])
print(" ".join(map(str, out)))
"""

REF_CPP = r"""
#include <cstdio>
#include <deque>
#include <vector>
int main() {
  int n, k;
  std::scanf("%d %d", &n, &k);
  std::vector<long long> a(n);
  for (auto& x : a) std::scanf("%lld", &x);
  std::deque<int> dq;
  for (int i = 0; i < n; ++i) {
    while (!dq.empty() && a[dq.back()] <= a[i]) dq.pop_back();
    dq.push_back(i);
    if (dq.front() <= i - k) dq.pop_front();
    if (i >= k - 1) std::printf("%lld%c", a[dq.front()], i + 1 < n ? ' ' : '\n');
  }
}
"""

WRONG = [
    ("python3", "rescans every window (too slow)", r"""
n, k = map(int, input().split())
a = list(map(int, input().split()))
out = []
for i in range(n - k + 1):
    best = a[i]
    for j in range(i, i + k):
        if a[j] > best:
            best = a[j]
    out.append(best)
print(*out)
"""),
    ("cpp17", "drops indices one step late", r"""
#include <cstdio>
#include <deque>
#include <vector>
int main() {
  int n, k;
  std::scanf("%d %d", &n, &k);
  std::vector<long long> a(n);
  for (auto& x : a) std::scanf("%lld", &x);
  std::deque<int> dq;
  for (int i = 0; i < n; ++i) {
    while (!dq.empty() && a[dq.back()] <= a[i]) dq.pop_back();
    dq.push_back(i);
    if (dq.front() < i - k) dq.pop_front();
    if (i >= k - 1) std::printf("%lld ", a[dq.front()]);
  }
  std::printf("\n");
}
"""),
]
