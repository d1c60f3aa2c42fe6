# SLIRP (tests/tools/slirp-tap) against pasta and against the host's own
# loopback, in the same topology and the same run: a "host" namespace this
# script creates holds the servers on its 127.0.0.1 (iperf3, the slirp-peer
# echo server); the clients run in a namespace behind each stack (ours: a TAP
# device, MTU 65520, gateway 10.0.2.2 -> host loopback; pasta: --config-net,
# MTU 65520, its gateway -> host loopback) or, for the loopback column, in
# the host namespace itself against 127.0.0.1 (two host processes, no stack
# between them). Per round, stacks interleaved: iperf3 throughput both ways,
# 1-byte request/response p50/p99, connect-request-response p50 and
# connections/s. Medians of ROUNDS rounds.
# Two modes: quiet, and contended (BURN CPU-bound processes beside the
# load, the same for every stack). Both offload settings: OFFLOAD=1 runs the
# harness with --offload (virtio-net headers on its TAP, TCP/UDP checksums
# left to the kernel, as a virtio-net guest with checksum offload gets
# them), OFFLOAD=0 computes them; OFFLOADS="1 0" (the default) runs both,
# as bench/results/slirp-vs-pasta.md and slirp-vs-pasta-nooffload.md.
# Targets (issue 15): throughput >= 0.9x host loopback and >= 1.5x pasta;
# RR p50/p99 and CRR p50 <= 0.8x pasta's; connections/s >= 1.2x pasta's;
# contended: p99 and connections/s within 2x of the quiet figures and ahead
# of pasta's contended figures.
. tests/lib.sh
. bench/lib.sh

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-3}
RR_N=${RR_N:-3000}
CRR_N=${CRR_N:-1000}
BURN=${BURN:-5}
OFFLOADS=${OFFLOADS:-1 0}
for c in ip iperf3 pasta python3; do
	command -v $c >/dev/null || { bench_skip slirp-vs-pasta "$c not installed (make deps)"; exit 0; }
done
[ "$(id -u)" = 0 ] || { bench_skip slirp-vs-pasta "needs root (namespaces, TAP)"; exit 0; }
PEER=$TOOLS/slirp-peer TAPB=$TOOLS/slirp-tap
P=vb-slirp-bench-$$ H=$P-h G=$P-g
PIDS="" TAP="" BURNERS=""
cleanup() {
	for p in $BURNERS $TAP $PIDS; do kill "$p" 2>/dev/null; done
	for p in $BURNERS $TAP $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del $G 2>/dev/null; ip netns del $H 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# The host namespace: loopback servers, and a routable interface pasta needs.
ip netns add $H && ip netns add $G || { echo "FAIL slirp-vs-pasta: namespaces"; exit 1; }
ip -n $H link set lo up; ip -n $G link set lo up
bench_pasta_uplink $H
ip netns exec $H iperf3 -s -B 127.0.0.1 -p 5201 >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec $H $PEER server 127.0.0.1 9101 echo >/dev/null 2>&1 & PIDS="$PIDS $!"
wait_port $H 5201 && wait_port $H 9101 || { echo "FAIL slirp-vs-pasta: servers"; exit 1; }

# tap_start 0|1: (re)starts slirp-tap without or with --offload and
# configures the guest namespace's side of its TAP.
tap_start() {
	if [ -n "$TAP" ]; then kill "$TAP"; wait "$TAP" 2>/dev/null; fi
	_off=""; [ "$1" = 1 ] && _off=--offload
	rm -f "$TMP/ready"
	ip netns exec $H $TAPB --netns /run/netns/$G --tap vbtap0 --mtu 65520 --allow-host-loopback \
		$_off --ready "$TMP/ready" >/dev/null 2>&1 & TAP=$!
	wait_file "$TMP/ready" || return 1
	bench_slirp_guest $G vbtap0
}

# The client side of one round, run behind a stack with the address of the
# host's loopback as $1; prints "key value" lines.
cat >"$TMP/round.sh" <<EOF
gw=\$1
for dir in up down; do
	r=""; [ \$dir = down ] && r=-R
	bps=\$(iperf3 -c \$gw -p 5201 -t $SECS \$r -J 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])' 2>/dev/null)
	echo "tput_\$dir \${bps:-0}"
done
$PEER rr \$gw 9101 $RR_N | awk '{ print "rr_p50", \$2; print "rr_p99", \$4 }'
$PEER crr \$gw 9101 $CRR_N | awk '{ print "crr_p50", \$2; print "crr_per_s", \$6 }'
EOF

# rounds MODE: ROUNDS rounds of each stack, interleaved, into $TMP/STACK.MODE.
rounds() {
	: >"$TMP/vb.$1"; : >"$TMP/pasta.$1"; : >"$TMP/lo.$1"
	for _r in $(seq "$ROUNDS"); do
		ip netns exec $G sh "$TMP/round.sh" 10.0.2.2 >>"$TMP/vb.$1" 2>/dev/null
		ip netns exec $H timeout 300 pasta --runas 0 --config-net -4 -- sh "$TMP/round.sh" 203.0.113.254 \
			>>"$TMP/pasta.$1" 2>/dev/null </dev/null
		ip netns exec $H sh "$TMP/round.sh" 127.0.0.1 >>"$TMP/lo.$1" 2>/dev/null
	done
}

for off in $OFFLOADS; do
	name=slirp-vs-pasta; what="with --offload"
	[ "$off" = 1 ] || { name=slirp-vs-pasta-nooffload; what="without --offload (checksums computed)"; }
	tap_start "$off" || { echo "FAIL slirp-vs-pasta: slirp-tap set-up"; exit 1; }
	rounds quiet
	burn
	rounds busy
	unburn
	bench_begin "$name" "SLIRP against pasta and host loopback, $what" \
		"slirp-tap $what and pasta, both MTU 65520, against the same servers on a host namespace's loopback; host loopback runs the same clients in that namespace against 127.0.0.1. Medians of $ROUNDS rounds, stacks interleaved: iperf3 ${SECS}s each way, $RR_N 1-byte request/responses, $CRR_N connect-request-responses. Contended: the same with $BURN CPU-bound processes beside it."
	python3 bench/slirp-rows.py "$TMP" >"$TMP/rows"
	while IFS='	' read -r m u v pn pv tg; do
		if [ "$m" = note ]; then bench_note "$u"; else bench_row "$m" "$u" "$v" "$pn" "$pv" "$tg"; fi
	done <"$TMP/rows"
	bench_note "Where the time goes: bench/results/slirp-profile.txt (bench/slirp-profile.sh: perf record of slirp-tap per load, CPU split, system calls per second). Each byte is copied four times on this path (guest socket -> TAP frame -> slirp-tap -> host socket -> reader) against host loopback's two, and three processes share the two cores (guest client, slirp-tap, server) against loopback's two."
	[ -z "${NOTES:-}" ] || bench_note "$NOTES"
	bench_end
done
