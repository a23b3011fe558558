#!/usr/bin/env bash
# Live-capture benchmark: a large synthetic capture is replayed onto one end
# of a veth pair with tcpreplay while a sniffer listens on the other end, in
# two private network namespaces. At each packet rate it reports what
# libpcap says the sniffer lost (packets dropped by kernel) and the CPU the
# sniffer used, for tcptrack live and for tcpdump -w /dev/null with the same
# capture settings (immediate mode, snap length, buffer, filter "tcp").
# The result is the highest rate at which each drops nothing.
#
#   testdata/bench/live.sh          (root; writes testdata/bench/LIVE-last.md)
#
# Environment:
#   PACKETS=1000000   packets in the generated capture (tools/synth -kind mix)
#   RATES="50000 100000 200000 400000 top"  target packets/s ("top": --topspeed)
#   SECS=5            seconds of traffic per rate (the capture is looped as needed)
#   SNAPLEN=256       snap length for both sniffers
#   BUFFER=65536      capture buffer in KiB for both (tcpdump -B, tcptrack --buffer-size)
#   SHARDS=           tcptrack --shards (default: GOMAXPROCS)
#   CACHE=/tmp/tcptrack-bench   generated capture and binaries
#   TCPTRACK=path     use this binary instead of building ./cmd/tcptrack
#   OUT=path          Markdown result (default testdata/bench/LIVE-last.md)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
PACKETS=${PACKETS:-1000000}
RATES=${RATES:-"50000 100000 200000 400000 top"}
SECS=${SECS:-5}
SNAPLEN=${SNAPLEN:-256}
BUFFER=${BUFFER:-65536}
SHARDS=${SHARDS:-}
CACHE=${CACHE:-/tmp/tcptrack-bench}
OUT=${OUT:-$here/LIVE-last.md}
mkdir -p "$CACHE"

die() { echo "live.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, packet capture)"
for c in ip tcpreplay tcpdump go; do
	command -v "$c" >/dev/null || die "$c is missing (bash .ci/deps installs it)"
done

tcptrack=${TCPTRACK:-$CACHE/tcptrack}
if [ -z "${TCPTRACK:-}" ]; then
	(cd "$root" && go build -o "$tcptrack" ./cmd/tcptrack) || die "cannot build ./cmd/tcptrack"
fi
capture="$CACHE/live-mix-seed1-$PACKETS.pcap"
if [ ! -s "$capture" ]; then
	(cd "$root" && go run ./tools/synth -kind mix -seed 1 -packets "$PACKETS" -q -out "$capture") || die "cannot generate $capture"
fi

# Two namespaces joined by a veth pair: tcpreplay writes frames into tx0,
# they arrive on rx0 where the sniffer listens. Nothing else runs there.
ns=tcptrack-livebench-$$
cleanup() {
	[ -n "${sniffer:-}" ] && kill "$sniffer" 2>/dev/null || true
	ip netns del "$ns-tx" 2>/dev/null || true
	ip netns del "$ns-rx" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$ns-tx"
ip netns add "$ns-rx"
ip -n "$ns-tx" link add tx0 mtu 9000 type veth peer name rx0 mtu 9000 netns "$ns-rx"
ip -n "$ns-tx" link set tx0 up
ip -n "$ns-rx" link set rx0 up
ip -n "$ns-rx" link set lo up

hz=$(getconf CLK_TCK)
# cpu_seconds PID: user+system time the process has used so far.
cpu_seconds() { awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

# run1 TOOL RATE: one sniffer session at one rate; sets result to
# "sent_pps received dropped cpu_percent".
run1() {
	local tool=$1 rate=$2 err="$CACHE/live-$1-$2.err" rep="$CACHE/live-$1-$2.tcpreplay"
	local cmd
	case $tool in
	tcptrack)
		cmd=("$tcptrack" live -i rx0 --snaplen "$SNAPLEN" --buffer-size "$BUFFER" -o conntrack)
		[ -n "$SHARDS" ] && cmd+=(--shards "$SHARDS")
		cmd+=(tcp)
		;;
	tcpdump) cmd=(tcpdump -i rx0 --immediate-mode -s "$SNAPLEN" -B "$BUFFER" -n -w /dev/null tcp) ;;
	esac
	ip netns exec "$ns-rx" "${cmd[@]}" >/dev/null 2>"$err" </dev/null &
	sniffer=$!
	for _ in $(seq 100); do
		grep -q "listening on" "$err" && break
		sleep 0.05
	done
	grep -q "listening on" "$err" || die "$tool did not start: $(head -2 "$err")"
	local cpu0 t0 t1 cpu1 limit pace
	cpu0=$(cpu_seconds "$sniffer")
	if [ "$rate" = top ]; then
		pace=(--topspeed)
		limit=$PACKETS
	else
		pace=(--pps="$rate")
		limit=$((rate * SECS))
	fi
	t0=$EPOCHREALTIME
	ip netns exec "$ns-tx" tcpreplay -i tx0 -K --loop=0 --limit="$limit" "${pace[@]}" "$capture" >"$rep" 2>&1 || die "tcpreplay failed: $(tail -3 "$rep")"
	sleep 0.5 # let the sniffer drain its buffer
	t1=$EPOCHREALTIME
	cpu1=$(cpu_seconds "$sniffer")
	kill -INT "$sniffer"
	wait "$sniffer" || true
	sniffer=
	local sent recv drop
	sent=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /^pps/) print int($(i-1))}' "$rep" | head -1)
	recv=$(awk '/packets received by filter/ {print $1}' "$err")
	drop=$(awk '/packets dropped by kernel/ {print $1}' "$err")
	result="${sent:-?} ${recv:-?} ${drop:-?} $(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.0f", 100 * (b - a) / (t1 - t0 - 0.5)}')"
}

