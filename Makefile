# tcptrack — see README.md. Every target that needs system packages runs
# .ci/deps first, which installs what is missing (Debian).
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
SHELL   := /bin/bash
GO      ?= go
BIN     := bin/tcptrack
SAMPLE  := testdata/pcaps/sample.pcap
SEED    ?= $(shell date +%s)
CORPUS  ?= testdata/pcaps/kernel

.PHONY: all deps build run test golden vet corpus difftest kerneltest bench fuzz clean

all: build

deps:
	@bash .ci/deps

build: deps
	$(GO) build -o $(BIN) ./cmd/tcptrack

# The main job on the shipped sample: conntrack lines, then the table,
# then what happened.
run: build
	./$(BIN) read --acct $(SAMPLE)
	./$(BIN) read -o table $(SAMPLE)
	@echo; cat bin/deps.txt; \
	echo "built: $(BIN) ($$($(GO) env GOVERSION))"; \
	echo "ran: tcptrack read on $(SAMPLE) ($$(./$(BIN) read --stats=json $(SAMPLE) 2>&1 >/dev/null | sed -n 's/.*"read": *\([0-9]*\).*/\1/p' | head -1) packets): above, the $$(./$(BIN) read $(SAMPLE) 2>/dev/null | wc -l) connections as conntrack -L prints them (--acct), then each endpoint's socket state (-o table)"

vet:
	$(GO) vet ./...
	cd examples/replay && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Every test: unit, golden, fuzz seeds, race detector, and the differential
# test against the committed kernel corpus. Output is go test's, condensed
# (failures in full, skips with their reasons), ending with what happened.
test: deps vet
	@$(GO) build -o bin/testsummary ./tools/testsummary
	@echo "go test -race -count=1 ./... (every package; takes a few minutes)"
	@set -o pipefail; $(GO) test -race -count=1 -json ./... | bin/testsummary \
	  -note "$$(cat bin/deps.txt)" \
	  -note "ran: go vet (the module and examples/replay) and gofmt (clean), then go test -race over every package, incl. the differential test against the kernel corpus in testdata/pcaps/kernel and the library checks (fsm, flowtable, output without cgo; examples/replay built with CGO_ENABLED=0 prints what tcptrack read prints)"

# Rewrite every golden file and fuzz seed corpus from the current code
# (review the diff before committing).
golden:
	$(GO) test -count=1 ./... -update

# Regenerate the kernel corpus (root, network namespaces): make corpus SEED=42
corpus: deps
	$(GO) run ./tools/corpusgen -out $(CORPUS) -seed $(SEED)

# One fresh differential round: a new corpus from a random seed, compared
# flow for flow with the kernel.
difftest: deps
	@dir=$$(mktemp -d /tmp/tcptrack-corpus.XXXXXX); \
	echo "fresh kernel corpus in $$dir (seed $(SEED))"; \
	$(GO) run ./tools/corpusgen -out $$dir -seed $(SEED) && \
	TCPTRACK_CORPUS=$$dir $(GO) test -count=1 -run 'TestKernel' ./cmd/tcptrack; \
	rc=$$?; [ $$rc -eq 0 ] && rm -rf $$dir || echo "kept $$dir for inspection"; exit $$rc

# The fsm, packet by packet, against the running kernel's conntrack in a
# namespace (root).
kerneltest: deps
	$(GO) test -count=1 -run 'TestKernel' ./fsm -kernel

# Every fuzz target of every package (go test -list finds them), each for
# FUZZTIME: make fuzz FUZZTIME=10m FUZZPARALLEL=1 for a long run. A run that
# fails with only "context deadline exceeded" and writes no failing input is
# Go's fuzz-coordinator shutdown race (go.dev/issue/75804, fixed in Go 1.27),
# not a finding: it is reported and the next target runs.
FUZZTIME     ?= 20s
FUZZPARALLEL ?=
fuzz: deps
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$t ($$pkg) for $(FUZZTIME)"; \
	    if $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $(if $(FUZZPARALLEL),-parallel $(FUZZPARALLEL)) $$pkg >$$log 2>&1; then \
	      tail -3 $$log; \
	    elif grep -q 'context deadline exceeded' $$log && ! grep -q -e 'Failing input written' -e 'panic:' -e 'hung or terminated' $$log; then \
	      tail -4 $$log; \
	      echo "warning: $$t: Go's fuzz shutdown race (go.dev/issue/75804), no failing input: not a finding"; \
	    else \
	      cat $$log; exit 1; \
	    fi; \
	  done; \
	done

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
