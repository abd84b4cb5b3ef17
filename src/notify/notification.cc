#include "notify/notification.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <ctime>
#include <iterator>
#include <limits>

#include "json/json_writer.h"

namespace handoff::notify {
namespace {

namespace json = boost::json;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// ,"key":
void Key(std::string& out, std::string_view key) {
  out += ',';
  AppendJsonString(out, key);
  out += ':';
}

void AppendInt(std::string& out, std::int64_t value) {
  fmt::format_to(std::back_inserter(out), "{}", value);
}

void AppendBool(std::string& out, bool value) { out += value ? "true" : "false"; }

// Appends "2026-12-04T11:20:08.123Z" (RFC 3339, UTC, milliseconds), quoted: the form of every
// time in the API, so that a receiver compares them as they are.
void AppendTime(std::string& out, std::int64_t time_ns) {
  // Floor division: a time before 1970 still names its own second.
  std::int64_t seconds = time_ns / kNanosPerSecond;
  std::int64_t nanos = time_ns % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    --seconds;
  }
  const std::int64_t millis = nanos / 1'000'000;
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(out), "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 millis);
}

// A time as a string, or null when it is 0 (not yet), followed by its exact value in
// nanoseconds ("created_at_ns"), which FromJson reads back.
void AppendTimeField(std::string& out, std::string_view name, std::int64_t time_ns) {
  Key(out, name);
  if (time_ns == 0) {
    out += "null";
  } else {
    AppendTime(out, time_ns);
  }
  Key(out, std::string(name) + "_ns");
  AppendInt(out, time_ns);
}

// An object of string values in the order given. A run's labels and params come from JSON
// objects, so their keys are unique, and Boost.JSON keeps the order when it reads them back.
void AppendPairs(std::string& out, const std::vector<std::pair<std::string, std::string>>& pairs) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : pairs) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ':';
    AppendJsonString(out, value);
  }
  out += '}';
}

void AppendTotals(std::string& out, const Totals& totals) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"total\":{},\"passed\":{},\"failed\":{},\"soft_failed\":{},"
                 "\"skipped\":{},\"cancelled\":{},\"flaky\":{}}}",
                 totals.total, totals.passed, totals.failed, totals.soft_failed, totals.skipped,
                 totals.cancelled, totals.flaky);
}

void AppendRun(std::string& out, const RunFacts& run) {
  out += "{\"id\":";
  AppendInt(out, run.id);
  Key(out, "suite");
  AppendJsonString(out, run.suite);
  Key(out, "namespace");
  AppendJsonString(out, run.namespace_name);
  Key(out, "status");
  AppendJsonString(out, run.status);
  Key(out, "trigger");
  AppendJsonString(out, run.trigger);
  Key(out, "initiated_by");
  AppendJsonString(out, run.initiated_by);
  Key(out, "on_behalf_of");
  AppendJsonString(out, run.on_behalf_of);
  Key(out, "reference");
  AppendJsonString(out, run.reference);
  Key(out, "environment");
  AppendJsonString(out, run.environment);
  Key(out, "schedule");
  AppendJsonString(out, run.schedule);
  Key(out, "filter");
  AppendJsonString(out, run.filter);
  Key(out, "partial");
  AppendBool(out, run.partial);
  Key(out, "labels");
  AppendPairs(out, run.labels);
  Key(out, "params");
  AppendPairs(out, run.params);
  AppendTimeField(out, "created_at", run.created_at_ns);
  AppendTimeField(out, "started_at", run.started_at_ns);
  AppendTimeField(out, "finished_at", run.finished_at_ns);
  // As the API computes it: only a run that started and finished has a duration.
  Key(out, "duration_ms");
  std::int64_t duration_ns = 0;
  if (run.started_at_ns != 0 && run.finished_at_ns != 0 &&
      !__builtin_sub_overflow(run.finished_at_ns, run.started_at_ns, &duration_ns)) {
    AppendInt(out, duration_ns / 1'000'000);
  } else {
    out += "null";
  }
  Key(out, "flaky");
  AppendBool(out, run.flaky);
  Key(out, "error");
  AppendJsonString(out, run.error);
  Key(out, "totals");
  AppendTotals(out, run.totals);
  Key(out, "url");
  AppendJsonString(out, run.url);
  out += '}';
}

