# MCA developer entry points. `make demo` and `make test` are the two a new
# user needs (README.md); everything else is for working on MCA.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := all

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo
TESTENV_DIR ?= $(CURDIR)/.testenv
export MCA_TESTENV_DIR := $(TESTENV_DIR)

SOURCES = $(shell git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp')

.PHONY: all deps configure build test test-unit test-integration testenv testenv-up \
        testenv-down testenv-status demo demo-down bench bench-smoke format format-check lint asan clean \
        images

all: deps build

deps:
	@hack/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds (or finds cached) kube-apiserver and kubectl before ctest, so the
# slow first build is not charged to a test's timeout.
testenv:
	@hack/testenv build >/dev/null

# Every label: unit, integration and e2e. ctest starts the test clusters once
# for the suite (fixture testenv.up) and stops them at the end.
test: deps build testenv
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) -L unit

test-integration: build testenv
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L integration

testenv-up:
	hack/testenv up --dir $(TESTENV_DIR)

testenv-down:
	hack/testenv down --dir $(TESTENV_DIR)

testenv-status:
	hack/testenv status --dir $(TESTENV_DIR)

# The routing demo (hack/demo): three local clusters, the operator as a
# local process under the chart's RBAC with its webhook, ClusterTargets, a
# RoutingPolicy, an injected Pod and its sidecar, then kubectl through the
# sidecar. It keeps running for you to try; demo-down stops and removes it.
# It builds only the two binaries (make test builds the tests too).
demo: deps configure testenv
	cmake --build $(BUILD_DIR) -j $(JOBS) --target mca-operator mca-sidecar
	@hack/demo up --dir $(TESTENV_DIR) --build-dir $(BUILD_DIR)

demo-down:
	@hack/demo down --dir $(TESTENV_DIR)

# The benchmarks (bench/README.md): the data-plane comparison of mca-sidecar
# with direct access, nginx, HAProxy and a Go reverse proxy, written to
# $(BENCH_OUT)/proxy.{json,txt}, the control plane at 100, 1,000 and 5,000
# sidecar streams ($(BENCH_OUT)/operator.json), then the client and sidecar
# figures. Run on
# an otherwise idle machine. bench-smoke: a second per point, to show the
# harness works (CI runs it); its figures mean nothing.
BENCH_OUT ?= $(BUILD_DIR)/bench-results
bench: deps build testenv
	@hack/testenv status --dir $(TESTENV_DIR) >/dev/null 2>&1 || hack/testenv up --dir $(TESTENV_DIR)
	@mkdir -p $(BENCH_OUT)
	bench/proxy/run.py --build $(BUILD_DIR) --testenv $(TESTENV_DIR) --json $(BENCH_OUT)/proxy.json
	bench/operator/run.py --build $(BUILD_DIR) --testenv $(TESTENV_DIR) --json $(BENCH_OUT)/operator.json
	$(BUILD_DIR)/bench/kube_client_bench
	$(BUILD_DIR)/bench/sidecar_bench

bench-smoke: deps build testenv
	@hack/testenv status --dir $(TESTENV_DIR) >/dev/null 2>&1 || hack/testenv up --dir $(TESTENV_DIR)
	bench/proxy/run.py --smoke --build $(BUILD_DIR) --testenv $(TESTENV_DIR)
	bench/operator/run.py --smoke --build $(BUILD_DIR) --testenv $(TESTENV_DIR)

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

lint: configure
	clang-tidy -p $(BUILD_DIR) --quiet $(filter %.cpp,$(SOURCES))

# AddressSanitizer + UndefinedBehaviorSanitizer build running the unit tests.
asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMCA_SANITIZE=address,undefined
	cmake --build $(ASAN_DIR) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS) -L unit

# Container images (images/Dockerfile): mca-operator and mca-sidecar on
# bookworm-slim, non-root. Needs a running container engine.
CONTAINER_ENGINE ?= $(shell command -v docker || command -v podman)
IMAGE_REGISTRY ?= ghcr.io/mca-dev
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
images:
	@if [ -z "$(CONTAINER_ENGINE)" ] || ! $(CONTAINER_ENGINE) info >/dev/null 2>&1; then \
	  echo "make images: no container engine is running here ($(if $(CONTAINER_ENGINE),$(CONTAINER_ENGINE) answers but its engine does not,neither docker nor podman is installed)); start one, or set CONTAINER_ENGINE" >&2; \
	  exit 1; \
	fi
	$(CONTAINER_ENGINE) build -f images/Dockerfile --target operator -t $(IMAGE_REGISTRY)/mca-operator:$(IMAGE_TAG) .
	$(CONTAINER_ENGINE) build -f images/Dockerfile --target sidecar -t $(IMAGE_REGISTRY)/mca-sidecar:$(IMAGE_TAG) .

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
