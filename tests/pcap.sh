#!/bin/sh
# Integration tests of `voidbox pcap`. Captures are made here and now: a
# private network namespace whose loopback carries curl to python's
# http.server, DNS over UDP and TCP to a dnsmasq (port 5300), pings over
# IPv4 and IPv6, and UDP and TCP to closed ports (ICMP errors, resets);
# and ARP between a veth pair whose far end lives in a second namespace.
# voidbox's decoding is compared field by field with tshark's and line by
# line with tcpdump -n (and -e, -S); --stats, the filters and -c against tshark; then
# byte orders, stdin, -w copies, damaged files and bad usage.
. tests/lib.sh
CMP="python3 tests/pcap_compare.py"
DNSPORT=5300

for c in tshark tcpdump python3 unshare ip dnsmasq curl busybox; do
	if ! command -v "$c" >/dev/null 2>&1; then
		skip pcap "$c not installed (run make deps)"
		exit 0
	fi
done
if [ "$(id -u)" != 0 ]; then
	skip pcap "needs root for network namespaces and tcpdump"
	exit 0
fi
if ! unshare -n ip link add vbpcapchk0 type veth peer name vbpcapchk1 2>/dev/null; then
	skip pcap "cannot make a network namespace with a veth pair here (unshare -n, ip link add)"
	exit 0
fi

# wait_for FILE TEXT: bounded poll (10 s) until FILE contains TEXT.
cat >"$TMP/wait.sh" <<'SH'
wait_for() {
	_i=0
	while ! grep -aq "$2" "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt 200 ] && { echo "timed out waiting for '$2' in $1" >&2; return 1; }
		busybox usleep 50000
	done
}
# end_capture PCAP TCPDUMP_PID [ADDR]: sends a marker datagram to ADDR
# port 9 (or to itself over loopback), waits until tcpdump has written it
# (so every frame before it is in the file), then stops tcpdump.
end_capture() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0" if sys.argv[1:] else "127.0.0.1", 0))
s.sendto(b"vb-pcap-end-of-capture", (sys.argv[1], 9) if sys.argv[1:] else s.getsockname())
sys.argv[1:] or s.recv(100)' ${3:+"$3"}
	wait_for "$1" vb-pcap-end-of-capture || return 1
	kill -INT "$2"
	wait "$2"
}
SH

# The loopback capture, run inside `unshare -n` (a fresh namespace whose
# loopback only this test uses).
cat >"$TMP/lo.sh" <<'SH'
set -u
D=$1
. "$D/wait.sh"
PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done' EXIT
ip link set lo up
tcpdump -i lo --immediate-mode -U -s 0 -w "$D/lo.pcap" 2>"$D/tcpdump-lo.err" &
TP=$!
PIDS="$PIDS $TP"
wait_for "$D/tcpdump-lo.err" listening || exit 1
echo hello >"$D/index.html"
python3 -m http.server --bind 127.0.0.1 8000 --directory "$D" >"$D/http.log" 2>&1 &
HP=$!
PIDS="$PIDS $HP"
curl -sS --retry 50 --retry-connrefused --retry-delay 0 -o "$D/got.html" http://127.0.0.1:8000/index.html
dnsmasq --no-daemon --port=5300 --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
	--no-hosts --pid-file= --local=/test/ --address=/example.test/198.51.100.7 \
	--host-record=web.example.test,198.51.100.8,2001:db8::8 \
	--cname=alias.example.test,web.example.test --txt-record=txt.example.test,"hello world" \
	--mx-host=example.test,mail.example.test,10 \
	--srv-host=_http._tcp.example.test,web.example.test,80 2>"$D/dnsmasq.err" &
DP=$!
PIDS="$PIDS $DP"
wait_for "$D/dnsmasq.err" started || exit 1
python3 - <<'PY'
import socket, struct
def q(name, qtype, qid):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for i, (n, t) in enumerate([("example.test", 1), ("web.example.test", 28), ("alias.example.test", 1),
                            ("txt.example.test", 16), ("example.test", 15),
                            ("_http._tcp.example.test", 33), ("nope.test", 1)]):
    s.sendto(q(n, t, 0x1000 + i), ("127.0.0.1", 5300))
    s.recv(4096)
t = socket.create_connection(("127.0.0.1", 5300), timeout=5)
m = q("web.example.test", 1, 0x2000)
t.sendall(struct.pack(">H", len(m)) + m)
n = struct.unpack(">H", t.recv(2))[0]
got = b""
while len(got) < n:
    got += t.recv(n - len(got))
