ID = "sum-two"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Read two integers a and b (|a|, |b| <= 10^18) and print a + b.

Input: one line with a and b.
Output: a + b."""

def tests(rng):
    public = ["1 2\n"]
    hidden = ["-5 7\n", "0 0\n", "2000000000 2000000000\n",
              "1000000000000000000 -1000000000000000000\n", "999999999999999999 1\n",
              f"{rng.randint(-10**18, 10**18)} {rng.randint(-10**18, 10**18)}\n"]
    return public, hidden

REF_PY = r"""
a, b = map(int, input().split())
print(a + b)
"""

REF_CPP = r"""
#include <iostream>
int main() {
  long long a, b;
  std::cin >> a >> b;
  std::cout << a + b << "\n";
}
"""

WRONG = [
    ("cpp17", "32-bit overflow", r"""
#include <cstdio>
int main() {
  long long a, b;
  std::scanf("%lld %lld", &a, &b);
  int s = static_cast<int>(a) + static_cast<int>(b);
  std::printf("%d\n", s);
}
"""),
    ("python3", "string concatenation", r"""
a, b = input().split()
print(a + b)
"""),
]
