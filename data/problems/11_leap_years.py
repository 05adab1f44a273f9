ID = "leap-years"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "tokens"}
STATEMENT = """Count the leap years of the Gregorian calendar in [a, b]: years divisible by 4, except
those divisible by 100 but not by 400.

Input: a and b (1 <= a <= b <= 10^18).
Output: the count."""

def tests(rng):
    public = ["2000 2004\n"]
    hidden = ["1 4\n", "1900 1900\n", "2000 2000\n", "1 1000000000000000000\n", "1899 2101\n"]
    a = rng.randint(1, 10**17)
    hidden.append(f"{a} {a + rng.randint(0, 10**17)}\n")
    return public, hidden

REF_PY = r"""
a, b = map(int, input().split())
def upto(y):
    return y // 4 - y // 100 + y // 400
print(upto(b) - upto(a - 1))
"""

REF_CPP = r"""
#include <cstdio>
long long upto(long long y) { return y / 4 - y / 100 + y / 400; }
int main() {
  long long a, b;
  std::scanf("%lld %lld", &a, &b);
  std::printf("%lld\n", upto(b) - upto(a - 1));
}
"""

WRONG = [
    ("python3", "ignores the century rule", r"""
a, b = map(int, input().split())
print(b // 4 - (a - 1) // 4)
"""),
    ("cpp17", "counts from a instead of a - 1", r"""
#include <cstdio>
long long upto(long long y) { return y / 4 - y / 100 + y / 400; }
int main() {
  long long a, b;
  std::scanf("%lld %lld", &a, &b);
  std::printf("%lld\n", upto(b) - upto(a));
}
"""),
]
