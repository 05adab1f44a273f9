ID = "connectivity-queries"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Start with n isolated vertices and process q operations: "+ u v" joins u and v with an
edge, "? u v" asks whether u and v are connected.

Input: n and q (1 <= n, q <= 2*10^5), then q operations.
Output: YES or NO for each query, one per line (at least one query is asked)."""

def tests(rng):
    public = ["4 5\n? 1 2\n+ 1 2\n? 1 2\n+ 3 4\n? 1 4\n"]
    hidden = ["1 1\n? 1 1\n", "3 3\n+ 1 2\n+ 2 3\n? 1 3\n", "5 4\n+ 1 2\n+ 3 4\n? 2 3\n? 4 5\n"]
    n = q = 30000
    ops = []
    for i in range(q):
        # Joins along a long path, so relabelling a component per join is quadratic.
        if i % 2 == 0:
            ops.append(f"+ {i // 2 + 1} {i // 2 + 2}")
        else:
            ops.append(f"? {rng.randint(1, n)} {rng.randint(1, n)}")
    hidden.append(f"{n} {q}\n" + "\n".join(ops) + "\n")
    n, q = 1000, 3000
    ops = [("+" if rng.random() < 0.3 else "?") + f" {rng.randint(1, n)} {rng.randint(1, n)}" for _ in range(q)]
    ops.append("? 1 1")
    hidden.append(f"{n} {q + 1}\n" + "\n".join(ops) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
parent = list(range(n + 1))
def find(x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root
out = []
for i in range(q):
    op, u, v = data[2 + 3 * i], int(data[3 + 3 * i]), int(data[4 + 3 * i])
    ru, rv = find(u), find(v)
    if op == b"+":
        parent[ru] = rv
    else:
        out.append("YES" if ru == rv else "NO")
print("\n".join(out))
"""

REF_CPP = r"""
#include <cstdio>
#include <numeric>
#include <vector>
std::vector<int> parent;
int find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  parent.resize(n + 1);
  std::iota(parent.begin(), parent.end(), 0);
  for (int i = 0; i < q; ++i) {
    char op[2];
    int u, v;
    std::scanf("%1s %d %d", op, &u, &v);
    int ru = find(u), rv = find(v);
    if (op[0] == '+') parent[ru] = rv;
    else std::puts(ru == rv ? "YES" : "NO");
  }
}
"""

WRONG = [
    ("python3", "relabels a whole component on every join (too slow)", r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
label = list(range(n + 1))
out = []
for i in range(q):
    op, u, v = data[2 + 3 * i], int(data[3 + 3 * i]), int(data[4 + 3 * i])
    if op == b"+":
        old, new = label[u], label[v]
        if old != new:
            for k in range(1, n + 1):
                if label[k] == old:
                    label[k] = new
    else:
        out.append("YES" if label[u] == label[v] else "NO")
print("\n".join(out))
"""),
    ("cpp17", "only remembers direct edges", r"""
#include <cstdio>
#include <set>
#include <utility>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  std::set<std::pair<int, int>> edges;
  for (int i = 0; i < q; ++i) {
    char op[2];
    int u, v;
    std::scanf("%1s %d %d", op, &u, &v);
    if (op[0] == '+') { edges.insert({u, v}); edges.insert({v, u}); }
    else std::puts(u == v || edges.count({u, v}) ? "YES" : "NO");
  }
}
"""),
]
