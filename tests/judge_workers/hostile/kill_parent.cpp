#include <signal.h>
#include <unistd.h>
#include <cstdio>
int main() {
  kill(getppid(), SIGKILL);
  kill(1, SIGKILL);
  // Every process the program may signal (Linux spares the caller itself).
  kill(-1, SIGKILL);
  std::puts("alive");
}
