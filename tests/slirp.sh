# The SLIRP stack under real Linux clients, without a VM: tests/tools/slirp-tap
# attaches it to a TAP device in a "guest" namespace while its host sockets
# live in a "host" namespace this test creates (so nothing touches the real
# host network); a third "server" namespace behind a veth pair holds
# non-loopback servers (198.51.100.2, and 203.0.113.2 which policy denies).
# Clients in the guest namespace: curl over HTTP and TLS, busybox nslookup
# and a TCP DNS query to a dnsmasq the test starts, busybox ping, iperf3,
# 1 GiB each way checked byte for byte, 1,000 sequential and 200 concurrent
# connections with the harness's fds and RSS watched, half-close, resets
# both ways, a reader that stalls (backpressure), port forwarding, policy
# refusals, DNS failover and upstream-down, the ARP reply's bytes as
# tshark dissects them, and a UDP flood under ulimit -n 512 that must leave
# the (stand-in) control socket and downloads working.
. tests/lib.sh

T=slirp
need_cmd $T ip || exit 0
need_cmd $T curl || exit 0
need_cmd $T openssl || exit 0
need_cmd $T dnsmasq || exit 0
need_cmd $T iperf3 || exit 0
need_cmd $T tshark || exit 0
need_cmd $T tcpdump || exit 0
need_cmd $T python3 || exit 0
need_cmd $T socat || exit 0
if [ "$(id -u)" != 0 ] || ! [ -c /dev/net/tun ]; then
	skip $T "needs root and /dev/net/tun for network namespaces and TAP"; exit 0
fi
BB=$(command -v busybox) || { skip $T "busybox not installed"; exit 0; }
# SLIRP_TAP may name another build of the harness (an ASan one, say).
TAPB=${SLIRP_TAP:-$TOOLS/slirp-tap} PEER=$TOOLS/slirp-peer
[ -x "$TAPB" ] && [ -x "$PEER" ] || { fail $T "build/tools/slirp-tap or slirp-peer missing"; exit 0; }

P=vb-slirp-$$
H=$P-h G=$P-g S=$P-s G2=$P-o G3=$P-f
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	for n in $G $G2 $G3 $S $H; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
inh() { ip netns exec "$H" "$@"; }
ing() { ip netns exec "$G" "$@"; }
ins() { ip netns exec "$S" "$@"; }
# bg NAME NS CMD...: starts CMD in namespace NS in the background (ip
# netns exec execs it, so $! is CMD itself), output to $TMP/NAME.out.
bg() { _n=$1; _ns=$2; shift 2; ip netns exec "$_ns" "$@" >"$TMP/$_n.out" 2>&1 & PIDS="$PIDS $!"; }
# wait_for FILE TEXT: bounded poll (10 s) for TEXT to appear in FILE.
wait_for() {
	_i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1)); [ $_i -gt 200 ] && return 1
		sleep 0.05
	done
}
# csum_errors NS: TCP+UDP+ICMP checksum errors the namespace's kernel saw
csum_errors() {
	ip netns exec "$1" cat /proc/net/snmp | awk '$1 ~ /^(Tcp|Udp|Icmp):$/ {
		if (!($1 in seen)) { seen[$1] = 1; for (i = 2; i <= NF; i++) if ($i == "InCsumErrors") col[$1] = i; next }
		if (col[$1]) sum += $(col[$1]) } END { print sum + 0 }'
}
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/stats"; }
# nonzero counters now (SIGUSR1 makes the harness write them), for FAIL lines
stats_now() { rm -f "$TMP/stats"; kill -USR1 $TAPPID; wait_file "$TMP/stats"; sleep 0.1; grep -v ' 0$' "$TMP/stats" | tr '\n' ' '; }

# --- topology -------------------------------------------------------------
ip netns add $H && ip netns add $G && ip netns add $S || { fail $T "cannot create namespaces"; exit 0; }
for n in $H $G $S; do ip -n $n link set lo up; done
ip -n $H link add vbs-h type veth peer name vbs-s netns $S
ip -n $H addr add 198.51.100.1/24 dev vbs-h; ip -n $H addr add 203.0.113.1/24 dev vbs-h
ip -n $S addr add 198.51.100.2/24 dev vbs-s; ip -n $S addr add 203.0.113.2/24 dev vbs-s
ip -n $H link set vbs-h up; ip -n $S link set vbs-s up
inh sysctl -qw net.ipv4.ping_group_range="0 2147483647"

