# secwatch — see README.md. Every target works on a fresh clone with only Go
# installed (plus Debian packages that targets install themselves).
GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: redis alertmanager promtool all build run replay-demo testdata bench-quick test test-go test-integration test-rules vet fmt-check depcheck bench bench-latency bench-peers bench-plots bench-soak clean fuzz

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/secwatch ./cmd/secwatch
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/secwatch-loggen ./cmd/secwatch-loggen

## run: the daemon on a bundled example (tails demo logs while a generator appends attacks)
run: build
	./scripts/demo.sh

## replay-demo: replay the bundled recorded logs through the shipped rules
replay-demo: build
	$(BIN)/secwatch replay --rules rules/alb.yaml --format alb --output text testdata/logs/alb-access.log
	$(BIN)/secwatch replay --rules rules/mcp.yaml --format mcp --output text testdata/logs/mcp-stderr.log
	$(BIN)/secwatch replay --rules rules/json.yaml --format json --output text testdata/logs/security-events.jsonl

## test: everything CI runs
test: fmt-check vet depcheck test-go test-rules test-integration

## redis: make sure redis-server is installed (the Redis backend's tests start their own)
redis:
	@./scripts/redis.sh

## alertmanager: make sure Prometheus Alertmanager is installed (the alertmanager notifier's tests
## start their own)
alertmanager:
	@./scripts/alertmanager.sh

## promtool: make sure promtool is installed (Debian's prometheus package; a test lints a scrape
## of a running daemon's /metrics with it)
promtool:
	@./scripts/promtool.sh

# The SIGKILL crash harness runs on its own, after the rest: under the CPU
# load of other packages' -race tests its daemons start slowly enough that
# rotations land inside their start-up (docs/decisions.md, session 6).
test-go: redis alertmanager promtool
	$(GO) test -race -count=1 -skip '^TestCrashConsistency$$' ./...
	$(GO) test -race -count=1 -run '^TestCrashConsistency$$' ./cmd/secwatch

## test-integration: the real AWS SDK against an in-process emulator (kumo), its own Go module
test-integration:
	cd integration && $(GO) vet ./... && $(GO) test -race -count=1 ./...

test-rules: build
	$(BIN)/secwatch check rules
	$(BIN)/secwatch test rules
	$(BIN)/secwatch test testdata/semantics

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

depcheck:
	@./scripts/depcheck.sh

## bench: replay throughput vs an encoding/json decode loop on a 1M-event corpus, peak RSS and
## detection; then the live append-to-alert latency at 10,000 lines/s (see bench/README.md)
bench:
	./bench/run.sh

## bench-latency: only the live latency benchmark (secwatch run, 10,000 lines/s, p50/p99)
bench-latency:
	./bench/run.sh latency

## bench-peers: secwatch, fail2ban and crowdsec (Debian packages, installed if missing) on the
## bench corpus: throughput against the decode loop, peak RSS, attacker IPs found
bench-peers:
	./bench/peers/run.sh

## bench-plots: scale curves (events, rules, distinct keys) rendered as PNG plots in docs/
bench-plots:
	./bench/curves/run.sh

## bench-soak: secwatch run at 50,000 lines/s for 10 minutes; RSS every 10 s, latency p99
bench-soak:
	./bench/run.sh soak

## testdata: regenerate testdata/logs with the deterministic generator
testdata:
	./scripts/gen-testdata.sh

bench-quick:
	BENCH_EVENTS=100000 BENCH_IPS=5000 BENCH_ROUNDS=1 ./bench/run.sh replay

## fuzz: every fuzz target (parsers, line reader, rule and config loaders, filter patterns) for
## FUZZTIME each (default 20s); `make test` replays their seed corpora and checked-in crashers
fuzz:
	FUZZTIME=$(or $(FUZZTIME),20s) ./scripts/fuzz.sh

clean:
	rm -rf $(BIN)
