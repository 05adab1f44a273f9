ID = "grid-shortest-path"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """A grid has free cells '.' and walls '#'. Moving up, down, left or right, how many steps
does the shortest path from the top-left to the bottom-right cell take?

Input: r and c (1 <= r, c <= 1000), then r rows of c characters. Both corners are free.
Output: the number of steps, or -1 if the corner cannot be reached."""

def tests(rng):
    public = ["3 3\n...\n.#.\n...\n"]
    hidden = ["1 1\n.\n", "2 2\n.#\n#.\n", "3 4\n....\n###.\n....\n", "1 5\n.....\n"]
    for r, c, p in ((30, 40, 0.3), (300, 300, 0.25)):
        rows = ["".join("#" if rng.random() < p else "." for _ in range(c)) for _ in range(r)]
        rows[0] = "." + rows[0][1:]
        rows[-1] = rows[-1][:-1] + "."
        hidden.append(f"{r} {c}\n" + "\n".join(rows) + "\n")
    # Small grids on which a depth-first walk finds a longer path than the shortest.
    def bfs(g, r, c):
        from collections import deque
        dist = {(0, 0): 0}
        q = deque([(0, 0)])
        while q:
            y, x = q.popleft()
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < r and 0 <= nx < c and g[ny][nx] == "." and (ny, nx) not in dist:
                    dist[(ny, nx)] = dist[(y, x)] + 1
                    q.append((ny, nx))
        return dist.get((r - 1, c - 1), -1)
    def dfs(g, r, c):
        seen = {(0, 0)}
        stack = [(0, 0, 0)]
        while stack:
            y, x, d = stack.pop()
            if (y, x) == (r - 1, c - 1):
                return d
            for ny, nx in ((y, x + 1), (y + 1, x), (y - 1, x), (y, x - 1)):
                if 0 <= ny < r and 0 <= nx < c and g[ny][nx] == "." and (ny, nx) not in seen:
                    seen.add((ny, nx))
                    stack.append((ny, nx, d + 1))
        return -1
    found = 0
    while found < 2:
        g = ["".join("#" if rng.random() < 0.2 else "." for _ in range(8)) for _ in range(8)]
        g[0] = "." + g[0][1:]
        g[-1] = g[-1][:-1] + "."
        if bfs(g, 8, 8) != dfs(g, 8, 8):
            hidden.append("8 8\n" + "\n".join(g) + "\n")
            found += 1
    # A serpentine maze: the only path winds through every row.
    rows = []
    for i in range(200):
        if i % 2 == 0:
            rows.append("." * 200)
        elif i % 4 == 1:
            rows.append("#" * 199 + ".")
        else:
            rows.append("." + "#" * 199)
    hidden.append("200 200\n" + "\n".join(rows) + "\n")
    return public, hidden

REF_PY = r"""
import sys
from collections import deque
data = sys.stdin.buffer.read().split()
r, c = int(data[0]), int(data[1])
grid = b"".join(data[2:2 + r])
dist = [-1] * (r * c)
dist[0] = 0
q = deque([0])
while q:
    v = q.popleft()
    y, x = divmod(v, c)
    d = dist[v] + 1
    for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
        if 0 <= ny < r and 0 <= nx < c:
            w = ny * c + nx
            if dist[w] < 0 and grid[w] == 46:
                dist[w] = d
                q.append(w)
print(dist[r * c - 1])
"""

REF_CPP = r"""
#include <cstdio>
#include <queue>
#include <string>
#include <vector>
int main() {
  int r, c;
  std::scanf("%d %d", &r, &c);
  std::vector<std::string> g(r);
  static char buf[1024];
  for (auto& row : g) { std::scanf("%s", buf); row = buf; }
  std::vector<int> dist(r * c, -1);
  std::queue<int> q;
  dist[0] = 0;
  q.push(0);
  const int dy[] = {-1, 1, 0, 0}, dx[] = {0, 0, -1, 1};
  while (!q.empty()) {
    int v = q.front(); q.pop();
    int y = v / c, x = v % c;
    for (int k = 0; k < 4; ++k) {
      int ny = y + dy[k], nx = x + dx[k];
      if (ny < 0 || ny >= r || nx < 0 || nx >= c || g[ny][nx] != '.') continue;
      int w = ny * c + nx;
      if (dist[w] < 0) { dist[w] = dist[v] + 1; q.push(w); }
    }
  }
  std::printf("%d\n", dist[r * c - 1]);
}
"""

WRONG = [
    ("python3", "depth-first search reports the first path found", r"""
import sys
sys.setrecursionlimit(10000)
data = sys.stdin.read().split()
r, c = int(data[0]), int(data[1])
g = data[2:2 + r]
seen = [[False] * c for _ in range(r)]
stack = [(0, 0, 0)]
seen[0][0] = True
answer = -1
while stack:
    y, x, d = stack.pop()
    if (y, x) == (r - 1, c - 1):
        answer = d
        break
    for ny, nx in ((y, x + 1), (y + 1, x), (y - 1, x), (y, x - 1)):
        if 0 <= ny < r and 0 <= nx < c and not seen[ny][nx] and g[ny][nx] == ".":
            seen[ny][nx] = True
            stack.append((ny, nx, d + 1))
print(answer)
"""),
    ("cpp17", "moves diagonally too", r"""
#include <cstdio>
#include <queue>
#include <string>
#include <vector>
int main() {
  int r, c;
  std::scanf("%d %d", &r, &c);
  std::vector<std::string> g(r);
  static char buf[1024];
  for (auto& row : g) { std::scanf("%s", buf); row = buf; }
  std::vector<int> dist(r * c, -1);
  std::queue<int> q;
  dist[0] = 0;
  q.push(0);
  while (!q.empty()) {
    int v = q.front(); q.pop();
    int y = v / c, x = v % c;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        int ny = y + dy, nx = x + dx;
        if (ny < 0 || ny >= r || nx < 0 || nx >= c || g[ny][nx] != '.') continue;
        int w = ny * c + nx;
        if (dist[w] < 0) { dist[w] = dist[v] + 1; q.push(w); }
      }
  }
  std::printf("%d\n", dist[r * c - 1]);
}
"""),
]
