// handoff::Main: the command line of every handoff binary.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/count_flag.h"
#include "cli/otlp_flags.h"
#include "cli/gtest_flags.h"
#include "cli/remote_command.h"
#include "cli/backup_command.h"
#include "cli/db_command.h"
#include "cli/image_command.h"
#include "cli/token_command.h"
#include "cli/serve_command.h"
#include "duration/duration.h"
#include "googletest/gtest_filter.h"
#include "engine/run_engine.h"
#include "external/external_runner.h"
#include "external/suites_config.h"
#include "handoff/main.h"
#include "json/json_writer.h"
#include "otlp/trace_recorder.h"
#include "report/attachment_files.h"
#include "report/reporters.h"
#include "report/results.h"
#include "runner/registry.h"
#include "runner/selection.h"
#include "store/run_json.h"
#include "worker/supervisor.h"
#include "worker/worker.h"

namespace handoff {

Option WithSuites(std::vector<Suite> suites) {
  return [suites = std::move(suites)](MainConfig& config) {
    config.suites.insert(config.suites.end(), suites.begin(), suites.end());
  };
}

Option WithSchedule(Schedule schedule) {
  return [schedule = std::move(schedule)](MainConfig& config) {
    config.schedules.push_back(schedule);
  };
}

Schedule::operator Option() const { return WithSchedule(*this); }

Option WithHook(std::shared_ptr<Hook> hook) {
  return [hook = std::move(hook)](MainConfig& config) { config.hooks.push_back(hook); };
}

namespace {

constexpr int kExitUsage = 2;

std::atomic<bool> g_cancel{false};

// run --hold-on-failure --isolation=none: kill -URG releases the test this process holds.
std::atomic<bool> g_release{false};
void OnRelease(int) { g_release.store(true); }

void OnInterrupt(int sig) {
  // The first ^C stops the run gracefully; a second one ends the process, and the tests
  // with it.
  if (!g_cancel.exchange(true)) return;
  KillAllWorkers();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "handoff: %s\nRun with --help for usage.\n", message.c_str());
  return kExitUsage;
}

// Flags shared by run and list.
struct SelectionFlags {
  std::string suite, run, skip, labels, skip_labels;
  std::string feature, skip_features, assess, skip_assessment;

  void Add(CLI::App* cmd) {
    cmd->add_option("--suite", suite, "Run only suites whose name matches this RE2 regex");
    cmd->add_option("--run", run,
                    "Run only tests matching this regex; 'Test/Sub' selects subtests like go test");
    cmd->add_option("--skip", skip, "Skip tests matching this regex ('Test/Sub' for subtests)");
    cmd->add_option("--labels", labels, "Run only tests with all these labels (a suite's or their own): k=v,k2=v2");
    cmd->add_option("--skip-labels", skip_labels, "Skip tests with any of these labels: k=v,...");
    cmd->add_option("--feature", feature, "Run only features whose name matches this regex");
    cmd->add_option("--skip-features", skip_features, "Skip features whose name matches this regex");
    cmd->add_option("--assess", assess,
                    "Run only the assessments of features that match this regex");
    cmd->add_option("--skip-assessment", skip_assessment,
                    "Skip the assessments of features that match this regex");
  }