t.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"x", ("127.0.0.1", 9))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u6.sendto(b"y", ("::1", 9))
PY
busybox ping -c 2 -W 5 127.0.0.1 >/dev/null
busybox ping -c 1 -W 5 ::1 >/dev/null
curl -s http://127.0.0.1:9/
curl -s 'http://[::1]:9/'
kill "$HP" "$DP"
end_capture "$D/lo.pcap" "$TP"
SH

# The ARP capture: a veth pair from this namespace to vb-pcap-arp-PID.
NS=vb-pcap-arp-$$
cat >"$TMP/arp.sh" <<'SH'
set -u
D=$1 NS=$2
. "$D/wait.sh"
PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done' EXIT
ip netns add "$NS" || exit 1
ip link add vbpcap0 type veth peer name vbpcap1 || exit 1
ip link set vbpcap1 netns "$NS"
ip addr add 198.51.100.1/24 dev vbpcap0
ip link set vbpcap0 up
ip netns exec "$NS" ip addr add 198.51.100.2/24 dev vbpcap1
ip netns exec "$NS" ip link set vbpcap1 up
tcpdump -i vbpcap0 --immediate-mode -U -s 0 -w "$D/arp.pcap" 2>"$D/tcpdump-arp.err" &
TP=$!
PIDS="$PIDS $TP"
wait_for "$D/tcpdump-arp.err" listening || exit 1
busybox arping -c 2 -w 5 -I vbpcap0 198.51.100.2 >/dev/null
busybox ping -c 1 -W 5 198.51.100.2 >/dev/null
end_capture "$D/arp.pcap" "$TP" 198.51.100.2
ip netns del "$NS"
SH
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT

if ! timeout 90 unshare -n sh "$TMP/lo.sh" "$TMP" >"$TMP/lo.out" 2>&1 || [ ! -s "$TMP/lo.pcap" ] ||
	! grep -q hello "$TMP/got.html"; then
	fail pcap_capture_lo "capture failed: $(tail -n 2 "$TMP/lo.out" "$TMP/dnsmasq.err" 2>/dev/null | tr '\n' ' ')"
	exit 1
fi
if ! timeout 60 unshare -n sh "$TMP/arp.sh" "$TMP" "$NS" >"$TMP/arp.out" 2>&1 || [ ! -s "$TMP/arp.pcap" ]; then
	fail pcap_capture_arp "capture failed: $(tail -n 2 "$TMP/arp.out" | tr '\n' ' ')"
	exit 1
fi
LO=$TMP/lo.pcap ARP=$TMP/arp.pcap

# what the captures must contain for the comparisons to mean something
content() {
	"$VOIDBOX" pcap --dns-port $DNSPORT "$LO" >"$TMP/lo.txt" && "$VOIDBOX" pcap "$ARP" >"$TMP/arp.txt" ||
		return 1
	for p in 'Flags \[S\]' 'Flags \[R\.\]' 'CNAME web\.example\.test\., A 198\.51\.100\.8' \
		'NXDomain' 'AAAA 2001:db8::8' 'udp port 9 unreachable' 'ICMP6, echo reply' \
		'length [0-9]* [0-9]*\* q: A? web\.example\.test\.' 'ICMP echo reply'; do
		grep -q "$p" "$TMP/lo.txt" || { echo "no '$p' in the loopback capture"; return 1; }
	done
	for p in 'ARP, Request who-has 198\.51\.100\.2' 'ARP, Reply 198\.51\.100\.2 is-at'; do
		grep -q "$p" "$TMP/arp.txt" || { echo "no '$p' in the ARP capture"; return 1; }
	done
}
check pcap_capture_content content

check pcap_tshark_fields_lo $CMP decode "$VOIDBOX" "$LO" $DNSPORT
check pcap_tshark_fields_arp $CMP decode "$VOIDBOX" "$ARP"

# line for line as tcpdump -n prints them, with -e and with -S too (DNS on
# 5300 stays undecoded in both); retrans.pcap has a SYN and a data segment
# twice
$CMP rewrite "$LO" "$TMP/retrans.pcap" retrans
for f in lo arp retrans; do
	for e in "" -e -S; do
		TZ=UTC tcpdump -n $e -r "$TMP/$f.pcap" >"$TMP/$f.tcpdump" 2>/dev/null
		TZ=UTC "$VOIDBOX" pcap $e "$TMP/$f.pcap" >"$TMP/$f.voidbox"
		if [ -s "$TMP/$f.tcpdump" ] && cmp -s "$TMP/$f.tcpdump" "$TMP/$f.voidbox"; then
			pass pcap_tcpdump_lines_$f$e
		else
			fail pcap_tcpdump_lines_$f$e "$(diff "$TMP/$f.tcpdump" "$TMP/$f.voidbox" | head -n 3 | tr '\n' ' ')"
		fi
	done
done

