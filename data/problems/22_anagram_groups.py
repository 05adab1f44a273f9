ID = "anagram-groups"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Two words are in the same group if one is an anagram of the other. How many groups do
n words form, and how large is the largest?

Input: n (1 <= n <= 10^5), then n words of 1 to 10 lowercase letters.
Output: the number of groups and the size of the largest group."""

def tests(rng):
    public = ["6\neat tea tan ate nat bat\n"]
    hidden = ["1\na\n", "3\nab ba ab\n", "4\nabc abd dab bad\n", "2\naab abb\n"]
    words = []
    for _ in range(20000):
        base = "".join(rng.choice("abcd") for _ in range(rng.randint(1, 5)))
        words.append("".join(rng.sample(base, len(base))))
    hidden.append("20000\n" + " ".join(words) + "\n")
    hidden.append("6\nabc bca cab abcd dcba z\n")
    return public, hidden

REF_PY = r"""
import sys
from collections import Counter
data = sys.stdin.read().split()
groups = Counter("".join(sorted(w)) for w in data[1:1 + int(data[0])])
print(len(groups), max(groups.values()))
"""

REF_CPP = r"""
#include <algorithm>
#include <iostream>
#include <map>
#include <string>
int main() {
  std::ios::sync_with_stdio(false);
  int n;
  std::cin >> n;
  std::map<std::string, int> groups;
  int largest = 0;
  for (int i = 0; i < n; ++i) {
    std::string w;
    std::cin >> w;
    std::sort(w.begin(), w.end());
    largest = std::max(largest, ++groups[w]);
  }
  std::cout << groups.size() << " " << largest << "\n";
}
"""

WRONG = [
    ("python3", "groups by the set of letters", r"""
from collections import Counter
n = int(input())
words = input().split()
groups = Counter(frozenset(w) for w in words)
print(len(groups), max(groups.values()))
"""),
    ("cpp17", "groups by length and first letter", r"""
#include <algorithm>
#include <iostream>
#include <map>
#include <string>
int main() {
  int n;
  std::cin >> n;
  std::map<std::pair<size_t, char>, int> groups;
  int largest = 0;
  for (int i = 0; i < n; ++i) {
    std::string w;
    std::cin >> w;
    char lo = *std::min_element(w.begin(), w.end());
    largest = std::max(largest, ++groups[{w.size(), lo}]);
  }
  std::cout << groups.size() << " " << largest << "\n";
}
"""),
]
