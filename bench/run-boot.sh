#!/bin/sh
# `voidbox run --vmm qemu --net none -- true` against plain qemu microvm
# booting the same kernel and the same image to the same point: the agent
# boots, runs `true` (voidbox.cmd=true on the kernel command line) and powers
# off. Both under TCG, rounds interleaved in one run; medians and the ratio
# (the overhead run adds: the image cache check, the vhost-user vsock device,
# the agent connection). The default run (with the SLIRP network device) is
# timed in the same rounds, for reference.
# Then guest->host bytes/s over the vsock stdout path (256 MiB of zeroes from dd,
# timed on the host from the first byte to EOF), against the same protocol
# over a host Unix socket (agent --listen) as the ceiling without a VM.
: "${B:=build}"
B=$(realpath "$B")
: "${GUEST_DIR:=$B/guest}"
VOIDBOX=${VOIDBOX:-$B/voidbox}
K=$GUEST_DIR/vmlinuz
N=${RUN_BENCH_ROUNDS:-5}
MB=${RUN_BENCH_MIB:-256}

skip() { echo "SKIP run-boot: $1"; exit 0; }
[ -f "$K" ] || skip "no guest kernel in $GUEST_DIR (make guest)"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
command -v python3 >/dev/null || skip "no python3 (used to time the stream)"
TMP=$(mktemp -d /tmp/vb-run-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export XDG_CACHE_HOME=$TMP/cache

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
khz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9]*\)\.\([0-9]*\) MHz.*/\1\2/p' | head -n 1)
[ -n "$khz" ] || khz=$(awk -F: '/^cpu MHz/{printf "%d", $2*1000; exit}' /proc/cpuinfo)

# warm-up: builds and caches the image both sides boot
timeout 120 "$VOIDBOX" run --vmm qemu --net none -- true || skip "voidbox run failed"
IMG=$(ls "$XDG_CACHE_HOME"/voidbox/initrd-*.img 2>/dev/null | head -n 1)
[ -f "$IMG" ] || skip "no cached image"

: >"$TMP/vb"; : >"$TMP/q"; : >"$TMP/vbn"
for i in $(seq "$N"); do
	t=$(date +%s%N)
	timeout 120 "$VOIDBOX" run --vmm qemu --net none -- true || skip "voidbox run failed in round $i"
	ms "$t" >>"$TMP/vb"
	t=$(date +%s%N)
	timeout 120 "$VOIDBOX" run --vmm qemu -- true || skip "voidbox run (with net) failed in round $i"
	ms "$t" >>"$TMP/vbn"
	t=$(date +%s%N)
	timeout 120 qemu-system-x86_64 -M microvm,acpi=on -accel tcg -cpu max -m 512M \
		-nodefaults -no-user-config -display none -no-reboot -serial "file:$TMP/q.log" \
		-kernel "$K" -initrd "$IMG" \
		-append "console=ttyS0 tsc_early_khz=$khz quiet panic=-1 voidbox.cmd=true" ||
		skip "plain qemu failed in round $i"
	ms "$t" >>"$TMP/q"
	grep -q "voidbox-agent: cmd: exit 0" "$TMP/q.log" || skip "plain qemu guest did not run true"
done
vb=$(median "$TMP/vb"); q=$(median "$TMP/q"); vbn=$(median "$TMP/vbn")
echo "| boot to poweroff, $N rounds (median ms) | voidbox run --vmm qemu --net none -- true | plain qemu microvm, voidbox.cmd=true | ratio | run with its default network |"
echo "|---|---|---|---|---|"
echo "| TCG, 1 vCPU, 512 MiB | $vb | $q | $(awk -v a="$vb" -v b="$q" 'BEGIN{printf "%.2f", a/b}') | $vbn |"

# guest -> host over the stdout path
cat >"$TMP/rate.py" <<'PY'
import subprocess, sys, time
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, bufsize=0)
n = 0; t0 = None
while True:
    d = p.stdout.read(1 << 20)
    if not d: break
    if t0 is None: t0 = time.monotonic()
    n += len(d)
t1 = time.monotonic(); rc = p.wait()
want = int(sys.argv[1])
if rc != 0 or n != want or t0 is None:
    print("ERR rc=%d bytes=%d" % (rc, n)); sys.exit(1)
print("%.0f" % (n / (t1 - t0) / 1e6))
PY
bytes=$((MB * 1048576))
# dd with 64 KiB blocks: busybox head -c /dev/zero is itself the limit under TCG
gen="dd if=/dev/zero bs=65536 count=$((MB * 16)) 2>/dev/null"
vm=$(python3 "$TMP/rate.py" $bytes timeout 300 "$VOIDBOX" run --vmm qemu --net none -- sh -c "$gen")
"$VOIDBOX" agent --listen "unix:$TMP/a.sock" &
AP=$!
for _ in $(seq 100); do [ -S "$TMP/a.sock" ] && break; sleep 0.05; done
host=$(python3 "$TMP/rate.py" $bytes "$VOIDBOX" run --attach "unix:$TMP/a.sock" -w "$TMP" -- sh -c "$gen")
kill $AP 2>/dev/null; wait $AP 2>/dev/null
echo
echo "| stdout stream, $MB MiB | voidbox run --vmm qemu (vsock, TCG guest) | agent --listen (host Unix socket) | ratio |"
echo "|---|---|---|---|"
echo "| MB/s | $vm | $host | $(awk -v a="$vm" -v b="$host" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print "-" }') |"
