ID = "two-sum"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Do two different positions i != j hold values with a_i + a_j = t?

Input: n and t (2 <= n <= 2*10^5, |t| <= 2*10^9), then n integers with |a_i| <= 10^9.
Output: YES or NO."""

def tests(rng):
    public = ["4 9\n2 7 11 15\n"]
    hidden = ["2 4\n2 2\n", "3 4\n2 1 5\n", "2 0\n0 1\n", "5 -3\n-1 -2 4 8 10\n", "3 10\n5 1 2\n"]
    n = 30000
    a = rng.sample(range(1, 10**9), n)
    hidden.append(f"{n} 3\n" + " ".join(map(str, a)) + "\n")  # NO: all values exceed 2
    b = [2 * x for x in rng.sample(range(1, 10**8), n)]
    b[-1], b[-2] = 7, 10
    hidden.append(f"{n} 17\n" + " ".join(map(str, b)) + "\n")  # YES only via the last two
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, t = int(data[0]), int(data[1])
seen = set()
found = False
for x in map(int, data[2:2 + n]):
    if t - x in seen:
        found = True
        break
    seen.add(x)
print("YES" if found else "NO")
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n;
  long long t;
  std::scanf("%d %lld", &n, &t);
  std::vector<long long> a(n);
  for (auto& x : a) std::scanf("%lld", &x);
  std::sort(a.begin(), a.end());
  int i = 0, j = n - 1;
  bool found = false;
  while (i < j) {
    long long s = a[i] + a[j];
    if (s == t) { found = true; break; }
    if (s < t) ++i; else --j;
  }
  std::puts(found ? "YES" : "NO");
}
"""

WRONG = [
    ("python3", "quadratic scan (too slow)", r"""
n, t = map(int, input().split())
a = list(map(int, input().split()))
found = any(a[i] + a[j] == t for i in range(n) for j in range(i + 1, n))
print("YES" if found else "NO")
"""),
    ("cpp17", "allows using one element twice", r"""
#include <cstdio>
#include <set>
int main() {
  int n;
  long long t;
  std::scanf("%d %lld", &n, &t);
  std::set<long long> values;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    values.insert(x);
  }
  for (long long x : values)
    if (values.count(t - x)) { std::puts("YES"); return 0; }
  std::puts("NO");
}
"""),
]
