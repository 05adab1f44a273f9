ID = "second-largest"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the second largest distinct value among n integers, or NONE if all are equal.

Input: n (1 <= n <= 10^5), then n integers with |a_i| <= 10^9.
Output: the second largest distinct value, or NONE."""

def tests(rng):
    public = ["5\n1 5 3 5 4\n"]
    hidden = ["1\n7\n", "3\n2 2 2\n", "2\n-1 -2\n", "4\n9 9 8 8\n"]
    for n in (100, 20000):
        hidden.append(f"{n}\n" + " ".join(str(rng.randint(-10**9, 10**9)) for _ in range(n)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
values = sorted(set(map(int, data[1:1 + int(data[0])])))
print(values[-2] if len(values) > 1 else "NONE")
"""

REF_CPP = r"""
#include <cstdio>
#include <set>
int main() {
  int n;
  std::scanf("%d", &n);
  std::set<long long> s;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    s.insert(x);
  }
  if (s.size() < 2) {
    std::puts("NONE");
  } else {
    auto it = s.end();
    --it;
    --it;
    std::printf("%lld\n", *it);
  }
}
"""

WRONG = [
    ("python3", "does not remove duplicates", r"""
n = int(input())
a = sorted(map(int, input().split()))
print(a[-2] if n > 1 else "NONE")
"""),
    ("cpp17", "prints the largest when all are equal", r"""
#include <algorithm>
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<long long> a(n);
  for (auto& x : a) std::scanf("%lld", &x);
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  std::printf("%lld\n", a.size() > 1 ? a[a.size() - 2] : a[0]);
}
"""),
]
