int main() {
  volatile unsigned long x = 0;
  while (true) x = x + 1;
}
