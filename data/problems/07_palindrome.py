ID = "palindrome"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Decide whether a string reads the same backwards.

Input: a string of 1 to 10^5 lowercase letters.
Output: YES or NO."""

def tests(rng):
    public = ["racecar\n", "abca\n"]
    hidden = ["a\n", "ab\n", "aa\n", "abcdba\n", "abccba\n", "abcxba\n"]
    half = "".join(rng.choice("ab") for _ in range(20000))
    hidden.append(half + half[::-1] + "\n")
    hidden.append(half + "c" + half[::-1][1:] + "d\n")
    return public, hidden

REF_PY = r"""
s = input().strip()
print("YES" if s == s[::-1] else "NO")
"""

REF_CPP = r"""
#include <iostream>
#include <string>
int main() {
  std::string s;
  std::cin >> s;
  bool ok = true;
  for (size_t i = 0, j = s.size() - 1; i < j; ++i, --j) ok = ok && s[i] == s[j];
  std::cout << (ok ? "YES" : "NO") << "\n";
}
"""

WRONG = [
    ("python3", "ignores the last character", r"""
s = input().strip()
t = s[:-1] if len(s) > 1 else s
print("YES" if t[: len(t) // 2] == t[::-1][: len(t) // 2] else "NO")
"""),
    ("cpp17", "compares only the first half to itself", r"""
#include <iostream>
#include <string>
int main() {
  std::string s;
  std::cin >> s;
  std::cout << (s.front() == s.back() ? "YES" : "NO") << "\n";
}
"""),
]