void AppendTest(std::string& out, const TestOutcome& test) {
  out += "{\"name\":";
  AppendJsonString(out, test.name);
  Key(out, "status");
  AppendJsonString(out, test.status);
  Key(out, "soft_failure");
  AppendBool(out, test.soft_failure);
  Key(out, "flaky");
  AppendBool(out, test.flaky);
  Key(out, "attempt");
  AppendInt(out, test.attempt);
  Key(out, "duration_ms");
  AppendInt(out, test.duration_ms);
  Key(out, "message");
  AppendJsonString(out, test.message);
  Key(out, "file");
  AppendJsonString(out, test.file);
  Key(out, "line");
  AppendInt(out, test.line);
  Key(out, "change");
  if (test.change.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, test.change);
  }
  Key(out, "failing_since");
  if (test.failing_since_run == 0) {
    out += "null";
  } else {
    out += "{\"run_id\":";
    AppendInt(out, test.failing_since_run);
    Key(out, "reference");
    AppendJsonString(out, test.failing_since_reference);
    Key(out, "created_at_ns");
    AppendInt(out, test.failing_since_ns);
    out += '}';
  }
  out += '}';
}

// Reads the fields of one JSON object, remembering the first field that is missing or of
// another type, so that FromJson says where a stored document went wrong.
class ObjectReader {
 public:
  ObjectReader(const json::object& object, std::string path, std::string* error)
      : object_(object), path_(std::move(path)), error_(error) {}

  bool Has(std::string_view key) const { return object_.contains(key); }
  bool IsNull(std::string_view key) const {
    const json::value* value = object_.if_contains(key);
    return value != nullptr && value->is_null();
  }

  const json::value* Field(std::string_view key) {
    const json::value* value = object_.if_contains(key);
    if (value == nullptr) Fail(key, "is missing");
    return value;
  }

  void String(std::string_view key, std::string* out) {
    const json::value* value = Field(key);
    if (value == nullptr) return;
    if (const json::string* s = value->if_string()) {
      out->assign(s->data(), s->size());
    } else {
      Fail(key, "is not a string");
    }
  }

  void Bool(std::string_view key, bool* out) {
    const json::value* value = Field(key);
    if (value == nullptr) return;
    if (const bool* b = value->if_bool()) {
      *out = *b;
    } else {
      Fail(key, "is not true or false");
    }
  }

  // Returns false when `key` is missing or not an integer.
  bool Int64(std::string_view key, std::int64_t* out) {
    const json::value* value = Field(key);
    if (value == nullptr) return false;
    if (const std::int64_t* i = value->if_int64()) {
      *out = *i;
      return true;
    }
    Fail(key, "is not a 64-bit integer");
    return false;
  }

  void Int(std::string_view key, int* out) {
    std::int64_t wide = 0;
    if (!Int64(key, &wide)) return;
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
      Fail(key, "is out of range");
      return;
    }
    *out = static_cast<int>(wide);
  }

  // Returns the object at `key`, or nullptr (and an error unless null is allowed and it is
  // null).
  const json::object* Object(std::string_view key, bool null_allowed = false) {
    const json::value* value = Field(key);
    if (value == nullptr) return nullptr;
    if (const json::object* o = value->if_object()) return o;
    if (!(null_allowed && value->is_null())) Fail(key, "is not an object");
    return nullptr;
  }

  const json::array* Array(std::string_view key) {
    const json::value* value = Field(key);
    if (value == nullptr) return nullptr;
    if (const json::array* a = value->if_array()) return a;
    Fail(key, "is not an array");
    return nullptr;
  }

  void Pairs(std::string_view key, std::vector<std::pair<std::string, std::string>>* out) {
    const json::object* object = Object(key);
    if (object == nullptr) return;
    out->clear();
    for (const json::key_value_pair& kv : *object) {
      const json::string* s = kv.value().if_string();
      if (s == nullptr) {
        Fail(key, "has a value that is not a string");
        return;
      }
      out->emplace_back(std::string(kv.key()), std::string(s->data(), s->size()));
    }
  }

  std::string Path(std::string_view key) const { return path_ + "." + std::string(key); }

  void Fail(std::string_view key, std::string_view what) {
    if (error_->empty()) *error_ = Path(key) + " " + std::string(what);
  }

 private:
  const json::object& object_;
  std::string path_;
  std::string* error_;
};

