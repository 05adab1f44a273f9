ID = "kth-smallest"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Answer q queries on n integers: the k-th smallest value (k counted from 1).

Input: n and q (1 <= n, q <= 2*10^5), the n integers (|a_i| <= 10^9), then q values k
(1 <= k <= n).
Output: q answers on one line."""

def tests(rng):
    public = ["5 3\n5 1 4 2 3\n1 3 5\n"]
    hidden = ["1 1\n-3\n1\n", "4 4\n2 2 1 1\n1 2 3 4\n", "3 2\n10 -10 0\n2 3\n"]
    n = q = 20000
    a = [rng.randint(-10**9, 10**9) for _ in range(n)]
    ks = [rng.randint(1, n) for _ in range(q)]
    hidden.append(f"{n} {q}\n" + " ".join(map(str, a)) + "\n" + " ".join(map(str, ks)) + "\n")
    hidden.append("6 6\n6 5 4 3 2 1\n6 5 4 3 2 1\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
a = sorted(map(int, data[2:2 + n]))
print(" ".join(str(a[int(k) - 1]) for k in data[2 + n:2 + n + q]))
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
  std::sort(a.begin(), a.end());
  for (int i = 0; i < q; ++i) {
    int k;
    std::scanf("%d", &k);
    std::printf("%lld%c", a[k - 1], i + 1 < q ? ' ' : '\n');
  }
}
"""

WRONG = [
    ("cpp17", "treats k as 0-based", r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  std::vector<long long> a(n);
  for (auto& x : a) std::scanf("%lld", &x);
  std::sort(a.begin(), a.end());
  for (int i = 0; i < q; ++i) {
    int k;
    std::scanf("%d", &k);
    std::printf("%lld ", a[std::min(k, n - 1)]);
  }
  std::printf("\n");
}
"""),
    ("python3", "sorts a copy for every query (too slow)", r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
a = list(map(int, data[2:2 + n]))
out = []
for k in data[2 + n:2 + n + q]:
    out.append(sorted(a)[int(k) - 1])
print(*out)
"""),
]
