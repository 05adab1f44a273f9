ID = "roman-to-int"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Convert Roman numerals (I V X L C D M, with subtractive pairs such as IV, IX, XL, XC,
CD, CM) to integers.

Input: t (1 <= t <= 10^4), then t numerals, each for a value in 1..3999.
Output: t integers, one per line."""

def to_roman(n):
    parts = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
             (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for v, s in parts:
        while n >= v:
            out += s
            n -= v
    return out

def tests(rng):
    public = ["3\nIII\nLVIII\nMCMXCIV\n"]
    hidden = ["1\nIV\n", "2\nMMMCMXCIX\nI\n", "3\nXL\nXC\nCD\n", "2\nCM\nIX\n"]
    hidden.append("10000\n" + "\n".join(to_roman(rng.randint(1, 3999)) for _ in range(10000)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
V = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
out = []
for s in sys.stdin.read().split()[1:]:
    total = 0
    for i, c in enumerate(s):
        v = V[c]
        total += -v if i + 1 < len(s) and V[s[i + 1]] > v else v
    out.append(total)
print("\n".join(map(str, out)))
"""

REF_CPP = r"""
#include <iostream>
#include <string>
int value(char c) {
  switch (c) {
    case 'I': return 1; case 'V': return 5; case 'X': return 10; case 'L': return 50;
    case 'C': return 100; case 'D': return 500; default: return 1000;
  }
}
int main() {
  int t;
  std::cin >> t;
  while (t--) {
    std::string s;
    std::cin >> s;
    int total = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      int v = value(s[i]);
      total += (i + 1 < s.size() && value(s[i + 1]) > v) ? -v : v;
    }
    std::cout << total << "\n";
  }
}
"""

WRONG = [
    ("python3", "ignores subtractive notation", r"""
V = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
t = int(input())
for _ in range(t):
    print(sum(V[c] for c in input().strip()))
"""),
    ("cpp17", "subtracts only for I", r"""
#include <iostream>
#include <string>
int value(char c) {
  switch (c) {
    case 'I': return 1; case 'V': return 5; case 'X': return 10; case 'L': return 50;
    case 'C': return 100; case 'D': return 500; default: return 1000;
  }
}
int main() {
  int t;
  std::cin >> t;
  while (t--) {
    std::string s;
    std::cin >> s;
    int total = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      int v = value(s[i]);
      total += (s[i] == 'I' && i + 1 < s.size() && value(s[i + 1]) > v) ? -v : v;
    }
    std::cout << total << "\n";
  }
}
"""),
]
