ID = "digit-sum"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the sum of the decimal digits of a non-negative integer with up to 10^5 digits.

Input: the integer, without leading zeros (or just 0).
Output: the sum of its digits."""

def tests(rng):
    public = ["12345\n"]
    hidden = ["0\n", "9\n", "1000000000000\n", "99999999999999999999\n"]
    for n in (30, 50000):
        hidden.append(str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 1)) + "\n")
    return public, hidden

REF_PY = r"""
print(sum(map(int, input().strip())))
"""

REF_CPP = r"""
#include <iostream>
#include <string>
int main() {
  std::string s;
  std::cin >> s;
  long long sum = 0;
  for (char c : s) sum += c - '0';
  std::cout << sum << "\n";
}
"""

WRONG = [
    ("cpp17", "parses the number into 64 bits", r"""
#include <cstdio>
int main() {
  unsigned long long x;
  std::scanf("%llu", &x);
  int sum = 0;
  while (x) { sum += x % 10; x /= 10; }
  std::printf("%d\n", sum);
}
"""),
    ("python3", "skips the first digit", r"""
s = input().strip()
print(sum(map(int, s[1:])) if len(s) > 1 else int(s))
"""),
]
