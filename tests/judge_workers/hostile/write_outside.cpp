#include <cstdio>
#include <string>
int main() {
  std::string wrote;
  for (const char* path : {"/usr/crucible-evil", "/etc/crucible-evil", "/work/crucible-evil",
                           "/crucible-evil", "/usr/bin/python3", "/bin/sh"}) {
    if (FILE* f = std::fopen(path, "a")) {
      std::fputs("pwned", f);
      std::fclose(f);
      wrote += std::string(path) + " ";
    }
  }
  std::puts(wrote.empty() ? "none" : wrote.c_str());
}