declare -A res
best_tcptrack=none best_tcpdump=none
for rate in $RATES; do
	for tool in tcptrack tcpdump; do
		run1 "$tool" "$rate"
		r=$result
		res[$tool,$rate]=$r
		echo "live.sh: $tool at $rate pps: sent/s received dropped cpu% = $r" >&2
		read -r sent _ drop _ <<<"$r"
		if [ "$drop" = 0 ] && [ "$sent" != "?" ]; then
			if [ "$tool" = tcptrack ] && { [ "$best_tcptrack" = none ] || [ "$sent" -gt "$best_tcptrack" ]; }; then best_tcptrack=$sent; fi
			if [ "$tool" = tcpdump ] && { [ "$best_tcpdump" = none ] || [ "$sent" -gt "$best_tcpdump" ]; }; then best_tcpdump=$sent; fi
		fi
	done
done

commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "## tcptrack live vs tcpdump: drops and CPU at a given packet rate"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- tcptrack commit $commit; $(tcpdump --version 2>&1 | head -1); $(tcpdump --version 2>&1 | sed -n 2p); $(tcpreplay -V 2>&1 | head -1)"
	echo "- capture: tools/synth -kind mix -seed 1 -packets $PACKETS (looped), replayed with tcpreplay -K --pps=RATE (or --topspeed) onto a veth pair (MTU 9000) between two namespaces; $SECS s per rate"
	echo "- sniffers on the far end, both immediate mode, snap length $SNAPLEN, buffer $BUFFER KiB, filter \"tcp\":"
	echo "  \`tcptrack live -i rx0 --snaplen $SNAPLEN --buffer-size $BUFFER -o conntrack${SHARDS:+ --shards $SHARDS} tcp >/dev/null\` and \`tcpdump -i rx0 --immediate-mode -s $SNAPLEN -B $BUFFER -w /dev/null tcp\`"
	echo "- CPU: the sniffer's user+system time over the replay (100% = one core); drops: libpcap's \"packets dropped by kernel\""
	echo
	echo "| target pps | tcptrack: sent pps | dropped / received | CPU | packets per CPU-second | tcpdump: sent pps | dropped / received | CPU | packets per CPU-second |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	per() { awk -v s="$1" -v c="$2" 'BEGIN {if (c > 0) printf "%.0fk", s / c / 10; else print "-"}'; }
	for rate in $RATES; do
		read -r s1 r1 d1 c1 <<<"${res[tcptrack,$rate]}"
		read -r s2 r2 d2 c2 <<<"${res[tcpdump,$rate]}"
		echo "| $rate | $s1 | $d1 / $r1 | $c1% | $(per "$s1" "$c1") | $s2 | $d2 / $r2 | $c2% | $(per "$s2" "$c2") |"
	done
	echo
	echo "Highest sent rate with no drop: tcptrack $best_tcptrack pps, tcpdump $best_tcpdump pps."
} >"$OUT"
cat "$OUT"