check pcap_tshark_stats_lo $CMP stats "$VOIDBOX" "$LO"
check pcap_tshark_stats_retransmissions sh -c "
	$CMP stats $VOIDBOX $TMP/retrans.pcap &&
	$VOIDBOX pcap --stats $TMP/retrans.pcap | grep -q 'retransmissions [1-9]'"
check pcap_tshark_filters_lo $CMP filter "$VOIDBOX" "$LO" $DNSPORT
check pcap_tshark_filters_arp $CMP filter "$VOIDBOX" "$ARP" $DNSPORT

# both byte orders and both resolutions decode to the same lines
byte_orders() {
	"$VOIDBOX" pcap --time epoch "$LO" >"$TMP/le" || return 1
	for h in be nsec be-nsec; do
		$CMP rewrite "$LO" "$TMP/$h.pcap" $h || return 1
		"$VOIDBOX" pcap --time epoch "$TMP/$h.pcap" >"$TMP/$h.out" || return 1
		case $h in *nsec) grep -qv '^[0-9]*\.[0-9]\{9\} ' "$TMP/$h.out" && { echo "$h: not 9 digits"; return 1; }
			sed -i 's/^\([0-9]*\.[0-9]*\)000 /\1 /' "$TMP/$h.out" ;;
		esac
		cmp "$TMP/le" "$TMP/$h.out" || { echo "$h decodes differently"; return 1; }
		[ "$(tshark -r "$TMP/$h.pcap" 2>/dev/null | wc -l)" = "$(wc -l <"$TMP/le")" ] ||
			{ echo "$h: tshark counts differ"; return 1; }
	done
}
check pcap_byte_orders_and_nsec byte_orders

stdin_same() {
	"$VOIDBOX" pcap "$LO" >"$TMP/file.out" &&
	"$VOIDBOX" pcap - <"$LO" >"$TMP/stdin.out" && cmp "$TMP/file.out" "$TMP/stdin.out" &&
	cat "$LO" | "$VOIDBOX" pcap --stats - >"$TMP/pipe.out" &&
	"$VOIDBOX" pcap --stats "$LO" | cmp - "$TMP/pipe.out"
}
check pcap_stdin stdin_same

# -w: a copy of tcpdump's file is byte for byte the same; a filtered copy
# is what tshark's filter selects and decodes the same; a damaged file
# gives up its good frames; big-endian nanoseconds come out little-endian
# nanoseconds that decode the same.
write_copies() {
	for f in "$LO" "$ARP"; do
		"$VOIDBOX" pcap -w "$TMP/copy.pcap" "$f" && cmp "$f" "$TMP/copy.pcap" || return 1
	done
	"$VOIDBOX" pcap --proto dns --dns-port $DNSPORT -w "$TMP/dns.pcap" "$LO" || return 1
	[ -z "$(capinfos "$TMP/dns.pcap" 2>&1 >/dev/null)" ] || { echo "capinfos complains"; return 1; }
	_want=$(tshark -n -r "$LO" -d udp.port==$DNSPORT,dns -d tcp.port==$DNSPORT,dns -Y dns 2>/dev/null | wc -l)
	_got=$(tshark -n -r "$TMP/dns.pcap" 2>/dev/null | wc -l)
	[ "$_want" -gt 10 ] && [ "$_want" = "$_got" ] || { echo "dns frames: $_got, tshark -Y: $_want"; return 1; }
	$CMP decode "$VOIDBOX" "$TMP/dns.pcap" $DNSPORT >/dev/null || { echo "filtered copy decodes differently"; return 1; }
	"$VOIDBOX" pcap --time epoch "$TMP/be-nsec.pcap" >"$TMP/be-nsec.direct" || return 1
	"$VOIDBOX" pcap -w - "$TMP/be-nsec.pcap" | "$VOIDBOX" pcap --time epoch - | cmp - "$TMP/be-nsec.direct" ||
		{ echo "be-nsec copy differs"; return 1; }
	"$VOIDBOX" pcap -w "$TMP/salvaged.pcap" "$TMP/cut.pcap" 2>/dev/null && { echo "damaged input: exit 0"; return 1; }
	[ "$(tshark -r "$TMP/salvaged.pcap" 2>&1 | grep -vc 'Running as user')" = $((N - 1)) ] ||
		{ echo "salvaged frames"; return 1; }
	cp "$LO" "$TMP/self.pcap"
	"$VOIDBOX" pcap -w "$TMP/self.pcap" "$TMP/self.pcap" 2>"$TMP/self.err" && { echo "overwrote input"; return 1; }
	grep -q 'would overwrite the capture being read' "$TMP/self.err" && cmp "$LO" "$TMP/self.pcap"
}

