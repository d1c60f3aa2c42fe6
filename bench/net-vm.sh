#!/bin/sh
# The guest's network, VM against VM: `voidbox run` (virtio-net over
# vhost-user + our SLIRP) against qemu -M microvm with -netdev user
# (libslirp) and with passt (-netdev stream), same kernel, same image, same
# accelerator (TCG here). In each guest, tests/tools/vnet-bench measures TCP
# throughput from and to a server on the host's loopback (reached through
# the gateway address) and connect-request-response p50. ROUNDS rounds
# (default 3) of each, medians, ratios against libslirp. voidbox runs at
# its default MTU (65520) and at 1500 (libslirp's only MTU); passt at 65520.
# Env: ROUNDS, BYTES (per transfer, default 128M), CRR (rounds, default 200),
# NAMES (which paths, default all four).
. tests/lib.sh
P=vb-net-bench-$$
ROUNDS=${ROUNDS:-3}
BYTES=${BYTES:-128M}
CRR=${CRR:-200}
for c in qemu-system-x86_64 passt python3; do
	command -v "$c" >/dev/null || { echo "SKIP net-vm: $c not installed"; exit 0; }
done
[ -f "$GUEST_DIR/vmlinuz" ] || { echo "SKIP net-vm: no guest kernel"; exit 0; }
[ -x "$TOOLS/vnet-bench" ] || { echo "SKIP net-vm: $TOOLS/vnet-bench not built"; exit 0; }
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$TMP" "/tmp/$P-passt"; }
trap cleanup EXIT INT TERM
KHZ=$(host_tsc_khz)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TOOLS/vnet-bench" serve "$PORT" & PIDS="$PIDS $!"

# The guest side: parameters come from the kernel command line, so the same
# image serves voidbox run (--append) and plain qemu (voidbox.exec=).
cat >"$TMP/bench.sh" <<'EOF'
#!/bin/sh
for w in $(cat /proc/cmdline); do case $w in vbb.*=*) k=${w%%=*}; eval "${k#vbb.}=${w#*=}" ;; esac; done
/bin/vnet-bench crr 10.0.2.2 "$port" "$crr" && /bin/vnet-bench down 10.0.2.2 "$port" "$bytes" &&
	/bin/vnet-bench up 10.0.2.2 "$port" "$bytes"
EOF
IMG=$TMP/img.gz
"$VOIDBOX" mkinitramfs -k "$GUEST_DIR/vmlinuz" -B "$GUEST_DIR/busybox" \
	-a "$TOOLS/vnet-bench:/bin/vnet-bench:0755" -a "$TMP/bench.sh:/bench.sh:0755" -o "$IMG" ||
	{ echo "FAIL net-vm: image"; exit 1; }
# tsc=reliable: without it the guest under TCG falls back to the jiffies
# clocksource (4 ms resolution), too coarse for a CRR p50.
PARAMS="tsc=reliable vbb.port=$PORT vbb.bytes=$BYTES vbb.crr=$CRR"
LAYOUT="ip=10.0.2.15/24,gw=10.0.2.2,dns=10.0.2.3,mac=52:54:00:12:34:56"
QEMU="qemu-system-x86_64 -M microvm,acpi=on -accel tcg -cpu max -m 512 -nographic -no-reboot
	-global virtio-mmio.force-legacy=false -kernel $GUEST_DIR/vmlinuz -initrd $IMG"
APPEND="console=ttyS0 quiet tsc_early_khz=$KHZ ipv6.disable=1 voidbox.exec=/bench.sh $PARAMS"

# one_run NAME: runs one round of NAME, appending "NAME down up crr" to results.
one_run() {
	out=$TMP/out.$1
	case $1 in
	voidbox|voidbox-1500)
		mtu=65520; [ "$1" = voidbox-1500 ] && mtu=1500
		timeout 300 "$VOIDBOX" run --vmm qemu --initrd "$IMG" --allow-host-loopback \
			--mtu "$mtu" --append "$PARAMS" -- /bench.sh >"$out" 2>&1 </dev/null ;;
	libslirp)
		# shellcheck disable=SC2086
		timeout 300 $QEMU -netdev user,id=n -device virtio-net-device,netdev=n \
			-append "$APPEND voidbox.net=$LAYOUT,mtu=1500" >"$out" 2>&1 </dev/null ;;
	passt)
		# passt drops to nobody: its socket folder must be reachable by anyone.
		d=/tmp/$P-passt; mkdir -p "$d"; chmod 1777 "$d"; rm -f "$d/s"
		passt -f -e -1 -4 -s "$d/s" -a 10.0.2.15 -n 24 -g 10.0.2.2 >"$TMP/passt.log" 2>&1 &
		pp=$!
		i=0; while [ ! -S "$d/s" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
		# shellcheck disable=SC2086
		timeout 300 $QEMU -netdev "stream,id=n,server=off,addr.type=unix,addr.path=$d/s" \
			-device virtio-net-device,netdev=n,mac=52:54:00:12:34:56 \
			-append "$APPEND voidbox.net=$LAYOUT,mtu=65520" >"$out" 2>&1 </dev/null
		kill "$pp" 2>/dev/null; wait "$pp" 2>/dev/null ;;
	esac
	d=$(sed -n 's/.*down_mbps \([0-9.]*\).*/\1/p' "$out" | head -n 1)
	u=$(sed -n 's/.*up_mbps \([0-9.]*\).*/\1/p' "$out" | head -n 1)
	c=$(sed -n 's/.*crr_p50_us \([0-9]*\).*/\1/p' "$out" | head -n 1)
	if [ -z "$d" ] || [ -z "$u" ] || [ -z "$c" ]; then
		echo "# $1: no result: $(grep -v "^\[" "$out" | tail -n 8 | tr "\n" " ")"
		return
	fi
	echo "$1 $d $u $c" >>"$TMP/results"
}

NAMES=${NAMES:-"libslirp passt voidbox voidbox-1500"}
r=0
while [ $r -lt "$ROUNDS" ]; do
	for n in $NAMES; do one_run "$n"; done
	r=$((r + 1))
done
python3 - "$TMP/results" $NAMES <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]) if len(sys.argv) > 1 else []:
    n, d, u, c = line.split()
    rows.setdefault(n, []).append((float(d), float(u), float(c)))
med = {n: [statistics.median(x[i] for x in v) for i in range(3)] for n, v in rows.items()}
base = med.get('libslirp')
print("%-14s %6s %12s %12s %12s  %s" % ("path", "rounds", "down MB/s", "up MB/s", "CRR p50 us",
      "ratio vs libslirp (down, up, CRR time)"))
for n in sys.argv[2:]:
    if n not in med:
        print("%-14s no result" % n); continue
    d, u, c = med[n]
    ratio = "" if not base else "%.2fx %.2fx %.2fx" % (d / base[0], u / base[1], c / base[2])
    print("%-14s %6d %12.1f %12.1f %12.0f  %s" % (n, len(rows[n]), d, u, c, ratio))
PY
