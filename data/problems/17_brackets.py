ID = "balanced-brackets"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Is a string of brackets ()[]{} balanced?

Input: t (1 <= t <= 100) lines, each a string of 1 to 10^4 bracket characters.
Output: YES or NO per line."""

def tests(rng):
    public = ["3\n()[]{}\n([)]\n{[()]}\n"]
    hidden = ["1\n(\n", "1\n)(\n", "2\n((()))\n(((())\n", "1\n[(])\n"]
    def balanced(n):
        out, stack = [], []
        for _ in range(n):
            if stack and rng.random() < 0.5:
                out.append({"(": ")", "[": "]", "{": "}"}[stack.pop()])
            else:
                c = rng.choice("([{")
                stack.append(c)
                out.append(c)
        while stack:
            out.append({"(": ")", "[": "]", "{": "}"}[stack.pop()])
        return "".join(out)
    rows = [balanced(rng.randint(1, 4000)) for _ in range(50)]
    for k in range(0, 50, 3):
        s = list(rows[k])
        i = rng.randrange(len(s))
        s[i] = {"(": "]", ")": "(", "[": "}", "]": "[", "{": ")", "}": "{"}[s[i]]
        rows[k] = "".join(s)
    hidden.append("50\n" + "\n".join(rows) + "\n")
    hidden.append("2\n([]{)}\n" + "()" * 5000 + "\n")
    return public, hidden

REF_PY = r"""
import sys
lines = sys.stdin.read().split()
pairs = {")": "(", "]": "[", "}": "{"}
out = []
for s in lines[1:1 + int(lines[0])]:
    stack = []
    ok = True
    for c in s:
        if c in "([{":
            stack.append(c)
        elif not stack or stack.pop() != pairs[c]:
            ok = False
            break
    out.append("YES" if ok and not stack else "NO")
print("\n".join(out))
"""

REF_CPP = r"""
#include <iostream>
#include <string>
int main() {
  int t;
  std::cin >> t;
  while (t--) {
    std::string s, stack;
    std::cin >> s;
    bool ok = true;
    for (char c : s) {
      if (c == '(' || c == '[' || c == '{') {
        stack.push_back(c);
      } else {
        char want = c == ')' ? '(' : c == ']' ? '[' : '{';
        if (stack.empty() || stack.back() != want) { ok = false; break; }
        stack.pop_back();
      }
    }
    std::cout << (ok && stack.empty() ? "YES" : "NO") << "\n";
  }
}
"""

WRONG = [
    ("python3", "only counts opening and closing brackets", r"""
t = int(input())
for _ in range(t):
    s = input().strip()
    depth, ok = 0, True
    for c in s:
        depth += 1 if c in "([{" else -1
        ok = ok and depth >= 0
    print("YES" if ok and depth == 0 else "NO")
"""),
    ("cpp17", "forgets leftover open brackets", r"""
#include <iostream>
#include <string>
int main() {
  int t;
  std::cin >> t;
  while (t--) {
    std::string s, stack;
    std::cin >> s;
    bool ok = true;
    for (char c : s) {
      if (c == '(' || c == '[' || c == '{') { stack.push_back(c); continue; }
      char want = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (stack.empty() || stack.back() != want) { ok = false; break; }
      stack.pop_back();
    }
    std::cout << (ok ? "YES" : "NO") << "\n";
  }
}
"""),
]
