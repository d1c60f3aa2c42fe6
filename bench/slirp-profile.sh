# Where SLIRP's time goes (issue 15, item 1: profile before fixing): the
# same topology as slirp-vs-pasta.sh (a "host" namespace with iperf3 and the
# slirp-peer echo server on its 127.0.0.1, a guest namespace behind
# tests/tools/slirp-tap's TAP), with slirp-tap rebuilt unstripped so perf can
# name its functions. For each load it records slirp-tap with
# `perf record -g` and prints:
#   - the process's user and system CPU seconds over the window, and the
#     load's figure (Gbit/s, connections/s);
#   - the top symbols, user and kernel, self time (perf report --no-children);
#   - the system calls it made per second (syscall tracepoint counts).
# Loads: upload (iperf3 guest -> host), download (-R), and CRR
# (connect-request-response, slirp-peer crr) quiet and with BURN CPU-bound
# processes beside it (the contended mode). Then, per transaction against
# pasta (1-byte RR and CRR, RR_N transactions each): the system calls and
# context switches of the stack's own process, counted over exactly those
# transactions (perf stat on slirp-tap, and on pasta's process in the same
# topology), so the two stacks' work per round trip can be set side by
# side. Writes the whole report to $BENCH_RESULTS/slirp-profile.txt too.
#   SECS=5 BURN=5 OFFLOAD=1 sh bench/slirp-profile.sh
. tests/lib.sh
. bench/lib.sh

SECS=${SECS:-5}
BURN=${BURN:-5}
CRR_N=${CRR_N:-3000}
RR_N=${RR_N:-3000}
OFFLOAD=${OFFLOAD:-1}
: "${BENCH_RESULTS:=bench/results}"
OFF=""; [ "$OFFLOAD" = 1 ] && OFF=--offload
for c in ip iperf3 perf musl-gcc python3; do
	command -v $c >/dev/null || { echo "SKIP slirp-profile: $c not installed (make deps)"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP slirp-profile: needs root (namespaces, TAP, perf)"; exit 0; }
[ -f "$B/musl/libcore.a" ] || { echo "SKIP slirp-profile: build $B/musl/libcore.a first (make)"; exit 0; }
PEER=$TOOLS/slirp-peer
P=vb-slirp-prof-$$ H=$P-h G=$P-g
PIDS="" BURNERS=""
cleanup() {
	for p in $BURNERS $PIDS; do kill "$p" 2>/dev/null; done
	for p in $BURNERS $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del $G 2>/dev/null; ip netns del $H 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# slirp-tap as the Makefile builds it, but with symbols (no -s) and frame
# pointers, so the profile has names and call chains.
musl-gcc -std=gnu11 -D_GNU_SOURCE -Ilibcore -isystem "$B/include" -I"$B/zlib/include" -O2 -g \
	-fno-omit-frame-pointer -static -L"$B/zlib/lib" -o "$TMP/slirp-tap" tests/tools/slirp-tap.c \
	-Wl,--whole-archive "$B/musl/libcore.a" -Wl,--no-whole-archive -lz ||
	{ echo "FAIL slirp-profile: cannot build an unstripped slirp-tap"; exit 1; }

ip netns add $H && ip netns add $G || { echo "FAIL slirp-profile: namespaces"; exit 1; }
ip -n $H link set lo up; ip -n $G link set lo up
bench_pasta_uplink $H
ip netns exec $H iperf3 -s -B 127.0.0.1 -p 5201 >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec $H $PEER server 127.0.0.1 9101 echo >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec $H "$TMP/slirp-tap" --netns /run/netns/$G --tap vbtap0 --mtu 65520 --allow-host-loopback \
	$OFF --ready "$TMP/ready" >/dev/null 2>&1 & TAP=$!; PIDS="$PIDS $TAP"
wait_file "$TMP/ready" && wait_port $H 5201 && wait_port $H 9101 || { echo "FAIL slirp-profile: set-up"; exit 1; }
bench_slirp_guest $G vbtap0

HZ=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + 0, $15 + 0 }' "/proc/$TAP/stat"; } # utime stime, in ticks

# The system calls counted while profiling (tracepoints: no ptrace, so the
# process runs at full speed).
SYSCALLS="read readv write writev recvfrom recvmsg recvmmsg sendto sendmsg sendmmsg epoll_pwait
	epoll_ctl socket connect accept4 close setsockopt getsockopt timerfd_settime ioctl splice"
EVENTS=$(for c in $SYSCALLS; do printf 'syscalls:sys_enter_%s,' "$c"; done | sed 's/,$//')

# profile NAME CMD...: runs CMD over and over in the guest namespace while
# perf records slirp-tap for SECS seconds; prints the report section.
profile() {
	_name=$1; shift
	: >"$TMP/load.out"
	ip netns exec $G sh -c 'while :; do "$@"; done' load "$@" >>"$TMP/load.out" 2>&1 & _load=$!
	sleep 0.5
	_c0=$(cpu)
	perf record -q -g -F 499 -p $TAP -o "$TMP/perf.data" -- sleep "$SECS" >/dev/null 2>&1
	_c1=$(cpu)
	perf stat -x, -e "$EVENTS" -p $TAP -o "$TMP/sys" -- sleep 2 >/dev/null 2>&1
	kill $_load 2>/dev/null; wait $_load 2>/dev/null
	pkill -f "$PEER crr" 2>/dev/null; pkill -f 'iperf3 -c 10.0.2.2' 2>/dev/null
	echo "## $_name"
	echo
	echo "the load's own figures (first run):"
	{ grep -m 2 -E 'sender|receiver' "$TMP/load.out" || head -n 1 "$TMP/load.out"; } | sed 's/^/  /'
	echo "$_c0 $_c1" | awk -v hz="$HZ" -v s="$SECS" '{ u = ($3 - $1) / hz; k = ($4 - $2) / hz;
		printf "slirp-tap CPU over %ss: user %.2fs, system %.2fs (%.0f%% of one core, %.0f%% of it in the kernel)\n",
		s, u, k, 100 * (u + k) / s, (u + k) ? 100 * k / (u + k) : 0 }'
	echo
	echo "top symbols, self time (user and kernel):"
	perf report -i "$TMP/perf.data" --stdio --no-children --sort dso,symbol --percent-limit 1.5 2>/dev/null |
		grep -E '^ +[0-9.]+%' | sed 's/ *- *- *$//' | head -n 25
	echo
	echo "system calls per second (2 s of tracepoint counts):"
	awk -F, '$1 + 0 > 0 { sub("syscalls:sys_enter_", "", $3); printf "  %-16s %10.0f/s\n", $3, $1 / 2 }' \
		"$TMP/sys" | sort -k2 -nr
	echo
}

