// Parametrized suites: one set of tests run against every implementation of an
// interface, each combination named Suite/Param/Test, with a fresh instance per test.
// It links with handoff::handoff_main, which provides main().
//
//   patterns_params run                      every test against every store
//   patterns_params list                     the stores, each with its tests
//   patterns_params run --run 'memory/'      every test against the in-memory store
//   patterns_params run --run '/Delete'      the Delete tests against every store

#include <handoff/handoff.h>
#include <handoff/params.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/chrono.h>

namespace {

// The interface under test: a key/value store, with two implementations.
class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual void Put(const std::string& key, const std::string& value) = 0;
  virtual std::optional<std::string> Get(const std::string& key) const = 0;
  // Returns true if the key was there.
  virtual bool Delete(const std::string& key) = 0;
};

class MemoryStore : public KvStore {
 public:
  void Put(const std::string& key, const std::string& value) override { data_[key] = value; }
  std::optional<std::string> Get(const std::string& key) const override {
    auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }
  bool Delete(const std::string& key) override { return data_.erase(key) > 0; }

 private:
  std::map<std::string, std::string> data_;
};

// One file per key in a directory.
class FileStore : public KvStore {
 public:
  explicit FileStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  void Put(const std::string& key, const std::string& value) override {
    std::ofstream(dir_ / key, std::ios::trunc) << value;
  }
  std::optional<std::string> Get(const std::string& key) const override {
    std::ifstream in(dir_ / key);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bool Delete(const std::string& key) override { return std::filesystem::remove(dir_ / key); }

 private:
  std::filesystem::path dir_;
};

// [docs:params-suite]
// Three tests x two stores: KvStore/memory/PutThenGet, ..., KvStore/files/DeleteRemoves.
// Each test gets a store of its own, made by the parameter's factory right before it
// runs and destroyed when it ends.
[[maybe_unused]] const bool kKvStoreRegistered = handoff::Register(
    handoff::ParamSuite<KvStore>("KvStore")
        .Param("memory", [] { return std::make_unique<MemoryStore>(); })
        // A factory may take the test's T: to fail it, or for a TempDir that is removed
        // after the store is destroyed.
        .Param("files", [](handoff::T& t) { return std::make_unique<FileStore>(t.TempDir()); })
        .Test("PutThenGet",
              [](handoff::T& t, KvStore& store) {
                store.Put("greeting", "hello");
                if (auto got = store.Get("greeting"); got != "hello") {
                  t.Errorf("Get(greeting) = {}, want \"hello\"", got.value_or("<missing>"));
                }
              })
        .Test("PutOverwrites",
              [](handoff::T& t, KvStore& store) {
                store.Put("greeting", "hello");
                store.Put("greeting", "bonjour");
                if (auto got = store.Get("greeting"); got != "bonjour") {
                  t.Errorf("Get(greeting) = {}, want \"bonjour\"", got.value_or("<missing>"));
                }
              })
        .Test("DeleteRemoves",
              [](handoff::T& t, KvStore& store) {
                // A fresh store: what the other tests put is not here.
                if (store.Delete("greeting")) t.Fatal("a fresh store had \"greeting\"");
                store.Put("greeting", "hello");
                if (!store.Delete("greeting")) t.Error("Delete(greeting) = false, want true");
                if (store.Get("greeting")) t.Error("greeting is still there after Delete");
              })
        .Configure([](handoff::Suite& suite) {
          suite.namespace_name = "patterns";
          suite.labels = {{"tier", "unit"}};
        }));
// [docs:end]

// [docs:params-values]
// Parameters can also be plain values: each test receives its own copy.
struct Backoff {
  std::chrono::milliseconds initial;
  std::chrono::milliseconds max;
  double factor;
};
// [docs:end]

// The delays before each of `attempts` retries.
std::vector<std::chrono::milliseconds> Delays(const Backoff& b, int attempts) {
  std::vector<std::chrono::milliseconds> delays;
  std::chrono::duration<double, std::milli> delay = std::min(b.initial, b.max);
  for (int i = 0; i < attempts; ++i) {
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(delay));
    delay = std::min<std::chrono::duration<double, std::milli>>(delay * b.factor, b.max);
  }
  return delays;
}

using namespace std::chrono_literals;

// [docs:params-values-suite]
[[maybe_unused]] const bool kBackoffRegistered = handoff::Register(
    handoff::ParamSuite<Backoff>("Backoff")
        .Param("default", Backoff{.initial = 100ms, .max = 5000ms, .factor = 2})
        .Param("constant", Backoff{.initial = 250ms, .max = 250ms, .factor = 1})
        .Param("aggressive", Backoff{.initial = 10ms, .max = 1000ms, .factor = 10})
        .Test("NeverAboveMax",
              [](handoff::T& t, const Backoff& b) {
                for (auto d : Delays(b, 20)) {
                  if (d > b.max) t.Fatalf("delay {} above the max {}", d, b.max);
                }
              })
        .Test("NeverShrinks",
              [](handoff::T& t, const Backoff& b) {
                auto delays = Delays(b, 20);
                if (!std::is_sorted(delays.begin(), delays.end())) {
                  t.Error("a delay is shorter than the one before it");
                }
              }));
// [docs:end]

}  // namespace