# bad_file NAME FILE RC REGEX [FRAMES]: voidbox pcap FILE exits RC with one
# line on stderr matching REGEX, after printing FRAMES lines.
bad_file() {
	_n=$1 _f=$2 _rc=$3 _re=$4 _frames=${5:-0}
	"$VOIDBOX" pcap "$_f" >"$TMP/bad.out" 2>"$TMP/bad.err"
	_got=$?
	if [ $_got -ne "$_rc" ] || [ "$(wc -l <"$TMP/bad.err")" -ne 1 ] ||
		! grep -Eq "^voidbox pcap: .*$_re" "$TMP/bad.err" ||
		[ "$(wc -l <"$TMP/bad.out")" -ne "$_frames" ]; then
		fail "pcap_bad_$_n" "rc $_got, $(wc -l <"$TMP/bad.out") frames, stderr: $(head -c 200 "$TMP/bad.err" | tr '\n' '|')"
	else
		pass "pcap_bad_$_n"
	fi
}
N=$(wc -l <"$TMP/file.out")
SIZE=$(wc -c <"$LO")
: >"$TMP/empty.pcap"
bad_file empty "$TMP/empty.pcap" 1 'empty file: no pcap header'
head -c 10 "$LO" >"$TMP/short.pcap"
bad_file short_header "$TMP/short.pcap" 1 'truncated file header: 10 of 24 bytes'
printf 'GIF89a-not-a-capture-at-all' >"$TMP/gif.pcap"
bad_file magic "$TMP/gif.pcap" 1 'not a pcap file: bad magic 0x47494638'
printf '\n\r\r\n\034\000\000\000M<+\032' >"$TMP/ng.pcap"
bad_file pcapng "$TMP/ng.pcap" 1 'pcapng is not supported'
head -c $((SIZE - 5)) "$LO" >"$TMP/cut.pcap"
bad_file truncated_frame "$TMP/cut.pcap" 1 "frame $N: truncated: caplen [0-9]+ but only [0-9]+ bytes left" $((N - 1))
python3 -c "
import sys; b = open('$LO', 'rb').read(); off = 24
for i in range(3): off += 16 + int.from_bytes(b[off + 8:off + 12], 'little')
open('$TMP/cuthdr.pcap', 'wb').write(b[:off + 7])"
bad_file truncated_record_header "$TMP/cuthdr.pcap" 1 'frame 4: truncated record header: 7 of 16 bytes' 3
$CMP rewrite "$LO" "$TMP/huge.pcap" hugecap 5
bad_file huge_caplen "$TMP/huge.pcap" 1 'frame 5: caplen 4294967295 exceeds the 262144-byte limit' 4
$CMP rewrite "$LO" "$TMP/snap.pcap" snaplen 70
bad_file caplen_over_snaplen "$TMP/snap.pcap" 1 "frame 1: caplen 74 exceeds the file's snaplen 70"
bad_file missing "$TMP/nonexistent.pcap" 1 'nonexistent.pcap: No such file or directory'
bad_file directory "$TMP" 1 'Is a directory'
$CMP rewrite "$LO" "$TMP/zero.pcap" zero
zero_len() {
	"$VOIDBOX" pcap "$TMP/zero.pcap" >"$TMP/zero.out" 2>&1 &&
	sed -n 2p "$TMP/zero.out" | grep -q '\[empty frame: 0 bytes captured\], length 0$' &&
	[ "$(wc -l <"$TMP/zero.out")" -eq $((N + 1)) ] &&
	[ "$(tshark -r "$TMP/zero.pcap" 2>/dev/null | wc -l)" -eq $((N + 1)) ]
}
check pcap_zero_length_frame zero_len
check pcap_write_copies write_copies
check pcap_damaged_files_fuzz $CMP fuzz "$VOIDBOX" "$LO" 1000

usage() {
	"$VOIDBOX" pcap --help | grep -q '^usage: voidbox pcap' || { echo "--help"; return 1; }
	for args in "" "--proto ftp $LO" "--port 70000 $LO" "--host nothost $LO" "-c 0 $LO" \
		"--time mars $LO" "--bogus $LO" "$LO $LO" "-c"; do
		# shellcheck disable=SC2086
		"$VOIDBOX" pcap $args >"$TMP/u.out" 2>"$TMP/u.err"
		_rc=$?
		[ $_rc -eq 2 ] && [ "$(wc -l <"$TMP/u.err")" -eq 1 ] && [ ! -s "$TMP/u.out" ] &&
			grep -q '^voidbox pcap: ' "$TMP/u.err" || { echo "'$args': rc $_rc $(cat "$TMP/u.err")"; return 1; }
	done
	# the link name dispatches too
	[ "$("$B/pcap" -c 1 "$LO")" = "$(head -n 1 "$TMP/file.out")" ] || { echo "link name"; return 1; }
}
check pcap_usage usage
