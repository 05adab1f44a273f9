ID = "fizzbuzz"
DIFFICULTY = "introductory"
TIME_LIMIT_MS = 1000
MEMORY_LIMIT_MIB = 256
CHECKER = {"kind": "exact"}
STATEMENT = """For i = 1..n print, one per line: FizzBuzz if 15 divides i, Fizz if 3 does, Buzz if 5
does, otherwise i.

Input: n (1 <= n <= 10^5).
Output: n lines."""

def tests(rng):
    return ["5\n"], ["1\n", "15\n", "16\n", "30\n", "100\n", "20000\n"]

REF_PY = r"""
n = int(input())
out = []
for i in range(1, n + 1):
    out.append("FizzBuzz" if i % 15 == 0 else "Fizz" if i % 3 == 0 else "Buzz" if i % 5 == 0 else str(i))
print("\n".join(out))
"""

REF_CPP = r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  for (int i = 1; i <= n; ++i) {
    if (i % 15 == 0) std::puts("FizzBuzz");
    else if (i % 3 == 0) std::puts("Fizz");
    else if (i % 5 == 0) std::puts("Buzz");
    else std::printf("%d\n", i);
  }
}
"""

WRONG = [
    ("python3", "tests 3 before 15", r"""
n = int(input())
for i in range(1, n + 1):
    if i % 3 == 0:
        print("Fizz")
    elif i % 5 == 0:
        print("Buzz")
    elif i % 15 == 0:
        print("FizzBuzz")
    else:
        print(i)
"""),
    ("cpp17", "stops one short", r"""
#include <cstdio>
int main() {
  int n;
  std::scanf("%d", &n);
  for (int i = 1; i < n; ++i) {
    if (i % 15 == 0) std::puts("FizzBuzz");
    else if (i % 3 == 0) std::puts("Fizz");
    else if (i % 5 == 0) std::puts("Buzz");
    else std::printf("%d\n", i);
  }
}
"""),
]
