#!/usr/bin/env bash
# Whole-process benchmark: tcptrack against tcpdump, argus, softflowd,
# nfpcapd, tshark and tcptrace on the same capture, in the same run,
# round-robin so background load hits every tool alike. Wall and CPU time
# are both reported, each also as a ratio to tcpdump's run of the same round
# (CPU time is the stable figure on a shared machine). See
# testdata/bench/RESULTS.md.
#
#   testdata/bench/bench.sh [FILE]   time every tool on FILE (default: a
#                                    cached synthetic capture, see SIZE/SEED)
#   testdata/bench/bench.sh rss      tcptrack's peak RSS per tracked flow on
#                                    SYN-only captures (FLOWS flows each),
#                                    without and with summaries (-o json)
#   testdata/bench/bench.sh stages [FILE]
#                                    CPU profile of tcptrack read on FILE,
#                                    split into stages (read, decode, TCP
#                                    checksum, key and hash, batching, table,
#                                    fsm, output ...)
#
# Environment:
#   RUNS=5          runs per tool (medians are reported)
#   TOOLS=all       comma-separated subset of: tcptrack,tcptrack-1shard,
#                   tcptrack-notrack,tcpdump,argus,softflowd,nfpcapd,tshark,tcptrace
#                   (tcpdump is always run: it is the reference)
#   SIZE=default    default (10 M packets) or small (100 K) for the generated capture
#   SEED=1          generator seed
#   CAP=600         per-run time limit in seconds; a capped tool shows ">600 s"
#   MEMCAP=12000    address-space limit in MiB for tcpdump/tshark/tcptrace, so a
#                   tool that wants more fails alone instead of starving the host
#   FLOWS="1000000 10000000"   rss mode: flow counts
#   RSS_OUTPUTS="conntrack json"  rss mode: outputs measured (json keeps summaries)
#   CACHE=/tmp/tcptrack-bench  generated captures and binaries (kept between runs)
#   TCPTRACK=path   use this binary instead of building ./cmd/tcptrack
#   OUT=path        Markdown copy (default testdata/bench/last-run.md, last-rss.md,
#                   last-stages.md)
#   SHARDS="1 2"    stages mode: the --shards values profiled
#   SOFTFLOWD_MAX=16777216   softflowd -m: more than any capture's flows, so
#                   none is expired early for room
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-5}
SIZE=${SIZE:-default}
SEED=${SEED:-1}
CAP=${CAP:-600}
MEMCAP=${MEMCAP:-12000}
FLOWS=${FLOWS:-"1000000 10000000"}
TOOLS=${TOOLS:-all}
SOFTFLOWD_MAX=${SOFTFLOWD_MAX:-16777216}
CACHE=${CACHE:-/tmp/tcptrack-bench}
mkdir -p "$CACHE"
notes=()

note() { notes+=("$*"); echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# need CMD PACKAGE: make sure CMD exists, installing the Debian package if
# we can; returns 1 (with a note) when it stays missing.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing $2 for $1" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >"$CACHE/apt-$2.log" 2>&1 || true
	fi
	command -v "$1" >/dev/null 2>&1 && return 0
	note "$1 skipped: not installed and 'apt-get install $2' failed (see $CACHE/apt-$2.log)"
	return 1
}

[ -x /usr/bin/time ] || need time time || die "GNU time (/usr/bin/time) is required"
command -v timeout >/dev/null || die "timeout (coreutils) is required"

# synth KIND PACKETS: path of a cached capture, generated on first use.
synth() {
	local f="$CACHE/synth-$1-seed$SEED-$2.pcap"
	if [ ! -s "$f" ]; then
		if [ ! -x "$CACHE/synth" ] || [ -n "$(find "$root/tools/synth" -newer "$CACHE/synth" -name '*.go' | head -1)" ]; then
			(cd "$root" && go build -o "$CACHE/synth" ./tools/synth) >&2 || die "cannot build tools/synth"
		fi
		"$CACHE/synth" -kind "$1" -seed "$SEED" -packets "$2" -out "$f" >&2 || die "generating $f failed"
	fi
	echo "$f"
}

