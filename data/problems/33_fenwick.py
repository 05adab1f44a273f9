ID = "range-sum-updates"
DIFFICULTY = "competition"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """An array of n integers, initially given, processes q operations: "1 i x" sets a_i = x,
"2 l r" asks for a_l + ... + a_r.

Input: n and q (1 <= n, q <= 2*10^5), the n integers, then q operations (1-based indices,
|values| <= 10^9).
Output: the answer to each sum query, one per line (at least one is asked)."""

def tests(rng):
    public = ["5 3\n1 2 3 4 5\n2 1 5\n1 3 10\n2 2 4\n"]
    hidden = ["1 2\n7\n2 1 1\n1 1 -7\n", "3 1\n1 2 3\n2 2 2\n", "4 3\n0 0 0 0\n1 4 5\n2 1 4\n2 1 3\n"]
    n = q = 20000
    a = [rng.randint(-10**6, 10**6) for _ in range(n)]
    ops = []
    for _ in range(q):
        if rng.random() < 0.5:
            ops.append(f"1 {rng.randint(1, n)} {rng.randint(-10**6, 10**6)}")
        else:
            ops.append(f"2 {rng.randint(1, 100)} {rng.randint(n - 100, n)}")
    hidden.append(f"{n} {q}\n" + " ".join(map(str, a)) + "\n" + "\n".join(ops) + "\n")
    n, q = 100, 1000
    a = [rng.randint(-100, 100) for _ in range(n)]
    ops = []
    for _ in range(q):
        l, r = sorted((rng.randint(1, n), rng.randint(1, n)))
        ops.append(f"1 {rng.randint(1, n)} {rng.randint(-100, 100)}" if rng.random() < 0.5 else f"2 {l} {r}")
    ops.append("2 1 100")
    hidden.append(f"{n} {q + 1}\n" + " ".join(map(str, a)) + "\n" + "\n".join(ops) + "\n")
    return public, hidden

REF_PY = r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
a = [0] + list(map(int, data[2:2 + n]))
tree = [0] * (n + 1)
for i in range(1, n + 1):
    tree[i] += a[i]
    j = i + (i & -i)
    if j <= n:
        tree[j] += tree[i]
def prefix(i):
    s = 0
    while i > 0:
        s += tree[i]
        i -= i & -i
    return s
out = []
pos = 2 + n
for _ in range(q):
    t, x, y = data[pos], int(data[pos + 1]), int(data[pos + 2])
    pos += 3
    if t == b"1":
        delta = y - a[x]
        a[x] = y
        while x <= n:
            tree[x] += delta
            x += x & -x
    else:
        out.append(prefix(y) - prefix(x - 1))
print("\n".join(map(str, out)))
"""

REF_CPP = r"""
#include <cstdio>
#include <vector>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  std::vector<long long> a(n + 1), tree(n + 1, 0);
  for (int i = 1; i <= n; ++i) {
    std::scanf("%lld", &a[i]);
    for (int j = i; j <= n; j += j & -j) tree[j] += a[i];
  }
  auto prefix = [&](int i) { long long s = 0; for (; i > 0; i -= i & -i) s += tree[i]; return s; };
  for (int k = 0; k < q; ++k) {
    int t;
    long long x, y;
    std::scanf("%d %lld %lld", &t, &x, &y);
    if (t == 1) {
      long long delta = y - a[x];
      a[x] = y;
      for (int j = x; j <= n; j += j & -j) tree[j] += delta;
    } else {
      std::printf("%lld\n", prefix(y) - prefix(x - 1));
    }
  }
}
"""

WRONG = [
    ("python3", "sums each range by walking it (too slow)", r"""
import sys
data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
a = [0] + list(map(int, data[2:2 + n]))
out = []
pos = 2 + n
for _ in range(q):
    t, x, y = data[pos], int(data[pos + 1]), int(data[pos + 2])
    pos += 3
    if t == b"1":
        a[x] = y
    else:
        s = 0
        for i in range(x, y + 1):
            s += a[i]
        out.append(s)
print("\n".join(map(str, out)))
"""),
    ("cpp17", "adds the new value instead of replacing the old one", r"""
#include <cstdio>
#include <vector>
int main() {
  int n, q;
  std::scanf("%d %d", &n, &q);
  std::vector<long long> tree(n + 1, 0);
  auto add = [&](int i, long long d) { for (; i <= n; i += i & -i) tree[i] += d; };
  auto prefix = [&](int i) { long long s = 0; for (; i > 0; i -= i & -i) s += tree[i]; return s; };
  for (int i = 1; i <= n; ++i) {
    long long x;
    std::scanf("%lld", &x);
    add(i, x);
  }
  for (int k = 0; k < q; ++k) {
    int t;
    long long x, y;
    std::scanf("%d %lld %lld", &t, &x, &y);
    if (t == 1) add(x, y);
    else std::printf("%lld\n", prefix(y) - prefix(x - 1));
  }
}
"""),
]
