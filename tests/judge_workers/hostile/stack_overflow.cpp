#include <cstdio>
int depth(int n) {
  volatile char pad[256];
  pad[0] = static_cast<char>(n);
  return depth(n + 1) + pad[0];
}
int main() { std::printf("%d\n", depth(0)); }
