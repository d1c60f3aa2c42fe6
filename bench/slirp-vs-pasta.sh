# SLIRP (tests/tools/slirp-tap) against pasta in the same topology and the
# same run: a "host" namespace this script creates holds the servers on its
# 127.0.0.1 (iperf3, the slirp-peer echo server); the clients run in a
# namespace behind each stack (ours: a TAP device, MTU 65520, gateway
# 10.0.2.2 -> host loopback; pasta: --config-net, MTU 65520, its gateway ->
# host loopback). Measured per round, rounds interleaved: iperf3 throughput
# both ways, 1-byte request/response p50/p99, connect-request-response p50
# and connections/s. Prints medians and the ratios voidbox/pasta.
# OFFLOAD=1 (the default) runs the harness with --offload: virtio-net
# headers on its TAP, TCP/UDP checksums left to the kernel, as a virtio-net
# guest with checksum offload would get them; OFFLOAD=0 computes them.
# Targets: throughput >= pasta's, CRR p50 within 1.5x of pasta's.
. tests/lib.sh

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-3}
RR_N=${RR_N:-3000}
CRR_N=${CRR_N:-1000}
OFFLOAD=${OFFLOAD:-1}
OFF=""; [ "$OFFLOAD" = 1 ] && OFF=--offload
for c in ip iperf3 pasta python3; do
	command -v $c >/dev/null || { echo "SKIP slirp-vs-pasta: $c not installed"; exit 0; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP slirp-vs-pasta: needs root (namespaces, TAP)"; exit 0; }
PEER=$TOOLS/slirp-peer TAPB=$TOOLS/slirp-tap
P=vb-slirp-bench-$$ H=$P-h G=$P-g
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del $G 2>/dev/null; ip netns del $H 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# The host namespace: loopback servers, and a routable interface pasta needs.
ip netns add $H && ip netns add $G || { echo "FAIL slirp-vs-pasta: namespaces"; exit 1; }
ip -n $H link set lo up; ip -n $G link set lo up
ip -n $H link add vbs-a type veth peer name vbs-b
ip -n $H addr add 203.0.113.1/24 dev vbs-a
ip -n $H link set vbs-a up; ip -n $H link set vbs-b up
ip -n $H route add default via 203.0.113.254
ip netns exec $H iperf3 -s -B 127.0.0.1 -p 5201 >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec $H $PEER server 127.0.0.1 9101 echo >/dev/null 2>&1 & PIDS="$PIDS $!"
ip netns exec $H $TAPB --netns /run/netns/$G --tap vbtap0 --mtu 65520 --allow-host-loopback $OFF \
	--ready "$TMP/ready" --stats "$TMP/stats" >/dev/null 2>&1 & PIDS="$PIDS $!"
wait_file "$TMP/ready" && wait_port $H 5201 && wait_port $H 9101 || { echo "FAIL slirp-vs-pasta: set-up"; exit 1; }
ip -n $G link set vbtap0 address 52:54:00:12:34:56 mtu 65520 up
ip -n $G addr add 10.0.2.15/24 dev vbtap0
ip -n $G route add default via 10.0.2.2

# The client side of one round, run inside either stack's namespace with
# the gateway address as $1; prints "key value" lines.
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
: >"$TMP/vb.txt"; : >"$TMP/pasta.txt"
for r in $(seq "$ROUNDS"); do
	ip netns exec $G sh "$TMP/round.sh" 10.0.2.2 >>"$TMP/vb.txt" 2>/dev/null
	ip netns exec $H timeout 120 pasta --runas 0 --config-net -4 -- sh "$TMP/round.sh" 203.0.113.254 \
		>>"$TMP/pasta.txt" 2>/dev/null </dev/null
done

echo "slirp-tap ${OFF:-without --offload}, MTU 65520 both; $ROUNDS rounds of iperf3 ${SECS}s each way, $RR_N RR, $CRR_N CRR"
python3 - "$TMP/vb.txt" "$TMP/pasta.txt" "$ROUNDS" <<'EOF'
import statistics, sys
def load(p):
    d = {}
    for line in open(p):
        k, v = line.split()
        d.setdefault(k, []).append(float(v))
    return {k: statistics.median(v) for k, v in d.items()}
vb, pa = load(sys.argv[1]), load(sys.argv[2])
rows = [("tput_up", "iperf3 -> host, Gbit/s", 1e9, True), ("tput_down", "iperf3 <- host, Gbit/s", 1e9, True),
        ("rr_p50", "1-byte RR p50, us", 1, False), ("rr_p99", "1-byte RR p99, us", 1, False),
        ("crr_p50", "CRR p50, us", 1, False), ("crr_per_s", "connections/s", 1, True)]
print(f"medians of {sys.argv[3]} rounds        voidbox      pasta   voidbox/pasta")
for k, name, div, _ in rows:
    a, b = vb.get(k, 0) / div, pa.get(k, 0) / div
    print(f"{name:28s} {a:10.2f} {b:10.2f}   {a / b if b else float('nan'):8.2f}x")
ok_t = all(vb.get(k, 0) >= pa.get(k, 1) for k in ("tput_up", "tput_down"))
ok_c = vb.get("crr_p50", 1e9) <= 1.5 * pa.get("crr_p50", 0)
print("target throughput >= pasta:", "met" if ok_t else "NOT met")
print("target CRR p50 within 1.5x:", "met" if ok_c else "NOT met")
EOF