void ReadTotals(ObjectReader& parent, std::string* error, Totals* totals) {
  const json::object* object = parent.Object("totals");
  if (object == nullptr) return;
  ObjectReader in(*object, parent.Path("totals"), error);
  in.Int("total", &totals->total);
  in.Int("passed", &totals->passed);
  in.Int("failed", &totals->failed);
  in.Int("soft_failed", &totals->soft_failed);
  in.Int("skipped", &totals->skipped);
  in.Int("cancelled", &totals->cancelled);
  in.Int("flaky", &totals->flaky);
}

void ReadRun(ObjectReader& data, std::string* error, RunFacts* run) {
  const json::object* object = data.Object("run");
  if (object == nullptr) return;
  ObjectReader in(*object, data.Path("run"), error);
  in.Int64("id", &run->id);
  in.String("suite", &run->suite);
  in.String("namespace", &run->namespace_name);
  in.String("status", &run->status);
  in.String("trigger", &run->trigger);
  in.String("initiated_by", &run->initiated_by);
  in.String("on_behalf_of", &run->on_behalf_of);
  in.String("reference", &run->reference);
  in.String("environment", &run->environment);
  in.String("schedule", &run->schedule);
  in.String("filter", &run->filter);
  in.Bool("partial", &run->partial);
  in.Pairs("labels", &run->labels);
  in.Pairs("params", &run->params);
  // The strings are the nanoseconds rounded down to milliseconds; the numbers are exact.
  in.Int64("created_at_ns", &run->created_at_ns);
  in.Int64("started_at_ns", &run->started_at_ns);
  in.Int64("finished_at_ns", &run->finished_at_ns);
  in.Bool("flaky", &run->flaky);
  in.String("error", &run->error);
  ReadTotals(in, error, &run->totals);
  in.String("url", &run->url);
}

void ReadTest(const json::value& value, std::string path, std::string* error,
              TestOutcome* test) {
  const json::object* object = value.if_object();
  if (object == nullptr) {
    if (error->empty()) *error = path + " is not an object";
    return;
  }
  ObjectReader in(*object, std::move(path), error);
  in.String("name", &test->name);
  in.String("status", &test->status);
  in.Bool("soft_failure", &test->soft_failure);
  in.Bool("flaky", &test->flaky);
  in.Int("attempt", &test->attempt);
  in.Int64("duration_ms", &test->duration_ms);
  in.String("message", &test->message);
  in.String("file", &test->file);
  in.Int("line", &test->line);
  // Documents stored before these fields existed have neither.
  if (in.Has("change") && !in.IsNull("change")) in.String("change", &test->change);
  if (in.Has("failing_since")) {
    if (const json::object* since = in.Object("failing_since", /*null_allowed=*/true)) {
      ObjectReader s(*since, in.Path("failing_since"), error);
      s.Int64("run_id", &test->failing_since_run);
      s.String("reference", &test->failing_since_reference);
      s.Int64("created_at_ns", &test->failing_since_ns);
    }
  }
}

// The largest stored notification read back: a run of 100,000 tests with long messages
// stays well under it.
constexpr std::size_t kMaxJsonBytes = 256u << 20;

}  // namespace

const char* EventName(Event event) {
  switch (event) {
    case Event::kRunStarted: return "run.started";
    case Event::kRunFinished: return "run.finished";
    case Event::kTestFailed: return "test.failed";
  }
  return "run.finished";
}

bool ParseEvent(std::string_view name, Event* out) {
  for (Event e : {Event::kRunStarted, Event::kRunFinished, Event::kTestFailed}) {
    if (name == EventName(e)) {
      *out = e;
      return true;
    }
  }
  return false;
}

const char* ChangeName(Change change) {
  switch (change) {
    case Change::kNone: return "";
    case Change::kFirst: return "first";
    case Change::kBroke: return "broke";
    case Change::kRecovered: return "recovered";
    case Change::kStillFailing: return "still_failing";
    case Change::kStillPassing: return "still_passing";
  }
  return "";
}

