#!/bin/sh
# Networking end to end in a real guest: `voidbox run --vmm "$VMM"` boots
# Debian's kernel under TCG with the virtio-net back end served over
# vhost-user and the SLIRP stack behind it. Real clients in the guest
# (busybox wget/nc/nslookup, Debian's curl) talk to servers this test starts
# on the host's loopback (reached as 10.0.2.2 with --allow-host-loopback) and
# on a veth address in network namespaces the test creates. Three boots,
# each serving many checks:
#   1. default layout, uid 1000: VERSION_1 negotiated, eth0 configured after
#      the module loaded, no IPv6, HTTP/TLS/nc, DNS through 10.0.2.3 to a
#      dnsmasq behind a dead first upstream (failover), port forwarding with the
#      guest idle in read (interrupts delivered), --pcap checked with tshark
#      (ARP reply bytes).
#   2. inside a namespace, root, overridden layout (MTU 1400): NAT to a
#      non-loopback server, 256 MiB each way sha256-equal (>70,000 frames
#      each way, --net-stats), --deny-net refusal, upstream DNS down -> an
#      error not a hang, IPv6 frames counted by SLIRP.
#   3. --net none: only lo.
# Plus bad flags (no boot).
. tests/lib.sh
P=vb-net-$$

need_guest net || exit 0
for c in qemu-system-x86_64 tshark capinfos socat dnsmasq openssl python3 ip; do
	need_cmd net "$c" || exit 0
done
[ -x "$TOOLS/vnet-raw" ] || { skip net "$TOOLS/vnet-raw not built"; exit 0; }
[ -x /usr/bin/curl ] || { skip net "/usr/bin/curl missing"; exit 0; }

PIDS=""
NETNS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for n in $NETNS; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# free_port: a TCP port nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# bg CMD...: starts CMD in the background and remembers its PID.
bg() { "$@" & PIDS="$PIDS $!"; }
# wait_listen PORT [NETNS]: bounded poll until something listens on PORT.
wait_listen() {
	_i=0
	while [ $_i -lt 200 ]; do
		if [ -n "${2:-}" ]; then
			ip netns exec "$2" ss -ltnH "sport = :$1" | grep -q . && return 0
		else
			ss -ltnH "sport = :$1" | grep -q . && return 0
		fi
		_i=$((_i + 1)); sleep 0.05
	done
	return 1
}
# field FILE KEY: the rest of the first line "KEY ..." the guest printed.
field() { sed -n "s/^$2 //p" "$1" | tr -d '\r' | head -n 1; }

# vm NAME LIMIT [NS=netns] [run options] -- SCRIPT: runs SCRIPT (a file) in a
# guest with `voidbox run --vmm "$VMM"` (inside network namespace netns when
# given); the guest's output goes to $TMP/NAME.out, run's stderr (console,
# --net-stats counters) to $TMP/NAME.err. Returns run's exit status.
vm() {
	_n=$1 _lim=$2; shift 2
	_ns=""
	case "${1:-}" in NS=*) _ns=${1#NS=}; shift ;; esac
	_opts=""
	while [ "$1" != -- ]; do _opts="$_opts $1"; shift; done
	# shellcheck disable=SC2086
	timeout "$_lim" ${_ns:+ip netns exec "$_ns"} "$VOIDBOX" run --vmm "$VMM" --kernel "$GUEST_DIR/vmlinuz" --initrd "$IMG" \
		$_opts -- sh -c "$(cat "$2")" >"$TMP/$_n.out" 2>"$TMP/$_n.err" </dev/null
}

# --- bad flags: one line, non-zero, no boot --------------------------------
for bad in "--net bogus" "--mtu 70000" "--guest-ip 10.0.2.300" "--dns x.y" "-p 99999:80" \
	"--allow-net 10.0.0.0/33" "--mac 01:00:00:00:00:01" "--net none --pcap $TMP/x.pcap"; do
	# shellcheck disable=SC2086
	out=$(timeout 20 "$VOIDBOX" run --vmm "$VMM" $bad -- true 2>&1); rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
		printf '%s' "$out" | grep -q "^voidbox run: "; then
		pass "net_bad_flag ${bad%% *}"
	else
		fail "net_bad_flag ${bad%% *}" "rc $rc: $out"
	fi