# The binary under test: built from this checkout unless TCPTRACK is set.
tcptrack=${TCPTRACK:-}
if [ -z "$tcptrack" ]; then
	tcptrack="$CACHE/tcptrack"
	if ! (cd "$root" && go build -o "$tcptrack" ./cmd/tcptrack) >"$CACHE/build.log" 2>&1; then
		tcptrack=""
		note "tcptrack rows skipped: ./cmd/tcptrack does not build ($(grep -v '^#' "$CACHE/build.log" | head -1))"
	fi
fi
commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(cd "$root" && git status --porcelain -- cmd assemble flowtable fsm 2>/dev/null | head -1)" ]; then
	commit="$commit+dirty"
fi

# A tiny capture to check that a command works at all before timing it.
smoke=$(synth mix 1000)
works() { timeout 60 "$@" >/dev/null 2>"$CACHE/smoke.err" </dev/null; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit; print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run1 NAME CMD...: one timed run; appends "wall rss_kib cpu round" to
# $CACHE/NAME.times ($round is the round-robin pass), or writes the failure
# to $CACHE/NAME.fail.
run1() {
	local name=$1 t0 t1 rc
	shift
	[ -e "$CACHE/$name.fail" ] && return 0
	local limit=()
	case $name in
	tcptrack* | rss-*) ;; # Go reserves address space it never touches: no ulimit -v
	*) limit=(bash -c 'ulimit -v "$1" && shift && exec "$@"' limit "$((MEMCAP * 1024))") ;;
	esac
	t0=$EPOCHREALTIME
	rc=0
	timeout -k 5 "$CAP" /usr/bin/time -f '%M %U %S' -o "$CACHE/$name.rss" "${limit[@]}" "$@" >/dev/null 2>"$CACHE/$name.err" </dev/null || rc=$?
	t1=$EPOCHREALTIME
	case $rc in
	0) tail -1 "$CACHE/$name.rss" | awk -v a="$t0" -v b="$t1" -v r="${round:-0}" '{printf "%.4f %d %.2f %d\n", b-a, $1, $2+$3, r}' >>"$CACHE/$name.times" ;;
	124 | 137) echo ">$CAP s" >"$CACHE/$name.fail" ;;
	*) echo "failed (exit $rc: $(grep -v '^Command exited' "$CACHE/$name.err" | head -1 | cut -c1-80))" >"$CACHE/$name.fail" ;;
	esac
}

count_packets() {
	if command -v capinfos >/dev/null; then
		capinfos -M -c "$1" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}'
	else
		tcpdump -r "$1" -nn -q 2>/dev/null | wc -l
	fi
}

header() {
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r))"
	echo "- tcptrack: commit $commit, $(go version 2>/dev/null | awk '{print $3}')"
	echo "- load average before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes timings noisy; ratios come from the same interleaved runs)"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- rss mode
