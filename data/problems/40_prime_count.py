ID = "prime-count"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Count the primes not greater than n.

Input: n (1 <= n <= 10^7).
Output: the number of primes p <= n."""

def tests(rng):
    return ["10\n"], ["1\n", "2\n", "100\n", "7919\n", "1000000\n", "10000000\n", f"{rng.randint(10**6, 10**7)}\n"]

REF_PY = r"""
n = int(input())
sieve = bytearray([1]) * (n + 1)
sieve[0:2] = b"\x00\x00"[: min(2, n + 1)]
i = 2
while i * i <= n:
    if sieve[i]:
        sieve[i * i::i] = bytes(len(range(i * i, n + 1, i)))
    i += 1
print(sum(sieve))
"""

REF_CPP = r"""
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<bool> composite(n + 1, false);
  int count = 0;
  for (long long i = 2; i <= n; ++i) {
    if (composite[i]) continue;
    ++count;
    for (long long j = i * i; j <= n; j += i) composite[j] = true;
  }
  std::printf("%d\n", count);
}
"""

WRONG = [
    ("python3", "trial division by every smaller number (too slow)", r"""
n = int(input())
count = 0
for k in range(2, n + 1):
    d = 2
    while d * d <= k and k % d:
        d += 1
    if d * d > k:
        count += 1
print(count)
"""),
    ("cpp17", "counts 1 as a prime", r"""
#include <cstdio>
#include <vector>
int main() {
  int n;
  std::scanf("%d", &n);
  std::vector<bool> composite(n + 1, false);
  int count = 0;
  for (long long i = 1; i <= n; ++i) {
    if (composite[i]) continue;
    ++count;
    if (i > 1) for (long long j = i * i; j <= n; j += i) composite[j] = true;
  }
  std::printf("%d\n", count);
}
"""),
]
