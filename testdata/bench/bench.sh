#!/usr/bin/env bash
# Whole-process benchmark: tcptrack against tcpdump, tshark and tcptrace on
# the same capture, in the same run, round-robin so background load hits
# every tool alike. See testdata/bench/RESULTS.md.
#
#   testdata/bench/bench.sh [FILE]   time every tool on FILE (default: a
#                                    cached synthetic capture, see SIZE/SEED)
#   testdata/bench/bench.sh rss      tcptrack's peak RSS per tracked flow on
#                                    SYN-only captures (FLOWS flows each)
#
# Environment:
#   RUNS=5          runs per tool (medians are reported)
#   SIZE=default    default (10 M packets) or small (100 K) for the generated capture
#   SEED=1          generator seed
#   CAP=600         per-run time limit in seconds; a capped tool shows ">600 s"
#   MEMCAP=12000    address-space limit in MiB for tcpdump/tshark/tcptrace, so a
#                   tool that wants more fails alone instead of starving the host
#   FLOWS="1000000 10000000"   rss mode: flow counts
#   CACHE=/tmp/tcptrack-bench  generated captures and binaries (kept between runs)
#   TCPTRACK=path   use this binary instead of building ./cmd/tcptrack
#   OUT=path        Markdown copy (default testdata/bench/last-run.md, last-rss.md)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-5}
SIZE=${SIZE:-default}
SEED=${SEED:-1}
CAP=${CAP:-600}
MEMCAP=${MEMCAP:-12000}
FLOWS=${FLOWS:-"1000000 10000000"}
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

