ID = "edit-distance"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 3000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """The edit distance of two strings is the least number of single-character insertions,
deletions and substitutions turning one into the other. Print it.

Input: two lines, each a string of 1 to 1000 lowercase letters.
Output: the edit distance."""

def tests(rng):
    public = ["kitten\nsitting\n"]
    hidden = ["a\na\n", "a\nb\n", "abc\nyabd\n", "intention\nexecution\n", "abcdef\nazced\n"]
    s = "".join(rng.choice("abc") for _ in range(1000))
    t = list(s)
    for _ in range(150):
        t[rng.randrange(len(t))] = rng.choice("abcd")
    hidden.append(s + "\n" + "".join(t)[:900] + "\n")
    return public, hidden

REF_PY = r"""
a = input().strip()
b = input().strip()
prev = list(range(len(b) + 1))
for i, ca in enumerate(a, 1):
    # One row of the DP; comparisons instead of min() keep the 10^6 cells well inside the limit.
    cur = [i]
    left = i
    for cb, diagonal, up in zip(b, prev, prev[1:]):
        best = diagonal + (ca != cb)
        if up + 1 < best:
            best = up + 1
        if left + 1 < best:
            best = left + 1
        cur.append(best)
        left = best
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
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  std::cout << prev[b.size()] << "\n";
}
"""

WRONG = [
    ("python3", "distance from the longest common subsequence", r"""
a = input().strip()
b = input().strip()
prev = [0] * (len(b) + 1)
for ca in a:
    cur = [0]
    for j, cb in enumerate(b, 1):
        cur.append(prev[j - 1] + 1 if ca == cb else max(prev[j], cur[j - 1]))
    prev = cur
print(len(a) + len(b) - 2 * prev[-1])
"""),
    ("cpp17", "counts differing positions only", r"""
#include <algorithm>
#include <iostream>
#include <string>
int main() {
  std::string a, b;
  std::cin >> a >> b;
  size_t d = std::max(a.size(), b.size()) - std::min(a.size(), b.size());
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d += a[i] != b[i];
  std::cout << d << "\n";
}
"""),
]