# Peak RSS per flow over SYN-only captures, for each output in RSS_OUTPUTS:
# conntrack (no summaries) and json (a summary and counters per flow).
if [ "${1:-}" = rss ] || [ "${1:-}" = --rss ]; then
	[ -n "$tcptrack" ] || die "rss mode needs tcptrack"
	works "$tcptrack" read -o conntrack "$smoke" || die "tcptrack fails on $smoke: $(head -3 "$CACHE/smoke.err")"
	RUNS=${RSS_RUNS:-1}
	out=${OUT:-$here/last-rss.md}
	rm -f "$CACHE"/rss-*.times "$CACHE"/rss-*.fail
	base_file=$(synth synflood 1000)
	: >"$out.rows"
	bases=""
	for o in ${RSS_OUTPUTS:-conntrack json}; do
		# Baseline: the process with a near-empty table, same output.
		for i in $(seq "$RUNS"); do run1 "rss-$o-base" "$tcptrack" read -o "$o" "$base_file"; done
		base=$(awk '{print $2}' "$CACHE/rss-$o-base.times" | median)
		bases="$bases -o $o: $((base / 1024)) MiB;"
		prev_n="" prev_rss=""
		for n in $FLOWS; do
			f=$(synth synflood "$n")
			maxf=$((n + n / 8 + 1024))
			for i in $(seq "$RUNS"); do
				run1 "rss-$o-$n" "$tcptrack" read --max-flows "$maxf" -o "$o" "$f"
			done
			lines=$(timeout -k 5 "$CAP" "$tcptrack" read --max-flows "$maxf" -o "$o" "$f" 2>/dev/null | wc -l || true)
			mib=$(du -m "$f" | cut -f1)
			if [ -e "$CACHE/rss-$o-$n.fail" ]; then
				echo "| \`-o $o\` | $n | $mib | $(cat "$CACHE/rss-$o-$n.fail") | | | | |" >>"$out.rows"
				continue
			fi
			wall=$(awk '{print $1}' "$CACHE/rss-$o-$n.times" | median)
			rss=$(awk '{print $2}' "$CACHE/rss-$o-$n.times" | median)
			awk -v o="$o" -v n="$n" -v mib="$mib" -v w="$wall" -v r="$rss" -v b="$base" -v l="$lines" 'BEGIN {
				printf "| `-o %s` | %d | %d | %.2f | %.2f M | %.0f | %.0f bytes | %d |\n", o, n, mib, w, n/w/1e6, r/1024, (r-b)*1024/n, l }' >>"$out.rows"
			if [ -n "$prev_n" ]; then
				notes+=("-o $o: marginal cost from $prev_n to $n flows: $(awk -v a="$prev_rss" -v b="$rss" -v na="$prev_n" -v nb="$n" 'BEGIN {printf "%.0f", (b-a)*1024/(nb-na)}') bytes/flow")
			fi
			prev_n=$n prev_rss=$rss
		done
	done
	{
		echo "## tcptrack memory per tracked flow (SYN-only captures, all flows in SYN_SENT at the end)"
		echo
		header
		echo "- command: \`tcptrack read --max-flows N+N/8 -o OUTPUT FILE >/dev/null\`; \`-o conntrack\` keeps no summaries, \`-o json\` keeps a summary and counters per flow; the flows are printed from the table in place; baseline RSS with 1000 flows:$bases RSS − baseline is divided by the flows"
		echo
		echo "| output | flows | capture MiB | wall s | flows/s | peak RSS MiB | (RSS − baseline) / flows | lines printed |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		cat "$out.rows"
		echo
		for n in "${notes[@]}"; do echo "- $n"; done
	} >"$out"
	rm -f "$out.rows"
	cat "$out"
	exit 0
fi