done

# --- the guest image: busybox, curl, the raw-frame tool, the test CA --------
mkdir -p "$TMP/www" "$TMP/ca"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vb-net test CA" \
	-keyout "$TMP/ca/ca.key" -out "$TMP/ca/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=10.0.2.2" -keyout "$TMP/ca/srv.key" \
	-out "$TMP/ca/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:10.0.2.2,IP:127.0.0.1\n' >"$TMP/ca/ext"
openssl x509 -req -in "$TMP/ca/srv.csr" -CA "$TMP/ca/ca.pem" -CAkey "$TMP/ca/ca.key" \
	-CAcreateserial -days 2 -extfile "$TMP/ca/ext" -out "$TMP/ca/srv.pem" 2>/dev/null
IMG=$TMP/img.gz
if ! out=$("$VOIDBOX" mkinitramfs -k "$GUEST_DIR/vmlinuz" -B "$GUEST_DIR/busybox" \
	-b /usr/bin/curl -a "$TOOLS/vnet-raw:/bin/vnet-raw:0755" \
	-a "$TMP/ca/ca.pem:/etc/vbtest/ca.pem:0644" -o "$IMG" 2>&1); then
	fail net_image "$out"; exit 0
fi

# --- host servers on loopback -------------------------------------------------
echo "hello over http" >"$TMP/www/small.txt"
head -c 268435456 /dev/urandom >"$TMP/www/big"
BIG_SHA=$(sha256sum <"$TMP/www/big" | cut -d' ' -f1)
HTTP=$(free_port); bg busybox httpd -f -p "127.0.0.1:$HTTP" -h "$TMP/www"
TLS=$(free_port)
(cd "$TMP/www" && exec openssl s_server -quiet -accept "127.0.0.1:$TLS" -cert "$TMP/ca/srv.pem" \
	-key "$TMP/ca/srv.key" -WWW) >/dev/null 2>&1 &
PIDS="$PIDS $!"
ECHO=$(free_port); bg socat "TCP-LISTEN:$ECHO,bind=127.0.0.1,reuseaddr,fork" EXEC:cat
DNS=$(free_port)
bg dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 \
	--port="$DNS" --address=/vbnet.test/198.51.100.77 --pid-file= --user=root 2>/dev/null
CTRL=$(free_port)
(socat -u "TCP-LISTEN:$CTRL,bind=127.0.0.1,reuseaddr" "OPEN:$TMP/ready,creat") &
PIDS="$PIDS $!"
FWD=$(free_port)
for p in $HTTP $TLS $ECHO $CTRL; do
	wait_listen "$p" || { fail net_servers "nothing listens on $p"; exit 0; }
done