# per_txn KIND: KIND (rr or crr) for RR_N transactions through each stack,
# with perf stat counting the stack process's system calls and context
# switches over exactly that run; one line per stack: the client's figures,
# then the counts divided by RR_N.
TXN_EV=raw_syscalls:sys_enter,context-switches
per_txn() {
	perf stat -x, -e $TXN_EV -p $TAP -o "$TMP/vb.$1" -- \
		ip netns exec $G $PEER "$1" 10.0.2.2 9101 "$RR_N" >"$TMP/vb.$1.out" 2>&1
	# pasta's process runs the client after a pause, time for perf to attach;
	# perf stat -p ends when that process does
	ip netns exec $H pasta --runas 0 --config-net -4 -- sh -c \
		"sleep 1.5; $PEER $1 203.0.113.254 9101 $RR_N >$TMP/pa.$1.out 2>&1; sleep 0.3" \
		</dev/null >/dev/null 2>&1 & _pj=$!
	sleep 0.7
	# ip netns exec execs pasta: $_pj is pasta's own process
	perf stat -x, -e $TXN_EV -p "$_pj" -o "$TMP/pa.$1" >/dev/null 2>&1
	wait $_pj
	for _s in vb:voidbox pa:pasta; do
		printf '  %-5s %-8s %-42s' "$1" "${_s#*:}" "$(cat "$TMP/${_s%%:*}.$1.out" 2>/dev/null)"
		awk -F, -v n="$RR_N" '$1 + 0 > 0 { sub(/raw_syscalls:sys_enter/, "syscalls", $3); printf " %s %.1f", $3, $1 / n }' \
			"$TMP/${_s%%:*}.$1" 2>/dev/null
		echo
	done
}

T=$((SECS + 4))
{
	echo "# SLIRP profile: slirp-tap ${OFF:-without --offload}, MTU 65520, $(nproc) cores, $(uname -r)"
	echo
	profile "upload (iperf3 guest -> host)" iperf3 -c 10.0.2.2 -p 5201 -t $T -f g
	profile "download (iperf3 host -> guest)" iperf3 -c 10.0.2.2 -p 5201 -t $T -R -f g
	profile "CRR, quiet" $PEER crr 10.0.2.2 9101 "$CRR_N"
	echo "## per transaction, against pasta ($RR_N transactions each; counts of the stack's own process)"
	echo
	if command -v pasta >/dev/null; then
		per_txn rr
		per_txn crr
	else
		echo "  (pasta not installed: make deps)"
	fi
	echo
	burn
	profile "CRR, $BURN CPU-bound processes beside it" $PEER crr 10.0.2.2 9101 "$CRR_N"
	profile "upload, $BURN CPU-bound processes beside it" iperf3 -c 10.0.2.2 -p 5201 -t $T -f g
	unburn
} | tee "$TMP/report"
mkdir -p "$BENCH_RESULTS" && cp "$TMP/report" "$BENCH_RESULTS/slirp-profile.txt"
