# make run  — install what is missing, build, serve the example suites at
#             http://127.0.0.1:1337 (SQLite in ./handoff.db; Ctrl-C stops it).
# make test — install what is missing, build, run every test.
# make asan — the unit and black-box suites under AddressSanitizer + UBSan (build-asan/).
# make tsan — the engine's and the server's tests under ThreadSanitizer (build-tsan/).
# make fuzz — every libFuzzer target for FUZZ_SECONDS each (build-asan/; fuzz/README.md).

BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_SECONDS ?= 30
# The sanitizer builds: clang 16 (scripts/bootstrap says why not 14), -O1 and line tables
# only, to build and run fast enough for CI, with .debug_aranges (clang emits none by default,
# and libdw finds a crashed test's file and line through them); no benchmarks or examples beyond what the
# black-box tests run.
SANITIZER_CMAKE = CC=clang-16 CXX=clang++-16 cmake -S . -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -gdwarf-aranges" \
  -DHANDOFF_BUILD_BENCH=OFF $(CMAKE_FLAGS)

.PHONY: all bootstrap configure build test run bench clean asan-build asan tsan fuzz

all: build

bootstrap:
	@scripts/bootstrap

configure: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900

# RUN_ARGS adds serve flags, e.g. notifications to a local receiver (docs/integrations.md):
#   scripts/notify-receiver --port 9000 &
#   make run RUN_ARGS='--webhook-url http://127.0.0.1:9000/hook --notify-on always'
run: build
	@echo "make run: notifications to a local receiver: scripts/notify-receiver --port 9000 &" \
	  "then make run RUN_ARGS='--webhook-url http://127.0.0.1:9000/hook --notify-on always' (docs/integrations.md)"
	@$(BUILD)/examples/shop_e2e serve --db sqlite:handoff.db --port 1337 $(RUN_ARGS)

bench: build
	@bench/run_bench.sh $(BUILD)

# One ASan + UBSan build serves both the sanitized tests and the fuzzers (HANDOFF_FUZZ adds
# libFuzzer's coverage instrumentation).
asan-build: bootstrap
	@$(SANITIZER_CMAKE) -B $(ASAN_BUILD) -DHANDOFF_SANITIZE=address,undefined -DHANDOFF_FUZZ=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target handoff_unit_tests handoff_blackbox_tests \
	  handoff_fuzz_replay handoff_fuzzers

asan: asan-build
	@scripts/sanitized-tests asan $(ASAN_BUILD)

tsan: bootstrap
	@$(SANITIZER_CMAKE) -B $(TSAN_BUILD) -DHANDOFF_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target handoff_thread_tests handoff_serve_tests
	@scripts/sanitized-tests tsan $(TSAN_BUILD)

fuzz: asan-build
	@scripts/fuzz $(ASAN_BUILD) $(FUZZ_SECONDS) $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
