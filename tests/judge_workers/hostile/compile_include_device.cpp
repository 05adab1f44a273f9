// The compiler reads an endless device.
#include "/dev/zero"
int main() {}
