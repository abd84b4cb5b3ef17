// The Prometheus text format (src/workload/prom_text.h), as the services a test starts
// answer a metric wait: a parse either fails with a message or gives named families.

#include <string>

#include "fuzz/fuzz_target.h"
#include "workload/prom_text.h"

HANDOFF_FUZZ_TARGET(prom_text) {
  using namespace handoff::workload;
  std::string error;
  const auto families = ParsePromText(handoff::fuzz::AsText(data, size), &error);
  if (!families) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  for (const MetricFamily& family : *families) {
    FUZZ_CHECK(!family.name.empty());
    (void)MetricTypeName(family.type);
    for (const Sample& sample : family.samples) {
      FUZZ_CHECK(!sample.name.empty());
      for (std::size_t i = 1; i < sample.labels.size(); ++i) {
        FUZZ_CHECK(sample.labels[i - 1].first < sample.labels[i].first);
      }
      (void)sample.Label("le");
    }
  }
  return 0;
}
