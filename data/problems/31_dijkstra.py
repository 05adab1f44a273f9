ID = "shortest-paths"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 3000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """A directed graph has n vertices and m weighted edges. Print the length of the shortest
path from vertex 1 to every vertex, or -1 where there is none.

Input: n and m (1 <= n <= 10^5, 0 <= m <= 2*10^5), then m lines "u v w" (1 <= u, v <= n,
0 <= w <= 10^9).
Output: n distances on one line."""

def tests(rng):
    public = ["4 4\n1 2 5\n1 3 1\n3 2 2\n2 4 1\n"]
    hidden = ["1 0\n", "3 1\n2 3 4\n", "3 3\n1 2 10\n1 3 1\n3 2 1\n", "2 2\n1 2 0\n2 1 0\n",
              "4 3\n1 2 1000000000\n2 3 1000000000\n3 4 1000000000\n"]
    n, m = 10000, 25000
    edges = [f"{rng.randint(1, n)} {rng.randint(1, n)} {rng.randint(0, 10**6)}" for _ in range(m)]
    hidden.append(f"{n} {m}\n" + "\n".join(edges) + "\n")
    n, m = 2000, 10000
    edges = [f"{rng.randint(1, n)} {rng.randint(1, n)} {rng.randint(1, 100)}" for _ in range(m)]
    hidden.append(f"{n} {m}\n" + "\n".join(edges) + "\n")
    return public, hidden

REF_PY = r"""
import sys, heapq
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adj = [[] for _ in range(n + 1)]
for i in range(m):
    u, v, w = int(data[2 + 3 * i]), int(data[3 + 3 * i]), int(data[4 + 3 * i])
    adj[u].append((v, w))
INF = float("inf")
dist = [INF] * (n + 1)
dist[1] = 0
pq = [(0, 1)]
while pq:
    d, u = heapq.heappop(pq)
    if d > dist[u]:
        continue
    for v, w in adj[u]:
        nd = d + w
        if nd < dist[v]:
            dist[v] = nd
            heapq.heappush(pq, (nd, v))
print(" ".join(str(d) if d != INF else "-1" for d in dist[1:]))
"""

REF_CPP = r"""
#include <cstdio>
#include <functional>
#include <queue>
#include <vector>
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::vector<std::pair<int, long long>>> adj(n + 1);
  for (int i = 0; i < m; ++i) {
    int u, v;
    long long w;
    std::scanf("%d %d %lld", &u, &v, &w);
    adj[u].push_back({v, w});
  }
  const long long INF = -1;
  std::vector<long long> dist(n + 1, INF);
  std::priority_queue<std::pair<long long, int>, std::vector<std::pair<long long, int>>,
                      std::greater<>> pq;
  dist[1] = 0;
  pq.push({0, 1});
  while (!pq.empty()) {
    auto [d, u] = pq.top();
    pq.pop();
    if (d != dist[u]) continue;
    for (auto [v, w] : adj[u]) {
      if (dist[v] == INF || d + w < dist[v]) {
        dist[v] = d + w;
        pq.push({dist[v], v});
      }
    }
  }
  for (int v = 1; v <= n; ++v) std::printf("%lld%c", dist[v], v < n ? ' ' : '\n');
}
"""

WRONG = [
    ("python3", "breadth-first search ignoring weights", r"""
import sys
from collections import deque
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adj = [[] for _ in range(n + 1)]
for i in range(m):
    u, v, w = int(data[2 + 3 * i]), int(data[3 + 3 * i]), int(data[4 + 3 * i])
    adj[u].append((v, w))
dist = [-1] * (n + 1)
dist[1] = 0
q = deque([1])
while q:
    u = q.popleft()
    for v, w in adj[u]:
        if dist[v] < 0:
            dist[v] = dist[u] + w
            q.append(v)
print(*dist[1:])
"""),
    ("cpp17", "32-bit distances", r"""
#include <cstdio>
#include <functional>
#include <queue>
#include <vector>
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::vector<std::pair<int, int>>> adj(n + 1);
  for (int i = 0; i < m; ++i) {
    int u, v, w;
    std::scanf("%d %d %d", &u, &v, &w);
    adj[u].push_back({v, w});
  }
  std::vector<int> dist(n + 1, -1);
  std::priority_queue<std::pair<int, int>, std::vector<std::pair<int, int>>, std::greater<>> pq;
  dist[1] = 0;
  pq.push({0, 1});
  while (!pq.empty()) {
    auto [d, u] = pq.top();
    pq.pop();
    if (d != dist[u]) continue;
    for (auto [v, w] : adj[u])
      if (dist[v] == -1 || d + w < dist[v]) { dist[v] = d + w; pq.push({dist[v], v}); }
  }
  for (int v = 1; v <= n; ++v) std::printf("%d ", dist[v]);
  std::printf("\n");
}
"""),
]
