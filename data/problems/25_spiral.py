ID = "spiral-order"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the entries of an r x c matrix in clockwise spiral order, starting at the top-left.

Input: r and c (1 <= r, c <= 500), then r rows of c integers.
Output: the r*c entries on one line."""

def tests(rng):
    public = ["3 3\n1 2 3\n4 5 6\n7 8 9\n"]
    hidden = ["1 1\n5\n", "1 4\n1 2 3 4\n", "4 1\n1\n2\n3\n4\n", "3 4\n1 2 3 4\n5 6 7 8\n9 10 11 12\n",
              "4 3\n1 2 3\n4 5 6\n7 8 9\n10 11 12\n"]
    r, c = 200, 151
    hidden.append(f"{r} {c}\n" + "\n".join(" ".join(str(rng.randint(0, 99)) for _ in range(c))
                                          for _ in range(r)) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
r, c = int(data[0]), int(data[1])
m = [data[2 + i * c:2 + (i + 1) * c] for i in range(r)]
top, bottom, left, right = 0, r - 1, 0, c - 1
out = []
while top <= bottom and left <= right:
    out.extend(m[top][left:right + 1])
    for i in range(top + 1, bottom + 1):
        out.append(m[i][right])
    if top < bottom:
        out.extend(reversed(m[bottom][left:right]))
    if left < right:
        for i in range(bottom - 1, top, -1):
            out.append(m[i][left])
    top, bottom, left, right = top + 1, bottom - 1, left + 1, right - 1
print(b" ".join(out).decode())
"""

REF_CPP = r"""
#include <cstdio>
#include <vector>
int main() {
  int r, c;
  std::scanf("%d %d", &r, &c);
  std::vector<std::vector<int>> m(r, std::vector<int>(c));
  for (auto& row : m) for (int& x : row) std::scanf("%d", &x);
  int top = 0, bottom = r - 1, left = 0, right = c - 1;
  std::vector<int> out;
  while (top <= bottom && left <= right) {
    for (int j = left; j <= right; ++j) out.push_back(m[top][j]);
    for (int i = top + 1; i <= bottom; ++i) out.push_back(m[i][right]);
    if (top < bottom) for (int j = right - 1; j >= left; --j) out.push_back(m[bottom][j]);
    if (left < right) for (int i = bottom - 1; i > top; --i) out.push_back(m[i][left]);
    ++top, --bottom, ++left, --right;
  }
  for (size_t i = 0; i < out.size(); ++i) std::printf("%d%c", out[i], i + 1 < out.size() ? ' ' : '\n');
}
"""

WRONG = [
    ("python3", "repeats entries of a single remaining row or column", r"""
r, c = map(int, input().split())
m = [input().split() for _ in range(r)]
top, bottom, left, right = 0, r - 1, 0, c - 1
out = []
while top <= bottom and left <= right:
    out.extend(m[top][left:right + 1])
    for i in range(top + 1, bottom + 1):
        out.append(m[i][right])
    out.extend(reversed(m[bottom][left:right]))
    for i in range(bottom - 1, top, -1):
        out.append(m[i][left])
    top, bottom, left, right = top + 1, bottom - 1, left + 1, right - 1
print(*out)
"""),
    ("cpp17", "walks counter-clockwise", r"""
#include <cstdio>
#include <vector>
int main() {
  int r, c;
  std::scanf("%d %d", &r, &c);
  std::vector<std::vector<int>> m(r, std::vector<int>(c));
  for (auto& row : m) for (int& x : row) std::scanf("%d", &x);
  int top = 0, bottom = r - 1, left = 0, right = c - 1;
  while (top <= bottom && left <= right) {
    for (int i = top; i <= bottom; ++i) std::printf("%d ", m[i][left]);
    for (int j = left + 1; j <= right; ++j) std::printf("%d ", m[bottom][j]);
    if (left < right) for (int i = bottom - 1; i >= top; --i) std::printf("%d ", m[i][right]);
    if (top < bottom) for (int j = right - 1; j > left; --j) std::printf("%d ", m[top][j]);
    ++top, --bottom, ++left, --right;
  }
  std::printf("\n");
}
"""),
]
