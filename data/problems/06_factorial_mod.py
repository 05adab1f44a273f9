ID = "factorial-mod"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print n! modulo 1000000007.

Input: n (0 <= n <= 10^6).
Output: n! mod 1000000007."""

def tests(rng):
    return ["5\n"], ["0\n", "1\n", "12\n", "13\n", "20\n", "1000\n", "1000000\n", f"{rng.randint(1, 10**6)}\n"]

REF_PY = r"""
n = int(input())
m = 10 ** 9 + 7
r = 1
for i in range(2, n + 1):
    r = r * i % m
print(r)
"""

REF_CPP = r"""
#include <cstdio>
int main() {
  long long n, r = 1;
  const long long m = 1000000007;
  std::scanf("%lld", &n);
  for (long long i = 2; i <= n; ++i) r = r * i % m;
  std::printf("%lld\n", r);
}
"""

WRONG = [
    ("python3", "off by one in the loop", r"""
n = int(input())
r = 1
for i in range(1, n):
    r = r * i % (10 ** 9 + 7)
print(r)
"""),
    ("cpp17", "multiplies in 32 bits", r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  unsigned r = 1;
  for (int i = 2; i <= n; ++i) r = r * i % 1000000007u;
  std::printf("%u\n", r);
}
"""),
]
