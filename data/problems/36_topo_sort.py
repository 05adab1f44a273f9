ID = "smallest-topological-order"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Order the n tasks of a dependency graph so that every edge "u v" puts u before v.
Among all valid orders print the lexicographically smallest, or -1 if there is a cycle.

Input: n and m (1 <= n <= 10^5, 0 <= m <= 2*10^5), then m edges "u v".
Output: the order, or -1."""

def tests(rng):
    public = ["4 3\n2 1\n2 3\n4 3\n"]
    hidden = ["1 0\n", "2 2\n1 2\n2 1\n", "3 0\n", "5 4\n5 4\n4 3\n3 2\n2 1\n", "3 2\n3 1\n2 1\n"]
    n, m = 10000, 20000
    perm = list(range(1, n + 1))
    rng.shuffle(perm)
    pos = {v: i for i, v in enumerate(perm)}
    edges = []
    for _ in range(m):
        a, b = rng.randint(1, n), rng.randint(1, n)
        if a == b:
            continue
        if pos[a] > pos[b]:
            a, b = b, a
        edges.append(f"{a} {b}")
    hidden.append(f"{n} {len(edges)}\n" + "\n".join(edges) + "\n")
    edges.append(f"{perm[-1]} {perm[0]}")
    hidden.append(f"{n} {len(edges)}\n" + "\n".join(edges) + "\n")
    return public, hidden

REF_PY = r"""
import sys, heapq
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adj = [[] for _ in range(n + 1)]
indeg = [0] * (n + 1)
for i in range(m):
    u, v = int(data[2 + 2 * i]), int(data[3 + 2 * i])
    adj[u].append(v)
    indeg[v] += 1
heap = [v for v in range(1, n + 1) if indeg[v] == 0]
heapq.heapify(heap)
order = []
while heap:
    u = heapq.heappop(heap)
    order.append(u)
    for v in adj[u]:
        indeg[v] -= 1
        if indeg[v] == 0:
            heapq.heappush(heap, v)
print(" ".join(map(str, order)) if len(order) == n else -1)
"""

REF_CPP = r"""
#include <cstdio>
#include <functional>
#include <queue>
#include <vector>
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::vector<int>> adj(n + 1);
  std::vector<int> indeg(n + 1, 0);
  for (int i = 0; i < m; ++i) {
    int u, v;
    std::scanf("%d %d", &u, &v);
    adj[u].push_back(v);
    ++indeg[v];
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> pq;
  for (int v = 1; v <= n; ++v) if (indeg[v] == 0) pq.push(v);
  std::vector<int> order;
  while (!pq.empty()) {
    int u = pq.top();
    pq.pop();
    order.push_back(u);
    for (int v : adj[u]) if (--indeg[v] == 0) pq.push(v);
  }
  if ((int)order.size() != n) { std::puts("-1"); return 0; }
  for (int i = 0; i < n; ++i) std::printf("%d%c", order[i], i + 1 < n ? ' ' : '\n');
}
"""

WRONG = [
    ("python3", "first-in first-out queue (a valid order, not the smallest)", r"""
import sys
from collections import deque
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
adj = [[] for _ in range(n + 1)]
indeg = [0] * (n + 1)
for i in range(m):
    u, v = int(data[2 + 2 * i]), int(data[3 + 2 * i])
    adj[u].append(v)
    indeg[v] += 1
q = deque(v for v in range(1, n + 1) if indeg[v] == 0)
order = []
while q:
    u = q.popleft()
    order.append(u)
    for v in adj[u]:
        indeg[v] -= 1
        if indeg[v] == 0:
            q.append(v)
print(" ".join(map(str, order)) if len(order) == n else -1)
"""),
    ("cpp17", "does not detect cycles", r"""
#include <cstdio>
#include <functional>
#include <queue>
#include <vector>
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::vector<int>> adj(n + 1);
  std::vector<int> indeg(n + 1, 0);
  for (int i = 0; i < m; ++i) {
    int u, v;
    std::scanf("%d %d", &u, &v);
    adj[u].push_back(v);
    ++indeg[v];
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> pq;
  for (int v = 1; v <= n; ++v) if (indeg[v] == 0) pq.push(v);
  while (!pq.empty()) {
    int u = pq.top();
    pq.pop();
    std::printf("%d ", u);
    for (int v : adj[u]) if (--indeg[v] == 0) pq.push(v);
  }
  std::printf("\n");
}
"""),
]