# ---------------------------------------------------------------- stages mode
# A CPU profile of whole runs (TCPTRACK_CPUPROFILE), each sample put in one
# stage by the innermost frame of its stack that a rule below names, and in
# one goroutine kind by the outermost frames: the reading goroutine (main),
# the decoders (ParallelPipeline), the shard workers, or the Go runtime (GC,
# scheduler). With --shards 1 the table runs on the decoder's goroutine. Stage costs are per
# packet of the capture.
if [ "${1:-}" = stages ]; then
	[ -n "$tcptrack" ] || die "stages mode needs tcptrack"
	shift
	if [ $# -ge 1 ]; then file=$1; else file=$(synth mix 10000000); fi
	[ -r "$file" ] || die "cannot read $file"
	out=${OUT:-$here/last-stages.md}
	packets=$(count_packets "$file")
	cat "$file" >/dev/null
	: >"$out.rows"
	for shards in ${SHARDS:-1 2}; do
		prof="$CACHE/stages-$shards.pprof"
		rm -f "$CACHE/stages-$shards".{times,fail}
		round=1
		TCPTRACK_CPUPROFILE=$prof run1 "stages-$shards" "$tcptrack" read --shards "$shards" -o conntrack "$file"
		[ -e "$CACHE/stages-$shards.fail" ] && die "tcptrack --shards $shards: $(cat "$CACHE/stages-$shards.fail")"
		read -r wall _ cpu _ <"$CACHE/stages-$shards.times"
		go tool pprof -traces "$tcptrack" "$prof" 2>/dev/null | awk -v pk="$packets" -v shards="$shards" -v wall="$wall" -v cpu="$cpu" '
		function val(s) { # "10ms", "1.20s", "500us"
			if (s ~ /ms$/) return substr(s, 1, length(s) - 2) / 1e3
			if (s ~ /us$/) return substr(s, 1, length(s) - 2) / 1e6
			if (s ~ /ns$/) return substr(s, 1, length(s) - 2) / 1e9
			return substr(s, 1, length(s) - 1) + 0
		}
		# The stage of one frame, or "" to look further out.
		function stage(f) {
			# A sample taken while sysmon preempts a long-running goroutine
			# (every 10 ms) belongs to the code it interrupted.
			if (f ~ /^runtime\.asyncPreempt/) return ""
			if (f ~ /^(internal\/runtime\/syscall|syscall\.|internal\/poll|os\.\(\*File\)\.(Read|Write))/) return "syscall"
			if (f ~ /(\(\*Reader\)\.|bufio\.\(\*Reader\)|\(\*readBuf\)|\(\*Hold\)|\(\*Merger\)|mmap|\(\*mergedSource\)|\(\*fileSource\)|recordSource)/) return "read: records"
			if (f ~ /assemble\.(verifyTCP|sum64|fold16)/) return "decode: TCP checksum"
			if (f ~ /(\(\*Decoder\)\.|assemble\.parseOptions|assemble\.checksum|fragTable)/) return "decode"
			if (f ~ /(flowtable\.MakeKey|Key\.Hash|flowtable\.endpointHash|flowtable\.mix|netip\.Addr\.As16|KeyOf)/) return "key and hash"
			if (f ~ /^github.com\/tcptrack\/tcptrack\/fsm\./) return "fsm (state machines)"
			if (f ~ /(\(\*Table\)\.(Add|send|handOver|Tick|Submit|NewChunk|partDone)|\(\*Chunk\)|runtime\.(chansend|chanrecv|selectgo)|Pipeline\)\.(Add|take|send|finish|handOver|Close)|\(\*job\)|\(\*batch|sync\.\(\*Mutex\))/) return "batching and hand-off"
			if (f ~ /(flowtable\.\(\*(Shard|shard|index|timers|slab)|flowtable\.prefetch|Key\.Reverse|type:\.eq\.|memeqbody|\(\*Table\)\.process|census)/) return "table (lookup, insert, expiry)"
			if (f ~ /(^main\.(append|write|format|zeek|json|conn)|bufio\.\(\*Writer\)|\(\*Result\)|\(\*Table\)\.Close|slices\.|sort\.|output\.)/) return "output (close, order, format)"
			if (f ~ /^main\.cmdRead/) return "read loop (clamp, counters)"
			if (f ~ /^runtime\./) return "runtime (GC, scheduler, memory)"
			return ""
		}
		function flush(   i, st, g) {
			if (n == 0) return
			st = ""
			for (i = 1; i <= n && st == ""; i++) st = stage(fr[i])
			g = "runtime"
			for (i = n; i >= 1; i--) {
				if (fr[i] ~ /^main\.main$/) { g = "reader"; break }
				if (fr[i] ~ /ParallelPipeline\)\.decode/) { g = "decoders"; break }
				if (fr[i] ~ /(\(\*Table\)\.run|\(\*shard\)\.run|\.worker)/) { g = "shards"; break }
			}
			if (st == "syscall") {
				st = "runtime (GC, scheduler, memory)"
				for (i = 1; i <= n; i++) {
					if (fr[i] ~ /(\(\*Reader\)|bufio\.\(\*Reader\))/) { st = "read: read(2)"; break }
					if (fr[i] ~ /(bufio\.\(\*Writer\)|^main\.write)/) { st = "output (close, order, format)"; break }
				}
			}
			if (st == "") st = "other"
			t[st] += v; tg[st, g] += v; gt[g] += v; total += v
			n = 0
		}
		/^-+\+-+/ { flush(); next }
		/^ +[0-9.]+(ms|s|us|ns) +/ && n == 0 { v = val($1); $1 = ""; sub(/^ +/, ""); sub(/ \(inline\)$/, ""); fr[++n] = $0; next }
		n > 0 && /^ +[^ ]/ { sub(/^ +/, ""); sub(/ \(inline\)$/, ""); fr[++n] = $0; next }
		END {
			flush()
			printf "### --shards %d: wall %.2f s, CPU %.2f s (profiled %.2f s), %.0f ns CPU per packet\n\n", shards, wall, cpu, total, cpu / pk * 1e9
			print "| stage | CPU s (profiled) | share | ns per packet | on the reading goroutine | on decoder goroutines | on shard goroutines | runtime |"
			print "|---|---:|---:|---:|---:|---:|---:|---:|"
			split("read: read(2)|read: records|read loop (clamp, counters)|decode|decode: TCP checksum|key and hash|batching and hand-off|table (lookup, insert, expiry)|fsm (state machines)|output (close, order, format)|runtime (GC, scheduler, memory)|other", order, "|")
			for (k = 1; k in order; k++) {
				st = order[k]
				if (!(st in t)) continue
				printf "| %s | %.2f | %.1f %% | %.1f | %.2f | %.2f | %.2f | %.2f |\n", st, t[st], 100 * t[st] / total, t[st] / pk * 1e9, tg[st, "reader"], tg[st, "decoders"], tg[st, "shards"], tg[st, "runtime"]
			}
			printf "| **all** | %.2f | 100 %% | %.1f | %.2f | %.2f | %.2f | %.2f |\n\n", total, total / pk * 1e9, gt["reader"], gt["decoders"], gt["shards"], gt["runtime"]
		}' >>"$out.rows"
	done
	{
		echo "## Where tcptrack read spends its CPU: $(basename "$file")"
		echo
		echo "- capture: \`$file\`, $packets packets; command: \`TCPTRACK_CPUPROFILE=P tcptrack read --shards N -o conntrack FILE >/dev/null\`, profile split by \`testdata/bench/bench.sh stages\` (go tool pprof -traces; each sample goes to the stage of the innermost frame a rule names, and to the goroutine its stack starts in)"
		header
		echo
		cat "$out.rows"
	} >"$out"
	rm -f "$out.rows"
	cat "$out"
	exit 0
fi

# ---------------------------------------------------------------- timing mode
if [ $# -ge 1 ]; then
	file=$1
	[ -r "$file" ] || die "cannot read $file"
else
	case $SIZE in
	default) file=$(synth mix 10000000) ;;
	small) file=$(synth mix 100000) ;;
	*) die "SIZE=$SIZE: want default or small" ;;
	esac