# --- servers --------------------------------------------------------------
mkdir -p "$TMP/www"
$PEER gen 3M >"$TMP/www/blob"
WANT=$(sha256sum <"$TMP/www/blob" | cut -d' ' -f1)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=vb-slirp-ca -keyout "$TMP/ca.key" \
	-out "$TMP/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=vb-slirp -keyout "$TMP/srv.key" -out "$TMP/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:10.0.2.2,IP:198.51.100.2\n' >"$TMP/ext"
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
	-days 2 -extfile "$TMP/ext" -out "$TMP/srv.pem" 2>/dev/null
cd "$TMP/www" || exit 1
bg http-h $H python3 -m http.server --bind 127.0.0.1 8000
bg http-s $S python3 -m http.server --bind 0.0.0.0 8000
bg tls-h $H openssl s_server -quiet -WWW -accept 127.0.0.1:8443 -cert "$TMP/srv.pem" -key "$TMP/srv.key"
bg tls-s $S openssl s_server -quiet -WWW -accept 198.51.100.2:8443 -cert "$TMP/srv.pem" -key "$TMP/srv.key"
cd - >/dev/null || exit 1
bg dns $H dnsmasq -k --port 5353 --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
	--no-hosts --address=/test.vb/203.0.113.7 --pid-file="$TMP/dnsmasq.pid" --user=root
DNSPID=$!
bg iperf $H iperf3 -s -B 127.0.0.1 -p 5201
bg echo $H $PEER server 127.0.0.1 9001 echo
bg send64 $H $PEER server 127.0.0.1 9002 send:64M
bg rst $H $PEER server 127.0.0.1 9003 rst-after:1M
bg verify $H $PEER server 127.0.0.1 9004 verify
bg send1g $H $PEER server 127.0.0.1 9005 send:1G

# --- the harness ----------------------------------------------------------
bg tap $H $TAPB --netns /run/netns/$G --tap vbtap0 --mtu 65520 --allow-host-loopback \
	--dns 127.0.0.1:5399 --dns 127.0.0.1:5353 --deny-net 203.0.113.0/24 \
	-p 127.0.0.1:18080:8080 -p 127.0.0.1:17000:7000/udp --ready "$TMP/ready" --stats "$TMP/stats"
TAPPID=$!
wait_file "$TMP/ready" || { fail $T "harness not ready: $(cat "$TMP/tap.out")"; exit 0; }
[ "$(cat /proc/$TAPPID/comm 2>/dev/null)" = slirp-tap ] || { fail $T "harness pid $TAPPID is not slirp-tap"; exit 0; }
ip -n $G link set vbtap0 address 52:54:00:12:34:56 mtu 65520 up
ip -n $G addr add 10.0.2.15/24 dev vbtap0
ip -n $G route add default via 10.0.2.2
bg udp-h $H socat UDP4-RECVFROM:7001,bind=127.0.0.1,fork EXEC:cat
bg udp-s $S socat UDP4-RECVFROM:7001,bind=198.51.100.2,fork EXEC:cat
bg gecho $G $PEER server 0.0.0.0 8080 echo
bg gudp $G socat UDP4-RECVFROM:7000,fork EXEC:cat
for p in 8000:$H 8443:$H 5201:$H 9001:$H 9002:$H 9003:$H 9004:$H 9005:$H 8000:$S 8443:$S 8080:$G; do
	wait_port "${p#*:}" "${p%%:*}" || { fail $T "server on port ${p%%:*} did not start"; exit 0; }
done
wait_port $H 5353 u && wait_port $G 7000 u && wait_port $H 7001 u && wait_port $S 7001 u || { fail $T "dnsmasq or the UDP echo did not start"; exit 0; }

# --- ARP: bytes of the reply as tshark dissects them ------------------------
bg cap $G tcpdump -n -i vbtap0 -U -c 2 -w "$TMP/arp.pcap" arp
wait_for "$TMP/cap.out" "listening on" || fail slirp_arp_bytes "tcpdump did not start"
ing $BB arping -c 1 -w 2 -I vbtap0 10.0.2.77 >/dev/null 2>&1
wait_for "$TMP/cap.out" "2 packets captured"
got=$(tshark -r "$TMP/arp.pcap" -Y "arp.opcode == 2" -T fields -E separator=, -e frame.len \
	-e eth.dst -e eth.src -e eth.type -e arp.hw.type -e arp.proto.type -e arp.hw.size \
	-e arp.proto.size -e arp.opcode -e arp.src.hw_mac -e arp.src.proto_ipv4 \
	-e arp.dst.hw_mac -e arp.dst.proto_ipv4 2>/dev/null)
