ID = "count-bsts"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """How many structurally different binary search trees hold the keys 1..n? Print the
count modulo 10^9+7.

Input: n (1 <= n <= 5000).
Output: the count modulo 1000000007."""

def tests(rng):
    return ["3\n"], ["1\n", "2\n", "5\n", "19\n", "20\n", "1000\n", "5000\n"]

REF_PY = r"""
n = int(input())
M = 10 ** 9 + 7
# C(2n, n) / (n + 1) modulo a prime.
num = den = 1
for i in range(1, n + 1):
    num = num * (n + i) % M
    den = den * i % M
den = den * (n + 1) % M
print(num * pow(den, M - 2, M) % M)
"""

REF_CPP = r"""
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  const long long M = 1000000007;
  std::vector<long long> c(n + 1, 0);
  c[0] = 1;
  for (int i = 1; i <= n; ++i)
    for (int j = 0; j < i; ++j) c[i] = (c[i] + c[j] * c[i - 1 - j]) % M;
  std::printf("%lld\n", c[n]);
}
"""

WRONG = [
    ("python3", "recursion without memoisation (too slow)", r"""
import sys
sys.setrecursionlimit(10000)
def count(n):
    if n <= 1:
        return 1
    return sum(count(i) * count(n - 1 - i) for i in range(n)) % (10 ** 9 + 7)
print(count(int(input())))
"""),
    ("cpp17", "forgets the modulus", r"""
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<unsigned long long> c(n + 1, 0);
  c[0] = 1;
  for (int i = 1; i <= n; ++i)
    for (int j = 0; j < i; ++j) c[i] += c[j] * c[i - 1 - j];
  std::printf("%llu\n", c[n]);
}
"""),
]
