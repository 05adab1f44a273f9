ID = "longest-common-subsequence"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 3000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the length of the longest common subsequence of two strings.

Input: two lines, each a string of 1 to 1000 lowercase letters.
Output: the length."""

def tests(rng):
    public = ["abcde\nace\n"]
    hidden = ["a\nb\n", "abc\nabc\n", "abcabc\nbca\n", "xaybzc\nabc\n"]
    hidden.append("".join(rng.choice("abcd") for _ in range(1000)) + "\n" +
                  "".join(rng.choice("abcd") for _ in range(1000)) + "\n")
    hidden.append("".join(rng.choice("ab") for _ in range(1000)) + "\n" +
                  "".join(rng.choice("ba") for _ in range(700)) + "\n")
    return public, hidden

REF_PY = r"""
a = input().strip()
b = input().strip()
prev = [0] * (len(b) + 1)
for ca in a:
    cur = [0] * (len(b) + 1)
    for j, cb in enumerate(b, 1):
        if ca == cb:
            cur[j] = prev[j - 1] + 1
        else:
            cur[j] = prev[j] if prev[j] > cur[j - 1] else cur[j - 1]
    prev = cur
print(prev[-1])
"""

REF_CPP = r"""
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>
int main() {
  std::string a, b;
  std::cin >> a >> b;
  std::vector<int> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (char ca : a) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = ca == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  std::cout << prev[b.size()] << "\n";
}
"""

WRONG = [
    ("python3", "longest common substring", r"""
a = input().strip()
b = input().strip()
best = 0
prev = [0] * (len(b) + 1)
for ca in a:
    cur = [0] * (len(b) + 1)
    for j, cb in enumerate(b, 1):
        if ca == cb:
            cur[j] = prev[j - 1] + 1
            best = max(best, cur[j])
    prev = cur
print(best)
"""),
    ("cpp17", "greedy matching left to right", r"""
#include <iostream>
#include <string>
int main() {
  std::string a, b;
  std::cin >> a >> b;
  size_t j = 0, len = 0;
  for (char c : a) {
    size_t k = b.find(c, j);
    if (k != std::string::npos) { ++len; j = k + 1; }
  }
  std::cout << len << "\n";
}
"""),
]
