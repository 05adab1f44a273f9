ID = "coin-change-ways"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """In how many ways can the amount s be paid with coins of the given distinct values,
each available without limit? Order does not matter. Print the count modulo 10^9+7.

Input: k and s (1 <= k <= 100, 0 <= s <= 10^4), then the k coin values (1 <= c_i <= 10^4).
Output: the number of ways modulo 1000000007."""

def tests(rng):
    public = ["3 5\n1 2 5\n"]
    hidden = ["1 0\n7\n", "1 3\n2\n", "2 10\n2 3\n", "3 100\n1 5 10\n"]
    hidden.append("100 10000\n" + " ".join(map(str, rng.sample(range(1, 500), 100))) + "\n")
    hidden.append("50 9999\n" + " ".join(map(str, rng.sample(range(1, 10001), 50))) + "\n")
    return public, hidden

REF_PY = r"""
k, s = map(int, input().split())
coins = list(map(int, input().split()))
M = 10 ** 9 + 7
ways = [0] * (s + 1)
ways[0] = 1
for c in coins:
    for v in range(c, s + 1):
        ways[v] = (ways[v] + ways[v - c]) % M
print(ways[s])
"""

REF_CPP = r"""
#include <cstdio>
#include <vector>
int main() {
  int k, s;
  std::scanf("%d %d", &k, &s);
  std::vector<long long> ways(s + 1, 0);
  ways[0] = 1;
  for (int i = 0; i < k; ++i) {
    int c;
    std::scanf("%d", &c);
    for (int v = c; v <= s; ++v) ways[v] = (ways[v] + ways[v - c]) % 1000000007;
  }
  std::printf("%lld\n", ways[s]);
}
"""

WRONG = [
    ("python3", "counts orderings as different ways", r"""
k, s = map(int, input().split())
coins = list(map(int, input().split()))
ways = [0] * (s + 1)
ways[0] = 1
for v in range(1, s + 1):
    for c in coins:
        if c <= v:
            ways[v] = (ways[v] + ways[v - c]) % (10 ** 9 + 7)
print(ways[s])
"""),
    ("cpp17", "forgets the modulus", r"""
#include <cstdio>
#include <vector>
int main() {
  int k, s;
  std::scanf("%d %d", &k, &s);
  std::vector<long long> ways(s + 1, 0);
  ways[0] = 1;
  for (int i = 0; i < k; ++i) {
    int c;
    std::scanf("%d", &c);
    for (int v = c; v <= s; ++v) ways[v] += ways[v - c];
  }
  std::printf("%lld\n", ways[s]);
}
"""),
]