  // Fills `out`; returns an error message naming the flag, or empty.
  std::string ToOptions(SelectionOptions* out) const {
    out->suite_pattern = suite;
    out->run_pattern = run;
    out->skip_pattern = skip;
    out->feature_pattern = feature;
    out->skip_feature_pattern = skip_features;
    out->assess_pattern = assess;
    out->skip_assess_pattern = skip_assessment;
    std::string error;
    if (!ParseLabels(labels, &out->labels, &error)) return "--labels: " + error;
    if (!ParseLabels(skip_labels, &out->skip_labels, &error)) return "--skip-labels: " + error;
    return {};
  }
};

// Reads "INDEX/TOTAL" into the selection; returns what is wrong with it, or empty.
std::string ParseShard(const std::string& text, SelectionOptions* selection) {
  const std::string want = "want INDEX/TOTAL with 0 <= INDEX < TOTAL, got \"" + text + "\"";
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return want;
  int index = 0, total = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [index_end, index_ec] = std::from_chars(begin, begin + slash, index);
  auto [total_end, total_ec] = std::from_chars(begin + slash + 1, end, total);
  if (index_ec != std::errc() || index_end != begin + slash || total_ec != std::errc() ||
      total_end != end) {
    return want;
  }
  if (total < 1) return "TOTAL must be at least 1, got \"" + text + "\"";
  if (index < 0 || index >= total) return want;
  selection->shard_index = index;
  selection->shard_total = total;
  return {};
}

void AppendLabels(std::string& out, const std::map<std::string, std::string>& labels) {
  out += "  [";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=" + v;
  }
  out += "]";
}

std::string FormatList(const std::vector<SelectedSuite>& suites,
                       const SelectionOptions& selection, bool json) {
  const SubtestSelector subtests(selection);
  std::string out;
  if (json) {
    out += "{\"suites\":[";
    for (std::size_t i = 0; i < suites.size(); ++i) {
      const Suite& s = *suites[i].suite;
      if (i > 0) out += ',';
      out += "{\"name\":";
      AppendJsonString(out, s.name);
      out += ",\"namespace\":";
      AppendJsonString(out, s.namespace_name);
      out += ",\"description\":";
      AppendJsonString(out, s.description);
      out += ",\"labels\":";
      store::AppendStringObjectJson(out, s.labels);
      out += fmt::format(",\"max_attempts\":{},\"timeout_ms\":{},\"tests\":[", s.max_attempts,
                         s.timeout.count());
      for (std::size_t j = 0; j < suites[i].tests.size(); ++j) {
        if (j > 0) out += ',';
        AppendJsonString(out, suites[i].tests[j]->name);
      }
      // The same tests with what only some have: their labels (the suite's included),
      // whether they are features, and the subtests they list that would run.
      out += "],\"test_details\":[";
      for (std::size_t j = 0; j < suites[i].tests.size(); ++j) {
        const Test& t = *suites[i].tests[j];
        if (j > 0) out += ',';
        out += "{\"name\":";
        AppendJsonString(out, t.name);
        out += ",\"labels\":";
        store::AppendStringObjectJson(out, EffectiveLabels(s, t));
        out += fmt::format(",\"feature\":{},\"timeout_ms\":{},\"subtests\":[",
                           t.feature ? "true" : "false", t.timeout.count());
        bool first = true;
        for (const std::string& sub : subtests.Of(t, s.name)) {
          if (!first) out += ',';
          first = false;
          AppendJsonString(out, sub);
        }
        out += "]}";
      }
      out += "]}";
    }
    out += "]}\n";
    return out;
  }
  for (const SelectedSuite& selected : suites) {
    const Suite& s = *selected.suite;
    out += s.namespace_name.empty() ? s.name : s.namespace_name + "/" + s.name;
    if (!s.labels.empty()) AppendLabels(out, s.labels);
    out += '\n';
    for (const Test* t : selected.tests) {
      out += "  " + t->name;
      if (t->feature) out += "  (feature)";
      if (!t->labels.empty()) AppendLabels(out, t->labels);
      out += '\n';
      for (const std::string& sub : subtests.Of(*t, s.name)) out += "    " + sub + '\n';
    }
  }
  return out;
}

