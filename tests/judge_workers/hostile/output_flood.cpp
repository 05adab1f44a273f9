#include <cstdio>
int main() {
  while (true) std::puts("flooding the judge with output, line after line after line");
}
