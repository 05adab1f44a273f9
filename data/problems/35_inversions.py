ID = "count-inversions"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 3000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Count the pairs i < j with a_i > a_j.

Input: n (1 <= n <= 2*10^5), then n integers with |a_i| <= 10^9.
Output: the number of inversions."""

def tests(rng):
    public = ["5\n2 4 1 3 5\n"]
    hidden = ["1\n7\n", "3\n3 2 1\n", "4\n1 1 1 1\n", "5\n5 4 3 2 1\n", "6\n2 2 1 1 3 3\n"]
    hidden.append("30000\n" + " ".join(str(rng.randint(-10**9, 10**9)) for _ in range(30000)) + "\n")
    hidden.append("30000\n" + " ".join(str(30000 - i) for i in range(30000)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n = int(data[0])
a = list(map(int, data[1:1 + n]))
# Fenwick tree over ranks, counting greater elements already seen.
ranks = {v: i + 1 for i, v in enumerate(sorted(set(a)))}
size = len(ranks)
tree = [0] * (size + 1)
inversions = 0
for seen, v in enumerate(a):
    r = ranks[v]
    s, i = 0, r
    while i > 0:
        s += tree[i]
        i -= i & -i
    inversions += seen - s
    while r <= size:
        tree[r] += 1
        r += r & -r
print(inversions)
"""

REF_CPP = r"""
#include <cstdio>
#include <vector>
long long sort_count(std::vector<long long>& a, std::vector<long long>& tmp, int lo, int hi) {
  if (hi - lo < 2) return 0;
  int mid = (lo + hi) / 2;
  long long c = sort_count(a, tmp, lo, mid) + sort_count(a, tmp, mid, hi);
  int i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    if (a[j] < a[i]) { c += mid - i; tmp[k++] = a[j++]; } else { tmp[k++] = a[i++]; }
  }
  while (i < mid) tmp[k++] = a[i++];
  while (j < hi) tmp[k++] = a[j++];
  for (int t = lo; t < hi; ++t) a[t] = tmp[t];
  return c;
}
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<long long> a(n), tmp(n);
  for (auto& x : a) std::scanf("%lld", &x);
  std::printf("%lld\n", sort_count(a, tmp, 0, n));
}
"""

WRONG = [
    ("python3", "checks every pair (too slow)", r"""
n = int(input())
a = list(map(int, input().split()))
print(sum(1 for i in range(n) for j in range(i + 1, n) if a[i] > a[j]))
"""),
    ("cpp17", "counts equal pairs as inversions", r"""
#include <cstdio>
#include <vector>
long long sort_count(std::vector<long long>& a, std::vector<long long>& tmp, int lo, int hi) {
  if (hi - lo < 2) return 0;
  int mid = (lo + hi) / 2;
  long long c = sort_count(a, tmp, lo, mid) + sort_count(a, tmp, mid, hi);
  int i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    if (a[j] <= a[i]) { c += mid - i; tmp[k++] = a[j++]; } else { tmp[k++] = a[i++]; }
  }
  while (i < mid) tmp[k++] = a[i++];
  while (j < hi) tmp[k++] = a[j++];
  for (int t = lo; t < hi; ++t) a[t] = tmp[t];
  return c;
}
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<long long> a(n), tmp(n);
  for (auto& x : a) std::scanf("%lld", &x);
  std::printf("%lld\n", sort_count(a, tmp, 0, n));
}
"""),
]