fi
out=${OUT:-$here/last-run.md}
need tcpdump tcpdump || die "tcpdump is the reference every ratio is taken against"
packets=$(count_packets "$file")
[ -n "$packets" ] && [ "$packets" -gt 0 ] || die "cannot count the packets in $file"

want() { [ "$TOOLS" = all ] || [[ ",$TOOLS," == *",$1,"* ]]; }

# Tools in table order: name|label|command. Each is smoke-tested first.
tools=()
# add NAME LABEL CMD...: a row, if selected and the command works on the
# 1000-packet capture (the same command with the smoke capture in place of
# the file).
add() {
	local name=$1 label=$2
	shift 2
	want "$name" || [ "$name" = tcpdump ] || return 0
	local smoke_cmd=("${@//$file/$smoke}")
	if [ "$name" = nfpcapd ]; then rm -rf "$CACHE/nfpcapd.d" && mkdir -p "$CACHE/nfpcapd.d"; fi
	if ! works "${smoke_cmd[@]}"; then
		note "$label skipped: it fails on a 1000-packet capture: $(head -1 "$CACHE/smoke.err")"
		return 0
	fi
	tools+=("$name|$label|$*")
}
if [ -n "$tcptrack" ]; then
	shards=$(nproc)
	add tcptrack "tcptrack read -o conntrack ($shards shards = GOMAXPROCS)" "$tcptrack" read -o conntrack "$file"
	add tcptrack-1shard "tcptrack read --shards 1 -o conntrack" "$tcptrack" read --shards 1 -o conntrack "$file"
	add tcptrack-notrack "tcptrack read --no-track (records only)" "$tcptrack" read --no-track "$file"
fi
add tcpdump "tcpdump -r FILE -w /dev/null" tcpdump -r "$file" -w /dev/null
if want argus && need argus argus-server; then
	add argus "argus -r FILE -w /dev/null" argus -r "$file" -w /dev/null
fi
if want softflowd && need softflowd softflowd; then
	# NetFlow v9 so that IPv6 flows are tracked too; exported to a local
	# port nobody listens on (the datagrams are built and sent all the same).
	add softflowd "softflowd -r FILE -m $SOFTFLOWD_MAX -v 9 -n 127.0.0.1:9" softflowd -r "$file" -m "$SOFTFLOWD_MAX" -v 9 -n 127.0.0.1:9
fi
if want nfpcapd && need nfpcapd nfdump; then
	add nfpcapd "nfpcapd -r FILE -w DIR (nfdump flow files)" nfpcapd -r "$file" -w "$CACHE/nfpcapd.d"
fi
if want tshark && need tshark tshark; then
	add tshark "tshark -n -r FILE -q -z conv,tcp" tshark -n -r "$file" -q -z conv,tcp
fi
if want tcptrace && need tcptrace tcptrace; then
	add tcptrace "tcptrace -n FILE" tcptrace -n "$file"
