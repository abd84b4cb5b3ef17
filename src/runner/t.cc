// handoff::T, Span and Context: what a test calls. Each call becomes an event.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <system_error>

#include "handoff/internal/hooks.h"
#include "duration/duration.h"
#include "event/attachment.h"
#include "event/trace_context.h"
#include "handoff/t.h"
#include "runner/runner.h"

namespace handoff {

using internal::TestAbort;
using internal::TestState;

Context::Clock::duration Context::Remaining() const {
  if (deadline_ == Clock::time_point::max()) return Clock::duration::max();
  auto left = deadline_ - Clock::now();
  return left > Clock::duration::zero() ? left : Clock::duration::zero();
}

bool Context::SleepFor(Clock::duration d) const {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  // Returns true only when the stop was requested (the predicate).
  bool stopped = cv.wait_for(lock, token_, d, [] { return false; });
  return !stopped && !token_.stop_requested();
}

namespace {

Event Located(const TestState& s, EventKind kind, std::string_view text,
              const std::source_location& where) {
  Event e = s.MakeEvent(kind);
  e.text = text;
  e.file = where.file_name();
  e.line = static_cast<int>(where.line());
  return e;
}

}  // namespace

namespace internal {

TestState* StateOf(T& t) { return t.state_; }

const std::string& SuiteName(T& t) {
  static const std::string kNone;
  const TestState* state = StateOf(t);
  return state->scope != nullptr ? state->scope->suite.name : kNone;
}

std::string RewriteSubtestName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    if (c == ' ') {
      out += '_';
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {
Event LocatedAt(const TestState& s, EventKind kind, std::string_view text, const char* file,
                int line) {
  Event e = s.MakeEvent(kind);
  e.text = text;
  e.file = file != nullptr ? file : "";
  e.line = line;
  return e;
}
}  // namespace

void LogAt(T& t, std::string_view message, const char* file, int line) {
  TestState* state = StateOf(t);
  state->scope->Emit(LocatedAt(*state, EventKind::kLog, message, file, line), true);
}

void AbortFailed(TestState& state) {
  // Held here, the test's world is whole: its locals (environments, runnables, clients) are
  // destroyed by the unwind that follows, not before the hold.
  state.scope->MaybeHold(state);
  throw TestAbort{};
}

void FailAt(T& t, std::string_view message, const char* file, int line) {
  TestState* state = StateOf(t);
  state->failed = true;
  if (state->first_failure.empty()) state->first_failure = message;
  Event e = LocatedAt(*state, EventKind::kFailure, message, file, line);
  e.soft = state->Root()->soft;
  state->scope->Emit(e, true);
}

void FatalAt(T& t, std::string_view message, const char* file, int line) {
  FailAt(t, message, file, line);
  AbortFailed(*StateOf(t));
}

void SkipAt(T& t, std::string_view reason, const char* file, int line) {
  TestState* state = StateOf(t);
  state->skipped = true;
  state->scope->Emit(LocatedAt(*state, EventKind::kSkip, reason, file, line), true);
  throw TestAbort{};
}

}  // namespace internal

void T::Log(std::string_view message, std::source_location where) {
  state_->scope->Emit(Located(*state_, EventKind::kLog, message, where), true);
}

void T::Error(std::string_view message, std::source_location where) {
  state_->failed = true;
  if (state_->first_failure.empty()) state_->first_failure = message;
  Event e = Located(*state_, EventKind::kFailure, message, where);
  e.soft = state_->Root()->soft;
  state_->scope->Emit(e, true);
}

void T::Fatal(std::string_view message, std::source_location where) {
  Error(message, where);
  internal::AbortFailed(*state_);
}

void T::Fail(std::source_location) { state_->failed = true; }

void T::FailNow(std::source_location) {
  state_->failed = true;
  internal::AbortFailed(*state_);
}

bool T::Failed() const { return state_->failed; }

void T::Skip(std::string_view reason, std::source_location where) {
  state_->skipped = true;
  state_->scope->Emit(Located(*state_, EventKind::kSkip, reason, where), true);
  throw TestAbort{};
}

void T::SkipNow(std::source_location where) {
  state_->skipped = true;
  state_->scope->Emit(Located(*state_, EventKind::kSkip, "", where), true);
  throw TestAbort{};
}

bool T::Skipped() const { return state_->skipped; }

void T::Cleanup(std::function<void()> fn) { state_->cleanups.push_back(std::move(fn)); }

const std::string& T::Name() const { return state_->name; }

const handoff::Context& T::Context() const { return state_->context; }

void T::SetTimeout(std::chrono::milliseconds timeout) {
  const std::chrono::milliseconds cap = state_->scope->timeout_cap;
  if (cap.count() > 0 && timeout > cap) {
    Logf("SetTimeout({}) capped at --timeout {}", FormatDuration(timeout), FormatDuration(cap));
    timeout = cap;
  }
  TestState* root = state_->Root();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // WithCancellation keeps the contexts' values (the traceparent among them).
  root->context = root->context.WithCancellation(handoff::Context(root->context.StopToken(), deadline));
  for (TestState* s = state_; s != root; s = s->parent) {
    s->context = s->context.WithCancellation(handoff::Context(s->context.StopToken(), deadline));
  }
  state_->scope->Rearm(root, deadline);
  Event e = root->MakeEvent(EventKind::kTimeoutChanged);
  e.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  state_->scope->Emit(e, false);
}

int T::Attempt() const { return state_->attempt; }

void T::SoftFailure() { state_->Root()->soft = true; }

void T::SetValue(std::string_view key, std::string_view value) {
  auto it = std::find_if(state_->values.begin(), state_->values.end(),
                         [&](const auto& kv) { return kv.first == key; });
  if (it != state_->values.end()) {
    it->second = value;
  } else {
    state_->values.emplace_back(key, value);
  }
  Event e = state_->MakeEvent(EventKind::kValue);
  e.key = key;
  e.text = value;
  state_->scope->Emit(e, false);
}

std::optional<std::string> T::Value(std::string_view key) const {
  for (TestState* s = state_; s != nullptr; s = s->parent) {
    for (const auto& [k, v] : s->values) {
      if (k == key) return v;
    }
  }
  for (const auto& [k, v] : state_->scope->params) {
    if (k == key) return v;
  }
  return std::nullopt;
}

void T::Attach(std::string_view name, std::string_view data, std::string_view media_type,
               std::source_location where) {
  const std::string type =
      media_type.empty() ? GuessMediaType(name) : NormalizeMediaType(media_type);
  std::string why = CheckAttachmentName(name);
  if (why.empty()) why = CheckMediaType(type);
  if (why.empty() && data.size() > kMaxAttachmentBytes) {
    why = fmt::format("it is {} bytes, over the limit of {} bytes per attachment", data.size(),
                      kMaxAttachmentBytes);
  }
  if (why.empty()) {
    TestState* root = state_->Root();
    std::lock_guard lock(state_->scope->attach_mu);
    std::vector<std::string>& names = state_->attachment_names;
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      why = "this test already attached a file of that name in this attempt";
    } else if (root->attached_count >= kMaxAttemptAttachments) {
      why = fmt::format("the attempt already kept {} attachments, the limit", root->attached_count);
    } else if (root->attached_bytes + data.size() > kMaxAttemptAttachmentBytes) {
      why = fmt::format("the attempt's attachments would reach {} bytes, over the limit of {}",
                        root->attached_bytes + data.size(), kMaxAttemptAttachmentBytes);
    } else {
      names.emplace_back(name);
      root->attached_bytes += data.size();
      ++root->attached_count;
    }
  }
  if (!why.empty()) {
    Error(fmt::format("Attach(\"{}\"): not kept: {}", name.substr(0, kMaxAttachmentName), why),
          where);
    return;
  }
  Event e = state_->MakeEvent(EventKind::kAttachment);
  e.key = name;
  e.file = type;
  e.text = data;
  state_->scope->Emit(e, false);
}

void T::AttachFile(std::string_view name, const std::filesystem::path& path,
                   std::string_view media_type, std::source_location where) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    Error(fmt::format("AttachFile(\"{}\"): cannot read {}: {}", name, path.string(), ec.message()),
          where);
    return;
  }
  if (size > kMaxAttachmentBytes) {
    // Not read: the bound says no before the memory is spent.
    Error(fmt::format("AttachFile(\"{}\"): not kept: {} is {} bytes, over the limit of {} bytes "
                      "per attachment", name, path.string(), size, kMaxAttachmentBytes),
          where);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad() || !in.is_open()) {
    Error(fmt::format("AttachFile(\"{}\"): cannot read {}", name, path.string()), where);
    return;
  }
  Attach(name, data, media_type.empty() ? std::string_view(GuessMediaType(path.filename().string()))
                                         : media_type, where);
}

