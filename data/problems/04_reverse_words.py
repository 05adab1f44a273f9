ID = "reverse-words"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "exact"}
STATEMENT = """Print the words of a line in reverse order, separated by single spaces.

Input: one line with 1 to 10^4 words of lowercase letters, separated by single spaces.
Output: the words in reverse order, separated by single spaces."""

def tests(rng):
    public = ["the quick brown fox\n"]
    hidden = ["hello\n", "a b\n", "one two three four five\n", "abc cba abc\n"]
    for n in (30, 10000):
        hidden.append(" ".join("".join(rng.choice("abcde") for _ in range(rng.randint(1, 6)))
                               for _ in range(n)) + "\n")
    return public, hidden

REF_PY = r"""
print(" ".join(reversed(input().split())))
"""

REF_CPP = r"""
#include <iostream>
#include <sstream>
#include <string>
#include <vector>
int main() {
  std::string line, w;
  std::getline(std::cin, line);
  std::istringstream in(line);
  std::vector<std::string> words;
  while (in >> w) words.push_back(w);
  for (size_t i = words.size(); i-- > 0;) std::cout << words[i] << (i ? " " : "\n");
}
"""

WRONG = [
    ("python3", "reverses the characters", r"""
print(input()[::-1])
"""),
    ("cpp17", "leaves a trailing space", r"""
#include <iostream>
#include <sstream>
#include <string>
#include <vector>
int main() {
  std::string line, w;
  std::getline(std::cin, line);
  std::istringstream in(line);
  std::vector<std::string> words;
  while (in >> w) words.push_back(w);
  for (size_t i = words.size(); i-- > 0;) std::cout << words[i] << " ";
  std::cout << "\n";
}
"""),
]
