#include "store/run_json.h"

#include <fmt/format.h>

#include <cctype>
#include <ctime>

#include "json/json_writer.h"

namespace handoff::store {
namespace {

void Field(std::string& out, const char* name) {
  out += ",\"";
  out += name;
  out += "\":";
}

void AppendInt(std::string& out, std::int64_t value) {
  const fmt::format_int text(value);
  out.append(text.data(), text.size());
}

void AppendBool(std::string& out, bool value) { out += value ? "true" : "false"; }

// Appends `value` as `width` digits, zero-padded.
void AppendPadded(std::string& out, int value, int width) {
  char digits[8];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits, static_cast<std::size_t>(width));
}

// Appends {"total":`total`,"passed",...,"flaky" without the closing brace.
void AppendTotalsFields(std::string& out, const Totals& t, std::int64_t total) {
  out += "{\"total\":";
  AppendInt(out, total);
  out += ",\"passed\":";
  AppendInt(out, t.passed);
  out += ",\"failed\":";
  AppendInt(out, t.failed);
  out += ",\"soft_failed\":";
  AppendInt(out, t.soft_failed);
  out += ",\"skipped\":";
  AppendInt(out, t.skipped);
  out += ",\"cancelled\":";
  AppendInt(out, t.cancelled);
  out += ",\"flaky\":";
  AppendInt(out, t.flaky);
}

}  // namespace

bool IsPartial(const Run& run) { return !run.tests.empty() || !run.filter.empty(); }

void AppendTotalsJson(std::string& out, const Totals& t) {
  AppendTotalsFields(out, t, t.total);
  out += '}';
}

void AppendTimeJson(std::string& out, std::int64_t time_ns) {
  if (time_ns == 0) {
    out += "null";
    return;
  }
  // A run's tests share their few seconds: format each second once per thread.
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached_text;  // "\"2026-11-23T06:55:31."
  const std::int64_t second = time_ns / 1'000'000'000;
  if (second != cached_second) {
    const std::time_t seconds = static_cast<std::time_t>(second);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    cached_text = fmt::format("\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = second;
  }
  out += cached_text;
  AppendPadded(out, static_cast<int>((time_ns / 1'000'000) % 1000), 3);
  out += "Z\"";
}

void AppendRunJsonHead(std::string& out, const Run& run) {
  fmt::format_to(std::back_inserter(out), "{{\"id\":{}", run.id);
  Field(out, "suite");
  AppendJsonString(out, run.suite);
  Field(out, "namespace");
  AppendJsonString(out, run.namespace_name);
  Field(out, "status");
  AppendJsonString(out, RunStatusName(run.status));
  Field(out, "trigger");
  AppendJsonString(out, TriggerName(run.trigger));
  Field(out, "initiated_by");
  AppendJsonString(out, run.initiated_by);
  if (!run.on_behalf_of.empty()) {
    Field(out, "on_behalf_of");
    AppendJsonString(out, run.on_behalf_of);
  }
  Field(out, "reference");
  AppendJsonString(out, run.reference);
  Field(out, "environment");
  AppendJsonString(out, run.environment);
  if (!run.replica.empty()) {
    Field(out, "replica");
    AppendJsonString(out, run.replica);
  }
  Field(out, "schedule");
  AppendJsonString(out, run.schedule);
  Field(out, "created_at");
  AppendTimeJson(out, run.created_at_ns);
  Field(out, "started_at");
  AppendTimeJson(out, run.started_at_ns);
  Field(out, "finished_at");
  AppendTimeJson(out, run.finished_at_ns);
  Field(out, "duration_ms");
  if (run.started_at_ns != 0 && run.finished_at_ns != 0) {
    fmt::format_to(std::back_inserter(out), "{}",
                   (run.finished_at_ns - run.started_at_ns) / 1'000'000);
  } else {
    out += "null";
  }
  Field(out, "flaky");
  out += run.flaky ? "true" : "false";
  Field(out, "partial");
  AppendBool(out, IsPartial(run));
  Field(out, "totals");
  if (run.totals) {
    AppendTotalsJson(out, *run.totals);
  } else {
    out += "null";
  }
  Field(out, "resumed");
  fmt::format_to(std::back_inserter(out), "{}", run.resumed);
  Field(out, "retry_of");
  if (run.retry_of != 0) {
    fmt::format_to(std::back_inserter(out), "{}", run.retry_of);
  } else {
    out += "null";
  }
  Field(out, "hunt");
  if (run.hunt_id != 0) {
    fmt::format_to(std::back_inserter(out), "{}", run.hunt_id);
  } else {
    out += "null";
  }
  Field(out, "error");
  AppendJsonString(out, run.error);
  Field(out, "filter");
  AppendJsonString(out, run.filter);
  Field(out, "max_attempts");
  fmt::format_to(std::back_inserter(out), "{}", run.max_attempts);
  Field(out, "timeout_ms");
  fmt::format_to(std::back_inserter(out), "{}", run.timeout_ms);
  Field(out, "labels");
  AppendStringObjectJson(out, run.labels);
  Field(out, "params");
  AppendStringObjectJson(out, ShownParams(run));
  Field(out, "values");
  AppendStringObjectJson(out, run.values);
  if (run.hold_on_failure) {
    Field(out, "hold_on_failure");
    out += "true";
    Field(out, "hold");
    if (run.hold) {
      AppendHoldJson(out, *run.hold);
    } else {
      out += "null";
    }
  }
}

void AppendHoldJson(std::string& out, const RunHold& h) {
  out += "{\"test\":";
  AppendJsonString(out, h.test);
  fmt::format_to(std::back_inserter(out), ",\"attempt\":{},\"pid\":{}", h.attempt, h.hold.pid);
  Field(out, "temp_dir");
  if (h.hold.temp_dirs.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, h.hold.temp_dirs.front());
  }
  Field(out, "temp_dirs");
  out += '[';
  for (std::size_t i = 0; i < h.hold.temp_dirs.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, h.hold.temp_dirs[i]);
  }
  out += ']';
  Field(out, "endpoints");
  out += '[';
  bool first = true;
  for (const HeldRunnable& r : h.hold.runnables) {
    for (const auto& [port, endpoint] : r.endpoints) {
      if (!first) out += ',';
      first = false;
      out += "{\"runnable\":";
      AppendJsonString(out, r.name);
      Field(out, "port");
      AppendJsonString(out, port);
      Field(out, "endpoint");
      AppendJsonString(out, endpoint);
      if (!r.container_id.empty()) {
        Field(out, "container_id");
        AppendJsonString(out, r.container_id);
      } else {
        fmt::format_to(std::back_inserter(out), ",\"pid\":{}", r.pid);
      }
      Field(out, "dir");
      AppendJsonString(out, r.dir);
      out += '}';
    }
  }
  out += ']';
  Field(out, "held_at");
  AppendTimeJson(out, h.held_at_ns);
  Field(out, "release_at");
  AppendTimeJson(out, h.release_at_ns);
  Field(out, "released_at");
  AppendTimeJson(out, h.released_at_ns);
  Field(out, "ended");
  if (h.ended.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, h.ended);
  }
  out += '}';
}

