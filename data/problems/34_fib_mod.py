ID = "fibonacci-mod"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """F(0) = 0, F(1) = 1, F(n) = F(n-1) + F(n-2). Print F(n) modulo 10^9+7.

Input: n (0 <= n <= 10^18).
Output: F(n) mod 1000000007."""

def tests(rng):
    return ["10\n"], ["0\n", "1\n", "2\n", "90\n", "1000000\n", "1000000000000000000\n",
                      f"{rng.randint(10**17, 10**18)}\n"]

REF_PY = r"""
n = int(input())
M = 10 ** 9 + 7
def fib(n):
    # Fast doubling: returns (F(n), F(n + 1)).
    if n == 0:
        return 0, 1
    a, b = fib(n >> 1)
    c = a * ((2 * b - a) % M) % M
    d = (a * a + b * b) % M
    return (d, (c + d) % M) if n & 1 else (c, d)
print(fib(n)[0])
"""

REF_CPP = r"""
#include <cstdio>
typedef unsigned long long u64;
const u64 M = 1000000007ULL;
struct Mat { u64 a, b, c, d; };
Mat mul(Mat x, Mat y) {
  return {(x.a * y.a + x.b * y.c) % M, (x.a * y.b + x.b * y.d) % M,
          (x.c * y.a + x.d * y.c) % M, (x.c * y.b + x.d * y.d) % M};
}
int main() {
  u64 n;
  std::scanf("%llu", &n);
  Mat r{1, 0, 0, 1}, base{1, 1, 1, 0};
  while (n) {
    if (n & 1) r = mul(r, base);
    base = mul(base, base);
    n >>= 1;
  }
  std::printf("%llu\n", r.b);
}
"""

WRONG = [
    ("python3", "iterates n times (too slow)", r"""
n = int(input())
a, b = 0, 1
for _ in range(n):
    a, b = b, (a + b) % (10 ** 9 + 7)
print(a)
"""),
    ("cpp17", "multiplies matrices in 32 bits", r"""
#include <cstdio>
typedef unsigned u32;
const u32 M = 1000000007u;
struct Mat { u32 a, b, c, d; };
Mat mul(Mat x, Mat y) {
  return {(x.a * y.a + x.b * y.c) % M, (x.a * y.b + x.b * y.d) % M,
          (x.c * y.a + x.d * y.c) % M, (x.c * y.b + x.d * y.d) % M};
}
int main() {
  unsigned long long n;
  std::scanf("%llu", &n);
  Mat r{1, 0, 0, 1}, base{1, 1, 1, 0};
  while (n) {
    if (n & 1) r = mul(r, base);
    base = mul(base, base);
    n >>= 1;
  }
  std::printf("%u\n", r.b);
}
"""),
]
