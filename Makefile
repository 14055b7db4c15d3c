# Thin wrapper over CMake: `make` builds, `make test` tests, `make demo` shows the engine at work.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test test-asan demo bench fuzz clean format

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@scripts/install-deps.sh test
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan

# The same suite once more under AddressSanitizer and UndefinedBehaviorSanitizer
# (but the browser test, which drives the engine from outside, and the
# end-to-end harness's run, whose figures mean nothing there).
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
		-DTILLSTREAM_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure --timeout 900 -j $(JOBS) --label-exclude "browser|bench"

demo: build
	@examples/demo.sh $(BUILD_DIR)/tillstream

# The end-to-end harness (generates, preloads the embedded broker, measures
# raw consume, the pipeline through Kafka, file replay, pandas, latency).
EVENTS ?= 1000000
bench: build
	@scripts/install-deps.sh bench
	$(BUILD_DIR)/bench/e2e --events $(EVENTS) --result $(BUILD_DIR)/bench/e2e_result.json \
		--work_dir $(BUILD_DIR)/bench/e2e-work

# libFuzzer over the decoder, pipeline file, time and money parsers:
# FUZZ_SECONDS per target (default 60).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps.sh fuzz
	@CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DTILLSTREAM_FUZZ=ON -DTILLSTREAM_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target order_decoder_fuzzer pipeline_config_fuzzer \
		time_format_fuzzer money_fuzzer
	@scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
