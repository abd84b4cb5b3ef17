#include "metrics/registry.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <type_traits>

namespace handoff::metrics {
namespace {

void AtomicAdd(std::atomic<double>& a, double v) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

void AppendEscaped(std::string& out, std::string_view s, bool quotes) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// Returns `{a="x",b="y"}` (or "" without labels), with `extra` appended as a last label.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i], true);
    out += '"';
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

}  // namespace

void Counter::Inc(double v) {
  if (v > 0) AtomicAdd(value_, v);
}

void Gauge::Inc(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds->size() + 1]) {
  for (std::size_t i = 0; i <= bounds->size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double v) {
  std::size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  // `labels` is "a=\"x\",b=\"y\"" without braces; le is added to it.
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out += name;
    out += "_bucket{";
    out += labels;
    if (!labels.empty()) out += ',';
    out += "le=\"";
    if (i == bounds_->size()) {
      out += "+Inf";
    } else {
      AppendValue(out, (*bounds_)[i]);
    }
    out += "\"} ";
    out += std::to_string(cumulative);
    out += '\n';
  }
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out += fmt::format("{}_sum{} ", name, braces);
  AppendValue(out, sum_.load(std::memory_order_relaxed));
  out += fmt::format("\n{}_count{} {}\n", name, braces, cumulative);
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
                    (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__") || name == "le") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
                    (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    out += fmt::format("{}", v);
  }
}

template <typename Metric>
Metric& Family<Metric>::With(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    std::fprintf(stderr, "handoff: metric %s wants %zu label values, got %zu\n", name_.c_str(),
                 label_names_.size(), values.size());
    std::abort();
  }
  std::lock_guard lock(mu_);
  auto& slot = series_[values];
  if (!slot) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      slot = std::make_unique<Histogram>(&bounds_);
    } else {
      slot = std::make_unique<Metric>();
    }
  }
  return *slot;
}

template <typename Metric>
void Family<Metric>::Retain(const std::set<std::vector<std::string>>& keep) {
  std::lock_guard lock(mu_);
  std::erase_if(series_, [&](const auto& entry) { return keep.count(entry.first) == 0; });
}

template <typename Metric>
void Family<Metric>::RenderSeries(std::string& out) const {
  std::lock_guard lock(mu_);
  for (const auto& [values, metric] : series_) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      std::string labels = LabelText(label_names_, values);
      if (!labels.empty()) labels = labels.substr(1, labels.size() - 2);
      metric->Render(out, name_, labels);
    } else {
      out += name_;
      out += LabelText(label_names_, values);
      out += ' ';
      AppendValue(out, metric->Value());
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Registry::Check(const std::string& name, const std::vector<std::string>& labels) const {
  std::string problem;
  if (!IsValidMetricName(name)) problem = "invalid metric name";
  for (const std::string& l : labels) {
    if (!IsValidLabelName(l)) problem = "invalid label name \"" + l + "\"";
  }
  if (families_.count(name) != 0) problem = "registered twice";
  if (!problem.empty()) {
    std::fprintf(stderr, "handoff: metric %s: %s\n", name.c_str(), problem.c_str());
    std::abort();
  }
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  Check(name, labels);
  if (!name.ends_with("_total")) {
    std::fprintf(stderr, "handoff: counter %s must end in _total\n", name.c_str());
    std::abort();
  }
  Entry& e = families_[name];
  e.type = "counter";
  e.counter = std::make_unique<Family<Counter>>(name, std::move(help), std::move(labels));
  return *e.counter;
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  Check(name, labels);
  Entry& e = families_[name];
  e.type = "gauge";
  e.gauge = std::make_unique<Family<Gauge>>(name, std::move(help), std::move(labels));
  return *e.gauge;
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> labels,
                                          std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Check(name, labels);
  for (std::size_t i = 1; i < bounds.size(); ++i) {
    if (!(bounds[i - 1] < bounds[i])) {
      std::fprintf(stderr, "handoff: histogram %s: bounds must ascend\n", name.c_str());
      std::abort();
    }
  }
  Entry& e = families_[name];
  e.type = "histogram";
  e.histogram = std::make_unique<Family<Histogram>>(name, std::move(help), std::move(labels),
                                                    std::move(bounds));
  return *e.histogram;
}

std::string Registry::Render(bool with_process) const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, e] : families_) {
    const std::string& help = e.counter     ? e.counter->help()
                              : e.gauge     ? e.gauge->help()
                                            : e.histogram->help();
    out += "# HELP " + name + ' ';
    AppendEscaped(out, help, false);
    out += "\n# TYPE " + name + ' ' + e.type + '\n';
    if (e.counter) e.counter->RenderSeries(out);
    if (e.gauge) e.gauge->RenderSeries(out);
    if (e.histogram) e.histogram->RenderSeries(out);
  }
  if (with_process) AppendProcessMetrics(out);
  return out;
}

std::string WithLabel(std::string_view exposition, std::string_view name,
                      std::string_view value) {
  std::string label(name);
  label += "=\"";
  AppendEscaped(label, value, true);
  label += '"';
  std::string out;
  out.reserve(exposition.size() + exposition.size() / 4);
  while (!exposition.empty()) {
    const std::size_t newline = exposition.find('\n');
    std::string_view line = exposition.substr(0, newline);
    exposition = newline == std::string_view::npos ? std::string_view() : exposition.substr(newline + 1);
    if (line.empty() || line.front() == '#') {
      out += line;
    } else {
      // The metric name ends at '{' (labels follow) or at the space before the value.
      const std::size_t end = line.find_first_of("{ ");
      if (end == std::string_view::npos) {
        out += line;
      } else if (line[end] == '{') {
        out += line.substr(0, end + 1);
        out += label;
        if (line.size() > end + 1 && line[end + 1] != '}') out += ',';
        out += line.substr(end + 1);
      } else {
        out += line.substr(0, end);
        out += '{';
        out += label;
        out += '}';
        out += line.substr(end);
      }
    }
    if (newline != std::string_view::npos) out += '\n';
  }
  return out;
}

void AppendProcessMetrics(std::string& out) {
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return;
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(fields)),
                             std::istream_iterator<std::string>());
  // f[0] is field 3 (state); utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  if (f.size() < 22) return;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  const double vsize = std::stod(f[20]);
  const double rss = std::stod(f[21]) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);) {
    if (line.starts_with("btime ")) boot_time = std::stod(line.substr(6));
  }
  const double start = boot_time + std::stod(f[19]) / ticks;
  int open_fds = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* entry = ::readdir(dir)) open_fds += entry->d_name[0] != '.';
    ::closedir(dir);
    --open_fds;  // the directory stream itself
  }
  rlimit fd_limit{};
  ::getrlimit(RLIMIT_NOFILE, &fd_limit);
  auto metric = [&](const char* name, const char* type, const char* help, double v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} ", name, help, name, type, name);
    AppendValue(out, v);
    out += '\n';
  };
  metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpu);
  metric("process_max_fds", "gauge", "Maximum number of open file descriptors.",
         static_cast<double>(fd_limit.rlim_cur));
  metric("process_open_fds", "gauge", "Number of open file descriptors.", open_fds);
  metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss);
  metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", start);
  metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize);
}

std::vector<double> DurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

}  // namespace handoff::metrics
