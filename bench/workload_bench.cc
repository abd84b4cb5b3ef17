// One round of the workload bench (bench/workload_bench.py): a Docker environment with five
// HTTP runnables (busybox httpd), started at once and waited on until each answers. Prints
// "ready" when they all are, then closes the environment (the driver stops its clock at
// "ready", as it stops the docker CLI script's clock when the script has polled all five).
//
//   bench_workload IMAGE     IMAGE: a busybox image (bench/workload_bench.py builds it)

#include <cstdio>
#include <string>
#include <vector>

#include "handoff/workload.h"

namespace wl = handoff::workload;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_workload IMAGE\n");
    return 2;
  }
  const std::string image = argv[1];
  wl::Status st;
  auto env = wl::Environment::NewDocker("handoff-bench", &st);
  if (!env) {
    std::fprintf(stderr, "bench_workload: %s\n", st.message().c_str());
    return 1;
  }
  std::vector<std::shared_ptr<wl::Runnable>> runnables;
  for (int i = 1; i <= 5; ++i) {
    runnables.push_back(env->Runnable("web-" + std::to_string(i))
                            .WithPorts({{"http", 8080}})
                            .Init({.image = image,
                                   .args = {"sh", "-c",
                                            "echo up > /tmp/index.html; "
                                            "exec httpd -f -p 8080 -h /tmp"},
                                   .readiness = wl::Probe::Http("http", "/"),
                                   .wait_backoff = {.initial = std::chrono::milliseconds(10),
                                                    .max = std::chrono::milliseconds(50)}}));
  }
  st = wl::StartAndWaitReady(runnables);
  if (!st) {
    std::fprintf(stderr, "bench_workload: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  env->Close();
  return 0;
}