fi
[ ${#tools[@]} -gt 1 ] || die "nothing to run beside tcpdump"

# Page the file in once so every tool reads from memory, not disk.
cat "$file" >/dev/null
for t in "${tools[@]}"; do rm -f "$CACHE/${t%%|*}".{times,fail}; done
for round in $(seq "$RUNS"); do
	for t in "${tools[@]}"; do
		IFS='|' read -r name label cmd <<<"$t"
		echo "bench: run $round/$RUNS: $label" >&2
		if [ "$name" = nfpcapd ]; then
			# A fresh output directory each run, emptied outside the timing.
			rm -rf "$CACHE/nfpcapd.d" && mkdir -p "$CACHE/nfpcapd.d"
		fi
		# shellcheck disable=SC2086 # cmd is a word list we built; paths have no spaces
		run1 "$name" $cmd
	done
done
rm -rf "$CACHE/nfpcapd.d"

# ratios NAME REF COL: the median, min and max over rounds of NAME's column
# COL (1 wall, 3 CPU) divided by REF's in the same round.
ratios() {
	[ -s "$CACHE/$1.times" ] && [ -s "$CACHE/$2.times" ] || return 0
	awk -v c="$3" 'NR == FNR { ref[$4] = $c; next } ($4 in ref) && ref[$4] > 0 { print $c / ref[$4] }' \
		"$CACHE/$2.times" "$CACHE/$1.times" | sort -g |
		awk '{a[NR] = $1} END { if (NR == 0) exit; m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			if (NR == 1) printf "%.2f\n", m; else printf "%.2f (%.2f–%.2f)\n", m, a[1], a[NR] }'
}
{
	echo "## Whole-process timings: $(basename "$file")"
	echo
	echo "- capture: \`$file\`, $packets packets, $(du -m "$file" | cut -f1) MiB, read from the page cache; $RUNS runs per tool, interleaved (round-robin); limits per run: ${CAP} s, and ${MEMCAP} MiB address space for the non-Go tools"
	header
	echo "- wall: shell clock around the process; CPU: user + system time of the process (GNU time); ratios: each run divided by tcpdump's (or tcptrack's) run of the same round, median (min–max) over the rounds"
	echo
	echo "| tool | median wall s | min–max s | packets/s | wall ÷ tcpdump | CPU s (median) | CPU ÷ tcpdump | wall ÷ tcptrack | CPU ÷ tcptrack | peak RSS MiB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for t in "${tools[@]}"; do
		IFS='|' read -r name label cmd <<<"$t"
		if [ -e "$CACHE/$name.fail" ]; then
			echo "| \`$label\` | $(cat "$CACHE/$name.fail") | | | | | | | | |"
			continue
		fi
		wall=$(awk '{print $1}' "$CACHE/$name.times" | median)
		lo=$(awk '{print $1}' "$CACHE/$name.times" | sort -g | head -1)
		hi=$(awk '{print $1}' "$CACHE/$name.times" | sort -g | tail -1)
		rss=$(awk '{print $2}' "$CACHE/$name.times" | median)
		cpu=$(awk '{print $3}' "$CACHE/$name.times" | median)
		wt=$(ratios "$name" tcpdump 1) ct=$(ratios "$name" tcpdump 3)
		wk=$(ratios "$name" tcptrack 1) ck=$(ratios "$name" tcptrack 3)
		[ "$name" = tcpdump ] && wt="1" ct="1"
		[ "$name" = tcptrack ] && wk="1" ck="1"
		# Only the median of the ratios to tcptrack: the ranges are in the tcpdump columns.
		awk -v label="$label" -v w="$wall" -v lo="$lo" -v hi="$hi" -v p="$packets" -v r="$rss" -v c="$cpu" \
			-v wt="${wt:-n/a}" -v ct="${ct:-n/a}" -v wk="${wk%% *}" -v ck="${ck%% *}" '
			BEGIN { printf "| `%s` | %.3f | %.3f–%.3f | %.2f M | %s | %.2f | %s | %s | %s | %.0f |\n",
				label, w, lo, hi, p / w / 1e6, wt, c, ct, (wk == "" ? "n/a" : wk), (ck == "" ? "n/a" : ck), r / 1024 }'
	done
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		for n in "${notes[@]}"; do echo "- $n"; done
	fi
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
