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
# voidbox boots Debian's kernel (--kernel) like the peer; where make kernel
# has built kernel/vmlinux beside the binary, its `run -- true` is timed in
# the same rounds against the same qemu boot of Debian's kernel (issue 15's
# target: <= 0.5). Reports through bench/lib.sh as run-boot; the other rows
# are information (run's overhead, the stream against its ceiling).
# Env: RUN_BENCH_ROUNDS (default 5), RUN_BENCH_MIB (default 256).
. bench/lib.sh
bench_paths
N=${RUN_BENCH_ROUNDS:-5}
MB=${RUN_BENCH_MIB:-256}

skip() { bench_skip run-boot "$1"; exit 0; }
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

# make kernel's own kernel (kernel-config/), when built
OWN=$(dirname "$VOIDBOX")/kernel/vmlinux
[ -f "$OWN" ] || OWN=
RUN="$VOIDBOX run --vmm qemu --kernel $K"
# warm-up: builds and caches the image both sides boot (then the own kernel's)
timeout 120 $RUN --net none -- true || skip "voidbox run failed"
IMG=$(ls "$XDG_CACHE_HOME"/voidbox/initrd-*.img 2>/dev/null | head -n 1)
[ -f "$IMG" ] || skip "no cached image"
[ -z "$OWN" ] || timeout 120 "$VOIDBOX" run --vmm qemu --kernel "$OWN" -- true || skip "voidbox run --kernel $OWN failed"

: >"$TMP/vb"; : >"$TMP/q"; : >"$TMP/vbn"; : >"$TMP/own"
for i in $(seq "$N"); do
	t=$(date +%s%N)
	timeout 120 $RUN --net none -- true || skip "voidbox run failed in round $i"
	ms "$t" >>"$TMP/vb"
	t=$(date +%s%N)
	timeout 120 $RUN -- true || skip "voidbox run (with net) failed in round $i"
	ms "$t" >>"$TMP/vbn"
	if [ -n "$OWN" ]; then
		t=$(date +%s%N)
		timeout 120 "$VOIDBOX" run --vmm qemu --kernel "$OWN" -- true || skip "voidbox run --kernel $OWN failed in round $i"
		ms "$t" >>"$TMP/own"
	fi
	t=$(date +%s%N)
	timeout 120 qemu-system-x86_64 -M microvm,acpi=on -accel tcg -cpu max -m 512M \
		-nodefaults -no-user-config -display none -no-reboot -serial "file:$TMP/q.log" \
		-kernel "$K" -initrd "$IMG" \
		-append "console=ttyS0 tsc_early_khz=$khz quiet panic=-1 voidbox.cmd=true" ||
		skip "plain qemu failed in round $i"
	ms "$t" >>"$TMP/q"
	grep -q "voidbox-agent: cmd: exit 0" "$TMP/q.log" || skip "plain qemu guest did not run true"
done
PEER="plain qemu microvm, Debian's kernel"
bench_begin run-boot "voidbox run under qemu TCG: boot to poweroff against plain qemu microvm, and the stdout stream" \
	"Boot to poweroff under TCG (1 vCPU, 512 MiB): voidbox run --vmm qemu -- true against plain qemu -M microvm booting the same Debian kernel and the same image (voidbox.cmd=true on the kernel command line: the agent runs true and powers off); voidbox with --net none (the overhead run adds: image cache check, the vhost-user vsock device, the agent connection) and with its default network; where make kernel has built kernel/vmlinux, run -- true on it against the same qemu boot of Debian's kernel. Rounds interleaved, medians of $N. Then guest -> host bytes/s over the vsock stdout path ($MB MiB of zeroes from dd, timed on the host from the first byte to EOF) against the same protocol over a host Unix socket (agent --listen), the ceiling without a VM."
bench_row "run --net none -- true, Debian's kernel" ms "$(median "$TMP/vb")" "$PEER" "$(median "$TMP/q")" - "medians of $N"
bench_row "run -- true, Debian's kernel (network)" ms "$(median "$TMP/vbn")" "$PEER" "$(median "$TMP/q")" - "medians of $N"
if [ -n "$OWN" ]; then
	bench_row "run -- true, make kernel's vmlinux (network)" ms "$(median "$TMP/own")" "$PEER" "$(median "$TMP/q")" "<=0.5" \
		"medians of $N"
else
	bench_note "make kernel's vmlinux is not built (no $(dirname "$VOIDBOX")/kernel/vmlinux): its row, target <= 0.5 of plain qemu's boot of Debian's kernel, is missing."
fi

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
vm=$(python3 "$TMP/rate.py" $bytes timeout 300 $RUN --net none -- sh -c "$gen")
"$VOIDBOX" agent --listen "unix:$TMP/a.sock" &
AP=$!
for _ in $(seq 100); do [ -S "$TMP/a.sock" ] && break; sleep 0.05; done
host=$(python3 "$TMP/rate.py" $bytes "$VOIDBOX" run --attach "unix:$TMP/a.sock" -w "$TMP" -- sh -c "$gen")
kill $AP 2>/dev/null; wait $AP 2>/dev/null
case $vm in ERR*) bench_note "stdout stream through the VM: $vm"; vm=- ;; esac
case $host in ERR*) bench_note "stdout stream over agent --listen: $host"; host=- ;; esac
bench_row "stdout stream, $MB MiB (vsock, TCG guest)" MB/s "$vm" "agent --listen (host Unix socket)" "$host" -
bench_end
