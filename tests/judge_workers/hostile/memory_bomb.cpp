#include <cstring>
#include <vector>
int main() {
  std::vector<char*> hoard;
  while (true) {
    char* block = new char[16 << 20];
    std::memset(block, 1, 16 << 20);
    hoard.push_back(block);
  }
}