bool ParseChange(std::string_view name, Change* out) {
  for (Change c : {Change::kNone, Change::kFirst, Change::kBroke, Change::kRecovered,
                   Change::kStillFailing, Change::kStillPassing}) {
    if (name == ChangeName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

void SplitLocation(std::string_view located, std::string* file, int* line, std::string* message) {
  file->clear();
  *line = 0;
  // "file.cc:12: message": a file without spaces, a colon, digits, ": ".
  const std::size_t colon = located.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      located.substr(0, colon).find(' ') == std::string_view::npos) {
    const std::size_t digits_end = located.find(": ", colon + 1);
    if (digits_end != std::string_view::npos && digits_end > colon + 1) {
      int n = 0;
      const char* begin = located.data() + colon + 1;
      const char* end = located.data() + digits_end;
      auto [ptr, ec] = std::from_chars(begin, end, n);
      if (ec == std::errc() && ptr == end && n > 0) {
        *file = std::string(located.substr(0, colon));
        *line = n;
        *message = std::string(located.substr(digits_end + 2));
        return;
      }
    }
  }
  *message = std::string(located);
}

std::string ToJson(const Notification& notification) {
  std::string out;
  out.reserve(1024 + notification.tests.size() * 160);
  out += "{\"type\":";
  AppendJsonString(out, EventName(notification.event));
  Key(out, "timestamp");
  AppendTime(out, notification.created_at_ns);
  Key(out, "timestamp_ns");
  AppendInt(out, notification.created_at_ns);
  Key(out, "id");
  AppendJsonString(out, notification.id);
  out += ",\"data\":{\"run\":";
  AppendRun(out, notification.run);
  Key(out, "change");
  if (notification.change == Change::kNone) {
    out += "null";
  } else {
    AppendJsonString(out, ChangeName(notification.change));
  }
  Key(out, "previous");
  if (notification.previous) {
    out += "{\"id\":";
    AppendInt(out, notification.previous->id);
    Key(out, "status");
    AppendJsonString(out, notification.previous->status);
    Key(out, "url");
    AppendJsonString(out, notification.previous->url);
    out += '}';
  } else {
    out += "null";
  }
  Key(out, "tests");
  out += '[';
  for (std::size_t i = 0; i < notification.tests.size(); ++i) {
    if (i > 0) out += ',';
    AppendTest(out, notification.tests[i]);
  }
  out += "]}}";
  return out;
}

Result<Notification> FromJson(std::string_view text) {
  const auto corrupt = [](std::string why) {
    return Error{ErrorCode::kCorrupt, "a stored notification cannot be read: " + why};
  };
  if (text.size() > kMaxJsonBytes) return corrupt("it is larger than 256 MiB");
  json::error_code ec;
  const json::value document = json::parse(text, ec);
  if (ec) return corrupt("not JSON (" + ec.message() + ")");
  const json::object* root = document.if_object();
  if (root == nullptr) return corrupt("not a JSON object");

  Notification notification;
  std::string error;
  ObjectReader in(*root, "$", &error);
  std::string type;
  in.String("type", &type);
  if (error.empty() && !ParseEvent(type, &notification.event)) {
    error = "$.type is not an event's name";
  }
  in.Int64("timestamp_ns", &notification.created_at_ns);
  in.String("id", &notification.id);
  if (const json::object* data_object = in.Object("data")) {
    ObjectReader data(*data_object, "$.data", &error);
    ReadRun(data, &error, &notification.run);
    if (const json::value* change = data.Field("change")) {
      if (const json::string* name = change->if_string()) {
        // null stands for kNone: a name is never empty.
        if (name->empty() || !ParseChange(*name, &notification.change)) {
          data.Fail("change", "is not a change's name");
        }
      } else if (!change->is_null()) {
        data.Fail("change", "is neither a string nor null");
      }
    }
    if (const json::object* previous = data.Object("previous", /*null_allowed=*/true)) {
      ObjectReader prev(*previous, "$.data.previous", &error);
      PreviousRun run;
      prev.Int64("id", &run.id);
      prev.String("status", &run.status);
      prev.String("url", &run.url);
      notification.previous = std::move(run);
    }
    if (const json::array* tests = data.Array("tests")) {
      notification.tests.resize(tests->size());
      for (std::size_t i = 0; i < tests->size() && error.empty(); ++i) {
        ReadTest((*tests)[i], fmt::format("$.data.tests[{}]", i), &error,
                 &notification.tests[i]);
      }
    }
  }
  if (!error.empty()) return corrupt(error);
  return notification;
}

}  // namespace handoff::notify
