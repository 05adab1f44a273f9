ID = "merge-intervals"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Merge n closed intervals [l, r]; intervals that overlap or touch (share a point) merge.
Print the number of merged intervals and their total length (sum of r - l).

Input: n (1 <= n <= 10^5), then n lines "l r" (0 <= l <= r <= 10^9).
Output: the count and the total length."""

def tests(rng):
    public = ["4\n1 3\n2 6\n8 10\n15 18\n"]
    hidden = ["1\n5 5\n", "2\n1 2\n2 3\n", "3\n5 6\n1 2\n3 4\n", "3\n1 10\n2 3\n4 5\n"]
    rows = []
    for _ in range(20000):
        l = rng.randint(0, 10**9 - 1000)
        rows.append(f"{l} {l + rng.randint(0, 1000)}")
    hidden.append("20000\n" + "\n".join(rows) + "\n")
    rows = []
    for _ in range(1000):
        l = rng.randint(0, 100000)
        rows.append(f"{l} {l + rng.randint(0, 300)}")
    hidden.append("1000\n" + "\n".join(rows) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n = int(data[0])
iv = sorted(zip(map(int, data[1:2 * n + 1:2]), map(int, data[2:2 * n + 2:2])))
count = total = 0
cur_l, cur_r = iv[0]
for l, r in iv[1:]:
    if l <= cur_r:
        cur_r = max(cur_r, r)
    else:
        count += 1
        total += cur_r - cur_l
        cur_l, cur_r = l, r
count += 1
total += cur_r - cur_l
print(count, total)
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<std::pair<long long, long long>> iv(n);
  for (auto& [l, r] : iv) std::scanf("%lld %lld", &l, &r);
  std::sort(iv.begin(), iv.end());
  long long count = 0, total = 0, cl = iv[0].first, cr = iv[0].second;
  for (int i = 1; i < n; ++i) {
    if (iv[i].first <= cr) {
      cr = std::max(cr, iv[i].second);
    } else {
      ++count;
      total += cr - cl;
      cl = iv[i].first;
      cr = iv[i].second;
    }
  }
  std::printf("%lld %lld\n", count + 1, total + cr - cl);
}
"""

WRONG = [
    ("python3", "does not sort first", r"""
n = int(input())
iv = [tuple(map(int, input().split())) for _ in range(n)]
count = total = 0
cl, cr = iv[0]
for l, r in iv[1:]:
    if l <= cr:
        cr = max(cr, r)
    else:
        count += 1
        total += cr - cl
        cl, cr = l, r
print(count + 1, total + cr - cl)
"""),
    ("cpp17", "keeps the right end of the last interval, not the largest", r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<std::pair<long long, long long>> iv(n);
  for (auto& [l, r] : iv) std::scanf("%lld %lld", &l, &r);
  std::sort(iv.begin(), iv.end());
  long long count = 0, total = 0, cl = iv[0].first, cr = iv[0].second;
  for (int i = 1; i < n; ++i) {
    if (iv[i].first <= cr) {
      cr = iv[i].second;
    } else {
      ++count;
      total += cr - cl;
      cl = iv[i].first;
      cr = iv[i].second;
    }
  }
  std::printf("%lld %lld\n", count + 1, total + cr - cl);
}
"""),
]
