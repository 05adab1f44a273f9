#include <cstdio>
#include <iostream>
#include <string>
int main() {
  std::string secret;
  std::getline(std::cin, secret);
  std::string leaked;
  for (std::string path : {secret, std::string("/etc/shadow"), std::string("/root/.bashrc"),
                           std::string("/proc/1/environ"), std::string("/proc/1/root/etc/hostname")}) {
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
      char buf[16];
      if (std::fread(buf, 1, sizeof(buf), f) > 0) leaked += path + " ";
      std::fclose(f);
    }
  }
  std::puts(leaked.empty() ? "none" : leaked.c_str());
}