Span T::StartSpan(std::string_view name) {
  std::uint32_t id = state_->scope->next_span_id.fetch_add(1);
  Event e = state_->MakeEvent(EventKind::kSpanStarted);
  e.span_id = id;
  e.key = name;
  if (!state_->trace_id.empty()) {
    e.trace_id = state_->trace_id;
    e.parent_span = state_->CurrentSpan();
    e.trace_span = NewSpanId();
  }
  state_->spans.push_back(
      TestState::OpenSpan{id, std::chrono::steady_clock::now(), {}, e.trace_span});
  state_->scope->Emit(e, false);
  return Span(this, id);
}

std::string T::TraceParent() const {
  if (state_->trace_id.empty()) return {};
  return FormatTraceParent(state_->trace_id, state_->CurrentSpan());
}

std::filesystem::path T::TempDir() {
  std::string safe;
  for (char c : state_->name) safe += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (safe.size() > 40) safe.resize(40);
  std::string pattern =
      (std::filesystem::temp_directory_path() / ("handoff-" + safe + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    Fatal(fmt::format("TempDir: cannot create {}: {}", pattern,
                      std::system_category().message(errno)));
  }
  std::filesystem::path dir(pattern);
  state_->temp_dirs.push_back(dir.string());
  Cleanup([dir] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  return dir;
}

void T::Setenv(const std::string& key, const std::string& value) {
  const char* old = std::getenv(key.c_str());
  std::optional<std::string> previous;
  if (old != nullptr) previous = old;
  ::setenv(key.c_str(), value.c_str(), 1);
  Cleanup([key, previous] {
    if (previous) {
      ::setenv(key.c_str(), previous->c_str(), 1);
    } else {
      ::unsetenv(key.c_str());
    }
  });
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    t_ = std::exchange(other.t_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

void Span::SetAttribute(std::string_view key, std::string_view value) {
  if (t_ == nullptr) return;
  for (TestState::OpenSpan& span : t_->state_->spans) {
    if (span.id == id_) span.attributes.emplace_back(key, value);
  }
}

void Span::End() {
  if (t_ == nullptr) return;
  TestState* state = t_->state_;
  t_ = nullptr;
  auto it = std::find_if(state->spans.begin(), state->spans.end(),
                         [&](const TestState::OpenSpan& s) { return s.id == id_; });
  if (it == state->spans.end()) return;
  Event e = state->MakeEvent(EventKind::kSpanEnded);
  e.span_id = id_;
  e.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - it->start)
                     .count();
  e.attributes = std::move(it->attributes);
  state->spans.erase(it);
  state->scope->Emit(e, false);
}

bool T::Run(std::string_view name, const std::function<void(T&)>& fn) {
  std::string base = internal::RewriteSubtestName(name);
  // Like Go, a repeated subtest name gets a "#01" suffix so each result is distinct.
  int dup = static_cast<int>(std::count(state_->subtest_names.begin(),
                                        state_->subtest_names.end(), base));
  state_->subtest_names.push_back(base);
  if (dup > 0) base += fmt::format("#{:02d}", dup);
  std::string full = state_->name.empty() ? base : state_->name + "/" + base;

  internal::SuiteRunScope* scope = state_->scope;
  if ((scope->run_filter && !scope->run_filter->Selects(full)) ||
      (scope->skip_filter && scope->skip_filter->Skips(full)) ||
      (scope->gtest_filter && !scope->gtest_filter->Selects(scope->suite.name, full))) {
    return true;
  }
  TestState child(scope, state_, full, state_->attempt, state_->context);
  if (!state_->trace_id.empty()) child.StartTrace(state_->trace_id, state_->CurrentSpan());
  T child_t(&child);
  auto start = std::chrono::steady_clock::now();
  scope->Emit(child.StartedEvent(), true);
  if (scope->capture != nullptr) scope->capture->Enter(full);
  internal::RunGuarded(child_t, child, fn);
  scope->MaybeHold(child);
  internal::RunCleanups(child);
  if (scope->capture != nullptr) scope->capture->Leave();
  Event done = child.MakeEvent(EventKind::kTestFinished);
  done.status = child.failed ? Status::kFailed
                : child.skipped ? Status::kSkipped
                                : Status::kPassed;
  done.soft = child.failed && state_->Root()->soft;
  done.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  scope->Emit(done, false);
  if (child.failed) state_->failed = true;
  return !child.failed;
}

}  // namespace handoff
