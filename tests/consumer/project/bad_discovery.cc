// Test binaries whose discovery fails (CONSUMER_BAD_DISCOVERY): one prints something
// that is not JSON, one crashes. Building them must fail, naming the target.
#include <cstdio>
#include <cstdlib>

int main() {
#ifdef CONSUMER_CRASH
  std::abort();
#else
  std::puts("{\"suites\": not json");
  return 0;
#endif
}
