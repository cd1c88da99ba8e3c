# Picket: build, test and run. `make demo` and `make test` are the two
# commands a new machine needs (see README.md).

GO        ?= go
BIN       ?= bin/picket
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
EMULATOR  := test/emulator
BENCH_OUT ?= bench/results.txt

.PHONY: all build test test-short lint bench demo docker fuzz emulator clean

all: lint test build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/picket

# The SNS/SQS emulator (npm fauxqs) and the DynamoDB-compatible server (npm
# dynalite), both pinned in test/emulator/package-lock.json. Install scripts
# are not run: dynalite's LevelDB binding ships prebuilt.
emulator: $(EMULATOR)/node_modules/.package-lock.json

$(EMULATOR)/node_modules/.package-lock.json: $(EMULATOR)/package-lock.json $(EMULATOR)/package.json
	npm ci --ignore-scripts --prefix $(EMULATOR) --no-audit --no-fund
	@touch $@

# Every test, with the race detector; tests that need the emulator fail
# (never skip) here because PICKET_REQUIRE_EMULATOR is set.
test: emulator
	PICKET_REQUIRE_EMULATOR=1 $(GO) test -race -count=1 -timeout 20m ./...

# Quick loop for development: no race detector, emulator tests skip when it
# is not installed.
test-short:
	$(GO) test -count=1 ./...

# go.mod and go.sum must be tidy: direct imports in the first require
# block, none marked // indirect, nothing unused (go mod tidy -diff prints
# what tidy would change and fails).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...

# Benchmarks: throughput (one core), end-to-end latency, start-up time and
# idle memory, plus the per-package micro-benchmarks. Results are written to
# $(BENCH_OUT); nothing here fails on a slow machine.
bench: emulator
	@mkdir -p $(dir $(BENCH_OUT))
	@{ echo "# picket benchmarks, $$(date -u +%FT%TZ), $$(nproc) cores, $$(go version)"; \
	  echo "# targets: >= 40000 findings/s per core (BenchmarkThroughput, -cpu 1); end-to-end p99 < 100 ms at 100 findings/s;"; \
	  echo "#          ready < 100 ms after start; idle RSS < 30 MB; digest of 100,000 findings < 2 s and < 100 MB;"; \
	  echo "#          durable intake >= 5,000 findings/s (BenchmarkIntakeBolt, default workers; BenchmarkIntakeDynamoDB: dynalite, no target); storms of 1,000 and 10,000:"; \
	  echo "#          High alert < 5 s, queue drained < 60 s, <= 60 posts to the storm channel at 1,000, peak RSS < 150 MB at 10,000;"; \
	  echo "#          BenchmarkReplicas: findings/s end to end with 1 and 3 replicas on DynamoDB (dynalite) and 1 on bbolt, store calls per finding (no target)"; } > $(BENCH_OUT)
	PICKET_REQUIRE_EMULATOR=1 $(GO) test -run '^$$' -bench 'Throughput' -benchmem -cpu 1 ./cmd/picket | tee -a $(BENCH_OUT)
	$(GO) test -run '^$$' -bench 'IntakeBolt' -benchtime 8000x ./cmd/picket | tee -a $(BENCH_OUT)
	PICKET_REQUIRE_EMULATOR=1 $(GO) test -run '^$$' -bench 'IntakeDynamoDB' -benchtime 2000x ./cmd/picket | tee -a $(BENCH_OUT)
	PICKET_REQUIRE_EMULATOR=1 $(GO) test -run '^$$' -bench 'EndToEndLatency|StartupAndIdleMemory' -benchtime 1x ./cmd/picket | tee -a $(BENCH_OUT)
	PICKET_REQUIRE_EMULATOR=1 $(GO) test -run '^$$' -bench 'Storm' -benchtime 1x -timeout 60m ./cmd/picket | tee -a $(BENCH_OUT)
	PICKET_REQUIRE_EMULATOR=1 $(GO) test -run '^$$' -bench 'Replicas' -benchtime 1x -timeout 30m ./cmd/picket | tee -a $(BENCH_OUT)
	$(GO) test -run '^$$' -bench . -benchmem ./event ./notifiers ./store | tee -a $(BENCH_OUT)
	$(GO) test -run '^$$' -bench 'Build100k' -benchmem -benchtime 3x ./digest | tee -a $(BENCH_OUT)
	@echo "results written to $(BENCH_OUT)"

# The same binary as `make build` (so a later build is instant), then the
# demo with it.
demo: build
	$(BIN) demo

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s -fuzzminimizetime 200x ./event

# The image reports the version it was built from (`picket version`).
docker:
	docker build --build-arg VERSION=$(VERSION) -t picket:$(VERSION) -t picket:latest .

clean:
	rm -rf bin $(EMULATOR)/node_modules