# run1 NAME CMD...: one timed run; appends "wall rss_kib cpu" to $CACHE/NAME.times,
# or writes the failure to $CACHE/NAME.fail.
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
	0) tail -1 "$CACHE/$name.rss" | awk -v a="$t0" -v b="$t1" '{printf "%.4f %d %.2f\n", b-a, $1, $2+$3}' >>"$CACHE/$name.times" ;;
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
if [ "${1:-}" = rss ] || [ "${1:-}" = --rss ]; then
	[ -n "$tcptrack" ] || die "rss mode needs tcptrack"
	works "$tcptrack" read -o conntrack "$smoke" || die "tcptrack fails on $smoke: $(head -3 "$CACHE/smoke.err")"
	RUNS=${RSS_RUNS:-1}
	out=${OUT:-$here/last-rss.md}
	rm -f "$CACHE"/rss-*.times "$CACHE"/rss-*.fail
	# Baseline: the process with a near-empty table.
	base_file=$(synth synflood 1000)
	for i in $(seq "$RUNS"); do run1 rss-base "$tcptrack" read -o conntrack "$base_file"; done
	base=$(awk '{print $2}' "$CACHE/rss-base.times" | median)
	: >"$out.rows"
	prev_n="" prev_rss=""
	for n in $FLOWS; do
		f=$(synth synflood "$n")
		maxf=$((n + n / 8 + 1024))
		for i in $(seq "$RUNS"); do
			run1 "rss-$n" "$tcptrack" read --max-flows "$maxf" -o conntrack "$f"
		done
		lines=$(timeout -k 5 "$CAP" "$tcptrack" read --max-flows "$maxf" -o conntrack "$f" 2>/dev/null | wc -l || true)
		mib=$(du -m "$f" | cut -f1)
		if [ -e "$CACHE/rss-$n.fail" ]; then
			echo "| $n | $mib | $(cat "$CACHE/rss-$n.fail") | | | | |" >>"$out.rows"
			continue
		fi
		wall=$(awk '{print $1}' "$CACHE/rss-$n.times" | median)
		rss=$(awk '{print $2}' "$CACHE/rss-$n.times" | median)
		awk -v n="$n" -v mib="$mib" -v w="$wall" -v r="$rss" -v b="$base" -v l="$lines" 'BEGIN {
			printf "| %d | %d | %.2f | %.2f M | %.0f | %.0f bytes | %d |\n", n, mib, w, n/w/1e6, r/1024, (r-b)*1024/n, l }' >>"$out.rows"
		if [ -n "$prev_n" ]; then
			notes+=("marginal cost from $prev_n to $n flows: $(awk -v a="$prev_rss" -v b="$rss" -v na="$prev_n" -v nb="$n" 'BEGIN {printf "%.0f", (b-a)*1024/(nb-na)}') bytes/flow")
		fi
		prev_n=$n prev_rss=$rss
	done
	{
		echo "## tcptrack memory per tracked flow (SYN-only captures, all flows in SYN_SENT at the end)"
		echo
		header
		echo "- command: \`tcptrack read --max-flows N+N/8 -o conntrack FILE >/dev/null\` (the flows are printed from the table in place; the peak includes a 16-byte order record per flow); baseline RSS with 1000 flows: $((base / 1024)) MiB"
		echo
		echo "| flows | capture MiB | wall s | flows/s | peak RSS MiB | (RSS − baseline) / flows | lines printed |"
		echo "|---:|---:|---:|---:|---:|---:|---:|"
		cat "$out.rows"
		echo
		for n in "${notes[@]}"; do echo "- $n"; done
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
need tcpdump tcpdump || true
packets=$(count_packets "$file")
[ -n "$packets" ] && [ "$packets" -gt 0 ] || die "cannot count the packets in $file"

# Tools in table order: name|label|command. Each is smoke-tested first.
tools=()
if [ -n "$tcptrack" ]; then
	if works "$tcptrack" read -o conntrack "$smoke"; then
		tools+=("tcptrack|tcptrack read -o conntrack|$tcptrack read -o conntrack $file")
		tools+=("tcptrack-1shard|tcptrack read --shards 1 -o conntrack|$tcptrack read --shards 1 -o conntrack $file")
		if works "$tcptrack" read --no-track "$smoke"; then
			tools+=("tcptrack-notrack|tcptrack read --no-track (records only)|$tcptrack read --no-track $file")
		else
			note "tcptrack --no-track row skipped: not supported by this build ($(head -1 "$CACHE/smoke.err"))"
		fi
	else
		note "tcptrack rows skipped: it fails on a 1000-packet capture: $(head -1 "$CACHE/smoke.err")"
	fi
fi
if command -v tcpdump >/dev/null; then
	tools+=("tcpdump|tcpdump -r FILE -w /dev/null|tcpdump -r $file -w /dev/null")
fi
if need tshark tshark; then
	tools+=("tshark|tshark -n -r FILE -q -z conv,tcp|tshark -n -r $file -q -z conv,tcp")
fi
if need tcptrace tcptrace; then
	tools+=("tcptrace|tcptrace -n FILE|tcptrace -n $file")
fi
[ ${#tools[@]} -gt 0 ] || die "nothing to run"

# Page the file in once so every tool reads from memory, not disk.
cat "$file" >/dev/null
for t in "${tools[@]}"; do rm -f "$CACHE/${t%%|*}".{times,fail}; done
for i in $(seq "$RUNS"); do
	for t in "${tools[@]}"; do
		IFS='|' read -r name label cmd <<<"$t"
		echo "bench: run $i/$RUNS: $label" >&2
		# shellcheck disable=SC2086 # cmd is a word list we built; paths have no spaces
		run1 "$name" $cmd
	done
done

base="" base_lo=""
if [ -s "$CACHE/tcptrack.times" ]; then
	base=$(awk '{print $1}' "$CACHE/tcptrack.times" | median)
	base_lo=$(awk '{print $1}' "$CACHE/tcptrack.times" | sort -g | head -1)
fi
{
	echo "## Whole-process timings: $(basename "$file")"
	echo
	echo "- capture: \`$file\`, $packets packets, $(du -m "$file" | cut -f1) MiB, read from the page cache; $RUNS runs per tool, interleaved; median wall time; limits per run: ${CAP} s, and ${MEMCAP} MiB address space for the non-Go tools"
	header
	echo
	echo "| tool | median wall s | min–max s | packets/s | vs tcptrack (medians) | vs tcptrack (best runs) | CPU s (median) | peak RSS MiB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for t in "${tools[@]}"; do
		IFS='|' read -r name label cmd <<<"$t"
		if [ -e "$CACHE/$name.fail" ]; then
			echo "| \`$label\` | $(cat "$CACHE/$name.fail") | | | | | | |"
			continue
		fi
		wall=$(awk '{print $1}' "$CACHE/$name.times" | median)
		lo=$(awk '{print $1}' "$CACHE/$name.times" | sort -g | head -1)
		hi=$(awk '{print $1}' "$CACHE/$name.times" | sort -g | tail -1)
		rss=$(awk '{print $2}' "$CACHE/$name.times" | median)
		cpu=$(awk '{print $3}' "$CACHE/$name.times" | median)
		awk -v label="$label" -v w="$wall" -v lo="$lo" -v hi="$hi" -v p="$packets" -v r="$rss" -v c="$cpu" \
			-v b="$base" -v blo="$base_lo" -v self="$([ "$name" = tcptrack ] && echo 1)" '
			function vs(t, ref) {
				if (self) return "baseline"
				if (ref == "") return "n/a"
				return t >= ref ? sprintf("%.1f× slower", t / ref) : sprintf("%.1f× faster", ref / t)
			}
			BEGIN { printf "| `%s` | %.3f | %.3f–%.3f | %.2f M | %s | %s | %.2f | %.0f |\n", label, w, lo, hi, p / w / 1e6, vs(w, b), vs(lo, blo), c, r / 1024 }'
	done
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		for n in "${notes[@]}"; do echo "- $n"; done
	fi
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
