# tcptrack — see README.md. Every target that needs system packages runs
# .ci/deps first, which installs what is missing (Debian).
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO      ?= go
BIN     := bin/tcptrack
SAMPLE  := testdata/pcaps/sample.pcap
SEED    ?= $(shell date +%s)
CORPUS  ?= testdata/pcaps/kernel

.PHONY: all deps build run test vet corpus difftest kerneltest bench fuzz clean

all: build

deps:
	@bash .ci/deps

build: deps
	$(GO) build -o $(BIN) ./cmd/tcptrack

# The main job on the shipped sample: conntrack lines, then the table.
run: build
	./$(BIN) read --acct $(SAMPLE)
	./$(BIN) read -o table $(SAMPLE)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Every test: unit, golden, fuzz seeds, race detector, and the differential
# test against the committed kernel corpus.
test: deps vet
	$(GO) test -race -count=1 ./...

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
