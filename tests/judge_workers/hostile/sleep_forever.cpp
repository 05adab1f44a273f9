#include <unistd.h>
int main() {
  while (true) sleep(1000);
}