// --gtest_shuffle: shuffles the suites, and the tests of each, with `seed` (GoogleTest's
// range, 1 to 99999; 0 picks one from the clock). Returns the seed used, which the notes
// and reports show so that an order can be replayed with --gtest_random_seed.
std::uint32_t ShuffleSuites(std::vector<SelectedSuite>& suites, std::uint32_t seed) {
  if (seed == 0) {
    seed = static_cast<std::uint32_t>(
               std::chrono::steady_clock::now().time_since_epoch().count() % 99999) + 1;
  }
  std::mt19937 random(seed);
  std::shuffle(suites.begin(), suites.end(), random);
  for (SelectedSuite& suite : suites) std::shuffle(suite.tests.begin(), suite.tests.end(), random);
  return seed;
}

// A report file opened for --report-json / --report-junit.
struct ReportFile {
  std::FILE* file = nullptr;
  ~ReportFile() {
    if (file != nullptr) std::fclose(file);
  }
};

}  // namespace

int Main(int argc, char** argv, std::vector<Option> options) {
  MainConfig config;
  for (const Option& option : options) option(config);
  Catalog catalog = BuildCatalog(std::move(config.suites), /*take_registrations=*/true);

  if (argc >= 2 && std::string(argv[1]) == kWorkerArg) {
    if (!catalog.errors.empty()) return kExitUsage;
    return WorkerMain(catalog);
  }
  if (!catalog.errors.empty()) {
    std::fprintf(stderr, "handoff: invalid test registrations:\n");
    for (const std::string& e : catalog.errors) std::fprintf(stderr, "  %s\n", e.c_str());
    return kExitUsage;
  }

  // Like a GoogleTest binary, running it with only flags (or none) runs the tests.
  std::vector<std::string> args(argv + 1, argv + argc);
  // GoogleTest's flags, on `run`, `list` or without a command; its GTEST_* variables only
  // without a command (a binary run as a GoogleTest binary), so that a variable left in a
  // shell never changes an explicit `run`.
  const bool no_command = args.empty() || (args[0].size() > 1 && args[0][0] == '-' &&
                                            args[0] != "--help" && args[0] != "-h");
  GTestFlags gtest;
  if (no_command || args[0] == "run" || args[0] == "list") {
    Result<GTestFlags> taken = TakeGTestFlags(args, no_command);
    if (!taken.ok()) return UsageError(taken.error().message);
    gtest = std::move(*taken);
  }
  if (gtest.list_tests) {
    if (!args.empty() && (args[0] == "run" || args[0] == "list")) args.erase(args.begin());
    args.insert(args.begin(), "list");
  }
  if (args.empty() || (args[0].size() > 1 && args[0][0] == '-' && args[0] != "--help" &&
                       args[0] != "-h")) {
    args.insert(args.begin(), "run");
  }

  if (args[0] != "run" && args[0] != "list" && args[0] != "serve" && args[0] != "remote" &&
      args[0] != "backup" && args[0] != "db" && args[0] != "token" && args[0] != "image" &&
      args[0][0] != '-') {
    return UsageError("unknown command \"" + args[0] +
                      "\" (commands: run, list, serve, remote, backup, db, token, image)");
  }

  CLI::App app{"A handoff test binary: end-to-end tests, run once or served.",
               argc > 0 ? argv[0] : "handoff"};
  app.require_subcommand(1, 1);
  app.failure_message(CLI::FailureMessage::simple);

  SelectionFlags run_select;
  CLI::App* run = app.add_subcommand("run", "Run the selected suites once and report");
  run_select.Add(run);
  int repeat = 1, jobs = 1, attempts = 0;
  bool fail_fast = false, verbose = false, dry_run = false, parallel = false,
       hold_on_failure = false;
  std::string shard, timeout, grace = "5s", max_hold = "30m", format = "text", report_json, report_junit,
                     isolation = "process", color = "auto", attachments_dir;
  run->add_option("--repeat", repeat, "Run everything N times")->check(WholeNumber(1));
  run->add_flag("--fail-fast", fail_fast,
                "Stop after the first failing test; a failed feature's teardown is left undone");
  run->add_flag("--dry-run", dry_run,
                "Report what would run (features' assessments too) without running anything");
  run->add_flag("--parallel", parallel, "Run the features of each suite concurrently");
  run->add_option("--shard", shard, "Run only shard INDEX of TOTAL (0-based), e.g. 1/4");
  run->add_option("--jobs,-j", jobs, "Suites to run in parallel")->check(WholeNumber(1));
  run->add_option("--timeout", timeout, "Timeout of each test, e.g. 30s (overrides the suites')");
  run->add_option("--grace", grace, "How long a test asked to stop may take before it is killed");
  run->add_flag("--hold-on-failure", hold_on_failure,
                "Hold the first failing test before its cleanups (its processes, temp dir and "
                "services stay) until released: Ctrl-C, kill -URG PID, or --max-hold");
  run->add_option("--max-hold", max_hold, "How long --hold-on-failure holds at most, e.g. 10m");
  run->add_option("--attempts", attempts, "Attempts per failing test (overrides the suites')")
      ->check(WholeNumber(1));
  CLI::Option* format_option =
      run->add_option("--format", format, "Output on stdout: text, json (go test -json) or junit")
          ->check(CLI::IsMember({"text", "json", "junit"}));
  run->add_option("--report-json", report_json, "Also write the go test -json report to FILE");
  run->add_option("--report-junit", report_junit, "Also write a JUnit XML report to FILE");
  run->add_option("--attachments-dir", attachments_dir,
                  "Write the tests' attachments (t.Attach) under DIR (default: \"attachments\" "
                  "beside --report-junit or --report-json, else ./handoff-attachments)");
  run->add_option("--isolation", isolation,
                  "process: each suite in a worker process; none: in this process (debuggers)")
      ->check(CLI::IsMember({"process", "none"}));
  run->add_flag("--verbose,-v", verbose, "Print every test's output, not only failures'");
  run->add_option("--color", color, "Colours: auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  OtlpFlags run_otlp;
  run_otlp.Add(run, false);
  run->footer(
      "GoogleTest's flags are accepted too, here or without a command: --gtest_list_tests,\n"
      "--gtest_filter, --gtest_output, --gtest_repeat, --gtest_shuffle, --gtest_random_seed,\n"
      "--gtest_brief, --gtest_color, --gtest_also_run_disabled_tests, --gtest_fail_fast.");

  SelectionFlags list_select;
  CLI::App* list = app.add_subcommand("list", "List suites, tests and labels");
  list_select.Add(list);
  std::string list_format = "text";
  list->add_option("--format", list_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));

  ServeFlags serve_flags;
  CLI::App* serve = app.add_subcommand(
      "serve", "Run as a server: scheduled and on-demand runs over HTTP, results kept");
  serve_flags.Add(serve);
  // External suites (Go, pytest, Node, ...) declared in a file (docs/external-suites.md).
  std::string suites_config;
  for (CLI::App* command : {run, list, serve}) {
    CLI::Option* option = command->add_option(
        "--suites-config", suites_config,
        "A JSON file of external suites (commands reporting go test -json, JUnit or TAP)");
    if (command == serve) option->envname("HANDOFF_SUITES_CONFIG");
  }
  RemoteCommand* remote = AddRemoteCommand(app);
  BackupCommand* backup = AddBackupCommand(app);
  DbCommand* db = AddDbCommand(app);
  TokenCommand* token = AddTokenCommand(app);
  ImageCommand* image = AddImageCommand(app);

  std::vector<const char*> cargv;
  std::string program = argc > 0 ? argv[0] : "handoff";
  cargv.push_back(program.c_str());
  for (const std::string& a : args) cargv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargv.size()), const_cast<char**>(cargv.data()));
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return UsageError(e.what());
  }

  if (!suites_config.empty()) {
    Result<std::vector<Suite>> declared = external::LoadSuitesConfig(suites_config);
    if (!declared.ok()) return UsageError(declared.error().message);
    for (Suite& suite : *declared) {
      if (catalog.Find(suite.name) != nullptr) {
        return UsageError(fmt::format("--suites-config: suite \"{}\" is also built into the binary",
                                      suite.name));
      }
      catalog.suites.push_back(std::move(suite));
    }
  }
  if (serve->parsed()) return RunServe(serve_flags, catalog, config);
  if (RemoteParsed(*remote)) return RunRemote(*remote);
  if (BackupParsed(*backup)) return RunBackup(*backup);
  if (DbParsed(*db)) return RunDb(*db);
  if (TokenParsed(*token)) return RunToken(*token);
  if (ImageParsed(*image)) return RunImage(*image);

  SelectionOptions selection;
  std::string error;
  if (gtest.used) {
    // A listing shows disabled tests, as GoogleTest's does; only running leaves them out.
    Result<std::shared_ptr<const GTestFilter>> filter =
        GTestFilter::Parse(gtest.filter, gtest.also_run_disabled || list->parsed());
    if (!filter.ok()) return UsageError("--gtest_filter: " + filter.error().message);
    selection.gtest_filter = *filter;
  }
  if (list->parsed()) {
    if (!(error = list_select.ToOptions(&selection)).empty()) return UsageError(error);
    std::vector<SelectedSuite> selected;
    if (!Select(catalog, selection, &selected, &error)) return UsageError(error);
    // An external suite's tests are what its list_command prints.
    std::deque<Test> listed;
    int list_status = 0;
    for (SelectedSuite& s : selected) {
      if (!s.suite->external) continue;
      Result<std::vector<std::string>> names = external::ListTests(*s.suite->external);
      if (!names.ok()) {
        std::fprintf(stderr, "handoff: list: suite %s: %s\n", s.suite->name.c_str(),
                     names.error().message.c_str());
        list_status = 1;
        continue;
      }
      for (std::string& name : *names) {
        Test& t = listed.emplace_back();
        t.name = std::move(name);
        s.tests.push_back(&t);
      }
    }
    // With GoogleTest's flags (--gtest_list_tests), GoogleTest's listing.
    std::string text = gtest.used ? FormatGTestList(selected, selection)
                                  : FormatList(selected, selection, list_format == "json");
    if (!gtest.output.empty()) {
      Result<GTestOutput> output = ParseGTestOutput(gtest.output, program);
      if (!output.ok()) return UsageError(output.error().message);
      Result<std::FILE*> file = OpenGTestOutput(output->path);
      if (!file.ok()) return UsageError(file.error().message);
      const std::string report = FormatGTestListReport(selected, selection, output->json);
      std::fwrite(report.data(), 1, report.size(), *file);
      std::fclose(*file);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    return list_status;
  }

  if (!(error = run_select.ToOptions(&selection)).empty()) return UsageError(error);
  if (parallel && fail_fast) {
    return UsageError("--parallel and --fail-fast cannot be used together: with features "
                      "running at once, the first failure cannot stop the others where they are");
  }
  if (!shard.empty()) {
    if (std::string why = ParseShard(shard, &selection); !why.empty()) {
      return UsageError("--shard: " + why);
    }
  } else if (const char* total = std::getenv("GTEST_TOTAL_SHARDS")) {
    const char* index = std::getenv("GTEST_SHARD_INDEX");
    std::string spec = std::string(index ? index : "") + "/" + total;
    if (std::string why = ParseShard(spec, &selection); !why.empty()) {
      return UsageError("GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS: " + why);
    }
    // GoogleTest's protocol: tell the runner we understood sharding.
    if (const char* status = std::getenv("GTEST_SHARD_STATUS_FILE")) {
      if (std::FILE* f = std::fopen(status, "w")) std::fclose(f);
    }
  }

  if (gtest.repeat) repeat = *gtest.repeat;
  if (gtest.fail_fast) fail_fast = true;
  if (gtest.color) color = *gtest.color;

  RunOptions run_options;
  run_options.repeat = repeat;
  run_options.fail_fast = fail_fast;
  run_options.gtest_filter = selection.gtest_filter;
  run_options.jobs = jobs;
  run_options.attempts = attempts;
  run_options.isolated = isolation == "process";
  run_options.run_pattern = selection.run_pattern;
  run_options.skip_pattern = selection.skip_pattern;
  run_options.assess_pattern = selection.assess_pattern;
  run_options.skip_assess_pattern = selection.skip_assess_pattern;
  run_options.parallel = parallel;
  run_options.dry_run = dry_run;
  if (!timeout.empty()) {
    auto d = ParseDuration(timeout);
    if (!d || d->count() <= 0) return UsageError("--timeout: invalid duration \"" + timeout + "\" (e.g. 30s, 2m)");
    run_options.timeout = std::chrono::ceil<std::chrono::milliseconds>(*d);
  }
  if (auto d = ParseDuration(grace)) {
    run_options.grace = std::chrono::ceil<std::chrono::milliseconds>(*d);
  } else {
    return UsageError("--grace: invalid duration \"" + grace + "\" (e.g. 5s)");
  }
  if (auto d = ParseDuration(max_hold); d && d->count() > 0) {
    run_options.max_hold = std::chrono::ceil<std::chrono::milliseconds>(*d);
  } else {
    return UsageError("--max-hold: invalid duration \"" + max_hold + "\" (e.g. 10m)");
  }
  run_options.hold_on_failure = hold_on_failure;
  run_options.release = &g_release;

  std::vector<SelectedSuite> selected;
  if (!Select(catalog, selection, &selected, &error)) return UsageError(error);
  std::uint32_t seed = 0;
  if (gtest.shuffle) seed = ShuffleSuites(selected, gtest.random_seed);
  if (selected.empty()) {
    // Like go test: not an error, but never silent (a typo in --run, or tests that the
    // linker dropped from a static library).
    std::fprintf(stderr, "handoff: warning: no tests to run (%zu suites registered, none selected)\n",
                 catalog.suites.size());
  }

  ReportFile json_file, junit_file, gtest_file;
  bool gtest_json = false;
  if (!gtest.output.empty()) {
    Result<GTestOutput> output = ParseGTestOutput(gtest.output, program);
    if (!output.ok()) return UsageError(output.error().message);
    gtest_json = output->json;
    Result<std::FILE*> file = OpenGTestOutput(output->path);
    if (!file.ok()) return UsageError(file.error().message);
    gtest_file.file = *file;
  }
  if (!report_json.empty() && (json_file.file = std::fopen(report_json.c_str(), "w")) == nullptr) {
    return UsageError(fmt::format("--report-json: cannot write {}: {}", report_json,
                                  std::strerror(errno)));
  }
  if (!report_junit.empty() &&
      (junit_file.file = std::fopen(report_junit.c_str(), "w")) == nullptr) {
    return UsageError(fmt::format("--report-junit: cannot write {}: {}", report_junit,
                                  std::strerror(errno)));
  }

  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  if (!tty) {
    // Reports of many fast tests: write stdout in large blocks.
    static char stdout_buffer[1 << 16];
    std::setvbuf(stdout, stdout_buffer, _IOFBF, sizeof stdout_buffer);
  }
  TextOptions text_options;
  text_options.verbose = verbose;
  text_options.brief = gtest.brief;
  text_options.color = color == "always" ||
                       (color == "auto" && tty && std::getenv("NO_COLOR") == nullptr &&
                        std::string(std::getenv("TERM") ? std::getenv("TERM") : "") != "dumb");

  if (attachments_dir.empty()) {
    const std::string& beside = !report_junit.empty() ? report_junit : report_json;
    attachments_dir = beside.empty() ? std::string("handoff-attachments")
                                     : (std::filesystem::path(beside).parent_path() /
                                        "attachments").string();
  }
  {
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(attachments_dir, ec);
    if (ec) return UsageError(fmt::format("--attachments-dir: {}: {}", attachments_dir, ec.message()));
    attachments_dir = absolute.lexically_normal().string();
  }

  ResultCollector results;
  results.set_attachments_dir(attachments_dir);
  for (const SelectedSuite& s : selected) results.ExpectTests(s.suite->name, s.tests.size());
  FanOut sinks;
  // Files first: a reporter that names an attachment's file finds it written.
  AttachmentFiles attachment_files(attachments_dir, stderr);
  sinks.Add(&attachment_files);
  sinks.Add(&results);
  std::vector<std::unique_ptr<EventSink>> reporters;
  // With GoogleTest's flags and no --format, stdout is GoogleTest's console output.
  const bool gtest_console = gtest.used && format_option->count() == 0;
  if (gtest_console) {
    GTestConsoleOptions console{text_options.color, gtest.brief, {}};
    for (const SelectedSuite& s : selected) console.planned[s.suite->name] = s.tests.size();
    reporters.push_back(MakeGTestConsoleReporter(stdout, results, std::move(console)));
  } else if (format == "text") {
    reporters.push_back(MakeTextReporter(stdout, results, text_options));
  }
  if (format == "json") reporters.push_back(MakeJsonReporter(stdout, attachments_dir));
  if (format == "junit") reporters.push_back(MakeJunitReporter(stdout, results));
  if (json_file.file != nullptr) {
    reporters.push_back(MakeJsonReporter(json_file.file, attachments_dir));
  }
  if (junit_file.file != nullptr) reporters.push_back(MakeJunitReporter(junit_file.file, results));
  if (gtest_file.file != nullptr) {
    const GTestReportOptions gtest_options{seed};
    reporters.push_back(gtest_json ? MakeGTestJsonReporter(gtest_file.file, results, gtest_options)
                                   : MakeGTestXmlReporter(gtest_file.file, results, gtest_options));
  }
  for (auto& r : reporters) sinks.Add(r.get());
  if (hold_on_failure) {
    reporters.push_back(MakeHoldNotice(stderr));
    sinks.Add(reporters.back().get());
  }

  if (gtest_console) {
    // GoogleTest's notes, so that a filtered or shuffled run says so and can be replayed.
    if (!gtest.filter.empty()) std::printf("Note: Google Test filter = %s\n", gtest.filter.c_str());
    if (gtest.shuffle) std::printf("Note: Randomizing tests' orders with a seed of %u .\n", seed);
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGINT, OnInterrupt);
  ::signal(SIGTERM, OnInterrupt);
  ::signal(SIGURG, OnRelease);
  if (dry_run) {
    DryRunSuites(selected, selection, sinks);
    std::fflush(stdout);
    return 0;
  }
  // A collector that fails never fails the run: it is reported on stderr once, and the
  // spans it did not take are counted at the end.
  Result<std::unique_ptr<otlp::Exporter>> exporter =
      run_otlp.Start([](const std::string& line) {
        std::fprintf(stderr, "handoff: warning: %s\n", line.c_str());
      });
  if (!exporter.ok()) return UsageError(exporter.error().message);
  std::optional<otlp::TraceRecorder> traces;
  if (*exporter) sinks.Add(&traces.emplace(**exporter));
  Status status = RunSuites(selected, run_options, sinks, g_cancel);
  std::fflush(stdout);
  if (*exporter) {
    (*exporter)->Shutdown(std::chrono::seconds(5));
    if (const std::uint64_t dropped = (*exporter)->spans_dropped(); dropped > 0) {
      std::fprintf(stderr, "handoff: warning: %llu spans were not exported to %s\n",
                   static_cast<unsigned long long>(dropped), run_otlp.endpoint.c_str());
    }
  }
  return status == Status::kFailed ? 1 : 0;
}

}  // namespace handoff
