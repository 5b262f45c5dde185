# kvik — the two commands a user needs are `make demo` and `make test`; everything else is for developers.
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=
KVIK = $(BUILD)/kvik

.PHONY: all deps build test test-fast test-asan demo fuzz bench clean

all: build

deps:
	@scripts/bootstrap.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L fast

# ASan + UBSan over the fast tests (benchmarks off: they add build time and no coverage).
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKVIK_SANITIZE=ON -DKVIK_BUILD_BENCH=OFF \
		-DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -L fast

demo: build
	@scripts/demo.sh $(KVIK)

# libFuzzer targets, 60 s each (not in CI).
fuzz:
	@KVIK_WANT_FUZZ=1 scripts/bootstrap.sh
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVIK_FUZZ=ON -DKVIK_BUILD_BENCH=OFF \
		-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $$(ls tests/fuzz/*_fuzz.cpp | xargs -n1 basename | sed "s/\.cpp$$//")
	@mkdir -p build-fuzz/corpus
	@/usr/bin/python3 tests/fuzz/make_gguf_seeds.py build-fuzz/corpus/gguf_fuzz >/dev/null
	@for f in build-fuzz/*_fuzz; do echo "== $$f (60 s)"; \
		mkdir -p build-fuzz/corpus/$$(basename $$f); \
		$$f -max_total_time=60 -print_final_stats=1 build-fuzz/corpus/$$(basename $$f) || exit 1; done

clean:
	rm -rf $(BUILD) build-asan build-fuzz