want="42,52:54:00:12:34:56,52:54:00:12:34:01,0x0806,1,0x0800,6,4,2,52:54:00:12:34:01,10.0.2.77,52:54:00:12:34:56,10.0.2.15"
[ "$got" = "$want" ] && pass slirp_arp_bytes || fail slirp_arp_bytes "tshark: '$got', want '$want'"

# --- ICMP, HTTP, TLS, DNS ---------------------------------------------------
check slirp_ping_gateway ing $BB ping -c 2 -W 3 10.0.2.2
check slirp_ping_remote ing $BB ping -c 2 -W 3 198.51.100.2
fetch() { # NAME URL [curl args]: the blob, byte for byte
	_n=$1; _u=$2; shift 2
	_h=$(ing curl -sS --max-time 20 "$@" "$_u" | sha256sum | cut -d' ' -f1)
	[ "$_h" = "$WANT" ] && pass "$_n" || fail "$_n" "sha256 of $_u differs"
}
fetch slirp_http_loopback http://10.0.2.2:8000/blob
fetch slirp_http_veth http://198.51.100.2:8000/blob
fetch slirp_tls_loopback https://10.0.2.2:8443/blob --cacert "$TMP/ca.pem"
fetch slirp_tls_veth https://198.51.100.2:8443/blob --cacert "$TMP/ca.pem"
out=$(ing timeout 10 $BB nslookup test.vb 10.0.2.3 2>&1)
case "$out" in *203.0.113.7*) pass slirp_dns_udp_failover ;; *) fail slirp_dns_udp_failover "$out" ;; esac
out=$(ing timeout 10 python3 -c '
import socket, struct
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x04test\x02vb\x00" + struct.pack(">HH", 1, 1)
s = socket.create_connection(("10.0.2.3", 53), timeout=5)
s.sendall(struct.pack(">H", len(q)) + q)
n = struct.unpack(">H", s.recv(2))[0]; r = b""
while len(r) < n: r += s.recv(n - len(r))
print(".".join(str(b) for b in r[-4:]))' 2>&1)
[ "$out" = 203.0.113.7 ] && pass slirp_dns_tcp || fail slirp_dns_tcp "$out"

for a in 10.0.2.2:loopback 198.51.100.2:veth; do
	out=$(echo vb-udp-nat | ing timeout 5 socat -T 3 - UDP4:${a%%:*}:7001 2>&1)
	[ "$out" = vb-udp-nat ] && pass "slirp_udp_${a#*:}" || fail "slirp_udp_${a#*:}" "got '$out'"
done

# --- iperf3, 1 GiB each way --------------------------------------------------
for dir in up down; do
	r=""; [ $dir = down ] && r=-R
	bps=$(ing timeout 30 iperf3 -c 10.0.2.2 -p 5201 -t 2 $r -J 2>/dev/null |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' 2>/dev/null)
	[ "${bps:-0}" -gt 0 ] && pass "slirp_iperf3_$dir" || fail "slirp_iperf3_$dir" "no result"
	echo "# iperf3 $dir: $((${bps:-0} / 1000000)) Mbit/s" >&2
done
start=$(date +%s)
ing timeout 120 $PEER send 10.0.2.2 9004 1G >"$TMP/up.out" 2>&1
wait_for "$TMP/verify.out" "after" 
grep -q "eof after 1073741824 ok" "$TMP/verify.out" && pass slirp_1g_upload ||
	fail slirp_1g_upload "$(cat "$TMP/up.out" "$TMP/verify.out" | tail -n 1)"
out=$(ing timeout 120 $PEER read 10.0.2.2 9005 2>&1)
[ "$out" = "eof after 1073741824 ok" ] && pass slirp_1g_download || fail slirp_1g_download "$out"
echo "# 1 GiB each way: $(($(date +%s) - start)) s" >&2
n=$(csum_errors $G)
[ "$n" = 0 ] && pass slirp_guest_checksums || fail slirp_guest_checksums "$n checksum errors in the namespace"

# --- many connections: no fd or memory growth in the harness -----------------
nfd() { ls /proc/$TAPPID/fd | wc -l; }
rss() { awk '/^VmRSS/ { print $2 }' /proc/$TAPPID/status; }
# settle: wait (bounded) until the harness's fd count stops changing
settle() { _a=$(nfd); for _ in $(seq 40); do sleep 0.1; _b=$(nfd); [ "$_a" = "$_b" ] && break; _a=$_b; done; echo "$_a"; }
ing $PEER conns 10.0.2.2 9001 50 50 >/dev/null 2>&1 # warm-up
fd0=$(settle); rss0=$(rss)
check slirp_1000_sequential ing timeout 60 $PEER conns 10.0.2.2 9001 1000 1
check slirp_200_concurrent ing timeout 60 $PEER conns 10.0.2.2 9001 200 200
fd1=$(settle); rss1=$(rss)
[ "$fd1" -le "$fd0" ] && pass slirp_no_fd_growth || fail slirp_no_fd_growth "fds $fd0 -> $fd1"
[ $((rss1 - rss0)) -lt 4096 ] && pass slirp_no_rss_growth || fail slirp_no_rss_growth "VmRSS $rss0 -> $rss1 kB"
check slirp_1000_concurrent ing timeout 60 $PEER conns 10.0.2.2 9001 2000 1000

# --- half-close, resets, backpressure ----------------------------------------
# conns above half-close every connection (guest FIN, host still sending);
# the downloads end with the host's FIN while the guest side is open.
check slirp_half_close ing $PEER conns 10.0.2.2 9001 3 3
ing $PEER rst 10.0.2.2 9001 >/dev/null 2>&1
wait_for "$TMP/echo.out" reset && pass slirp_rst_guest_to_host || fail slirp_rst_guest_to_host "server saw no reset"
out=$(ing timeout 20 $PEER read 10.0.2.2 9003 2>&1)
case "$out" in "reset after "*) pass slirp_rst_host_midstream ;; *) fail slirp_rst_host_midstream "$out; $(stats_now)" ;; esac
out=$(ing timeout 60 $PEER read 10.0.2.2 9002 2000 2>&1)
[ "$out" = "eof after 67108864 ok" ] && pass slirp_backpressure || fail slirp_backpressure "$out"

