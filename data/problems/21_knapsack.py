ID = "knapsack"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Choose a subset of n items, each with a weight and a value, of total weight at most W
and the largest total value. Each item is taken at most once.

Input: n and W (1 <= n <= 100, 1 <= W <= 10^4), then n lines "w_i v_i" (1 <= w_i <= 10^4,
0 <= v_i <= 10^9).
Output: the largest total value."""

def tests(rng):
    public = ["3 50\n10 60\n20 100\n30 120\n"]
    hidden = ["1 5\n6 100\n", "1 5\n5 7\n", "3 10\n5 10\n4 40\n6 30\n", "4 7\n1 1\n3 4\n4 5\n5 7\n"]
    rows = [f"{rng.randint(1, 300)} {rng.randint(0, 10**9)}" for _ in range(100)]
    hidden.append("100 10000\n" + "\n".join(rows) + "\n")
    rows = [f"{rng.randint(1, 10000)} {rng.randint(0, 1000)}" for _ in range(100)]
    hidden.append("100 10000\n" + "\n".join(rows) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, W = int(data[0]), int(data[1])
best = [0] * (W + 1)
for i in range(n):
    w, v = int(data[2 + 2 * i]), int(data[3 + 2 * i])
    if w > W:
        continue
    # Shifted maxima, highest weights first, one list operation per item.
    shifted = [a + v for a in best[: W + 1 - w]]
    best[w:] = [max(a, b) for a, b in zip(best[w:], shifted)]
print(max(best))
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n, W;
  std::scanf("%d %d", &n, &W);
  std::vector<long long> best(W + 1, 0);
  for (int i = 0; i < n; ++i) {
    int w;
    long long v;
    std::scanf("%d %lld", &w, &v);
    for (int c = W; c >= w; --c) best[c] = std::max(best[c], best[c - w] + v);
  }
  std::printf("%lld\n", *std::max_element(best.begin(), best.end()));
}
"""

WRONG = [
    ("python3", "greedy by value per weight", r"""
n, W = map(int, input().split())
items = [tuple(map(int, input().split())) for _ in range(n)]
items.sort(key=lambda it: it[1] / it[0], reverse=True)
total = value = 0
for w, v in items:
    if total + w <= W:
        total += w
        value += v
print(value)
"""),
    ("cpp17", "lets an item be taken twice", r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n, W;
  std::scanf("%d %d", &n, &W);
  std::vector<long long> best(W + 1, 0);
  for (int i = 0; i < n; ++i) {
    int w;
    long long v;
    std::scanf("%d %lld", &w, &v);
    for (int c = w; c <= W; ++c) best[c] = std::max(best[c], best[c - w] + v);
  }
  std::printf("%lld\n", best[W]);
}
"""),
]
