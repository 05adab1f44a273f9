ID = "minimum-spanning-tree"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 3000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Print the total weight of a minimum spanning tree of a connected undirected graph.

Input: n and m (1 <= n <= 10^5, n - 1 <= m <= 2*10^5), then m edges "u v w" (1 <= w <= 10^9).
Output: the weight."""

def tests(rng):
    public = ["4 5\n1 2 1\n2 3 2\n3 4 3\n1 4 4\n1 3 5\n"]
    hidden = ["1 0\n", "2 1\n1 2 7\n", "3 3\n1 2 5\n2 3 5\n1 3 1\n", "3 3\n1 2 1000000000\n2 3 1000000000\n1 3 1000000000\n"]
    n, m = 10000, 25000
    edges = [f"{i} {rng.randint(1, i - 1)} {rng.randint(10**6, 10**9)}" for i in range(2, n + 1)]
    edges += [f"{rng.randint(1, n)} {rng.randint(1, n)} {rng.randint(10**6, 10**9)}" for _ in range(m - n + 1)]
    rng.shuffle(edges)
    hidden.append(f"{n} {m}\n" + "\n".join(edges) + "\n")
    n, m = 500, 3000
    edges = [f"{i} {rng.randint(1, i - 1)} {rng.randint(1, 50)}" for i in range(2, n + 1)]
    edges += [f"{rng.randint(1, n)} {rng.randint(1, n)} {rng.randint(1, 50)}" for _ in range(m - n + 1)]
    hidden.append(f"{n} {m}\n" + "\n".join(edges) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
w = list(map(int, data[4:2 + 3 * m:3]))
u = list(map(int, data[2:2 + 3 * m:3]))
v = list(map(int, data[3:2 + 3 * m:3]))
parent = list(range(n + 1))
def find(x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root
total = 0
for i in sorted(range(m), key=w.__getitem__):
    a, b = find(u[i]), find(v[i])
    if a != b:
        parent[a] = b
        total += w[i]
print(total)
"""

REF_CPP = r"""
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <tuple>
#include <vector>
std::vector<int> parent;
int find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::tuple<long long, int, int>> edges(m);
  for (auto& [w, u, v] : edges) std::scanf("%d %d %lld", &u, &v, &w);
  std::sort(edges.begin(), edges.end());
  parent.resize(n + 1);
  std::iota(parent.begin(), parent.end(), 0);
  long long total = 0;
  for (auto& [w, u, v] : edges) {
    int a = find(u), b = find(v);
    if (a != b) { parent[a] = b; total += w; }
  }
  std::printf("%lld\n", total);
}
"""

WRONG = [
    ("python3", "takes the n - 1 lightest edges without checking for cycles", r"""
import sys
data = sys.stdin.buffer.read().split()
n, m = int(data[0]), int(data[1])
w = sorted(map(int, data[4:2 + 3 * m:3]))
print(sum(w[: n - 1]))
"""),
    ("cpp17", "sums in 32 bits", r"""
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <tuple>
#include <vector>
std::vector<int> parent;
int find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }
int main() {
  int n, m;
  std::scanf("%d %d", &n, &m);
  std::vector<std::tuple<int, int, int>> edges(m);
  for (auto& [w, u, v] : edges) std::scanf("%d %d %d", &u, &v, &w);
  std::sort(edges.begin(), edges.end());
  parent.resize(n + 1);
  std::iota(parent.begin(), parent.end(), 0);
  int total = 0;
  for (auto& [w, u, v] : edges) {
    int a = find(u), b = find(v);
    if (a != b) { parent[a] = b; total += w; }
  }
  std::printf("%d\n", total);
}
"""),
]