# --- policy ------------------------------------------------------------------
t0=$(date +%s)
ing curl -s --max-time 10 http://203.0.113.2:8000/blob >/dev/null; rc1=$?
ing curl -s --max-time 10 http://169.254.169.254/ >/dev/null; rc2=$?
[ $rc1 = 7 ] && [ $rc2 = 7 ] && [ $(($(date +%s) - t0)) -lt 5 ] && pass slirp_policy_refused ||
	fail slirp_policy_refused "curl exit $rc1/$rc2 (want 7: refused at once)"

# --- port forwarding -----------------------------------------------------------
out=$(inh timeout 20 $PEER conns 127.0.0.1 18080 20 5 2>&1) && pass slirp_fwd_tcp || fail slirp_fwd_tcp "'$out' $(stats_now)"
out=$(echo vb-udp | inh timeout 5 socat -T 3 - UDP4:127.0.0.1:17000 2>&1)
[ "$out" = vb-udp ] && pass slirp_fwd_udp || fail slirp_fwd_udp "got '$out'"

# --- checksum offload: virtio-net headers on a second harness's TAP ----------------
ip netns add $G2 && ip -n $G2 link set lo up
bg tap2 $H $TAPB --netns /run/netns/$G2 --tap vbtap1 --mtu 65520 --allow-host-loopback --offload \
	--dns 127.0.0.1:5353 --ready "$TMP/ready2" --stats "$TMP/stats2"
