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

# The SNS/SQS emulator (npm fauxqs, pinned in test/emulator/package-lock.json).
emulator: $(EMULATOR)/node_modules/.package-lock.json

$(EMULATOR)/node_modules/.package-lock.json: $(EMULATOR)/package-lock.json $(EMULATOR)/package.json
	npm ci --prefix $(EMULATOR) --no-audit --no-fund
	@touch $@

# Every test, with the race detector; tests that need the emulator fail
# (never skip) here because PICKET_REQUIRE_EMULATOR is set.
test: emulator
	PICKET_REQUIRE_EMULATOR=1 $(GO) test -race -count=1 -timeout 20m ./...

# Quick loop for development: no race detector, emulator tests skip when it
# is not installed.
test-short:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Benchmarks: throughput, latency, start-up and memory. Results are written
# to $(BENCH_OUT); nothing here fails on a slow machine.
bench: emulator
	@mkdir -p $(dir $(BENCH_OUT))
	$(GO) run ./internal/benchreport -out $(BENCH_OUT)

demo:
	$(GO) run ./cmd/picket demo

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./event

docker:
	docker build -t picket:$(VERSION) .

clean:
	rm -rf bin $(EMULATOR)/node_modules
