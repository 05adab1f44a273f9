ID = "triangle"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Classify the triangle with sides a, b, c: equilateral, isosceles, scalene, or invalid
if the sides do not form a triangle of positive area.

Input: t (1 <= t <= 1000) lines, each with a b c (1 <= a, b, c <= 10^9).
Output: one word per line."""

def tests(rng):
    public = ["3\n3 3 3\n3 4 5\n1 2 3\n"]
    hidden = ["1\n2 2 3\n", "1\n1 1 2\n", "2\n1000000000 1000000000 1\n1 1 1000000000\n",
              "3\n5 3 3\n3 5 3\n7 10 5\n"]
    rows = [f"{rng.randint(1, 10)} {rng.randint(1, 10)} {rng.randint(1, 10)}" for _ in range(1000)]
    hidden.append("1000\n" + "\n".join(rows) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.read().split()
out = []
for i in range(int(data[0])):
    a, b, c = sorted(map(int, data[1 + 3 * i:4 + 3 * i]))
    if a + b <= c:
        out.append("invalid")
    elif a == c:
        out.append("equilateral")
    elif a == b or b == c:
        out.append("isosceles")
    else:
        out.append("scalene")
print("\n".join(out))
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
int main() {
  int t;
  std::scanf("%d", &t);
  while (t--) {
    long long s[3];
    std::scanf("%lld %lld %lld", &s[0], &s[1], &s[2]);
    std::sort(s, s + 3);
    if (s[0] + s[1] <= s[2]) std::puts("invalid");
    else if (s[0] == s[2]) std::puts("equilateral");
    else if (s[0] == s[1] || s[1] == s[2]) std::puts("isosceles");
    else std::puts("scalene");
  }
}
"""

WRONG = [
    ("python3", "never says invalid", r"""
t = int(input())
for _ in range(t):
    a, b, c = map(int, input().split())
    if a == b == c:
        print("equilateral")
    elif a == b or b == c or a == c:
        print("isosceles")
    else:
        print("scalene")
"""),
    ("cpp17", "checks the inequality without sorting", r"""
#include <cstdio>
int main() {
  int t;
  std::scanf("%d", &t);
  while (t--) {
    long long a, b, c;
    std::scanf("%lld %lld %lld", &a, &b, &c);
    if (a + b <= c) std::puts("invalid");
    else if (a == b && b == c) std::puts("equilateral");
    else if (a == b || b == c || a == c) std::puts("isosceles");
    else std::puts("scalene");
  }
}
"""),
]
