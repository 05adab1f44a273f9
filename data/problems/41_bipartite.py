ID = "bipartite-check"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Can the vertices of an undirected graph be coloured with two colours so that every
edge joins different colours?

Input: n and m (1 <= n <= 10^5, 0 <= m <= 2*10^5), then m edges "u v" (u != v).
Output: YES or NO."""

def tests(rng):
    public = ["4 4\n1 2\n2 3\n3 4\n4 1\n", "3 3\n1 2\n2 3\n3 1\n"]
    hidden = ["1 0\n", "2 1\n1 2\n", "5 3\n1 2\n3 4\n4 5\n", "6 6\n1 2\n2 3\n3 1\n4 5\n5 6\n6 4\n",
              "5 4\n1 2\n3 4\n4 5\n5 3\n"]
    n, m = 10000, 20000
    side = [rng.randint(0, 1) for _ in range(n + 1)]
    edges = []
    while len(edges) < m:
        u, v = rng.randint(1, n), rng.randint(1, n)
        if side[u] != side[v]:
            edges.append(f"{u} {v}")
    hidden.append(f"{n} {m}\n" + "\n".join(edges) + "\n")
    # The same graph plus one edge inside a side, far from vertex 1's component start.
    u = next(x for x in range(n, 0, -1) if side[x] == 0)
    v = next(x for x in range(u - 1, 0, -1) if side[x] == 0)
    hidden.append(f"{n} {m + 1}\n" + "\n".join(edges) + f"\n{u} {v}\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adj = [[] for _ in range(n + 1)]
for i in range(m):
    u, v = int(data[2 + 2 * i]), int(data[3 + 2 * i])
    adj[u].append(v)
    adj[v].append(u)
color = [-1] * (n + 1)
ok = True
for s in range(1, n + 1):
    if color[s] >= 0 or not ok:
        continue
    color[s] = 0
    stack = [s]
    while stack and ok:
        u = stack.pop()
        for v in adj[u]:
            if color[v] < 0:
                color[v] = color[u] ^ 1
                stack.append(v)
            elif color[v] == color[u]:
                ok = False
                break
print("YES" if ok else "NO")
"""

REF_CPP = r"""
#include <cstdio>
#include <vector>
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::vector<int>> adj(n + 1);
  for (int i = 0; i < m; ++i) {
    int u, v;
    std::scanf("%d %d", &u, &v);
    adj[u].push_back(v);
    adj[v].push_back(u);
  }
  std::vector<int> color(n + 1, -1), stack;
  for (int s = 1; s <= n; ++s) {
    if (color[s] >= 0) continue;
    color[s] = 0;
    stack.push_back(s);
    while (!stack.empty()) {
      int u = stack.back();
      stack.pop_back();
      for (int v : adj[u]) {
        if (color[v] < 0) { color[v] = color[u] ^ 1; stack.push_back(v); }
        else if (color[v] == color[u]) { std::puts("NO"); return 0; }
      }
    }
  }
  std::puts("YES");
}
"""

WRONG = [
    ("python3", "only explores the component of vertex 1", r"""
import sys
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adj = [[] for _ in range(n + 1)]
for i in range(m):
    u, v = int(data[2 + 2 * i]), int(data[3 + 2 * i])
    adj[u].append(v)
    adj[v].append(u)
color = [-1] * (n + 1)
color[1] = 0
stack = [1]
ok = True
while stack:
    u = stack.pop()
    for v in adj[u]:
        if color[v] < 0:
            color[v] = color[u] ^ 1
            stack.append(v)
        elif color[v] == color[u]:
            ok = False
print("YES" if ok else "NO")
"""),
    ("cpp17", "looks for triangles only", r"""
#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::set<int>> adj(n + 1);
  std::vector<std::pair<int, int>> edges(m);
  for (auto& [u, v] : edges) { std::scanf("%d %d", &u, &v); adj[u].insert(v); adj[v].insert(u); }
  for (auto [u, v] : edges) {
    const auto& small = adj[u].size() < adj[v].size() ? adj[u] : adj[v];
    const auto& big = adj[u].size() < adj[v].size() ? adj[v] : adj[u];
    for (int w : small) if (big.count(w)) { std::puts("NO"); return 0; }
  }
  std::puts("YES");
}
"""),
]
