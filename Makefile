# make run  — install what is missing, build, serve the example suites at
#             http://127.0.0.1:1337 (SQLite in ./handoff.db; Ctrl-C stops it).
# make test — install what is missing, build, run every test.

BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all bootstrap configure build test run bench clean

all: build

bootstrap:
	@scripts/bootstrap

configure: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900

run: build
	@$(BUILD)/examples/shop_e2e serve --db sqlite:handoff.db --port 1337

bench: build
	@bench/run_bench.sh $(BUILD)

clean:
	rm -rf $(BUILD)
