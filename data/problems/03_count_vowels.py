ID = "count-vowels"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Count the vowels (a, e, i, o, u, in either case) in a line of text.

Input: one line of up to 10^5 printable ASCII characters.
Output: the number of vowels."""

def tests(rng):
    public = ["Hello World\n"]
    letters = "abcdefghijklmnopqrstuvwxyzAEIOUaeiouXYZ ,.!"
    hidden = ["AEIOU aeiou\n", "rhythm\n", "Programming In C++ And Python!\n", "u\n"]
    for n in (50, 5000, 100000):
        hidden.append("".join(rng.choice(letters) for _ in range(n)) + "\n")
    return public, hidden

REF_PY = r"""
s = input()
print(sum(1 for c in s if c in "aeiouAEIOU"))
"""

REF_CPP = r"""
#include <iostream>
#include <string>
int main() {
  std::string s;
  std::getline(std::cin, s);
  int count = 0;
  for (char c : s) {
    switch (c) {
      case 'a': case 'e': case 'i': case 'o': case 'u':
      case 'A': case 'E': case 'I': case 'O': case 'U': ++count;
    }
  }
  std::cout << count << "\n";
}
"""

WRONG = [
    ("python3", "forgets upper case", r"""
s = input()
print(sum(1 for c in s if c in "aeiou"))
"""),
    ("cpp17", "counts y as a vowel", r"""
#include <iostream>
#include <string>
int main() {
  std::string s;
  std::getline(std::cin, s);
  int count = 0;
  for (char c : s) {
    char l = (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
    if (l == 'a' || l == 'e' || l == 'i' || l == 'o' || l == 'u' || l == 'y') ++count;
  }
  std::cout << count << "\n";
}
"""),
]
