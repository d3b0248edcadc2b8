GO ?= go
BENCH_COUNT ?= 5

.PHONY: build test bench bench-tasks fuzz readme images compose-test

build:
	$(GO) build -o bin/ ./cmd/... ./examples/...

test:
	$(GO) test -race -timeout 30m ./...

# Runs every benchmark next to its baselines and prints the tables of
# ratios kept in BENCHMARKS.md. The rpcq runs are rounds of -count 1, so
# that a change in the machine's load falls on a row and its baselines
# alike, not on the five runs of one row.
bench:
	for i in $$(seq $(BENCH_COUNT)); do $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s -count 1 ./rpcq/ || exit 1; done | tee /dev/stderr | $(GO) run ./internal/benchtable
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 3 ./internal/local/ | tee /dev/stderr | $(GO) run ./internal/benchtable
	$(GO) test -run '^$$' -bench SyncBound -benchtime 1000x ./timesvc/

# Drover's task queue against asynq on Redis, in one run, from the module
# bench/tasks (asynq stays out of Drover's). It needs redis-server on the
# PATH, which it starts on a loopback port of its own; it installs nothing.
bench-tasks:
	@command -v redis-server >/dev/null || { echo "bench-tasks needs redis-server on the PATH (Debian: apt-get install redis-server)" >&2; exit 1; }
	cd bench/tasks && $(GO) test -run '^$$' -bench EmptyTasks -benchtime 5000x -count 3 . | tee /dev/stderr | (cd ../.. && $(GO) run ./internal/benchtable)
	cd bench/tasks && $(GO) test -run '^$$' -bench IdleStart -benchtime 30x -count 1 . | tee /dev/stderr | (cd ../.. && $(GO) run ./internal/benchtable)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 60s ./rpcq/
	$(GO) test -run '^$$' -fuzz FuzzReply -fuzztime 60s ./rpcq/
	$(GO) test -run '^$$' -fuzz FuzzRequestHeader -fuzztime 60s ./rpcq/
	$(GO) test -run '^$$' -fuzz FuzzDecodeTask -fuzztime 60s ./mr/
	$(GO) test -run '^$$' -fuzz FuzzSpecEncodedSize -fuzztime 60s ./mr/
	$(GO) test -run '^$$' -fuzz FuzzSubmitArgs -fuzztime 60s ./master/
	$(GO) test -run '^$$' -fuzz FuzzLoadJob -fuzztime 60s ./master/

readme:
	scripts/readme-check.sh

# The Drover image, drover/drover:local, FROM scratch (needs Docker and
# Debian's busybox-static).
images:
	docker/build-images.sh

# The three-node compose cluster, with faults, against sequential runs.
compose-test:
	scripts/compose-test.sh
