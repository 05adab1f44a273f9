ID = "prefix-sums"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the running sums s_1, ..., s_n where s_i = a_1 + ... + a_i.

Input: n (1 <= n <= 10^5), then n integers with |a_i| <= 10^9.
Output: the n running sums on one line."""

def tests(rng):
    public = ["4\n1 2 3 4\n"]
    hidden = ["1\n-5\n", "3\n1000000000 1000000000 1000000000\n", "5\n1 -1 1 -1 1\n"]
    for n in (100, 15000):
        hidden.append(f"{n}\n" + " ".join(str(rng.randint(-10**9, 10**9)) for _ in range(n)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
from itertools import accumulate
data = sys.stdin.buffer.read().split()
n = int(data[0])
print(" ".join(map(str, accumulate(map(int, data[1:1 + n])))))
"""

REF_CPP = r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  long long s = 0;
  for (int i = 0; i < n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    s += x;
    std::printf("%lld%c", s, i + 1 < n ? ' ' : '\n');
  }
}
"""

WRONG = [
    ("python3", "prints sums of the previous elements only", r"""
n = int(input())
a = list(map(int, input().split()))
s, out = 0, []
for x in a:
    out.append(s)
    s += x
print(*out)
"""),
    ("cpp17", "32-bit running sum", r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  int s = 0;
  for (int i = 0; i < n; ++i) {
    int x;
    std::scanf("%d", &x);
    s += x;
    std::printf("%d ", s);
  }
  std::printf("\n");
}
"""),
]