void AppendRunJsonTestsTail(std::string& out, const std::vector<TestRow>& tests) {
  // The same verdicts as the run's totals, plus the tests still pending or running.
  Totals finished;
  int pending = 0, running = 0;
  const auto attempts = RetriedTopLevelAttempts(tests);
  for (const TestRow& t : tests) {
    if (!IsCurrentRow(t, attempts)) continue;
    if (t.status == TestStatus::kPending) {
      ++pending;
    } else if (t.status == TestStatus::kRunning) {
      ++running;
    } else {
      finished.Add(VerdictOf(t));
    }
  }
  // `total` counts every test, pending and running ones too.
  out += ",\"counts\":";
  AppendTotalsFields(out, finished, finished.total + pending + running);
  out += ",\"pending\":";
  AppendInt(out, pending);
  out += ",\"running\":";
  AppendInt(out, running);
  out += '}';
  Field(out, "tests");
  out += '[';
  bool first = true;
  for (const TestRow& t : tests) {
    if (!first) out += ',';
    first = false;
    AppendTestRowJson(out, t);
  }
  out += "]}";
}

void AppendRunJson(std::string& out, const Run& run, const std::vector<TestRow>* tests) {
  AppendRunJsonHead(out, run);
  if (tests != nullptr) {
    AppendRunJsonTestsTail(out, *tests);
  } else {
    out += '}';
  }
}

void AppendTestRowJson(std::string& out, const TestRow& test) {
  // Called for every test of every run, stream event and page: no format strings here.
  out += "{\"name\":";
  AppendJsonString(out, test.name);
  out += ",\"status\":\"";
  out += TestStatusName(test.status);
  out += "\",\"attempt\":";
  AppendInt(out, test.attempt);
  out += ",\"soft_failure\":";
  AppendBool(out, test.soft_failure);
  out += ",\"flaky\":";
  AppendBool(out, test.flaky);
  out += ",\"started_at\":";
  AppendTimeJson(out, test.started_at_ns);
  out += ",\"duration_ms\":";
  AppendInt(out, test.duration_ms);
  out += ",\"message\":";
  AppendJsonString(out, test.message);
  AppendTestChangeJson(out, test);
  out += '}';
}

