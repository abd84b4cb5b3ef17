#pragma once

// Prometheus metrics for serve: counters, gauges and histograms in labelled families,
// rendered in the text exposition format (version 0.0.4) that /metrics serves. Updates are
// lock-free once a labelled series exists; rendering takes the families' locks briefly.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::metrics {

// A value that only goes up (requests, runs, tests).
class Counter {
 public:
  // Adds `v` (must not be negative).
  void Inc(double v = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (running suites, queue depth).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1);
  void Dec(double v = 1) { Inc(-v); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in cumulative buckets (durations), with their sum and count.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  // Appends name_bucket/_sum/_count lines with the series' labels.
  void Render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  const std::vector<double>* bounds_;  // upper bounds, ascending, without +Inf
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0};
};

// Returns true if `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool IsValidMetricName(std::string_view name);

// Returns true if `name` is a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not "__...").
bool IsValidLabelName(std::string_view name);

// Appends `v` as Prometheus writes floats: shortest form, "+Inf", "-Inf", "NaN".
void AppendValue(std::string& out, double v);

// A metric with label names; each distinct list of label values is a series.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // Returns the series for these label values (one per label name, in order), created on
  // first use. The reference stays valid for the family's life, unless Retain removes it.
  Metric& With(const std::vector<std::string>& values);
  // Removes every series whose label values are not in `keep`. A removed series' reference
  // dangles, so this is for families whose series are looked up at each use (the schedules'
  // gauges, which follow schedules that are paused or deleted).
  void Retain(const std::set<std::vector<std::string>>& keep);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  // Appends each series' lines.
  void RenderSeries(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

// Owns metric families and renders them all, sorted by name.
class Registry {
 public:
  // Adds a family. Names are checked (a counter's must end in "_total"); a bad or
  // duplicate name is a programming error and aborts.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> labels, std::vector<double> bounds);

  // Returns every family in the text exposition format, then the process metrics
  // (process_cpu_seconds_total, process_resident_memory_bytes, ...) when `with_process`.
  std::string Render(bool with_process = true) const;

 private:
  struct Entry {
    const char* type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  void Check(const std::string& name, const std::vector<std::string>& labels) const;
  mutable std::mutex mu_;
  std::map<std::string, Entry> families_;
};

// Returns `exposition` (the text format) with the label name="value" added to every sample:
// what tells apart the series of several replicas that Prometheus scrapes through one
// Service. `name` must be a valid label name not used by the samples.
std::string WithLabel(std::string_view exposition, std::string_view name, std::string_view value);

// Appends the standard process metrics of this process, read from /proc/self.
void AppendProcessMetrics(std::string& out);

// Bucket bounds for durations in seconds, from 5ms to 10 minutes.
std::vector<double> DurationBuckets();

}  // namespace handoff::metrics
