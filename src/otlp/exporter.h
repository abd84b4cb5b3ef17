#pragma once

// Sends spans to an OpenTelemetry collector (or Tempo, Jaeger, anything that takes
// OTLP/HTTP with JSON) on a thread of its own: Export only queues, so a slow or absent
// collector never slows a test. The queue is bounded (a span that does not fit is dropped
// and counted); spans go in batches, each POSTed to <endpoint>/v1/traces with a timeout and
// retried on 429, 5xx and connection errors with exponential backoff; Shutdown sends what
// is queued within a deadline.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.h"
#include "otlp/span.h"

namespace handoff::otlp {

struct ExporterOptions {
  // The collector's base URL (http[s]://host:port[/path]); "/v1/traces" is added unless the
  // URL already ends with it.
  std::string endpoint;
  // Sent with every request (authorization); never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  // The resource's service.name.
  std::string service_name = "handoff";
  std::size_t max_queue = 8192;
  std::size_t max_batch = 512;
  // How long a span may wait for others to fill a batch.
  std::chrono::milliseconds batch_delay{1000};
  // Bounds one POST.
  std::chrono::milliseconds request_timeout{5000};
  // Tries per batch, and the wait before the second (doubled each time, at most 5 s).
  int max_tries = 4;
  std::chrono::milliseconds first_backoff{250};
  // Receives a line (never the headers) when a batch cannot be sent; the exporter calls it
  // at most once a minute, saying how many batches failed since.
  std::function<void(const std::string&)> on_error;
};

// Parses OTEL_EXPORTER_OTLP_HEADERS' form, "k1=v1,k2=v2" (values URL-encoded, so a comma
// is %2C), one per line in a file also accepted; an error says which entry is wrong and
// never shows a value.
Result<std::vector<std::pair<std::string, std::string>>> ParseHeaders(std::string_view text);

class Exporter : public SpanSink {
 public:
  // Checks the endpoint (an error names it) and starts the sending thread.
  static Result<std::unique_ptr<Exporter>> Start(ExporterOptions options);
  ~Exporter() override;

  // Sends the queued spans, waiting at most `timeout`, then stops the thread; spans still
  // queued are counted as dropped. Later Exports drop. Idempotent.
  void Shutdown(std::chrono::milliseconds timeout);

  // SpanSink
  void Export(Span span) override;

  // Spans the collector accepted, spans dropped (queue full, or given up on), and batches
  // that failed for good.
  std::uint64_t spans_exported() const { return exported_.load(); }
  std::uint64_t spans_dropped() const { return dropped_.load(); }
  std::uint64_t failed_batches() const { return failed_batches_.load(); }

 private:
  struct Target;
  Exporter(ExporterOptions options, std::unique_ptr<Target> target);
  void Loop();
  // Returns true once the batch is accepted.
  bool Send(const std::vector<Span>& batch);
  void ReportFailure(const std::string& why);

  ExporterOptions options_;
  std::unique_ptr<Target> target_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Span> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point give_up_at_ = std::chrono::steady_clock::time_point::max();
  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> failed_batches_{0};
  std::chrono::steady_clock::time_point last_report_{};
  bool reported_ = false;
  std::uint64_t unreported_ = 0;
  std::thread thread_;
};

}  // namespace handoff::otlp