if wait_file "$TMP/ready2"; then
	ip -n $G2 link set vbtap1 address 52:54:00:12:34:56 mtu 65520 up
	ip -n $G2 addr add 10.0.2.15/24 dev vbtap1
	ip -n $G2 route add default via 10.0.2.2
	h=$(ip netns exec $G2 curl -sS --max-time 20 http://10.0.2.2:8000/blob | sha256sum | cut -d' ' -f1)
	d=$(ip netns exec $G2 timeout 60 $PEER read 10.0.2.2 9002 2>&1)
	ip netns exec $G2 timeout 60 $PEER send 10.0.2.2 9004 64M >/dev/null 2>&1
	wait_for "$TMP/verify.out" "eof after 67108864 ok"; u=$?
	q=$(ip netns exec $G2 timeout 10 $BB nslookup test.vb 10.0.2.3 2>&1)
	n=$(csum_errors $G2)
	case "$h/$d/$u/$n/$q" in
	"$WANT/eof after 67108864 ok/0/0/"*203.0.113.7*) pass slirp_offload ;;
	*) fail slirp_offload "http ${h%${h#????????}} down '$d' up $u csum errors $n dns '$(echo "$q" | tail -n 1)'" ;;
	esac
else
	fail slirp_offload "second harness not ready: $(cat "$TMP/tap2.out")"
fi

# --- a UDP flood under ulimit -n 512 (issue 13): a third harness with a
# stand-in control socket; after 3,000 flows the control socket answers, a
# download works, the budget said so once and recycled flows --------------------
ip netns add $G3 && ip -n $G3 link set lo up
(ulimit -n 512; exec ip netns exec $H $TAPB --netns /run/netns/$G3 --tap vbtap2 --mtu 1500 \
	--allow-host-loopback --control "$TMP/ctl.sock" --ready "$TMP/ready3" --stats "$TMP/stats3") \
	>"$TMP/tap3.out" 2>&1 &
TAP3=$!
PIDS="$PIDS $TAP3"
if wait_file "$TMP/ready3"; then
	ip -n $G3 link set vbtap2 address 52:54:00:12:34:56 up
	ip -n $G3 addr add 10.0.2.15/24 dev vbtap2
	ip -n $G3 route add default via 10.0.2.2
	ip netns exec $G3 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(20000, 23000):
    try: s.sendto(b"flood", ("10.0.2.2", p))
    except OSError: pass' 2>&1
	sleep 0.5
	c=$(timeout 5 socat - UNIX-CONNECT:"$TMP/ctl.sock" </dev/null 2>&1)
	h=$(ip netns exec $G3 curl -sS --max-time 20 http://10.0.2.2:8000/blob | sha256sum | cut -d' ' -f1)
	kill $TAP3; wait $TAP3 2>/dev/null
	ev=$(awk '$1 == "budget_udp_evicted" { print $2 }' "$TMP/stats3")
	lines=$(grep -c "reached its udp budget" "$TMP/tap3.out")
	case "$c/$h/$lines" in
	"ok/$WANT/1") [ "${ev:-0}" -gt 0 ] && pass slirp_udp_flood_budget || fail slirp_udp_flood_budget "no flows recycled" ;;
	*) fail slirp_udp_flood_budget "control '$c' download ${h%${h#????????}} budget lines $lines: $(tail -n 2 "$TMP/tap3.out")" ;;
	esac
else
	fail slirp_udp_flood_budget "third harness not ready: $(cat "$TMP/tap3.out")"
fi

# --- upstream DNS down: an error, not a hang --------------------------------------
kill $DNSPID; wait $DNSPID 2>/dev/null
t0=$(date +%s)
out=$(ing timeout 15 $BB nslookup down.vb 10.0.2.3 2>&1); rc=$?
dt=$(($(date +%s) - t0))
[ $rc != 0 ] && [ $rc != 124 ] && [ $dt -lt 5 ] && pass slirp_dns_upstream_down ||
	fail slirp_dns_upstream_down "rc $rc after ${dt}s: $(echo "$out" | tail -n 1)"

# --- counters ---------------------------------------------------------------------
kill $TAPPID; wait $TAPPID 2>/dev/null
if grep -q "Sanitizer" "$TMP/tap.out"; then fail slirp_harness_clean "$(grep -m1 Sanitizer "$TMP/tap.out")"; else pass slirp_harness_clean; fi
[ "$(stat_of dns_servfail)" -gt 0 ] 2>/dev/null && [ "$(stat_of dns_failovers)" -gt 0 ] &&
	[ "$(stat_of drop_policy)" -ge 2 ] && [ "$(stat_of drop_ipv6)" -gt 0 ] &&
	[ "$(stat_of tcp_rst_to_host)" -gt 0 ] && [ "$(stat_of arp_replies)" -gt 0 ] &&
	pass slirp_counters || fail slirp_counters "$(grep -v ' 0$' "$TMP/stats" 2>/dev/null | tr '\n' ' ')"