void AppendTestChangeJson(std::string& out, const TestRow& test) {
  out += ",\"change\":";
  if (test.change == TestChange::kNone) {
    out += "null";
  } else {
    out += '"';
    out += TestChangeName(test.change);
    out += '"';
  }
  out += ",\"failing_since\":";
  if (test.failing_since.run_id == 0) {
    out += "null";
    return;
  }
  out += "{\"run_id\":";
  AppendInt(out, test.failing_since.run_id);
  out += ",\"reference\":";
  AppendJsonString(out, test.failing_since.reference);
  out += ",\"created_at\":";
  AppendTimeJson(out, test.failing_since.created_at_ns);
  out += '}';
}

void AppendAttemptJson(std::string& out, const Attempt& attempt, const AttemptLinks& links,
                       const std::vector<AttachmentInfo>& attachments, std::int64_t run_id) {
  out += "{\"test\":";
  AppendJsonString(out, attempt.test);
  fmt::format_to(std::back_inserter(out), ",\"attempt\":{},\"status\":", attempt.attempt);
  AppendJsonString(out, TestStatusName(attempt.status));
  fmt::format_to(std::back_inserter(out), ",\"soft_failure\":{},\"started_at\":",
                 attempt.soft_failure);
  AppendTimeJson(out, attempt.started_at_ns);
  fmt::format_to(std::back_inserter(out), ",\"duration_ms\":{},\"skip_reason\":",
                 attempt.duration_ms);
  AppendJsonString(out, attempt.skip_reason);
  Field(out, "output");
  out += '[';
  bool first_line = true;
  for (const OutputLine& line : attempt.lines) {
    if (!IsShownLine(line)) continue;
    if (!first_line) out += ',';
    first_line = false;
    AppendJsonString(out, ShownText(line));
  }
  out += ']';
  Field(out, "failures");
  out += '[';
  for (std::size_t i = 0; i < attempt.failures.size(); ++i) {
    const Failure& f = attempt.failures[i];
    if (i > 0) out += ',';
    out += "{\"message\":";
    AppendJsonString(out, f.message);
    out += ",\"file\":";
    AppendJsonString(out, f.file);
    fmt::format_to(std::back_inserter(out), ",\"line\":{}}}", f.line);
  }
  out += ']';
  Field(out, "values");
  AppendStringObjectJson(out, attempt.values);
  Field(out, "spans");
  out += '[';
  for (std::size_t i = 0; i < attempt.spans.size(); ++i) {
    const Span& s = attempt.spans[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, s.name);
    out += ",\"start\":";
    AppendTimeJson(out, s.start_ns);
    fmt::format_to(std::back_inserter(out), ",\"start_ns\":{},\"elapsed_ns\":{},\"attributes\":",
                   s.start_ns, s.elapsed_ns);
    AppendStringObjectJson(out, s.attributes);
    out += '}';
  }
  out += ']';
  Field(out, "trace_id");
  AppendJsonString(out, attempt.trace_id);
  Field(out, "links");
  out += "{\"traces\":";
  if (links.traces.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, links.traces);
  }
  out += ",\"logs\":";
  if (links.logs.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, links.logs);
  }
  out += '}';
  Field(out, "attachments");
  out += '[';
  bool first = true;
  for (const AttachmentInfo& a : attachments) {
    if (a.test != attempt.test || a.attempt != attempt.attempt) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    AppendJsonString(out, a.name);
    out += ",\"media_type\":";
    AppendJsonString(out, a.media_type);
    fmt::format_to(std::back_inserter(out), ",\"size\":{},\"url\":", a.size);
    AppendJsonString(out, AttachmentUrl(run_id, a));
    out += '}';
  }
  out += "]}";
}

std::string AttachmentUrl(std::int64_t run_id, const AttachmentInfo& attachment) {
  auto encode = [](std::string& out, std::string_view text, bool keep_slash) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : text) {
      if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' ||
          (keep_slash && c == '/')) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  };
  std::string url = fmt::format("/api/v1/runs/{}/attachments/", run_id);
  encode(url, attachment.test, true);
  fmt::format_to(std::back_inserter(url), "/{}/", attachment.attempt);
  encode(url, attachment.name, false);
  return url;
}

}  // namespace handoff::store
