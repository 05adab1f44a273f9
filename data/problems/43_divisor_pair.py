ID = "divisor-pair"
DIFFICULTY = "interview"
TIME_LIMIT_MS = 2000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "program", "language": "python3", "source": r'''
import sys
# testlib convention: checker input output answer; exit 0 accepts, 1 rejects.
values = list(map(int, open(sys.argv[1]).read().split()))[1:]
got = open(sys.argv[2]).read().split()
if len(got) != len(values):
    print(f"expected {len(values)} answers, got {len(got)}")
    sys.exit(1)
i = 0
for n in values:
    token = got[i]
    i += 1
    if token == "-1":
        d = 2
        while d * d <= n and n % d:
            d += 1
        if d * d <= n:
            print(f"{n} is composite but -1 was printed")
            sys.exit(1)
        continue
    try:
        a = int(token)
    except ValueError:
        print(f"not a number: {token!r}")
        sys.exit(1)
    if not (1 < a < n and n % a == 0):
        print(f"{a} is not a proper divisor of {n}")
        sys.exit(1)
print("ok")
'''}
STATEMENT = """For each n print any divisor d with 1 < d < n, or -1 if n has none (n is prime or 1).
Any correct divisor is accepted.

Input: t (1 <= t <= 1000), then t integers n (1 <= n <= 10^10).
Output: t answers, one per line."""

def check(test_input, output):
    values = list(map(int, test_input.split()))[1:]
    got = output.split()
    if len(got) != len(values):
        return False
    for n, token in zip(values, got):
        a = int(token)
        if a == -1:
            d = 2
            while d * d <= n and n % d:
                d += 1
            if d * d <= n:
                return False
        elif not (1 < a < n and n % a == 0):
            return False
    return True

def tests(rng):
    public = ["3\n12\n7\n1\n"]
    hidden = ["1\n4\n", "2\n9999999967\n9999999968\n", "3\n2\n3\n9\n", "1\n10000000000\n"]
    hidden.append("1000\n" + "\n".join(str(rng.randint(1, 10**10)) for _ in range(1000)) + "\n")
    hidden.append("20\n" + "\n".join(str(p * q) for p, q in [(99991, 99989), (99971, 99961)] * 10) + "\n")
    return public, hidden

REF_PY = r"""
import sys


def smallest_divisor(n):
    # Trial division by 2, 3 and then 6k - 1, 6k + 1: a third of the candidates of d += 1,
    # so the 10^10 primes of the hidden tests stay well inside the time limit.
    for d in (2, 3):
        if d * d <= n and n % d == 0:
            return d
    d = 5
    while d * d <= n:
        if n % d == 0:
            return d
        if n % (d + 2) == 0:
            return d + 2
        d += 6
    return -1


data = sys.stdin.read().split()
print("\n".join(str(smallest_divisor(n)) for n in map(int, data[1:1 + int(data[0])])))
"""

REF_CPP = r"""
#include <cstdio>
int main() {
  int t;
  std::scanf("%d", &t);
  while (t--) {
    long long n;
    std::scanf("%lld", &n);
    long long answer = -1;
    for (long long d = 2; d * d <= n; ++d) {
      // The largest proper divisor: another valid answer than the Python reference's.
      if (n % d == 0) { answer = n / d; break; }
    }
    std::printf("%lld\n", answer);
  }
}
"""

WRONG = [
    ("python3", "prints 1 for primes", r"""
t = int(input())
for _ in range(t):
    n = int(input())
    d = 2
    while d * d <= n and n % d:
        d += 1
    print(d if d * d <= n else 1)
"""),
    ("cpp17", "stops trial division at 10^4", r"""
#include <cstdio>
int main() {
  int t;
  std::scanf("%d", &t);
  while (t--) {
    long long n;
    std::scanf("%lld", &n);
    long long answer = -1;
    for (long long d = 2; d * d <= n && d < 10000; ++d)
      if (n % d == 0) { answer = d; break; }
    std::printf("%lld\n", answer);
  }
}
"""),
]