# --- boot 1 ---------------------------------------------------------------------
cat >"$TMP/g1.sh" <<EOF
echo "UID \$(id -u)"
for d in /sys/bus/virtio/devices/*; do echo "VDEV \$(cat \$d/device) \$(cat \$d/features)"; done
echo "IF6 \$(ls /proc/net/if_inet6 /proc/sys/net/ipv6 2>/dev/null | wc -l)"
echo "ADDR \$(ip -4 addr show eth0 | grep -o 'inet [0-9./]*')"
echo "LINK \$(ip link show eth0 | grep -o '<[^>]*>') \$(cat /sys/class/net/eth0/operstate)"
echo "ROUTE \$(ip route | grep '^default')"
echo "LO \$(cat /sys/class/net/lo/operstate) \$(ip -4 addr show lo | grep -o 'inet [0-9./]*')"
echo "RESOLV \$(grep nameserver /etc/resolv.conf)"
echo "HOSTS \$(grep -c 10.0.2.15 /etc/hosts)"
echo "HTTP \$(wget -q -O - http://10.0.2.2:$HTTP/small.txt 2>&1)"
echo "TLS \$(curl -sS --max-time 60 --cacert /etc/vbtest/ca.pem https://10.0.2.2:$TLS/small.txt 2>&1)"
echo "CURLHTTP \$(curl -sS --max-time 60 http://10.0.2.2:$HTTP/small.txt 2>&1)"
echo "DNS \$(nslookup vbnet.test 10.0.2.3 2>&1 | sed -n '/^Name:/,\$p' | grep -o '198\.51\.100\.[0-9]*' | head -n 1)"
echo "NC \$(echo nc-echo | nc -w 20 10.0.2.2 $ECHO)"
nc -l -p 8080 >/tmp/fwd &
i=0; while ! netstat -ltn | grep -q ':8080 '; do i=\$((i+1)); [ \$i -gt 100000 ] && break; done
irq0=\$(awk '/virtio/ { s += \$2 } END { print s }' /proc/interrupts)
echo ready | nc -w 20 10.0.2.2 $CTRL
wait
echo "FWD \$(cat /tmp/fwd)"
echo "IRQ \$irq0 \$(awk '/virtio/ { s += \$2 } END { print s }' /proc/interrupts)"
EOF
(
	i=0
	while [ $i -lt 3000 ] && ! grep -q ready "$TMP/ready" 2>/dev/null; do i=$((i + 1)); sleep 0.1; done
	printf 'forwarded-into-guest\n' | socat -u - "TCP:127.0.0.1:$FWD"
) &
PIDS="$PIDS $!"
start=$(date +%s)
# The first upstream resolver is dead (nothing listens): SLIRP fails over.
DEAD=$(free_port)
vm b1 300 --console --allow-host-loopback --dns "127.0.0.1:$DEAD" --dns "127.0.0.1:$DNS" \
	-p "127.0.0.1:$FWD:8080" \
	--pcap "$TMP/cap.pcap" --net-stats -- "$TMP/g1.sh"
rc=$?
echo "# boot 1: rc $rc in $(($(date +%s) - start)) s" >&2
O=$TMP/b1.out
[ $rc -eq 0 ] && pass net_boot1 || fail net_boot1 "rc $rc: $(grep -v '^net ' "$TMP/b1.err" | tail -n 3 | tr '\n' ' ')"
# The agent configured eth0 once virtio_net was loaded and eth0 existed
# (it reports a missing interface instead), with the layout run passed.
grep -q '^voidbox-agent: net: eth0 10.0.2.15/24 via 10.0.2.2 mtu 65520' "$TMP/b1.err" &&
	pass net_agent_after_module || fail net_agent_after_module "no agent net line on the console"
# The agent starts the command only once eth0 is running: no NO-CARRIER.
[ "$(field $O LINK)" = "<BROADCAST,MULTICAST,UP,LOWER_UP> up" ] && pass net_link_up_before_cmd ||
	fail net_link_up_before_cmd "eth0 as the command saw it: '$(field $O LINK)'"
grep -q '^voidbox-agent: net: eth0: link up after [0-9]* ms' "$TMP/b1.err" &&
	pass net_agent_link_line || fail net_agent_link_line "$(grep 'voidbox-agent: net' "$TMP/b1.err")"
[ "$(field $O UID)" = 1000 ] && pass net_uid_1000 || fail net_uid_1000 "uid '$(field $O UID)'"
# VERSION_1 is feature bit 32: character 33 of the sysfs feature string.
f=$(sed -n 's/^VDEV 0x0001 //p' $O | head -n 1)
[ "$(printf '%s' "$f" | cut -c33)" = 1 ] && pass net_version_1 || fail net_version_1 "net features '$f'"
[ "$(field $O IF6)" = 0 ] && pass net_no_ipv6 || fail net_no_ipv6 "ipv6 entries: $(field $O IF6)"
[ "$(field $O ADDR)" = "inet 10.0.2.15/24" ] && pass net_addr || fail net_addr "'$(field $O ADDR)'"
case "$(field $O ROUTE)" in "default via 10.0.2.2 dev eth0"*) pass net_route ;;
	*) fail net_route "'$(field $O ROUTE)'" ;; esac
case "$(field $O LO)" in *"inet 127.0.0.1/8") pass net_lo ;; *) fail net_lo "'$(field $O LO)'" ;; esac
[ "$(field $O RESOLV)" = "nameserver 10.0.2.3" ] && [ "$(field $O HOSTS)" = 1 ] && pass net_etc ||
	fail net_etc "resolv '$(field $O RESOLV)' hosts '$(field $O HOSTS)'"
[ "$(field $O HTTP)" = "hello over http" ] && pass net_wget_http || fail net_wget_http "'$(field $O HTTP)'"
[ "$(field $O TLS)" = "hello over http" ] && pass net_curl_tls || fail net_curl_tls "'$(field $O TLS)'"
[ "$(field $O CURLHTTP)" = "hello over http" ] && pass net_curl_http || fail net_curl_http "'$(field $O CURLHTTP)'"
[ "$(field $O DNS)" = "198.51.100.77" ] && pass net_dns_failover || fail net_dns_failover "'$(field $O DNS)'"
[ "$(field $O NC)" = "nc-echo" ] && pass net_nc || fail net_nc "'$(field $O NC)'"
[ "$(field $O FWD)" = "forwarded-into-guest" ] && pass net_port_forward || fail net_port_forward "'$(field $O FWD)'"
set -- $(field $O IRQ)
[ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$2" -gt "$1" ] && pass net_interrupts ||
	fail net_interrupts "virtio interrupts before/after host->guest data: '${1:-}' '${2:-}'"
stat_of() { sed -n "s/^net $1 //p" "$2" | head -n 1; }

# --pcap: readable, both directions, the ARP reply's bytes as tshark sees them.
if capinfos "$TMP/cap.pcap" >"$TMP/capinfos" 2>&1 && ! grep -qi warn "$TMP/capinfos"; then
	pass net_pcap_readable
else
	fail net_pcap_readable "$(tail -n 1 "$TMP/capinfos")"
fi
n_g=$(tshark -r "$TMP/cap.pcap" -Y 'eth.src == 52:54:00:12:34:56' 2>/dev/null | wc -l)
n_h=$(tshark -r "$TMP/cap.pcap" -Y 'eth.src == 52:54:00:12:34:01' 2>/dev/null | wc -l)
[ "$n_g" -gt 0 ] && [ "$n_h" -gt 0 ] && pass net_pcap_both_ways || fail net_pcap_both_ways "guest $n_g host $n_h frames"
arp=$(tshark -r "$TMP/cap.pcap" -Y 'arp.opcode == 2' -T fields -E separator=' ' -e frame.len \
	-e eth.dst -e eth.src -e eth.type -e arp.hw.type -e arp.proto.type -e arp.hw.size \
	-e arp.proto.size -e arp.src.hw_mac -e arp.src.proto_ipv4 -e arp.dst.hw_mac \
	-e arp.dst.proto_ipv4 2>/dev/null | head -n 1)
want="42 52:54:00:12:34:56 52:54:00:12:34:01 0x0806 1 0x0800 6 4 52:54:00:12:34:01 10.0.2.2 52:54:00:12:34:56 10.0.2.15"
[ "$arp" = "$want" ] && pass net_arp_reply_dissected || fail net_arp_reply_dissected "'$arp'"
hex=$(python3 - "$TMP/cap.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
le = d[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1')
e = '<' if le else '>'
o = 24
while o + 16 <= len(d):
    _, _, cap, _ = struct.unpack(e + 'IIII', d[o:o + 16])
    f = d[o + 16:o + 16 + cap]
    o += 16 + cap
    if f[12:14] == b'\x08\x06' and f[20:22] == b'\x00\x02':
        print(f.hex()); break
PY
)
want_hex=525400123456525400123401080600010800060400025254001234010a0002025254001234560a00020f
[ "$hex" = "$want_hex" ] && pass net_arp_reply_bytes || fail net_arp_reply_bytes "'$hex'"

# --- boot 2: in a namespace, NAT to a veth server, policy, DNS down, IPv6 ----
NA=$P-a NB=$P-b
if ip netns add "$NA" 2>/dev/null && ip netns add "$NB"; then
	NETNS="$NA $NB"
	ip link add "$P-x" type veth peer name "$P-y"
	ip link set "$P-x" netns "$NA"; ip link set "$P-y" netns "$NB"
	ip -n "$NA" link set lo up; ip -n "$NB" link set lo up
	ip -n "$NA" addr add 198.51.100.1/24 dev "$P-x"; ip -n "$NA" link set "$P-x" up
	ip -n "$NB" addr add 198.51.100.2/24 dev "$P-y"; ip -n "$NB" link set "$P-y" up
	echo "hello from the veth" >"$TMP/www/veth.txt"
	bg ip netns exec "$NB" busybox httpd -f -p 198.51.100.2:8000 -h "$TMP/www"
	bg ip netns exec "$NB" busybox httpd -f -p 198.51.100.2:8001 -h "$TMP/www"
	(ip netns exec "$NB" socat -u TCP-LISTEN:9000,bind=198.51.100.2,reuseaddr - |
		sha256sum | cut -d' ' -f1 >"$TMP/sink.sha") &
	PIDS="$PIDS $!"
	wait_listen 8000 "$NB" && wait_listen 8001 "$NB" && wait_listen 9000 "$NB" ||
		fail net_veth_servers "not listening"
	cat >"$TMP/g2.sh" <<'EOF'
echo "ADDR $(ip -4 addr show eth0 | grep -o 'inet [0-9./]*') mtu $(cat /sys/class/net/eth0/mtu) $(cat /sys/class/net/eth0/address)"
echo "ROUTE $(ip route | grep '^default')"
echo "VETH $(wget -q -O - http://198.51.100.2:8000/veth.txt 2>&1)"
t0=$(date +%s)
wget -q -O - http://198.51.100.2:8001/veth.txt >/dev/null 2>/tmp/deny; echo "DENY rc=$? $(( $(date +%s) - t0 ))s $(cat /tmp/deny)"
wget -q -O - http://169.254.1.1:80/ >/dev/null 2>&1; echo "LINKLOCAL rc=$?"
t0=$(date +%s)
timeout 60 nslookup vbnet.test 10.0.5.3 >/tmp/ns 2>&1; echo "DNSDOWN rc=$? $(( $(date +%s) - t0 ))s $(tr '\n' ' ' </tmp/ns)"
echo "RAW $(vnet-raw eth0 ipv6 52:54:00:12:34:01 7 2>&1)"
wget -q -O /tmp/big http://198.51.100.2:8000/big
echo "BIGDOWN $(sha256sum </tmp/big | cut -d' ' -f1)"
nc -w 60 198.51.100.2 9000 </tmp/big
echo "BIGUP done"
EOF
	start=$(date +%s)
	vm b2 600 NS="$NA" --memory 1G --user root --guest-ip 10.0.5.20/24 --gateway 10.0.5.1 \
		--dns-ip 10.0.5.3 --mtu 1400 --mac 02:00:00:00:05:20 --dns 198.51.100.2:5353 \
		--deny-net 198.51.100.2/32:8001 --net-stats -- "$TMP/g2.sh"
	rc=$?
	echo "# boot 2: rc $rc in $(($(date +%s) - start)) s" >&2
	O=$TMP/b2.out
	[ $rc -eq 0 ] && pass net_boot2 || fail net_boot2 "rc $rc: $(grep -v '^net ' "$TMP/b2.err" | tail -n 3 | tr '\n' ' ')"
	[ "$(field $O ADDR)" = "inet 10.0.5.20/24 mtu 1400 02:00:00:00:05:20" ] && pass net_layout_flags ||
		fail net_layout_flags "'$(field $O ADDR)'"
	case "$(field $O ROUTE)" in "default via 10.0.5.1 dev eth0"*) pass net_layout_route ;;
		*) fail net_layout_route "'$(field $O ROUTE)'" ;; esac
	[ "$(field $O VETH)" = "hello from the veth" ] && pass net_nat_veth || fail net_nat_veth "'$(field $O VETH)'"
	case "$(field $O DENY)" in "rc=0"*) fail net_policy_deny "denied fetch succeeded" ;;
		"rc="[1-9]*) pass net_policy_deny ;; *) fail net_policy_deny "'$(field $O DENY)'" ;; esac
	case "$(field $O LINKLOCAL)" in "rc=0") fail net_policy_linklocal "169.254.1.1 reached" ;;
		*) pass net_policy_linklocal ;; esac
	d=$(stat_of slirp_drop_policy "$TMP/b2.err")
	[ "${d:-0}" -ge 2 ] && pass net_policy_counted || fail net_policy_counted "drop_policy '${d:-}'"
	case "$(field $O DNSDOWN)" in "rc=124"*) fail net_dns_down "nslookup hung (timeout)" ;;
		"rc="[1-9]*) pass net_dns_down ;; *) fail net_dns_down "'$(field $O DNSDOWN)'" ;; esac
	d=$(stat_of slirp_drop_ipv6 "$TMP/b2.err")
	[ "$(field $O RAW)" = "sent 7" ] && [ "${d:-0}" -ge 7 ] && pass net_ipv6_counted ||
		fail net_ipv6_counted "raw '$(field $O RAW)' drop_ipv6 '${d:-}'"
	# 256 MiB each way at MTU 1400 through NAT to the veth server: also
	# well over 65,536 frames each way, so the real rings' indexes wrap.
	[ "$(field $O BIGDOWN)" = "$BIG_SHA" ] && pass net_256m_down || fail net_256m_down "sha '$(field $O BIGDOWN)'"
	[ "$(cat "$TMP/sink.sha" 2>/dev/null)" = "$BIG_SHA" ] && pass net_256m_up ||
		fail net_256m_up "sha '$(cat "$TMP/sink.sha" 2>/dev/null)'"
	tx=$(stat_of virtio_tx_frames "$TMP/b2.err"); rx=$(stat_of virtio_rx_frames "$TMP/b2.err")
	echo "# boot 2: frames tx ${tx:-} rx ${rx:-}, of them TSO tx $(stat_of virtio_tx_tso "$TMP/b2.err") rx $(stat_of virtio_rx_tso "$TMP/b2.err")" >&2
	[ "${tx:-0}" -gt 70000 ] && [ "${rx:-0}" -gt 70000 ] && pass net_70k_frames ||
		fail net_70k_frames "tx '${tx:-}' rx '${rx:-}' frames (--net-stats)"
else
	skip net_netns "cannot create network namespaces"
fi

# --- boot 3: --net none ---------------------------------------------------------
cat >"$TMP/g3.sh" <<'EOF'
echo "IFS $(ls /sys/class/net | tr "\n" " ")"; echo "CMD $(grep -o "voidbox.net=[^ ]*" /proc/cmdline)"
EOF
vm b3 300 --net none -- "$TMP/g3.sh"
rc=$?
[ $rc -eq 0 ] && [ "$(field "$TMP/b3.out" IFS)" = "lo " ] && [ "$(field "$TMP/b3.out" CMD)" = "voidbox.net=none" ] &&
	pass net_none || fail net_none "rc $rc: $(tail -n 3 "$TMP/b3.err" | tr '\n' ' ')"
