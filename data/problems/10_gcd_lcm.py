ID = "gcd-lcm"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the greatest common divisor and the least common multiple of two positive integers.

Input: a and b (1 <= a, b <= 10^9).
Output: gcd(a, b) and lcm(a, b) on one line."""

def tests(rng):
    public = ["12 18\n"]
    hidden = ["1 1\n", "7 13\n", "1000000000 999999999\n", "100 10\n", "999999937 999999929\n",
              f"{rng.randint(1, 10**9)} {rng.randint(1, 10**9)}\n"]
    return public, hidden

REF_PY = r"""
import math
a, b = map(int, input().split())
g = math.gcd(a, b)
print(g, a // g * b)
"""

REF_CPP = r"""
#include <cstdio>
#include <numeric>
int main() {
  long long a, b;
  std::scanf("%lld %lld", &a, &b);
  long long g = std::gcd(a, b);
  std::printf("%lld %lld\n", g, a / g * b);
}
"""

WRONG = [
    ("cpp17", "computes the product in 32 bits", r"""
#include <cstdio>
int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }
int main() {
  int a, b;
  std::scanf("%d %d", &a, &b);
  int g = gcd(a, b);
  std::printf("%d %d\n", g, a * b / g);
}
"""),
    ("python3", "prints the product as the lcm", r"""
import math
a, b = map(int, input().split())
print(math.gcd(a, b), a * b)
"""),
]
