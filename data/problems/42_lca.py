ID = "lowest-common-ancestor"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 3000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """A rooted tree has n vertices, root 1, and parent p_i for every other vertex i. Answer q
queries: the lowest common ancestor of u and v.

Input: n and q (1 <= n, q <= 5*10^4), then p_2 .. p_n (p_i < i), then q lines "u v".
Output: q answers, one per line."""

def tests(rng):
    public = ["5 3\n1 1 2 2\n4 5\n4 3\n3 3\n"]
    hidden = ["1 1\n\n1 1\n", "2 2\n1\n1 2\n2 2\n", "4 2\n1 2 3\n4 1\n3 4\n"]
    n = q = 10000
    parents = [rng.randint(max(1, i - 5), i - 1) for i in range(2, n + 1)]
    queries = [f"{rng.randint(1, n)} {rng.randint(1, n)}" for _ in range(q)]
    hidden.append(f"{n} {q}\n" + " ".join(map(str, parents)) + "\n" + "\n".join(queries) + "\n")
    n, q = 2000, 2000
    parents = [rng.randint(1, i - 1) for i in range(2, n + 1)]
    queries = [f"{rng.randint(1, n)} {rng.randint(1, n)}" for _ in range(q)]
    hidden.append(f"{n} {q}\n" + " ".join(map(str, parents)) + "\n" + "\n".join(queries) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
parent = [0, 0] + list(map(int, data[2:2 + n - 1]))
depth = [0] * (n + 1)
for i in range(2, n + 1):
    depth[i] = depth[parent[i]] + 1
LOG = max(1, n.bit_length())
up = [parent[:]]
up[0][1] = 1
for k in range(1, LOG):
    prev = up[-1]
    up.append([prev[prev[i]] for i in range(n + 1)])
out = []
pos = 1 + n
for _ in range(q):
    u, v = int(data[pos]), int(data[pos + 1])
    pos += 2
    if depth[u] < depth[v]:
        u, v = v, u
    diff = depth[u] - depth[v]
    k = 0
    while diff:
        if diff & 1:
            u = up[k][u]
        diff >>= 1
        k += 1
    if u != v:
        for k in range(LOG - 1, -1, -1):
            if up[k][u] != up[k][v]:
                u, v = up[k][u], up[k][v]
        u = up[0][u]
    out.append(u)
print("\n".join(map(str, out)))
"""

REF_CPP = r"""
#include <cstdio>
#include <utility>
#include <vector>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  int LOG = 1;
  while ((1 << LOG) <= n) ++LOG;
  std::vector<std::vector<int>> up(LOG, std::vector<int>(n + 1, 1));
  std::vector<int> depth(n + 1, 0);
  for (int i = 2; i <= n; ++i) {
    std::scanf("%d", &up[0][i]);
    depth[i] = depth[up[0][i]] + 1;
  }
  for (int k = 1; k < LOG; ++k)
    for (int i = 1; i <= n; ++i) up[k][i] = up[k - 1][up[k - 1][i]];
  while (q--) {
    int u, v;
    std::scanf("%d %d", &u, &v);
    if (depth[u] < depth[v]) std::swap(u, v);
    for (int k = 0, diff = depth[u] - depth[v]; diff; ++k, diff >>= 1)
      if (diff & 1) u = up[k][u];
    if (u != v) {
      for (int k = LOG - 1; k >= 0; --k)
        if (up[k][u] != up[k][v]) { u = up[k][u]; v = up[k][v]; }
      u = up[0][u];
    }
    std::printf("%d\n", u);
  }
}
"""

WRONG = [
    ("python3", "climbs both vertices in lockstep without equalising depth", r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
parent = [0, 1] + list(map(int, data[2:2 + n - 1]))
out = []
pos = 1 + n
for _ in range(q):
    u, v = int(data[pos]), int(data[pos + 1])
    pos += 2
    while u != v:
        u, v = parent[u], parent[v]
    out.append(u)
print("\n".join(map(str, out)))
"""),
    ("cpp17", "returns the parent of the deeper vertex when one is an ancestor", r"""
#include <cstdio>
#include <utility>
#include <vector>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  std::vector<int> parent(n + 1, 1), depth(n + 1, 0);
  for (int i = 2; i <= n; ++i) { std::scanf("%d", &parent[i]); depth[i] = depth[parent[i]] + 1; }
  while (q--) {
    int u, v;
    std::scanf("%d %d", &u, &v);
    if (depth[u] < depth[v]) std::swap(u, v);
    do { u = parent[u]; } while (depth[u] > depth[v]);
    while (u != v) { u = parent[u]; v = parent[v]; }
    std::printf("%d\n", u);
  }
}
"""),
]
