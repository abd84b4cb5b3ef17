#include "otlp/exporter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "http_client/http_client.h"
#include "otlp/otlp_json.h"

namespace handoff::otlp {
namespace {

constexpr std::string_view kTracesPath = "/v1/traces";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

bool IsToken(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ParseHeaders(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t index = 0;
  while (!text.empty()) {
    const std::size_t end = text.find_first_of(",\n");
    std::string_view entry = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++index;
    if (entry.empty()) continue;
    const std::size_t eq = entry.find('=');
    std::string_view name = Trim(entry.substr(0, eq));
    if (eq == std::string_view::npos || !IsToken(name)) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("header {}: want name=value with a header name before '='", index)};
    }
    std::optional<std::string> value = PercentDecode(Trim(entry.substr(eq + 1)));
    if (!value || value->find_first_of("\r\n") != std::string::npos) {
      return Error{ErrorCode::kInvalid,
                   fmt::format("header {} ({}): its value is not valid URL-encoded text", index, name)};
    }
    out.emplace_back(std::string(name), std::move(*value));
  }
  return out;
}

struct Exporter::Target {
  http::Url url;
  std::string path;
  std::shared_ptr<const http::ClientTls> tls;
  std::unique_ptr<http::Client> client;
};

Result<std::unique_ptr<Exporter>> Exporter::Start(ExporterOptions options) {
  std::string error;
  std::optional<http::Url> url = http::ParseUrl(options.endpoint, &error);
  if (!url) return Error{ErrorCode::kInvalid, error};
  auto target = std::make_unique<Target>();
  target->url = *url;
  target->path = url->base;
  if (!std::string_view(target->path).ends_with(kTracesPath)) target->path += kTracesPath;
  if (url->https) {
    auto tls = http::LoadClientTls({});
    if (!tls.ok()) return tls.error();
    target->tls = *tls;
  }
  return std::unique_ptr<Exporter>(new Exporter(std::move(options), std::move(target)));
}

Exporter::Exporter(ExporterOptions options, std::unique_ptr<Target> target)
    : options_(std::move(options)), target_(std::move(target)), thread_([this] { Loop(); }) {}

Exporter::~Exporter() { Shutdown(std::chrono::milliseconds(0)); }

void Exporter::Export(Span span) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      dropped_.fetch_add(1);
      return;
    }
    queue_.push_back(std::move(span));
    // The thread waits for a first span, then for a full batch: wake it only for those.
    if (queue_.size() != 1 && queue_.size() != options_.max_batch) return;
  }
  cv_.notify_one();
}

void Exporter::Shutdown(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      give_up_at_ = std::chrono::steady_clock::now() + timeout;
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Exporter::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    if (queue_.empty()) {
      if (stopping_) return;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      continue;
    }
    // A batch fills for at most batch_delay after its first span arrived (or less at the end).
    cv_.wait_for(lock, options_.batch_delay,
                 [&] { return stopping_ || queue_.size() >= options_.max_batch; });
    if (stopping_ && std::chrono::steady_clock::now() >= give_up_at_) {
      dropped_.fetch_add(queue_.size());
      queue_.clear();
      return;
    }
    const std::size_t n = std::min(queue_.size(), options_.max_batch);
    std::vector<Span> batch(std::make_move_iterator(queue_.begin()),
                            std::make_move_iterator(queue_.begin() + static_cast<long>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n));
    lock.unlock();
    if (Send(batch)) {
      exported_.fetch_add(batch.size());
    } else {
      dropped_.fetch_add(batch.size());
      failed_batches_.fetch_add(1);
    }
    lock.lock();
  }
}

bool Exporter::Send(const std::vector<Span>& batch) {
  const std::string body =
      EncodeTraces({StringAttribute("service.name", options_.service_name)}, batch);
  std::vector<std::pair<std::string, std::string>> headers = options_.headers;
  headers.emplace_back("Content-Type", "application/json");
  auto backoff = options_.first_backoff;
  std::string why;
  for (int attempt = 1; attempt <= options_.max_tries; ++attempt) {
    auto timeout = options_.request_timeout;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        // At shutdown, the deadline bounds the request too.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            give_up_at_ - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        timeout = std::min(timeout, left);
      }
    }
    if (!target_->client) {
      target_->client = std::make_unique<http::Client>(target_->url.host, target_->url.port,
                                                       target_->tls);
    }
    http::ClientResult r = target_->client->Request("POST", target_->path, body, headers, timeout);
    if (r.ok() && r.status >= 200 && r.status < 300) return true;
    if (!r.ok()) {
      why = r.error;
      target_->client.reset();  // a broken connection is not reused
    } else {
      why = fmt::format("HTTP {}", r.status);
      // Other 4xx answers (a bad request, a wrong token) do not change when repeated.
      if (r.status != 429 && r.status < 500) break;
    }
    if (attempt == options_.max_tries) break;
    std::unique_lock lock(mu_);
    const auto wake = std::min(std::chrono::steady_clock::now() + backoff, give_up_at_);
    // Woken early only by a shutdown whose deadline has passed.
    cv_.wait_until(lock, wake, [&] { return stopping_ && std::chrono::steady_clock::now() >= give_up_at_; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  ReportFailure(fmt::format("OTLP export to {}{} failed: {} ({} spans dropped)",
                            target_->url.https ? "https://" : "http://",
                            target_->url.host + ":" + std::to_string(target_->url.port) + target_->path,
                            why, batch.size()));
  return false;
}

void Exporter::ReportFailure(const std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  if (reported_ && now - last_report_ < std::chrono::minutes(1)) {
    ++unreported_;
    return;
  }
  std::string line = why;
  if (unreported_ > 0) line += fmt::format("; {} more failed batches since the last report", unreported_);
  reported_ = true;
  last_report_ = now;
  unreported_ = 0;
  if (options_.on_error) options_.on_error(line);
}

}  // namespace handoff::otlp
