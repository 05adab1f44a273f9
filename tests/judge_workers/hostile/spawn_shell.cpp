#include <cstdlib>
int main() {
  return std::system("echo from shell; cat /etc/shadow 2>/dev/null; ls /root 2>/dev/null; exit 0");
}
